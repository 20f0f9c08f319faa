package alloc

import (
	"fmt"
	"slices"
	"strings"
)

// EvacMode says which nodes of its instances an evacuation changes.
type EvacMode int

const (
	EvacPrimary   EvacMode = iota // primary-only: primaries move (drbd: to their secondary)
	EvacSecondary                 // secondary-only: drbd secondaries move
	EvacAll                       // all: both
)

func (m EvacMode) String() string {
	switch m {
	case EvacPrimary:
		return "primary-only"
	case EvacSecondary:
		return "secondary-only"
	}
	return "all"
}

// ParseEvacMode reads primary-only, secondary-only or all.
func ParseEvacMode(s string) (EvacMode, error) {
	switch s {
	case "primary-only":
		return EvacPrimary, nil
	case "secondary-only":
		return EvacSecondary, nil
	case "all":
		return EvacAll, nil
	}
	return 0, fmt.Errorf("unknown evacuation mode %q", s)
}

// EvacMoved is an instance an evacuation moves: its group and nodes after.
type EvacMoved struct {
	Instance string   `json:"instance"`
	Group    string   `json:"group"`
	Nodes    []string `json:"nodes"`
}

// EvacFailed is an instance an evacuation cannot move, and why.
type EvacFailed struct {
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

// EvacOp is one operation of an evacuation's job, as Ganeti's opcodes:
// OP_INSTANCE_MIGRATE (Node: the target of a shared-storage instance),
// OP_INSTANCE_FAILOVER, OP_INSTANCE_REPLACE_DISKS (Node: the new
// secondary) or OP_INSTANCE_MOVE (Node: the target).
type EvacOp struct {
	ID       string `json:"op_id"`
	Instance string `json:"instance"`
	Node     string `json:"node,omitempty"`
}

// Evacuation is the answer of a node evacuation or group change: one job
// per moved instance, the moves it makes, and the cluster after them.
type Evacuation struct {
	Moved  []EvacMoved  `json:"moved"`
	Failed []EvacFailed `json:"failed"`
	Jobs   [][]EvacOp   `json:"jobs"`
	// Moves are the jobs as moves, with the nodes each touches.
	Moves   []BalanceMove `json:"moves"`
	Cluster *Cluster      `json:"-"`
}

// result is the answer in Ganeti's form: [moved, failed, jobs].
func (ev *Evacuation) result() []any {
	moved := make([]any, 0, len(ev.Moved))
	for _, m := range ev.Moved {
		moved = append(moved, []any{m.Instance, m.Group, m.Nodes})
	}
	failed := make([]any, 0, len(ev.Failed))
	for _, f := range ev.Failed {
		failed = append(failed, []any{f.Instance, f.Reason})
	}
	jobs := make([]any, 0, len(ev.Jobs))
	for _, j := range ev.Jobs {
		ops := make([]any, 0, len(j))
		for _, op := range j {
			ops = append(ops, opcodeJSON(op))
		}
		jobs = append(jobs, ops)
	}
	return []any{moved, failed, jobs}
}

// opcodeJSON is an operation as a Ganeti opcode, with the fields hail
// sets.
func opcodeJSON(op EvacOp) map[string]any {
	m := map[string]any{"OP_ID": op.ID, "instance_name": op.Instance}
	switch op.ID {
	case "OP_INSTANCE_MIGRATE":
		if op.Node != "" {
			m["target_node"] = op.Node
		}
		m["allow_failover"] = true
		m["ignore_hvversions"] = true
		m["allow_runtime_changes"] = false
		m["cleanup"] = false
		m["ignore_ipolicy"] = false
	case "OP_INSTANCE_FAILOVER":
		if op.Node != "" {
			m["target_node"] = op.Node
		}
		m["ignore_consistency"] = false
		m["ignore_ipolicy"] = false
		m["cleanup"] = false
		m["shutdown_timeout"] = 120
	case "OP_INSTANCE_REPLACE_DISKS":
		m["mode"] = "replace_new_secondary"
		m["remote_node"] = op.Node
		m["disks"] = []int{}
		m["early_release"] = false
		m["ignore_ipolicy"] = false
	case "OP_INSTANCE_MOVE":
		m["target_node"] = op.Node
		m["ignore_consistency"] = false
		m["shutdown_timeout"] = 120
	}
	return m
}

// evacOps are the opcodes of a move (Ganeti's iMoveToJob).
func evacOps(in *Instance, mv Move, pri, sec string) []EvacOp {
	var out []EvacOp
	for _, op := range opsOf(in, mv, pri, sec) {
		id := "OP_INSTANCE_MIGRATE"
		switch op.Kind {
		case "replace-disks":
			id = "OP_INSTANCE_REPLACE_DISKS"
		case "move":
			id = "OP_INSTANCE_MOVE"
		case "failover":
			if in.Forthcoming {
				id = "OP_INSTANCE_FAILOVER"
			}
		}
		out = append(out, EvacOp{ID: id, Instance: in.Name, Node: op.Node})
	}
	return out
}

// evac is the state of an evacuation as it proceeds.
type evac struct {
	c     *Cluster
	nodes []*Node
	insts []*Instance
	o     *AllocOptions
	ev    *Evacuation
}

func (c *Cluster) newEvac(o *AllocOptions) *evac {
	return &evac{c: c, nodes: slices.Clone(c.Nodes), insts: slices.Clone(c.Instances), o: o, ev: &Evacuation{Moved: []EvacMoved{}, Failed: []EvacFailed{}, Jobs: [][]EvacOp{}}}
}

func (e *evac) groupScore(g int, nodes []*Node) float64 {
	var ns []*Node
	for _, n := range nodes {
		if n.Group == g {
			ns = append(ns, n)
		}
	}
	return Score(ns)
}

type evacStep struct {
	mv  Move
	res moved
}

// tryMoves finds, over avail, the move op(node) with the best score of
// group g; later nodes win ties, as Ganeti's.
func (e *evac) bestMove(i int, g int, avail []int, kind MoveKind, force bool) (*moved, string) {
	var best *moved
	bestScore := 0.0
	var why []string
	for _, t := range avail {
		r, f := applyMove(force, e.nodes, i, e.insts[i], Move{Kind: kind, Node: t})
		if !f.OK() {
			why = append(why, e.nodes[t].Name+": "+f.words())
			continue
		}
		trial := slices.Clone(e.nodes)
		for k := 0; k < r.n; k++ {
			trial[r.ch[k].idx] = r.ch[k].node
		}
		sc := e.groupScore(g, trial)
		if best == nil || !(bestScore < sc) {
			cp := r
			best, bestScore = &cp, sc
		}
	}
	if best == nil {
		if len(why) == 0 {
			return nil, "no node of the group is available"
		}
		return nil, "no node can take it: " + strings.Join(why, "; ")
	}
	return best, ""
}

func (e *evac) commit(r *moved, i int) {
	for k := 0; k < r.n; k++ {
		e.nodes[r.ch[k].idx] = r.ch[k].node
	}
	ni := r.inst
	e.insts[i] = &ni
}

// evacInstance moves instance i in mode within group g over avail nodes;
// it returns the moves made (applied to e) or why it cannot.
func (e *evac) evacInstance(i int, mode EvacMode, g int, avail []int, force bool) ([]evacStep, string) {
	in := e.insts[i]
	switch in.Template.Mirror() {
	case MirrorExternal:
		if mode == EvacSecondary {
			return nil, fmt.Sprintf("Instances with disk template '%s' can't execute change secondary", in.Template)
		}
		r, msg := e.bestMove(i, g, avail, FailoverToAny, force)
		if r == nil {
			return nil, msg
		}
		e.commit(r, i)
		return []evacStep{{mv: Move{Kind: FailoverToAny, Node: r.inst.Pri}, res: *r}}, ""
	case MirrorNone:
		if !e.o.CopyMoves {
			return nil, fmt.Sprintf("Instances of type %s cannot be relocated", in.Template)
		}
		if mode == EvacSecondary {
			return nil, fmt.Sprintf("Instances with disk template '%s' have no secondary", in.Template)
		}
		r, msg := e.bestMove(i, g, avail, CopyMove, force)
		if r == nil {
			return nil, msg
		}
		e.commit(r, i)
		return []evacStep{{mv: Move{Kind: CopyMove, Node: r.inst.Pri}, res: *r}}, ""
	}
	switch mode {
	case EvacPrimary:
		r, f := applyMove(force, e.nodes, i, in, Move{Kind: Failover})
		if !f.OK() {
			return nil, "cannot fail over to its secondary " + e.nodes[in.Sec].Name + ": " + f.words()
		}
		e.commit(&r, i)
		return []evacStep{{mv: Move{Kind: Failover}, res: r}}, ""
	case EvacSecondary:
		r, msg := e.bestMove(i, g, avail, ReplaceSecondary, force)
		if r == nil {
			return nil, msg
		}
		e.commit(r, i)
		return []evacStep{{mv: Move{Kind: ReplaceSecondary, Node: r.inst.Sec}, res: *r}}, ""
	}
	// All: new primary and secondary, through the best pair of nodes.
	var best []evacStep
	var bestNodes []*Node
	bestScore := 0.0
	lastErr := "no nodes available"
	for _, p := range avail {
		for _, s := range avail {
			if p == s {
				continue
			}
			steps, nodes, msg := e.drbdAll(i, p, s, force)
			if steps == nil {
				lastErr = msg
				continue
			}
			sc := e.groupScore(g, nodes)
			if best == nil || !(bestScore < sc) {
				best, bestNodes, bestScore = steps, nodes, sc
			}
		}
	}
	if best == nil {
		return nil, "Can't find any good nodes for relocation: " + lastErr
	}
	e.nodes = bestNodes
	last := best[len(best)-1].res.inst
	e.insts[i] = &last
	return best, ""
}

// drbdAll moves a drbd instance to primary p, secondary s: new secondary
// p, failover, new secondary s (after a failover first if its primary is
// offline), as Ganeti's evacDrbdAllInner.
func (e *evac) drbdAll(i, p, s int, force bool) ([]evacStep, []*Node, string) {
	nodes := slices.Clone(e.nodes)
	in := e.insts[i]
	var steps []evacStep
	step := func(mv Move, what string) bool {
		r, f := applyMove(force, nodes, i, in, mv)
		if !f.OK() {
			steps = nil
			return false
		}
		for k := 0; k < r.n; k++ {
			nodes[r.ch[k].idx] = r.ch[k].node
		}
		ni := r.inst
		in = &ni
		steps = append(steps, evacStep{mv: mv, res: r})
		_ = what
		return true
	}
	if nodes[in.Pri].Offline {
		if !step(Move{Kind: Failover}, "Failing over to the secondary") {
			return nil, nil, "Failing over to the secondary failed"
		}
	}
	if !step(Move{Kind: ReplaceSecondary, Node: p}, "") {
		return nil, nil, "Changing secondary to new primary " + e.nodes[p].Name + " failed"
	}
	if !step(Move{Kind: Failover}, "") {
		return nil, nil, "Failing over to new primary " + e.nodes[p].Name + " failed"
	}
	if !step(Move{Kind: ReplaceSecondary, Node: s}, "") {
		return nil, nil, "Changing secondary to final secondary " + e.nodes[s].Name + " failed"
	}
	return steps, nodes, ""
}

// record adds a moved instance's job to the evacuation.
func (e *evac) record(i int, steps []evacStep, before *Instance) {
	in := e.insts[i]
	job := []EvacOp{}
	cur := before
	for _, s := range steps {
		ni := s.res.inst
		pri, sec := e.c.nodeName(ni.Pri), e.c.nodeName(ni.Sec)
		job = append(job, evacOps(cur, s.mv, pri, sec)...)
		m := BalanceMove{Instance: in.Name, Code: s.mv.code(pri, sec), Kind: s.mv.Kind.String(), OldPrimary: e.c.nodeName(cur.Pri),
			Primary: pri, After: []int{}, Ops: opsOf(cur, s.mv, pri, sec)}
		if ni.Template == DRBD {
			m.OldSecondary, m.Secondary = e.c.nodeName(cur.Sec), sec
		}
		var touched []int
		for _, n := range []int{ni.Pri, ni.Sec, cur.Pri, cur.Sec} {
			if n >= 0 && !slices.Contains(touched, n) {
				touched = append(touched, n)
			}
		}
		m.Nodes = e.c.nodeNames(touched)
		e.ev.Moves = append(e.ev.Moves, m)
		cur = &ni
	}
	e.ev.Jobs = append(e.ev.Jobs, job)
	e.ev.Moved = append(e.ev.Moved, EvacMoved{Instance: in.Name, Group: e.c.Groups[e.nodes[in.Pri].Group].Name, Nodes: e.c.nodeNames(in.nodes())})
}

func (c *Cluster) nodeName(i int) string {
	if i < 0 || i >= len(c.Nodes) {
		return ""
	}
	return c.Nodes[i].Name
}

// finish fills in the dependencies and the final cluster.
func (e *evac) finish() *Evacuation {
	lastOn := map[string]int{}
	for k := range e.ev.Moves {
		m := &e.ev.Moves[k]
		for _, n := range m.Nodes {
			if j, ok := lastOn[n]; ok && !slices.Contains(m.After, j) {
				m.After = append(m.After, j)
			}
		}
		slices.Sort(m.After)
		for _, n := range m.Nodes {
			lastOn[n] = k
		}
	}
	fin := *e.c
	fin.Nodes, fin.Instances = e.nodes, e.insts
	e.ev.Cluster = &fin
	return e.ev
}

// EvacuateInstances moves instances off their nodes (hail's
// node-evacuate): in mode primary-only their primaries, secondary-only
// their drbd secondaries, all both; each stays in its group, away from
// every node being evacuated and from offline nodes.
func (c *Cluster) EvacuateInstances(names []string, mode EvacMode, o AllocOptions) (*Evacuation, error) {
	idxs, err := c.instanceIdxs(names)
	if err != nil {
		return nil, err
	}
	excl := map[int]bool{}
	for _, i := range idxs {
		in := c.Instances[i]
		if mode != EvacSecondary {
			excl[in.Pri] = true
		}
		if mode != EvacPrimary && in.Template == DRBD && in.Sec >= 0 {
			excl[in.Sec] = true
		}
	}
	for i, n := range c.Nodes {
		if n.Offline {
			excl[i] = true
		}
	}
	e := c.newEvac(&o)
	for _, i := range idxs {
		in := e.insts[i]
		g := e.nodes[in.Pri].Group
		var avail []int
		for n, node := range e.nodes {
			if node.Group == g && !excl[n] && n != in.Pri {
				avail = append(avail, n)
			}
		}
		before := in
		steps, msg := e.evacInstance(i, mode, g, avail, o.IgnoreSoftErrors)
		if steps == nil {
			e.ev.Failed = append(e.ev.Failed, EvacFailed{Instance: in.Name, Reason: msg})
			continue
		}
		e.record(i, steps, before)
	}
	return e.finish(), nil
}

// EvacuateNode empties a node (node evacuate): its primaries leave (a
// drbd instance fails over to its secondary), and in mode all (or
// secondary-only) the mirrors it holds move to other nodes of the group,
// each instance keeping its other node. (Ganeti's node-evacuate request,
// EvacuateInstances, moves both nodes of such an instance in mode all.)
func (c *Cluster) EvacuateNode(node string, mode EvacMode, o AllocOptions) (*Evacuation, error) {
	n := c.NodeIndex(node)
	if n < 0 {
		return nil, fmt.Errorf("node '%s' not known", node)
	}
	e := c.newEvac(&o)
	for i, in := range c.Instances {
		onPri := in.Pri == n && mode != EvacSecondary
		onSec := in.Template == DRBD && in.Sec == n && mode != EvacPrimary
		if !onPri && !onSec {
			continue
		}
		cur := e.insts[i]
		g := e.nodes[cur.Pri].Group
		avail := func() []int {
			var out []int
			for k, nd := range e.nodes {
				if nd.Group == g && k != n && !nd.Offline && k != e.insts[i].Pri && k != e.insts[i].Sec {
					out = append(out, k)
				}
			}
			return out
		}
		var steps []evacStep
		msg := ""
		switch {
		case onPri && cur.Template == DRBD && (cur.Sec < 0 || e.nodes[cur.Sec].Offline):
			// Its mirror is lost already: a new pair, away from the node.
			steps, msg = e.evacInstance(i, EvacAll, g, avail(), o.IgnoreSoftErrors)
		case onPri && cur.Template == DRBD:
			if steps, msg = e.evacInstance(i, EvacPrimary, g, nil, o.IgnoreSoftErrors); steps != nil && mode == EvacAll {
				// Its mirror is now on the node: move it too.
				more, m := e.evacInstance(i, EvacSecondary, g, avail(), o.IgnoreSoftErrors)
				if more == nil {
					steps, msg = nil, m
				} else {
					steps = append(steps, more...)
				}
			}
		case onPri:
			steps, msg = e.evacInstance(i, EvacPrimary, g, avail(), o.IgnoreSoftErrors)
		default:
			steps, msg = e.evacInstance(i, EvacSecondary, g, avail(), o.IgnoreSoftErrors)
		}
		if steps == nil {
			e.insts[i] = cur
			e.ev.Failed = append(e.ev.Failed, EvacFailed{Instance: in.Name, Reason: msg})
			continue
		}
		e.record(i, steps, cur)
	}
	return e.finish(), nil
}

func (c *Cluster) instanceIdxs(names []string) ([]int, error) {
	var out []int
	for _, n := range names {
		i := c.InstanceIndex(n)
		if i < 0 {
			return nil, fmt.Errorf("Unknown instance '%s'", n)
		}
		out = append(out, i)
	}
	return out, nil
}

// ChangeGroup moves instances to other groups (hail's change-group):
// each to the best of targets (all other groups if none) that can take
// it, with new nodes there.
func (c *Cluster) ChangeGroup(names []string, targets []string, o AllocOptions) (*Evacuation, error) {
	idxs, err := c.instanceIdxs(names)
	if err != nil {
		return nil, err
	}
	from := map[int]bool{}
	for _, i := range idxs {
		from[c.Nodes[c.Instances[i].Pri].Group] = true
	}
	var tgt []int
	if len(targets) == 0 {
		for g := range c.Groups {
			tgt = append(tgt, g)
		}
	} else {
		for _, t := range targets {
			g := c.GroupIndex(t)
			if g < 0 {
				return nil, fmt.Errorf("no node group '%s'", t)
			}
			tgt = append(tgt, g)
		}
	}
	tgt = slices.DeleteFunc(tgt, func(g int) bool { return from[g] })
	e := c.newEvac(&o)
	for _, i := range idxs {
		in := e.insts[i]
		cur := &Cluster{Name: c.Name, Groups: c.Groups, Nodes: e.nodes, Instances: e.insts, Tags: c.Tags, Policy: c.Policy}
		g, msg := cur.bestGroup(i, tgt, o)
		if g < 0 {
			e.ev.Failed = append(e.ev.Failed, EvacFailed{Instance: in.Name, Reason: msg})
			continue
		}
		var avail []int
		for n, node := range e.nodes {
			if node.Group == g && !node.Offline {
				avail = append(avail, n)
			}
		}
		before := in
		def := AllocOptions{CopyMoves: o.CopyMoves}
		e.o = &def
		steps, msg := e.evacInstance(i, EvacAll, g, avail, false)
		e.o = &o
		if steps == nil {
			e.ev.Failed = append(e.ev.Failed, EvacFailed{Instance: in.Name, Reason: msg})
			continue
		}
		e.record(i, steps, before)
	}
	return e.finish(), nil
}

// bestGroup is the group of groups where instance i would best go if it
// were new (Ganeti's findBestAllocGroup), -1 and why if none.
func (c *Cluster) bestGroup(i int, groups []int, o AllocOptions) (int, string) {
	if len(groups) == 0 {
		return -1, "no other node group to move it to"
	}
	in := c.Instances[i]
	type res struct {
		g     int
		score float64
	}
	var good []res
	var msgs []string
	for _, g := range groups {
		grp := c.Groups[g]
		if m := missingNetworks(grp, in); m != "" {
			msgs = append(msgs, fmt.Sprintf("group %s is not connected to network %s", grp.Name, m))
			continue
		}
		w := newWhy(c)
		cands := c.allocNodes(&o, c.Nodes, g, w)
		if len(cands) == 0 {
			msgs = append(msgs, fmt.Sprintf("group %s has no usable node", grp.Name))
			continue
		}
		ni := *in
		ni.Pri, ni.Sec = NoNode, NoNode
		sol := c.tryAlloc(&o, c.Nodes, c.Instances, i, &ni, cands, w)
		if sol == nil {
			msgs = append(msgs, fmt.Sprintf("group %s: %s", grp.Name, w.refusal(&ni, nil).Error()))
			continue
		}
		if grp.AllocPolicy == Unallocable {
			msgs = append(msgs, fmt.Sprintf("group %s is unallocable", grp.Name))
			continue
		}
		good = append(good, res{g, sol.score})
	}
	if len(good) == 0 {
		return -1, strings.Join(msgs, "; ")
	}
	slices.Reverse(good)
	slices.SortStableFunc(good, func(a, b res) int {
		pa, pb := c.Groups[a.g].AllocPolicy, c.Groups[b.g].AllocPolicy
		switch {
		case pa != pb:
			return int(pa) - int(pb)
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return 0
	})
	return good[0].g, ""
}

// Relocate finds a new secondary for a drbd instance away from from (its
// secondary), or a new node for a shared-storage instance away from its
// primary (hail's relocate); it returns the new node.
func (c *Cluster) Relocate(name string, from []string, o AllocOptions) ([]string, *Cluster, error) {
	i := c.InstanceIndex(name)
	if i < 0 {
		return nil, nil, fmt.Errorf("Unknown instance '%s'", name)
	}
	in := c.Instances[i]
	var mode EvacMode
	var exp int
	kind := "secondary"
	switch in.Template.Mirror() {
	case MirrorNone:
		if !o.CopyMoves {
			return nil, nil, fmt.Errorf("Can't relocate non-mirrored instances")
		}
		mode, exp, kind = EvacPrimary, in.Pri, "primary"
	case MirrorInternal:
		mode, exp = EvacSecondary, in.Sec
	case MirrorExternal:
		mode, exp, kind = EvacPrimary, in.Pri, "primary"
	}
	if len(from) != 1 || c.NodeIndex(from[0]) != exp {
		return nil, nil, fmt.Errorf("Unsupported request: excluded nodes not equal to instance's %s (%s versus %s)", kind, c.nodeName(exp), strings.Join(from, ", "))
	}
	ev, err := c.EvacuateInstances([]string{name}, mode, o)
	if err != nil {
		return nil, nil, err
	}
	if len(ev.Failed) > 0 {
		return nil, nil, fmt.Errorf("%s", ev.Failed[0].Reason)
	}
	fin := ev.Cluster.Instances[i]
	if in.Template.Mirror() == MirrorInternal {
		return []string{ev.Cluster.nodeName(fin.Sec)}, ev.Cluster, nil
	}
	return []string{ev.Cluster.nodeName(fin.Pri)}, ev.Cluster, nil
}

// AllocateSecondary finds a secondary for an instance without one, to
// convert it to drbd (hail's allocate-secondary).
func (c *Cluster) AllocateSecondary(name string, o AllocOptions) (*Placed, error) {
	i := c.InstanceIndex(name)
	if i < 0 {
		return nil, fmt.Errorf("Unknown instance '%s'", name)
	}
	in := c.Instances[i]
	if in.Sec >= 0 {
		return nil, fmt.Errorf("Instance already has a secondary")
	}
	p := in.Pri
	nodes := slices.Clone(c.Nodes)
	nodes[p] = nodes[p].removePri(i, in)
	ni := *in
	ni.Template = DRBD
	g := nodes[p].Group
	cands := []int{p}
	for n, node := range nodes {
		if node.Group == g && n != p {
			cands = append(cands, n)
		}
	}
	w := newWhy(c)
	sol := c.tryPair(&o, nodes, c.Instances, i, &ni, p, cands[1:], w)
	if sol == nil {
		return nil, w.refusal(&ni, nil)
	}
	info := "Group " + c.Groups[g].Name + " (" + c.Groups[g].AllocPolicy.String() + "): " + describe(sol, w, c)
	fin := c.withNodes(sol.nodes, c.Instances, i, &sol.inst)
	return &Placed{Instance: name, Nodes: c.nodeNames(sol.used), Group: c.Groups[g].Name, Score: sol.score,
		Successes: w.successes(), Failures: collapse(w.counts), Info: []string{info}, cluster: fin}, nil
}
