package alloc

import (
	"fmt"
	"slices"
)

// Op is one operation of a move, as a job runs it.
type Op struct {
	// Kind is migrate, failover, replace-disks (new secondary Node) or
	// move (copy the disks to Node).
	Kind string `json:"op"`
	// Node is the target: the new secondary for replace-disks, the new
	// primary for a shared-storage migration and a move; "" for a drbd
	// migration or failover (to the secondary).
	Node string `json:"node,omitempty"`
}

// BalanceMove is one move of a solution, with the nodes it touches so
// that moves on disjoint nodes can run at once.
type BalanceMove struct {
	Instance     string   `json:"instance"`
	Code         string   `json:"move"` // hbal's: f, r:N, f r:N f, ...
	Kind         string   `json:"kind"`
	OldPrimary   string   `json:"old_primary"`
	OldSecondary string   `json:"old_secondary,omitempty"`
	Primary      string   `json:"primary"`
	Secondary    string   `json:"secondary,omitempty"`
	Score        float64  `json:"score"` // the cluster score after it
	Nodes        []string `json:"nodes"`
	// After are the moves (indices into the solution) that must be done
	// before this one: the last earlier move on each of its nodes.
	After []int `json:"after"`
	// Jobset is hbal's job set (1-based): the moves of a set touch
	// disjoint nodes and run in parallel; sets run one after another.
	Jobset int  `json:"jobset"`
	Ops    []Op `json:"ops"`
}

var kindNames = []string{"failover", "failover-to-any", "replace-primary", "replace-secondary", "replace-and-failover", "failover-and-replace", "copy"}

func (k MoveKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("move%d", int(k))
}

type replayed struct {
	cluster *Cluster
	moves   []BalanceMove
}

// replay applies plc to c and describes each move.
func (b *balancer) replay(c *Cluster, plc []Placement) (*replayed, error) {
	t := b.newTable(slices.Clone(c.Nodes), slices.Clone(c.Instances))
	out := &replayed{}
	lastOn := map[int]int{}
	var bufNodes []int
	jobset := 0
	for k, p := range plc {
		in := t.insts[p.Instance]
		cand := b.evaluate(t, p.Instance, p.Move)
		if !cand.ok {
			return nil, fmt.Errorf("internal error: move %d (%s of %s) no longer applies", k+1, p.Move.Kind, in.Name)
		}
		nt := b.apply(t, cand)
		ni := nt.insts[p.Instance]
		names := func(i int) string {
			if i < 0 || i >= len(t.nodes) {
				return ""
			}
			return t.nodes[i].Name
		}
		var touched []int
		for _, n := range []int{ni.Pri, ni.Sec, in.Pri, in.Sec} {
			if n >= 0 && n < len(t.nodes) && !slices.Contains(touched, n) {
				touched = append(touched, n)
			}
		}
		m := BalanceMove{Instance: in.Name, Code: p.Move.code(names(ni.Pri), names(ni.Sec)), Kind: p.Move.Kind.String(),
			OldPrimary: names(in.Pri), OldSecondary: names(in.Sec), Primary: names(ni.Pri), Score: cand.score,
			Nodes: c.nodeNames(touched), After: []int{}}
		if ni.Template == DRBD {
			m.Secondary = names(ni.Sec)
		} else {
			m.OldSecondary = ""
		}
		for _, n := range touched {
			if j, ok := lastOn[n]; ok && !slices.Contains(m.After, j) {
				m.After = append(m.After, j)
			}
		}
		slices.Sort(m.After)
		for _, n := range touched {
			lastOn[n] = k
		}
		disjoint := true
		for _, n := range touched {
			if slices.Contains(bufNodes, n) {
				disjoint = false
			}
		}
		if k == 0 || !disjoint {
			jobset++
			bufNodes = nil
		}
		bufNodes = append(bufNodes, touched...)
		m.Jobset = jobset
		m.Ops = opsOf(in, p.Move, names(ni.Pri), names(ni.Sec))
		out.moves = append(out.moves, m)
		t = nt
	}
	fin := *c
	fin.Nodes = t.nodes
	fin.Instances = t.insts
	out.cluster = &fin
	return out, nil
}

