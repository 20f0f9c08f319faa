package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// AllocNeeds are the facts the allocator reads: every online vm-capable
// node's memory, volume group and running instances (group "" for all
// groups), and the extra parts an operation wants of them.
func AllocNeeds(st *statefile.State, group string, extra ...string) Needs {
	var nodes []string
	for _, n := range st.NodeNames() {
		node := st.Nodes[n]
		if node.Offline || !node.VMCapable || (group != "" && allocGroupOf(node) != group) {
			continue
		}
		nodes = append(nodes, n)
	}
	return Needs{Nodes: nodes, Parts: append([]string{PartVGs, PartRunning}, extra...)}
}

// allocGroupOf is the node's group, "default" for a node of no group.
func allocGroupOf(n *statefile.Node) string {
	if n.Group == "" {
		return "default"
	}
	return n.Group
}

// AllocPolicy is an instance policy in the allocator's terms.
func AllocPolicy(p statefile.IPolicy) alloc.Policy {
	spec := func(s statefile.ISpec) alloc.Spec {
		return alloc.Spec{MemorySize: int(s[statefile.SpecMemorySize]), CPUCount: int(s[statefile.SpecCPUCount]),
			DiskSize: int(s[statefile.SpecDiskSize]), DiskCount: int(s[statefile.SpecDiskCount]),
			NICCount: int(s[statefile.SpecNICCount]), SpindleUse: int(s[statefile.SpecSpindleUse])}
	}
	out := alloc.Policy{Std: spec(p.Std), VCPURatio: p.VCPURatio, SpindleRatio: p.SpindleRatio}
	for _, mm := range p.MinMax {
		out.MinMax = append(out.MinMax, alloc.MinMax{Min: spec(mm.Min), Max: spec(mm.Max)})
	}
	for _, t := range p.DiskTemplates {
		if dt, err := alloc.ParseTemplate(t); err == nil {
			out.DiskTemplates = append(out.DiskTemplates, dt)
		}
	}
	return out
}

// AllocCluster is the allocator's model of the cluster: the state's
// groups, nodes and instances, with what the nodes' facts say of their
// memory, volume group, file storage and running instances. A node whose
// facts are missing (it did not answer, or was not asked) counts as
// offline, and says why. Warnings are Ganeti's reports of nodes whose
// facts disagree with the records.
//
// It is the model of placement (instance add without -n, -I, relocation,
// desired state), so an instance policy's bounds hold only where an admin
// set them (EnforcedIPolicy), as for instance add -n: what -n accepts the
// allocator can place.
func AllocCluster(st *statefile.State, facts map[string]*NodeFacts) (*alloc.Cluster, []string, error) {
	return allocCluster(st, facts, alloc.FinishOptions{}, placementIPolicy)
}

// AllocClusterWith is the model of hbal and hspace, with hbal's data
// options (exclusion tags, selected and excluded instances, no
// utilisation): they judge by the policy Ganeti's tools see, its
// defaults included.
func AllocClusterWith(st *statefile.State, facts map[string]*NodeFacts, fo alloc.FinishOptions) (*alloc.Cluster, []string, error) {
	return allocCluster(st, facts, fo, EffectiveIPolicy)
}

// placementIPolicy is the effective policy with only the enforced bounds.
func placementIPolicy(st *statefile.State, group string) statefile.IPolicy {
	pol := EffectiveIPolicy(st, group)
	pol.MinMax = EnforcedIPolicy(st, group).MinMax
	return pol
}

