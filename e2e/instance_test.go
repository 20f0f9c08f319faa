//go:build bed

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/testbed/osdef"
)

// diskTarget is where an instance disk's link points on the node.
func (c *cluster) diskTarget(node, inst string, idx int) string {
	c.t.Helper()
	return strings.TrimSpace(c.node(node, "readlink", "-f", fmt.Sprintf("/run/ganeti/instance-disks/%s:%d", inst, idx)))
}

// marker reads the testos marker at the start of an instance's disk.
func (c *cluster) marker(node, inst string, idx int) osdef.Marker {
	c.t.Helper()
	out := c.node(node, "head", "-c", strconv.Itoa(osdef.MarkerSize), fmt.Sprintf("/run/ganeti/instance-disks/%s:%d", inst, idx))
	m, err := osdef.ParseMarker([]byte(out))
	if err != nil {
		c.t.Fatalf("%s: disk %d of %s: %v", node, idx, inst, err)
	}
	return m
}

// qmpStatus asks the instance's qemu for its run state over QMP ("" if no qemu answers).
func (c *cluster) qmpStatus(node, inst string) string {
	c.t.Helper()
	step, err := hv.QMP(node, inst, hv.QMPCommand("query-status", nil))
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := c.nodeErr(node, step.Argv...)
	if err != nil {
		return ""
	}
	replies, err := hv.ParseQMP([]byte(out))
	if err != nil || len(replies) != 1 {
		return ""
	}
	var st struct {
		Status string `json:"status"`
	}
	json.Unmarshal(replies[0], &st)
	return st.Status
}

