//go:build bed

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestClusterAndNodeLifecycle walks the foundation commands on a 3-node bed
// and checks node reality after each mutating one.
func TestClusterAndNodeLifecycle(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	master, n2, n3 := n[0], n[1], n[2]

	// A dry run of init prints the node commands and touches nothing.
	r := c.ok("--dry-run", "cluster", "init")
	for _, want := range []string{"CLUSTER_INIT", "mkdir -p -m 0750", "+ node " + master, "Plan:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init --dry-run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, "state.json")); !os.IsNotExist(err) {
		t.Fatalf("dry run wrote a state: %v", err)
	}
	if _, err := c.nodeErr(master, "test", "-e", "/var/lib/ganeti/ganetictl"); err == nil {
		t.Fatal("dry run created /var/lib/ganeti/ganetictl on the master")
	}

	c.ok("cluster", "init")
	var st struct {
		Serial  int64  `json:"serial"`
		Lineage string `json:"lineage"`
		Cluster struct {
			Name   string `json:"cluster_name"`
			Master string `json:"master_node"`
		} `json:"cluster"`
		Nodes map[string]struct {
			MasterCandidate bool     `json:"master_candidate"`
			Offline         bool     `json:"offline"`
			Tags            []string `json:"tags"`
		} `json:"nodes"`
	}
	readState := func() {
		t.Helper()
		st.Nodes = nil // Unmarshal would keep keys that are gone
		if err := json.Unmarshal(c.stateBytes(), &st); err != nil {
			t.Fatal(err)
		}
	}
	readState()
	if st.Lineage == "" || st.Cluster.Master != master || len(st.Nodes) != 1 {
		t.Fatalf("state after init: %+v", st)
	}
	c.checkReplicas(master)
	if got := strings.TrimSpace(c.ok("cluster", "getmaster").stdout); got != master {
		t.Errorf("getmaster = %q, want %q", got, master)
	}

	c.ok("node", "add", n2)
	c.ok("node", "add", n3)
	readState()
	if len(st.Nodes) != 3 || !st.Nodes[n3].MasterCandidate {
		t.Fatalf("state after node add: %+v", st.Nodes)
	}
	c.checkReplicas(master, n2, n3)
	c.fails(1, "node", "add", n2) // already there

	// node list: live fields come from the nodes.
	r = c.ok("node", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^Node\s+DTotal DFree MTotal MNode MFree Pinst Sinst$`).MatchString(lines[0]) {
		t.Fatalf("node list:\n%s", r.stdout)
	}
	for _, l := range lines[1:] {
		if !regexp.MustCompile(`^node\S+\s+\d+\.\dG\s+\d+(\.\d)?[MGT]\s+\d+(\.\d)?[MG]\s+\d+M?\S*\s+\S+\s+0\s+0$`).MatchString(l) {
			t.Errorf("node list row does not look like Ganeti's: %q", l)
		}
	}
	r = c.ok("node", "list", "-o", "name,pip,master_candidate,role", "--no-headers", "--separator", "|")
	if !strings.Contains(r.stdout, master+"|") || !strings.Contains(r.stdout, "|Y|M") {
		t.Errorf("node list -o: %s", r.stdout)
	}
	r = c.ok("--json", "node", "list", "-o", "name,mtotal")
	var recs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 3 {
		t.Fatalf("node list --json: %v: %s", err, r.stdout)
	}
	if mt, ok := recs[0]["mtotal"].(float64); !ok || mt < 100 {
		t.Errorf("mtotal from the node = %v", recs[0]["mtotal"])
	}
	r = c.ok("node", "info", n2)
	for _, want := range []string{"- Node name: " + n2, "  master candidate: True", "  node parameters: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("node info lacks %q:\n%s", want, r.stdout)
		}
	}

	r = c.ok("cluster", "verify")
	if strings.Contains(r.stdout, "ERROR") || !strings.Contains(r.stdout, "* Verifying node status") {
		t.Fatalf("verify on a fresh cluster:\n%s", r.stdout)
	}

	// cluster command runs everywhere, output per node, master last.
	r = c.ok("cluster", "command", "--", "uname", "-n")
	for _, name := range n {
		if !strings.Contains(r.stdout, "node: "+name+"\n"+name+"\nreturn code = 0") {
			t.Errorf("command output for %s missing:\n%s", name, r.stdout)
		}
	}
	if strings.LastIndex(r.stdout, "node: "+master) < strings.LastIndex(r.stdout, "node: "+n3) {
		t.Errorf("master should come last:\n%s", r.stdout)
	}
	// A failing command on one node shows its code and exits 3.
	r = c.fails(3, "cluster", "command", "-n", n2, "--", "sh", "-c", "exit 7")
	if !strings.Contains(r.stdout, "return code = 7") {
		t.Errorf("failing command: %s", r)
	}

	// copyfile puts the same bytes and mode on every node.
	src := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(src, []byte("hello from ganetictl\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// The nodes need the directory; copyfile keeps the absolute path.
	for _, name := range n {
		c.node(name, "mkdir", "-p", filepath.Dir(src))
	}
	c.ok("cluster", "copyfile", src)
	for _, name := range n {
		if got := c.node(name, "cat", src); got != "hello from ganetictl\n" {
			t.Errorf("%s: copied file = %q", name, got)
		}
		if got := strings.TrimSpace(c.node(name, "stat", "-c", "%a", src)); got != "640" {
			t.Errorf("%s: copied file mode %s", name, got)
		}
	}

	// Tags.
	c.ok("cluster", "add-tags", "env:prod", "team.infra")
	c.ok("node", "add-tags", n2, "rack:a1")
	if got := c.ok("cluster", "list-tags").stdout; got != "env:prod\nteam.infra\n" {
		t.Errorf("cluster list-tags = %q", got)
	}
	if got := c.ok("node", "list-tags", n2).stdout; got != "rack:a1\n" {
		t.Errorf("node list-tags = %q", got)
	}
	c.ok("cluster", "remove-tags", "env:prod")
	c.fails(1, "cluster", "remove-tags", "nonexistent")
	c.fails(10, "cluster", "add-tags", "bad tag") // space is not a tag character

	// A dry run of a change leaves the state byte-identical and the nodes as they were.
	before := c.stateBytes()
	replicaBefore := c.node(n3, "sha256sum", "/var/lib/ganeti/ganetictl/state.json")
	r = c.ok("--dry-run", "node", "modify", "-O", "yes", n3)
	if !strings.Contains(r.stdout, "offline: false -> true") {
		t.Errorf("modify dry run:\n%s", r.stdout)
	}
	if !bytes.Equal(before, c.stateBytes()) {
		t.Fatal("dry run changed the state file")
	}
	if c.node(n3, "sha256sum", "/var/lib/ganeti/ganetictl/state.json") != replicaBefore {
		t.Fatal("dry run touched a node")
	}

	// Offline: demoted from candidate, its replica left alone (it is "gone"),
	// verify skips it; back online with -O no and -C yes.
	c.ok("node", "modify", "-O", "yes", "--auto-promote", n3)
	readState()
	if !st.Nodes[n3].Offline || st.Nodes[n3].MasterCandidate {
		t.Fatalf("after -O yes: %+v", st.Nodes[n3])
	}
	if r := c.ok("cluster", "verify"); strings.Contains(r.stdout, "ERROR") {
		t.Errorf("verify with an offline node:\n%s", r.stdout)
	}
	c.ok("node", "modify", "-O", "no", n3)
	c.ok("node", "modify", "-C", "yes", n3)
	c.checkReplicas(master, n2, n3)

	// A candidate with a stale copy is found by verify and fixed by redist-conf.
	c.node(n2, "sh", "-c", "echo '{}' > /var/lib/ganeti/ganetictl/state.json")
	r = c.fails(1, "cluster", "verify")
	if !strings.Contains(r.stdout, "ERROR: node "+n2+": state copy differs") {
		t.Errorf("verify should report the stale copy:\n%s", r.stdout)
	}
	c.ok("cluster", "redist-conf")
	c.ok("cluster", "verify")

	// Cluster parameters and rename.
	c.ok("cluster", "modify", "-B", "maxmem=256,vcpus=2")
	if r := c.ok("cluster", "info"); !strings.Contains(r.stdout, "    maxmem: 256") {
		t.Errorf("cluster info after modify:\n%s", r.stdout)
	}
	c.ok("--yes", "cluster", "rename", "renamed.example.test")
	if r := c.ok("cluster", "info"); !strings.HasPrefix(r.stdout, "Cluster name: renamed.example.test\n") {
		t.Errorf("cluster info after rename:\n%s", r.stdout)
	}
	c.checkReplicas(master, n2, n3)

	// History and diff.
	r = c.ok("state", "history")
	if !strings.Contains(r.stdout, "node add "+n2) || !strings.Contains(r.stdout, "cluster rename") {
		t.Errorf("state history:\n%s", r.stdout)
	}
	r = c.ok("state", "diff", "1")
	if !strings.Contains(r.stdout, `+  "nodes"`) && !strings.Contains(r.stdout, "+    \""+n2) {
		t.Errorf("state diff 1:\n%s", r.stdout)
	}

	// Remove: a node with no instances goes; the master cannot.
	c.fails(1, "node", "remove", master)
	c.ok("node", "remove", n3)
	readState()
	if _, ok := st.Nodes[n3]; ok {
		t.Fatal("node still in the state after remove")
	}
	if _, err := c.nodeErr(n3, "test", "-e", "/var/lib/ganeti/ganetictl/state.json"); err == nil {
		t.Error("removed node still holds a state copy")
	}
	c.ok("cluster", "verify")

	// Destroy refuses while other nodes remain, then works.
	c.fails(10, "cluster", "destroy")
	c.fails(1, "cluster", "destroy", "--yes-do-it")
	c.ok("node", "remove", n2)
	c.ok("cluster", "destroy", "--yes-do-it")
	if _, err := os.Stat(filepath.Join(c.stateDir, "state.json")); !os.IsNotExist(err) {
		t.Fatal("state.json still there after destroy")
	}
	if _, err := c.nodeErr(master, "test", "-e", "/var/lib/ganeti/ganetictl"); err == nil {
		t.Error("destroy left /var/lib/ganeti/ganetictl on the master")
	}
}

// checkReplicas asserts every named node holds a copy identical to the
// controller's state file.
func (c *cluster) checkReplicas(nodes ...string) {
	c.t.Helper()
	sum := sha256.Sum256(c.stateBytes())
	want := hex.EncodeToString(sum[:])
	for _, n := range nodes {
		out := c.node(n, "sha256sum", "/var/lib/ganeti/ganetictl/state.json")
		if got, _, _ := strings.Cut(out, " "); got != want {
			c.t.Errorf("%s: state copy %s, controller has %s", n, got, want)
		}
	}
}
