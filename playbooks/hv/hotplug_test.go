package hv

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

// TestHotplugSlots: hot-added devices take the free slots after those the
// runtime file shows, the runtime file then lists them (a second hotplug
// or a migration sees them), and a migration target started with the
// source's slots keeps them where the start's order would not.
func TestHotplugSlots(t *testing.T) {
	a := goldenStart(t)
	a.Instance.DiskTemplate = "plain"
	a.Instance.Disks = []*statefile.Disk{{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "plain", Mode: "rw", Size: 1024}}
	a.Links = []string{DiskLink("kvm1", 0)}
	rt := runtimeOf(t, a)
	d := &statefile.Disk{UUID: "11111111-2222-3333-4444-555555555555", DevType: "plain", Mode: "rw", Size: 512}
	s, err := HotplugDisk(a.Instance, "node2", rt, 1, d, DiskLink("kvm1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Desc, "slot 0xe") || !strings.Contains(s.Argv[8], `"addr":"0xe"`) || !strings.Contains(s.Argv[8], `"drive":"disk-11111111-2222-3333"`) {
		t.Errorf("disk hotplug: %s\n%q", s.Desc, s.Argv)
	}
	var bd map[string]any
	if err := json.Unmarshal([]byte(s.Argv[7]), &bd); err != nil || bd["execute"] != "blockdev-add" {
		t.Fatalf("blockdev-add %q: %v", s.Argv[7], err)
	}
	if s.Undo == nil || !strings.Contains(strings.Join(s.Undo.Argv, " "), `"device_del"`) {
		t.Errorf("undo: %+v", s.Undo)
	}
	nic := &statefile.NIC{UUID: "22222222-3333-4444-5555-666666666666", MAC: "aa:00:00:00:00:02", NICParams: statefile.Params{"link": "gbr1"}}
	n, err := HotplugNIC(a.Instance, "node2", rt, 1, nic)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.Desc, "slot 0xf") || n.Argv[6] != TapName(nic.UUID, 1) || n.Argv[7] != "gbr1" {
		t.Errorf("NIC hotplug: %s\n%q", n.Desc, n.Argv)
	}
	// The runtime file the NIC step writes knows all four devices.
	after, err := ParseRuntime([]byte(n.Argv[12]))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"disk-932df160-7a22-4067": "0xc", "nic-7e06ddbf-d0ac-422b": "0xd", "disk-11111111-2222-3333": "0xe", "nic-22222222-3333-4444": "0xf"}
	for id, addr := range want {
		if after.Slots()[id] != addr {
			t.Errorf("runtime slots %v, want %v", after.Slots(), want)
			break
		}
	}
	// A migration target of the instance as it now is.
	a.Instance.Disks = append(a.Instance.Disks, d)
	a.Instance.NICs = append(a.Instance.NICs, nic)
	a.Links = append(a.Links, DiskLink("kvm1", 1))
	a.NICLinks = append(a.NICLinks, "gbr1")
	a.PCISlots = after.Slots()
	argv, err := KVMArgv(a)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(argv, " ")
	for _, w := range []string{"id=disk-11111111-2222-3333,bus=pci.0,addr=0xe,", "id=nic-7e06ddbf-d0ac-422b,bus=pci.0,addr=0xd,", "id=nic-22222222-3333-4444,bus=pci.0,addr=0xf,"} {
		if !strings.Contains(got, w) {
			t.Errorf("target argv lacks %s:\n%s", w, got)
		}
	}
	delete(a.PCISlots, "nic-22222222-3333-4444")
	if _, err := KVMArgv(a); err == nil || !strings.Contains(err.Error(), "not in the source qemu's runtime file") {
		t.Errorf("a device the source lacks: %v", err)
	}
	// Slots run out at 0x1f.
	for i := 0x10; i <= 0x1f; i++ {
		if _, err := rt.freeSlot(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rt.freeSlot(); err == nil {
		t.Error("a 21st slot")
	}
}

// TestHotplugDiskType: only paravirtual disks sit on PCI slots.
func TestHotplugDiskType(t *testing.T) {
	a := goldenStart(t)
	a.HVParams["disk_type"] = "ide"
	rt := runtimeOf(t, a)
	if err := rt.CanHotplugDisks(); err == nil || !strings.Contains(err.Error(), "disk_type ide") {
		t.Errorf("ide: %v", err)
	}
	if _, err := ParseRuntime([]byte(`[[], []]`)); err == nil {
		t.Error("a runtime file of 2 parts parsed")
	}
}

// runtimeOf is the runtime file Start writes for a, parsed as hotplug reads it.
func runtimeOf(t *testing.T, a StartArgs) *Runtime {
	t.Helper()
	b, err := KVMRuntime(a)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ParseRuntime(b)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}
