package playbooks

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// MigrateArgs are `instance migrate`'s inputs.
type MigrateArgs struct {
	Name             string
	Target           string // -n, shared storage only
	NonLive          bool   // --non-live (or migration_mode=non-live)
	NoRuntimeChanges bool   // never balloon the instance to fit the target
	Cleanup          bool   // --cleanup: finish or undo an interrupted migration
	Timeout          time.Duration
	// SourceStatus and TargetStatus are what the hypervisors said of the
	// instance on its primary and on the other node (hv.MigrationStatusStep),
	// for Cleanup.
	SourceStatus, TargetStatus string
	// Copy gives the helpers and identities of an encrypted migration
	// (hvparam migration_encrypt; see EncryptedMigration).
	Copy CopyOptions
	// CrossGroup lets the target be in another node group (instance
	// change-group, group evacuate).
	CrossGroup bool
}

// InstanceMigrateOp is gnt-instance migrate. A migration cut off midway is
// settled from what the hypervisors say (as --cleanup); resuming it then
// migrates again if the guest is still on its source.
var InstanceMigrateOp = define(&Opcode[MigrateArgs]{
	ID: OpInstanceMigrate, Command: "instance migrate", Undo: Settle,
	Subject: func(a MigrateArgs) string { return a.Name },
	Needs:   migrateNeeds,
	Plan:    Migrate,
})

func init() {
	info := opcodes[OpInstanceMigrate]
	info.Settle = func(p *plan.Plan) Request {
		return InstanceMigrateOp.With(MigrateArgs{Name: p.Op.Name, Target: migrationTarget(p), Cleanup: true})
	}
	info.Finish = func(p *plan.Plan, st *statefile.State) (Request, bool) {
		i, ok := st.Instances[p.Op.Name]
		if !ok || i.PrimaryNode != migrationSource(p) {
			return Request{}, false // it got there
		}
		return InstanceMigrateOp.With(MigrateArgs{Name: p.Op.Name, Target: migrationTarget(p)}), true
	}
}

// migrateNeeds are the facts of the instance's nodes (and -n) with their
// running instances and DRBD status; the helpers for an encrypted
// migration; for --cleanup, each hypervisor's view of the instance.
func migrateNeeds(st *statefile.State, a MigrateArgs) Needs {
	n := moveNeeds(st, a.Name, a.Target)
	if enc, _ := EncryptedMigration(st, a.Name, a.Target); enc && !a.Cleanup {
		n.Parts = append(n.Parts, PartHelpers)
	}
	inst, ok := st.Instances[a.Name]
	if !a.Cleanup && ok && inst.Hypervisor == hv.KVM {
		// The source's device slots, which hotplug may have moved off
		// the start's order: the target must take them over.
		if s, err := hv.RuntimeStep(inst.PrimaryNode, a.Name); err == nil {
			n.Probes = append(n.Probes, s)
		}
	}
	if !a.Cleanup || !ok {
		return n
	}
	other := a.Target
	if sec := inst.SecondaryNodes(); other == "" && len(sec) == 1 {
		other = sec[0]
	}
	if other == "" {
		return n // the planner says to name it
	}
	for _, node := range []string{inst.PrimaryNode, other} {
		if s, err := hv.MigrationStatusStep(inst.Hypervisor, node, a.Name); err == nil {
			n.Probes = append(n.Probes, s)
		}
	}
	return n
}

// migrationStatuses reads the two hypervisors' words of migrateNeeds'
// probes: the instance's primary, then the other node. A node that did
// not answer is StatusUnreachable.
func migrationStatuses(probes []Probe) (src, dst string, err error) {
	if len(probes) != 2 {
		return "", "", prereq(ErrEnvironment, "cannot ask the hypervisors about the migration")
	}
	words := make([]string, 2)
	for i, pr := range probes {
		if pr.Err != nil {
			words[i] = hv.StatusUnreachable
			continue
		}
		if words[i], err = hv.ParseMigrationStatus(pr.Stdout); err != nil {
			return "", "", fmt.Errorf("%s: %w", pr.Node, err)
		}
	}
	return words[0], words[1], nil
}

