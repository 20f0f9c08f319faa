package playbooks

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// VerifyDisksResult is `cluster verify-disks`: Ganeti's (node errors,
// instances needing activate-disks, missing volumes per instance).
type VerifyDisksResult struct {
	BadNodes       []string
	NeedActivation []string
	Missing        map[string][][2]string // instance -> [node, volume]
}

// VerifyDisks finds, for instances whose disks should be active, missing
// volumes and disks that are not active (no instance-disk link).
func VerifyDisks(st *statefile.State, facts map[string]*NodeFacts, group string) VerifyDisksResult {
	res := VerifyDisksResult{Missing: map[string][][2]string{}}
	bad := map[string]bool{}
	inGroup := func(node string) bool { n := st.Nodes[node]; return group == "" || n != nil && n.Group == group }
	for _, n := range sortedNodes(st) {
		if st.Nodes[n].Offline || !inGroup(n) {
			continue
		}
		if f := facts[n]; f == nil || !f.Reachable {
			bad[n] = true
			res.BadNodes = append(res.BadNodes, n)
		}
	}
	expected := expectedVolumes(st)
	names := make([]string, 0, len(st.Instances))
	for n := range st.Instances {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		inst := st.Instances[name]
		if !inst.DisksActive || inst.AdminState == "offline" || !inGroup(inst.PrimaryNode) {
			continue
		}
		f := facts[inst.PrimaryNode]
		if bad[inst.PrimaryNode] || f == nil {
			continue
		}
		missing := false
		for _, node := range sortedNodes(st) {
			for vol, ref := range expected[node] {
				if ref.instance != name || bad[node] {
					continue
				}
				nf := facts[node]
				if nf == nil {
					continue
				}
				if _, ok := nodeVolumes(nf, st.Cluster.VolumeGroup)[vol]; !ok {
					res.Missing[name] = append(res.Missing[name], [2]string{node, vol})
					missing = true
				}
			}
		}
		if missing {
			continue
		}
		if isDRBD(inst) {
			if drbdNeedsActivation(st, inst, facts, bad) {
				res.NeedActivation = append(res.NeedActivation, name)
				continue
			}
		}
		for i := range inst.Disks {
			if !slices.Contains(f.Links, fmt.Sprintf("%s:%d", name, i)) {
				res.NeedActivation = append(res.NeedActivation, name)
				break
			}
		}
	}
	for _, m := range res.Missing {
		sort.Slice(m, func(i, j int) bool { return m[i][0]+m[i][1] < m[j][0]+m[j][1] })
	}
	return res
}

// RepairDiskSizesOp is gnt-cluster repair-disk-sizes, on the instances
// named (all when none): the volumes of every online node.
var RepairDiskSizesOp = define(&Opcode[[]string]{
	ID: OpClusterRepairDiskSize, Command: "cluster repair-disk-sizes",
	Needs: func(st *statefile.State, _ []string) Needs {
		return Needs{Nodes: allOnline(st), Parts: []string{PartVolumes}}
	},
	Plan: func(env Env, only []string) (*plan.Plan, error) {
		p, notes, err := RepairDiskSizes(env, only)
		if p != nil {
			p.Notes = notes
		}
		return p, err
	},
})

// RepairDiskSizes plans correcting recorded disk sizes to what the nodes
// really hold (Ganeti: sizes are needed for DRBD and growth). It returns
// the INFO lines to show.
func RepairDiskSizes(env Env, only []string) (*plan.Plan, []string, error) {
	st := env.State
	p := plan.New(plan.ClusterOp(OpClusterRepairDiskSize), st.Lineage, st.Serial)
	var notes []string
	names := only
	if len(names) == 0 {
		names = st.InstanceNames()
	}
	for _, name := range names {
		inst, err := instance(st, name)
		if err != nil {
			return nil, nil, err
		}
		f := env.Facts[inst.PrimaryNode]
		if f == nil || !f.Reachable {
			notes = append(notes, fmt.Sprintf("Invalid result from node %s, ignoring node results", inst.PrimaryNode))
			continue
		}
		have := nodeVolumes(f, st.Cluster.VolumeGroup)
		c := cloneInstance(inst)
		for i, d := range c.Disks {
			size, ok := have[storage.VolumeName(d)]
			if !ok {
				continue
			}
			actual := int64(math.Round(size))
			if actual != d.Size {
				notes = append(notes, fmt.Sprintf("Disk %d of instance %s has mismatched size, correcting: recorded %d, actual %d", i, name, d.Size, actual))
				d.Size = actual
			}
		}
		if err := p.Set(plan.KindInstance, name, inst, c); err != nil {
			return nil, nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, notes, nil
}

// drbdNeedsActivation is Ganeti's drbd_needs_activation on both nodes: a
// minor missing, StandAlone or diskless.
func drbdNeedsActivation(st *statefile.State, inst *statefile.Instance, facts map[string]*NodeFacts, bad map[string]bool) bool {
	for _, d := range inst.Disks {
		for _, n := range d.Nodes {
			if bad[n] || st.Nodes[n].Offline {
				continue
			}
			m, err := storage.MinorOn(d, n)
			if err != nil {
				continue
			}
			if storage.NeedsActivation(drbdStatus(facts[n]), m) {
				return true
			}
		}
	}
	return false
}
