package hv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// StartArgs is everything needed to start an instance on a node.
type StartArgs struct {
	Instance *statefile.Instance
	Node     string
	HVParams statefile.Params // effective, from Params
	// MaxMem (MiB) and VCPUs are the effective beparams; zero takes the
	// instance's own beparams.
	MaxMem int64
	VCPUs  int
	// StartMem (MiB) is max(minmem, min(maxmem, node free)), computed by
	// the planner; zero or >= MaxMem means no ballooning.
	StartMem int64
	Links    []string // per disk: the assembled disk's link (DiskLink)
	NICLinks []string // per NIC: the bridge (nicparams link, mode bridged)
	// DefaultMachine is the node qemu's default machine type (from
	// MachineScript), used when hvparam machine_version is empty; "" means
	// "pc". Resolving it on the node, as Ganeti does, keeps the machine
	// type stable across live migration to a node with another qemu.
	DefaultMachine string
	Incoming       string // migration target: "tcp:IP:PORT" or "unix:/PATH" (tunnel); "" normally
	// PCISlots, when set, places every PCI device (by device id) on the
	// slot the source qemu has it on (Runtime.Slots): a migration target
	// must match a source whose devices were hot-plugged, which no longer
	// follow the start's order.
	PCISlots map[string]string
	Paused   bool // leave the CPUs stopped (start --paused)
}

// kvmDevice is a disk's or NIC's placement (Ganeti's hvinfo).
type kvmDevice struct {
	Driver string `json:"driver"`
	ID     string `json:"id"`
	Bus    string `json:"bus,omitempty"`
	Addr   string `json:"addr,omitempty"`
	// SCSI placement
	Channel *int `json:"channel,omitempty"`
	SCSIID  *int `json:"scsi-id,omitempty"`
	LUN     *int `json:"lun,omitempty"`
}

// deviceID is Ganeti's KVM device id: the type and the first three dash
// groups of the object's UUID (reference §7.3).
func deviceID(typ, uuid string) (string, error) {
	if !uuidRE.MatchString(uuid) {
		return "", fmt.Errorf("%s UUID %q is not a lowercase UUID", typ, uuid)
	}
	p := strings.Split(uuid, "-")
	return typ + "-" + strings.Join(p[:3], "-"), nil
}

// TapName is the host tap interface of NIC idx: "gt", the first 8 hex
// digits of its UUID, and the index (at most 15 bytes, Linux's limit).
// Deriving it from the UUID makes it stable across reboots and unique on a
// node without any allocation.
func TapName(nicUUID string, idx int) string {
	h := strings.ReplaceAll(nicUUID, "-", "")
	if len(h) > 8 {
		h = h[:8]
	}
	return "gt" + h + strconv.Itoa(idx)
}

// slots hands out PCI slots on pci.0 from kvm_pci_reservations (default
// 12 = 0xc, QEMU's own devices sit below) up to 31, in the order Ganeti
// does: all disks first, then all NICs.
type slots struct{ next, max int }

// place is the slot of device id: the one fixed, or the next free.
func (s *slots) place(fixed map[string]string, id string) (string, error) {
	if fixed == nil {
		return s.take()
	}
	a, ok := fixed[id]
	if !ok {
		return "", fmt.Errorf("device %s is not in the source qemu's runtime file", id)
	}
	return a, nil
}

func (s *slots) take() (string, error) {
	if s.next > s.max {
		return "", fmt.Errorf("no free PCI slot on pci.0 (slots 0x%x-0x1f are used)", s.max+1)
	}
	a := fmt.Sprintf("0x%x", s.next)
	s.next++
	return a, nil
}

type kvmTap struct {
	name, bridge string
	vnetHdr, mq  bool
	// pvid is the untagged VLAN and tagged the tagged ones of a NIC's
	// vlan parameter, set on the tap's bridge port (a VLAN-filtering
	// bridge), as Ganeti's kvm-ifup does.
	pvid, tagged string
}

