package alloc

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// BalanceOptions are hbal's options and ganetictl's additions.
type BalanceOptions struct {
	// MaxLength bounds the number of moves (hbal -l); <0: no bound.
	MaxLength int
	// MinGain and MinGainLimit: below a score of MinGainLimit, a move must
	// gain at least MinGain (hbal --min-gain, --min-gain-limit).
	MinGain, MinGainLimit float64
	// MinScore: stop once the score is this close to the optimum.
	MinScore float64
	// NoDiskMoves forbids moves that copy disks (replace-disks, copies).
	NoDiskMoves bool
	// NoInstanceMoves forbids moves that change an instance's primary.
	NoInstanceMoves bool
	// RestrictedMigration: hbal --restricted-migration.
	RestrictedMigration bool
	// EvacMode only moves instances off offline (and drained) nodes.
	EvacMode bool
	// IgnoreSoftErrors accepts moves that break soft limits.
	IgnoreSoftErrors bool
	// Hbal turns ganetictl's additions off and balances exactly as hbal
	// does: one greedy step at a time, plain and file instances stay.
	Hbal bool
	// CopyMoveCost is what moving a plain or file instance by copying its
	// disks costs, in score units (0: DefaultCopyMoveCost); such a move
	// is taken only when it gains that much more than a migration would.
	CopyMoveCost float64
	// Lookahead is how many of the best first moves are tried two deep
	// when no single move pays (0: DefaultLookahead).
	Lookahead int
	// Thorough lets ganetictl's solution take every move that lowers
	// the score; by default a move beyond the count of hbal's solution
	// must gain ExtraMoveCost (0: DefaultExtraMoveCost).
	Thorough      bool
	ExtraMoveCost float64
}

// Defaults of BalanceOptions, as hbal's.
const (
	DefaultMinGain      = 0.01
	DefaultMinGainLimit = 0.1
	DefaultMinScore     = 1e-9
	// DefaultCopyMoveCost makes a disk copy worth ten minimal gains.
	DefaultCopyMoveCost = 0.1
	DefaultLookahead    = 6
	// DefaultExtraMoveCost: a move beyond hbal's count must gain five
	// minimal gains.
	DefaultExtraMoveCost = 0.05
)

// DefaultBalanceOptions are hbal's defaults.
func DefaultBalanceOptions() BalanceOptions {
	return BalanceOptions{MaxLength: -1, MinGain: DefaultMinGain, MinGainLimit: DefaultMinGainLimit, MinScore: DefaultMinScore}
}

// Placement is one move of a balancing solution.
type Placement struct {
	Instance int
	Move     Move
	// Pri and Sec are the instance's nodes after the move; OldPri and
	// OldSec before it.
	Pri, Sec, OldPri, OldSec int
	Score                    float64 // the cluster score after the move
}

// table is a state of the search: the nodes (immutable values, replaced
// by moves), the instances, and the score of the group's nodes.
type table struct {
	nodes []*Node
	insts []*Instance
	st    *stats
	score float64
	n1    int // online nodes failing N+1
	plc   []Placement
}

type balancer struct {
	c      *Cluster
	o      BalanceOptions
	scope  []int // the group's nodes
	online []int // the group's online nodes: targets
	inGrp  []bool
}

func (b *balancer) newTable(nodes []*Node, insts []*Instance) *table {
	t := &table{nodes: nodes, insts: insts}
	scoped := make([]*Node, len(b.scope))
	for i, n := range b.scope {
		scoped[i] = nodes[n]
	}
	t.st = newStats(scoped)
	t.score = t.st.score()
	for _, n := range b.online {
		if nodes[n].FailN1() {
			t.n1++
		}
	}
	return t
}

// candidate is a move found by a search step.
type candidate struct {
	inst  int
	mv    Move
	res   moved
	score float64 // real score after the move
	key   float64 // score plus the move's cost
	n1    int
	ok    bool
}