// running lists the instances the node's hypervisors run.
func (c *cluster) running(node string) map[string]hv.Running {
	c.t.Helper()
	out := c.node(node, "sh", "-c", hv.ListScript)
	m, err := hv.ParseList([]byte(out))
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

func (c *cluster) verifyClean() {
	c.t.Helper()
	r := c.run("cluster", "verify")
	if r.code != 0 || strings.Contains(r.stdout, "ERROR") || strings.Contains(r.stdout, "WARNING") {
		c.t.Fatalf("cluster verify not clean:\n%s", r)
	}
}

// leftovers lists what a removed instance could have left on the node.
func (c *cluster) leftovers(node, inst string) string {
	c.t.Helper()
	script := `lvs --noheadings -o lv_name,lv_tags 2>/dev/null | grep -F "originstname+$1" || true
ls -d /srv/ganeti/file-storage/"$1" /srv/ganeti/shared-file-storage/"$1" 2>/dev/null || true
ls /run/ganeti/instance-disks/ 2>/dev/null | grep -F "$1:" || true
ls /run/ganeti/kvm-hypervisor/*/ 2>/dev/null | grep -F "$1" || true
[ -e /etc/xen/"$1" ] && echo /etc/xen/"$1"
true`
	return strings.TrimSpace(c.node(node, "sh", "-c", script, "leftovers", inst))
}

// TestInstanceLifecycle runs the whole instance lifecycle for each
// non-redundant template on KVM (real qemu) and checks node reality.
func TestInstanceLifecycle(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	for _, tmpl := range []string{"file", "plain", "sharedfile", "rbd"} {
		t.Run(tmpl, func(t *testing.T) {
			c.t = t
			name := "e2e-" + tmpl
			node := n[0]
			before := c.stateBytes()
			r := c.ok("--dry-run", "instance", "add", "-n", node, "-o", "testos+default", "-t", tmpl, "-s", "64M", "--no-name-check", name)
			if !strings.Contains(r.stdout, "INSTANCE_CREATE("+name+")") || !strings.Contains(r.stdout, "start instance "+name) {
				t.Errorf("dry run plan:\n%s", r.stdout)
			}
			if string(before) != string(c.stateBytes()) || c.leftovers(node, name) != "" {
				t.Fatal("dry run changed the state or a node")
			}

			c.ok("instance", "add", "-n", node, "-o", "testos+default", "-t", tmpl, "-s", "64M", "--no-name-check", name)
			m := c.marker(node, name, 0)
			if m.Name != name || m.Token == "" {
				t.Fatalf("marker after add: %+v", m)
			}
			if st := c.qmpStatus(node, name); st != "running" {
				t.Fatalf("QMP status after add = %q", st)
			}
			r = c.ok("instance", "list", "-o", "name,status,disk_template,disk.sizes,pnode", "--no-headers", "--separator=|", name)
			if r.stdout != fmt.Sprintf("%s|running|%s|64|%s\n", name, tmpl, node) {
				t.Errorf("instance list: %q", r.stdout)
			}
			if r := c.ok("instance", "info", name); !strings.Contains(r.stdout, "State: configured to be up, actual state is up") {
				t.Errorf("instance info:\n%s", r.stdout)
			}
			c.verifyClean()

			c.ok("instance", "shutdown", "--timeout", "1s", name)
			if st := c.qmpStatus(node, name); st != "" {
				t.Errorf("qemu still answers after shutdown: %q", st)
			}
			if r := c.ok("instance", "list", "-o", "status", "--no-headers", name); strings.TrimSpace(r.stdout) != "ADMIN_down" {
				t.Errorf("status after shutdown: %q", r.stdout)
			}
			c.verifyClean()
			c.ok("instance", "startup", name)
			pid := c.running(node)[name].ID
			c.ok("instance", "reboot", "--shutdown-timeout", "1s", name)
			if x, ok := c.running(node)[name]; !ok || x.ID == pid {
				t.Errorf("reboot: running=%v pid %d -> %d", ok, pid, x.ID)
			}

			c.ok("instance", "grow-disk", name, "0", "32M")
			size := strings.TrimSpace(c.node(node, "sh", "-c", `if [ -b "$1" ]; then blockdev --getsize64 "$1"; else stat -c %s "$1"; fi`, "size", c.diskTarget(node, name, 0)))
			if size != strconv.Itoa(96<<20) {
				t.Errorf("disk 0 after grow-disk is %s bytes, want %d", size, 96<<20)
			}
			if m2 := c.marker(node, name, 0); m2 != m {
				t.Errorf("grow-disk changed the marker: %+v -> %+v", m, m2)
			}

			c.ok("instance", "modify", "--disk", "add:size=16M", name)
			c.ok("instance", "modify", "--net", "add", name)
			if got := c.diskTarget(node, name, 1); got == "" {
				t.Error("new disk 1 has no link")
			}
			r = c.ok("instance", "list", "-o", "disk.sizes,nic.count", "--no-headers", "--separator=|", name)
			if r.stdout != "96,16|2\n" {
				t.Errorf("after adding a disk and a NIC: %q", r.stdout)
			}
			c.verifyClean()
			c.fails(1, "instance", "modify", "--disk", "1:remove", name) // running
			c.ok("instance", "shutdown", "--timeout", "1s", name)
			c.ok("instance", "modify", "--disk", "1:remove", "--net", "1:remove", name)
			r = c.ok("instance", "list", "-o", "disk.sizes,nic.count", "--no-headers", "--separator=|", name)
			if r.stdout != "96|1\n" {
				t.Errorf("after removing disk 1 and NIC 1: %q", r.stdout)
			}

			// rename moves every node artifact; the OS rename script updates the marker.
			newName := name + "-new"
			c.ok("instance", "rename", "--no-name-check", name, newName)
			if left := c.leftovers(node, name); left != "" && !strings.Contains(left, newName) {
				t.Errorf("rename left artifacts of the old name:\n%s", left)
			}
			r = c.ok("instance", "activate-disks", newName)
			if r.stdout != fmt.Sprintf("%s:disk/0:/run/ganeti/instance-disks/%s:0\n", node, newName) {
				t.Errorf("activate-disks: %q", r.stdout)
			}
			if m3 := c.marker(node, newName, 0); m3.Name != newName || m3.Token != m.Token {
				t.Errorf("marker after rename: %+v (token was %s)", m3, m.Token)
			}
			c.ok("instance", "deactivate-disks", newName)
			c.ok("instance", "reinstall", "-f", newName)
			c.ok("instance", "activate-disks", newName)
			if m4 := c.marker(node, newName, 0); m4.Token == m.Token || m4.Name != newName {
				t.Errorf("reinstall did not write a new marker: %+v", m4)
			}
			c.ok("instance", "deactivate-disks", newName)
			c.verifyClean()

			c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", newName)
			if left := c.leftovers(node, newName); left != "" {
				t.Errorf("remove left on %s:\n%s", node, left)
			}
			if taps := strings.TrimSpace(c.node(node, "ip", "-o", "link", "show", "type", "tun")); taps != "" {
				t.Errorf("remove left taps on %s:\n%s", node, taps)
			}
			c.verifyClean()
		})
	}
	c.t = t
}

// TestInstanceXen drives an instance through the xl stand-in.
func TestInstanceXen(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("cluster", "modify", "--enabled-hypervisors", "kvm,xen-pvm")
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "-H", "xen-pvm", "--no-name-check", "e2e-xen")
	x, ok := c.running(n[0])["e2e-xen"]
	if !ok || x.Hypervisor != "xen" {
		t.Fatalf("xl does not run e2e-xen: %+v", c.running(n[0]))
	}
	if cfg := c.node(n[0], "cat", "/etc/xen/e2e-xen"); !strings.Contains(cfg, "name = 'e2e-xen'") {
		t.Errorf("xen config:\n%s", cfg)
	}
	c.verifyClean()
	c.ok("instance", "shutdown", "--timeout", "2s", "e2e-xen")
	if _, ok := c.running(n[0])["e2e-xen"]; ok {
		t.Error("still running after shutdown")
	}
	c.ok("instance", "remove", "-f", "e2e-xen")
	if left := c.leftovers(n[0], "e2e-xen"); left != "" {
		t.Errorf("leftovers: %s", left)
	}
}

