// Package playbooks turns admin operations (Ganeti opcodes) into plans. Every
// planner is a pure function of the state, the node facts gathered before
// and the operation's arguments: no SSH, no clock, no randomness (new UUIDs
// come from Env.NewID). Each refuses bad input before a plan exists, so that
// nothing on a node is touched by an operation that cannot succeed.
package playbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// Env is what every planner gets besides its own arguments.
type Env struct {
	State *statefile.State      // the current state (read under the lock)
	Facts map[string]*NodeFacts // facts gathered for this operation, by node
	NewID func() string         // UUID source
	// Random returns n random bytes (MAC addresses, DRBD secrets).
	Random func(n int) []byte
	// DRBDStatusFile is where nodes show DRBD status (the inventory's
	// drbd_status_file); "" means /proc/drbd.
	DRBDStatusFile string
	// Probes are the results of the request's Needs.Probes, in order.
	Probes []Probe
	// Helper gives this ganetictl's copy helper for a node architecture
	// (amd64, arm64): where it goes on a node and its SHA-256.
	Helper func(arch string) (Helper, error)
	// NewIdentity makes one ephemeral TLS identity per transfer end
	// (transfer.NewIdentity); the private keys become plan secrets.
	NewIdentity func() (*transfer.Identity, error)
}

// PrereqError is an operation refused before anything was done: Ganeti's
// OpPrereqError, with its error type (unknown_entity, wrong_input,
// wrong_state, already_exists, environment_error).
type PrereqError struct {
	Type string
	Msg  string
}

func (e *PrereqError) Error() string { return e.Msg }

// ErrorType lets the view print Ganeti's "error type: ..." line.
func (e *PrereqError) ErrorType() string { return e.Type }

func prereq(typ, format string, a ...any) error {
	return &PrereqError{Type: typ, Msg: fmt.Sprintf(format, a...)}
}

// Error types of PrereqError, as Ganeti names them.
const (
	ErrUnknownEntity = "unknown_entity"
	ErrWrongInput    = "wrong_input"
	ErrWrongState    = "wrong_state"
	ErrExists        = "already_exists"
	ErrEnvironment   = "environment_error"
)

// masterCandidates lists candidate node names in the given state, sorted.
func masterCandidates(st *statefile.State) []string {
	var out []string
	for _, n := range st.Nodes {
		if n.MasterCandidate && !n.Offline {
			out = append(out, n.Name)
		}
	}
	sort.Strings(out)
	return out
}

// node finds a node by name, accepting a unique short-name match, as Ganeti
// expands names.
func node(st *statefile.State, name string) (*statefile.Node, error) {
	if n, ok := st.Nodes[name]; ok {
		return n, nil
	}
	var hits []*statefile.Node
	for _, n := range st.Nodes {
		if strings.HasPrefix(n.Name, name+".") {
			hits = append(hits, n)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return nil, prereq(ErrUnknownEntity, "Node '%s' not known", name)
}

func cloneNode(n *statefile.Node) *statefile.Node {
	c := *n
	c.Tags = cloneTags(n.Tags)
	return &c
}

// replicaSteps removes the state copy from nodes that stop being candidates.
func dropReplica(node string) plan.Step {
	return plan.Step{Node: node, Action: plan.Remove, Desc: "remove the state copy (no longer a master candidate)",
		Argv: []string{"rm", "-f", StateReplicaPath}}
}