// better orders candidates by cost-adjusted score; among equals the
// earlier one stays (as hbal keeps the first).
func (a *candidate) better(b *candidate) bool {
	if !b.ok {
		return a.ok
	}
	if !a.ok {
		return false
	}
	return a.key < b.key-1e-12
}

func (b *balancer) victims(t *table) []int {
	var out []int
	for i, in := range t.insts {
		if !b.inGrp[in.Pri] || !in.AutoBalance {
			continue
		}
		if !in.Movable && !(b.copies() && in.Template.Mirror() == MirrorNone && !in.Pinned && !in.Forthcoming) {
			continue
		}
		if b.o.EvacMode {
			off := false
			for _, n := range in.nodes() {
				if t.nodes[n].Offline {
					off = true
				}
			}
			if !off {
				continue
			}
		}
		out = append(out, i)
	}
	return out
}

// evaluate scores a move of instance i in table t.
func (b *balancer) evaluate(t *table, i int, mv Move) candidate {
	in := t.insts[i]
	res, f := applyMove(b.o.IgnoreSoftErrors, t.nodes, i, in, mv)
	if !f.OK() {
		return candidate{}
	}
	var old, nw [3]*Node
	n1 := t.n1
	for k := 0; k < res.n; k++ {
		ch := res.ch[k]
		old[k], nw[k] = t.nodes[ch.idx], ch.node
		if !old[k].Offline {
			if old[k].FailN1() {
				n1--
			}
			if nw[k].FailN1() {
				n1++
			}
		}
	}
	sc := t.st.scoreWith(old[:res.n], nw[:res.n])
	key := sc
	if mv.Kind == CopyMove {
		key += b.copyCost()
	}
	return candidate{inst: i, mv: mv, res: res, score: sc, key: key, n1: n1, ok: true}
}

// copies says whether plain and file instances may move by disk copies.
func (b *balancer) copies() bool { return !b.o.Hbal && !b.o.NoDiskMoves && !b.o.NoInstanceMoves }

func (b *balancer) copyCost() float64 {
	if b.o.CopyMoveCost > 0 {
		return b.o.CopyMoveCost
	}
	return DefaultCopyMoveCost
}

// movesOf are the moves tried for instance i, in hbal's order: failover
// first, then each target node with its moves.
func (b *balancer) movesOf(t *table, i int, buf []Move) []Move {
	in := t.insts[i]
	buf = buf[:0]
	instMoves, diskMoves := !b.o.NoInstanceMoves, !b.o.NoDiskMoves
	mir := in.Template.Mirror()
	useSec := in.Sec >= 0 && b.inGrp[in.Sec] && !t.nodes[in.Sec].Offline && instMoves
	if mir == MirrorInternal && useSec {
		buf = append(buf, Move{Kind: Failover})
	}
	copyMoves := b.copies() && mir == MirrorNone
	primOff := t.nodes[in.Pri].Offline
	var kinds [4]MoveKind
	for _, n := range b.online {
		if n == in.Pri || n == in.Sec {
			continue
		}
		for _, k := range possibleMoves(kinds[:0], mir, useSec, instMoves, diskMoves, copyMoves, b.o.RestrictedMigration, primOff) {
			buf = append(buf, Move{Kind: k, Node: n})
		}
	}
	return buf
}

