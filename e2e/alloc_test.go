//go:build bed

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/alloc"
)

// smallPolicy lets the test bed's small instances through the instance
// policy, which the allocator applies (Ganeti's default wants disks of
// at least 1 GiB); it is also gnt-cluster modify --ipolicy-*'s test.
func (c *cluster) smallPolicy() {
	c.t.Helper()
	c.ok("cluster", "modify", "--ipolicy-bounds-specs",
		"min:cpu-count=1,disk-count=1,disk-size=16,memory-size=64,nic-count=0,spindle-use=0/max:cpu-count=8,disk-count=16,disk-size=1048576,memory-size=32768,nic-count=8,spindle-use=12")
	info := c.ok("cluster", "info").stdout
	if !strings.Contains(info, "Instance policy - limits for instances") || !strings.Contains(info, "disk-size: 16") {
		c.t.Errorf("cluster info does not show the new policy:\n%s", info)
	}
	if cmd := c.ok("cluster", "show-ispecs-cmd").stdout; !strings.Contains(cmd, "--ipolicy-bounds-specs min:cpu-count=1,disk-count=1,disk-size=16") {
		c.t.Errorf("show-ispecs-cmd: %s", cmd)
	}
}

// lvsOf counts instance inst's LVs on node (by their originstname tag).
func (c *cluster) lvsOf(node, inst string) int {
	c.t.Helper()
	out := c.node(node, "sh", "-c", "lvs --noheadings -o lv_name,lv_tags xenvg 2>/dev/null | grep -c -F 'originstname+"+inst+"' || true")
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// nodesOf are an instance's primary and secondaries as the state says.
func (c *cluster) nodesOf(inst string) (string, []string) {
	c.t.Helper()
	r := c.ok("instance", "list", "-o", "pnode,snodes", "--no-headers", "--separator=|", inst)
	p, s, _ := strings.Cut(strings.TrimSpace(r.stdout), "|")
	if s == "" {
		return p, nil
	}
	return p, strings.Split(s, ",")
}

// TestAllocInstanceAdd: instance add without -n places plain and drbd
// instances on nodes the rules allow (not the drained one), with their
// volumes there; a request that fits nowhere is refused node by node, in
// words and as --json details; -I runs an external iallocator (the real
// hail when installed, and a script of our own) with Ganeti's protocol.
func TestAllocInstanceAdd(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.smallPolicy()
	c.ok("node", "modify", "-D", "yes", n[2])
	allowed := n[:2]

	r := c.ok("instance", "add", "-o", "testos", "-t", "plain", "-s", "64M", "--no-start", "--no-name-check", "e2e-a1")
	if !strings.Contains(r.stdout+r.stderr, "the allocator chose") {
		t.Errorf("instance add should say what the allocator chose:\n%s", r)
	}
	p, _ := c.nodesOf("e2e-a1")
	if !slices.Contains(allowed, p) {
		t.Fatalf("e2e-a1 on %s, want one of %v", p, allowed)
	}
	for _, node := range n {
		want := 0
		if node == p {
			want = 1
		}
		if got := c.lvsOf(node, "e2e-a1"); got != want {
			t.Errorf("%s holds %d LVs of e2e-a1, want %d", node, got, want)
		}
	}

	c.ok("instance", "add", "-o", "testos", "-t", "drbd", "-s", "64M", "--no-start", "--no-name-check", "e2e-d1")
	p, s := c.nodesOf("e2e-d1")
	if len(s) != 1 || p == s[0] || !slices.Contains(allowed, p) || !slices.Contains(allowed, s[0]) {
		t.Fatalf("e2e-d1 on %s:%v, want a pair of %v", p, s, allowed)
	}
	for _, node := range []string{p, s[0]} {
		if got := c.lvsOf(node, "e2e-d1"); got != 2 { // data and meta
			t.Errorf("%s holds %d LVs of e2e-d1, want 2", node, got)
		}
	}
	if got := c.lvsOf(n[2], "e2e-d1"); got != 0 {
		t.Errorf("the drained node holds %d LVs of e2e-d1", got)
	}

	// Nowhere to go: every node says why.
	r = c.fails(1, "instance", "add", "-o", "testos", "-t", "plain", "-s", "100G", "--no-start", "--no-name-check", "e2e-big")
	for _, want := range []string{"no node can take e2e-big (", " MiB, 1 vcpus, 100 GiB plain): ", "free disk, needs 100 GiB", n[2] + ": drained"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("refusal should say %q:\n%s", want, r.stderr)
		}
	}
	r = c.fails(1, "--json", "instance", "add", "-o", "testos", "-t", "plain", "-s", "100G", "--no-start", "--no-name-check", "e2e-big")
	var jerr struct {
		Error struct {
			Type    string `json:"type"`
			Details struct {
				Nodes []struct{ Node, Reason string } `json:"nodes"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &jerr); err != nil || jerr.Error.Type != "insufficient_resources" || len(jerr.Error.Details.Nodes) != 3 {
		t.Errorf("--json refusal: %v: %s", err, r.stdout)
	}

	// -I hail is ganetictl's own allocator.
	c.ok("instance", "add", "-I", "hail", "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-a2")
	if p, _ := c.nodesOf("e2e-a2"); !slices.Contains(allowed, p) {
		t.Errorf("e2e-a2 (-I hail) on %s", p)
	}

	// External iallocators: found in GANETICTL_IALLOCATOR_PATH, run with
	// the request file as argument, answering on stdout.
	dir := t.TempDir()
	t.Setenv("GANETICTL_IALLOCATOR_PATH", dir)
	script := "#!/bin/sh\ncp \"$1\" " + filepath.Join(dir, "request.json") + "\necho '{\"success\": true, \"info\": \"by a script\", \"result\": [\"" + n[1] + "\"]}'\n"
	if err := os.WriteFile(filepath.Join(dir, "pick-node2"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r = c.ok("instance", "add", "-I", "pick-node2", "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-x1")
	if p, _ := c.nodesOf("e2e-x1"); p != n[1] {
		t.Errorf("e2e-x1 on %s, the script chose %s", p, n[1])
	}
	req, err := os.ReadFile(filepath.Join(dir, "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := alloc.ParseRequest(req, alloc.ParseOptions{})
	if err != nil {
		t.Fatalf("the request ganetictl wrote is not a valid iallocator request: %v\n%s", err, req)
	}
	if parsed.Type != alloc.ReqAllocate || parsed.Allocs[0].Name != "e2e-x1" || len(parsed.Cluster.Nodes) != 3 {
		t.Errorf("request: type %s, %d nodes", parsed.Type, len(parsed.Cluster.Nodes))
	}
	refuse := "#!/bin/sh\necho '{\"success\": false, \"info\": \"nothing fits\", \"result\": []}'\n"
	if err := os.WriteFile(filepath.Join(dir, "refuse"), []byte(refuse), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := c.fails(1, "instance", "add", "-I", "refuse", "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-x2"); !strings.Contains(r.stderr, "iallocator refuse: nothing fits") {
		t.Errorf("a refusing iallocator: %s", r.stderr)
	}
	if r := c.fails(1, "instance", "add", "-I", "no-such", "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-x2"); !strings.Contains(r.stderr, "Can't find iallocator 'no-such'") {
		t.Errorf("a missing iallocator: %s", r.stderr)
	}
	// The real hail, when installed, places the same requests. htools
	// run as what their name says, and -I hail is ganetictl's own: the
	// real one goes by its absolute path.
	if hail := "/usr/lib/ganeti/3.0/usr/lib/ganeti/iallocators/hail"; fileExists(hail) {
		real := filepath.Join(dir, "real", "hail")
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(hail, real); err != nil {
			t.Fatal(err)
		}
		c.ok("instance", "add", "-I", real, "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-h1")
		if p, _ := c.nodesOf("e2e-h1"); !slices.Contains(allowed, p) {
			t.Errorf("hail placed e2e-h1 on %s, want one of %v", p, allowed)
		}
		c.ok("instance", "add", "-I", real, "-o", "testos", "-t", "drbd", "-s", "32M", "--no-start", "--no-name-check", "e2e-h2")
		if p, s := c.nodesOf("e2e-h2"); len(s) != 1 || !slices.Contains(allowed, p) || !slices.Contains(allowed, s[0]) || p == s[0] {
			t.Errorf("hail placed e2e-h2 on %s:%v", p, s)
		}
	} else {
		t.Log("the real hail is not installed (ganeti-htools-3.0): tested with scripts only")
	}
	c.verifyClean()
	for _, i := range []string{"e2e-a1", "e2e-a2", "e2e-d1", "e2e-x1", "e2e-h1", "e2e-h2"} {
		c.run("instance", "remove", "-f", i)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestAllocEvacuate: node evacuate -I hail empties a node: the drbd
// mirror moves to the third node, the plain instance is copied away.
func TestAllocEvacuate(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.smallPolicy()
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-ed")
	c.ok("instance", "add", "-n", n[1], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-ep")
	m := c.marker(n[0], "e2e-ed", 0)
	r := c.ok("node", "evacuate", "-I", "hail", n[1])
	if !strings.Contains(r.stdout, "e2e-ed") || !strings.Contains(r.stdout, "e2e-ep") {
		t.Errorf("evacuate should show its moves:\n%s", r)
	}
	for _, i := range []string{"e2e-ed", "e2e-ep"} {
		p, s := c.nodesOf(i)
		if p == n[1] || slices.Contains(s, n[1]) {
			t.Errorf("%s still on %s: %s:%v", i, n[1], p, s)
		}
		if got := c.lvsOf(n[1], i); got != 0 {
			t.Errorf("%s: %d LVs left on the evacuated node", i, got)
		}
	}
	if p, s := c.nodesOf("e2e-ed"); p != n[0] || len(s) != 1 || s[0] != n[2] {
		t.Errorf("e2e-ed on %s:%v, want %s:%s", p, s, n[0], n[2])
	}
	if got := c.marker(n[0], "e2e-ed", 0); got != m {
		t.Errorf("marker after the evacuation: %+v, want %+v", got, m)
	}
	c.verifyClean()
	c.run("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-ed")
	c.run("instance", "remove", "-f", "e2e-ep")
}

// balanceScore runs cluster balance --dry-run --json and returns its
// initial and final scores and moves.
func (c *cluster) balanceScore() (float64, float64, int) {
	c.t.Helper()
	r := c.ok("--dry-run", "--json", "cluster", "balance")
	var b struct {
		Initial float64           `json:"initial_score"`
		Final   float64           `json:"final_score"`
		Moves   []json.RawMessage `json:"moves"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		c.t.Fatalf("cluster balance --json: %v: %s", err, r.stdout)
	}
	return b.Initial, b.Final, len(b.Moves)
}

// TestAllocBalance: on a 4-node bed with every instance on the first
// node, cluster balance plans moves; applied, they lower the score (the
// next balance starts where the plan said it would end) and leave
// cluster verify clean.
func TestAllocBalance(t *testing.T) {
	c := newCluster(t, 4)
	n := c.names()
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	c.smallPolicy()
	for i := 0; i < 3; i++ {
		c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-start", "--no-name-check", "e2e-bd"+strconv.Itoa(i))
	}
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-bp")
	ini, fin, moves := c.balanceScore()
	if moves == 0 || fin >= ini {
		t.Fatalf("balance plans %d moves from %.8f to %.8f", moves, ini, fin)
	}
	r := c.ok("--dry-run", "cluster", "balance", "-C")
	if !strings.Contains(r.stdout, "Solution length=") || !strings.Contains(r.stdout, "ganetictl instance ") {
		t.Errorf("cluster balance -C:\n%s", r.stdout)
	}
	c.ok("--yes", "cluster", "balance")
	after, _, _ := c.balanceScore()
	if after >= ini {
		t.Errorf("score after the moves %.8f, before %.8f", after, ini)
	}
	if after > fin+1e-3 {
		t.Errorf("score after the moves %.8f, the plan said %.8f", after, fin)
	}
	pri := map[string]int{}
	for i := 0; i < 3; i++ {
		p, _ := c.nodesOf("e2e-bd" + strconv.Itoa(i))
		pri[p]++
	}
	if pri[n[0]] == 3 {
		t.Errorf("every drbd instance still has %s as primary", n[0])
	}
	c.verifyClean()
	for i := 0; i < 3; i++ {
		c.run("instance", "remove", "-f", "e2e-bd"+strconv.Itoa(i))
	}
	c.run("instance", "remove", "-f", "e2e-bp")
}

// TestAllocChangeGroup: instance change-group moves a drbd instance to a
// pair of nodes in the other group (a new secondary there, a failover, a
// second new secondary), a plain one by copying its disk; group evacuate
// brings them back.
func TestAllocChangeGroup(t *testing.T) {
	c := newCluster(t, 4)
	n := c.names()
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	c.smallPolicy()
	c.ok("group", "add", "rack2")
	c.ok("group", "assign-nodes", "rack2", n[2], n[3])
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-start", "--no-name-check", "e2e-gd")
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-start", "--no-name-check", "e2e-gp")
	rack2 := []string{n[2], n[3]}
	c.ok("instance", "change-group", "--to", "rack2", "e2e-gd", "e2e-gp")
	p, s := c.nodesOf("e2e-gd")
	if !slices.Contains(rack2, p) || len(s) != 1 || !slices.Contains(rack2, s[0]) {
		t.Errorf("e2e-gd on %s:%v after change-group, want rack2's %v", p, s, rack2)
	}
	if p, _ := c.nodesOf("e2e-gp"); !slices.Contains(rack2, p) {
		t.Errorf("e2e-gp on %s after change-group, want rack2", p)
	}
	for _, node := range n[:2] {
		if c.lvsOf(node, "e2e-gd")+c.lvsOf(node, "e2e-gp") != 0 {
			t.Errorf("%s keeps volumes after change-group", node)
		}
	}
	c.verifyClean()
	c.ok("group", "evacuate", "rack2")
	for _, i := range []string{"e2e-gd", "e2e-gp"} {
		p, s := c.nodesOf(i)
		if slices.Contains(rack2, p) || (len(s) > 0 && slices.Contains(rack2, s[0])) {
			t.Errorf("%s on %s:%v after group evacuate rack2", i, p, s)
		}
	}
	c.verifyClean()
	c.run("instance", "remove", "-f", "e2e-gd")
	c.run("instance", "remove", "-f", "e2e-gp")
}