// migrationSource and migrationTarget are the primary a migration plan
// moves away from and the node it moves to, from its instance change.
func migrationSource(p *plan.Plan) string {
	before, _ := migrationChange(p)
	return before
}

func migrationTarget(p *plan.Plan) string {
	_, after := migrationChange(p)
	return after
}

func migrationChange(p *plan.Plan) (before, after string) {
	for _, c := range p.Changes {
		var b, a statefile.Instance
		if c.Kind == plan.KindInstance && json.Unmarshal(c.Before, &b) == nil && json.Unmarshal(c.After, &a) == nil {
			return b.PrimaryNode, a.PrimaryNode
		}
	}
	return "", ""
}

// EncryptedMigration reports whether instance name's migrations go
// through the copy helpers (KVM hvparam migration_encrypt), and between
// which nodes: the CLI uploads the helpers to those before planning.
func EncryptedMigration(st *statefile.State, name, target string) (bool, []string) {
	inst, ok := st.Instances[name]
	if !ok || inst.Hypervisor != hv.KVM {
		return false, nil
	}
	hvp, err := hv.Params(inst.Hypervisor, st.Cluster.HVParams[inst.Hypervisor], inst.HVParams)
	if err != nil || hvp["migration_encrypt"] != true {
		return false, nil
	}
	nodes := append([]string{inst.PrimaryNode}, inst.SecondaryNodes()...)
	if target != "" {
		nodes = append(nodes, target)
	}
	return true, nodes
}

// tunnel makes the per-migration identities of an encrypted migration.
func tunnel(env Env, p *plan.Plan, source, target string) (*hv.Tunnel, error) {
	hs, err := helperFor(env, p, source)
	if err != nil {
		return nil, err
	}
	ht, err := helperFor(env, p, target)
	if err != nil {
		return nil, err
	}
	if env.NewIdentity == nil {
		return nil, prereq(ErrEnvironment, "encrypted migration (migration_encrypt) needs TLS identities for the copy helpers")
	}
	si, err := env.NewIdentity()
	if err != nil {
		return nil, err
	}
	ti, err := env.NewIdentity()
	if err != nil {
		return nil, err
	}
	return &hv.Tunnel{
		SourceHelper: [2]string{hs.Path, hs.SHA256}, TargetHelper: [2]string{ht.Path, ht.SHA256},
		SourceKey: p.Secret("tunnel-source", si.PEM()), TargetKey: p.Secret("tunnel-target", ti.PEM()),
		SourceFP: si.Fingerprint, TargetFP: ti.Fingerprint,
	}, nil
}

