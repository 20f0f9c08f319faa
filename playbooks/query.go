package playbooks

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// TagMatch is one tag found by SearchTags: the object's path, as Ganeti
// names it (/cluster, /instances/NAME, /nodes/NAME, /nodegroup/NAME,
// /network/NAME), and the tag.
type TagMatch struct {
	Path string `json:"path"`
	Tag  string `json:"tag"`
}

// SearchTags lists the tags of every object that re matches, sorted
// (gnt-cluster search-tags).
func SearchTags(st *statefile.State, re *regexp.Regexp) []TagMatch {
	var out []TagMatch
	add := func(path string, tags []string) {
		for _, t := range tags {
			if re.MatchString(t) {
				out = append(out, TagMatch{path, t})
			}
		}
	}
	add("/cluster", st.Cluster.Tags)
	for _, i := range st.Instances {
		add("/instances/"+i.Name, i.Tags)
	}
	for _, n := range st.Nodes {
		add("/nodes/"+n.Name, n.Tags)
	}
	for _, g := range st.NodeGroups {
		add("/nodegroup/"+g.Name, g.Tags)
	}
	for _, n := range st.Networks {
		add("/network/"+n.Name, n.Tags)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Path != out[b].Path {
			return out[a].Path < out[b].Path
		}
		return out[a].Tag < out[b].Tag
	})
	return out
}

// DRBDMinor is one DRBD device of a node, as gnt-node list-drbd shows it.
type DRBDMinor struct {
	Node     string `json:"node"`
	Minor    int    `json:"minor"`
	Instance string `json:"instance"`
	Disk     string `json:"disk"`
	Role     string `json:"role"` // primary or secondary
	Peer     string `json:"peer"`
}

// NodeDRBD lists the DRBD minors the state gives node, by minor.
func NodeDRBD(st *statefile.State, node string) ([]DRBDMinor, error) {
	n, err := NodeByName(st, node)
	if err != nil {
		return nil, err
	}
	var out []DRBDMinor
	for _, inst := range st.Instances {
		for i, d := range inst.Disks {
			id, ok := d.DRBD()
			if !ok {
				continue
			}
			m := DRBDMinor{Node: n.Name, Instance: inst.Name, Disk: "disk/" + strings.TrimPrefix(d.IVName, "disk/")}
			if d.IVName == "" {
				m.Disk = "disk/" + strconv.Itoa(i)
			}
			switch n.Name {
			case id.NodeA:
				m.Minor, m.Peer = id.MinorA, id.NodeB
			case id.NodeB:
				m.Minor, m.Peer = id.MinorB, id.NodeA
			default:
				continue
			}
			m.Role = "secondary"
			if inst.PrimaryNode == n.Name {
				m.Role = "primary"
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Minor < out[b].Minor })
	return out, nil
}

// NodeByName finds a node by name (or a unique short name).
func NodeByName(st *statefile.State, name string) (*statefile.Node, error) { return node(st, name) }
