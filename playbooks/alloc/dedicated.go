package alloc

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Dedicated allocation (Ganeti's Dedicated.hs): on a cluster where every
// node of the groups considered has exclusive storage, instances are
// placed to lose the fewest future allocations of the policy's minimal
// instances, then to leave the least disk free; the score is not used.

// metric is the lost allocations (one per minimal spec) and the free disk.
type metric struct {
	lost []int
	disk int
}

func (a metric) less(b metric) bool {
	for i := 0; i < len(a.lost) && i < len(b.lost); i++ {
		if a.lost[i] != b.lost[i] {
			return a.lost[i] < b.lost[i]
		}
	}
	if len(a.lost) != len(b.lost) {
		return len(a.lost) < len(b.lost)
	}
	return a.disk < b.disk
}

func (a metric) String() string {
	parts := make([]string, len(a.lost))
	for i, v := range a.lost {
		parts[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("([%s],%d)", strings.Join(parts, ","), a.disk)
}

// isDedicated says whether every node of the groups considered (group,
// or all allocable ones) has exclusive storage.
func (c *Cluster) isDedicated(group string) bool {
	for _, n := range c.Nodes {
		g := c.Groups[n.Group]
		in := g.AllocPolicy != Unallocable
		if group != "" {
			in = g.Name == group
		}
		if in && !n.ExclStorage {
			return false
		}
	}
	return true
}

// testInstances are minimal instances of each min spec, largest disk first.
func testInstances(p *Policy) []*Instance {
	var specs []Spec
	for _, mm := range p.MinMax {
		specs = append(specs, mm.Min)
	}
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].DiskSize > specs[j].DiskSize })
	out := make([]*Instance, len(specs))
	for i, s := range specs {
		out[i] = &Instance{Name: "minimalspecinstance", Mem: s.MemorySize, Dsk: s.DiskSize, VCPUs: s.CPUCount, Status: StatusRunning,
			Pri: NoNode, Sec: NoNode, Template: Plain, SpindleUse: s.SpindleUse}
	}
	return out
}

// fits counts how many times in can be added to n.
func fits(n *Node, in *Instance) int {
	k := 0
	for cur := n; k < 100000; k++ {
		next, f := cur.addPri(false, -1, in)
		if !f.OK() {
			break
		}
		cur = next
	}
	return k
}

func allocVector(tests []*Instance, n *Node) []int {
	out := make([]int, len(tests))
	for i, t := range tests {
		out[i] = fits(n, t)
	}
	return out
}

type dedSol struct {
	nodes []*Node
	inst  Instance
	used  []int
	m     metric
}

// dedicatedAlloc places an instance in group g by the lost-allocations
// metric.
func (c *Cluster) dedicatedAlloc(o *AllocOptions, nodes []*Node, idx int, in *Instance, g int, w *why) (*dedSol, error) {
	cands := c.allocNodes(o, nodes, g, w)
	if len(cands) == 0 {
		if in.Template.RequiredNodes() == 2 {
			return nil, fmt.Errorf("Not enough online nodes")
		}
		return nil, fmt.Errorf("No online nodes")
	}
	var best *dedSol
	keep := func(s dedSol) {
		if best == nil || !best.m.less(s.m) {
			cp := s
			best = &cp
		}
	}
	for _, p := range cands {
		prim := nodes[p]
		if f := matchesPolicy(in, &prim.Policy, prim.ExclStorage); !f.OK() {
			w.policy[p] = f
			tries := 1
			if in.Template.RequiredNodes() == 2 {
				tries = 0
				for _, s := range cands {
					if s != p && nodes[s].Group == prim.Group {
						tries++
					}
				}
			}
			for range tries {
				w.counts = append(w.counts, f.Mode)
			}
			continue
		}
		tests := testInstances(&prim.Policy)
		ni := *in
		ni.Pri, ni.Sec = p, NoNode
		if in.Template.RequiredNodes() == 1 {
			np, f := prim.addPri(o.IgnoreSoftErrors, idx, &ni)
			if !f.OK() {
				w.failPri(p, f)
				continue
			}
			w.ok++
			out := slices.Clone(nodes)
			out[p] = np
			keep(dedSol{nodes: out, inst: ni, used: []int{p}, m: metric{lost: diff(allocVector(tests, prim), allocVector(tests, np)), disk: np.FDsk}})
			continue
		}
		for _, s := range cands {
			if s == p || nodes[s].Group != prim.Group {
				continue
			}
			ni.Sec = s
			np, f := prim.addPri(o.IgnoreSoftErrors, idx, &ni)
			if !f.OK() {
				w.failPri(p, f)
				continue
			}
			ns, f := nodes[s].addSec(false, false, idx, &ni, p)
			if !f.OK() {
				w.failSec(s, f)
				continue
			}
			w.ok++
			lost := diff(allocVector(tests, prim), allocVector(tests, np))
			for i, v := range diff(allocVector(tests, nodes[s]), allocVector(tests, ns)) {
				lost[i] += v
			}
			out := slices.Clone(nodes)
			out[p], out[s] = np, ns
			keep(dedSol{nodes: out, inst: ni, used: []int{p, s}, m: metric{lost: lost, disk: np.FDsk + ns.FDsk}})
		}
	}
	return best, nil
}

