//go:build bed

package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// killQemu kills an instance's qemu by hand, as a crash would.
func (c *cluster) killQemu(node, inst string) {
	c.t.Helper()
	c.node(node, "sh", "-c", `kill -9 "$(cat /run/ganeti/kvm-hypervisor/pid/$1)"; for i in $(seq 50); do kill -0 "$(cat /run/ganeti/kvm-hypervisor/pid/$1)" 2>/dev/null || exit 0; sleep 0.1; done; exit 1`, "kill", inst)
}

// watcherJSON runs one watcher pass with --json and decodes its report.
func (c *cluster) watcherJSON(wantCode int, args ...string) watcherReport {
	c.t.Helper()
	r := c.fails(wantCode, append([]string{"--json", "watcher"}, args...)...)
	var rep watcherReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		c.t.Fatalf("watcher --json: %v\n%s", err, r)
	}
	return rep
}

type watcherReport struct {
	Skipped string `json:"skipped"`
	Actions []struct {
		Kind, Subject, Detail, Result, Error string
		JobID                                int64 `json:"job_id"`
	} `json:"actions"`
	Notes []struct {
		Kind, Name, Reason string
		Error              bool
	} `json:"notes"`
	Acted  bool `json:"acted"`
	Failed int  `json:"failed"`
}

func (r watcherReport) action(kind, subject string) (string, bool) {
	for _, a := range r.Actions {
		if a.Kind == kind && a.Subject == subject {
			return a.Result, true
		}
	}
	return "", false
}