func allocCluster(st *statefile.State, facts map[string]*NodeFacts, fo alloc.FinishOptions, policy func(*statefile.State, string) statefile.IPolicy) (*alloc.Cluster, []string, error) {
	cl := &st.Cluster
	c := &alloc.Cluster{Name: cl.Name, Tags: slices.Clone(cl.Tags), Policy: AllocPolicy(policy(st, ""))}
	if len(cl.EnabledHypervisors) > 0 {
		c.Hypervisor = cl.EnabledHypervisors[0]
	}
	groups := map[string]int{}
	var gnames []string
	for g := range st.NodeGroups {
		gnames = append(gnames, g)
	}
	for _, n := range st.Nodes {
		if g := allocGroupOf(n); st.NodeGroups[g] == nil && !slices.Contains(gnames, g) {
			gnames = append(gnames, g)
		}
	}
	sort.Strings(gnames)
	for _, g := range gnames {
		grp := &alloc.Group{Name: g, UUID: g, Policy: AllocPolicy(policy(st, g))}
		if sg := st.NodeGroups[g]; sg != nil {
			if sg.UUID != "" {
				grp.UUID = sg.UUID
			}
			ap, err := alloc.ParseAllocPolicy(sg.AllocPolicy)
			if err != nil {
				return nil, nil, fmt.Errorf("node group %s: %v", g, err)
			}
			grp.AllocPolicy = ap
			grp.Tags = slices.Clone(sg.Tags)
			for net := range sg.Networks {
				grp.Networks = append(grp.Networks, net)
			}
			sort.Strings(grp.Networks)
		}
		groups[g] = len(c.Groups)
		c.Groups = append(c.Groups, grp)
	}
	names := st.NodeNames()
	nidx := map[string]int{}
	for _, name := range names {
		sn := st.Nodes[name]
		f := facts[name]
		g := groups[allocGroupOf(sn)]
		nd := EffectiveND(st, allocGroupOf(sn), sn.NDParams)
		spindles := int(intParam(nd, "spindle_count"))
		excl := boolParam(nd, "exclusive_storage")
		var n *alloc.Node
		if f == nil || !f.Reachable {
			n = alloc.NewNode(name, 0, 0, 0, 0, 0, 0, 0, true, spindles, 0, g, excl)
			n.Down = "did not answer"
			if f == nil {
				n.Down = "no facts"
			} else if f.Err != "" {
				n.Down = "did not answer: " + f.Err
			}
		} else {
			running := int64(0)
			for _, r := range f.Running {
				running += r.MemMiB
			}
			nmem := max(0, f.MemTotal-f.MemFree-running)
			var tdsk float64
			var fdsk int
			if f.VG != nil {
				tdsk, fdsk = f.VG.Size, int(f.VG.Free)
			}
			n = alloc.NewNode(name, float64(f.MemTotal), int(nmem), int(f.MemFree), tdsk, fdsk, float64(max(1, f.CPUs)), 1, false, spindles, spindles, g, excl)
			n.FileTotal, n.FileFree = int(f.DiskTotal), int(f.DiskFree)
		}
		n.Drained, n.NoVM = sn.Drained, !sn.VMCapable
		n.Offline = n.Offline || sn.Offline || sn.Drained || !sn.VMCapable
		if sn.Offline {
			n.Down = ""
		}
		n.Master = name == cl.MasterNode
		n.Tags = slices.Clone(sn.Tags)
		if speed := float64(intParam(nd, "cpu_speed")); speed > 0 {
			n.CPUSpeed = speed
		}
		nidx[name] = len(c.Nodes)
		c.Nodes = append(c.Nodes, n)
	}
	for _, name := range st.InstanceNames() {
		si := st.Instances[name]
		p, ok := nidx[si.PrimaryNode]
		if !ok {
			return nil, nil, fmt.Errorf("instance %s: primary node %s is not in the state", name, si.PrimaryNode)
		}
		in, err := allocInstance(st, si)
		if err != nil {
			return nil, nil, err
		}
		in.Pri, in.Sec = p, alloc.NoNode
		if sec := si.SecondaryNodes(); len(sec) > 0 && si.DiskTemplate == storage.DRBD {
			if s, ok := nidx[sec[0]]; ok {
				in.Sec = s
			}
		}
		in.Status = instanceStatus(si, facts[si.PrimaryNode])
		c.Instances = append(c.Instances, in)
	}
	warnings, err := c.Finish(fo)
	return c, warnings, err
}

// allocInstance is an instance's size and placement rules.
func allocInstance(st *statefile.State, si *statefile.Instance) (*alloc.Instance, error) {
	be := EffectiveBE(&st.Cluster, si.BEParams)
	dt, err := alloc.ParseTemplate(si.DiskTemplate)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %v", si.Name, err)
	}
	in := &alloc.Instance{Name: si.Name, Mem: int(intParam(be, "maxmem")), VCPUs: int(intParam(be, "vcpus")), Template: dt,
		SpindleUse: int(intParam(be, "spindle_use")), Tags: slices.Clone(si.Tags), AutoBalance: boolParam(be, "auto_balance"),
		NICs: len(si.NICs), OS: si.OS, Hypervisor: si.Hypervisor, Util: alloc.BaseUtil}
	for _, d := range si.Disks {
		in.Disks = append(in.Disks, alloc.Disk{Size: int(d.Size), Spindles: -1})
		in.Dsk += int(d.Size)
		if dt == alloc.DRBD {
			in.Dsk += alloc.DRBDMetaSize
		}
	}
	for _, n := range si.NICs {
		in.Networks = append(in.Networks, n.Network)
	}
	return in, nil
}

// instanceStatus is Ganeti's run status: what the admin wants and what
// the primary's hypervisor runs (facts without the running part, or of
// an unreachable node, trust the admin state).
func instanceStatus(si *statefile.Instance, f *NodeFacts) alloc.Status {
	if si.AdminState == "offline" {
		return alloc.StatusOffline
	}
	up := si.AdminState == "up"
	if f == nil || !f.Reachable || f.Running == nil {
		if up {
			return alloc.StatusRunning
		}
		return alloc.StatusDown
	}
	_, runs := f.Running[si.Name]
	switch {
	case up && runs:
		return alloc.StatusRunning
	case up:
		return alloc.StatusErrorDown
	case runs:
		return alloc.StatusErrorUp
	}
	return alloc.StatusDown
}

// AllocNewInstance describes an instance to create for the allocator.
func AllocNewInstance(st *statefile.State, a InstanceAddArgs) (alloc.NewInstance, error) {
	be := EffectiveBE(&st.Cluster, a.BEParams)
	dt, err := alloc.ParseTemplate(a.Template)
	if err != nil {
		return alloc.NewInstance{}, prereq(ErrWrongInput, "%v", err)
	}
	ni := alloc.NewInstance{Name: a.Name, Mem: int(intParam(be, "maxmem")), VCPUs: int(intParam(be, "vcpus")), Template: dt,
		SpindleUse: int(intParam(be, "spindle_use")), NICs: len(a.NICs), Down: a.NoStart}
	for _, d := range a.Disks {
		ni.Disks = append(ni.Disks, alloc.Disk{Size: int(d.Size), Spindles: -1})
	}
	for _, n := range a.NICs {
		ni.Networks = append(ni.Networks, n.Network)
	}
	return ni, nil
}

// placement says what the allocator chose, for a plan's notes.
func placement(p *alloc.Placed) string {
	return fmt.Sprintf("the allocator chose %s in group %s (cluster score after it %.8f; %d placements possible)",
		strings.Join(p.Nodes, ":"), p.Group, p.Score, p.Successes)
}