// opsOf are the operations that carry out a move (Ganeti's iMoveToJob):
// a running instance migrates, a stopped one fails over.
func opsOf(in *Instance, mv Move, pri, sec string) []Op {
	mig := Op{Kind: "failover"}
	if in.running() {
		mig.Kind = "migrate"
	}
	rep := func(n string) Op { return Op{Kind: "replace-disks", Node: n} }
	switch mv.Kind {
	case Failover:
		return []Op{mig}
	case FailoverToAny:
		return []Op{{Kind: mig.Kind, Node: pri}}
	case ReplacePrimary:
		return []Op{mig, rep(pri), mig}
	case ReplaceSecondary:
		return []Op{rep(sec)}
	case ReplaceAndFailover:
		return []Op{rep(pri), mig}
	case FailoverAndReplace:
		return []Op{mig, rep(sec)}
	case CopyMove:
		return []Op{{Kind: "move", Node: pri}}
	}
	return nil
}

// directMoves are the fewest moves that take an instance from (p0, s0)
// to (p1, s1).
func directMoves(t Template, p0, s0, p1, s1 int) []Move {
	if p0 == p1 && (s0 == s1 || t != DRBD) {
		return nil
	}
	switch t.Mirror() {
	case MirrorExternal:
		return []Move{{Kind: FailoverToAny, Node: p1}}
	case MirrorNone:
		return []Move{{Kind: CopyMove, Node: p1}}
	}
	switch {
	case p1 == s0 && s1 == p0:
		return []Move{{Kind: Failover}}
	case p1 == p0:
		return []Move{{Kind: ReplaceSecondary, Node: s1}}
	case p1 == s0:
		return []Move{{Kind: FailoverAndReplace, Node: s1}}
	case s1 == p0:
		return []Move{{Kind: ReplaceAndFailover, Node: p1}}
	case s1 == s0:
		return []Move{{Kind: ReplacePrimary, Node: p1}}
	}
	return []Move{{Kind: ReplaceSecondary, Node: p1}, {Kind: FailoverAndReplace, Node: s1}}
}

func (b *balancer) allowed(k MoveKind) bool {
	switch k {
	case Failover, FailoverToAny:
		return !b.o.NoInstanceMoves
	case ReplaceSecondary:
		return !b.o.NoDiskMoves
	case ReplacePrimary:
		return !b.o.NoDiskMoves && !b.o.NoInstanceMoves && !b.o.RestrictedMigration
	}
	return !b.o.NoDiskMoves && !b.o.NoInstanceMoves
}

// compress replaces an instance's several moves by the fewest that reach
// the same nodes, where the whole solution still applies in order: the
// final state is the same, with fewer moves. It returns the new
// placements and how many moves it saved.
func (b *balancer) compress(c *Cluster, plc []Placement) ([]Placement, int) {
	saved := 0
	for {
		changed := false
		seen := map[int]bool{}
		for _, p := range plc {
			i := p.Instance
			if seen[i] {
				continue
			}
			seen[i] = true
			var pos []int
			for k, q := range plc {
				if q.Instance == i {
					pos = append(pos, k)
				}
			}
			if len(pos) < 2 {
				continue
			}
			in := c.Instances[i]
			last := plc[pos[len(pos)-1]]
			direct := directMoves(in.Template, in.Pri, in.Sec, last.Pri, last.Sec)
			if len(direct) >= len(pos) || !all(direct, func(m Move) bool { return b.allowed(m.Kind) }) {
				continue
			}
			var np []Placement
			for k, q := range plc {
				if q.Instance == i && k != pos[len(pos)-1] {
					continue
				}
				if k == pos[len(pos)-1] {
					for _, m := range direct {
						np = append(np, Placement{Instance: i, Move: m})
					}
					continue
				}
				np = append(np, q)
			}
			if fixed, ok := b.check(c, np); ok {
				saved += len(plc) - len(fixed)
				plc = fixed
				changed = true
				break
			}
		}
		if !changed {
			return plc, saved
		}
	}
}

func all[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if !f(v) {
			return false
		}
	}
	return true
}

// check applies plc from c, filling in each placement's nodes and score;
// false if a move does not apply at its turn.
func (b *balancer) check(c *Cluster, plc []Placement) ([]Placement, bool) {
	t := b.newTable(slices.Clone(c.Nodes), slices.Clone(c.Instances))
	out := make([]Placement, 0, len(plc))
	for _, p := range plc {
		cand := b.evaluate(t, p.Instance, p.Move)
		if !cand.ok {
			return nil, false
		}
		t = b.apply(t, cand)
		out = append(out, t.plc[len(t.plc)-1])
	}
	return out, true
}