// nicVLAN reads a NIC's vlan parameter (".N", ".N:M:...", ":N:M", "N"),
// as Ganeti's net-common does: a first VLAN not after ":" is the port's
// untagged PVID, the others are tagged.
func nicVLAN(n *statefile.NIC) (pvid string, tagged []string, err error) {
	v, _ := n.NICParams["vlan"].(string)
	if v == "" {
		return "", nil, nil
	}
	if !vlanRE.MatchString(v) {
		return "", nil, fmt.Errorf("bad vlan %q (.N, :N:M or N)", v)
	}
	untagged := v[0] != ':'
	for i, id := range strings.Split(strings.TrimLeft(v, ".:"), ":") {
		if n, err := strconv.Atoi(id); err != nil || n < 1 || n > 4094 {
			return "", nil, fmt.Errorf("bad vlan %q: VLAN ids are 1 to 4094", v)
		}
		if i == 0 && untagged {
			pvid = id
		} else {
			tagged = append(tagged, id)
		}
	}
	return pvid, tagged, nil
}

// kvmStart is a planned KVM start: the full argv, the taps to create and
// the runtime file.
type kvmStart struct {
	argv    []string
	taps    []kvmTap
	runtime []byte
}

// KVMArgv returns the qemu command line Start runs (phase 1 then phase 2
// of Ganeti's _GenerateKVMRuntime/_ExecuteKVMRuntime), for tests and
// migration planning.
func KVMArgv(a StartArgs) ([]string, error) {
	k, err := buildKVM(a)
	if err != nil {
		return nil, err
	}
	return k.argv, nil
}

// unsupported are hvparams whose non-default value this package cannot
// honour yet; starting with them is refused rather than silently ignored.
var unsupported = []string{"cdrom_image_path", "cdrom2_image_path", "floppy_image_path", "spice_bind",
	"soundhw", "security_domain", "usb_mouse"}

