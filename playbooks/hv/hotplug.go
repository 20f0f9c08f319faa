package hv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// KVM hotplug (Ganeti 3.0's hv_kvm HotAddDevice): a NIC or disk is added
// to a running qemu over QMP, on a PCI slot of pci.0 that the running qemu
// does not use, and the instance's runtime file is updated with the
// device so that later operations know it. The slot is chosen from the
// runtime file, which the planner reads through RuntimeStep before it
// plans: the plan then shows the slot, and no step has to parse JSON.

// RuntimeStep is the read-only probe that prints inst's runtime file on
// node (nothing when inst does not run there).
func RuntimeStep(node, inst string) (plan.Step, error) {
	if err := checkName(inst); err != nil {
		return plan.Step{}, err
	}
	return plan.Step{Node: node, Action: plan.Read, Desc: fmt.Sprintf("read the KVM runtime file of %s", inst),
		Argv: []string{"sh", "-c", RuntimeScript, "ganetictl-kvm-runtime", inst}}, nil
}

// Runtime is a running instance's runtime file, as hotplug extends it.
type Runtime struct {
	phase1, hvRaw json.RawMessage
	nics, disks   []json.RawMessage
	hvp           statefile.Params // effective: what the running qemu was started with
	used          map[int]bool     // PCI slots of pci.0 its devices use
	slots         map[string]string
}

// ParseRuntime reads a runtime file written by Start or a hotplug.
func ParseRuntime(b []byte) (*Runtime, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return nil, fmt.Errorf("runtime file: %w", err)
	}
	if len(parts) != 4 {
		return nil, fmt.Errorf("runtime file: %d parts, want 4 (argv, NICs, hvparams, disks)", len(parts))
	}
	r := &Runtime{phase1: parts[0], hvRaw: parts[2], used: map[int]bool{}, slots: map[string]string{}}
	var hvp statefile.Params
	if err := json.Unmarshal(parts[2], &hvp); err != nil {
		return nil, fmt.Errorf("runtime file hvparams: %w", err)
	}
	var err error
	if r.hvp, err = Params(KVM, nil, hvp); err != nil {
		return nil, fmt.Errorf("runtime file hvparams: %w", err)
	}
	if err := json.Unmarshal(parts[1], &r.nics); err != nil {
		return nil, fmt.Errorf("runtime file NICs: %w", err)
	}
	if err := json.Unmarshal(parts[3], &r.disks); err != nil {
		return nil, fmt.Errorf("runtime file disks: %w", err)
	}
	for _, n := range r.nics {
		var d kvmNICDict
		if err := json.Unmarshal(n, &d); err != nil {
			return nil, fmt.Errorf("runtime file NIC: %w", err)
		}
		if err := r.use(d.HVInfo); err != nil {
			return nil, err
		}
	}
	for _, e := range r.disks {
		var entry []json.RawMessage
		var d kvmDiskDict
		if err := json.Unmarshal(e, &entry); err != nil || len(entry) == 0 {
			return nil, fmt.Errorf("runtime file disk: not [disk, link, uri]")
		}
		if err := json.Unmarshal(entry[0], &d); err != nil {
			return nil, fmt.Errorf("runtime file disk: %w", err)
		}
		if err := r.use(d.HVInfo); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Runtime) use(d kvmDevice) error {
	if d.Bus != "pci.0" || d.Addr == "" {
		return nil
	}
	n, err := strconv.ParseInt(d.Addr, 0, 0)
	if err != nil {
		return fmt.Errorf("runtime file: device %s: bad PCI address %q", d.ID, d.Addr)
	}
	r.used[int(n)] = true
	r.slots[d.ID] = d.Addr
	return nil
}

// Slots are the PCI slots of the running qemu's devices, by device id,
// for a migration target (StartArgs.PCISlots).
func (r *Runtime) Slots() map[string]string { return r.slots }

// freeSlot takes the lowest PCI slot from kvm_pci_reservations up that no
// device of the running qemu uses (Ganeti's _GetFreePCISlot).
func (r *Runtime) freeSlot() (string, error) {
	for s := int(integer(r.hvp, "kvm_pci_reservations")); s <= 31; s++ {
		if !r.used[s] {
			r.used[s] = true
			return fmt.Sprintf("0x%x", s), nil
		}
	}
	return "", fmt.Errorf("no free PCI slot on pci.0")
}

