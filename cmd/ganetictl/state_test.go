package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/internal/fixtures"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// ganetiConfig is the Ganeti 3.0 config.data of Ganeti's own test data,
// shared with the project (never copied); newCLI sets it.
var ganetiConfig string

// cli is a ganetictl with a fresh inventory and state directory, run in
// process: no node is ever contacted by the commands tested with it.
type cli struct {
	t        *testing.T
	inv, dir string
}

// newCLI writes an inventory naming the fixture's nodes. It has no SSH
// credentials: the state commands must work without them.
func newCLI(t *testing.T) *cli {
	t.Helper()
	ganetiConfig = fixtures.Path(t, "ganeti-test-data", "cluster_config_3.0.json")
	tmp := t.TempDir()
	inv := filepath.Join(tmp, "cluster.toml")
	toml := `[cluster]
name = "cluster.name.example.com"
master = "node1.example.com"

[[nodes]]
name = "node1.example.com"
address = "192.0.2.82"

[[nodes]]
name = "node2.example.com"
address = "192.0.2.83"

[[nodes]]
name = "node3.example.com"
address = "192.0.2.84"
`
	if err := os.WriteFile(inv, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, inv: inv, dir: filepath.Join(tmp, "state")}
}

// run runs ganetictl with args and returns its exit code, stdout and stderr.
func (c *cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	s, out, errOut := view.NewTestStreams()
	code := run(c.t.Context(), append([]string{"--inventory", c.inv, "--state-dir", c.dir}, args...), s)
	return code, out.String(), errOut.String()
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, _ := c.mustRunErr(args...)
	return out
}