func buildKVM(a StartArgs) (*kvmStart, error) {
	inst := a.Instance
	if inst == nil {
		return nil, fmt.Errorf("kvm start: no instance")
	}
	if err := checkName(inst.Name); err != nil {
		return nil, err
	}
	hvp, err := Params(KVM, nil, a.HVParams)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.Name, err)
	}
	for _, k := range unsupported {
		if str(hvp, k) != "" {
			return nil, fmt.Errorf("instance %s: hvparam %s is not supported by ganetictl yet", inst.Name, k)
		}
	}
	if sm := str(hvp, "security_model"); sm != "none" {
		return nil, fmt.Errorf("instance %s: security_model %q is not supported by ganetictl yet (only none)", inst.Name, sm)
	}
	if boolean(hvp, "use_chroot") {
		return nil, fmt.Errorf("instance %s: use_chroot is not supported by ganetictl yet", inst.Name)
	}
	if len(a.Links) != len(inst.Disks) {
		return nil, fmt.Errorf("instance %s: %d disk links for %d disks", inst.Name, len(a.Links), len(inst.Disks))
	}
	if len(a.NICLinks) != len(inst.NICs) {
		return nil, fmt.Errorf("instance %s: %d NIC links for %d NICs", inst.Name, len(a.NICLinks), len(inst.NICs))
	}
	maxmem, err := beInt(inst, "maxmem", a.MaxMem)
	if err != nil {
		return nil, err
	}
	vcpus, err := beInt(inst, "vcpus", int64(a.VCPUs))
	if err != nil {
		return nil, err
	}
	name := inst.Name
	kvmPath := str(hvp, "kvm_path")
	if err := checkPath("kvm_path", kvmPath); err != nil {
		return nil, err
	}

	// Phase 1 (saved in the runtime file).
	cmd := []string{kvmPath, "-name", name, "-m", strconv.FormatInt(maxmem, 10)}
	smp := strconv.FormatInt(vcpus, 10)
	for _, t := range []struct{ k, opt string }{{"cpu_cores", "cores"}, {"cpu_threads", "threads"}, {"cpu_sockets", "sockets"}} {
		if v := integer(hvp, t.k); v > 0 {
			smp += fmt.Sprintf(",%s=%d", t.opt, v)
		}
	}
	cmd = append(cmd, "-smp", smp, "-pidfile", kvmPidFile(name))
	diskType := str(hvp, "disk_type")
	if strings.HasPrefix(diskType, "scsi-") {
		cmd = append(cmd, "-device", str(hvp, "scsi_controller_type")+",id=scsi")
	}
	cmd = append(cmd, "-device", "virtio-balloon", "-daemonize", "-D", KVMLogDir+"/"+name+".log")
	if str(hvp, "reboot_behavior") == "exit" {
		cmd = append(cmd, "-no-reboot")
	}
	machine := str(hvp, "machine_version")
	if machine == "" {
		machine = a.DefaultMachine
	}
	if machine == "" {
		machine = "pc"
	}
	if strings.ContainsAny(machine, ", ") {
		return nil, fmt.Errorf("machine_version %q: must be one machine type name", machine)
	}
	if !boolean(hvp, "acpi") {
		machine += ",acpi=off"
	}
	if str(hvp, "kvm_flag") == "enabled" {
		machine += ",accel=kvm"
	}
	cmd = append(cmd, "-machine", machine)
	if kp := str(hvp, "kernel_path"); kp != "" {
		if err := checkPath("kernel_path", kp); err != nil {
			return nil, err
		}
		cmd = append(cmd, "-kernel", kp)
		if ip := str(hvp, "initrd_path"); ip != "" {
			if err := checkPath("initrd_path", ip); err != nil {
				return nil, err
			}
			cmd = append(cmd, "-initrd", ip)
		}
		appendArg := "root=" + str(hvp, "root_path") + " " + str(hvp, "kernel_args")
		if boolean(hvp, "serial_console") {
			appendArg += fmt.Sprintf(" console=ttyS0,%d", integer(hvp, "serial_speed"))
		}
		cmd = append(cmd, "-append", appendArg)
	}
	if mp := str(hvp, "mem_path"); mp != "" {
		if err := checkPath("mem_path", mp); err != nil {
			return nil, err
		}
		cmd = append(cmd, "-mem-path", mp, "-mem-prealloc")
	}
	cmd = append(cmd, "-monitor", "unix:"+kvmCtrl(name, "monitor")+",server,nowait")
	if boolean(hvp, "serial_console") {
		cmd = append(cmd, "-serial", "unix:"+kvmCtrl(name, "serial")+",server,nowait")
	} else {
		cmd = append(cmd, "-serial", "none")
	}
	cmd = append(cmd, "-usb")
	if vnc := str(hvp, "vnc_bind_address"); vnc != "" {
		if inst.NetworkPort <= 5900 {
			return nil, fmt.Errorf("instance %s: VNC needs an allocated network port above 5900 (have %d)", name, inst.NetworkPort)
		}
		display := inst.NetworkPort - 5900
		var v string
		switch {
		case vnc == "0.0.0.0":
			v = fmt.Sprintf(":%d", display)
		case strings.Contains(vnc, ":"):
			v = fmt.Sprintf("[%s]:%d", vnc, display)
		case strings.HasPrefix(vnc, "/"):
			if err := checkPath("vnc_bind_address", vnc); err != nil {
				return nil, err
			}
			v = "unix:" + vnc + "/" + name + ".vnc"
		default:
			v = fmt.Sprintf("%s:%d", vnc, display)
		}
		if strings.ContainsAny(vnc, ", ") {
			return nil, fmt.Errorf("vnc_bind_address %q: not an address", vnc)
		}
		cmd = append(cmd, "-usbdevice", "tablet", "-vnc", v)
	} else {
		cmd = append(cmd, "-display", "none")
	}
	if boolean(hvp, "use_localtime") {
		cmd = append(cmd, "-rtc", "base=localtime")
	}
	if ct := str(hvp, "cpu_type"); ct != "" {
		cmd = append(cmd, "-cpu", ct)
	}
	if vga := str(hvp, "vga"); vga != "" {
		cmd = append(cmd, "-vga", vga)
	}
	if ud := str(hvp, "usb_devices"); ud != "" {
		for _, d := range strings.Split(ud, ",") {
			cmd = append(cmd, "-usbdevice", d)
		}
	}
	if inst.UUID != "" {
		if !uuidRE.MatchString(inst.UUID) {
			return nil, fmt.Errorf("instance %s: UUID %q is not a lowercase UUID", name, inst.UUID)
		}
		cmd = append(cmd, "-uuid", inst.UUID)
	}
	if boolean(hvp, "use_guest_agent") {
		cmd = append(cmd, "-chardev", "socket,path="+kvmCtrl(name, "qga")+",server,nowait,id=qga0",
			"-device", "virtio-serial,id=qga0", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0")
	}
	if ex := str(hvp, "kvm_extra"); ex != "" {
		// Ganeti 3.0 splits kvm_extra on single spaces; so do we, minus
		// empty words.
		cmd = append(cmd, strings.Fields(ex)...)
	}

	// Device placement: PCI slots for disks first, then NICs (Ganeti's order).
	sl := &slots{next: int(integer(hvp, "kvm_pci_reservations")), max: 31}
	type disk struct {
		d    *statefile.Disk
		link string
		hv   kvmDevice
	}
	var disks []disk
	for i, d := range inst.Disks {
		if d.Mode == "ro" {
			return nil, fmt.Errorf("instance %s: disk %d is read-only; KVM does not support read-only disks", name, i)
		}
		id, err := deviceID("disk", d.UUID)
		if err != nil {
			return nil, fmt.Errorf("instance %s disk %d: %w", name, i, err)
		}
		if err := checkPath("disk link", a.Links[i]); err != nil {
			return nil, err
		}
		hv := kvmDevice{ID: id}
		switch {
		case diskType == "paravirtual":
			hv.Driver, hv.Bus = "virtio-blk-pci", "pci.0"
			if hv.Addr, err = sl.place(a.PCISlots, id); err != nil {
				return nil, err
			}
		case diskType == "ide":
			hv.Driver = "ide-hd"
		default: // SCSI: one target per disk on the controller's bus
			c, id, lun := 0, i, 0
			hv.Driver, hv.Bus, hv.Channel, hv.SCSIID, hv.LUN = diskType, "scsi.0", &c, &id, &lun
		}
		disks = append(disks, disk{d, a.Links[i], hv})
	}
	type nic struct {
		n            *statefile.NIC
		hv           kvmDevice
		tap          string
		pvid, tagged string
	}
	var nics []nic
	nicDriver := str(hvp, "nic_type")
	if nicDriver == "paravirtual" {
		nicDriver = "virtio-net-pci"
	}
	for i, n := range inst.NICs {
		id, err := deviceID("nic", n.UUID)
		if err != nil {
			return nil, fmt.Errorf("instance %s NIC %d: %w", name, i, err)
		}
		if !macRE.MatchString(n.MAC) {
			return nil, fmt.Errorf("instance %s NIC %d: bad MAC %q", name, i, n.MAC)
		}
		if !linkRE.MatchString(a.NICLinks[i]) {
			return nil, fmt.Errorf("instance %s NIC %d: bad bridge name %q", name, i, a.NICLinks[i])
		}
		pvid, tagged, err := nicVLAN(n)
		if err != nil {
			return nil, fmt.Errorf("instance %s NIC %d: %w", name, i, err)
		}
		addr, err := sl.place(a.PCISlots, id)
		if err != nil {
			return nil, err
		}
		nics = append(nics, nic{n, kvmDevice{Driver: nicDriver, ID: id, Bus: "pci.0", Addr: addr}, TapName(n.UUID, i), pvid, strings.Join(tagged, ",")})
	}

	// Phase 2.
	phase1 := append([]string(nil), cmd...)
	if km := str(hvp, "keymap"); km != "" {
		cmd = append(cmd, "-k", km)
	}
	queues := max(integer(hvp, "virtio_net_queues"), 1)
	var taps []kvmTap
	if len(nics) == 0 {
		cmd = append(cmd, "-net", "none")
	}
	for i, n := range nics {
		nd := "type=tap,id=" + n.hv.ID + ",ifname=" + n.tap + ",script=no,downscript=no"
		mq := queues > 1 && n.hv.Driver == "virtio-net-pci"
		if mq {
			nd += fmt.Sprintf(",queues=%d", queues)
		}
		if boolean(hvp, "vhost_net") {
			nd += ",vhost=on"
		}
		dev := fmt.Sprintf("%s,id=%s,bus=%s,addr=%s,netdev=%s,mac=%s", n.hv.Driver, n.hv.ID, n.hv.Bus, n.hv.Addr, n.hv.ID, n.n.MAC)
		if mq {
			dev += fmt.Sprintf(",mq=on,vectors=%d", 2*queues+2)
		}
		if i == 0 && str(hvp, "boot_order") == "network" {
			dev += ",bootindex=1"
		}
		cmd = append(cmd, "-netdev", nd, "-device", dev)
		taps = append(taps, kvmTap{n.tap, a.NICLinks[i], boolean(hvp, "vnet_hdr"), mq, n.pvid, n.tagged})
	}
	if a.Incoming != "" {
		if strings.ContainsAny(a.Incoming, " ,") || !strings.HasPrefix(a.Incoming, "tcp:") && !strings.HasPrefix(a.Incoming, "unix:/") {
			return nil, fmt.Errorf("incoming %q: want tcp:IP:PORT or unix:/PATH", a.Incoming)
		}
		cmd = append(cmd, "-incoming", a.Incoming)
	}
	cmd = append(cmd, "-qmp", "unix:"+kvmCtrl(name, "qmp")+",server,nowait",
		"-qmp", "unix:"+kvmCtrl(name, "kvmd")+",server,nowait")
	for _, d := range disks {
		o := kvmDiskOptsOf(hvp, d.d)
		dev := d.hv.Driver + ",id=" + d.hv.ID
		switch {
		case d.hv.Addr != "":
			dev += ",bus=" + d.hv.Bus + ",addr=" + d.hv.Addr
		case d.hv.SCSIID != nil:
			dev += fmt.Sprintf(",bus=%s,channel=%d,scsi-id=%d,lun=%d", d.hv.Bus, *d.hv.Channel, *d.hv.SCSIID, *d.hv.LUN)
		}
		dev += ",drive=" + d.hv.ID + ",write-cache=" + o.writeCache
		bd := fmt.Sprintf("driver=raw,node-name=%s,discard=%s,cache.direct=%s,cache.no-flush=%s,file.driver=%s,file.filename=%s,file.aio=%s",
			d.hv.ID, o.discard, o.direct, o.noFlush, o.fileDriver, d.link, o.aio)
		cmd = append(cmd, "-device", dev, "-blockdev", bd)
	}
	if a.Incoming == "" {
		cmd = append(cmd, "-S")
	}

	// Runtime file: [phase-1 argv, NIC dicts, hvparams, [[disk dict, link, uri]]].
	nicDicts := []kvmNICDict{}
	for i, n := range nics {
		nicDicts = append(nicDicts, nicDictOf(n.n, a.NICLinks[i], n.hv))
	}
	diskDicts := [][]any{}
	for _, d := range disks {
		diskDicts = append(diskDicts, diskEntryOf(d.d, d.link, d.hv))
	}
	rt, err := json.Marshal([]any{phase1, nicDicts, hvp, diskDicts})
	if err != nil {
		return nil, err
	}
	return &kvmStart{argv: cmd, taps: taps, runtime: rt}, nil
}

