package playbooks

import (
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// The opcodes of an instance's power and disk operations.
var (
	InstanceRemoveOp = define(&Opcode[RemoveArgs]{
		ID: OpInstanceRemove, Command: "instance remove", Undo: Irreversible,
		Subject: func(a RemoveArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a RemoveArgs) Needs { return instanceNeeds(st, a.Name) },
		Plan: func(env Env, a RemoveArgs) (*plan.Plan, error) {
			return InstanceRemove(env, a.Name, a.ShutdownTimeout, a.IgnoreFailures)
		},
	})
	InstanceStartupOp = define(&Opcode[string]{
		ID: OpInstanceStartup, Command: "instance startup", Subject: itself,
		Needs: func(st *statefile.State, name string) Needs { return instanceNeeds(st, name) },
		Plan:  InstanceStartup,
	})
	InstanceShutdownOp = define(&Opcode[ShutdownArgs]{
		ID: OpInstanceShutdown, Command: "instance shutdown",
		Subject: func(a ShutdownArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a ShutdownArgs) Needs { return instanceNeeds(st, a.Name) },
		Plan: func(env Env, a ShutdownArgs) (*plan.Plan, error) {
			return InstanceShutdown(env, a.Name, a.Timeout, a.NoRemember)
		},
	})
	InstanceRebootOp = define(&Opcode[RebootArgs]{
		ID: OpInstanceReboot, Command: "instance reboot",
		Subject: func(a RebootArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a RebootArgs) Needs { return instanceNeeds(st, a.Name) },
		Plan: func(env Env, a RebootArgs) (*plan.Plan, error) {
			return InstanceReboot(env, a.Name, a.Type, a.ShutdownTimeout)
		},
	})
	ActivateDisksOp = define(&Opcode[ActivateArgs]{
		ID: OpInstanceActivateDisks, Command: "instance activate-disks",
		Subject: func(a ActivateArgs) string { return a.Name },
		Needs: func(st *statefile.State, a ActivateArgs) Needs {
			if a.WaitForSync {
				return instanceNeeds(st, a.Name, PartDRBD)
			}
			return instanceNeeds(st, a.Name)
		},
		Plan: func(env Env, a ActivateArgs) (*plan.Plan, error) {
			p, err := ActivateDisks(env, a.Name)
			if err != nil || !a.WaitForSync {
				return p, err
			}
			if inst := env.State.Instances[a.Name]; isDRBD(inst) {
				seqs, err := drbdWaitSync(env, inst)
				if err != nil {
					return nil, err
				}
				p.AddStages(storage.Stages("wait for the disks to sync", plan.Abort, seqs...)...)
			}
			return p, nil
		},
	})
	DeactivateDisksOp = define(&Opcode[DeactivateArgs]{
		ID: OpInstanceDeactivateDisks, Command: "instance deactivate-disks",
		Subject: func(a DeactivateArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a DeactivateArgs) Needs { return instanceNeeds(st, a.Name) },
		Plan:    func(env Env, a DeactivateArgs) (*plan.Plan, error) { return DeactivateDisks(env, a.Name, a.Force) },
	})
	GrowDiskOp = define(&Opcode[GrowDiskArgs]{
		ID: OpInstanceGrowDisk, Command: "instance grow-disk",
		Subject: func(a GrowDiskArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a GrowDiskArgs) Needs { return instanceNeeds(st, a.Name, PartVGs) },
		Plan: func(env Env, a GrowDiskArgs) (*plan.Plan, error) {
			return GrowDisk(env, a.Name, a.Disk, a.Amount, a.Absolute, a.IgnoreIPolicy)
		},
	})
	RecreateDisksOp = define(&Opcode[RecreateArgs]{
		ID: OpInstanceRecreateDisks, Command: "instance recreate-disks",
		Subject: func(a RecreateArgs) string { return a.Name },
		Needs: func(st *statefile.State, a RecreateArgs) Needs {
			return Needs{Nodes: InstanceNodes(st, a.Name, a.Node, a.Secondary), Parts: []string{PartRunning}}
		},
		Plan: func(env Env, a RecreateArgs) (*plan.Plan, error) {
			if a.Secondary != "" {
				return RecreateDRBDOn(env, a.Name, a.Node, a.Secondary)
			}
			return RecreateDisks(env, a.Name, a.Node)
		},
	})
	ReinstallOp = define(&Opcode[ReinstallArgs]{
		ID: OpInstanceReinstall, Command: "instance reinstall",
		Subject: func(a ReinstallArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a ReinstallArgs) Needs { return instanceNeeds(st, a.Name, PartOS) },
		Plan:    func(env Env, a ReinstallArgs) (*plan.Plan, error) { return Reinstall(env, a.Name, a.OS, a.OSParams) },
	})
	RenameOp = define(&Opcode[RenameArgs]{
		ID: OpInstanceRename, Command: "instance rename",
		Subject: func(a RenameArgs) string { return a.Name + " " + a.NewName },
		Needs:   func(st *statefile.State, a RenameArgs) Needs { return instanceNeeds(st, a.Name, PartOS) },
		Plan:    func(env Env, a RenameArgs) (*plan.Plan, error) { return Rename(env, a.Name, a.NewName) },
	})
)

// Arguments of the instance operations above.
type (
	RemoveArgs struct {
		Name            string
		ShutdownTimeout time.Duration
		IgnoreFailures  bool // leave disks that cannot be removed
	}
	ShutdownArgs struct {
		Name       string
		Timeout    time.Duration
		NoRemember bool // keep the admin state up
	}
	RebootArgs struct {
		Name, Type      string // soft, hard or full
		ShutdownTimeout time.Duration
	}
	ActivateArgs struct {
		Name        string
		WaitForSync bool // --wait-for-sync: until a mirror is in sync
	}
	DeactivateArgs struct {
		Name  string
		Force bool
	}
	GrowDiskArgs struct {
		Name     string
		Disk     int
		Amount   int64 // MiB
		Absolute bool  // Amount is the new size
		// IgnoreIPolicy grows past the instance policy's disk size.
		IgnoreIPolicy bool
	}
	RecreateArgs  struct{ Name, Node, Secondary string } // Node: a new primary; with Secondary, a drbd pair (-n P:S)
	ReinstallArgs struct {
		Name, OS string           // OS: a new one, or ""
		OSParams statefile.Params // -O: the instance's OS parameters, over the ones it has
	}
	RenameArgs struct{ Name, NewName string }
)

// instanceNeeds are the facts of an instance's nodes: what runs there,
// and the parts given.
func instanceNeeds(st *statefile.State, name string, parts ...string) Needs {
	return Needs{Nodes: InstanceNodes(st, name), Parts: append([]string{PartRunning}, parts...)}
}

// itself is the Subject of opcodes whose argument is the subject's name.
func itself(name string) string { return name }

// InstanceRemove plans stopping an instance, removing its disks and
// forgetting it. With ignoreFailures, disks that cannot be removed are left
// behind (and reported) instead of stopping the removal.
func InstanceRemove(env Env, name string, timeout time.Duration, ignoreFailures bool) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	pn := st.Nodes[inst.PrimaryNode]
	p := plan.New(plan.InstanceOp(OpInstanceRemove, name), st.Lineage, st.Serial)
	policy := plan.Abort
	if ignoreFailures {
		policy = plan.Continue
	}
	if pn == nil || pn.Offline {
		if !ignoreFailures {
			return nil, prereq(ErrWrongState, "Primary node %s of instance %s is offline; use --ignore-failures to remove the instance from the state anyway (its disks stay on the node)", inst.PrimaryNode, name)
		}
	} else {
		stop, err := hv.StopInstance(inst, st.Cluster.HVParams[inst.Hypervisor], timeout, false)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("stop the instance", policy, stop)
		if err := stage(p, "deactivate disks", plan.Continue, shutdownDisks, inst); err != nil {
			return nil, err
		}
		if err := stage(p, "remove disks", policy, removeDisks, inst); err != nil {
			return nil, err
		}
	}
	if err := p.Delete(plan.KindInstance, name, inst); err != nil {
		return nil, err
	}
	// Its addresses go back to their networks' pools, in the same commit.
	np := newNICPlanner(env, name, inst.PrimaryNode, nil, true)
	for _, nic := range inst.NICs {
		np.remove(nic)
	}
	if err := np.record(p); err != nil {
		return nil, err
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// InstanceStartup plans starting an instance (admin state up).
func InstanceStartup(env Env, name string) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if inst.AdminState == "offline" {
		return nil, prereq(ErrWrongState, "Instance '%s' is marked to be offline; use `instance modify --online %s` first", name, name)
	}
	pn := st.Nodes[inst.PrimaryNode]
	if pn.Offline {
		return nil, prereq(ErrWrongState, "Primary node %s of instance %s is offline", pn.Name, name)
	}
	f := env.Facts[inst.PrimaryNode]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", inst.PrimaryNode, factsErr(f))
	}
	p := plan.New(plan.InstanceOp(OpInstanceStartup, name), st.Lineage, st.Serial)
	c := cloneInstance(inst)
	c.AdminState, c.DisksActive = "up", true
	if _, running := f.Running[name]; !running {
		if err := activate(env, p, "activate disks", inst, false); err != nil {
			return nil, err
		}
		steps, err := startSteps(env, inst, f)
		if err != nil {
			return nil, err
		}
		p.Add("start the instance", plan.Abort, steps...)
	}
	return setInstance(p, st, name, inst, c)
}