// TestWatcherRestarts: an instance whose qemu is killed comes back on the
// next pass (exit 2); one that cannot start is tried five times and the
// sixth failure is reported (exit 3) and then left (exit 0); an instance
// shut down with `instance shutdown` is left alone; a paused watcher does
// nothing and says why; two passes at once restart the instance once.
func TestWatcherRestarts(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("instance", "add", "-n", n[1], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", "e2e-w1")
	c.ok("instance", "add", "-n", n[1], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", "e2e-w2")
	c.ok("instance", "shutdown", "--timeout", "1s", "e2e-w2")

	// A healthy cluster: nothing to do.
	if r := c.fails(0, "watcher"); strings.TrimSpace(r.stdout) != "Nothing to do." {
		t.Fatalf("healthy pass: %s", r)
	}

	// The guest's qemu dies: one pass restarts it.
	c.killQemu(n[1], "e2e-w1")
	r := c.fails(2, "watcher")
	if !strings.Contains(r.stdout, "Restarting instance 'e2e-w1' (attempt #1): done") || strings.Contains(r.stdout, "e2e-w2") {
		t.Fatalf("pass after the kill: %s", r)
	}
	if st := c.qmpStatus(n[1], "e2e-w1"); st != "running" {
		t.Fatalf("after the pass QMP says %q", st)
	}
	// The next pass sees it running and forgets the attempt.
	c.fails(0, "watcher")
	if st := c.stateBytes(); strings.Contains(string(st), `"restart_count"`) {
		t.Errorf("the restart record stays after the instance runs again")
	}

	// It cannot start: five attempts, then the sixth failure is reported.
	// (qemu through the bed's wrapper, which the fault makes fail.)
	c.ok("instance", "modify", "-H", "kvm_path=/usr/local/sbin/qemu-system-x86_64", "e2e-w1")
	if err := c.bed.FailNext(n[1], "qemu-system-x86_64", 1000, 1, "qemu: simulated start failure\n"); err != nil {
		t.Fatal(err)
	}
	defer c.bed.ClearFaults(n[1])
	c.killQemu(n[1], "e2e-w1")
	for try := 1; try <= 5; try++ {
		rep := c.watcherJSON(3)
		if res, _ := rep.action("restart", "e2e-w1"); res != "failed" {
			t.Fatalf("attempt %d: %+v", try, rep)
		}
	}
	rep := c.watcherJSON(3)
	if _, ok := rep.action("restart", "e2e-w1"); ok || rep.Failed != 1 || len(rep.Notes) != 1 ||
		rep.Notes[0].Reason != "Could not restart instance 'e2e-w1' after 5 attempts, giving up" || !rep.Notes[0].Error {
		t.Fatalf("sixth failure: %+v", rep)
	}
	r = c.fails(0, "watcher")
	if !strings.Contains(r.stdout, "WARNING: instance e2e-w1: Not restarting instance 'e2e-w1', retries exhausted") {
		t.Fatalf("after giving up: %s", r)
	}
	if _, ok := c.running(n[1])["e2e-w1"]; ok {
		t.Fatal("e2e-w1 runs although every start failed")
	}
	c.bed.ClearFaults(n[1])
	c.ok("instance", "startup", "e2e-w1")
	c.fails(0, "watcher")

	// Paused: a pass does nothing and says why; --ignore-pause runs it.
	r = c.ok("cluster", "watcher", "pause", "1h")
	if !strings.HasPrefix(r.stdout, "The watcher is paused until ") {
		t.Fatalf("pause: %s", r)
	}
	if i := c.ok("cluster", "watcher", "info"); i.stdout != r.stdout {
		t.Errorf("info %q, pause said %q", i.stdout, r.stdout)
	}
	c.killQemu(n[1], "e2e-w1")
	r = c.fails(0, "watcher")
	if !strings.HasPrefix(r.stdout, "The watcher is paused until ") || !strings.Contains(r.stdout, "nothing done") {
		t.Fatalf("paused pass: %s", r)
	}
	if _, ok := c.running(n[1])["e2e-w1"]; ok {
		t.Fatal("a paused watcher restarted the instance")
	}
	if r := c.ok("cluster", "watcher", "continue"); r.stdout != "The watcher is no longer paused.\n" {
		t.Errorf("continue: %q", r.stdout)
	}
	if r := c.ok("cluster", "watcher", "info"); r.stdout != "The watcher is not paused.\n" {
		t.Errorf("info: %q", r.stdout)
	}

	// Two passes at once: the instance is restarted by one job only.
	before := c.jobList()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(binary, "--inventory", c.inv, "--state-dir", c.stateDir, "watcher")
			out, err := cmd.Output()
			outs[i] = string(out)
			if ee, ok := err.(*exec.ExitError); ok {
				codes[i] = ee.ExitCode()
			}
		}()
	}
	wg.Wait()
	if codes[0]+codes[1] != 2 || strings.Count(outs[0]+outs[1], "Restarting instance 'e2e-w1'") != 1 {
		t.Fatalf("two passes: codes %v\n%s\n---\n%s", codes, outs[0], outs[1])
	}
	starts := 0
	for id, j := range c.jobList() {
		if _, old := before[id]; !old && strings.HasPrefix(j.Operation, "INSTANCE_STARTUP") {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("%d startup jobs for two passes, want 1", starts)
	}
	if st := c.qmpStatus(n[1], "e2e-w1"); st != "running" {
		t.Errorf("after two passes QMP says %q", st)
	}
	if _, ok := c.running(n[1])["e2e-w2"]; ok {
		t.Error("the watcher started e2e-w2, which was shut down on purpose")
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-w1")
	c.ok("instance", "remove", "-f", "e2e-w2")
}

// TestWatcherRebootedSecondary: a DRBD secondary powered off and on comes
// back without its devices; the next pass notices the new boot ID,
// activates the instance's disks and the mirror resyncs. With
// maintain_node_health, what still runs on a node marked offline is
// stopped.
func TestWatcherRebootedSecondary(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-wd")
	c.fails(0, "watcher") // records the boot IDs
	if !strings.Contains(string(c.stateBytes()), `"boot_ids"`) {
		t.Fatal("the first pass recorded no boot ids")
	}
	if err := c.bed.PowerOff(t.Context(), n[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.bed.Boot(t.Context(), n[1]); err != nil {
		t.Fatal(err)
	}
	// Data written on the primary while the mirror is broken.
	c.fillRandom(n[0], "e2e-wd", 0, 4, 4)
	rep := c.watcherJSON(2)
	if res, _ := rep.action("activate-disks", "e2e-wd"); res != "done" {
		t.Fatalf("pass after the reboot: %+v", rep)
	}
	for _, a := range rep.Actions {
		if a.Kind == "activate-disks" && !strings.Contains(a.Detail, "secondary node "+n[1]+" rebooted") {
			t.Errorf("activation reason %q", a.Detail)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := c.node(n[1], "cat", "/run/testbed/drbd/proc_drbd")
		if strings.Contains(st, "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror did not resync:\n%s", st)
		}
		time.Sleep(time.Second)
	}
	if p, s := c.diskSum(n[0], "e2e-wd", 0, 32), c.drbdBackingSum(n[1], "e2e-wd"); p != s {
		t.Errorf("after the resync the secondary's data differs: %s vs %s", p, s)
	}
	c.fails(0, "watcher")

	// Node health: node3 is declared offline but still runs an instance.
	c.ok("instance", "add", "-n", n[2], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", "e2e-wo")
	c.ok("node", "modify", "-O", "yes", "--force", n[2])
	c.fails(0, "watcher") // maintain_node_health is off: left alone
	if _, ok := c.running(n[2])["e2e-wo"]; !ok {
		t.Fatal("e2e-wo stopped without maintain_node_health")
	}
	c.ok("cluster", "modify", "--maintain-node-health", "yes")
	rep = c.watcherJSON(2)
	if res, _ := rep.action("node-maintenance", n[2]); res != "done" {
		t.Fatalf("maintenance pass: %+v", rep)
	}
	if _, ok := c.running(n[2])["e2e-wo"]; ok {
		t.Error("e2e-wo still runs on the offline node")
	}
	c.ok("node", "modify", "-O", "no", n[2])
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-wd")
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-wo")
}

// drbdBackingSum is the SHA-256 of the first size MiB of a drbd
// instance's first data volume on node (a secondary has no disk link).
func (c *cluster) drbdBackingSum(node, inst string) string {
	c.t.Helper()
	return c.drbdBackingSumMiB(node, inst, 0)
}

// drbdBackingSumMiB is drbdBackingSum of the first size MiB (0: the disk).
func (c *cluster) drbdBackingSumMiB(node, inst string, size int64) string {
	c.t.Helper()
	var st struct {
		Instances map[string]struct {
			Disks []struct {
				Size     int64 `json:"size"`
				Children []struct {
					LogicalID []string `json:"logical_id"`
				} `json:"children"`
			} `json:"disks"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(c.stateBytes(), &st); err != nil {
		c.t.Fatal(err)
	}
	d := st.Instances[inst].Disks[0]
	lv := "/dev/" + d.Children[0].LogicalID[0] + "/" + d.Children[0].LogicalID[1]
	if size == 0 {
		size = d.Size
	}
	out := c.node(node, "sh", "-c", `head -c "$2" "$1" | sha256sum`, "lvsum", lv, fmt.Sprint(size<<20))
	return strings.Fields(out)[0]
}
