//go:build bed

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDRBDInstance: a drbd instance's data written on the primary is on
// the secondary after failover; live migration swaps the primary with the
// VM running on the target; failover refuses a degraded target and works
// with the primary powered off under --ignore-consistency.
func TestDRBDInstance(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	name := "e2e-drbd"
	r := c.ok("--dry-run", "instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "64M", "--no-name-check", name)
	if !strings.Contains(r.stdout, "drbdsetup") || !strings.Contains(r.stdout, "<masked>") || strings.Contains(r.stdout, "shared-secret ") && !strings.Contains(r.stdout, "shared-secret <masked>") {
		t.Errorf("dry run of a drbd add should show drbdsetup with the secret masked:\n%s", r.stdout)
	}
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "64M", "--no-name-check", name)
	m := c.marker(n[0], name, 0)
	if r := c.ok("instance", "list", "-o", "pnode,snodes,status", "--no-headers", "--separator=|", name); r.stdout != n[0]+"|"+n[1]+"|running\n" {
		t.Errorf("list: %q", r.stdout)
	}
	if st := c.node(n[1], "cat", "/run/testbed/drbd/proc_drbd"); !strings.Contains(st, "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate") {
		t.Errorf("secondary's DRBD status:\n%s", st)
	}
	c.verifyClean()

	// Live migration: the VM moves, the primary swaps.
	c.ok("instance", "migrate", "-f", name)
	if st := c.qmpStatus(n[1], name); st != "running" {
		t.Fatalf("after migrate: QMP on %s says %q", n[1], st)
	}
	if _, ok := c.running(n[0])[name]; ok {
		t.Error("the source still runs the instance after migrate")
	}
	if r := c.ok("instance", "list", "-o", "pnode,snodes", "--no-headers", "--separator=|", name); r.stdout != n[1]+"|"+n[0]+"\n" {
		t.Errorf("after migrate: %q", r.stdout)
	}
	if got := c.marker(n[1], name, 0); got != m {
		t.Errorf("marker on the new primary after migrate: %+v, want %+v", got, m)
	}
	c.verifyClean()

	// Failover back: the data written on the primary is there.
	c.ok("instance", "failover", "-f", "--shutdown-timeout", "1s", name)
	if got := c.marker(n[0], name, 0); got != m {
		t.Errorf("marker after failover: %+v, want %+v", got, m)
	}
	if st := c.qmpStatus(n[0], name); st != "running" {
		t.Errorf("after failover: QMP says %q", st)
	}
	c.verifyClean()

	// grow-disk on drbd is covered by the planner's unit tests: the test
	// bed gives block devices only to contiguous LVs, and a drbd data LV has
	// its meta LV right behind it.

	// The primary dies: failover needs --ignore-consistency, then works.
	if err := c.bed.PowerOff(t.Context(), n[0]); err != nil {
		t.Fatal(err)
	}
	booted := false
	defer func() {
		if !booted {
			c.bed.Boot(t.Context(), n[0])
		}
	}()
	// DRBD notices a dead peer after its ping timeout; the stand-in after
	// its 3 s heartbeat timeout.
	time.Sleep(4 * time.Second)
	if r := c.fails(1, "instance", "failover", "-f", name); !strings.Contains(r.stderr, "--ignore-consistency") {
		t.Errorf("failover with a dead primary: %s", r)
	}
	c.ok("instance", "failover", "-f", "--ignore-consistency", name)
	if st := c.qmpStatus(n[1], name); st != "running" {
		t.Errorf("after failover from a dead node: QMP says %q", st)
	}
	if got := c.marker(n[1], name, 0); got.Token != m.Token {
		t.Errorf("marker after failover from a dead node: %+v", got)
	}
	if err := c.bed.Boot(t.Context(), n[0]); err != nil {
		t.Fatal(err)
	}
	booted = true
	// The rebooted node's DRBD is down; activate-disks reconnects it and verify-disks is clean.
	c.ok("instance", "activate-disks", name)
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
	for _, node := range []string{n[0], n[1]} {
		if out := strings.TrimSpace(c.node(node, "sh", "-c", "lvs --noheadings -o lv_name xenvg 2>/dev/null")); out != "" {
			t.Errorf("%s: LVs left after remove: %s", node, out)
		}
	}
}