func diff(a, b []int) []int {
	out := make([]int, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// allocateDedicated is Allocate on a dedicated cluster.
func (c *Cluster) allocateDedicated(ni NewInstance, group string, o AllocOptions) (*Placed, error) {
	in := c.newInstance(ni)
	idx := len(c.Instances)
	groups := c.candidateGroups()
	if group != "" {
		g := c.GroupIndex(group)
		if g < 0 {
			return nil, fmt.Errorf("no node group '%s'", group)
		}
		groups = []int{g}
	}
	type res struct {
		g   int
		sol *dedSol
		w   *why
	}
	var good []res
	var info []string
	w := newWhy(c)
	for _, g := range groups {
		grp := c.Groups[g]
		if m := missingNetworks(grp, in); m != "" {
			info = append(info, fmt.Sprintf("group %s is not connected to network %s required by instance %s", grp.Name, m, in.Name))
			continue
		}
		gw := newWhy(c)
		sol, err := c.dedicatedAlloc(&o, c.Nodes, idx, in, g, gw)
		w.merge(gw)
		if err != nil {
			info = append(info, fmt.Sprintf("Group %s: error %v", grp.Name, err))
			continue
		}
		counts := collapse(gw.counts)
		if sol == nil {
			r := failureText(counts)
			if r == "" {
				r = "unknown reasons"
			}
			info = append(info, fmt.Sprintf("Group %s (%s): No valid allocation solutions, failure reasons: %s", grp.Name, grp.AllocPolicy, r))
			continue
		}
		fails := 0
		for _, x := range counts {
			fails += x.Count
		}
		info = append(info, fmt.Sprintf("Group %s (%s): score: %s, successes %d, failures %d (%s) for node(s) %s", grp.Name, grp.AllocPolicy,
			sol.m, gw.ok, fails, failureText(counts), strings.Join(c.nodeNames(sol.used), "/")))
		if grp.AllocPolicy == Unallocable && group == "" {
			continue
		}
		good = append(good, res{g, sol, gw})
	}
	slices.Reverse(good)
	sort.SliceStable(good, func(i, j int) bool {
		pi, pj := c.Groups[good[i].g].AllocPolicy, c.Groups[good[j].g].AllocPolicy
		if pi != pj {
			return pi < pj
		}
		return good[i].sol.m.less(good[j].sol.m)
	})
	if len(good) == 0 {
		return nil, w.refusal(in, info)
	}
	r := good[0]
	if group == "" {
		info = append([]string{"Selected group: " + c.Groups[r.g].Name}, info...)
	}
	fin := c.withNodes(r.sol.nodes, c.Instances, idx, &r.sol.inst)
	return &Placed{Instance: in.Name, Nodes: c.nodeNames(r.sol.used), Group: c.Groups[r.g].Name, Score: Score(r.sol.nodes),
		Successes: r.w.ok, Failures: collapse(r.w.counts), Info: info, cluster: fin}, nil
}
