package alloc

import "fmt"

// MoveKind is one way of moving an instance, as hbal names them, plus
// the disk copy ganetictl can do for instances without a mirror.
type MoveKind int

const (
	// Failover swaps a drbd instance's primary and secondary (f).
	Failover MoveKind = iota
	// FailoverToAny moves a shared-storage instance to another node (fa:N).
	FailoverToAny
	// ReplacePrimary: failover, new secondary N, failover (f r:N f).
	ReplacePrimary
	// ReplaceSecondary gives a drbd instance a new secondary N (r:N).
	ReplaceSecondary
	// ReplaceAndFailover: new secondary N, then failover to it (r:N f).
	ReplaceAndFailover
	// FailoverAndReplace: failover, then new secondary N (f r:N).
	FailoverAndReplace
	// CopyMove copies a plain or file instance's disks to N (instance
	// move): hbal never moves these; ganetictl does when it pays more
	// than the copy costs.
	CopyMove
)

// Move is one move of an instance: its kind and target node.
type Move struct {
	Kind MoveKind
	Node int // target; unused for Failover
}

// Code is hbal's short form of a move ("f", "r:node2", "f r:node2 f").
func (m Move) code(newPri, newSec string) string {
	switch m.Kind {
	case Failover:
		return "f"
	case FailoverToAny:
		return "fa:" + newPri
	case ReplacePrimary:
		return "f r:" + newPri + " f"
	case ReplaceSecondary:
		return "r:" + newSec
	case ReplaceAndFailover:
		return "r:" + newPri + " f"
	case FailoverAndReplace:
		return "f r:" + newSec
	case CopyMove:
		return "m:" + newPri
	}
	return fmt.Sprintf("?%d", m.Kind)
}

// change is a node replaced by a move.
type change struct {
	idx  int
	node *Node
}

// moved is what a move leaves: the changed nodes and the instance.
type moved struct {
	n    int
	ch   [3]change
	inst Instance
}

func (m *moved) set(idx int, n *Node) {
	for i := 0; i < m.n; i++ {
		if m.ch[i].idx == idx {
			m.ch[i].node = n
			return
		}
	}
	m.ch[m.n] = change{idx, n}
	m.n++
}

// locScoreFor is the instance's location score on primary p, secondary s.
func locScoreFor(p, s *Node) int { return commonCount(p.LocTags, s.LocTags) }