// kvmDiskOpts are a disk's -blockdev and -device options ("on"/"off"),
// shared by start and hotplug.
type kvmDiskOpts struct {
	writeCache, direct, noFlush, discard, fileDriver, aio string
}

func kvmDiskOptsOf(hvp statefile.Params, d *statefile.Disk) kvmDiskOpts {
	o := kvmDiskOpts{writeCache: "on", direct: "off", noFlush: "off", discard: "ignore", fileDriver: "host_device", aio: str(hvp, "disk_aio")}
	switch str(hvp, "disk_cache") {
	case "none":
		o.direct = "on"
	case "writethrough":
		o.writeCache = "off"
	}
	if str(hvp, "disk_discard") == "unmap" {
		o.discard = "unmap"
	}
	switch d.DevType {
	case "sharedfile", "blockdev", "ext", "gluster":
		// Shared storage other than rbd: Ganeti forces cache=none.
		o.writeCache, o.direct = "on", "on"
	}
	switch d.DevType {
	case "file", "sharedfile", "gluster":
		o.fileDriver = "file"
	}
	return o
}

// kvmNICDict is a NIC in the runtime file (Ganeti's NIC.ToDict with hvinfo).
type kvmNICDict struct {
	UUID      string           `json:"uuid"`
	MAC       string           `json:"mac"`
	IP        *string          `json:"ip"`
	Name      *string          `json:"name"`
	NICParams statefile.Params `json:"nicparams"`
	HVInfo    kvmDevice        `json:"hvinfo"`
}

