package view

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// roleNames spell out statefile.Node.Role's letters.
var roleNames = map[string]string{"M": "master", "C": "master candidate", "D": "drained", "O": "offline", "R": "regular"}

// StateSummary describes what a state holds, object by object, for `state
// import` (what was or would be imported). Secrets never appear: DRBD disks
// show their nodes, port and minors only.
func StateSummary(st *statefile.State) Info {
	cl := st.Cluster
	in := Info{}.
		Add("Cluster name", cl.Name).
		Add("Cluster UUID", cl.UUID).
		Add("Master node", cl.MasterNode).
		Add("Volume group", orMissing(cl.VolumeGroup)).
		Add("Enabled hypervisors", inline(cl.EnabledHypervisors)).
		Add("Enabled disk templates", inline(cl.EnabledDiskTemplates)).
		Add("Counts", Info{}.
			Add("node groups", len(st.NodeGroups)).
			Add("nodes", len(st.Nodes)).
			Add("instances", len(st.Instances)).
			Add("networks", len(st.Networks)))

	groups := Info{}
	members := map[string]int{}
	for _, n := range st.Nodes {
		members[n.Group]++
	}
	for _, name := range sortedNames(st.NodeGroups) {
		g := st.NodeGroups[name]
		groups = groups.Add(name, Info{}.Add("alloc policy", g.AllocPolicy).Add("nodes", members[name]))
	}
	in = in.Add("Node groups", groups)

	nodes := Info{}
	for _, name := range st.NodeNames() {
		n := st.Nodes[name]
		nodes = nodes.Add(name, Info{}.
			Add("role", roleNames[n.Role(cl.MasterNode)]).
			Add("group", n.Group).
			Add("primary ip", n.PrimaryIP).
			Add("secondary ip", n.SecondaryIP).
			Add("master capable", n.MasterCapable).
			Add("vm capable", n.VMCapable))
	}
	in = in.Add("Nodes", nodes)

	insts := Info{}
	for _, name := range st.InstanceNames() {
		i := st.Instances[name]
		disks := List{}
		for _, d := range i.Disks {
			disks = append(disks, diskLine(d))
		}
		nics := List{}
		for _, n := range i.NICs {
			nics = append(nics, nicLine(n))
		}
		insts = insts.Add(name, Info{}.
			Add("primary node", i.PrimaryNode).
			Add("secondary nodes", inline(i.SecondaryNodes())).
			Add("disk template", i.DiskTemplate).
			Add("admin state", i.AdminState).
			Add("os", i.OS).
			Add("hypervisor", i.Hypervisor).
			Add("disks", disks).
			Add("nics", nics))
	}
	in = in.Add("Instances", insts)

	nets := Info{}
	for _, name := range sortedNames(st.Networks) {
		n := st.Networks[name]
		nets = nets.Add(name, Info{}.Add("network", n.Network).Add("gateway", orMissing(n.Gateway)))
	}
	return in.Add("Networks", nets)
}

func diskLine(d *statefile.Disk) string {
	s := fmt.Sprintf("%s: %s %s %s", d.IVName, d.DevType, FormatMiB(d.Size), d.Mode)
	if d.Name != "" {
		s += ", name " + d.Name
	}
	if id, ok := d.DRBD(); ok {
		s += fmt.Sprintf(", port %d, minors %d/%d", id.Port, id.MinorA, id.MinorB)
		for _, c := range d.Children {
			s += ", " + orUnknown(volume(c))
		}
	} else if v := volume(d); v != "" {
		s += ", " + v
	}
	return s
}

// volume names a leaf disk's storage as listings do: vg/lv, the path, the
// rbd image; "" for anything else.
func volume(d *statefile.Disk) string {
	if vg, lv, ok := d.PlainLV(); ok {
		return vg + "/" + lv
	}
	for _, get := range []func() (string, string, bool){d.File, d.BlockDev, d.RBD} {
		if _, name, ok := get(); ok {
			return name
		}
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func nicLine(n *statefile.NIC) string {
	parts := []string{n.MAC}
	if n.IP != "" {
		parts = append(parts, "ip "+n.IP)
	}
	if n.Network != "" {
		parts = append(parts, "network "+n.Network)
	}
	for _, k := range []string{"mode", "link", "vlan"} {
		if v, ok := n.NICParams[k]; ok && v != "" {
			parts = append(parts, fmt.Sprintf("%s %v", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

func inline(s []string) Inline {
	out := make(Inline, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func orMissing(s string) any {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedNames[T any](m map[string]*T) []string { return slices.Sorted(maps.Keys(m)) }
