package alloc

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// AllocOptions are the allocator's options (hail's).
type AllocOptions struct {
	// IgnoreSoftErrors places instances beyond soft limits (reserves,
	// ratios, exclusion tags, N+1 of the nodes used).
	IgnoreSoftErrors bool
	// NoCapacityChecks skips the global N+1 check: after the allocation
	// every node must still be evacuable (hail --no-capacity-checks).
	NoCapacityChecks bool
	// RestrictToNodes limits the nodes to use (hail
	// --restrict-allocation-to, or the request's restrict-to-nodes).
	RestrictToNodes []string
	// AcceptExisting: the global N+1 check only looks at online nodes.
	AcceptExisting bool
	// PreferRedundant: when no placement keeps the cluster redundant
	// (the global N+1 check), take the best that does not and say so,
	// instead of refusing.
	PreferRedundant bool
	// CopyMoves lets evacuations and relocations move plain and file
	// instances by copying their disks (ganetictl's instance move);
	// Ganeti's iallocators refuse them.
	CopyMoves bool
	// ignoreGroups are groups left out of the global N+1 check.
	ignoreGroups []int
	// keepPolicies skips the instance policy (recreating an instance
	// for the N+1 check).
	keepPolicies bool
	// compatN1 checks global N+1 exactly as Ganeti (canEvacuate).
	compatN1 bool
}

// NewInstance describes an instance to place.
type NewInstance struct {
	Name     string
	Mem      int // MiB
	VCPUs    int
	Disks    []Disk
	Template Template
	// SpindleUse as the backend parameter spindle_use (default 1).
	SpindleUse int
	Tags       []string
	Networks   []string // networks of its NICs ("" for none)
	NICs       int
	// Dsk is the disk space it takes on a node (drbd: with metadata);
	// 0: computed from Disks.
	Dsk int
	// Down: created stopped (it then needs no memory on its primary
	// until started; Ganeti places it as if running).
	Down bool
}

// DRBDMetaSize is the metadata volume of each drbd disk, in MiB.
const DRBDMetaSize = 128

func (c *Cluster) newInstance(ni NewInstance) *Instance {
	dsk := ni.Dsk
	if dsk == 0 {
		for _, d := range ni.Disks {
			dsk += d.Size
			if ni.Template == DRBD {
				dsk += DRBDMetaSize
			}
		}
	}
	su := ni.SpindleUse
	if su == 0 {
		su = 1
	}
	in := &Instance{Name: ni.Name, Mem: ni.Mem, Dsk: dsk, Disks: slices.Clone(ni.Disks), VCPUs: ni.VCPUs, Status: StatusRunning,
		Pri: NoNode, Sec: NoNode, Template: ni.Template, SpindleUse: su, Tags: slices.Clone(ni.Tags), AutoBalance: true,
		Movable: ni.Template.migratable(), Networks: ni.Networks, NICs: ni.NICs, Util: BaseUtil}
	var prefixes []string
	for _, t := range c.Tags {
		if p, ok := strings.CutPrefix(t, TagExclusion); ok && p != "" {
			prefixes = append(prefixes, p)
		}
	}
	in.ExclTags = withPrefix(in.Tags, prefixes)
	prefixes = nil
	for _, t := range c.Tags {
		if p, ok := strings.CutPrefix(t, TagDesiredLocation); ok && p != "" {
			prefixes = append(prefixes, p)
		}
	}
	in.DesiredLoc = withPrefix(in.Tags, prefixes)
	return in
}

// solution is one way of placing an instance.
type solution struct {
	nodes []*Node // the cluster's nodes after it
	inst  Instance
	used  []int // node indices, primary first
	score float64
}

// Placed is a successful allocation.
type Placed struct {
	Instance  string   `json:"instance"`
	Nodes     []string `json:"nodes"` // primary first
	Group     string   `json:"group"`
	Score     float64  `json:"score"`     // the cluster score after it
	Successes int      `json:"successes"` // placements that were possible
	Failures  []Count  `json:"failures"`  // Ganeti's failure counts
	Info      []string `json:"info"`      // hail's log
	// Warnings: the placement leaves the cluster unable to lose a node
	// (PreferRedundant).
	Warnings []string `json:"warnings,omitempty"`
	cluster  *Cluster
}

// Cluster is the cluster with the instance placed.
func (p *Placed) Cluster() *Cluster { return p.cluster }

