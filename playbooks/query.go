package playbooks

import (
	"regexp"
	"slices"
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

// Selection modes of the commands that act on several instances at once
// (Ganeti's --node, --primary, ... of gnt-instance startup and others).
const (
	SelectNames       = ""              // the arguments are instance names
	SelectAll         = "all"           // every instance; no arguments
	SelectNode        = "node"          // instances with a primary or secondary on the nodes named
	SelectPrimary     = "primary"       // instances with their primary on the nodes named
	SelectSecondary   = "secondary"     // instances with a secondary on the nodes named
	SelectTags        = "tags"          // instances with any of the tags named
	SelectNodeTags    = "node-tags"     // instances on nodes with any of the tags
	SelectPriNodeTags = "pri-node-tags" // instances whose primary has any of the tags
	SelectSecNodeTags = "sec-node-tags" // instances with a secondary that has any of the tags
)

// SelectInstances names the instances a selection picks, sorted.
func SelectInstances(st *statefile.State, mode string, args []string) ([]string, error) {
	if mode == SelectAll {
		if len(args) > 0 {
			return nil, prereq(ErrWrongInput, "--all takes no arguments")
		}
		return st.InstanceNames(), nil
	}
	if len(args) == 0 {
		return nil, prereq(ErrWrongInput, "name at least one instance (or node or tag, with the selection flag)")
	}
	if mode == SelectNames {
		var out []string
		for _, a := range args {
			i, err := instance(st, a)
			if err != nil {
				return nil, err
			}
			out = append(out, i.Name)
		}
		return out, nil
	}
	has := func(tags []string) bool {
		for _, t := range args {
			if slices.Contains(tags, t) {
				return true
			}
		}
		return false
	}
	nodeOK := func(n string) bool {
		node := st.Nodes[n]
		switch mode {
		case SelectNode, SelectPrimary, SelectSecondary:
			return slices.Contains(args, n)
		}
		return node != nil && has(node.Tags)
	}
	switch mode {
	case SelectNode, SelectPrimary, SelectSecondary:
		for _, a := range args {
			if _, err := node(st, a); err != nil {
				return nil, err
			}
		}
	case SelectTags, SelectNodeTags, SelectPriNodeTags, SelectSecNodeTags:
	default:
		return nil, prereq(ErrWrongInput, "unknown selection %q", mode)
	}
	var out []string
	for _, name := range st.InstanceNames() {
		i := st.Instances[name]
		pri := nodeOK(i.PrimaryNode)
		sec := slices.ContainsFunc(i.SecondaryNodes(), nodeOK)
		var pick bool
		switch mode {
		case SelectTags:
			pick = has(i.Tags)
		case SelectNode, SelectNodeTags:
			pick = pri || sec
		case SelectPrimary, SelectPriNodeTags:
			pick = pri
		case SelectSecondary, SelectSecNodeTags:
			pick = sec
		}
		if pick {
			out = append(out, name)
		}
	}
	return out, nil
}