// kvmDiskDict is a disk in the runtime file.
type kvmDiskDict struct {
	UUID    string    `json:"uuid"`
	DevType string    `json:"dev_type"`
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"`
	IVName  string    `json:"iv_name"`
	HVInfo  kvmDevice `json:"hvinfo"`
}

func nicDictOf(n *statefile.NIC, bridge string, hv kvmDevice) kvmNICDict {
	nd := kvmNICDict{UUID: n.UUID, MAC: n.MAC, NICParams: statefile.Params{"mode": "bridged", "link": bridge}, HVInfo: hv}
	if v, _ := n.NICParams["vlan"].(string); v != "" {
		nd.NICParams["vlan"] = v
	}
	if n.IP != "" {
		nd.IP = &n.IP
	}
	if n.Name != "" {
		nd.Name = &n.Name
	}
	return nd
}

// diskEntryOf is a disk's runtime file entry: [disk dict, link, uri].
func diskEntryOf(d *statefile.Disk, link string, hv kvmDevice) []any {
	return []any{kvmDiskDict{d.UUID, d.DevType, d.Size, d.Mode, d.IVName, hv}, link, nil}
}

// qmpJSON renders one QMP command.
func qmpJSON(cmd string, args map[string]any) string {
	m := map[string]any{"execute": cmd}
	if args != nil {
		m["arguments"] = args
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Start returns the steps that start a.Instance on a.Node: one step (one
// SSH round trip) for KVM, one for Xen. The step's Undo force-stops the
// instance, for a later failure in the same plan.
func Start(a StartArgs) ([]plan.Step, error) {
	if a.Instance == nil {
		return nil, fmt.Errorf("start: no instance")
	}
	switch a.Instance.Hypervisor {
	case KVM:
		return kvmStartSteps(a)
	case XenPVM, XenHVM:
		return xenStartSteps(a)
	}
	return nil, fmt.Errorf("instance %s: unsupported hypervisor %q", a.Instance.Name, a.Instance.Hypervisor)
}

func kvmStartSteps(a StartArgs) ([]plan.Step, error) {
	maxmem, _ := beInt(a.Instance, "maxmem", a.MaxMem)
	post := ""
	if a.StartMem > 0 && a.StartMem < maxmem && a.Incoming == "" {
		post = qmpJSON("balloon", map[string]any{"value": a.StartMem << 20})
	}
	return kvmStartStepsPost(a, post)
}

// kvmStartStepsPost is kvmStartSteps with the QMP command sent after
// qemu is up (balloon, or a migration target's capabilities).
func kvmStartStepsPost(a StartArgs, post string) ([]plan.Step, error) {
	k, err := buildKVM(a)
	if err != nil {
		return nil, err
	}
	cont := "1"
	switch {
	case a.Incoming != "":
		cont = "incoming"
	case a.Paused:
		cont = ""
	}
	argv := []string{"sh", "-c", kvmStartScript, "ganetictl-kvm-start", a.Instance.Name, string(k.runtime), post, cont, strconv.Itoa(len(k.taps))}
	for _, t := range k.taps {
		argv = append(argv, t.name, t.bridge, onOff(t.vnetHdr), onOff(t.mq), t.pvid, t.tagged)
	}
	argv = append(argv, k.argv...)
	undo := kvmStop(a.Instance.Name, a.Node, 0, true)
	desc := fmt.Sprintf("start instance %s (kvm)", a.Instance.Name)
	if a.Incoming != "" {
		desc = fmt.Sprintf("start instance %s (kvm) waiting for migration on %s", a.Instance.Name, a.Incoming)
	}
	return []plan.Step{{Node: a.Node, Action: plan.Create, Desc: desc, Argv: argv, Undo: &undo}}, nil
}

func onOff(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// deciseconds rounds d up to tenths of a second.
func deciseconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+100*time.Millisecond-1)/(100*time.Millisecond)), 10)
}