// applyMove tries a move of instance idx over nodes; force ignores soft
// failures. It leaves nodes and in unchanged.
func applyMove(force bool, nodes []*Node, idx int, in *Instance, mv Move) (moved, Failure) {
	var r moved
	opdx, osdx := in.Pri, in.Sec
	oldP := nodes[opdx]
	var oldS *Node
	if osdx >= 0 {
		oldS = nodes[osdx]
	}
	ni := *in
	var f Failure
	switch mv.Kind {
	case Failover:
		if oldS == nil {
			return r, fail(FailInternal, rNotMirrored, 0, 0)
		}
		intP, intS := oldP.removePri(idx, in), oldS.removeSec(idx, in)
		if f = checkMigration(oldP, oldS); !f.OK() {
			return r, f
		}
		newP, f := intS.addPri(oldP.Offline || force, idx, in)
		if !f.OK() {
			return r, f
		}
		newS, f := intP.addSec(oldP.Offline, oldP.Offline || force, idx, in, osdx)
		if !f.OK() {
			return r, f
		}
		ni.Pri, ni.Sec = osdx, opdx
		r.set(opdx, newS)
		r.set(osdx, newP)
	case FailoverToAny, CopyMove:
		tgt := nodes[mv.Node]
		if mv.Kind == FailoverToAny {
			if f = checkMigration(oldP, tgt); !f.OK() {
				return r, f
			}
		}
		newP, f := tgt.addPri(oldP.Offline || force, idx, in)
		if !f.OK() {
			return r, f
		}
		ni.Pri = mv.Node
		r.set(opdx, oldP.removePri(idx, in))
		r.set(mv.Node, newP)
	case ReplacePrimary:
		tgt := nodes[mv.Node]
		intP, intS := oldP.removePri(idx, in), oldS.removeSec(idx, in)
		ni.LocScore = locScoreFor(tgt, intS)
		ni.Pri = mv.Node
		forceP := oldP.Offline || force
		if f = checkMigration(oldP, oldS); !f.OK() {
			return r, f
		}
		if f = checkMigration(oldS, tgt); !f.OK() {
			return r, f
		}
		tmpS, f := intS.addPri(forceP, idx, &ni)
		if !f.OK() {
			return r, f
		}
		tmpS = tmpS.removePri(idx, &ni)
		newP, f := tgt.addPri(forceP, idx, &ni)
		if !f.OK() {
			return r, f
		}
		newS, f := tmpS.addSec(false, forceP, idx, &ni, mv.Node)
		if !f.OK() {
			return r, f
		}
		r.set(mv.Node, newP)
		r.set(opdx, intP)
		r.set(osdx, newS)
	case ReplaceSecondary:
		tgt := nodes[mv.Node]
		pnode := oldP.removePri(idx, in)
		intS := oldS.removeSec(idx, in)
		forceS := oldS.Offline || force
		ni.LocScore = locScoreFor(oldP, tgt)
		ni.Sec = mv.Node
		newS, f := tgt.addSec(false, forceS, idx, &ni, opdx)
		if !f.OK() {
			return r, f
		}
		pnode, f = pnode.addPri(true, idx, &ni)
		if !f.OK() {
			return r, f
		}
		r.set(opdx, pnode)
		r.set(mv.Node, newS)
		r.set(osdx, intS)
	case ReplaceAndFailover:
		tgt := nodes[mv.Node]
		intP, intS := oldP.removePri(idx, in), oldS.removeSec(idx, in)
		ni.LocScore = locScoreFor(tgt, intP)
		ni.Pri, ni.Sec = mv.Node, opdx
		forceS := oldS.Offline || force
		if f = checkMigration(oldP, tgt); !f.OK() {
			return r, f
		}
		newP, f := tgt.addPri(force, idx, &ni)
		if !f.OK() {
			return r, f
		}
		newS, f := intP.addSec(false, forceS, idx, &ni, mv.Node)
		if !f.OK() {
			return r, f
		}
		r.set(mv.Node, newP)
		r.set(opdx, newS)
		r.set(osdx, intS)
	case FailoverAndReplace:
		tgt := nodes[mv.Node]
		intP, intS := oldP.removePri(idx, in), oldS.removeSec(idx, in)
		forceP := oldP.Offline || force
		ni.LocScore = locScoreFor(intS, tgt)
		ni.Pri, ni.Sec = osdx, mv.Node
		if f = checkMigration(oldP, oldS); !f.OK() {
			return r, f
		}
		newP, f := intS.addPri(forceP, idx, &ni)
		if !f.OK() {
			return r, f
		}
		newS, f := tgt.addSec(false, forceP, idx, &ni, osdx)
		if !f.OK() {
			return r, f
		}
		r.set(mv.Node, newS)
		r.set(osdx, newP)
		r.set(opdx, intP)
	default:
		return r, fail(FailInternal, rNone, 0, 0)
	}
	r.inst = ni
	return r, Failure{}
}

// possibleMoves are the moves hbal tries for an instance towards tdx
// (Cluster.hs possibleMoves), plus copies where ganetictl allows them.
func possibleMoves(out []MoveKind, mir Mirror, useSecondary, instMoves, diskMoves, copyMoves, restMig, primaryOffline bool) []MoveKind {
	switch mir {
	case MirrorNone:
		if copyMoves && instMoves && diskMoves {
			return append(out, CopyMove)
		}
		return out
	case MirrorExternal:
		if !instMoves {
			return out
		}
		return append(out, FailoverToAny)
	}
	switch {
	case !diskMoves:
		return out
	case !instMoves:
		return append(out, ReplaceSecondary)
	case restMig && !primaryOffline:
		return append(out, ReplaceSecondary)
	case useSecondary && !restMig:
		return append(out, ReplaceSecondary, ReplaceAndFailover, ReplacePrimary, FailoverAndReplace)
	case useSecondary:
		return append(out, ReplaceSecondary, ReplaceAndFailover, FailoverAndReplace)
	}
	return append(out, ReplaceSecondary, ReplaceAndFailover)
}