// InstanceShutdown plans stopping an instance: a soft stop, then a forced
// one after timeout; then its disks are deactivated. Unless noRemember, the
// admin state becomes down.
func InstanceShutdown(env Env, name string, timeout time.Duration, noRemember bool) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if st.Nodes[inst.PrimaryNode].Offline {
		return nil, prereq(ErrWrongState, "Primary node %s of instance %s is offline", inst.PrimaryNode, name)
	}
	p := plan.New(plan.InstanceOp(OpInstanceShutdown, name), st.Lineage, st.Serial)
	stop, err := hv.StopInstance(inst, st.Cluster.HVParams[inst.Hypervisor], timeout, false)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	p.Add("stop the instance", plan.Abort, stop)
	if err := stage(p, "deactivate disks", plan.Continue, shutdownDisks, inst); err != nil {
		return nil, err
	}
	c := cloneInstance(inst)
	c.DisksActive = false
	if !noRemember {
		c.AdminState = "down"
	}
	return setInstance(p, st, name, inst, c)
}

// InstanceReboot plans a reboot: soft (through the hypervisor), hard (stop
// and start the VM) or full (also deactivate and reactivate the disks). A
// stopped instance is simply started, as in Ganeti.
func InstanceReboot(env Env, name, kind string, timeout time.Duration) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if kind != "soft" && kind != "hard" && kind != "full" {
		return nil, prereq(ErrWrongInput, "Reboot type must be soft, hard or full, not '%s'", kind)
	}
	f := env.Facts[inst.PrimaryNode]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", inst.PrimaryNode, factsErr(f))
	}
	p := plan.New(plan.InstanceOp(OpInstanceReboot, name), st.Lineage, st.Serial)
	_, running := f.Running[name]
	switch {
	case running && kind == "soft":
		sa, err := startArgs(env, inst, f)
		if err != nil {
			return nil, err
		}
		steps, err := hv.Reboot(sa, "soft")
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("reboot the instance", plan.Abort, steps...)
	default:
		if running {
			stop, err := hv.StopInstance(inst, st.Cluster.HVParams[inst.Hypervisor], timeout, false)
			if err != nil {
				return nil, prereq(ErrWrongInput, "%v", err)
			}
			p.Add("stop the instance", plan.Abort, stop)
			if kind == "full" {
				if err := stage(p, "deactivate disks", plan.Abort, shutdownDisks, inst); err != nil {
					return nil, err
				}
			}
		}
		if err := activate(env, p, "activate disks", inst, false); err != nil {
			return nil, err
		}
		// The stopped instance's memory is free again for the start.
		steps, err := startSteps(env, inst, f)
		if err != nil {
			return nil, err
		}
		p.Add("start the instance", plan.Abort, steps...)
	}
	c := cloneInstance(inst)
	c.AdminState, c.DisksActive = "up", true
	return setInstance(p, st, name, inst, c)
}

