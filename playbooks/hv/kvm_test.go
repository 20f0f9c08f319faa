package hv

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/internal/fixtures"
	"github.com/ganetictl/ganetictl/statefile"
)

// goldenInstance is the kvm1 instance of kvm_instance_info.txt.
func goldenInstance() *statefile.Instance {
	return &statefile.Instance{
		Meta: statefile.Meta{UUID: "87a98459-93b9-484b-beea-933f636615d6"},
		Name: "kvm1", Hypervisor: KVM, DiskTemplate: "diskless",
		BEParams: statefile.Params{"maxmem": 128.0, "minmem": 128.0, "vcpus": 1.0},
		NICs:     []*statefile.NIC{{UUID: "7e06ddbf-d0ac-422b-b5a5-926c67959c0b", MAC: "aa:00:00:32:87:6d"}},
	}
}

func goldenStart(t *testing.T) StartArgs {
	hvp, err := Params(KVM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return StartArgs{Instance: goldenInstance(), Node: "node2", HVParams: hvp, StartMem: 128,
		NICLinks: []string{"gbr0"}, DefaultMachine: "pc-i440fx-7.2"}
}

// TestKVMArgvGolden compares the command line with the one Ganeti 3.0.2
// ran. Two deliberate differences: Ganeti's /var/run is our /run (the same
// directory on Debian), and the -netdev names the pre-created tap
// (ifname=...,script=no,downscript=no) where Ganeti passed an open tap fd
// (fd=10), which an agentless orchestrator cannot do.
func TestKVMArgvGolden(t *testing.T) {
	raw := fixtures.ReadReference(t, "ganeti-golden", "kvm_qemu_cmdline.txt")
	var golden string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "/usr/bin/qemu-system-x86_64 ") {
			golden = l
		}
	}
	if golden == "" {
		t.Fatal("no command line in golden file")
	}
	golden = strings.ReplaceAll(golden, "/var/run/ganeti", "/run/ganeti")
	const ganetiNetdev = "type=tap,id=nic-7e06ddbf-d0ac-422b,fd=10"
	const ourNetdev = "type=tap,id=nic-7e06ddbf-d0ac-422b,ifname=gt7e06ddbf0,script=no,downscript=no"
	if !strings.Contains(golden, ganetiNetdev) {
		t.Fatalf("golden has no %s", ganetiNetdev)
	}
	golden = strings.Replace(golden, ganetiNetdev, ourNetdev, 1)

	argv, err := KVMArgv(goldenStart(t))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(golden)
	if !slices.Equal(argv, want) {
		t.Errorf("argv differs from Ganeti's:\n got %s\nwant %s", strings.Join(argv, " "), strings.Join(want, " "))
	}
	if i := slices.Index(argv, "-netdev"); i < 0 || argv[i+1] != ourNetdev {
		t.Errorf("-netdev: got %v", argv)
	}
}

func TestKVMArgvTwoDisks(t *testing.T) {
	a := goldenStart(t)
	a.Instance.DiskTemplate = "file"
	a.Instance.Disks = []*statefile.Disk{
		{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "file", Mode: "rw", Size: 1024},
		{UUID: "11111111-2222-3333-4444-555555555555", DevType: "plain", Mode: "rw", Size: 512},
	}
	a.Links = []string{DiskLink("kvm1", 0), DiskLink("kvm1", 1)}
	argv, err := KVMArgv(a)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(argv, " ")
	// Disks take PCI slots first (0xc, 0xd), then the NIC (0xe), as Ganeti
	// allocates them; on the command line NICs come before disks.
	for _, want := range []string{
		"-device virtio-net-pci,id=nic-7e06ddbf-d0ac-422b,bus=pci.0,addr=0xe,netdev=nic-7e06ddbf-d0ac-422b,mac=aa:00:00:32:87:6d -qmp",
		"-device virtio-blk-pci,id=disk-932df160-7a22-4067,bus=pci.0,addr=0xc,drive=disk-932df160-7a22-4067,write-cache=on " +
			"-blockdev driver=raw,node-name=disk-932df160-7a22-4067,discard=ignore,cache.direct=off,cache.no-flush=off,file.driver=file,file.filename=/run/ganeti/instance-disks/kvm1:0,file.aio=threads",
		"-device virtio-blk-pci,id=disk-11111111-2222-3333,bus=pci.0,addr=0xd,drive=disk-11111111-2222-3333,write-cache=on " +
			"-blockdev driver=raw,node-name=disk-11111111-2222-3333,discard=ignore,cache.direct=off,cache.no-flush=off,file.driver=host_device,file.filename=/run/ganeti/instance-disks/kvm1:1,file.aio=threads -S",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("argv lacks\n  %s\ngot\n  %s", want, got)
		}
	}
	if !strings.HasSuffix(got, " -S") || strings.Count(got, " -S") != 1 {
		t.Errorf("want exactly one trailing -S: %s", got)
	}
}

