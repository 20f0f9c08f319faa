package playbooks

import (
	"slices"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// DiskMod is one --disk of instance modify: add (Index -1 = at the end),
// remove, or change the mode of disk Index.
type DiskMod struct {
	Op    string // add | remove | modify
	Index int    // -1: last
	Spec  storage.Spec
}

// NICMod is one --net of instance modify.
type NICMod struct {
	Op    string // add | remove | modify
	Index int    // -1: last
	Spec  NICSpec
}

// ModifyInstanceArgs are `instance modify`'s changes.
type ModifyInstanceArgs struct {
	Name          string
	BEParams      statefile.Params
	HVParams      statefile.Params
	RuntimeMemory int64 // -m, MiB; 0 = unchanged
	Disks         []DiskMod
	NICs          []NICMod
	OSType        string
	Offline       *bool // --offline (true) / --online (false)
	IgnoreIPolicy bool  // --ignore-ipolicy
	// NoConflictsCheck is --no-conflicts-check (see InstanceAddArgs).
	NoConflictsCheck bool
	// Force allows a runtime memory below the minimum memory (-f).
	Force bool
	// Hotplug is --hotplug: disks and NICs added to a running KVM
	// instance are plugged into its qemu (see hotplug.go); what cannot be
	// hot-plugged is refused. On a stopped instance the changes simply
	// apply.
	Hotplug bool
	// HotplugIfPossible is --hotplug-if-possible: hot-plug when it is
	// possible, else the disk and NIC changes of a running instance take
	// effect at its next start, and the plan says so.
	HotplugIfPossible bool
}

// InstanceModifyOp is gnt-instance modify (but -t: InstanceConvertOp).
var InstanceModifyOp = define(&Opcode[ModifyInstanceArgs]{
	ID: OpInstanceSetParams, Command: "instance modify",
	Subject: func(a ModifyInstanceArgs) string { return a.Name },
	Needs: func(st *statefile.State, a ModifyInstanceArgs) Needs {
		n := instanceNeeds(st, a.Name, PartOS, PartVGs)
		if inst, ok := st.Instances[a.Name]; ok && (a.Hotplug || a.HotplugIfPossible) && inst.Hypervisor == hv.KVM {
			if s, err := hv.RuntimeStep(inst.PrimaryNode, a.Name); err == nil {
				n.Probes = append(n.Probes, s)
			}
		}
		return n
	},
	Plan: InstanceModify,
})

// InstanceModify plans parameter and device changes. Like Ganeti without
// hotplug, NIC and parameter changes take effect at the next start; disk
// removal needs a stopped instance, and runtime memory needs a running one.
// With --hotplug (or --hotplug-if-possible), added disks and NICs of a
// running KVM instance are plugged into it at once.
func InstanceModify(env Env, a ModifyInstanceArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, a.Name)
	if err != nil {
		return nil, err
	}
	c := cloneInstance(inst)
	f := env.Facts[inst.PrimaryNode]
	running := f != nil && f.Running != nil && func() bool { _, ok := f.Running[a.Name]; return ok }()
	p := plan.New(plan.InstanceOp(OpInstanceSetParams, a.Name), st.Lineage, st.Serial)
	if len(a.BEParams) > 0 {
		if err := checkBE(a.BEParams); err != nil {
			return nil, err
		}
		mergeParams(&c.BEParams, a.BEParams)
		if err := checkBE(c.BEParams); err != nil {
			return nil, err
		}
	}
	if len(a.HVParams) > 0 {
		mergeParams(&c.HVParams, a.HVParams)
		if _, err := hv.Params(c.Hypervisor, st.Cluster.HVParams[c.Hypervisor], c.HVParams); err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
	}
	if a.RuntimeMemory > 0 {
		if !running {
			return nil, prereq(ErrWrongState, "Instance '%s' is not running; -m changes the memory of a running instance (use -B maxmem/minmem for the next start)", a.Name)
		}
		be := EffectiveBE(&st.Cluster, c.BEParams)
		if a.RuntimeMemory > intParam(be, "maxmem") {
			return nil, prereq(ErrWrongInput, "Runtime memory %d MiB is above the instance's maximum memory %d MiB", a.RuntimeMemory, intParam(be, "maxmem"))
		}
		if min := intParam(be, "minmem"); a.RuntimeMemory < min && !a.Force {
			return nil, prereq(ErrWrongInput, "Instance %s must have memory between %d and %d MiB of memory unless --force is given", a.Name, min, intParam(be, "maxmem"))
		}
		if cur := f.Running[a.Name].MemMiB; a.RuntimeMemory > cur && a.RuntimeMemory-cur > f.MemFree {
			return nil, prereq(ErrWrongState, "Not enough memory on node %s to grow the instance by %d MiB (free %d MiB)", inst.PrimaryNode, a.RuntimeMemory-cur, f.MemFree)
		}
		sa, err := startArgs(env, c, f)
		if err != nil {
			return nil, err
		}
		steps, err := hv.Balloon(sa, a.RuntimeMemory)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("set the runtime memory", plan.Abort, steps...)
	}
	if a.OSType != "" {
		if f == nil || !f.Reachable {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", inst.PrimaryNode, factsErr(f))
		}
		def, variant, err := checkOS(inst.PrimaryNode, f, a.OSType)
		if err != nil {
			return nil, err
		}
		c.OS = joinOS(def.Name, variant)
	}
	if a.Offline != nil {
		switch {
		case *a.Offline && running:
			return nil, prereq(ErrWrongState, "Instance '%s' is running; shut it down before marking it offline", a.Name)
		case *a.Offline:
			c.AdminState = "offline"
		case c.AdminState == "offline":
			c.AdminState = "down"
		}
	}
	rt, why, err := hotplugRuntime(env, inst, a, running)
	if err != nil {
		return nil, err
	}
	if err := modifyDisks(env, p, inst, c, a.Disks, running, f); err != nil {
		return nil, err
	}
	np := newNICPlanner(env, c.Name, c.PrimaryNode, c.NICs, !a.NoConflictsCheck)
	if err := modifyNICs(np, c, a.NICs); err != nil {
		return nil, err
	}
	if rt != nil {
		if err := hotplugSteps(p, inst, c, rt); err != nil {
			return nil, err
		}
	} else if a.HotplugIfPossible && running && len(a.Disks)+len(a.NICs) > 0 {
		p.Notes = append(p.Notes, "Hotplug is not possible ("+why+"): the disk and NIC changes take effect at the next start of "+a.Name)
	}
	if a.BEParams != nil || len(a.Disks) > 0 || len(a.NICs) > 0 {
		if err := checkIPolicy(st, c, a.IgnoreIPolicy); err != nil {
			return nil, err
		}
	}
	if err := p.Set(plan.KindInstance, a.Name, inst, c); err != nil {
		return nil, err
	}
	if err := np.record(p); err != nil {
		return nil, err
	}
	if len(p.Changes) == 0 && len(p.Stages) == 0 {
		return nil, prereq(ErrWrongInput, "No changes submitted")
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

func modifyDisks(env Env, p *plan.Plan, inst, c *statefile.Instance, mods []DiskMod, running bool, f *NodeFacts) error {
	st := env.State
	var create, assemble, rm [][]plan.Step
	var removed []*statefile.Disk
	for _, m := range mods {
		idx := m.Index
		if idx < 0 {
			idx = len(c.Disks)
			if m.Op != "add" {
				idx--
			}
		}
		switch m.Op {
		case "add":
			if c.DiskTemplate == "diskless" {
				return prereq(ErrWrongState, "Cannot add disks to a diskless instance")
			}
			if idx != len(c.Disks) {
				return prereq(ErrWrongInput, "Disks can only be added at the end (index %d or -1)", len(c.Disks))
			}
			nd, err := storage.New(c.DiskTemplate, &st.Cluster, c.Name, c.PrimaryNode, idx, []storage.Spec{m.Spec}, env.NewID)
			if err != nil {
				return prereq(ErrWrongInput, "%v", err)
			}
			if f == nil || !f.Reachable {
				return prereq(ErrEnvironment, "Node %s is not reachable: %s", c.PrimaryNode, factsErr(f))
			}
			if err := checkSpace(c.PrimaryNode, f, c.DiskTemplate, nd, nil); err != nil {
				return err
			}
			steps, err := storage.Create(nd[0], c.PrimaryNode, c.Name)
			if err != nil {
				return prereq(ErrWrongInput, "%v", err)
			}
			create = append(create, steps)
			if c.DisksActive || running {
				steps, err := storage.Assemble(nd[0], c.PrimaryNode, c.Name, idx)
				if err != nil {
					return prereq(ErrWrongInput, "%v", err)
				}
				assemble = append(assemble, steps)
			}
			c.Disks = append(c.Disks, nd[0])
		case "remove":
			if running {
				return prereq(ErrWrongState, "Instance '%s' is running; shut it down before removing disks", c.Name)
			}
			if idx < 0 || idx >= len(c.Disks) {
				return prereq(ErrWrongInput, "Invalid disk index %d", m.Index)
			}
			if idx != len(c.Disks)-1 {
				return prereq(ErrWrongInput, "Only the last disk (index %d or -1) can be removed, so that the others keep their names", len(c.Disks)-1)
			}
			removed = append(removed, c.Disks[idx])
			c.Disks = c.Disks[:idx]
		case "modify":
			if idx < 0 || idx >= len(c.Disks) {
				return prereq(ErrWrongInput, "Invalid disk index %d", m.Index)
			}
			if m.Spec.Mode != "" {
				if m.Spec.Mode != "rw" && m.Spec.Mode != "ro" {
					return prereq(ErrWrongInput, "Disk mode must be rw or ro, not '%s'", m.Spec.Mode)
				}
				c.Disks[idx].Mode = m.Spec.Mode
			}
			if m.Spec.Name != "" {
				c.Disks[idx].Name = m.Spec.Name
			}
		default:
			return prereq(ErrWrongInput, "Unknown disk operation '%s'", m.Op)
		}
	}
	p.AddStages(storage.Stages("create new disks", plan.Abort, create...)...)
	p.AddStages(storage.Stages("activate new disks", plan.Abort, assemble...)...)
	if len(removed) > 0 {
		for _, d := range removed {
			i := slices.Index(inst.Disks, findDisk(inst, d.UUID))
			down, err := storage.Shutdown(d, inst.PrimaryNode, inst.Name, i)
			if err != nil {
				return prereq(ErrWrongState, "%v", err)
			}
			gone, err := storage.Remove(d, inst.PrimaryNode)
			if err != nil {
				return prereq(ErrWrongState, "%v", err)
			}
			rm = append(rm, append(down, gone...))
		}
		p.AddStages(storage.Stages("remove disks", plan.Abort, rm...)...)
	}
	return nil
}

func findDisk(inst *statefile.Instance, uuid string) *statefile.Disk {
	for _, d := range inst.Disks {
		if d.UUID == uuid {
			return d
		}
	}
	return nil
}

// modifyNICs applies the NIC changes to c; np keeps the networks whose
// pools change.
func modifyNICs(np *nicPlanner, c *statefile.Instance, mods []NICMod) error {
	for _, m := range mods {
		idx := m.Index
		if idx < 0 {
			idx = len(c.NICs)
			if m.Op != "add" {
				idx--
			}
		}
		switch m.Op {
		case "add":
			if idx != len(c.NICs) {
				return prereq(ErrWrongInput, "NICs can only be added at the end (index %d or -1)", len(c.NICs))
			}
			n, err := np.add(idx, m.Spec)
			if err != nil {
				return err
			}
			c.NICs = append(c.NICs, n)
		case "remove":
			if idx < 0 || idx >= len(c.NICs) {
				return prereq(ErrWrongInput, "Invalid NIC index %d", m.Index)
			}
			np.remove(c.NICs[idx])
			c.NICs = slices.Delete(c.NICs, idx, idx+1)
		case "modify":
			if idx < 0 || idx >= len(c.NICs) {
				return prereq(ErrWrongInput, "Invalid NIC index %d", m.Index)
			}
			n, err := np.modify(idx, c.NICs[idx], m.Spec)
			if err != nil {
				return err
			}
			c.NICs[idx] = n
		default:
			return prereq(ErrWrongInput, "Unknown NIC operation '%s'", m.Op)
		}
	}
	return nil
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
