package playbooks

import (
	"slices"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// sharedTemplates are those whose disks every node can open.
var sharedTemplates = []string{"sharedfile", "rbd"}

// FailoverArgs are `instance failover`'s inputs.
type FailoverArgs struct {
	Name              string
	Target            string // -n: for shared storage; drbd fails over to its secondary
	IgnoreConsistency bool
	ShutdownTimeout   time.Duration
	// CrossGroup lets the target be in another node group (instance
	// change-group, group evacuate).
	CrossGroup bool
}

// InstanceFailoverOp is gnt-instance failover.
var InstanceFailoverOp = define(&Opcode[FailoverArgs]{
	ID: OpInstanceFailover, Command: "instance failover",
	Subject: func(a FailoverArgs) string { return a.Name },
	Needs:   func(st *statefile.State, a FailoverArgs) Needs { return moveNeeds(st, a.Name, a.Target) },
	Plan:    Failover,
})

// moveNeeds are the facts of an instance's nodes and of a target for a
// move between them: what runs there and the DRBD status.
func moveNeeds(st *statefile.State, name, target string) Needs {
	return allocCandidates(st, name, target, Needs{Nodes: InstanceNodes(st, name, target), Parts: []string{PartRunning, PartDRBD}})
}

// Failover plans moving an instance to another node by stopping it on the
// primary and starting it on the target (reference §11.2). With the primary
// unreachable (dead), the stop is skipped, which needs IgnoreConsistency.
func Failover(env Env, a FailoverArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, a.Name)
	if err != nil {
		return nil, err
	}
	chose, err := pickTarget(env, inst, &a.Target) // instance_alloc.go
	if err != nil {
		return nil, err
	}
	target, err := moveTarget(st, inst, a.Target, "failovers", a.CrossGroup)
	if err != nil {
		return nil, err
	}
	pf := env.Facts[inst.PrimaryNode]
	primaryDown := st.Nodes[inst.PrimaryNode].Offline || pf == nil || !pf.Reachable
	if primaryDown && !a.IgnoreConsistency {
		return nil, prereq(ErrWrongState, "Primary node %s is not reachable (%s); if it is really down, fail over with --ignore-consistency", inst.PrimaryNode, factsErr(pf))
	}
	tf := env.Facts[target]
	if tf == nil || !tf.Reachable {
		return nil, prereq(ErrEnvironment, "Target node %s is not reachable: %s", target, factsErr(tf))
	}
	// Only active disks can be checked (Ganeti §11.2 step 1); inactive ones
	// come up and resync on activation.
	if inst.DiskTemplate == "drbd" && inst.DisksActive && !a.IgnoreConsistency {
		if err := drbdConsistent(env, inst, target); err != nil {
			return nil, err
		}
	}
	p := plan.New(plan.InstanceOp(OpInstanceFailover, a.Name), st.Lineage, st.Serial)
	p.Notes = append(p.Notes, chose...)
	if !primaryDown {
		stop, err := hv.StopInstance(inst, st.Cluster.HVParams[inst.Hypervisor], a.ShutdownTimeout, false)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("shut down the instance on "+inst.PrimaryNode, plan.Abort, stop)
	}
	// Ganeti deactivates everywhere (errors on the old primary ignored), so
	// the disks come up fresh on the target, without a stale connection.
	if err := deactivate(env, p, "deactivate disks", plan.Continue, inst); err != nil {
		return nil, err
	}
	moved := cloneInstance(inst)
	moved.PrimaryNode = target
	if slices.Contains(sharedTemplates, inst.DiskTemplate) {
		for _, d := range moved.Disks {
			d.Nodes = []string{target}
		}
	}
	if inst.AdminState == "up" {
		// With a dead primary and --ignore-consistency the target's data wins.
		if err := activate(env, p, "activate disks on "+target, moved, primaryDown && a.IgnoreConsistency); err != nil {
			return nil, err
		}
		steps, err := startSteps(env, moved, tf)
		if err != nil {
			return nil, err
		}
		p.Add("start the instance on "+target, plan.Abort, steps...)
		moved.DisksActive = true
	} else {
		moved.DisksActive = false
	}
	return setInstance(p, st, a.Name, inst, moved)
}

// moveTarget decides where failover/migrate goes: drbd to its secondary,
// shared storage to -n; local templates cannot move this way.
func moveTarget(st *statefile.State, inst *statefile.Instance, target, what string, crossGroup bool) (string, error) {
	switch {
	case inst.DiskTemplate == "drbd":
		sec := inst.SecondaryNodes()
		if len(sec) != 1 {
			return "", prereq(ErrWrongState, "Instance %s has no secondary node", inst.Name)
		}
		if target != "" && target != sec[0] {
			return "", prereq(ErrWrongInput, "Instances with disk template drbd cannot be %s to a node other than their secondary (%s)", gerund(what), sec[0])
		}
		target = sec[0]
	case slices.Contains(sharedTemplates, inst.DiskTemplate):
		if target == "" {
			return "", prereq(ErrWrongInput, "Shared-storage instances need a target node: -n NODE")
		}
	default:
		return "", prereq(ErrWrongState, "Instance's disk layout '%s' does not allow %s", inst.DiskTemplate, what)
	}
	n, err := node(st, target)
	if err != nil {
		return "", err
	}
	if n.Name == inst.PrimaryNode {
		return "", prereq(ErrWrongInput, "Instance %s is already on node %s", inst.Name, n.Name)
	}
	if err := usableNode(n); err != nil {
		return "", err
	}
	// A drbd instance goes where its mirror is, even if that was split
	// across groups; shared storage could go anywhere, so -n stays inside.
	if inst.DiskTemplate != "drbd" && !crossGroup {
		if err := sameGroup(st, inst.PrimaryNode, n.Name, inst.Name); err != nil {
			return "", err
		}
	}
	return n.Name, nil
}

// sameGroup refuses to place instance inst on node b in another group
// than its node a: allocation, failover, migration and mirrors stay inside
// a node group (each may be a site); crossing is asked for explicitly.
func sameGroup(st *statefile.State, a, b, inst string) error {
	na, nb := st.Nodes[a], st.Nodes[b]
	if na == nil || nb == nil || na.Group == nb.Group {
		return nil
	}
	return prereq(ErrWrongInput, "Node %s is in group '%s' but %s of instance %s is in group '%s': instances stay inside their group; `instance change-group` moves one to another group",
		b, nb.Group, a, inst, na.Group)
}

func gerund(what string) string {
	if what == "failovers" {
		return "failed over"
	}
	return "migrated"
}

// drbdConsistent refuses to move onto a secondary whose disks are not up
// to date (reference §11.2 step 1).
func drbdConsistent(env Env, inst *statefile.Instance, target string) error {
	f := env.Facts[target]
	for i, d := range inst.Disks {
		ok, why := drbdUpToDate(f, d, target)
		if !ok {
			return prereq(ErrWrongState, "Disk %d of instance %s is degraded on target node %s (%s); use --ignore-consistency to fail over anyway", i, inst.Name, target, why)
		}
	}
	return nil
}