// best is the best move from t (ok false if no move is possible), and
// the best of those that leave fewer nodes failing N+1.
func (b *balancer) best(t *table, victims []int) (candidate, candidate) {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(victims)/4))
	chunks := make([]candidate, workers)
	fixers := make([]candidate, workers)
	var wg sync.WaitGroup
	per := (len(victims) + workers - 1) / max(1, workers)
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min(len(victims), (w+1)*per)
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			var best, fix candidate
			var buf []Move
			for _, i := range victims[lo:hi] {
				buf = b.movesOf(t, i, buf)
				for _, mv := range buf {
					c := b.evaluate(t, i, mv)
					if c.better(&best) {
						best = c
					}
					if c.ok && c.n1 < t.n1 && (!fix.ok || c.n1 < fix.n1 || (c.n1 == fix.n1 && c.better(&fix))) {
						fix = c
					}
				}
			}
			chunks[w], fixers[w] = best, fix
		}(w, lo, hi)
	}
	wg.Wait()
	var best, fix candidate
	for i := range chunks {
		if chunks[i].better(&best) {
			best = chunks[i]
		}
		c := fixers[i]
		if c.ok && (!fix.ok || c.n1 < fix.n1 || (c.n1 == fix.n1 && c.better(&fix))) {
			fix = c
		}
	}
	return best, fix
}

// topK are the k best moves from t, best first.
func (b *balancer) topK(t *table, victims []int, k int) []candidate {
	var all []candidate
	var buf []Move
	for _, i := range victims {
		buf = b.movesOf(t, i, buf)
		for _, mv := range buf {
			if c := b.evaluate(t, i, mv); c.ok {
				all = append(all, c)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].better(&all[j]) })
	if len(all) > k {
		all = all[:k]
	}
	return all
}

// apply makes the table after candidate c.
func (b *balancer) apply(t *table, c candidate) *table {
	nodes := slices.Clone(t.nodes)
	insts := slices.Clone(t.insts)
	in := t.insts[c.inst]
	old := make([]*Node, c.res.n)
	nw := make([]*Node, c.res.n)
	for k := 0; k < c.res.n; k++ {
		ch := c.res.ch[k]
		old[k], nw[k] = nodes[ch.idx], ch.node
		nodes[ch.idx] = ch.node
	}
	ni := c.res.inst
	insts[c.inst] = &ni
	_, _ = old, nw
	nt := &table{nodes: nodes, insts: insts, n1: c.n1}
	// Fresh sums, so that rounding does not pile up over many moves.
	scoped := make([]*Node, len(b.scope))
	for i, n := range b.scope {
		scoped[i] = nodes[n]
	}
	nt.st = newStats(scoped)
	nt.score = nt.st.score()
	nt.plc = append(slices.Clone(t.plc), Placement{Instance: c.inst, Move: c.mv, Pri: ni.Pri, Sec: ni.Sec,
		OldPri: in.Pri, OldSec: in.Sec, Score: c.score})
	return nt
}

func mapsClone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pays says whether going from score cur to next in steps moves is worth
// it, by hbal's rule (tryBalance) scaled to the number of moves.
func (b *balancer) pays(cur, next float64, steps int, curN1, nextN1 int) bool {
	if nextN1 < curN1 {
		return true
	}
	if nextN1 > curN1 || next >= cur-scoreEps {
		return false
	}
	return cur > b.o.MinGainLimit || cur-next >= float64(steps)*b.o.MinGain
}

func (b *balancer) room(t *table, steps int) bool {
	return b.o.MaxLength < 0 || len(t.plc)+steps <= b.o.MaxLength
}

// BalanceResult is a balancing solution for one group.
type BalanceResult struct {
	Group        string
	InitialScore float64
	FinalScore   float64
	// OptimalScore is the lowest score the group can reach (the failover
	// reserves cannot vanish).
	OptimalScore float64
	// Balanced: the score is already within MinScore of the optimum.
	Balanced bool
	// BadNodes and BadInstances fail N+1 before balancing.
	BadNodes, BadInstances []string
	// FinalBadNodes fail N+1 after it.
	FinalBadNodes []string
	Moves         []BalanceMove
	Initial       *Cluster
	Final         *Cluster
	// Compressed is how many moves merging an instance's moves saved.
	Compressed int
}