// Count is how many placements failed one way.
type Count struct {
	Mode  string `json:"mode"`
	Count int    `json:"count"`
}

// Refusal is an allocation that found no place, in words: why each node
// could not take the instance.
type Refusal struct {
	Instance string       `json:"instance"`
	Spec     string       `json:"spec"`
	Nodes    []NodeReason `json:"nodes"`
	Failures []Count      `json:"failures"`
	Info     []string     `json:"info"`
	// Reason is a refusal that concerns no node in particular (the
	// instance policy of every group, no group at all).
	Reason string `json:"reason,omitempty"`
}

// NodeReason is why one node could not take an instance.
type NodeReason struct {
	Node   string `json:"node"`
	Group  string `json:"group"`
	Reason string `json:"reason"`
}

func (r *Refusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no node can take %s (%s)", r.Instance, r.Spec)
	if r.Reason != "" {
		b.WriteString(": " + r.Reason)
	}
	for i, n := range r.Nodes {
		if i == 0 && r.Reason == "" {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(n.Node + ": " + n.Reason)
	}
	return b.String()
}

// ErrorType is Ganeti's error class of a refusal.
func (r *Refusal) ErrorType() string { return "insufficient_resources" }

// ErrorDetails is the refusal itself, for --json.
func (r *Refusal) ErrorDetails() any { return r }

// why collects, per node, the first reason it failed as primary and as
// secondary.
type why struct {
	c        *Cluster
	pri, sec map[int]Failure
	priOK    map[int]bool
	secOK    map[int]bool
	other    map[int]string // node-level reasons decided before trying
	counts   []FailMode
	n1       map[int]string // placements dropped by the global N+1 check
	policy   map[int]Failure
	ok       int // placements that worked (and passed the N+1 check)
}

func newWhy(c *Cluster) *why {
	return &why{c: c, pri: map[int]Failure{}, sec: map[int]Failure{}, priOK: map[int]bool{}, secOK: map[int]bool{},
		other: map[int]string{}, n1: map[int]string{}, policy: map[int]Failure{}}
}

func (w *why) failPri(n int, f Failure) {
	w.counts = append(w.counts, f.Mode)
	if _, ok := w.pri[n]; !ok {
		w.pri[n] = f
	}
}

func (w *why) failSec(n int, f Failure) {
	w.counts = append(w.counts, f.Mode)
	if _, ok := w.sec[n]; !ok {
		w.sec[n] = f
	}
}

func collapse(modes []FailMode) []Count {
	out := make([]Count, 0, FailInternal)
	for m := FailMem; m <= FailInternal; m++ {
		n := 0
		for _, f := range modes {
			if f == m {
				n++
			}
		}
		out = append(out, Count{Mode: m.String(), Count: n})
	}
	return out
}

// failureText is Ganeti's "FailMem: 1, FailDisk: 2" of the non-zero counts.
func failureText(cs []Count) string {
	var parts []string
	for _, c := range cs {
		if c.Count > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", c.Mode, c.Count))
		}
	}
	return strings.Join(parts, ", ")
}

// nodeUsable is "" if node n may take instances at all, else why not.
func (c *Cluster) nodeUsable(n int) string {
	node := c.Nodes[n]
	switch {
	case node.Down != "":
		return node.Down
	case node.NoVM:
		return "not vm_capable"
	case node.Drained:
		return "drained"
	case node.Offline:
		return "offline"
	}
	return ""
}

// tryOnSingle places a one-node instance on node p.
func (c *Cluster) tryOnSingle(o *AllocOptions, nodes []*Node, idx int, in *Instance, p int) (solution, Failure) {
	tgt := nodes[p]
	if !o.keepPolicies {
		if f := matchesPolicy(in, &tgt.Policy, tgt.ExclStorage); !f.OK() {
			return solution{}, f
		}
	}
	ni := *in
	ni.Pri, ni.Sec = p, NoNode
	ni.LocScore = 0
	np, f := tgt.addPri(o.IgnoreSoftErrors, idx, &ni)
	if !f.OK() {
		return solution{}, f
	}
	out := slices.Clone(nodes)
	out[p] = np
	return solution{nodes: out, inst: ni, used: []int{p}, score: Score(out)}, Failure{}
}

