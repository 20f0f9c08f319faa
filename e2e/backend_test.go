//go:build bed

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile/etcdstore/etcdtest"
)

// withBackend writes an inventory beside the bed's (its relative paths
// stay valid) whose [state] names backend, with the tables in extra, and
// points c at it.
func (c *cluster) withBackend(backend, extra string) {
	c.t.Helper()
	b, err := os.ReadFile(c.bed.InventoryPath())
	if err != nil {
		c.t.Fatal(err)
	}
	inv := strings.Replace(string(b), `backend = "dir"`, fmt.Sprintf("backend = %q", backend), 1)
	if inv == string(b) && backend != "dir" {
		c.t.Fatal("the bed's inventory has no backend key")
	}
	p := filepath.Join(filepath.Dir(c.bed.InventoryPath()), fmt.Sprintf("inventory-%s-%d.toml", backend, time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(inv+"\n"+extra), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { os.Remove(p) })
	c.inv = p
}

// workstation is another admin machine: the same inventory, its own state
// directory.
func (c *cluster) workstation() *cluster {
	w := *c
	w.stateDir = c.t.TempDir()
	return &w
}

// shownState is the state as `state show` prints it (any backend).
func (c *cluster) shownState() (serial int64, insts map[string]struct {
	AdminState string `json:"admin_state"`
	Tags       []string
}) {
	c.t.Helper()
	var st struct {
		Serial    int64 `json:"serial"`
		Instances map[string]struct {
			AdminState string `json:"admin_state"`
			Tags       []string
		} `json:"instances"`
	}
	if err := json.Unmarshal([]byte(c.ok("state", "show").stdout), &st); err != nil {
		c.t.Fatal(err)
	}
	return st.Serial, st.Instances
}

// waitJob waits until a job running op is in the journal, and returns
// its ID.
func (c *cluster) waitJob(op string) int64 {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for id, j := range c.jobList() {
			if j.Status == "running" && strings.Contains(j.Operation, op) {
				return id
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no job %q started: %v", op, c.jobList())
	return 0
}

const clusterBackend = `[state.cluster]
lock_ttl = "5s"
`

func etcdBackend(e *etcdtest.Cluster, prefix string) string {
	q := make([]string, 0, 3)
	for _, ep := range e.Endpoints() {
		q = append(q, strconv.Quote(ep))
	}
	return fmt.Sprintf("[state.etcd]\nendpoints = [%s]\nprefix = %q\nlease_ttl = \"3s\"\n", strings.Join(q, ", "), prefix)
}

// TestBackendCluster: two workstations on the cluster backend.
func TestBackendCluster(t *testing.T) {
	c := newCluster(t, 3)
	c.withBackend("cluster", clusterBackend)
	twoWorkstations(t, c)
	// The store is on the master, apart from the candidates' replica.
	if out := c.node(c.names()[0], "ls", "/var/lib/ganeti/ganetictl/store"); !strings.Contains(out, "state.json") || !strings.Contains(out, "journal") {
		t.Errorf("store on the master: %q", out)
	}
	killedHolder(t, c, 0)
}

// TestBackendEtcd: two workstations on the etcd backend, a leader killed
// mid-commit, a killed holder's lease expiring.
func TestBackendEtcd(t *testing.T) {
	e := etcdtest.Start(t, 3)
	c := newCluster(t, 3)
	c.withBackend("etcd", etcdBackend(e, fmt.Sprintf("/ganetictl-e2e/%d/", time.Now().UnixNano())))
	twoWorkstations(t, c)
	leaderKilled(t, c, e)
	killedHolder(t, c, 3*time.Second)
}

// twoWorkstations: work on the same instance from two workstations is
// serialised, on different instances runs in parallel, and concurrent
// commits lose nothing.
func twoWorkstations(t *testing.T, w1 *cluster) {
	w2 := w1.workstation()
	n := w1.names()
	w1.ok("cluster", "init")
	w2.ok("node", "add", n[1])
	w1.ok("node", "add", n[2])
	w1.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-a")
	w2.ok("instance", "add", "-n", n[1], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-b")
	if r := w2.ok("job", "list"); !strings.Contains(r.stdout, "e2e-a") {
		t.Errorf("the second workstation does not see the first one's jobs: %s", r)
	}
	w1.ok("instance", "startup", "e2e-a")
	w2.ok("instance", "startup", "e2e-b")

	// The same instance: a slow shutdown on w1 holds it; w2 fails at once
	// naming the holder, or waits for it.
	slow := w1.start("instance", "shutdown", "--timeout", "3s", "e2e-a")
	w2.waitJob("INSTANCE_SHUTDOWN(e2e-a)")
	r := w2.fails(11, "--lock-timeout", "0", "instance", "reboot", "e2e-a")
	if !strings.Contains(r.stderr, "instance e2e-a is locked by") || !strings.Contains(r.stderr, `"instance shutdown e2e-a"`) {
		t.Errorf("lock conflict should name the holder: %s", r)
	}
	// A different instance meanwhile: no wait.
	r = w2.ok("instance", "add-tags", "e2e-b", "during")
	if strings.Contains(r.stderr, "Waiting") {
		t.Errorf("work on another instance waited: %s", r)
	}
	r = w2.ok("--lock-timeout", "1m", "instance", "startup", "e2e-a")
	if !strings.Contains(r.stderr, "Waiting for instance e2e-a") {
		t.Errorf("a waiting command should say for what: %s", r)
	}
	if err := slow.Wait(); err != nil {
		t.Fatalf("the holder failed: %v", err)
	}
	if w1.qmpStatus(n[0], "e2e-a") != "running" {
		t.Error("the startup queued behind the shutdown should leave e2e-a running")
	}

	// 20 concurrent tag and modify commands from both workstations.
	var wg sync.WaitGroup
	res := make([]result, 20)
	want := map[string][]string{}
	for i := range 20 {
		w, inst := w1, "e2e-a"
		if i%2 == 1 {
			w = w2
		}
		if i%4 >= 2 {
			inst = "e2e-b"
		}
		tag := fmt.Sprintf("t%d", i)
		want[inst] = append(want[inst], tag)
		wg.Go(func() { res[i] = w.run("--lock-timeout", "5m", "instance", "add-tags", inst, tag) })
	}
	wg.Wait()
	for i, r := range res {
		if r.code != 0 {
			t.Errorf("concurrent command %d: %s", i, r)
		}
	}
	_, insts := w2.shownState()
	for inst, tags := range want {
		for _, tag := range tags {
			if !slices.Contains(insts[inst].Tags, tag) {
				t.Errorf("%s lost tag %s: %v", inst, tag, insts[inst].Tags)
			}
		}
	}
	if !slices.Contains(insts["e2e-b"].Tags, "during") {
		t.Errorf("e2e-b lost tag during")
	}
	w1.verifyClean()
}

// killedHolder: a ganetictl killed while it holds an instance leaves its
// job crashed once its locks go (at once with the cluster backend, when
// the lease expires with etcd); the other workstation resumes it.
func killedHolder(t *testing.T, w1 *cluster, ttl time.Duration) {
	w2 := w1.workstation()
	cmd := w1.start("instance", "shutdown", "--timeout", "20s", "e2e-a")
	id := w2.waitJob("INSTANCE_SHUTDOWN(e2e-a)")
	time.Sleep(500 * time.Millisecond) // into its shutdown step
	cmd.Process.Kill()
	cmd.Wait()
	killed := time.Now()
	deadline := killed.Add(ttl + 30*time.Second)
	for w2.jobList()[id].Status != "crashed" {
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %q %v after its holder was killed", id, w2.jobList()[id].Status, time.Since(killed))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("job %d seen crashed %v after the kill (lock TTL %v)", id, time.Since(killed).Round(100*time.Millisecond), ttl)
	if r := w2.fails(11, "--lock-timeout", "0", "instance", "startup", "e2e-a"); !strings.Contains(r.stderr, "job resume") {
		t.Errorf("the crashed job's claim should refuse others: %s", r)
	}
	w2.ok("--lock-timeout", "1m", "job", "resume", strconv.FormatInt(id, 10))
	if got := w2.jobList()[id].Status; got != "success" {
		t.Errorf("resumed job %d: %s", id, got)
	}
	if _, ok := w2.running(w1.names()[0])["e2e-a"]; ok {
		t.Error("the resumed shutdown left e2e-a running")
	}
	w2.ok("instance", "startup", "e2e-a")
	w2.verifyClean()
}

// leaderKilled: commits while the etcd leader is killed either happen
// whole or not at all: every acknowledged tag is there, serials are
// gapless and each is readable.
func leaderKilled(t *testing.T, w *cluster, e *etcdtest.Cluster) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tag := fmt.Sprintf("k%d", i)
			if r := w.run("--lock-timeout", "1m", "instance", "add-tags", "e2e-b", tag); r.code == 0 {
				mu.Lock()
				acked[tag] = true
				mu.Unlock()
			}
		}
	})
	for range 2 {
		time.Sleep(700 * time.Millisecond)
		leader, err := e.Leader(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		e.Kill(leader)
		time.Sleep(2 * time.Second)
		e.Restart(leader)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	serial, insts := w.shownState()
	for tag := range acked {
		if !slices.Contains(insts["e2e-b"].Tags, tag) {
			t.Errorf("acknowledged commit %s missing", tag)
		}
	}
	var hist []struct {
		Serial int64 `json:"serial"`
	}
	if err := json.Unmarshal([]byte(w.ok("--json", "state", "history").stdout), &hist); err != nil {
		t.Fatal(err)
	}
	if int64(len(hist)) != serial {
		t.Fatalf("history has %d versions, state serial %d", len(hist), serial)
	}
	for i, h := range hist {
		if h.Serial != int64(i+1) {
			t.Fatalf("history[%d] = serial %d", i, h.Serial)
		}
		w.ok("state", "show", "--serial", strconv.FormatInt(h.Serial, 10))
	}
	t.Logf("%d commits acknowledged while the leader was killed twice; serial %d", len(acked), serial)
	if len(acked) == 0 {
		t.Error("no commit went through")
	}
}

// TestStateMigrateRoundTrip: dir -> cluster -> etcd -> dir gives the same
// state, history and journal, file by file.
func TestStateMigrateRoundTrip(t *testing.T) {
	e := etcdtest.Start(t, 3)
	c := newCluster(t, 2)
	n := c.names()
	tables := clusterBackend + etcdBackend(e, fmt.Sprintf("/ganetictl-e2e/%d/", time.Now().UnixNano()))
	c.withBackend("dir", tables)
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-m")
	c.ok("instance", "add-tags", "e2e-m", "migrated")
	c.ok("job", "archive", "1")
	orig := c.stateDir

	c.ok("state", "migrate", "--to", "cluster")
	if r := c.fails(11, "instance", "add-tags", "e2e-m", "late"); !strings.Contains(r.stderr, "drained") {
		t.Errorf("the old backend should be drained: %s", r)
	}
	cc := c.workstation()
	cc.withBackend("cluster", tables)
	if r := cc.ok("state", "history"); !strings.Contains(r.stdout, "instance add") {
		t.Errorf("history on the cluster backend: %s", r)
	}
	cc.ok("state", "migrate", "--to", "etcd")
	ce := c.workstation()
	ce.withBackend("etcd", tables)
	back := t.TempDir()
	ce.ok("state", "migrate", "--to", "dir", "--to-dir", back)

	same := func(rel string) {
		a, err1 := os.ReadFile(filepath.Join(orig, rel))
		b, err2 := os.ReadFile(filepath.Join(back, rel))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after the round trip (%v, %v)", rel, err1, err2)
		}
	}
	same("state.json")
	for _, pat := range []string{"history/*.json", "journal/*.json", "journal/archive/*.json"} {
		files, _ := filepath.Glob(filepath.Join(orig, pat))
		if len(files) == 0 {
			t.Errorf("nothing in %s", pat)
		}
		for _, f := range files {
			rel, _ := filepath.Rel(orig, f)
			same(rel)
		}
		got, _ := filepath.Glob(filepath.Join(back, pat))
		if len(got) != len(files) {
			t.Errorf("%s: %d files, want %d", pat, len(got), len(files))
		}
	}
	d := c.in(back)
	d.withBackend("dir", tables)
	a, b := c.ok("--json", "state", "history").stdout, d.ok("--json", "state", "history").stdout
	if a != b {
		t.Errorf("history entries differ:\n%s\n%s", a, b)
	}
	if _, err := os.Stat(filepath.Join(back, "queue.drained")); err == nil {
		t.Error("the round trip drained the queue")
	}
}

// TestBackendClusterFailoverAndRehome: master-failover moves the store to
// the new master; with that master powered off, cluster recover --rehome
// rebuilds the store on a candidate from the candidates' copies.
func TestBackendClusterFailoverAndRehome(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.withBackend("cluster", clusterBackend)
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("cluster", "master-failover", n[1])
	const store = "/var/lib/ganeti/ganetictl/store"
	if got := strings.TrimSpace(c.node(n[0], "cat", store+"/moved")); got != n[1] {
		t.Fatalf("moved marker on %s: %q", n[0], got)
	}
	w2 := c.workstation()
	w2.ok("cluster", "add-tags", "after-failover")
	serial, _ := w2.shownState()
	if out := c.node(n[1], "sh", "-c", "ls "+store+"/history"); !strings.Contains(out, strconv.FormatInt(serial-1, 10)+".json") {
		t.Errorf("history on the new master: %s", out)
	}
	if r := w2.ok("job", "list"); !strings.Contains(r.stdout, "CLUSTER_MASTER_FAILOVER") {
		t.Errorf("the journal did not move with the store: %s", r)
	}

	// The new master dies.
	if err := c.bed.PowerOff(t.Context(), n[1]); err != nil {
		t.Fatal(err)
	}
	booted := false
	t.Cleanup(func() {
		if !booted {
			c.bed.Boot(context.Background(), n[1])
		}
	})
	if r := w2.run("state", "show"); r.code == 0 || !strings.Contains(r.stderr, "--rehome") {
		t.Errorf("state show with the store's node down should point at recover --rehome: %s", r)
	}
	w2.ok("--yes", "cluster", "recover", "--rehome", n[2])
	c.withBackend("cluster", clusterBackend+fmt.Sprintf("node = %q\n", n[2]))
	serial2, _ := c.shownState()
	if serial2 < serial {
		t.Errorf("recovered serial %d < %d", serial2, serial)
	}
	if r := c.ok("cluster", "getmaster"); strings.TrimSpace(r.stdout) != n[2] {
		t.Errorf("getmaster after rehome: %q", r.stdout)
	}
	c.ok("cluster", "add-tags", "after-rehome")
	if err := c.bed.Boot(t.Context(), n[1]); err != nil {
		t.Fatal(err)
	}
	booted = true
	_, _ = c.shownState()
	var st struct {
		Cluster struct{ Tags []string } `json:"cluster"`
	}
	json.Unmarshal([]byte(c.ok("state", "show").stdout), &st)
	if !slices.Contains(st.Cluster.Tags, "after-failover") || !slices.Contains(st.Cluster.Tags, "after-rehome") {
		t.Errorf("tags after rehome: %v", st.Cluster.Tags)
	}
}
