package playbooks

import (
	"fmt"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// drbdSyncTimeout bounds waits for a DRBD resync, in seconds.
const drbdSyncTimeout = 3600

// drbdEnv is what DRBD steps need: replication addresses, disk params and
// the status file the inventory names.
func drbdEnv(env Env) storage.DRBDEnv {
	return storage.DRBDEnvFrom(env.State, env.DRBDStatusFile)
}

func isDRBD(inst *statefile.Instance) bool { return inst.DiskTemplate == "drbd" }

// registerSecrets gives the plan the DRBD shared secrets its steps refer to.
func registerSecrets(p *plan.Plan, disks []*statefile.Disk) {
	for name, v := range storage.DRBDSecrets(disks) {
		p.Secret(name, v)
	}
}

// drbdStatus parses a node's DRBD status facts.
func drbdStatus(f *NodeFacts) map[int]storage.DRBDStatus {
	if f == nil || len(f.DRBDStatus) == 0 {
		return nil
	}
	st, err := storage.ParseProcDRBD(f.DRBDStatus)
	if err != nil {
		return nil
	}
	return st
}

// drbdUpToDate reports whether disk d is consistent on node (its DRBD
// minor UpToDate), from the node's DRBD status facts.
func drbdUpToDate(f *NodeFacts, d *statefile.Disk, node string) (bool, string) {
	if f == nil || !f.Reachable {
		return false, "node unreachable"
	}
	minor, err := storage.MinorOn(d, node)
	if err != nil {
		return false, err.Error()
	}
	s, ok := drbdStatus(f)[minor]
	switch {
	case !ok || s.Unconfigured:
		return false, fmt.Sprintf("minor %d is not configured", minor)
	case s.Disk != "UpToDate":
		return false, fmt.Sprintf("minor %d is %s/%s (%s)", minor, s.Disk, s.PeerDisk, s.CState)
	}
	return true, ""
}

// drbdAssembleSeqs brings every drbd disk up on both nodes and makes it
// primary on the primary (force at creation: its data wins the first sync).
func drbdAssembleSeqs(env Env, inst *statefile.Instance, force bool) ([][]plan.Step, error) {
	de := drbdEnv(env)
	var seqs [][]plan.Step
	for i, d := range inst.Disks {
		for _, n := range d.Nodes {
			if nodeDown(env, n) && n != inst.PrimaryNode {
				continue // a dead peer: the primary runs degraded until it is back
			}
			seq, err := storage.AssembleDRBD(d, n, de)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d on %s: %v", i, n, err)
			}
			if n == inst.PrimaryNode {
				prim, err := storage.MakePrimary(d, n, inst.Name, i, force)
				if err != nil {
					return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
				}
				seq = append(seq, prim...)
			}
			seqs = append(seqs, seq)
		}
	}
	if !force {
		// The disks may be in use (activate-disks of a running instance):
		// a failure must not take devices down under it.
		stripUndo(seqs)
	}
	return seqs, nil
}

// perNode runs op for every disk on every node holding it.
func perNode(inst *statefile.Instance, op func(d *statefile.Disk, node string, idx int) ([]plan.Step, error)) ([][]plan.Step, error) {
	var seqs [][]plan.Step
	for i, d := range inst.Disks {
		for _, n := range d.Nodes {
			seq, err := op(d, n, i)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d on %s: %v", i, n, err)
			}
			seqs = append(seqs, seq)
		}
	}
	return seqs, nil
}

// drbdWaitSync waits on the primary until every disk is in sync.
func drbdWaitSync(env Env, inst *statefile.Instance) ([][]plan.Step, error) {
	de := drbdEnv(env)
	return eachDisk(inst, func(d *statefile.Disk, node, _ string, _ int) ([]plan.Step, error) {
		return storage.WaitSync(d, node, de, drbdSyncTimeout)
	})
}