func TestKVMArgvOptions(t *testing.T) {
	a := goldenStart(t)
	a.HVParams["kvm_flag"] = "enabled"
	a.HVParams["acpi"] = false
	a.HVParams["machine_version"] = "pc-q35-7.2"
	a.HVParams["disk_cache"] = "none"
	a.HVParams["vhost_net"] = true
	a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "plain", Mode: "rw"}}
	a.Links = []string{DiskLink("kvm1", 0)}
	a.Incoming = "tcp:198.18.0.2:8102"
	argv, err := KVMArgv(a)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(argv, " ")
	for _, want := range []string{"-machine pc-q35-7.2,acpi=off,accel=kvm ", ",vhost=on ", "write-cache=on -blockdev", "cache.direct=on,", "-incoming tcp:198.18.0.2:8102 -qmp"} {
		if !strings.Contains(got, want) {
			t.Errorf("argv lacks %q: %s", want, got)
		}
	}
	if strings.Contains(got, " -S") {
		t.Errorf("incoming start must not add -S: %s", got)
	}
}

func TestKVMRefusals(t *testing.T) {
	for name, mod := range map[string]func(*StartArgs){
		"read-only disk": func(a *StartArgs) {
			a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "plain", Mode: "ro"}}
			a.Links = []string{DiskLink("kvm1", 0)}
		},
		"bad name":   func(a *StartArgs) { a.Instance.Name = "a;rm -rf /" },
		"bad bridge": func(a *StartArgs) { a.NICLinks = []string{"br0,x"} },
		"bad link": func(a *StartArgs) {
			a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab"}}
			a.Links = []string{"/x,y"}
		},
		"missing link": func(a *StartArgs) {
			a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab"}}
		},
		"bad mac":        func(a *StartArgs) { a.Instance.NICs[0].MAC = "aa:00:00:32:87:6d,x" },
		"bad nic uuid":   func(a *StartArgs) { a.Instance.NICs[0].UUID = "x" },
		"unknown param":  func(a *StartArgs) { a.HVParams["bogus"] = "1" },
		"unsupported":    func(a *StartArgs) { a.HVParams["cdrom_image_path"] = "/x.iso" },
		"no maxmem":      func(a *StartArgs) { a.Instance.BEParams = nil },
		"machine option": func(a *StartArgs) { a.HVParams["machine_version"] = "pc,accel=xen" },
	} {
		a := goldenStart(t)
		mod(&a)
		if _, err := Start(a); err == nil {
			t.Errorf("%s: Start succeeded", name)
		}
	}
	a := goldenStart(t)
	a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "plain", Mode: "ro"}}
	a.Links = []string{DiskLink("kvm1", 0)}
	if _, err := Start(a); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only disk: %v", err)
	}
}

func TestSlotsExhausted(t *testing.T) {
	a := goldenStart(t)
	a.HVParams["kvm_pci_reservations"] = 31.0
	a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "plain", Mode: "rw"}}
	a.Links = []string{DiskLink("kvm1", 0)}
	if _, err := KVMArgv(a); err == nil || !strings.Contains(err.Error(), "PCI slot") {
		t.Fatalf("want slot exhaustion, got %v", err)
	}
}

func TestDeviceIDAndTap(t *testing.T) {
	id, err := deviceID("disk", "932df160-7a22-4067-a566-0123456789ab")
	if err != nil || id != "disk-932df160-7a22-4067" {
		t.Fatalf("deviceID = %q, %v", id, err)
	}
	if tn := TapName("7e06ddbf-d0ac-422b-b5a5-926c67959c0b", 12); tn != "gt7e06ddbf12" || len(tn) > 15 {
		t.Fatalf("TapName = %q", tn)
	}
}

