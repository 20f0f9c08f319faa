//go:build bed

package e2e

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// jobList returns the journal's jobs by ID.
func (c *cluster) jobList() map[int64]struct{ Status, Operation string } {
	c.t.Helper()
	var jobs []struct {
		ID        int64    `json:"id"`
		Status    string   `json:"status"`
		Opcodes   []string `json:"opcodes"`
		Operation string   `json:"operation"`
	}
	if err := json.Unmarshal([]byte(c.ok("--json", "job", "list").stdout), &jobs); err != nil {
		c.t.Fatal(err)
	}
	out := map[int64]struct{ Status, Operation string }{}
	for _, j := range jobs {
		op := j.Operation
		if len(j.Opcodes) > 0 {
			op = j.Opcodes[0]
		}
		out[j.ID] = struct{ Status, Operation string }{j.Status, op}
	}
	return out
}

// stateInstances decodes the state file's instances.
func (c *cluster) stateInstances() map[string]struct {
	PrimaryNode string `json:"primary_node"`
	AdminState  string `json:"admin_state"`
	Tags        []string
} {
	c.t.Helper()
	var st struct {
		Instances map[string]struct {
			PrimaryNode string `json:"primary_node"`
			AdminState  string `json:"admin_state"`
			Tags        []string
		} `json:"instances"`
	}
	if err := json.Unmarshal(c.stateBytes(), &st); err != nil {
		c.t.Fatal(err)
	}
	return st.Instances
}

// TestJobsConcurrentAndLocked runs two ganetictl processes at once on
// different instances (both succeed, the state holds both changes), then
// two on the same instance (the second fails naming the holder, or waits
// with --lock-timeout), a submitted job, and a drained queue.
func TestJobsConcurrentAndLocked(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-a")
	c.ok("instance", "add", "-n", n[1], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-b")

	// Different instances: both run at once and both changes land.
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i, name := range []string{"e2e-a", "e2e-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = c.run("instance", "startup", name)
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("concurrent startup %d: %s", i, r)
		}
	}
	insts := c.stateInstances()
	if insts["e2e-a"].AdminState != "up" || insts["e2e-b"].AdminState != "up" {
		t.Fatalf("the state lost a concurrent change: %+v", insts)
	}
	if c.qmpStatus(n[0], "e2e-a") != "running" || c.qmpStatus(n[1], "e2e-b") != "running" {
		t.Error("both instances should run")
	}
	// Concurrent tag changes of both instances (pure state commits, the
	// read-modify-write race) keep both.
	for i, name := range []string{"e2e-a", "e2e-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = c.run("instance", "add-tags", name, "t"+name)
		}()
	}
	wg.Wait()
	insts = c.stateInstances()
	if res[0].code != 0 || res[1].code != 0 || len(insts["e2e-a"].Tags) != 1 || len(insts["e2e-b"].Tags) != 1 {
		t.Fatalf("concurrent tags: %s\n%s\n%+v", res[0], res[1], insts)
	}

	// The same instance: a slow shutdown holds it; a second command fails
	// at once naming the holder, or waits for it.
	slow := c.start("instance", "shutdown", "--timeout", "3s", "e2e-a")
	c.waitLocked("e2e-a")
	r := c.fails(11, "--lock-timeout", "0", "instance", "reboot", "e2e-a")
	if !strings.Contains(r.stderr, "instance e2e-a is locked by") || !strings.Contains(r.stderr, `"instance shutdown e2e-a"`) {
		t.Errorf("lock conflict should name the holder: %s", r)
	}
	r = c.ok("--lock-timeout", "1m", "instance", "startup", "e2e-a")
	if !strings.Contains(r.stderr, "Waiting for instance e2e-a") {
		t.Errorf("a waiting command should say for what: %s", r)
	}
	if err := slow.Wait(); err != nil {
		t.Fatalf("the holder failed: %v", err)
	}
	if c.qmpStatus(n[0], "e2e-a") != "running" {
		t.Error("the startup queued behind the shutdown should leave e2e-a running")
	}

	// --submit prints a job ID at once; job watch follows it to the end.
	r = c.ok("--submit", "instance", "shutdown", "--timeout", "1s", "e2e-b")
	id := strings.TrimSpace(strings.TrimPrefix(r.stdout, "JobID:"))
	if id == "" || id == r.stdout {
		t.Fatalf("--submit output: %s", r)
	}
	if r := c.ok("job", "watch", id); !strings.Contains(r.stdout, "success") {
		t.Errorf("job watch: %s", r)
	}
	if _, ok := c.running(n[1])["e2e-b"]; ok {
		t.Error("the submitted shutdown did not stop e2e-b")
	}

	// A drained queue refuses new jobs until undrained.
	c.ok("cluster", "queue", "drain")
	if r := c.ok("cluster", "queue", "info"); !strings.Contains(r.stdout, "The drain flag is set") {
		t.Errorf("queue info: %s", r)
	}
	if r := c.fails(11, "instance", "startup", "e2e-b"); !strings.Contains(r.stderr, "drained") {
		t.Errorf("drained queue: %s", r)
	}
	c.ok("cluster", "queue", "undrain")
	c.ok("instance", "startup", "e2e-b")
	c.verifyClean()
}