// groupNodes are the online, usable nodes of group g that the request
// allows.
func (c *Cluster) allocNodes(o *AllocOptions, nodes []*Node, g int, w *why) []int {
	var out []int
	for i, n := range nodes {
		if n.Group != g {
			continue
		}
		if len(o.RestrictToNodes) > 0 && !slices.Contains(o.RestrictToNodes, n.Name) {
			if w != nil {
				w.other[i] = "not among the nodes the request allows"
			}
			continue
		}
		if why := c.nodeUsable(i); why != "" {
			if w != nil {
				w.other[i] = why
			}
			continue
		}
		out = append(out, i)
	}
	return out
}

// tryAlloc places instance in (index idx) on the candidate nodes of one
// group: every node, or every ordered pair, keeping the lowest score
// that passes the global N+1 check (Cluster.hs tryAlloc).
func (c *Cluster) tryAlloc(o *AllocOptions, nodes []*Node, insts []*Instance, idx int, in *Instance, cands []int, w *why) *solution {
	var best *solution
	keep := func(s solution) {
		// As Ganeti: a later solution of equal score wins.
		if best == nil || !(best.score < s.score) {
			cp := s
			best = &cp
		}
	}
	n1ok := func(s *solution) (bool, string) {
		if o.NoCapacityChecks {
			return true, ""
		}
		cl := c.withNodes(s.nodes, insts, idx, &s.inst)
		return cl.redundant(o)
	}
	if in.Template.RequiredNodes() == 1 {
		var sols []solution
		for _, p := range cands {
			s, f := c.tryOnSingle(o, nodes, idx, in, p)
			if !f.OK() {
				if f.why == rPolicy {
					w.policy[p] = f
				}
				w.failPri(p, f)
				continue
			}
			w.priOK[p] = true
			w.ok++
			sols = append(sols, s)
		}
		if best := c.firstGood(sols, w, n1ok); best != nil {
			return best
		}
		return nil
	}
	for _, p := range cands {
		var secs []int
		for _, s := range cands {
			if s != p && nodes[s].Group == nodes[p].Group {
				secs = append(secs, s)
			}
		}
		if s := c.tryPair(o, nodes, insts, idx, in, p, secs, w); s != nil {
			keep(*s)
		}
	}
	return best
}

// tryPair places a drbd instance with primary p and one of secs as
// secondary (Ganeti's allocateOnPair over a primary's partners).
func (c *Cluster) tryPair(o *AllocOptions, nodes []*Node, insts []*Instance, idx int, in *Instance, p int, secs []int, w *why) *solution {
	tgtP := nodes[p]
	if !o.keepPolicies {
		if f := matchesPolicy(in, &tgtP.Policy, tgtP.ExclStorage); !f.OK() {
			w.policy[p] = f
			for range secs {
				w.counts = append(w.counts, f.Mode)
			}
			if _, ok := w.pri[p]; !ok {
				w.pri[p] = f
			}
			return nil
		}
	}
	st := newGStats(nodes)
	var sols []solution
	for _, s := range secs {
		ni := *in
		ni.Pri, ni.Sec = p, s
		ni.LocScore = locScoreFor(tgtP, nodes[s])
		np, f := tgtP.addPri(o.IgnoreSoftErrors, idx, &ni)
		if !f.OK() {
			w.failPri(p, f)
			continue
		}
		w.priOK[p] = true
		ns, f := nodes[s].addSec(false, false, idx, &ni, p)
		if !f.OK() {
			w.failSec(s, f)
			continue
		}
		w.secOK[s] = true
		w.ok++
		out := slices.Clone(nodes)
		out[p], out[s] = np, ns
		g := *st
		g.update(tgtP, np)
		g.update(nodes[s], ns)
		sols = append(sols, solution{nodes: out, inst: ni, used: []int{p, s}, score: g.score()})
	}
	n1ok := func(s *solution) (bool, string) {
		if o.NoCapacityChecks {
			return true, ""
		}
		return c.withNodes(s.nodes, insts, idx, &s.inst).redundant(o)
	}
	return c.firstGood(sols, w, n1ok)
}

// firstGood is, of sols, the lowest score (a later one on ties) that
// passes ok; the ones dropped count as FailN1.
func (c *Cluster) firstGood(sols []solution, w *why, ok func(*solution) (bool, string)) *solution {
	// Ganeti keeps its solutions newest first and sorts them stably.
	slices.Reverse(sols)
	sort.SliceStable(sols, func(i, j int) bool { return sols[i].score < sols[j].score })
	for i := range sols {
		good, msg := ok(&sols[i])
		if good {
			return &sols[i]
		}
		w.counts = append(w.counts, FailN1)
		w.ok--
		if _, seen := w.n1[sols[i].used[0]]; !seen {
			w.n1[sols[i].used[0]] = msg
		}
	}
	return nil
}