// Migrate plans a live (or non-live) migration to the secondary (drbd) or
// to -n (shared storage): open the disks on both nodes, start the target
// qemu waiting for the stream, migrate, then finish on both sides
// (reference §7.5, §11.3). If the migration fails the instance keeps running
// on the source and the target is cleaned up (the steps' undos).
func Migrate(env Env, a MigrateArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, a.Name)
	if err != nil {
		return nil, err
	}
	if a.Cleanup {
		return migrateCleanup(env, inst, a)
	}
	chose, err := pickTarget(env, inst, &a.Target) // instance_alloc.go
	if err != nil {
		return nil, err
	}
	target, err := moveTarget(st, inst, a.Target, "migrations", a.CrossGroup)
	if err != nil {
		return nil, err
	}
	pf, tf := env.Facts[inst.PrimaryNode], env.Facts[target]
	for n, f := range map[string]*NodeFacts{inst.PrimaryNode: pf, target: tf} {
		if f == nil || !f.Reachable {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(f))
		}
	}
	running, ok := pf.Running[a.Name]
	if !ok {
		return nil, prereq(ErrWrongState, "Instance %s is not running on %s, cannot migrate; use failover (or startup) instead", a.Name, inst.PrimaryNode)
	}
	if _, there := tf.Running[a.Name]; there {
		return nil, prereq(ErrWrongState, "Instance %s also runs on %s: an earlier migration was cut off; run `instance migrate --cleanup %s` first", a.Name, target, a.Name)
	}
	if inst.DiskTemplate == "drbd" {
		if err := drbdConsistent(env, inst, target); err != nil {
			return nil, err
		}
	}
	cl := &st.Cluster
	be := EffectiveBE(cl, inst.BEParams)
	hvp, err := hv.Params(inst.Hypervisor, cl.HVParams[inst.Hypervisor], inst.HVParams)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	p := plan.New(plan.InstanceOp(OpInstanceMigrate, a.Name), st.Lineage, st.Serial)
	p.Notes = append(p.Notes, chose...)
	// The target must have room for the instance's current memory; Ganeti
	// balloons it down toward minmem when allowed (§11.3 step 1).
	if mem := running.MemMiB; mem > tf.MemFree {
		minmem := intParam(be, "minmem")
		switch {
		case a.NoRuntimeChanges:
			return nil, prereq(ErrWrongState, "Not enough memory on target node %s: instance uses %d MiB, %d MiB free (runtime changes are not allowed)", target, mem, tf.MemFree)
		case tf.MemFree < minmem:
			return nil, prereq(ErrWrongState, "Not enough memory on target node %s: even the minimum memory %d MiB is above the %d MiB free", target, minmem, tf.MemFree)
		}
		sa, err := startArgs(env, inst, pf)
		if err != nil {
			return nil, err
		}
		steps, err := hv.Balloon(sa, tf.MemFree)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("instance memory is reduced from %d to %d MiB to fit node %s", mem, tf.MemFree, target))
		p.Add("reduce the runtime memory", plan.Abort, steps...)
	}
	targetNode := st.Nodes[target]
	ma := hv.MigrateArgs{Instance: inst, Source: inst.PrimaryNode, Target: target, TargetIP: pick(targetNode.SecondaryIP, targetNode.PrimaryIP),
		HVParams: hvp, Live: hv.DefaultLive(hvp) && !a.NonLive, Links: links(inst), NICLinks: nicLinks(inst),
		MaxMem: intParam(be, "maxmem"), VCPUs: int(intParam(be, "vcpus")), Timeout: a.Timeout}
	if ma.PCISlots, err = sourceSlots(env, inst); err != nil {
		return nil, err
	}
	if hvp["migration_encrypt"] == true {
		if ma.Tunnel, err = tunnel(env, p, inst.PrimaryNode, target); err != nil {
			return nil, err
		}
	}
	moved := cloneInstance(inst)
	moved.PrimaryNode = target
	shared := slices.Contains(sharedTemplates, inst.DiskTemplate)
	if shared {
		for _, d := range moved.Disks {
			d.Nodes = []string{target}
		}
		if err := activate(env, p, "open disks on "+target, moved, false); err != nil {
			return nil, err
		}
	} else if err := drbdOpenDual(env, p, inst, target); err != nil {
		return nil, err
	}
	accept, err := hv.AcceptSteps(ma)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	p.Add("prepare "+target+" to accept the instance", plan.Abort, accept...)
	if send, err := hv.TunnelSendSteps(ma); err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	} else if len(send) > 0 {
		p.Add("open the tunnel on "+inst.PrimaryNode, plan.Abort, send...)
	}
	mig, err := hv.MigrateStep(ma)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	p.Add("migrate the instance to "+target, plan.Abort, mig)
	// From here the instance runs on the target: nothing may be undone.
	fs, err := hv.FinalizeSourceSteps(ma)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	ft, err := hv.FinalizeTargetSteps(ma)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	p.Add("finish the migration", plan.Continue, append(append(ft, fs...), hv.TunnelStopSteps(ma)...)...)
	if shared {
		if err := stage(p, "close disks on "+inst.PrimaryNode, plan.Continue, shutdownDisks, inst); err != nil {
			return nil, err
		}
	} else if err := drbdCloseSource(env, p, inst, target); err != nil {
		return nil, err
	}
	return setInstance(p, st, a.Name, inst, moved)
}