// start starts ganetictl in the background.
func (c *cluster) start(args ...string) *exec.Cmd {
	c.t.Helper()
	full := append([]string{"--inventory", c.inv, "--state-dir", c.stateDir}, args...)
	cmd := exec.Command(binary, full...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// waitLocked waits until some ganetictl holds instance inst's lock.
func (c *cluster) waitLocked(inst string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(c.stateDir, "locks", "holders"))
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(c.stateDir, "locks", "holders", e.Name()))
			if bytes.Contains(b, []byte(`"name":"`+inst+`","exclusive":true`)) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("nobody took %s's lock", inst)
}

// killAfter runs ganetictl and SIGKILLs it after d (if still running).
// It reports whether the kill landed.
func (c *cluster) killAfter(d time.Duration, args ...string) bool {
	c.t.Helper()
	cmd := c.start(args...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// settle resumes or aborts every crashed job and returns how many it did.
func (c *cluster) settle(resume bool) int {
	c.t.Helper()
	n := 0
	for id, j := range c.jobList() {
		if j.Status != "crashed" {
			continue
		}
		verb := "abort"
		if resume {
			verb = "resume"
		}
		// A dry run shows what it would do and leaves the job as it is.
		if r := c.run("--dry-run", "job", verb, strconv.FormatInt(id, 10)); r.code != 0 && !strings.Contains(r.stderr, "has no plan recorded") && !strings.Contains(r.stderr, "cannot be") {
			c.t.Fatalf("--dry-run job %s %d (%s): %s", verb, id, j.Operation, r)
		}
		if after := c.jobList()[id]; after.Status != "crashed" {
			c.t.Fatalf("--dry-run job %s %d changed the job to %q", verb, id, after.Status)
		}
		r := c.run("job", verb, strconv.FormatInt(id, 10))
		if r.code != 0 && !strings.Contains(r.stderr, "has no plan recorded") {
			c.t.Fatalf("job %s %d (%s): %s", verb, id, j.Operation, r)
		}
		n++
	}
	return n
}

// TestJobsCrashLoop SIGKILLs ganetictl at random points of `instance add
// -t drbd` and `instance migrate`, then resumes or aborts the crashed job
// (alternately), and checks after each trial that cluster verify is clean
// and the state matches the nodes: the instance, if the state has it, runs
// on its primary with its marker; if not, nothing of it is left.
func TestJobsCrashLoop(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	crashed := 0
	const name = "e2e-crash"
	for trial := range 12 {
		d := time.Duration(rng.IntN(3000)) * time.Millisecond
		killed := c.killAfter(d, "instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", name)
		resume := trial%2 == 0
		crashed += c.settle(resume)
		c.checkConsistent(name, n[0], n[1], "add", trial, d, killed)
		if _, ok := c.stateInstances()[name]; ok {
			c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
		}
		if l := c.leftovers(n[0], name) + c.leftovers(n[1], name); l != "" {
			t.Fatalf("add trial %d: leftovers after remove: %s", trial, l)
		}
	}

	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", name)
	m := c.marker(n[0], name, 0)
	for trial := range 12 {
		d := time.Duration(rng.IntN(1500)) * time.Millisecond
		killed := c.killAfter(d, "instance", "migrate", "-f", name)
		crashed += c.settle(trial%2 == 0)
		p := c.stateInstances()[name].PrimaryNode
		s := n[0]
		if p == n[0] {
			s = n[1]
		}
		c.checkConsistent(name, p, s, "migrate", trial, d, killed)
		if got := c.marker(p, name, 0); got != m {
			t.Fatalf("migrate trial %d (kill after %v): marker on %s is %+v, want %+v", trial, d, p, got, m)
		}
	}
	if crashed < 12 {
		t.Errorf("only %d of 24 kills cut a job off mid-run: the kill points miss the operations", crashed)
	}
	t.Logf("%d crashed jobs settled", crashed)
}

// checkConsistent asserts that the state and the nodes agree about inst.
func (c *cluster) checkConsistent(inst, primary, secondary, op string, trial int, d time.Duration, killed bool) {
	c.t.Helper()
	ctx := func() string {
		return op + " trial " + strconv.Itoa(trial) + " (kill after " + d.String() + ", landed " + map[bool]string{true: "yes", false: "no"}[killed] + ")"
	}
	r := c.run("cluster", "verify")
	if r.code != 0 || strings.Contains(r.stdout, "ERROR") || strings.Contains(r.stdout, "WARNING") {
		c.t.Fatalf("%s: cluster verify not clean:\n%s\njobs: %v", ctx(), r, c.jobList())
	}
	if _, ok := c.stateInstances()[inst]; ok {
		if st := c.qmpStatus(primary, inst); st != "running" {
			c.t.Fatalf("%s: the state has %s on %s, QMP says %q", ctx(), inst, primary, st)
		}
		if _, ok := c.running(secondary)[inst]; ok {
			c.t.Fatalf("%s: %s also runs on %s", ctx(), inst, secondary)
		}
		return
	}
	if l := c.leftovers(primary, inst) + c.leftovers(secondary, inst); l != "" {
		c.t.Fatalf("%s: %s is not in the state but its pieces are on the nodes: %s", ctx(), inst, l)
	}
}