// Bytes is the runtime file's content.
func (r *Runtime) Bytes() []byte {
	b, _ := json.Marshal([]any{r.phase1, r.nics, r.hvRaw, r.disks})
	return b
}

// HotplugNIC returns the step that hot-adds nic, NIC idx of inst, to inst
// running on node (whose runtime file is rt, which it extends): the tap
// as Start creates it, QMP netdev_add and device_add on a free slot, the
// runtime file rewritten. Its Undo unplugs it again (device_del,
// netdev_del, the tap deleted, the runtime file restored).
func HotplugNIC(inst *statefile.Instance, node string, rt *Runtime, idx int, nic *statefile.NIC) (plan.Step, error) {
	if err := checkName(inst.Name); err != nil {
		return plan.Step{}, err
	}
	id, err := deviceID("nic", nic.UUID)
	if err != nil {
		return plan.Step{}, fmt.Errorf("instance %s NIC %d: %w", inst.Name, idx, err)
	}
	if !macRE.MatchString(nic.MAC) {
		return plan.Step{}, fmt.Errorf("instance %s NIC %d: bad MAC %q", inst.Name, idx, nic.MAC)
	}
	bridge, _ := nic.NICParams["link"].(string)
	if !linkRE.MatchString(bridge) {
		return plan.Step{}, fmt.Errorf("instance %s NIC %d: bad bridge name %q", inst.Name, idx, bridge)
	}
	pvid, tagged, err := nicVLAN(nic)
	if err != nil {
		return plan.Step{}, fmt.Errorf("instance %s NIC %d: %w", inst.Name, idx, err)
	}
	hvp := rt.hvp
	driver := str(hvp, "nic_type")
	if driver == "paravirtual" {
		driver = "virtio-net-pci"
	}
	addr, err := rt.freeSlot()
	if err != nil {
		return plan.Step{}, fmt.Errorf("instance %s NIC %d: %w", inst.Name, idx, err)
	}
	dev := kvmDevice{Driver: driver, ID: id, Bus: "pci.0", Addr: addr}
	tap := TapName(nic.UUID, idx)
	queues := max(integer(hvp, "virtio_net_queues"), 1)
	mq := queues > 1 && driver == "virtio-net-pci"
	nd := map[string]any{"type": "tap", "id": id, "ifname": tap, "script": "no", "downscript": "no"}
	da := map[string]any{"driver": driver, "id": id, "bus": dev.Bus, "addr": addr, "netdev": id, "mac": nic.MAC}
	if mq {
		nd["queues"] = queues
		da["mq"], da["vectors"] = true, 2*queues+2
	}
	if boolean(hvp, "vhost_net") {
		nd["vhost"] = true
	}
	before := string(rt.Bytes())
	entry, _ := json.Marshal(nicDictOf(nic, bridge, dev))
	rt.nics = append(rt.nics, entry)
	ndel := qmpJSON("netdev_del", map[string]any{"id": id})
	undo := plan.Step{Node: node, Action: plan.Remove, Desc: fmt.Sprintf("unplug NIC %d of %s (QMP device_del, netdev_del; tap %s deleted)", idx, inst.Name, tap),
		Argv: []string{"sh", "-c", kvmUnplugNICScript, "ganetictl-kvm-unplug-nic", inst.Name, strconv.Itoa(idx), tap, before,
			qmpJSON("device_del", map[string]any{"id": id}), ndel}}
	return plan.Step{Node: node, Action: plan.Create,
		Desc: fmt.Sprintf("hot-plug NIC %d of %s (tap %s on %s, %s %s at pci.0 slot %s, MAC %s)", idx, inst.Name, tap, bridge, driver, id, addr, nic.MAC),
		Argv: []string{"sh", "-c", kvmHotplugNICScript, "ganetictl-kvm-hotplug-nic", inst.Name, strconv.Itoa(idx), tap, bridge,
			onOff(boolean(hvp, "vnet_hdr")), onOff(mq), pvid, strings.Join(tagged, ","), string(rt.Bytes()),
			qmpJSON("netdev_add", nd), qmpJSON("device_add", da), ndel},
		Undo: &undo}, nil
}

