//go:build bed

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeclarativeSavedPlans: a saved plan is refused once the state moved
// on (exit 12), and a plan applied once is refused the second time.
func TestDeclarativeSavedPlans(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	name := "e2e-dc-saved"
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "file", "-s", "16M", "--no-name-check", name)
	dir := t.TempDir()

	stale := filepath.Join(dir, "stale.json")
	before := c.stateBytes()
	c.ok("--plan-out", stale, "instance", "shutdown", "--timeout", "1s", name)
	if !bytes.Equal(before, c.stateBytes()) {
		t.Fatal("--plan-out changed the state")
	}
	var saved map[string]any
	b, err := os.ReadFile(stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "state_lineage", "state_serial", "stages", "changes", "id", "facts"} {
		if _, ok := saved[k]; !ok {
			t.Errorf("saved plan has no %q", k)
		}
	}
	c.ok("instance", "add-tags", name, "moved-on")
	r := c.fails(12, "apply", stale)
	if !strings.Contains(r.stderr, "stale") {
		t.Errorf("stale refusal should say so:\n%s", r)
	}
	if c.qmpStatus(n[0], name) != "running" {
		t.Fatal("a refused plan stopped the instance")
	}

	once := filepath.Join(dir, "once.json")
	c.ok("--plan-out", once, "instance", "shutdown", "--timeout", "1s", name)
	c.ok("apply", once)
	if st := c.qmpStatus(n[0], name); st != "" {
		t.Fatalf("after apply the instance still runs (%s)", st)
	}
	r = c.fails(12, "apply", once)
	if !strings.Contains(r.stderr, "already applied") {
		t.Errorf("second apply should say the plan was already applied:\n%s", r)
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
}

// TestDeclarativeDesiredState applies a desired-state file from empty,
// edits it (resize, move, remove) and checks plan, apply and node reality.
func TestDeclarativeDesiredState(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	dir := t.TempDir()
	file := filepath.Join(dir, "desired.toml")
	write := func(web, sh, db string) {
		s := `# e2e desired state
[[instance]]
name = "e2e-dc-web"
template = "file"
primary = "` + n[0] + `"
disks = ["` + web + `"]
os = "testos"

[[instance]]
name = "e2e-dc-sh"
template = "sharedfile"
primary = "` + sh + `"
disks = ["16M"]
os = "testos"
` + db
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := `
[[instance]]
name = "e2e-dc-db"
template = "plain"
primary = "` + n[1] + `"
disks = ["16M"]
os = "testos"
state = "running"
`
	write("16M", n[0], db)
	r := c.fails(2, "plan", "-f", file, "--detailed-exitcode")
	for _, want := range []string{"+ instance e2e-dc-web", "+ instance e2e-dc-sh", "+ instance e2e-dc-db", "Plan: 3 to add, 0 to change, 0 to destroy."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan from empty lacks %q:\n%s", want, r.stdout)
		}
	}
	r = c.ok("--json", "apply", "-f", file, "--yes")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var first, last struct {
		Type    string `json:"type"`
		Version int    `json:"version"`
	}
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if first.Type != "version" || first.Version != 1 || last.Type != "done" {
		t.Errorf("event stream: first %+v, last %+v:\n%s", first, last, r.stdout)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not one JSON object per line: %q", l)
		}
	}
	c.ok("plan", "-f", file, "--detailed-exitcode")
	if c.qmpStatus(n[0], "e2e-dc-sh") != "running" || c.qmpStatus(n[1], "e2e-dc-db") != "running" {
		t.Fatal("declared instances do not run where declared")
	}

	// Edit: web grows, sh moves to the other node, db goes.
	write("32M", n[1], "")
	r = c.fails(10, "plan", "-f", file)
	if !strings.Contains(r.stderr, "e2e-dc-db") || !strings.Contains(r.stderr, "--allow-destroy") {
		t.Errorf("a removal without --allow-destroy should name the instance:\n%s", r)
	}
	r = c.fails(2, "plan", "-f", file, "--allow-destroy", "--detailed-exitcode")
	for _, want := range []string{"~ instance e2e-dc-web", "disk 0: 16 -> 32 MiB", "~ instance e2e-dc-sh",
		fmt.Sprintf("primary: %s -> %s (migrate)", n[0], n[1]), "- instance e2e-dc-db", "Plan: 0 to add, 2 to change, 1 to destroy."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("edited plan lacks %q:\n%s", want, r.stdout)
		}
	}
	c.ok("apply", "-f", file, "--allow-destroy", "--yes", "--shutdown-timeout", "1s")
	c.ok("plan", "-f", file, "--detailed-exitcode")
	// Node reality.
	if size := strings.TrimSpace(c.node(n[0], "sh", "-c", `stat -L -c %s /run/ganeti/instance-disks/e2e-dc-web:0`)); size != fmt.Sprint(32<<20) {
		t.Errorf("web's disk is %s bytes, want 32 MiB", size)
	}
	if c.qmpStatus(n[1], "e2e-dc-sh") != "running" || c.qmpStatus(n[0], "e2e-dc-sh") != "" {
		t.Errorf("e2e-dc-sh should run on %s only", n[1])
	}
	if out := strings.TrimSpace(c.node(n[1], "sh", "-c", "lvs --noheadings -o lv_name xenvg 2>/dev/null")); out != "" {
		t.Errorf("removed instance's LVs left on %s: %s", n[1], out)
	}
	if l := c.leftovers(n[1], "e2e-dc-db"); l != "" {
		t.Errorf("removed instance left %s", l)
	}

	// A file with errors fails at plan time, naming the line, touching nothing.
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`[[instance]]
name = "e2e-dc-bad"
template = "nope"
primary = "`+n[0]+`"
disks = ["16M"]
os = "testos"

[[instance]]
name = "e2e-dc-far"
template = "file"
primary = "no-such-node"
disks = ["16M"]
os = "testos"
`), 0o644)
	before := c.stateBytes()
	r = c.fails(10, "apply", "-f", bad, "--yes", "--allow-destroy")
	if !strings.Contains(r.stderr, "bad.toml:3:") || !strings.Contains(r.stderr, "unknown disk template") {
		t.Errorf("error should name bad.toml:3:\n%s", r)
	}
	os.WriteFile(bad, bytes.Replace(mustRead(t, bad), []byte(`"nope"`), []byte(`"file"`), 1), 0o644)
	r = c.fails(10, "plan", "-f", bad, "--allow-destroy")
	if !strings.Contains(r.stderr, "bad.toml:11:") || !strings.Contains(r.stderr, "no-such-node") {
		t.Errorf("error should name bad.toml:11 and the node:\n%s", r)
	}
	if !bytes.Equal(before, c.stateBytes()) {
		t.Error("a failed plan changed the state")
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-dc-web")
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-dc-sh")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
