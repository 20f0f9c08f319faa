package playbooks

import (
	"fmt"
	"sort"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// ReplaceDisksArgs are `instance replace-disks`'s inputs.
type ReplaceDisksArgs struct {
	Name      string
	Mode      string // "primary" (-p), "secondary" (-s), "new" (-n), "auto" (-a)
	NewNode   string // -n
	Disks     []int  // --disks; empty: all
	Timestamp int64  // names the replaced LVs (<lv>_replaced-<ts>)
	// EarlyRelease removes the old volumes before the resync ends, as
	// Ganeti's --early-release (the data is on the other side meanwhile).
	EarlyRelease bool
	// CrossGroup lets the new secondary be in another node group
	// (instance change-group, group evacuate).
	CrossGroup bool
}

// InstanceReplaceDisksOp is gnt-instance replace-disks.
var InstanceReplaceDisksOp = define(&Opcode[ReplaceDisksArgs]{
	ID: OpInstanceReplaceDisks, Command: "instance replace-disks",
	Subject: func(a ReplaceDisksArgs) string { return a.Name },
	Needs: func(st *statefile.State, a ReplaceDisksArgs) Needs {
		n := moveNeeds(st, a.Name, a.NewNode)
		n.Parts = append(n.Parts, PartVGs)
		return n
	},
	Plan: ReplaceDisks,
})

// ReplaceDisks plans replacing a drbd instance's disks: new LVs on the
// primary or the secondary, resynced from the other side (§11.4), or a
// whole new secondary node (§11.5). -a picks the side whose disks are
// faulty.
func ReplaceDisks(env Env, a ReplaceDisksArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, a.Name)
	if err != nil {
		return nil, err
	}
	if !isDRBD(inst) {
		return nil, prereq(ErrWrongState, "Can only replace disks for network mirrored (drbd) instances, not '%s'", inst.DiskTemplate)
	}
	sec := inst.SecondaryNodes()[0]
	pri := inst.PrimaryNode
	idx := a.Disks
	if len(idx) == 0 {
		for i := range inst.Disks {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		if i < 0 || i >= len(inst.Disks) {
			return nil, prereq(ErrWrongInput, "Invalid disk index %d", i)
		}
	}
	mode := a.Mode
	if mode == "auto" {
		mode, idx = autoReplace(env, inst)
		if mode == "" {
			p := plan.New(plan.InstanceOp(OpInstanceReplaceDisks, a.Name), st.Lineage, st.Serial)
			p.Warnings = append(p.Warnings, "no faulty disks found: nothing to replace")
			return p, nil
		}
	}
	for _, n := range []string{pri, sec} {
		if f := env.Facts[n]; (mode != "new" || n == pri) && (f == nil || !f.Reachable) {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(f))
		}
	}
	p := plan.New(plan.InstanceOp(OpInstanceReplaceDisks, a.Name), st.Lineage, st.Serial)
	registerSecrets(p, inst.Disks)
	de := drbdEnv(env)
	switch mode {
	case "primary", "secondary":
		node := sec
		if mode == "primary" {
			node = pri
		}
		var create, swap, wait, remove [][]plan.Step
		for _, i := range idx {
			d := inst.Disks[i]
			newID := env.NewID()
			c, err := storage.CreateReplacementLVs(d, node, inst.Name, newID)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			s, err := storage.SwapReplacementLVs(d, node, newID, a.Timestamp, de)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			w, err := storage.WaitSync(d, pri, de, drbdSyncTimeout)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			r, err := storage.RemoveReplacedLVs(d, node, a.Timestamp)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			create, swap, wait, remove = append(create, c), append(swap, s), append(wait, w), append(remove, r)
		}
		f := env.Facts[node]
		if err := checkSpace(node, f, "drbd", pick2(inst.Disks, idx), nil); err != nil {
			return nil, err
		}
		p.AddStages(storage.Stages("create new volumes on "+node, plan.Abort, create...)...)
		p.AddStages(storage.Stages("swap in the new volumes on "+node, plan.Abort, swap...)...)
		waitStages := storage.Stages("wait for the resync", plan.Abort, stripUndo(wait)...)
		removeStages := storage.Stages("remove the old volumes on "+node, plan.Continue, remove...)
		if a.EarlyRelease {
			waitStages, removeStages = removeStages, waitStages
		}
		p.AddStages(waitStages...)
		p.AddStages(removeStages...)
		return p, nil // the state does not change: same names, same nodes
	case "new":
		return replaceSecondary(env, p, inst, a.NewNode, a.EarlyRelease, a.CrossGroup)
	}
	return nil, prereq(ErrWrongInput, "Replace mode must be -p, -s, -n NODE or -a, not %q", a.Mode)
}

func pick2(disks []*statefile.Disk, idx []int) []*statefile.Disk {
	var out []*statefile.Disk
	for _, i := range idx {
		out = append(out, disks[i])
	}
	return out
}