// TestStartStep checks the shape of the start step: one step, argv passed
// as parameters after a constant script, balloon only below maxmem, cont
// unless paused, and a forced stop as undo.
func TestStartStep(t *testing.T) {
	a := goldenStart(t)
	a.Instance.BEParams["maxmem"] = 256.0
	a.StartMem = 128
	steps, err := Start(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 {
		t.Fatalf("%d steps", len(steps))
	}
	s := steps[0]
	if s.Argv[0] != "sh" || s.Argv[2] != kvmStartScript || s.Argv[3] != "ganetictl-kvm-start" || s.Argv[4] != "kvm1" {
		t.Fatalf("argv head %q", s.Argv[:5])
	}
	var rt []json.RawMessage
	if err := json.Unmarshal([]byte(s.Argv[5]), &rt); err != nil || len(rt) != 4 {
		t.Fatalf("runtime %s: %v", s.Argv[5], err)
	}
	if s.Argv[6] != `{"arguments":{"value":134217728},"execute":"balloon"}` || s.Argv[7] != "1" || s.Argv[8] != "1" {
		t.Fatalf("balloon/cont/ntap = %q", s.Argv[6:9])
	}
	if got := s.Argv[9:15]; !slices.Equal(got, []string{"gt7e06ddbf0", "gbr0", "1", "", "", ""}) {
		t.Fatalf("tap args %q", got)
	}
	if s.Argv[15] != "/usr/bin/qemu-system-x86_64" || s.Argv[len(s.Argv)-1] != "-S" {
		t.Fatalf("qemu argv %q", s.Argv[15:])
	}
	if s.Undo == nil || s.Undo.Argv[2] != kvmStopScript || s.Undo.Argv[len(s.Undo.Argv)-1] != "1" {
		t.Fatalf("undo %+v", s.Undo)
	}
	for _, sm := range []int64{0, 256, 512} {
		a.StartMem = sm
		steps, _ := Start(a)
		if steps[0].Argv[6] != "" {
			t.Errorf("StartMem %d: balloon %q, want none", sm, steps[0].Argv[6])
		}
	}
	a.Paused = true
	steps, _ = Start(a)
	if steps[0].Argv[7] != "" {
		t.Errorf("paused: cont %q", steps[0].Argv[7])
	}
}

func TestConsoleArgv(t *testing.T) {
	got, err := ConsoleArgv(KVM, "kvm1", false)
	if err != nil || strings.Join(got, " ") != "socat STDIO,escape=0x1d UNIX-CONNECT:/run/ganeti/kvm-hypervisor/ctrl/kvm1.serial" {
		t.Fatalf("%q %v", got, err)
	}
	if got, _ := ConsoleArgv(KVM, "kvm1", true); got[1] != "STDIO,raw,echo=0,escape=0x1d" {
		t.Errorf("with a tty: %q", got)
	}
	got, _ = ConsoleArgv(XenPVM, "x1", false)
	if strings.Join(got, " ") != "xl console x1" {
		t.Fatalf("%q", got)
	}
	if _, err := ConsoleArgv(KVM, "$(id)", false); err == nil {
		t.Fatal("bad name accepted")
	}
}

// TestStartVLAN checks that a NIC's vlan parameter reaches the tap's setup
// as Ganeti's net-common reads it: the first VLAN untagged (PVID) unless
// the value starts with ":", the others tagged; bad values are refused.
func TestStartVLAN(t *testing.T) {
	for _, c := range []struct {
		vlan, pvid, tagged, err string
	}{
		{vlan: "", pvid: "", tagged: ""},
		{vlan: ".100", pvid: "100", tagged: ""},
		{vlan: "100", pvid: "100", tagged: ""},
		{vlan: ".100:200:300", pvid: "100", tagged: "200,300"},
		{vlan: ":200:300", pvid: "", tagged: "200,300"},
		{vlan: ".0", err: "VLAN ids are 1 to 4094"},
		{vlan: ".5000", err: "VLAN ids are 1 to 4094"},
		{vlan: "x1", err: "bad vlan"},
	} {
		a := goldenStart(t)
		a.Instance.NICs[0].NICParams = statefile.Params{"mode": "bridged", "link": "gbr0", "vlan": c.vlan}
		steps, err := Start(a)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("vlan %q: %v, want %q", c.vlan, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("vlan %q: %v", c.vlan, err)
		}
		if got := steps[0].Argv[9:15]; !slices.Equal(got, []string{"gt7e06ddbf0", "gbr0", "1", "", c.pvid, c.tagged}) {
			t.Errorf("vlan %q: tap args %q", c.vlan, got)
		}
	}
}

// TestStopInstanceACPI: with acpi off (cluster or instance) a KVM stop
// kills qemu at once, as Ganeti's hv_kvm does; with acpi on it asks for a
// powerdown and waits up to the timeout; the instance's value wins.
func TestStopInstanceACPI(t *testing.T) {
	for _, tc := range []struct {
		name              string
		cluster, instance statefile.Params
		kill              bool
	}{
		{"default", nil, nil, false},
		{"cluster acpi off", statefile.Params{"acpi": false}, nil, true},
		{"cluster acpi off as a string", statefile.Params{"acpi": "false"}, nil, true},
		{"instance acpi off", nil, statefile.Params{"acpi": false}, true},
		{"instance acpi on over the cluster's off", statefile.Params{"acpi": false}, statefile.Params{"acpi": true}, false},
	} {
		inst := &statefile.Instance{Name: "web1", PrimaryNode: "node1", Hypervisor: KVM, HVParams: tc.instance}
		st, err := StopInstance(inst, tc.cluster, 30*time.Second, false)
		if err != nil {
			t.Fatal(err)
		}
		force := st.Argv[len(st.Argv)-1] == "1"
		if force != tc.kill || strings.Contains(st.Desc, "powerdown") == tc.kill || st.Node != "node1" {
			t.Errorf("%s: kill=%v, step %q %q", tc.name, force, st.Desc, st.Argv[len(st.Argv)-3:])
		}
	}
}
