//go:build bed

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
)

// qmp sends QMP commands to inst's qemu on node and returns the replies.
func (c *cluster) qmp(node, inst string, cmds ...string) []json.RawMessage {
	c.t.Helper()
	step, err := hv.QMP(node, inst, cmds...)
	if err != nil {
		c.t.Fatal(err)
	}
	out := c.node(node, step.Argv...)
	replies, err := hv.ParseQMP([]byte(out))
	if err != nil || len(replies) != len(cmds) {
		c.t.Fatalf("QMP %v: %d replies, %v:\n%s", cmds, len(replies), err, out)
	}
	return replies
}

// hmp runs a human monitor command through QMP and returns its text.
func (c *cluster) hmp(node, inst, line string) string {
	c.t.Helper()
	r := c.qmp(node, inst, hv.QMPCommand("human-monitor-command", map[string]any{"command-line": line}))
	var s string
	if err := json.Unmarshal(r[0], &s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// kvmID is Ganeti's KVM device id of an object (type and the UUID's first
// three groups), as the device has it in qemu.
func kvmID(typ, uuid string) string {
	p := strings.Split(uuid, "-")
	return typ + "-" + strings.Join(p[:3], "-")
}

// TestHotplug: a NIC and a disk hot-added with --hotplug to a running
// plain KVM instance are in its qemu at once (netdev, device with the
// state's MAC, tap on the bridge; block node on the disk's link, which
// data written through qemu reaches), the instance keeps running, a full
// reboot starts it with both on the command line, and its removal leaves
// no tap behind. Hot removal is refused before anything is touched.
func TestHotplug(t *testing.T) {
	c := newCluster(t, 1)
	node := c.names()[0]
	c.ok("cluster", "init")
	c.bridges([]string{node}, []string{"brhp1"})
	const inst = "e2e-hp"
	c.ok("instance", "add", "-n", node, "-o", "testos+default", "-t", "plain", "-s", "64M", "--no-name-check", inst)
	t.Cleanup(func() { c.run("instance", "remove", "-f", "--shutdown-timeout", "1s", inst) })
	if s := c.qmpStatus(node, inst); s != "running" {
		t.Fatalf("QMP status %q after add", s)
	}

	// NIC.
	c.ok("instance", "modify", "--hotplug", "--net", "add:link=brhp1,mac=aa:00:00:5e:00:42", inst)
	st := loadState(t, c.stateDir)
	in := st.Instances[inst]
	if len(in.NICs) != 2 || in.NICs[1].MAC != "aa:00:00:5e:00:42" {
		t.Fatalf("NICs in the state: %+v", in.NICs)
	}
	nic := in.NICs[1]
	tap, nicID := hv.TapName(nic.UUID, 1), kvmID("nic", nic.UUID)
	if br := c.bridgeOf(node, tap); br != "brhp1" {
		t.Errorf("tap %s is a port of %q, want brhp1", tap, br)
	}
	netInfo := c.hmp(node, inst, "info network")
	for _, w := range []string{nicID + ": index=", "macaddr=" + nic.MAC, "ifname=" + tap} {
		if !strings.Contains(netInfo, w) {
			t.Errorf("info network lacks %q:\n%s", w, netInfo)
		}
	}
	pci := string(c.qmp(node, inst, hv.QMPCommand("query-pci", nil))[0])
	if !strings.Contains(pci, `"qdev_id":"`+nicID+`"`) && !strings.Contains(pci, `"qdev_id": "`+nicID+`"`) {
		t.Errorf("query-pci lacks %s:\n%s", nicID, pci)
	}
	if rec := strings.TrimSpace(c.node(node, "cat", "/run/ganeti/kvm-hypervisor/nic/"+inst+"/1")); rec != tap {
		t.Errorf("NIC record 1: %q, want %s", rec, tap)
	}

	// Disk.
	c.ok("instance", "modify", "--hotplug", "--disk", "add:size=32M", inst)
	st = loadState(t, c.stateDir)
	in = st.Instances[inst]
	if len(in.Disks) != 2 {
		t.Fatalf("disks in the state: %+v", in.Disks)
	}
	d := in.Disks[1]
	vg, lv := fmt.Sprint(d.LogicalID[0]), fmt.Sprint(d.LogicalID[1])
	if out := c.node(node, "lvs", "--noheadings", "-o", "lv_name", vg+"/"+lv); strings.TrimSpace(out) != lv {
		t.Errorf("lvs %s/%s: %q", vg, lv, out)
	}
	diskID, link := kvmID("disk", d.UUID), "/run/ganeti/instance-disks/"+inst+":1"
	block := string(c.qmp(node, inst, hv.QMPCommand("query-block", nil))[0])
	for _, w := range []string{`"node-name":"` + diskID + `"`, link} {
		if !strings.Contains(strings.ReplaceAll(block, `": "`, `":"`), w) {
			t.Errorf("query-block lacks %q:\n%s", w, block)
		}
	}
	// A marker written through the guest's device (its virtio backend,
	// as query-block names it) reaches the LV.
	// The pattern differs per run: a new LV may sit on an old one's extents.
	dev, pat := "/machine/peripheral/"+diskID+"/virtio-backend", 0x20+time.Now().UnixNano()%0xc0
	if out := c.hmp(node, inst, fmt.Sprintf(`qemu-io -d %s "write -P 0x%x 0 4096"`, dev, pat)); strings.Contains(out, "rror") {
		t.Errorf("qemu-io write: %q", out)
	}
	c.hmp(node, inst, fmt.Sprintf(`qemu-io -d %s "flush"`, dev))
	if out := c.node(node, "sh", "-c", `dd if="$1" bs=4096 count=1 iflag=direct 2>/dev/null | od -v -An -tx1 | sort -u | tr -d ' \n'`, "ganetictl-test", "/dev/"+vg+"/"+lv); out != strings.Repeat(fmt.Sprintf("%02x", pat), 16) {
		t.Errorf("the LV's first block: %q, want all 0x%x", out, pat)
	}
	rt := c.node(node, "cat", "/run/ganeti/kvm-hypervisor/conf/"+inst+".runtime")
	for _, w := range []string{nicID, diskID, link} {
		if !strings.Contains(rt, w) {
			t.Errorf("the runtime file lacks %s:\n%s", w, rt)
		}
	}
	if s := c.qmpStatus(node, inst); s != "running" {
		t.Errorf("QMP status %q after the hotplugs", s)
	}

	// Hot removal is refused, touching nothing.
	if r := c.fails(1, "instance", "modify", "--hotplug", "--net", "1:remove", inst); !strings.Contains(r.stderr, "shut the instance down") {
		t.Errorf("hot NIC removal:\n%s", r)
	}
	if n := len(loadState(t, c.stateDir).Instances[inst].NICs); n != 2 {
		t.Errorf("%d NICs after the refused removal", n)
	}

	// A hot-add that fails on the node (no such bridge) is rolled back:
	// no tap, no NIC record, no NIC in qemu or the state.
	if r := c.run("instance", "modify", "--hotplug", "--net", "add:link=brnone", inst); r.code == 0 || !strings.Contains(r.stderr+r.stdout, "cannot add tap") {
		t.Errorf("hot-add to a missing bridge:\n%s", r)
	}
	if n := len(loadState(t, c.stateDir).Instances[inst].NICs); n != 2 {
		t.Errorf("%d NICs after the failed hot-add", n)
	}
	if out := c.node(node, "ls", "/run/ganeti/kvm-hypervisor/nic/"+inst); out != "0\n1\n" {
		t.Errorf("NIC records after the failed hot-add: %q", out)
	}
	if out := c.node(node, "sh", "-c", "ls /sys/class/net | grep -c '^gt' || true"); strings.TrimSpace(out) != "2" {
		t.Errorf("%s taps after the failed hot-add", strings.TrimSpace(out))
	}
	if info := c.hmp(node, inst, "info network"); strings.Count(info, "type=tap") != 2 {
		t.Errorf("info network after the failed hot-add:\n%s", info)
	}

	// A full reboot starts qemu with both devices.
	c.ok("instance", "reboot", "--type", "full", "--shutdown-timeout", "1s", inst)
	if s := c.qmpStatus(node, inst); s != "running" {
		t.Errorf("QMP status %q after the reboot", s)
	}
	pid := strings.TrimSpace(c.node(node, "cat", "/run/ganeti/kvm-hypervisor/pid/"+inst))
	cmdline := strings.ReplaceAll(c.node(node, "cat", "/proc/"+pid+"/cmdline"), "\x00", " ")
	for _, w := range []string{"id=" + nicID + ",", "mac=" + nic.MAC, "ifname=" + tap, "node-name=" + diskID + ",", "file.filename=" + link} {
		if !strings.Contains(cmdline, w) {
			t.Errorf("qemu command line after the reboot lacks %q:\n%s", w, cmdline)
		}
	}
	if br := c.bridgeOf(node, tap); br != "brhp1" {
		t.Errorf("after the reboot tap %s is a port of %q, want brhp1", tap, br)
	}

	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", inst)
	for _, tp := range []string{hv.TapName(in.NICs[0].UUID, 0), tap} {
		if _, err := c.nodeErr(node, "test", "-e", "/sys/class/net/"+tp); err == nil {
			t.Errorf("tap %s is left after the removal", tp)
		}
	}
	if _, err := c.nodeErr(node, "lvs", vg+"/"+lv); err == nil {
		t.Errorf("LV %s/%s is left after the removal", vg, lv)
	}
}

// pciSlot is the slot query-pci shows device id on, or -1.
func (c *cluster) pciSlot(node, inst, id string) int {
	c.t.Helper()
	var buses []struct {
		Devices []struct {
			Slot   int    `json:"slot"`
			QdevID string `json:"qdev_id"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(c.qmp(node, inst, hv.QMPCommand("query-pci", nil))[0], &buses); err != nil {
		c.t.Fatal(err)
	}
	for _, b := range buses {
		for _, d := range b.Devices {
			if d.QdevID == id {
				return d.Slot
			}
		}
	}
	return -1
}

// TestHotplugMigrate: a disk hot-added to a running sharedfile instance
// sits after its NIC (slot 0xe, where a fresh start would put the NIC);
// a live migration starts the target with the source's slots, so it
// succeeds and the disk keeps its slot and its data.
func TestHotplugMigrate(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	const inst = "e2e-hpm"
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "sharedfile", "-s", "32M", "--no-name-check", inst)
	t.Cleanup(func() { c.run("instance", "remove", "-f", "--shutdown-timeout", "1s", inst) })
	c.ok("instance", "modify", "--hotplug", "--disk", "add:size=16M", inst)
	in := loadState(t, c.stateDir).Instances[inst]
	diskID, nicID := kvmID("disk", in.Disks[1].UUID), kvmID("nic", in.NICs[0].UUID)
	if s, ns := c.pciSlot(n[0], inst, diskID), c.pciSlot(n[0], inst, nicID); s != 0xe || ns != 0xd {
		t.Fatalf("on the source: disk 1 at slot %#x, NIC 0 at %#x; want 0xe and 0xd", s, ns)
	}
	dev := "/machine/peripheral/" + diskID + "/virtio-backend"
	pat := 0x20 + time.Now().UnixNano()%0xc0
	c.hmp(n[0], inst, fmt.Sprintf(`qemu-io -d %s "write -P 0x%x 0 4096"`, dev, pat))
	c.hmp(n[0], inst, fmt.Sprintf(`qemu-io -d %s "flush"`, dev))

	c.ok("instance", "migrate", "-f", "-n", n[1], inst)
	if s := c.qmpStatus(n[1], inst); s != "running" {
		t.Fatalf("after the migration: QMP on %s says %q", n[1], s)
	}
	if s, ns := c.pciSlot(n[1], inst, diskID), c.pciSlot(n[1], inst, nicID); s != 0xe || ns != 0xd {
		t.Errorf("on the target: disk 1 at slot %#x, NIC 0 at %#x; want 0xe and 0xd", s, ns)
	}
	link := "/run/ganeti/instance-disks/" + inst + ":1"
	if out := c.node(n[1], "sh", "-c", `dd if="$1" bs=4096 count=1 iflag=direct 2>/dev/null | od -v -An -tx1 | sort -u | tr -d ' \n'`, "ganetictl-test", link); out != strings.Repeat(fmt.Sprintf("%02x", pat), 16) {
		t.Errorf("disk 1's first block on the target: %q, want all 0x%x", out, pat)
	}
	if rt := c.node(n[1], "cat", "/run/ganeti/kvm-hypervisor/conf/"+inst+".runtime"); !strings.Contains(rt, `"addr":"0xe"`) || !strings.Contains(rt, diskID) {
		t.Errorf("the target's runtime file:\n%s", rt)
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", inst)
}