// autoReplace finds the side with faulty (not UpToDate) disks (-a).
func autoReplace(env Env, inst *statefile.Instance) (string, []int) {
	sec := inst.SecondaryNodes()[0]
	for _, side := range []struct{ mode, node string }{{"primary", inst.PrimaryNode}, {"secondary", sec}} {
		var bad []int
		for i, d := range inst.Disks {
			if ok, _ := drbdUpToDate(env.Facts[side.node], d, side.node); !ok {
				bad = append(bad, i)
			}
		}
		if len(bad) > 0 {
			return side.mode, bad
		}
	}
	return "", nil
}

// replaceSecondary moves the instance's mirror to a new secondary node
// (§11.5): new volumes and minors there, the primary reconnects to it,
// resyncs, and the old secondary's volumes go.
func replaceSecondary(env Env, p *plan.Plan, inst *statefile.Instance, target string, earlyRelease, crossGroup bool) (*plan.Plan, error) {
	st := env.State
	n, err := node(st, target)
	if err != nil {
		return nil, err
	}
	target = n.Name
	old := inst.SecondaryNodes()[0]
	if target == inst.PrimaryNode || target == old {
		return nil, prereq(ErrWrongInput, "The new secondary must differ from the primary (%s) and the current secondary (%s)", inst.PrimaryNode, old)
	}
	if err := sameGroup(st, inst.PrimaryNode, target, inst.Name); err != nil && !crossGroup {
		return nil, err
	}
	if err := usableNode(n); err != nil {
		return nil, err
	}
	tf := env.Facts[target]
	if tf == nil || !tf.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", target, factsErr(tf))
	}
	if err := checkSpace(target, tf, "drbd", inst.Disks, nil); err != nil {
		return nil, err
	}
	minors, err := storage.AllocMinors(st, target, len(inst.Disks))
	if err != nil {
		return nil, prereq(ErrWrongState, "%v", err)
	}
	de := drbdEnv(env)
	moved := cloneInstance(inst)
	var create, downOld, disc, attach, wait, remove [][]plan.Step
	oldDown := nodeDown(env, old)
	for i, d := range inst.Disks {
		nd, err := storage.WithSecondary(d, inst.PrimaryNode, target, minors[i])
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		moved.Disks[i] = nd
		c, err := storage.Create(nd, target, inst.Name)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		al, err := storage.AttachLocal(nd, target, de)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		create = append(create, append(c, al...))
		if !oldDown {
			dn, err := storage.DownDRBD(d, old)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			downOld = append(downOld, dn)
			rm, err := storage.Remove(d, old)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			remove = append(remove, rm)
		}
		dc, err := storage.DisconnectNet(d, inst.PrimaryNode, de)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		disc = append(disc, dc)
		for _, node := range []string{inst.PrimaryNode, target} {
			at, err := storage.AttachNet(nd, node, de, false)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			attach = append(attach, at)
		}
		w, err := storage.WaitSync(nd, inst.PrimaryNode, de, drbdSyncTimeout)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		wait = append(wait, w)
	}
	registerSecrets(p, moved.Disks)
	p.AddStages(storage.Stages("create volumes on "+target, plan.Abort, create...)...)
	p.AddStages(storage.Stages("stop the old secondary "+old, plan.Continue, downOld...)...)
	p.AddStages(storage.Stages("disconnect the primary", plan.Abort, disc...)...)
	p.AddStages(storage.Stages("connect the primary to "+target, plan.Abort, attach...)...)
	waitStages := storage.Stages("wait for the resync", plan.Abort, stripUndo(wait)...)
	removeStages := storage.Stages("remove the old secondary's volumes", plan.Continue, remove...)
	if earlyRelease {
		waitStages, removeStages = removeStages, waitStages
	}
	p.AddStages(waitStages...)
	p.AddStages(removeStages...)
	if oldDown {
		p.Warnings = append(p.Warnings, fmt.Sprintf("old secondary %s is down: its volumes stay until it is back (cluster verify will show them as orphans)", old))
	}
	return setInstance(p, st, inst.Name, inst, moved)
}

// ConvertArgs are `instance modify -t TEMPLATE [-n SNODE]`.
type ConvertArgs struct {
	Name          string
	Template      string // "drbd" or "plain"
	Secondary     string // for drbd
	NoWaitForSync bool   // --no-wait-for-sync
}

// InstanceConvertOp is gnt-instance modify -t: a disk template change,
// Ganeti's INSTANCE_SET_PARAMS with disk_template.
var InstanceConvertOp = define(&Opcode[ConvertArgs]{
	ID: OpInstanceSetParams, Command: "instance modify -t",
	Subject: func(a ConvertArgs) string { return a.Template + " " + a.Name },
	Needs: func(st *statefile.State, a ConvertArgs) Needs {
		n := moveNeeds(st, a.Name, a.Secondary)
		n.Parts = append(n.Parts, PartVGs)
		return n
	},
	Plan: Convert,
})

