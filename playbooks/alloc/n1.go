package alloc

import (
	"fmt"
	"slices"
	"sort"
)

// Global N+1 (Ganeti's GlobalN1.hs): a cluster is redundant when any one
// node can be lost: its drbd primaries fail over to their secondaries,
// its shared-storage instances move to another node of the group, and
// its other instances can be recreated elsewhere in the group. Hail keeps
// a cluster redundant unless told not to (--no-capacity-checks).

// movableTemplate: an instance that can start on another node as is.
func movableTemplate(t Template) bool {
	switch t {
	case Diskless, SharedFile, RBD, Ext, Gluster:
		return true
	}
	return false
}

// redundant says whether every node could be evacuated, and if not, why.
func (c *Cluster) redundant(o *AllocOptions) (bool, string) {
	for i, n := range c.Nodes {
		if o.AcceptExisting && n.Offline {
			continue
		}
		if slices.Contains(o.ignoreGroups, n.Group) {
			continue
		}
		if ok, msg := c.canEvacuate(i, o.compatN1); !ok {
			return false, msg
		}
	}
	return true, ""
}

// Redundant says whether the cluster survives the loss of any one node
// (Ganeti's global N+1), and if not, why.
func (c *Cluster) Redundant() (bool, string) { return c.redundant(&AllocOptions{}) }

// canEvacuate says whether node n's instances could go elsewhere. It
// moves shared-storage instances largest first and never to an offline
// node; compat does as Ganeti does instead (list order, offline nodes
// as targets), for comparisons with hspace.
func (c *Cluster) canEvacuate(n int, compat bool) (bool, string) {
	node := c.Nodes[n]
	nodes := slices.Clone(c.Nodes)
	insts := slices.Clone(c.Instances)
	var drbd, shared, other []int
	for _, i := range node.Pri {
		switch t := insts[i].Template; {
		case t == DRBD:
			drbd = append(drbd, i)
		case movableTemplate(t):
			shared = append(shared, i)
		default:
			other = append(other, i)
		}
	}
	lost := func(i int, f Failure) (bool, string) {
		return false, fmt.Sprintf("losing node %s would leave %s nowhere to go (%s)", node.Name, insts[i].Name, f.words())
	}
	for _, i := range drbd {
		r, f := applyMove(true, nodes, i, insts[i], Move{Kind: Failover})
		if !f.OK() {
			return lost(i, f)
		}
		for k := 0; k < r.n; k++ {
			nodes[r.ch[k].idx] = r.ch[k].node
		}
		ni := r.inst
		insts[i] = &ni
	}
	var escape []int
	for i, m := range nodes {
		if m.Group == node.Group && i != n && (compat || !m.Offline) {
			escape = append(escape, i)
		}
	}
	group := func(ns []*Node) []*Node {
		var out []*Node
		for _, m := range ns {
			if m.Group == node.Group {
				out = append(out, m)
			}
		}
		return out
	}
	// Largest first (Ganeti takes them in list order): the big ones find
	// room while there is some.
	if compat {
		slices.Reverse(shared) // Ganeti's lists are newest first
	} else {
		sort.SliceStable(shared, func(a, b int) bool { return insts[shared[a]].Mem > insts[shared[b]].Mem })
	}
	for _, i := range shared {
		var best *moved
		bestScore := 0.0
		var last Failure
		for _, t := range escape {
			r, f := applyMove(true, nodes, i, insts[i], Move{Kind: FailoverToAny, Node: t})
			if !f.OK() {
				last = f
				continue
			}
			trial := slices.Clone(nodes)
			for k := 0; k < r.n; k++ {
				trial[r.ch[k].idx] = r.ch[k].node
			}
			sc := Score(group(trial))
			if best == nil || !(bestScore < sc) {
				cp := r
				best, bestScore = &cp, sc
			}
		}
		if best == nil {
			if last.OK() {
				last = Failure{Text: "no other node in the group"}
			}
			return lost(i, last)
		}
		for k := 0; k < best.n; k++ {
			nodes[best.ch[k].idx] = best.ch[k].node
		}
		ni := best.inst
		insts[i] = &ni
	}
	sort.SliceStable(other, func(a, b int) bool { return insts[other[a]].Mem > insts[other[b]].Mem })
	opts := &AllocOptions{IgnoreSoftErrors: true}
	for _, i := range other {
		var sols []solution
		var last Failure
		for _, t := range escape {
			s, f := c.tryOnSingle(opts, nodes, i, insts[i], t)
			if !f.OK() {
				last = f
				continue
			}
			sols = append(sols, s)
		}
		if len(sols) == 0 {
			if last.OK() {
				last = Failure{Text: "no other node in the group"}
			}
			return lost(i, last)
		}
		slices.Reverse(sols)
		sort.SliceStable(sols, func(a, b int) bool { return sols[a].score < sols[b].score })
		nodes = sols[0].nodes
	}
	return true, ""
}