func (c *cli) mustRunErr(args ...string) (string, string) {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("ganetictl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

func (c *cli) store() *statefile.DirStore {
	c.t.Helper()
	s, err := statefile.OpenDir(c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

func (c *cli) read() *statefile.State {
	c.t.Helper()
	st, err := c.store().Read(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// commit writes a change to the current state, as a command would.
func (c *cli) commit(change func(*statefile.State)) {
	c.t.Helper()
	s := c.store()
	l, err := s.Lock(c.t.Context(), statefile.NewLockInfo("test change", "test"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer l.Unlock()
	st := c.read()
	change(st)
	if _, err := s.Write(c.t.Context(), l, st); err != nil {
		c.t.Fatal(err)
	}
}

// checkGolden compares got with testdata/name, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		w, g := strings.Split(string(want), "\n"), strings.Split(got, "\n")
		for i := range max(len(w), len(g)) {
			if i >= len(w) || i >= len(g) || w[i] != g[i] {
				t.Fatalf("%s differs from line %d (run go test -update to accept):\ngot:\n%s", name, i+1, got)
			}
		}
	}
}

const drbdSecret = "d3c3fd475fcbaf5fd177fb245ac43b71247ada38" // in the fixture

func TestStateImportDryRun(t *testing.T) {
	c := newCLI(t)
	code, out, errOut := c.run("state", "import", "--dry-run", ganetiConfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	checkGolden(t, "state-import-dry-run.golden", out+"--- stderr\n"+errOut)
	if strings.Contains(out+errOut, drbdSecret) {
		t.Error("the DRBD secret is shown")
	}
	if _, err := os.Stat(filepath.Join(c.dir, statefile.StateFile)); !os.IsNotExist(err) {
		t.Errorf("dry run wrote a state: %v", err)
	}
}

func TestStateImportJSON(t *testing.T) {
	c := newCLI(t)
	var got struct {
		DryRun        bool   `json:"dry_run"`
		GanetiVersion string `json:"ganeti_version"`
		Serial        int64  `json:"serial"`
		Lineage       string `json:"lineage"`
		Summary       struct {
			Counts    map[string]int            `json:"Counts"`
			Instances map[string]map[string]any `json:"Instances"`
		} `json:"summary"`
		Warnings []string `json:"warnings"`
	}
	out := c.mustRun("--json", "state", "import", ganetiConfig)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st := c.read()
	if got.DryRun || got.GanetiVersion != "3.0.0" || got.Serial != 1 || got.Lineage != st.Lineage || len(got.Warnings) == 0 {
		t.Errorf("%+v", got)
	}
	if want := map[string]int{"node groups": 2, "nodes": 3, "instances": 3, "networks": 1}; !equalJSON(got.Summary.Counts, want) {
		t.Errorf("counts %v", got.Summary.Counts)
	}
	if tmpl := got.Summary.Instances["instance1.example.com"]["disk template"]; tmpl != "drbd" {
		t.Errorf("instance1 template %v", tmpl)
	}
	if strings.Contains(out, drbdSecret) {
		t.Error("the DRBD secret is shown")
	}
}

// Nodes ganetictl cannot reach, and another cluster name, are pointed out.
func TestStateImportInventoryMismatch(t *testing.T) {
	c := newCLI(t)
	inv := "[cluster]\nname = \"other.example.com\"\nmaster = \"node1.example.com\"\n\n[[nodes]]\nname = \"node1.example.com\"\naddress = \"192.0.2.82\"\n"
	if err := os.WriteFile(c.inv, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut := c.mustRunErr("--dry-run", "state", "import", ganetiConfig)
	for _, want := range []string{"names the cluster other.example.com, the Ganeti config cluster.name.example.com",
		"node node2.example.com is not in the inventory", "node node3.example.com is not in the inventory"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := c.run("--plan-out", filepath.Join(t.TempDir(), "p.json"), "state", "import", ganetiConfig); code != exitInvalid {
		t.Errorf("--plan-out: exit %d\n%s", code, errOut)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestStateImportOverExistingState(t *testing.T) {
	c := newCLI(t)
	c.mustRun("state", "import", ganetiConfig)
	first := c.read()
	if first.Serial != 1 || first.Lineage == "" || len(first.Nodes) != 3 || first.Cluster.MasterNode != "node1.example.com" {
		t.Fatalf("imported %d %q %d nodes", first.Serial, first.Lineage, len(first.Nodes))
	}
	// The secret is kept in the state itself: the nodes need it.
	if got, _ := first.Instances["instance1.example.com"].Disks[0].DRBD(); got.Secret != drbdSecret {
		t.Errorf("stored secret %v", got.Secret)
	}

	code, _, errOut := c.run("state", "import", ganetiConfig)
	if code != exitInvalid || !strings.Contains(errOut, "already holds the state of cluster cluster.name.example.com") ||
		!strings.Contains(errOut, "--force") || !strings.Contains(errOut, "new lineage") {
		t.Errorf("second import without --force: exit %d\n%s", code, errOut)
	}
	if st := c.read(); st.Serial != 1 || st.Lineage != first.Lineage {
		t.Errorf("refused import changed the state: serial %d", st.Serial)
	}

	code, _, errOut = c.run("state", "import", "--force", ganetiConfig)
	if code != 0 || !strings.Contains(errOut, "WARNING: replacing the state of cluster cluster.name.example.com (serial 1, lineage "+first.Lineage) {
		t.Errorf("import --force: exit %d\n%s", code, errOut)
	}
	second := c.read()
	if second.Serial != 2 || second.Lineage == first.Lineage {
		t.Errorf("after --force: serial %d lineage %s (was %s)", second.Serial, second.Lineage, first.Lineage)
	}
	hist := c.mustRun("state", "history")
	if !strings.Contains(hist, "1 ") || !strings.Contains(hist, "2*") || !strings.Contains(hist, "state import") {
		t.Errorf("history:\n%s", hist)
	}
	// The old lineage is in history, but no rollback reaches it.
	code, _, errOut = c.run("--yes", "state", "rollback", "1")
	if code != exitInvalid || !strings.Contains(errOut, "never crosses lineages") {
		t.Errorf("rollback across lineages: exit %d\n%s", code, errOut)
	}
}

func TestStateImportRefusesBadFiles(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		file string
		want []string
	}{
		{filepath.Join(dir, "missing.data"), []string{"read Ganeti config", "no such file"}},
		{write("text.data", "node1 node2\n"), []string{"not a Ganeti config.data", "/var/lib/ganeti/config.data"}},
		{write("old.data", `{"version": 2060000, "cluster": {}}`), []string{"version 2.6.0 is too old", "cfgupgrade"}},
		{write("state.json", `{"format_version": 1, "serial": 3}`), []string{`no "version" or "cluster" key`}},
	} {
		code, out, errOut := c.run("state", "import", tc.file)
		if code != exitInvalid {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.file, code, exitInvalid, out, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.file, w, errOut)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, statefile.StateFile)); !os.IsNotExist(err) {
		t.Errorf("a refused import wrote a state: %v", err)
	}
}

// rollbackCLI has serials 1 (the import), 2 (instance2 gone) and 3 (a tag).
func rollbackCLI(t *testing.T) *cli {
	c := newCLI(t)
	c.mustRun("state", "import", ganetiConfig)
	c.commit(func(st *statefile.State) { delete(st.Instances, "instance2.example.com") })
	c.commit(func(st *statefile.State) { st.Cluster.Tags = append(st.Cluster.Tags, "changed") })
	if st := c.read(); st.Serial != 3 {
		t.Fatalf("setup: serial %d", st.Serial)
	}
	return c
}

func TestStateRollback(t *testing.T) {
	c := rollbackCLI(t)
	lineage := c.read().Lineage

	out := c.mustRun("--dry-run", "state", "rollback", "1")
	for _, want := range []string{"written as serial 4 (current: 3)", "  ~ cluster\n", "  + instance instance2.example.com\n",
		"--- serial 3 (current)", "-      \"changed\",", "Dry run: nothing written."} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, drbdSecret) {
		t.Error("the dry run shows the DRBD secret")
	}
	if st := c.read(); st.Serial != 3 {
		t.Errorf("dry run wrote serial %d", st.Serial)
	}

	// Without --yes the question is asked; anything but yes refuses.
	defer func(r io.Reader) { stdin = r }(stdin)
	stdin = strings.NewReader("n\n")
	code, _, errOut := c.run("state", "rollback", "1")
	if code == 0 || !strings.Contains(errOut, "Roll the state back to serial 1?") || !strings.Contains(errOut, "aborted") {
		t.Errorf("unconfirmed rollback: exit %d\n%s", code, errOut)
	}
	if st := c.read(); st.Serial != 3 {
		t.Errorf("unconfirmed rollback wrote serial %d", st.Serial)
	}

	stdin = strings.NewReader("y\n")
	code, out, errOut = c.run("state", "rollback", "1")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"WARNING: a rollback changes the state file only: nothing on the nodes is changed", "`ganetictl cluster verify` will show the differences"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "serial 4 has the content of serial 1") {
		t.Errorf("stdout:\n%s", out)
	}
	st := c.read()
	one, err := c.store().ReadSerial(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Serial != 4 || st.Lineage != lineage || !statefile.Equal(st, one) {
		t.Errorf("after rollback: serial %d, same content as 1: %v", st.Serial, statefile.Equal(st, one))
	}
	// History keeps every version, the rolled-back ones included.
	for serial := int64(1); serial <= 3; serial++ {
		if _, err := c.store().ReadSerial(t.Context(), serial); err != nil {
			t.Errorf("serial %d: %v", serial, err)
		}
	}
}

func TestStateRollbackRefusals(t *testing.T) {
	c := rollbackCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"3"}, "serial 3 is the current state"},
		{[]string{"99"}, "serial 99 is not in the history"},
	} {
		code, _, errOut := c.run(append([]string{"--yes", "state", "rollback"}, tc.args...)...)
		if code != exitInvalid || !strings.Contains(errOut, tc.want) {
			t.Errorf("rollback %v: exit %d\n%s", tc.args, code, errOut)
		}
	}
	// Rolling back to a version with the current content writes nothing.
	c.mustRun("--yes", "state", "rollback", "1")
	code, _, errOut := c.run("--yes", "state", "rollback", "4")
	if code != exitInvalid || !strings.Contains(errOut, "current state") {
		t.Errorf("rollback to current: exit %d\n%s", code, errOut)
	}
	code, _, errOut = c.run("--yes", "state", "rollback", "1")
	if code != 0 || !strings.Contains(errOut, "same content as the current state") || c.read().Serial != 4 {
		t.Errorf("rollback to same content: exit %d serial %d\n%s", code, c.read().Serial, errOut)
	}
}

func TestStateRollbackJSON(t *testing.T) {
	c := rollbackCLI(t)
	var got struct {
		DryRun    bool     `json:"dry_run"`
		NewSerial int64    `json:"new_serial"`
		Changes   []string `json:"changes"`
	}
	out := c.mustRun("--json", "--dry-run", "state", "rollback", "2")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !got.DryRun || got.NewSerial != 4 || !equalJSON(got.Changes, []string{"~ cluster"}) {
		t.Errorf("%+v", got)
	}
}

func TestStateShowSerialAndDiff(t *testing.T) {
	c := rollbackCLI(t)
	var one statefile.State
	out := c.mustRun("state", "show", "--serial", "1")
	if err := json.Unmarshal([]byte(out), &one); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if one.Serial != 1 || one.Instances["instance2.example.com"] == nil {
		t.Errorf("show --serial 1: serial %d, instances %v", one.Serial, one.InstanceNames())
	}
	if cur := c.mustRun("state", "show"); !strings.Contains(cur, `"serial": 3,`) || strings.Contains(cur, "instance2.example.com") {
		t.Errorf("show: not serial 3")
	}
	if strings.Contains(out, drbdSecret) || !strings.Contains(out, statefile.MaskedSecret) {
		t.Error("show does not mask the DRBD secret")
	}
	code, _, errOut := c.run("state", "show", "--serial", "42")
	if code == 0 || !strings.Contains(errOut, "no such serial") {
		t.Errorf("show --serial 42: exit %d\n%s", code, errOut)
	}

	diff := c.mustRun("state", "diff", "1", "2")
	if !strings.HasPrefix(diff, "--- serial 1\n+++ serial 2\n") || !strings.Contains(diff, `-    "instance2.example.com": {`) ||
		strings.Contains(diff, `+    "instance2.example.com"`) || strings.Contains(diff, "changed") {
		t.Errorf("diff 1 2:\n%s", diff)
	}
	diff = c.mustRun("state", "diff", "2")
	if !strings.HasPrefix(diff, "--- serial 2\n+++ serial current\n") || !strings.Contains(diff, `+      "changed",`) ||
		strings.Contains(diff, "instance2") {
		t.Errorf("diff 2:\n%s", diff)
	}
	if strings.Contains(diff, drbdSecret) {
		t.Error("diff shows the DRBD secret")
	}
	var js struct {
		From int64    `json:"from"`
		To   string   `json:"to"`
		Diff []string `json:"diff"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("--json", "state", "diff", "2", "3")), &js); err != nil {
		t.Fatal(err)
	}
	if js.From != 2 || js.To != "3" || !slices.Contains(js.Diff, `+      "changed",`) {
		t.Errorf("diff --json: %+v", js)
	}
}