// Balance finds moves that lower the score of group g (hbal -G): hbal's
// greedy search (the best single move while one pays), then, unless
// o.Hbal, two moves deep where no single move pays, moves that fix N+1
// failures first, copies of plain and file instances where they pay
// their cost, and an instance's several moves merged into one.
func Balance(c *Cluster, g int, o BalanceOptions) (*BalanceResult, error) {
	if g < 0 || g >= len(c.Groups) {
		return nil, fmt.Errorf("no such node group")
	}
	if o.MinGain == 0 && o.MinGainLimit == 0 {
		d := DefaultBalanceOptions()
		o.MinGain, o.MinGainLimit = d.MinGain, d.MinGainLimit
	}
	if o.MinScore == 0 {
		o.MinScore = DefaultMinScore
	}
	b := &balancer{c: c, o: o, inGrp: make([]bool, len(c.Nodes))}
	for i, n := range c.Nodes {
		if n.Group == g {
			b.scope = append(b.scope, i)
			b.inGrp[i] = true
			if !n.Offline {
				b.online = append(b.online, i)
			}
		}
	}
	t := b.newTable(slices.Clone(c.Nodes), slices.Clone(c.Instances))
	res := &BalanceResult{Group: c.Groups[g].Name, InitialScore: t.score, Initial: c}
	scoped := make([]*Node, len(b.scope))
	for i, n := range b.scope {
		scoped[i] = c.Nodes[n]
	}
	res.InitialScore = Score(scoped)
	res.OptimalScore = OptimalScore(scoped)
	res.BadNodes, res.BadInstances = badItems(c, b.online, t)
	if res.InitialScore-res.OptimalScore < o.MinScore {
		res.Balanced = true
		res.FinalScore = res.InitialScore
		res.Final = c
		return res, nil
	}
	minScore := res.OptimalScore + o.MinScore
	plc, saved := b.search(t, minScore)
	res.Compressed = saved
	if !o.Hbal && !o.Thorough {
		plc, res.Compressed = b.withinHbal(c, t, minScore, plc, saved)
	}
	fin, err := b.replay(c, plc)
	if err != nil {
		return nil, err
	}
	res.Final = fin.cluster
	res.Moves = fin.moves
	finScoped := make([]*Node, len(b.scope))
	for i, n := range b.scope {
		finScoped[i] = fin.cluster.Nodes[n]
	}
	res.FinalScore = Score(finScoped)
	res.FinalBadNodes, _ = badItems(fin.cluster, b.online, nil)
	return res, nil
}

// search runs the balancing from t: hbal's greedy steps, and unless
// o.Hbal, N+1 fixes first and lookahead where no single move pays; the
// moves then merge where they can. It returns the placements and how
// many moves merging saved.
func (b *balancer) search(t *table, minScore float64) ([]Placement, int) {
	o := b.o
	for guard := 0; b.room(t, 1) && guard < 4*len(b.c.Instances)+16; guard++ {
		victims := b.victims(t)
		c1, fix := b.best(t, victims)
		if !o.Hbal && !fix.ok && o.EvacMode && t.n1 > 0 {
			// Evacuating may leave a node failing N+1 that only moving
			// another instance fixes.
			ev := b.o
			b.o.EvacMode = false
			_, fix = b.best(t, b.victims(t))
			b.o = ev
		}
		if !o.Hbal && fix.ok {
			// N+1 first: a node that could not take its failovers is a
			// risk the score only weighs.
			t = b.apply(t, fix)
			continue
		}
		if t.score <= minScore {
			break
		}
		if c1.ok && b.hbalPays(t, c1) {
			t = b.apply(t, c1)
			continue
		}
		if o.Hbal {
			break
		}
		if nt := b.lookahead(t, victims); nt != nil {
			t = nt
			continue
		}
		break
	}
	if o.Hbal {
		return t.plc, 0
	}
	return b.compress(b.c, t.plc)
}

