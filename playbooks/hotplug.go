package playbooks

import (
	"fmt"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// Hotplug for instance modify (Ganeti's --hotplug): disks and NICs added
// to a running KVM instance are plugged into its qemu over QMP. Removal
// and NIC changes would need a hot-unplug, which a guest has to complete
// (ACPI); ganetictl cannot wait for a guest it does not know, so those
// are refused with --hotplug and left to the next start otherwise.

// hotplugRuntime decides whether a's device changes are hot-plugged: it
// returns the running qemu's runtime file (from InstanceModifyOp's probe)
// when they are, or why not (for --hotplug-if-possible's note). --hotplug
// refuses what it cannot do; on a stopped instance there is nothing to
// hot-plug and the changes simply apply.
func hotplugRuntime(env Env, inst *statefile.Instance, a ModifyInstanceArgs, running bool) (*hv.Runtime, string, error) {
	if !a.Hotplug && !a.HotplugIfPossible || len(a.Disks)+len(a.NICs) == 0 {
		return nil, "", nil
	}
	refuse := func(class, why, format string, args ...any) (*hv.Runtime, string, error) {
		if a.Hotplug {
			return nil, "", prereq(class, format, args...)
		}
		return nil, why, nil
	}
	if inst.Hypervisor != hv.KVM {
		return refuse(ErrWrongInput, "hotplug is supported for kvm only",
			"Instance '%s' uses hypervisor %s: hotplug is supported for kvm only (without --hotplug the disk and NIC changes take effect at the next start)", a.Name, inst.Hypervisor)
	}
	if !running {
		return nil, "", nil
	}
	for _, m := range a.Disks {
		if m.Op != "add" {
			return refuse(ErrWrongState, "only added disks and NICs can be hot-plugged",
				"Cannot hot-%s disk %d of running instance '%s': unplugging needs the guest's cooperation (ACPI), which ganetictl cannot count on; shut the instance down first, or drop --hotplug to apply the change at the next start", hotVerb(m.Op), m.Index, a.Name)
		}
	}
	for _, m := range a.NICs {
		if m.Op != "add" {
			return refuse(ErrWrongState, "only added disks and NICs can be hot-plugged",
				"Cannot hot-%s NIC %d of running instance '%s': unplugging needs the guest's cooperation (ACPI), which ganetictl cannot count on; shut the instance down first, or drop --hotplug to apply the change at the next start", hotVerb(m.Op), m.Index, a.Name)
		}
	}
	probe := runtimeProbe(env, inst.PrimaryNode)
	switch {
	case probe == nil:
		return refuse(ErrEnvironment, "its runtime file was not read", "Cannot hot-plug into '%s': its KVM runtime file on %s was not read", a.Name, inst.PrimaryNode)
	case probe.Err != nil:
		return refuse(ErrEnvironment, "its runtime file cannot be read", "Cannot hot-plug into '%s': reading its KVM runtime file on %s: %v", a.Name, inst.PrimaryNode, probe.Err)
	case len(probe.Stdout) == 0:
		return refuse(ErrEnvironment, "it has no runtime file", "Cannot hot-plug into '%s': it has no KVM runtime file on %s (started by another tool?)", a.Name, inst.PrimaryNode)
	}
	rt, err := hv.ParseRuntime(probe.Stdout)
	if err != nil {
		return refuse(ErrEnvironment, "its runtime file cannot be read", "Cannot hot-plug into '%s': %v", a.Name, err)
	}
	if len(a.Disks) > 0 {
		if err := rt.CanHotplugDisks(); err != nil {
			return refuse(ErrWrongInput, err.Error(), "Cannot hot-plug disks into '%s': %v (without --hotplug the disks are attached at the next start)", a.Name, err)
		}
	}
	return rt, "", nil
}

// runtimeProbe is the read of node's KVM runtime file (hv.RuntimeStep)
// that the opcode's Needs asked for, nil if none was made.
func runtimeProbe(env Env, node string) *Probe {
	for i := range env.Probes {
		if env.Probes[i].Node == node {
			return &env.Probes[i]
		}
	}
	return nil
}

func hotVerb(op string) string {
	if op == "remove" {
		return "unplug (remove)"
	}
	return "modify"
}

// hotplugSteps adds the stages that hot-plug c's new disks, then its new
// NICs (those beyond inst's), one stage each: they share the QMP socket
// and the runtime file, which each step rewrites.
func hotplugSteps(p *plan.Plan, inst, c *statefile.Instance, rt *hv.Runtime) error {
	for i := len(inst.Disks); i < len(c.Disks); i++ {
		s, err := hv.HotplugDisk(c, c.PrimaryNode, rt, i, c.Disks[i], storage.LinkPath(c.Name, i))
		if err != nil {
			return prereq(ErrWrongInput, "%v", err)
		}
		p.Add(fmt.Sprintf("hot-plug disk %d", i), plan.Abort, s)
	}
	for i := len(inst.NICs); i < len(c.NICs); i++ {
		s, err := hv.HotplugNIC(c, c.PrimaryNode, rt, i, c.NICs[i])
		if err != nil {
			return prereq(ErrWrongInput, "%v", err)
		}
		p.Add(fmt.Sprintf("hot-plug NIC %d", i), plan.Abort, s)
	}
	return nil
}