// migrateCleanup settles an interrupted migration (Ganeti's --cleanup)
// from what the hypervisors say on both nodes (a.SourceStatus and
// a.TargetStatus, MigrationStatusStep words): the state follows the copy
// that owns the guest; the leftover is removed; drbd returns to
// single-primary there.
func migrateCleanup(env Env, inst *statefile.Instance, a MigrateArgs) (*plan.Plan, error) {
	st := env.State
	target := a.Target
	if target == "" {
		if sec := inst.SecondaryNodes(); len(sec) == 1 {
			target = sec[0]
		}
	}
	if target == "" {
		return nil, prereq(ErrWrongInput, "Name the other node of the interrupted migration: -n NODE")
	}
	if a.SourceStatus == "" && a.TargetStatus == "" {
		var err error
		if a.SourceStatus, a.TargetStatus, err = migrationStatuses(env.Probes); err != nil {
			return nil, err
		}
	}
	cl := &st.Cluster
	be := EffectiveBE(cl, inst.BEParams)
	hvp, err := hv.Params(inst.Hypervisor, cl.HVParams[inst.Hypervisor], inst.HVParams)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	tn := st.Nodes[target]
	if tn == nil {
		return nil, prereq(ErrUnknownEntity, "Node '%s' not known", target)
	}
	ma := hv.MigrateArgs{Instance: inst, Source: inst.PrimaryNode, Target: target, TargetIP: pick(tn.SecondaryIP, tn.PrimaryIP),
		HVParams: hvp, Live: true, Links: links(inst), NICLinks: nicLinks(inst), MaxMem: intParam(be, "maxmem"), VCPUs: int(intParam(be, "vcpus"))}
	dec, steps, err := hv.CleanupSteps(ma, a.SourceStatus, a.TargetStatus)
	if err != nil {
		return nil, prereq(ErrWrongState, "Cannot clean up the migration of %s (source %s: %s, target %s: %s): %v", inst.Name, inst.PrimaryNode, a.SourceStatus, target, a.TargetStatus, err)
	}
	p := plan.New(plan.InstanceOp(OpInstanceMigrateCleanup, a.Name), st.Lineage, st.Serial)
	p.Warnings = append(p.Warnings, dec.Reason)
	if len(steps) > 0 {
		p.Add("remove the leftover", plan.Continue, steps...)
	}
	owner := inst.PrimaryNode
	if dec.Runs == hv.Target {
		owner = target
	}
	moved := cloneInstance(inst)
	moved.PrimaryNode = owner
	if slices.Contains(sharedTemplates, inst.DiskTemplate) {
		for _, d := range moved.Disks {
			d.Nodes = []string{owner}
		}
	}
	if err := drbdSettle(env, p, moved, owner); err != nil {
		return nil, err
	}
	if owner != inst.PrimaryNode {
		if err := p.Set(plan.KindInstance, a.Name, inst, moved); err != nil {
			return nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// sourceSlots are the PCI slots of the source qemu's devices, from the
// runtime file migrateNeeds read (nil without one: a planner that did not
// ask, or a qemu started by another tool; the start's order then).
func sourceSlots(env Env, inst *statefile.Instance) (map[string]string, error) {
	if inst.Hypervisor != hv.KVM {
		return nil, nil
	}
	pr := runtimeProbe(env, inst.PrimaryNode)
	if pr == nil || pr.Err != nil || len(pr.Stdout) == 0 {
		return nil, nil
	}
	rt, err := hv.ParseRuntime(pr.Stdout)
	if err != nil {
		return nil, prereq(ErrEnvironment, "Instance %s on %s: %v", inst.Name, inst.PrimaryNode, err)
	}
	return rt.Slots(), nil
}