// withNodes is c with nodes and instance idx set to in (appended if new).
func (c *Cluster) withNodes(nodes []*Node, insts []*Instance, idx int, in *Instance) *Cluster {
	out := *c
	out.Nodes = nodes
	out.Instances = slices.Clone(insts)
	if idx == len(out.Instances) {
		out.Instances = append(out.Instances, in)
	} else {
		out.Instances[idx] = in
	}
	return &out
}

// groupResult is one group's allocation attempt.
type groupResult struct {
	g   int
	sol *solution
	log string
	why *why
}

// Allocate places a new instance (hail's allocate): in every allowed
// group that has the networks the instance needs, the best placement;
// then the best group, preferred groups before last-resort ones,
// unallocable groups never. group restricts to one group ("": any).
func (c *Cluster) Allocate(ni NewInstance, group string, o AllocOptions) (*Placed, error) {
	if o.PreferRedundant && !o.NoCapacityChecks {
		o.PreferRedundant = false
		p, err := c.Allocate(ni, group, o)
		if err == nil {
			return p, nil
		}
		o.NoCapacityChecks = true
		q, err2 := c.Allocate(ni, group, o)
		if err2 != nil {
			return nil, err2
		}
		why := err.Error()
		if r, ok := err.(*Refusal); ok {
			for _, n := range r.Nodes {
				if strings.HasPrefix(n.Reason, "losing node") {
					why = n.Reason
					break
				}
			}
		}
		q.Warnings = append(q.Warnings, "no placement keeps every node evacuable (global N+1): "+why)
		return q, nil
	}
	if len(c.Nodes) > 0 && c.isDedicated(group) {
		return c.allocateDedicated(ni, group, o)
	}
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
	var results []groupResult
	var info []string
	w := newWhy(c)
	for _, g := range groups {
		grp := c.Groups[g]
		if missing := missingNetworks(grp, in); missing != "" {
			msg := fmt.Sprintf("group %s is not connected to network %s required by instance %s", grp.Name, missing, in.Name)
			info = append(info, msg)
			for _, n := range c.groupNodes(g) {
				w.other[n] = fmt.Sprintf("group '%s' is not connected to network %s", grp.Name, missing)
			}
			continue
		}
		gw := newWhy(c)
		cands := c.allocNodes(&o, c.Nodes, g, gw)
		var sol *solution
		var log string
		switch {
		case len(cands) == 0 && in.Template.RequiredNodes() == 2:
			log = fmt.Sprintf("Group %s: error Not enough online nodes", grp.Name)
		case len(cands) == 0:
			log = fmt.Sprintf("Group %s: error No online nodes", grp.Name)
		default:
			sol = c.tryAlloc(&o, c.Nodes, c.Instances, idx, in, cands, gw)
			log = fmt.Sprintf("Group %s (%s): %s", grp.Name, grp.AllocPolicy, describe(sol, gw, c))
		}
		info = append(info, log)
		w.merge(gw)
		if sol != nil && grp.AllocPolicy == Unallocable && group == "" {
			for _, n := range c.groupNodes(g) {
				w.other[n] = fmt.Sprintf("group '%s' is unallocable", grp.Name)
			}
			continue
		}
		if sol != nil {
			results = append(results, groupResult{g: g, sol: sol, log: log, why: gw})
		}
	}
	// Groups without usable policy are unallocable: their nodes say so.
	for g, grp := range c.Groups {
		if grp.AllocPolicy == Unallocable && group == "" && !slices.Contains(groups, g) {
			for _, n := range c.groupNodes(g) {
				w.other[n] = fmt.Sprintf("group '%s' is unallocable", grp.Name)
			}
		}
	}
	// Ganeti: filterMGResults prepends, then sortBy (policy, score).
	slices.Reverse(results)
	sort.SliceStable(results, func(i, j int) bool {
		pi, pj := c.Groups[results[i].g].AllocPolicy, c.Groups[results[j].g].AllocPolicy
		if pi != pj {
			return pi < pj
		}
		return results[i].sol.score < results[j].sol.score
	})
	if len(results) == 0 {
		return nil, w.refusal(in, info)
	}
	r := results[0]
	info = append([]string{"Selected group: " + c.Groups[r.g].Name}, info...)
	fin := c.withNodes(r.sol.nodes, c.Instances, idx, &r.sol.inst)
	return &Placed{Instance: in.Name, Nodes: c.nodeNames(r.sol.used), Group: c.Groups[r.g].Name, Score: r.sol.score,
		Successes: r.why.successes(), Failures: collapse(r.why.counts), Info: info, cluster: fin}, nil
}

