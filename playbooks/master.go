package playbooks

import (
	"fmt"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// MasterFailoverArgs are master-failover's inputs besides the state.
type MasterFailoverArgs struct {
	Target string // the candidate that becomes master
	// NoVoting skips the check that a majority of the master candidates
	// agree on who the master is (for when most of them are down).
	NoVoting bool
	// Copies are the candidates' state copies that could be read;
	// Unreachable the candidates that did not answer (node -> why).
	Copies      []StateCopy
	Unreachable map[string]string
}

// StaleCopyError refuses to promote a candidate whose state copy is older
// than another one (Ganeti issue #1242: a master with a stale config).
type StaleCopyError struct {
	Node          string
	Serial        int64 // the node's copy; 0 when it has none
	NewerNode     string
	NewerSerial   int64
	WorkstationIs bool // the newer copy is the workstation's state
}

func (e *StaleCopyError) Error() string {
	have := fmt.Sprintf("serial %d", e.Serial)
	if e.Serial == 0 {
		have = "no copy"
	}
	newer := fmt.Sprintf("node %s holds serial %d", e.NewerNode, e.NewerSerial)
	if e.WorkstationIs {
		newer = fmt.Sprintf("the workstation's state is serial %d", e.NewerSerial)
	}
	return fmt.Sprintf("refusing to make %s the master: its state copy is stale (%s), %s; "+
		"run `ganetictl cluster redist-conf` to bring the candidates up to date, then retry", e.Node, have, newer)
}

// ErrorType makes StaleCopyError a wrong_state prerequisite failure.
func (e *StaleCopyError) ErrorType() string { return ErrWrongState }

// OlderStateError says the workstation's state is behind a candidate's copy.
type OlderStateError struct {
	Serial      int64
	NewerNode   string
	NewerSerial int64
}

func (e *OlderStateError) Error() string {
	return fmt.Sprintf("the workstation's state (serial %d) is older than node %s's copy (serial %d): "+
		"run `ganetictl state pull` first", e.Serial, e.NewerNode, e.NewerSerial)
}

// ErrorType makes OlderStateError a wrong_state prerequisite failure.
func (e *OlderStateError) ErrorType() string { return ErrWrongState }

// MasterFailoverOp is gnt-cluster master-failover: it reads every master
// candidate's copy of the state (the recovery probe) before planning.
var MasterFailoverOp = define(&Opcode[MasterFailoverArgs]{
	ID: OpClusterMasterFailover, Command: "cluster master-failover",
	Subject: func(a MasterFailoverArgs) string { return a.Target },
	Needs: func(st *statefile.State, a MasterFailoverArgs) Needs {
		var n Needs
		for _, c := range masterCandidates(st) {
			n.Probes = append(n.Probes, RecoverProbeStep(c))
		}
		return n
	},
	Plan: func(env Env, a MasterFailoverArgs) (*plan.Plan, error) {
		a.Copies, a.Unreachable = readCopies(env.Probes)
		return MasterFailover(env, a)
	},
})

// readCopies are the state copies among recovery probes, and the nodes
// that did not answer or whose copy is unreadable (node -> why).
func readCopies(probes []Probe) ([]StateCopy, map[string]string) {
	var copies []StateCopy
	bad := map[string]string{}
	for _, pr := range probes {
		if pr.Err != nil {
			bad[pr.Node] = pr.Err.Error()
			continue
		}
		np, err := ParseProbe(pr.Node, pr.Stdout)
		if err != nil {
			bad[pr.Node] = err.Error()
			continue
		}
		if np.Copy == nil {
			continue
		}
		c, err := ParseCopy(pr.Node, np.Copy)
		if err != nil {
			bad[pr.Node] = err.Error()
			continue
		}
		copies = append(copies, c)
	}
	return copies, bad
}

// MasterFailover plans making a.Target the master (gnt-cluster
// master-failover). With no daemon, the master is the state's role; the
// checks are Ganeti's: the target must be a master candidate, its copy of
// the configuration must be the newest (so a stale node never becomes
// master), and unless NoVoting a majority of the candidates must agree on
// the current master.
func MasterFailover(env Env, a MasterFailoverArgs) (*plan.Plan, error) {
	st := env.State
	cands := masterCandidates(st)
	if a.Target == "" {
		// Ganeti runs master-failover on the new master; here the
		// candidate holding the newest copy is chosen.
		best := int64(-1)
		for _, c := range a.Copies {
			node := st.Nodes[c.Node]
			if c.Node == st.Cluster.MasterNode || c.State.Lineage != st.Lineage || node == nil || node.Drained || !node.MasterCapable {
				continue
			}
			if c.State.Serial > best || c.State.Serial == best && c.Node < a.Target {
				a.Target, best = c.Node, c.State.Serial
			}
		}
		if a.Target == "" {
			return nil, prereq(ErrWrongState, "no master candidate answered with a copy of the state; name the new master (candidates: %s)",
				strings.Join(others(cands, st.Cluster.MasterNode), ", "))
		}
	}
	n, err := node(st, a.Target)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Name == st.Cluster.MasterNode:
		return nil, prereq(ErrWrongInput, "%s is already the master", n.Name)
	case !n.MasterCandidate || n.Offline:
		return nil, prereq(ErrWrongInput, "%s is not a master candidate; the master candidates are: %s", n.Name, strings.Join(others(cands, st.Cluster.MasterNode), ", "))
	case n.Drained || !n.MasterCapable:
		return nil, prereq(ErrWrongState, "%s is drained or not master capable", n.Name)
	}
	if why, ok := a.Unreachable[n.Name]; ok {
		return nil, prereq(ErrEnvironment, "%s is not reachable: %s", n.Name, why)
	}
	// The newest copy of this lineage, and the target's.
	var newest *StateCopy
	var target *StateCopy
	for i := range a.Copies {
		c := &a.Copies[i]
		if c.State.Lineage != st.Lineage {
			continue
		}
		if newest == nil || c.State.Serial > newest.State.Serial {
			newest = c
		}
		if c.Node == n.Name {
			target = c
		}
	}
	if newest != nil && newest.State.Serial > st.Serial {
		return nil, &OlderStateError{Serial: st.Serial, NewerNode: newest.Node, NewerSerial: newest.State.Serial}
	}
	if target == nil || target.State.Serial < st.Serial {
		e := &StaleCopyError{Node: n.Name, NewerSerial: st.Serial, WorkstationIs: true}
		if target != nil {
			e.Serial = target.State.Serial
		}
		if newest != nil && newest.State.Serial == st.Serial && newest.Node != n.Name {
			e.NewerNode, e.WorkstationIs = newest.Node, false
		}
		return nil, e
	}
	if !a.NoVoting {
		agree, answered := 0, 0
		for _, c := range a.Copies {
			if c.State.Lineage != st.Lineage {
				continue
			}
			answered++
			if c.State.Cluster.MasterNode == st.Cluster.MasterNode {
				agree++
			}
		}
		if agree*2 <= len(cands) {
			return nil, prereq(ErrWrongState, "cannot obtain a majority of the master candidates: %d of %d answered, %d agree that %s is the master; "+
				"if the others are really down, use --no-voting", answered, len(cands), agree, st.Cluster.MasterNode)
		}
	}
	cl := cloneCluster(&st.Cluster)
	old := cl.MasterNode
	cl.MasterNode = n.Name
	p := plan.New(plan.ClusterOp(OpClusterMasterFailover, n.Name), st.Lineage, st.Serial)
	if err := p.Set(plan.KindCluster, cl.Name, &st.Cluster, cl); err != nil {
		return nil, err
	}
	if _, down := a.Unreachable[old]; down {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the old master %s is not reachable; it keeps a copy of serial %d until it is back (then run `cluster redist-conf`)", old, st.Serial))
	}
	for _, c := range cands {
		if _, down := a.Unreachable[c]; !down {
			ReplicateTo(p, c)
		}
	}
	return p, nil
}