func kvmStop(inst, node string, timeout time.Duration, force bool) plan.Step {
	desc := fmt.Sprintf("stop instance %s (kvm; powerdown, kill after %s)", inst, timeout)
	if force {
		desc = fmt.Sprintf("stop instance %s (kvm; kill)", inst)
	}
	return plan.Step{Node: node, Action: plan.Remove, Desc: desc,
		Argv: []string{"sh", "-c", kvmStopScript, "ganetictl-kvm-stop", inst, deciseconds(timeout), onOff(force)}}
}

// DefaultShutdownTimeout is Ganeti's shutdown_timeout default.
const DefaultShutdownTimeout = 120 * time.Second

// Stop returns the step that stops inst on node: a soft stop (KVM: QMP
// system_powerdown; Xen: xl shutdown -w), waiting up to timeout, then a
// hard one (KVM: SIGTERM, SIGKILL; Xen: xl destroy), then removal of the
// runtime files, taps and Xen config. force skips the soft stop. Stopping
// a stopped instance succeeds (and cleans up leftovers).
func Stop(hv string, inst, node string, timeout time.Duration, force bool) (plan.Step, error) {
	if err := checkName(inst); err != nil {
		return plan.Step{}, err
	}
	switch hv {
	case KVM:
		return kvmStop(inst, node, timeout, force), nil
	case XenPVM, XenHVM:
		return xenStop(inst, node, timeout, force), nil
	}
	return plan.Step{}, fmt.Errorf("instance %s: unsupported hypervisor %q", inst, hv)
}