// Convert plans a disk template conversion of a stopped instance, data
// kept (§11.6): plain -> drbd adds a mirror on the secondary; drbd -> plain
// drops it.
func Convert(env Env, a ConvertArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := stoppedInstance(env, a.Name)
	if err != nil {
		return nil, err
	}
	p := plan.New(plan.InstanceOp(OpInstanceSetParams, a.Name, "disk_template="+a.Template), st.Lineage, st.Serial)
	de := drbdEnv(env)
	c := cloneInstance(inst)
	switch {
	case inst.DiskTemplate == "plain" && a.Template == "drbd":
		if a.Secondary == "" {
			return nil, prereq(ErrWrongInput, "Converting to drbd needs the new secondary node: -n NODE")
		}
		sn, err := node(st, a.Secondary)
		if err != nil {
			return nil, err
		}
		if sn.Name == inst.PrimaryNode {
			return nil, prereq(ErrWrongInput, "The secondary node cannot be the primary node")
		}
		if err := usableNode(sn); err != nil {
			return nil, err
		}
		if err := sameGroup(st, inst.PrimaryNode, sn.Name, inst.Name); err != nil {
			return nil, err
		}
		for _, n := range []string{inst.PrimaryNode, sn.Name} {
			f := env.Facts[n]
			if f == nil || !f.Reachable {
				return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(f))
			}
		}
		if err := checkSpace(sn.Name, env.Facts[sn.Name], "drbd", inst.Disks, nil); err != nil {
			return nil, err
		}
		ids, err := storage.AllocDRBD(st, inst.PrimaryNode, sn.Name, len(inst.Disks))
		if err != nil {
			return nil, prereq(ErrWrongState, "%v", err)
		}
		var onP, onS, wait [][]plan.Step
		for i, d := range inst.Disks {
			spec := storage.Spec{Size: d.Size, Mode: d.Mode, Name: d.Name}
			spec.VG, _, _ = d.PlainLV()
			nds, err := storage.NewDRBD(&st.Cluster, a.Name, inst.PrimaryNode, sn.Name, i, []storage.Spec{spec}, ids[i:i+1], []string{fmt.Sprintf("%x", env.Random(20))}, env.NewID)
			if err != nil {
				return nil, prereq(ErrWrongInput, "disk %d: %v", i, err)
			}
			nd := nds[0]
			ps, ss, err := storage.PlainToDRBD(d, nd, inst.PrimaryNode, a.Name, de)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			w, err := storage.WaitSync(nd, inst.PrimaryNode, de, drbdSyncTimeout)
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			onP, onS, wait = append(onP, ps), append(onS, ss), append(wait, w)
			c.Disks[i] = nd
		}
		registerSecrets(p, c.Disks)
		p.AddStages(storage.Stages("convert disks to drbd", plan.Abort, append(onP, onS...)...)...)
		if !a.NoWaitForSync {
			p.AddStages(storage.Stages("wait for the mirror to sync", plan.Abort, stripUndo(wait)...)...)
		}
		// The disks stay up only while the instance's disks are active.
		c.DiskTemplate = "drbd"
		if err := deactivate(env, p, "deactivate disks", plan.Continue, c); err != nil {
			return nil, err
		}
	case inst.DiskTemplate == "drbd" && a.Template == "plain":
		var onP, onS [][]plan.Step
		for i, d := range inst.Disks {
			plain, ps, ss, err := storage.DRBDToPlain(d, inst.PrimaryNode, "")
			if err != nil {
				return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
			}
			if nodeDown(env, inst.SecondaryNodes()[0]) {
				ss = nil
			}
			onP, onS = append(onP, ps), append(onS, ss)
			c.Disks[i] = plain
		}
		p.AddStages(storage.Stages("convert disks to plain", plan.Abort, onP...)...)
		p.AddStages(storage.Stages("remove the mirror", plan.Continue, onS...)...)
		c.DiskTemplate = "plain"
	case inst.DiskTemplate == a.Template:
		return nil, prereq(ErrWrongInput, "Instance '%s' already has disk template %s", a.Name, a.Template)
	default:
		return nil, prereq(ErrWrongInput, "Unsupported disk template conversion from %s to %s (plain <-> drbd only)", inst.DiskTemplate, a.Template)
	}
	c.DisksActive = false
	return setInstance(p, st, a.Name, inst, c)
}

// InstancesOn lists the instances with node as primary, and as secondary,
// in name order.
func InstancesOn(st *statefile.State, node string) (primary, secondary []*statefile.Instance) {
	names := st.InstanceNames()
	sort.Strings(names)
	for _, n := range names {
		i := st.Instances[n]
		if i.PrimaryNode == node {
			primary = append(primary, i)
		}
		for _, s := range i.SecondaryNodes() {
			if s == node {
				secondary = append(secondary, i)
			}
		}
	}
	return primary, secondary
}