func (w *why) merge(o *why) {
	w.counts = append(w.counts, o.counts...)
	for _, m := range []struct{ dst, src map[int]Failure }{{w.pri, o.pri}, {w.sec, o.sec}, {w.policy, o.policy}} {
		for k, v := range m.src {
			if _, ok := m.dst[k]; !ok {
				m.dst[k] = v
			}
		}
	}
	for k := range o.priOK {
		w.priOK[k] = true
	}
	for k := range o.secOK {
		w.secOK[k] = true
	}
	for k, v := range o.other {
		w.other[k] = v
	}
	for k, v := range o.n1 {
		w.n1[k] = v
	}
	w.ok += o.ok
}

// successes counts the placements tried that worked (Ganeti's asAllocs).
func (w *why) successes() int { return w.ok }

// candidateGroups are the groups that have nodes, by index.
func (c *Cluster) candidateGroups() []int {
	var out []int
	for g := range c.Groups {
		for _, n := range c.Nodes {
			if n.Group == g {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func missingNetworks(g *Group, in *Instance) string {
	for _, n := range in.Networks {
		if n != "" && !slices.Contains(g.Networks, n) {
			return n
		}
	}
	return ""
}

// describe is hail's description of a group's attempt.
func describe(s *solution, w *why, c *Cluster) string {
	counts := collapse(w.counts)
	if s == nil {
		reasons := failureText(counts)
		if reasons == "" {
			reasons = "unknown reasons"
		}
		return "No valid allocation solutions, failure reasons: " + reasons
	}
	fails := 0
	for _, x := range counts {
		fails += x.Count
	}
	return fmt.Sprintf("score: %.8f, successes %d, failures %d (%s) for node(s) %s", s.score, w.successes(), fails,
		failureText(counts), strings.Join(c.nodeNames(s.used), "/"))
}

// refusal puts the reasons together, one per node.
func (w *why) refusal(in *Instance, info []string) *Refusal {
	r := &Refusal{Instance: in.Name, Spec: in.Describe(), Failures: collapse(w.counts), Info: info}
	pair := in.Template.RequiredNodes() == 2
	for i, n := range w.c.Nodes {
		reason := w.nodeReason(i, pair)
		if reason == "" {
			continue
		}
		g := ""
		if n.Group >= 0 && n.Group < len(w.c.Groups) {
			g = w.c.Groups[n.Group].Name
		}
		r.Nodes = append(r.Nodes, NodeReason{Node: n.Name, Group: g, Reason: reason})
	}
	// When every node fails the same policy, say it once.
	if len(r.Nodes) > 1 {
		same := true
		for _, n := range r.Nodes[1:] {
			if n.Reason != r.Nodes[0].Reason {
				same = false
			}
		}
		if same && len(w.policy) > 0 {
			r.Reason = r.Nodes[0].Reason
			r.Nodes = nil
		}
	}
	if len(r.Nodes) == 0 && r.Reason == "" {
		r.Reason = "the cluster has no node that could take it"
	}
	return r
}

func (w *why) nodeReason(i int, pair bool) string {
	if s, ok := w.other[i]; ok {
		return s
	}
	if f, ok := w.policy[i]; ok {
		return f.words()
	}
	var parts []string
	if f, ok := w.pri[i]; ok && !w.priOK[i] {
		if pair {
			parts = append(parts, "as primary: "+f.words())
		} else {
			parts = append(parts, f.words())
		}
	}
	if pair {
		if f, ok := w.sec[i]; ok && !w.secOK[i] {
			parts = append(parts, "as secondary: "+f.words())
		}
	}
	if msg, ok := w.n1[i]; ok && len(parts) == 0 {
		parts = append(parts, msg)
	}
	if len(parts) == 0 && pair && w.priOK[i] {
		parts = append(parts, "no secondary in its group can take the mirror")
	}
	return strings.Join(parts, "; ")
}