// withinHbal keeps ganetictl's solution from costing moves that do not
// pay: it also runs hbal's own search (merged where moves merge), and of
// hbal's solution and each first k moves of ganetictl's takes the one of
// the lowest score plus ExtraMoveCost for each move beyond hbal's count
// (fewer moves on ties). So ganetictl ends no worse than hbal in no
// more moves, unless each further move gains ExtraMoveCost. A solution
// that leaves fewer nodes failing N+1 than hbal's wins regardless.
func (b *balancer) withinHbal(c *Cluster, t *table, minScore float64, ours []Placement, saved int) ([]Placement, int) {
	hb := &balancer{c: c, o: b.o, scope: b.scope, online: b.online, inGrp: b.inGrp}
	hb.o.Hbal = true
	hplc, _ := hb.search(t, minScore)
	hplc, hsaved := b.compress(c, hplc)
	hplc, ok := b.check(c, hplc)
	if !ok {
		return ours, saved
	}
	n1 := func(plc []Placement) int {
		tt := b.newTable(slices.Clone(c.Nodes), slices.Clone(c.Instances))
		for _, p := range plc {
			cand := b.evaluate(tt, p.Instance, p.Move)
			if !cand.ok {
				return len(b.online) + 1
			}
			tt = b.apply(tt, cand)
		}
		return tt.n1
	}
	hn1 := n1(hplc)
	if n1(ours) < hn1 {
		return ours, saved
	}
	cost := b.o.ExtraMoveCost
	if cost <= 0 {
		cost = DefaultExtraMoveCost
	}
	best, bestK := t.score, 0
	if len(hplc) > 0 {
		best = hplc[len(hplc)-1].Score
	}
	bestK = -1 // hbal's
	for k := 1; k <= len(ours); k++ {
		j := ours[k-1].Score + cost*float64(max(0, k-len(hplc)))
		if j < best-scoreEps {
			best, bestK = j, k
		}
	}
	switch {
	case bestK < 0:
		return hplc, hsaved
	case bestK < len(ours) && n1(ours[:bestK]) > hn1:
		return hplc, hsaved
	}
	return ours[:bestK], saved
}

// hbalPays is tryBalance's acceptance of a step.
func (b *balancer) hbalPays(t *table, c candidate) bool {
	return c.key < t.score-scoreEps && (t.score > b.o.MinGainLimit || t.score-c.key >= b.o.MinGain)
}

// scoreEps is below any gain worth a move and above rounding.
const scoreEps = 1e-9

// lookahead tries the best first moves two deep; it returns the table
// after the first pair that pays for both moves, nil if none does.
func (b *balancer) lookahead(t *table, victims []int) *table {
	if !b.room(t, 2) {
		return nil
	}
	k := b.o.Lookahead
	if k <= 0 {
		k = DefaultLookahead
	}
	var bestT *table
	for _, c1 := range b.topK(t, victims, k) {
		t1 := b.apply(t, c1)
		c2, _ := b.best(t1, b.victims(t1))
		if !c2.ok {
			continue
		}
		key := c2.key
		if c1.mv.Kind == CopyMove {
			key += b.copyCost()
		}
		if !b.pays(t.score, key, 2, t.n1, c2.n1) {
			continue
		}
		t2 := b.apply(t1, c2)
		if bestT == nil || t2.n1 < bestT.n1 || (t2.n1 == bestT.n1 && t2.score < bestT.score-1e-12) {
			bestT = t2
		}
	}
	return bestT
}

// badItems are the online nodes failing N+1 and their instances.
func badItems(c *Cluster, online []int, t *table) (nodes, insts []string) {
	ns := c.Nodes
	is := c.Instances
	if t != nil {
		ns, is = t.nodes, t.insts
	}
	seen := map[int]bool{}
	var idx []int
	for _, n := range online {
		if ns[n].FailN1() {
			nodes = append(nodes, ns[n].Name)
			for _, i := range append(slices.Clone(ns[n].Sec), ns[n].Pri...) {
				if !seen[i] {
					seen[i] = true
					idx = append(idx, i)
				}
			}
		}
	}
	sort.Ints(idx)
	for _, i := range idx {
		insts = append(insts, is[i].Name)
	}
	return nodes, insts
}