// drbdOpenDual opens a drbd instance's disks on the target too (Ganeti's
// dual-primary dance before a live migration, §11.3 steps 3-7).
func drbdOpenDual(env Env, p *plan.Plan, inst *statefile.Instance, target string) error {
	registerSecrets(p, inst.Disks)
	de := drbdEnv(env)
	add := func(name string, op func(d *statefile.Disk, node string, idx int) ([]plan.Step, error)) error {
		seqs, err := perNode(inst, op)
		if err != nil {
			return err
		}
		p.AddStages(storage.Stages(name, plan.Abort, seqs...)...)
		return nil
	}
	if err := add("disconnect disks", func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) { return storage.DisconnectNet(d, n, de) }); err != nil {
		return err
	}
	if err := add("reconnect disks dual-primary", func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) {
		return storage.AttachNet(d, n, de, true)
	}); err != nil {
		return err
	}
	seqs, err := perNode(inst, func(d *statefile.Disk, n string, idx int) ([]plan.Step, error) {
		if n != target {
			return nil, nil
		}
		return storage.MakePrimary(d, n, inst.Name, idx, false)
	})
	if err != nil {
		return err
	}
	p.AddStages(storage.Stages("open disks on "+target, plan.Abort, seqs...)...)
	return nil
}

// drbdCloseSource returns a migrated drbd instance to single-primary on
// its new primary (§11.3 steps 13-14). It runs after the point of no
// return, so failures are reported, not undone.
func drbdCloseSource(env Env, p *plan.Plan, inst *statefile.Instance, target string) error {
	de := drbdEnv(env)
	source := inst.PrimaryNode
	add := func(name string, op func(d *statefile.Disk, node string, idx int) ([]plan.Step, error)) error {
		seqs, err := perNode(inst, op)
		if err != nil {
			return err
		}
		p.AddStages(storage.Stages(name, plan.Abort, stripUndo(seqs)...)...)
		return nil
	}
	if err := add("close disks on "+source, func(d *statefile.Disk, n string, idx int) ([]plan.Step, error) {
		if n != source {
			return nil, nil
		}
		return storage.MakeSecondary(d, n, inst.Name, idx)
	}); err != nil {
		return err
	}
	if err := add("disconnect disks", func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) { return storage.DisconnectNet(d, n, de) }); err != nil {
		return err
	}
	if err := add("reconnect disks single-primary", func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) {
		return storage.AttachNet(d, n, de, false)
	}); err != nil {
		return err
	}
	// Ganeti's _WaitUntilSync: the primary lost its peer for the
	// reconnect, so DRBD resyncs what changed meanwhile; the mirror is
	// whole (and the next migration possible) once that is done.
	return add("wait for the disks to sync", func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) {
		if n != source {
			return nil, nil
		}
		return storage.WaitSync(d, n, de, drbdSyncTimeout)
	})
}

// stripUndo drops undo steps: after a migration completed, going back is
// wrong; a failure must be seen and fixed (verify-disks, migrate --cleanup).
func stripUndo(seqs [][]plan.Step) [][]plan.Step {
	for _, seq := range seqs {
		for i := range seq {
			seq[i].Undo = nil
		}
	}
	return seqs
}

// drbdSettle brings a drbd instance's disks back to single-primary on
// primary after an interrupted migration.
func drbdSettle(env Env, p *plan.Plan, inst *statefile.Instance, primary string) error {
	if !isDRBD(inst) {
		return nil
	}
	registerSecrets(p, inst.Disks)
	var other string
	for _, n := range inst.Disks[0].Nodes {
		if n != primary {
			other = n
		}
	}
	// Close the other side and reconnect single-primary, as after a
	// migration from other to primary.
	from := cloneInstance(inst)
	from.PrimaryNode = other
	return drbdCloseSource(env, p, from, primary)
}

// nodeDown reports a node marked offline, or whose facts say it did not answer.
func nodeDown(env Env, n string) bool {
	if node := env.State.Nodes[n]; node != nil && node.Offline {
		return true
	}
	f, asked := env.Facts[n]
	return asked && (f == nil || !f.Reachable)
}
