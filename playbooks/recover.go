package playbooks

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Recovery rebuilds the controller's state from what the nodes hold (see
// Recover). It never runs a mutating node command: its plan only changes
// the state, and the caller writes and replicates it.
//
// recover_copy.go chooses the copy, recover_evidence.go reads what the
// nodes show (from their facts and recover_probe.go's probe),
// recover_reconcile.go corrects a copy against it and recover_rebuild.go
// builds the state from the nodes alone when there is no copy.

// Kinds of RecoverNote.
const (
	NoteSource    = "source"    // where the state (or a part) was taken from
	NoteFixed     = "fixed"     // the state was changed to match the nodes
	NoteGuessed   = "guessed"   // a value that reality does not show was chosen
	NoteAmbiguous = "ambiguous" // reality contradicts itself; nothing was changed
	NoteMissing   = "missing"   // the state has it, the nodes do not
	NoteUnknown   = "unknown"   // the nodes have it, the state does not and cannot
	NoteInfo      = "info"
)

// RecoverNote is one line of the reconciliation report.
type RecoverNote struct {
	Kind    string `json:"kind"`
	Object  string `json:"object"`
	Message string `json:"message"`
}

// InventoryNode is a node as the inventory describes it.
type InventoryNode struct {
	Name, Address, SecondaryAddress string
}

// RecoverInput is everything Recover works from.
type RecoverInput struct {
	// Copies are the readable state copies (nodes' and the workstation's).
	Copies []StateCopy
	// Lineage chooses between copies of different lineages (--lineage).
	Lineage string
	// Inventory lists the nodes to look at, in the inventory's order.
	Inventory []InventoryNode
	Facts     map[string]*NodeFacts // every inventory node's facts
	Probes    map[string]*NodeProbe // every reachable node's probe
	// Skeleton is what `cluster init` would write (cluster, node group,
	// master node): the base of a state rebuilt from the nodes alone.
	Skeleton *statefile.State
	NewID    func() string
	Random   func(n int) []byte
}

// Recovered is Recover's result.
type Recovered struct {
	// Source is "copy" (a node's replica or the workstation's state,
	// reconciled) or "nodes" (rebuilt from the nodes alone).
	Source string `json:"source"`
	// From is the copy's holder (a node or WorkstationSource).
	From    string `json:"from,omitempty"`
	Lineage string `json:"lineage"`
	// Serial is the serial of the copy taken (0 when rebuilt).
	Serial int64 `json:"serial"`
	// Base is the copy taken (nil when rebuilt), State the result.
	Base  *statefile.State `json:"-"`
	State *statefile.State `json:"-"`
	Notes []RecoverNote    `json:"notes"`
	Plan  *plan.Plan       `json:"-"` // holds secrets: show it through the view

}

// Ambiguous counts the notes a person should look at.
func (r *Recovered) Ambiguous() int {
	n := 0
	for _, x := range r.Notes {
		if x.Kind == NoteAmbiguous || x.Kind == NoteMissing || x.Kind == NoteUnknown {
			n++
		}
	}
	return n
}

// Recover rebuilds the state: from the newest copy reconciled against the
// nodes' facts, or, with no copy, from the nodes alone.
func Recover(in RecoverInput) (*Recovered, error) {
	best, notes, err := NewestCopy(in.Copies, in.Lineage)
	if err != nil {
		return nil, err
	}
	r := &Recovered{Notes: notes}
	var st *statefile.State
	ev := collectEvidence(in)
	r.Notes = append(r.Notes, ev.problems...)
	if best != nil {
		r.Source, r.From, r.Serial, r.Lineage, r.Base = "copy", best.Node, best.State.Serial, best.State.Lineage, best.State
		r.note(NoteSource, "state", "taken from %s (lineage %s, serial %d)", best.Node, best.State.Lineage, best.State.Serial)
		st = best.State.Clone()
		reconcile(r, st, in, ev)
	} else {
		if in.Skeleton == nil {
			return nil, prereq(ErrWrongInput, "no state copy found on any node, and nothing to rebuild the cluster object from")
		}
		st = in.Skeleton.Clone()
		r.Source, r.Lineage = "nodes", st.Lineage
		r.note(NoteSource, "state", "no state copy found on any node: rebuilt from the nodes, new lineage %s", st.Lineage)
		r.note(NoteGuessed, "cluster", "cluster parameters from the inventory (as cluster init sets them); master %s", st.Cluster.MasterNode)
		rebuildNodes(r, st, in, ev)
		for _, name := range ev.names() {
			addEvidenced(r, st, in, ev, name)
		}
		enableUsed(r, st)
	}
	r.State = st
	base := r.Base
	if base == nil {
		base = statefile.New(st.Lineage)
	}
	p, err := statePlan(base, st)
	if err != nil {
		return nil, err
	}
	for _, n := range r.Notes {
		if n.Kind == NoteAmbiguous || n.Kind == NoteMissing || n.Kind == NoteUnknown {
			p.Warnings = append(p.Warnings, n.Object+": "+n.Message)
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	r.Plan = p
	return r, nil
}

func (r *Recovered) note(kind, object, format string, a ...any) {
	r.Notes = append(r.Notes, RecoverNote{Kind: kind, Object: object, Message: fmt.Sprintf(format, a...)})
}

// statePlan describes the difference between two states as plan changes.
func statePlan(base, st *statefile.State) (*plan.Plan, error) {
	p := plan.New(plan.ClusterOp(OpClusterRecover), base.Lineage, base.Serial)
	var before any
	if base.Cluster.Name != "" {
		before = &base.Cluster
	}
	if err := p.Set(plan.KindCluster, st.Cluster.Name, before, &st.Cluster); err != nil {
		return nil, err
	}
	if err := diffMap(p, plan.KindNodeGroup, base.NodeGroups, st.NodeGroups); err != nil {
		return nil, err
	}
	if err := diffMap(p, plan.KindNode, base.Nodes, st.Nodes); err != nil {
		return nil, err
	}
	if err := diffMap(p, plan.KindInstance, base.Instances, st.Instances); err != nil {
		return nil, err
	}
	return p, diffMap(p, plan.KindNetwork, base.Networks, st.Networks)
}

func diffMap[T any](p *plan.Plan, kind string, before, after map[string]*T) error {
	for _, name := range slices.Sorted(maps.Keys(after)) {
		var b any
		if old, ok := before[name]; ok {
			b = old
		}
		if err := p.Set(kind, name, b, after[name]); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[name]; !ok {
			if err := p.Delete(kind, name, before[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// reachable are the inventory nodes (and state nodes) that answered.
func reachable(in RecoverInput, node string) bool {
	f := in.Facts[node]
	return f != nil && f.Reachable
}
