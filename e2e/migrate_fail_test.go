//go:build bed

package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMigrationFailures: a migration whose target dies midway leaves the
// instance running on the source with the state unchanged; a migration
// cut off by killing ganetictl is settled by `migrate --cleanup`; failover
// is refused while the secondary's disks are not up to date.
func TestMigrationFailures(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	name := "e2e-mf"
	// 1 MiB/s makes the memory copy take about a second and a half.
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M",
		"-H", "kvm:migration_bandwidth=1", "--no-name-check", name)
	m := c.marker(n[0], name, 0)

	// The target qemu dies while the memory is copied.
	before := c.stateBytes()
	done := make(chan result, 1)
	go func() { done <- c.run("instance", "migrate", "-f", name) }()
	killed := false
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end) && !killed; time.Sleep(100 * time.Millisecond) {
		if x, ok := c.running(n[1])[name]; ok {
			time.Sleep(300 * time.Millisecond) // into the copy
			c.node(n[1], "kill", "-9", strconv.Itoa(x.ID))
			killed = true
		}
	}
	r := <-done
	if !killed || r.code == 0 {
		t.Fatalf("the migration should fail when its target dies (killed=%v):\n%s", killed, r)
	}
	if st := c.qmpStatus(n[0], name); st != "running" {
		t.Errorf("source after a failed migration: QMP says %q", st)
	}
	if string(before) != string(c.stateBytes()) {
		t.Error("a failed migration changed the state")
	}
	c.verifyClean()

	// ganetictl killed during the copy: QEMU finishes the migration by
	// itself; --cleanup makes the state follow the guest.
	cmd := exec.CommandContext(context.Background(), binary, "--inventory", c.inv, "--state-dir", c.stateDir, "instance", "migrate", "-f", name)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, ok := c.running(n[1])[name]; ok {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Kill() // SIGKILL, by the PID we started
	cmd.Wait()
	// The job was cut off and still claims the instance: other commands
	// are refused, and --cleanup settles that job.
	time.Sleep(3 * time.Second) // let QEMU finish the copy it was given
	if r := c.fails(11, "instance", "reboot", name); !strings.Contains(r.stderr, "was cut off mid-run") {
		t.Errorf("a command on an instance claimed by a crashed job: %s", r)
	}
	r = c.ok("instance", "migrate", "--cleanup", name)
	if !strings.Contains(r.stderr, "was cut off mid-run: settling it") {
		t.Errorf("the cleanup should settle the killed ganetictl's job:\n%s", r)
	}
	out := c.ok("instance", "list", "-o", "pnode,status", "--no-headers", "--separator=|", name).stdout
	pnode := strings.Split(strings.TrimSpace(out), "|")[0]
	if !strings.HasSuffix(strings.TrimSpace(out), "|running") {
		t.Fatalf("after --cleanup: %q\n%s", out, r)
	}
	if len(c.running(n[0]))+len(c.running(n[1])) != 1 {
		t.Errorf("after --cleanup the instance should run exactly once: %v %v", c.running(n[0]), c.running(n[1]))
	}
	if got := c.marker(pnode, name, 0); got != m {
		t.Errorf("marker after cleanup: %+v", got)
	}
	c.verifyClean()

	// The secondary's disk is detached (failed): failover is refused.
	sec := n[0]
	if pnode == n[0] {
		sec = n[1]
	}
	c.node(sec, "drbdsetup", "detach", "0")
	r = c.fails(1, "instance", "failover", "-f", name)
	if !strings.Contains(r.stderr, "degraded on target node "+sec) || !strings.Contains(r.stderr, "--ignore-consistency") {
		t.Errorf("failover onto a degraded secondary: %s", r)
	}
	// verify-disks finds it and reactivates.
	if r := c.ok("cluster", "verify-disks"); !strings.Contains(r.stdout, "Activating disks for instance '"+name+"'") {
		t.Errorf("verify-disks with a detached secondary: %q", r.stdout)
	}
	c.verifyClean()
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
}
