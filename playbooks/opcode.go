package playbooks

import (
	"fmt"
	"sort"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// An opcode is defined once, beside its planner, as an Opcode value: its
// ID, the command people type for it, whose facts it needs, its planner and
// how a run of it cut off midway is settled. The CLI turns flags into the
// opcode's arguments and hands op.With(args) to the job engine
// (playbooks/job), which reads the rest from here. docs/adding-an-opcode.md
// walks through adding one.

// Needs says what a planner must know before it plans, gathered in one
// round trip per node.
type Needs struct {
	Nodes []string // whose facts (unknown or offline nodes are left out by the caller)
	Parts []string // which parts of them (Part*); nil means all
	// Probes are read-only commands whose results the planner reads in
	// Env.Probes, in this order (a hypervisor's view of a migration, say).
	Probes []plan.Step
}

// Request is one operation to plan and run. Opcode.With makes one; the
// desired-state planner makes its own.
type Request struct {
	ID plan.OpID
	// Label names the operation as people typed it ("instance migrate
	// web1"), for lock holders and the state history.
	Label string
	Needs func(st *statefile.State) Needs // nil: no facts
	Plan  func(env Env) (*plan.Plan, error)
	Init  bool // see Opcode.Init
}

// Undo says how a run of an opcode cut off midway (ganetictl killed) is
// rolled back by `job abort` and finished by `job resume`.
type Undo int

const (
	// UndoSteps: abort runs the undo of every step done, newest first;
	// resume re-runs the cut-off step after its undo. Abort is refused once
	// a step that removed something without an undo ran after something
	// was built (the only copy would go).
	UndoSteps Undo = iota
	// Irreversible: abort is always refused, resume finishes the job (a
	// removal: there is nothing to go back to).
	Irreversible
	// Settle: neither; the opcode's Settle request looks at the nodes and
	// settles the run (a migration: where the guest runs decides), and on
	// resume its Finish request completes what is left.
	Settle
)

// Opcode defines an opcode whose arguments are A.
type Opcode[A any] struct {
	ID      plan.OpID
	Command string         // as typed: "instance migrate"
	Subject func(A) string // the object the command names, for Label
	Needs   func(*statefile.State, A) Needs
	Plan    func(Env, A) (*plan.Plan, error)
	Undo    Undo
	// Init opcodes make the state: they are planned against a new, empty
	// state of a new lineage, and only when there is no state yet.
	Init bool
}

// With is the request to run the opcode with args a.
func (o *Opcode[A]) With(a A) Request {
	r := Request{ID: o.ID, Label: o.Command, Init: o.Init, Plan: func(env Env) (*plan.Plan, error) { return o.Plan(env, a) }}
	if o.Subject != nil {
		r.Label += " " + o.Subject(a)
	}
	if o.Needs != nil {
		r.Needs = func(st *statefile.State) Needs { return o.Needs(st, a) }
	}
	return r
}

// OpInfo is what the job engine knows of an opcode from its ID alone (a
// journaled plan names only its Op).
type OpInfo struct {
	ID      plan.OpID
	Command string
	Undo    Undo
	// Settle and Finish, for Undo == Settle: the request that settles a
	// cut-off run of p from what the nodes say, and the request that
	// completes it afterwards, if st (the state after settling) shows it
	// is not done.
	Settle func(p *plan.Plan) Request
	Finish func(p *plan.Plan, st *statefile.State) (Request, bool)
}

var opcodes = map[plan.OpID]*OpInfo{}

// define registers o; every Opcode is a package variable made by define,
// so the registry is complete before main runs. An ID may be defined more
// than once (Ganeti's INSTANCE_SET_PARAMS also converts disk templates,
// INSTANCE_CREATE also imports) if it is undone the same way: the
// journal knows a plan only by its Op.
func define[A any](o *Opcode[A]) *Opcode[A] {
	if prev, dup := opcodes[o.ID]; dup {
		if prev.Undo != o.Undo {
			panic(fmt.Sprintf("opcode %s defined twice, undone differently", o.ID))
		}
		return o
	}
	opcodes[o.ID] = &OpInfo{ID: o.ID, Command: o.Command, Undo: o.Undo}
	return o
}

// Lookup returns what is known of opcode id.
func Lookup(id plan.OpID) (OpInfo, bool) {
	info, ok := opcodes[id]
	if !ok {
		return OpInfo{ID: id}, false
	}
	return *info, true
}

// Opcodes lists the defined opcodes by ID.
func Opcodes() []OpInfo {
	out := make([]OpInfo, 0, len(opcodes))
	for _, o := range opcodes {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Probe is the result of one of Needs.Probes.
type Probe struct {
	Node   string
	Stdout []byte
	Err    error
}

// onlineOf keeps the named nodes that exist and are not offline, once
// each, in order: the nodes whose facts can be asked.
func onlineOf(st *statefile.State, names ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if node := st.Nodes[n]; node != nil && !node.Offline && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// InstanceNodes are the nodes of instance name (primary first) and the
// extra ones given, that can answer.
func InstanceNodes(st *statefile.State, name string, extra ...string) []string {
	i, ok := st.Instances[name]
	if !ok {
		return onlineOf(st, extra...)
	}
	return onlineOf(st, append(append([]string{i.PrimaryNode}, i.SecondaryNodes()...), extra...)...)
}

// allOnline are every node that is not offline, sorted.
func allOnline(st *statefile.State) []string {
	return onlineOf(st, sortedNodes(st)...)
}