// ActivateDisks plans activating an instance's disks on its primary.
func ActivateDisks(env Env, name string) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if len(inst.Disks) == 0 {
		return nil, prereq(ErrWrongInput, "Instance '%s' has no disks", name)
	}
	p := plan.New(plan.InstanceOp(OpInstanceActivateDisks, name), st.Lineage, st.Serial)
	if err := activate(env, p, "activate disks", inst, false); err != nil {
		return nil, err
	}
	c := cloneInstance(inst)
	c.DisksActive = true
	return setInstance(p, st, name, inst, c)
}

// DeactivateDisks plans deactivating an instance's disks; refused while it
// runs unless force.
func DeactivateDisks(env Env, name string, force bool) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if on := runningOn(env, name); len(on) > 0 && !force {
		return nil, prereq(ErrWrongState, "Instance '%s' is running on %v; shut it down first (or use --force)", name, on)
	}
	p := plan.New(plan.InstanceOp(OpInstanceDeactivateDisks, name), st.Lineage, st.Serial)
	if err := stage(p, "deactivate disks", plan.Abort, shutdownDisks, inst); err != nil {
		return nil, err
	}
	c := cloneInstance(inst)
	c.DisksActive = false
	return setInstance(p, st, name, inst, c)
}

// GrowDisk plans growing disk idx by amount MiB (or to amount with absolute).
func GrowDisk(env Env, name string, idx int, amount int64, absolute, ignoreIPolicy bool) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if idx < 0 || idx >= len(inst.Disks) {
		return nil, prereq(ErrWrongInput, "Invalid disk index %d: instance '%s' has %d disk(s)", idx, name, len(inst.Disks))
	}
	d := inst.Disks[idx]
	delta := amount
	if absolute {
		delta = amount - d.Size
	}
	if delta <= 0 {
		return nil, prereq(ErrWrongInput, "Requested size (%d MiB) is not larger than the current size (%d MiB); disks can only grow", d.Size+delta, d.Size)
	}
	f := env.Facts[inst.PrimaryNode]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", inst.PrimaryNode, factsErr(f))
	}
	if err := checkSpace(inst.PrimaryNode, f, inst.DiskTemplate, inst.Disks, map[int]int64{idx: delta}); err != nil {
		return nil, err
	}
	p := plan.New(plan.InstanceOp(OpInstanceGrowDisk, name, strconv.Itoa(idx)), st.Lineage, st.Serial)
	var seqs [][]plan.Step
	for _, n := range d.Nodes {
		if n != inst.PrimaryNode {
			nf := env.Facts[n]
			if nf == nil || !nf.Reachable {
				return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(nf))
			}
			if err := checkSpace(n, nf, inst.DiskTemplate, inst.Disks, map[int]int64{idx: delta}); err != nil {
				return nil, err
			}
		}
		steps, err := storage.Grow(d, n, delta)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		seqs = append(seqs, steps)
	}
	p.AddStages(storage.Stages("grow the disk", plan.Abort, seqs...)...)
	if isDRBD(inst) {
		steps, err := storage.ResizeDRBD(d, inst.PrimaryNode, delta)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("resize the drbd device", plan.Abort, steps...)
	}
	c := cloneInstance(inst)
	c.Disks[idx].Size = d.Size + delta
	if isDRBD(inst) && len(c.Disks[idx].Children) > 0 {
		data := *c.Disks[idx].Children[0]
		data.Size += delta
		c.Disks[idx].Children = append([]*statefile.Disk{&data}, c.Disks[idx].Children[1:]...)
	}
	if err := checkIPolicy(st, c, ignoreIPolicy); err != nil {
		return nil, err
	}
	return setInstance(p, st, name, inst, c)
}