// HotplugDisk returns the step that hot-adds disk d, disk idx of inst,
// already activated at link, to inst running on node (runtime file rt,
// which it extends): QMP blockdev-add with Start's -blockdev options and
// device_add on a free slot, the runtime file rewritten. Only
// paravirtual (virtio-blk-pci) disks sit on PCI slots; other disk types
// are refused. Its Undo: device_del, blockdev-del, the runtime file
// restored.
func HotplugDisk(inst *statefile.Instance, node string, rt *Runtime, idx int, d *statefile.Disk, link string) (plan.Step, error) {
	if err := checkName(inst.Name); err != nil {
		return plan.Step{}, err
	}
	hvp := rt.hvp
	if dt := str(hvp, "disk_type"); dt != "paravirtual" {
		return plan.Step{}, fmt.Errorf("instance %s: hotplug of disk_type %s disks is not supported (only paravirtual)", inst.Name, dt)
	}
	if d.Mode == "ro" {
		return plan.Step{}, fmt.Errorf("instance %s: disk %d is read-only; KVM does not support read-only disks", inst.Name, idx)
	}
	id, err := deviceID("disk", d.UUID)
	if err != nil {
		return plan.Step{}, fmt.Errorf("instance %s disk %d: %w", inst.Name, idx, err)
	}
	if err := checkPath("disk link", link); err != nil {
		return plan.Step{}, err
	}
	addr, err := rt.freeSlot()
	if err != nil {
		return plan.Step{}, fmt.Errorf("instance %s disk %d: %w", inst.Name, idx, err)
	}
	dev := kvmDevice{Driver: "virtio-blk-pci", ID: id, Bus: "pci.0", Addr: addr}
	o := kvmDiskOptsOf(hvp, d)
	bd := map[string]any{"driver": "raw", "node-name": id, "discard": o.discard,
		"cache": map[string]any{"direct": o.direct == "on", "no-flush": o.noFlush == "on"},
		"file":  map[string]any{"driver": o.fileDriver, "filename": link, "aio": o.aio}}
	da := map[string]any{"driver": dev.Driver, "id": id, "bus": dev.Bus, "addr": addr, "drive": id, "write-cache": o.writeCache}
	before := string(rt.Bytes())
	entry, _ := json.Marshal(diskEntryOf(d, link, dev))
	rt.disks = append(rt.disks, entry)
	bdel := qmpJSON("blockdev-del", map[string]any{"node-name": id})
	undo := plan.Step{Node: node, Action: plan.Remove, Desc: fmt.Sprintf("unplug disk %d of %s (QMP device_del, blockdev-del)", idx, inst.Name),
		Argv: []string{"sh", "-c", kvmUnplugDiskScript, "ganetictl-kvm-unplug-disk", inst.Name, before,
			qmpJSON("device_del", map[string]any{"id": id}), bdel}}
	return plan.Step{Node: node, Action: plan.Create,
		Desc: fmt.Sprintf("hot-plug disk %d of %s (%s, %s %s at pci.0 slot %s)", idx, inst.Name, link, dev.Driver, id, addr),
		Argv: []string{"sh", "-c", kvmHotplugDiskScript, "ganetictl-kvm-hotplug-disk", inst.Name, link, string(rt.Bytes()),
			qmpJSON("blockdev-add", bd), qmpJSON("device_add", da), bdel},
		Undo: &undo}, nil
}

// CanHotplugDisks says whether disks can be hot-plugged into the running
// qemu: only paravirtual ones sit on PCI slots.
func (r *Runtime) CanHotplugDisks() error {
	if dt := str(r.hvp, "disk_type"); dt != "paravirtual" {
		return fmt.Errorf("hotplug of disk_type %s disks is not supported (only paravirtual)", dt)
	}
	return nil
}

// KVMRuntime is the runtime file Start writes for a, for tests and for
// planners that need a running instance's runtime without a probe.
func KVMRuntime(a StartArgs) ([]byte, error) {
	k, err := buildKVM(a)
	if err != nil {
		return nil, err
	}
	return k.runtime, nil
}