// StopInstance is Stop for inst on its primary node, judged by its
// effective hypervisor parameters (cluster: the cluster's for its
// hypervisor): a KVM instance with acpi off has no power button to press,
// so it is killed at once, as Ganeti's hv_kvm does, instead of waiting
// out the timeout for a powerdown that cannot come.
func StopInstance(inst *statefile.Instance, cluster statefile.Params, timeout time.Duration, force bool) (plan.Step, error) {
	if inst == nil {
		return plan.Step{}, fmt.Errorf("stop: no instance")
	}
	if inst.Hypervisor == KVM && !force {
		if p, err := Params(KVM, cluster, inst.HVParams); err == nil && !boolean(p, "acpi") {
			force = true
		}
	}
	return Stop(inst.Hypervisor, inst.Name, inst.PrimaryNode, timeout, force)
}

// Reboot returns the steps of "instance reboot" for kind "soft" or "hard"
// ("full" is stop + start with the disks deactivated in between, which the
// planner composes from Stop and Start). KVM, soft and hard alike: kill
// qemu and start a fresh one from the same arguments — Ganeti does the
// same (its soft reboot follows system_powerdown with an immediate kill;
// QEMU has no in-guest reboot over QMP). Xen soft: xl reboot, waiting for
// the new domain id; Xen hard: xl destroy + create.
func Reboot(a StartArgs, kind string) ([]plan.Step, error) {
	if a.Instance == nil {
		return nil, fmt.Errorf("reboot: no instance")
	}
	hv, name := a.Instance.Hypervisor, a.Instance.Name
	switch kind {
	case "soft", "hard":
	default:
		return nil, fmt.Errorf("reboot type %q: want soft or hard (full is stop + start)", kind)
	}
	if kind == "soft" && (hv == XenPVM || hv == XenHVM) {
		if err := checkName(name); err != nil {
			return nil, err
		}
		return []plan.Step{{Node: a.Node, Action: plan.Exec, Desc: fmt.Sprintf("reboot instance %s (xl reboot)", name),
			Argv: []string{"sh", "-c", xenRebootScript, "ganetictl-xen-reboot", name}}}, nil
	}
	stop, err := Stop(hv, name, a.Node, 0, true)
	if err != nil {
		return nil, err
	}
	start, err := Start(a)
	if err != nil {
		return nil, err
	}
	return append([]plan.Step{stop}, start...), nil
}