// RecreateDisks plans creating an instance's disks anew (empty), for disks
// lost with a node; with newPrimary the instance moves there first.
func RecreateDisks(env Env, name, newPrimary string) (*plan.Plan, error) {
	st := env.State
	inst, err := stoppedInstance(env, name)
	if err != nil {
		return nil, err
	}
	c := cloneInstance(inst)
	if newPrimary != "" && isDRBD(inst) {
		return nil, prereq(ErrWrongInput, "A drbd instance's disks are recreated on its own nodes, or on a new pair (-n PRIMARY:SECONDARY); move the mirror with replace-disks -n")
	}
	if newPrimary != "" {
		n, err := node(st, newPrimary)
		if err != nil {
			return nil, err
		}
		if err := usableNode(n); err != nil {
			return nil, err
		}
		c.PrimaryNode = n.Name
		for _, d := range c.Disks {
			d.Nodes = []string{n.Name}
		}
	}
	p := plan.New(plan.InstanceOp(OpInstanceRecreateDisks, name), st.Lineage, st.Serial)
	create, err := perNode(c, func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) { return storage.Create(d, n, name) })
	if err != nil {
		return nil, err
	}
	p.AddStages(storage.Stages("create disks", plan.Abort, create...)...)
	c.DisksActive = false
	return setInstance(p, st, name, inst, c)
}