func others(names []string, but string) []string {
	var out []string
	for _, n := range names {
		if n != but {
			out = append(out, n)
		}
	}
	return out
}

// PullArgs are state pull's inputs.
type PullArgs struct {
	Local   *statefile.State // the workstation's state, nil when none
	Copies  []StateCopy      // the nodes' copies
	Lineage string           // --lineage: choose among lineages
	Force   bool             // take the newest copy whatever the local state is
}

// PullChoice picks the copy state pull installs: the newest of the local
// state's lineage (or of the only lineage, or of --lineage). It returns nil
// when the local state is already that copy. It refuses an older serial, a
// different lineage, or a different copy of the same serial, unless Force.
func PullChoice(a PullArgs) (*StateCopy, []RecoverNote, error) {
	lineage := a.Lineage
	if lineage == "" && a.Local != nil && !a.Force {
		lineage = a.Local.Lineage
	}
	best, notes, err := NewestCopy(a.Copies, lineage)
	if err != nil {
		return nil, nil, err
	}
	if best == nil {
		return nil, nil, prereq(ErrEnvironment, "no node holds a state copy")
	}
	if a.Local == nil || a.Force {
		return best, notes, nil
	}
	loc := a.Local
	switch {
	case best.State.Lineage != loc.Lineage:
		return nil, nil, prereq(ErrWrongState, "node %s's copy is of lineage %s, the local state of %s; use --force to replace the local state", best.Node, best.State.Lineage, loc.Lineage)
	case best.State.Serial < loc.Serial:
		return nil, nil, prereq(ErrWrongState, "the newest copy (node %s, serial %d) is older than the local state (serial %d); use --force to go back to it", best.Node, best.State.Serial, loc.Serial)
	case best.State.Serial == loc.Serial && statefile.Equal(best.State, loc):
		return nil, notes, nil
	case best.State.Serial == loc.Serial:
		return nil, nil, prereq(ErrWrongState, "node %s's copy has the local state's serial %d but other content (a split brain); use --force to take the node's", best.Node, loc.Serial)
	}
	return best, notes, nil
}