// TestInstanceRefusalsAndRollback: bad input is refused before any node
// changes, and a failure midway removes everything created.
func TestInstanceRefusalsAndRollback(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "--net", "0:ip=198.18.9.9", "--no-name-check", "e2e-one")
	macOut := c.ok("instance", "list", "-o", "nic.macs", "--no-headers", "e2e-one").stdout
	mac := strings.TrimSpace(macOut)
	before := c.stateBytes()
	add := func(args ...string) []string {
		return append([]string{"instance", "add", "--no-name-check"}, args...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown OS", add("-n", n[0], "-o", "nosuchos", "-t", "file", "-s", "32M", "x1"), 1, "OS 'nosuchos' not found"},
		{"bad variant", add("-n", n[0], "-o", "testos+nope", "-t", "file", "-s", "32M", "x1"), 1, "no variant 'nope'"},
		{"disabled template", add("-n", n[0], "-o", "testos", "-t", "blockdev", "-s", "32M", "x1"), 1, "Disk template 'blockdev' is not enabled"},
		{"disabled hypervisor", add("-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "-H", "xen-hvm", "x1"), 1, "Hypervisor 'xen-hvm' is not enabled"},
		{"too big for the VG", add("-n", n[0], "-o", "testos", "-t", "plain", "-s", "100G", "x1"), 1, "Not enough disk space"},
		{"duplicate name", add("-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "e2e-one"), 1, "already in the cluster"},
		{"duplicate MAC", add("-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "--net", "0:mac="+mac, "x1"), 1, "already in use by e2e-one"},
		{"duplicate IP", add("-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "--net", "0:ip=198.18.9.9", "x1"), 1, "already in use by e2e-one"},
		{"bad size", add("-n", n[0], "-o", "testos", "-t", "file", "-s", "lots", "x1"), 10, "-s lots"},
		{"bad name", add("-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "x;rm"), 10, "instance name"},
		{"unknown node", add("-n", "node99", "-o", "testos", "-t", "file", "-s", "32M", "x1"), 1, "Node 'node99' not known"},
		{"rename running", []string{"instance", "rename", "--no-name-check", "e2e-one", "e2e-two"}, 1, "shut it down first"},
		{"unknown instance", []string{"instance", "startup", "nosuch"}, 1, "Instance 'nosuch' not known"},
	} {
		r := c.fails(tc.code, tc.args...)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want %q in the error, got %s", tc.name, tc.want, r)
		}
	}
	// Offline and drained targets are refused.
	c.ok("node", "modify", "-D", "yes", "--auto-promote", n[2])
	if r := c.fails(1, add("-n", n[2], "-o", "testos", "-t", "file", "-s", "32M", "x1")...); !strings.Contains(r.stderr, "drained node") {
		t.Errorf("drained target: %s", r)
	}
	c.ok("node", "modify", "-D", "no", n[2])
	before = c.stateBytes()

	// The OS create script fails: the disk is removed, the state unchanged.
	r := c.fails(1, add("-n", n[0], "-o", "testos+fail", "-t", "plain", "-s", "32M", "e2e-fail")...)
	if !strings.Contains(r.stderr, "rolled back") {
		t.Errorf("OS failure: %s", r)
	}
	if left := c.leftovers(n[0], "e2e-fail"); left != "" {
		t.Errorf("OS failure left:\n%s", left)
	}
	if string(before) != string(c.stateBytes()) {
		t.Error("a failed add changed the state")
	}
	// lvcreate fails for one of two disks: the other is removed again.
	if err := c.bed.FailNext(n[0], "lvcreate", 1, 5, "  Volume group \"xenvg\" has insufficient free space"); err != nil {
		t.Fatal(err)
	}
	r = c.fails(1, add("-n", n[0], "-o", "testos", "-t", "plain", "--disk", "0:size=32M", "--disk", "1:size=32M", "e2e-fail")...)
	if !strings.Contains(r.stderr, "insufficient free space") {
		t.Errorf("lvcreate failure: %s", r)
	}
	if left := c.leftovers(n[0], "e2e-fail"); left != "" {
		t.Errorf("lvcreate failure left:\n%s", left)
	}
	if string(before) != string(c.stateBytes()) {
		t.Error("a failed add changed the state")
	}

	// verify finds an orphan LV and an instance that should run but does not.
	c.node(n[0], "lvcreate", "-Wn", "-L", "8m", "-n", "e2e-orphan", "xenvg")
	defer c.node(n[0], "lvremove", "-f", "xenvg/e2e-orphan")
	pid := c.running(n[0])["e2e-one"].ID
	c.node(n[0], "kill", "-9", strconv.Itoa(pid))
	r = c.fails(1, "cluster", "verify")
	if !regexp.MustCompile(`WARNING: node ` + n[0] + `: volume xenvg/e2e-orphan is unknown`).MatchString(r.stdout) {
		t.Errorf("verify should report the orphan LV:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "ERROR: instance e2e-one: instance not running on its primary node "+n[0]) {
		t.Errorf("verify should report the stopped instance:\n%s", r.stdout)
	}
	if r := c.ok("instance", "list", "-o", "status", "--no-headers", "e2e-one"); strings.TrimSpace(r.stdout) != "ERROR_down" {
		t.Errorf("status of a killed instance: %q", r.stdout)
	}
	c.ok("instance", "startup", "e2e-one")
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-one")
}
