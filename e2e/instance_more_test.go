//go:build bed

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStorageAndDiskCommands covers node volumes/list-storage/modify-storage/
// repair-storage, verify-disks, repair-disk-sizes, batch-create, a diskless
// instance and the console.
func TestStorageAndDiskCommands(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])

	spec := filepath.Join(t.TempDir(), "batch.json")
	os.WriteFile(spec, []byte(`{
  "e2e-b1": {"template": "plain", "os": "testos", "disk_size": ["32M"], "primary_node": "`+n[0]+`", "no_start": true},
  "e2e-b2": {"template": "diskless", "os": "testos", "primary_node": "`+n[1]+`", "backend": {"maxmem": 96}}
}`), 0o600)
	c.ok("instance", "batch-create", spec)
	r := c.ok("instance", "list", "-o", "name,status,disk_template,pnode", "--no-headers", "--separator=|")
	if r.stdout != "e2e-b1|ADMIN_down|plain|"+n[0]+"\ne2e-b2|running|diskless|"+n[1]+"\n" {
		t.Errorf("after batch-create: %q", r.stdout)
	}
	if st := c.qmpStatus(n[1], "e2e-b2"); st != "running" {
		t.Errorf("diskless instance QMP status %q", st)
	}

	// Volumes and storage units, as the nodes report them.
	r = c.ok("node", "volumes", "--no-headers", "--separator=|", n[0])
	if !strings.Contains(r.stdout, "|xenvg|") || !strings.HasSuffix(strings.TrimSpace(r.stdout), "|32|e2e-b1") {
		t.Errorf("node volumes: %q", r.stdout)
	}
	r = c.ok("node", "list-storage", "--no-headers", "--separator=|", "--units=m", n[0])
	if !strings.HasPrefix(r.stdout, n[0]+"|lvm-vg|xenvg|") || !strings.Contains(r.stdout, "|32|") {
		t.Errorf("list-storage lvm-vg: %q", r.stdout)
	}
	pv := strings.TrimSpace(c.node(n[0], "pvs", "--noheadings", "-o", "pv_name"))
	c.ok("node", "modify-storage", "--allocatable=no", n[0], "lvm-pv", pv)
	if attr := strings.TrimSpace(c.node(n[0], "pvs", "--noheadings", "-o", "pv_attr")); strings.HasPrefix(attr, "a") {
		t.Errorf("PV still allocatable: %q", attr)
	}
	if r := c.ok("node", "list-storage", "-t", "lvm-pv", "--no-headers", "-o", "allocatable", n[0]); strings.TrimSpace(r.stdout) != "N" {
		t.Errorf("list-storage lvm-pv allocatable: %q", r.stdout)
	}
	c.ok("node", "modify-storage", "--allocatable=yes", n[0], "lvm-pv", pv)
	c.ok("node", "repair-storage", n[0], "lvm-vg", "xenvg")
	c.fails(10, "node", "modify-storage", "--allocatable=no", n[0], "lvm-vg", "xenvg")

	// verify-disks: silent when healthy; re-activates a lost link; names a missing LV.
	c.ok("instance", "activate-disks", "e2e-b1")
	if r := c.ok("cluster", "verify-disks"); r.stdout != "" {
		t.Errorf("verify-disks on a healthy cluster: %q", r.stdout)
	}
	c.node(n[0], "rm", "/run/ganeti/instance-disks/e2e-b1:0")
	r = c.ok("cluster", "verify-disks")
	if !strings.Contains(r.stdout, "Activating disks for instance 'e2e-b1'") {
		t.Errorf("verify-disks: %q", r.stdout)
	}
	c.node(n[0], "test", "-L", "/run/ganeti/instance-disks/e2e-b1:0")

	// repair-disk-sizes picks up a volume grown behind ganetictl's back.
	lv := strings.TrimSpace(c.node(n[0], "sh", "-c", "lvs --noheadings -o lv_name xenvg | tr -d ' '"))
	c.node(n[0], "lvextend", "-L", "+8m", "xenvg/"+lv)
	r = c.ok("cluster", "repair-disk-sizes")
	if !strings.Contains(r.stderr, "Disk 0 of instance e2e-b1 has mismatched size, correcting: recorded 32, actual 40") {
		t.Errorf("repair-disk-sizes: %s", r)
	}
	if r := c.ok("instance", "list", "-o", "disk.sizes", "--no-headers", "e2e-b1"); strings.TrimSpace(r.stdout) != "40" {
		t.Errorf("size after repair: %q", r.stdout)
	}
	c.verifyClean()

	// The missing LV is reported, and verify-disks fails.
	c.ok("instance", "deactivate-disks", "e2e-b1")
	c.ok("instance", "startup", "e2e-b1")
	c.ok("instance", "shutdown", "--timeout", "1s", "--no-remember", "e2e-b1")
	c.ok("instance", "activate-disks", "e2e-b1")
	c.node(n[0], "lvremove", "-f", "xenvg/"+lv)
	r = c.fails(1, "cluster", "verify-disks")
	if !strings.Contains(r.stdout, "Instance e2e-b1 has missing logical volumes:\n\t"+n[0]+" xenvg/"+lv) {
		t.Errorf("verify-disks with a missing LV: %q", r.stdout)
	}
	// recreate-disks brings an empty disk back.
	c.ok("instance", "deactivate-disks", "e2e-b1")
	c.ok("instance", "recreate-disks", "e2e-b1")
	if out := c.node(n[0], "lvs", "--noheadings", "-o", "lv_name", "xenvg"); !strings.Contains(out, lv) {
		t.Errorf("recreate-disks: LV %s not there: %q", lv, out)
	}

	// The console streams the serial port over the SSH session; EOF ends it.
	if r := c.ok("instance", "console", "--show-cmd", "e2e-b2"); !strings.Contains(r.stdout, "socat") || !strings.Contains(r.stdout, "e2e-b2.serial") {
		t.Errorf("console --show-cmd: %q", r.stdout)
	}
	r = c.ok("instance", "console", "e2e-b2")
	if !strings.Contains(r.stderr, "Connected to the console of e2e-b2") {
		t.Errorf("console: %s", r)
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-b2")
	c.ok("instance", "remove", "-f", "e2e-b1")
	c.verifyClean()
}