// Reinstall plans running the OS create script again on a stopped instance,
// optionally with another OS.
func Reinstall(env Env, name, newOS string, osParams statefile.Params) (*plan.Plan, error) {
	st := env.State
	inst, err := stoppedInstance(env, name)
	if err != nil {
		return nil, err
	}
	f := env.Facts[inst.PrimaryNode]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", inst.PrimaryNode, factsErr(f))
	}
	osName := inst.OS
	if newOS != "" {
		osName = newOS
	}
	def, variant, err := checkOS(inst.PrimaryNode, f, osName)
	if err != nil {
		return nil, err
	}
	c := cloneInstance(inst)
	c.OS = joinOS(def.Name, variant)
	if osParams != nil {
		c.OSParams = cloneParams(inst.OSParams)
		mergeParams(&c.OSParams, osParams)
	}
	p := plan.New(plan.InstanceOp(OpInstanceReinstall, name), st.Lineage, st.Serial)
	if err := activate(env, p, "activate disks", inst, false); err != nil {
		return nil, err
	}
	p.Add("install the OS", plan.Abort, osStep(env.State, inst.PrimaryNode, c, def, variant, "create", links(c), map[string]string{"INSTANCE_REINSTALL": "1"}))
	if !inst.DisksActive {
		if err := stage(p, "deactivate disks", plan.Continue, shutdownDisks, inst); err != nil {
			return nil, err
		}
	}
	return setInstance(p, st, name, inst, c)
}

// Rename plans renaming a stopped instance: every node artifact named after
// it (file storage directory, LV tags, OS rename script) follows.
func Rename(env Env, name, newName string) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, name)
	if err != nil {
		return nil, err
	}
	if _, exists := st.Instances[newName]; exists {
		return nil, prereq(ErrExists, "Instance '%s' is already in the cluster", newName)
	}
	if on := runningOn(env, name); len(on) > 0 {
		return nil, prereq(ErrWrongState, "Instance '%s' is running on %v; shut it down first", name, on)
	}
	f := env.Facts[inst.PrimaryNode]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", inst.PrimaryNode, factsErr(f))
	}
	c := cloneInstance(inst)
	c.Name = newName
	p := plan.New(plan.InstanceOp(OpInstanceRename, name, newName), st.Lineage, st.Serial)
	rename, disks, err := storage.Rename(inst.Disks, inst.PrimaryNode, name, newName)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	c.Disks = disks
	if err := stage(p, "deactivate disks", plan.Continue, shutdownDisks, inst); err != nil {
		return nil, err
	}
	p.Add("rename disks", plan.Abort, rename...)
	if def, variant, err := checkOS(inst.PrimaryNode, f, inst.OS); err == nil && len(c.Disks) > 0 {
		if err := activate(env, p, "activate disks", c, false); err != nil {
			return nil, err
		}
		p.Add("run the OS rename script", plan.Abort, osStep(env.State, inst.PrimaryNode, c, def, variant, "rename", links(c), map[string]string{"OLD_INSTANCE_NAME": name}))
		if err := stage(p, "deactivate disks", plan.Continue, shutdownDisks, c); err != nil {
			return nil, err
		}
	}
	c.DisksActive = false
	if err := p.Delete(plan.KindInstance, name, inst); err != nil {
		return nil, err
	}
	return setInstance(p, st, newName, nil, c)
}