// QMP returns a read step that sends QMP commands (JSON objects, see
// QMPCommand) to inst's qemu on node and prints one reply per line
// (ParseQMP). It fails when qemu cannot be reached or a reply is an error.
func QMP(node, inst string, commands ...string) (plan.Step, error) {
	if err := checkName(inst); err != nil {
		return plan.Step{}, err
	}
	argv := append([]string{"sh", "-c", qmpScript, "ganetictl-qmp", QMPSocket(inst)}, commands...)
	return plan.Step{Node: node, Action: plan.Read, Desc: fmt.Sprintf("QMP %s", inst), Argv: argv}, nil
}

// QMPCommand renders one QMP command; args may be nil.
func QMPCommand(cmd string, args map[string]any) string { return qmpJSON(cmd, args) }

// ParseQMP reads the output of a QMP step: each reply's "return" value in
// order, or the first error reply as an error.
func ParseQMP(out []byte) ([]json.RawMessage, error) {
	var rets []json.RawMessage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var m struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("qmp: bad reply %q: %w", line, err)
		}
		if m.Error != nil {
			return nil, fmt.Errorf("qmp: %s: %s", m.Error.Class, m.Error.Desc)
		}
		rets = append(rets, m.Return)
	}
	return rets, nil
}

// Balloon returns the steps that set a running instance's memory to
// memMiB (instance modify -m / --runtime-memory). KVM: QMP balloon. Xen:
// the config file is regenerated with the new memory (Ganeti seds it),
// then xl mem-set. a describes the instance as for Start.
func Balloon(a StartArgs, memMiB int64) ([]plan.Step, error) {
	if a.Instance == nil {
		return nil, fmt.Errorf("balloon: no instance")
	}
	if memMiB <= 0 {
		return nil, fmt.Errorf("instance %s: memory %d MiB: must be positive", a.Instance.Name, memMiB)
	}
	name := a.Instance.Name
	switch a.Instance.Hypervisor {
	case KVM:
		st, err := QMP(a.Node, name, qmpJSON("balloon", map[string]any{"value": memMiB << 20}))
		if err != nil {
			return nil, err
		}
		st.Action, st.Desc = plan.Modify, fmt.Sprintf("set memory of %s to %d MiB (QMP balloon)", name, memMiB)
		return []plan.Step{st}, nil
	case XenPVM, XenHVM:
		a.StartMem = memMiB
		cfg, err := XenConfigFile(a)
		if err != nil {
			return nil, err
		}
		return []plan.Step{
			{Node: a.Node, Action: plan.Modify, Desc: fmt.Sprintf("set memory of %s to %d MiB (xl mem-set)", name, memMiB),
				Argv: []string{"xl", "mem-set", name, strconv.FormatInt(memMiB, 10)}},
			{Node: a.Node, Action: plan.Upload, Desc: fmt.Sprintf("rewrite %s with memory = %d", XenConfig(name), memMiB),
				Path: XenConfig(name), Mode: 0o644, Content: cfg},
		}, nil
	}
	return nil, fmt.Errorf("instance %s: unsupported hypervisor %q", name, a.Instance.Hypervisor)
}

// ConsoleArgv is the node command of `instance console`: the serial
// socket for KVM, `xl console` for Xen. With tty the session has a terminal
// on the node (and the local one is raw), so socat can run it raw with ^]
// to leave; without, the console is streamed as plain bytes (pipes,
// scripts), and ^] still ends it.
func ConsoleArgv(hv, inst string, tty bool) ([]string, error) {
	if err := checkName(inst); err != nil {
		return nil, err
	}
	switch hv {
	case KVM:
		opts := "STDIO,escape=0x1d"
		if tty {
			opts = "STDIO,raw,echo=0,escape=0x1d"
		}
		return []string{"socat", opts, "UNIX-CONNECT:" + SerialSocket(inst)}, nil
	case XenPVM, XenHVM:
		return []string{"xl", "console", inst}, nil
	}
	return nil, fmt.Errorf("instance %s: unsupported hypervisor %q", inst, hv)
}
