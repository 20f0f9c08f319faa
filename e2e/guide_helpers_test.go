//go:build bed

package e2e

// Helpers of TestGuide (guide_test.go): how its lines are run (with
// Ganeti's name check answered by a private /etc/hosts) and how their
// effects are read from the nodes, the state and the journal.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/testbed/osdef"
)

// guide is TestGuide's bed: the cluster, its five nodes, and what the
// lines leave for later lines (runtime substitutions, markers, pids).
type guide struct {
	*cluster
	n1, n2, n3, n4, n5 string
	hosts              string // the /etc/hosts ganetictl sees: the nodes and the e2e-* instance names
	links              string // a directory holding the gnt-* links to the binary
	file               string // the guide's /path/to/file
	vars               map[string]string
	tokens             map[string]osdef.Marker // each instance's marker as its OS install wrote it
	pv                 map[string]string       // node -> its PV (the guide's /dev/sdb1)
	pids               map[string]int          // instance -> qemu pid before a reboot
	lvUUIDs            map[string]string       // LV name -> lv_uuid before a replace-disks
	top                *testing.T              // TestGuide itself, for cleanups that outlive a line
	// What the table needs before the bed answers (bedForTable fakes them).
	vg, clusterName string
	addr, sipOf     map[string]string // node -> primary, secondary address
}

// guideNames are the instance names the guide's lines use, with the bed's
// e2e- prefix; the private /etc/hosts resolves them (Ganeti's name check).
var guideNames = []string{"e2e-web", "e2e-instance1", "e2e-instance2", "e2e-plain", "e2e-mem", "e2e-imported",
	"e2e-adopted", "e2e-adopted2", "e2e-conv", "e2e-batch1", "e2e-batch2", "e2e-nonvm", "e2e-tagged", "e2e-inst1"}

func newGuide(t *testing.T, c *cluster) *guide {
	n := c.names()
	g := &guide{cluster: c, n1: n[0], n2: n[1], n3: n[2], n4: n[3], n5: n[4],
		top: t, vars: map[string]string{}, tokens: map[string]osdef.Marker{}, pv: map[string]string{}, pids: map[string]int{}, lvUUIDs: map[string]string{}}
	dir := t.TempDir()
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
	for _, bn := range c.bed.Nodes() {
		fmt.Fprintf(&hosts, "%s\t%s\n", bn.Addr, bn.Name)
	}
	// Addresses nobody uses (nothing pings them: ganetictl has no IP check).
	for i, name := range guideNames {
		fmt.Fprintf(&hosts, "198.18.%d.%d\t%s\n", c.bed.ID(), 100+i, name)
	}
	g.hosts = filepath.Join(dir, "hosts")
	if err := os.WriteFile(g.hosts, []byte(hosts.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// make install's links, to the binary under test.
	g.links = filepath.Join(dir, "bin")
	os.Mkdir(g.links, 0o755)
	for _, l := range []string{"gnt-cluster", "gnt-node", "gnt-instance", "gnt-backup", "gnt-os", "gnt-job", "gnt-group", "gnt-network"} {
		if err := os.Symlink(binary, filepath.Join(g.links, l)); err != nil {
			t.Fatal(err)
		}
	}
	// The guide's /path/to/file: /tmp exists on the workstation and on every node.
	f, err := os.CreateTemp("", "ganetictl-e2e-guide-*")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "copied by TestGuide %d\n", time.Now().UnixNano())
	f.Close()
	g.file = f.Name()
	t.Cleanup(func() {
		os.Remove(g.file)
		for _, name := range n {
			c.nodeErr(name, "rm", "-f", g.file)
		}
	})
	for _, name := range n {
		g.pv[name] = strings.TrimSpace(c.node(name, "pvs", "--noheadings", "-o", "pv_name"))
	}
	g.vg = c.bed.VG()
	g.addr, g.sipOf = map[string]string{}, map[string]string{}
	for _, bn := range c.bed.Nodes() {
		g.addr[bn.Name], g.sipOf[bn.Name] = bn.Addr, bn.SecondaryAddr
	}
	inv, err := os.ReadFile(c.inv)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^name = "([^"]+)"`).FindSubmatch(inv)
	if m == nil {
		t.Fatal("no cluster name in the bed's inventory")
	}
	g.clusterName = string(m[1])
	return g
}

// bedForTable fills in what guideLines reads at construction, for the
// table's own test (no bed).
func (g *guide) bedForTable() {
	g.vg, g.clusterName, g.file = "xenvg", "cluster.testbed.test", "/tmp/file"
	g.addr, g.sipOf, g.pv = map[string]string{}, map[string]string{}, map[string]string{}
	for i, n := range []string{g.n1, g.n2, g.n3, g.n4, g.n5} {
		g.addr[n], g.sipOf[n], g.pv[n] = fmt.Sprintf("198.18.0.%d", i+1), fmt.Sprintf("198.19.0.%d", i+1), "/dev/loop9"
	}
}

// gnt runs ganetictl as the guide's lines run: with the bed's inventory
// and state directory, stdin answering its questions, in a mount namespace
// whose /etc/hosts resolves the instance names (the guide's lines carry no
// --no-name-check).
func (g *guide) gnt(stdin string, args ...string) result {
	g.t.Helper()
	full := append([]string{"--inventory", g.inv, "--state-dir", g.stateDir}, args...)
	return g.inNS(stdin, nil, append([]string{binary}, full...)...)
}

// script runs a shell script written for Ganeti through the gnt-* links:
// the links first in PATH, the inventory and state from the environment.
func (g *guide) script(s string) result {
	g.t.Helper()
	env := []string{"PATH=" + g.links + ":" + os.Getenv("PATH"), "GANETICTL_INVENTORY=" + g.inv, "GANETICTL_STATE_DIR=" + g.stateDir}
	return g.inNS("", env, "sh", "-c", s)
}

func (g *guide) inNS(stdin string, env []string, argv ...string) result {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := append([]string{"-m", "--", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, g.hosts}, argv...)
	cmd := exec.CommandContext(ctx, "unshare", ns...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	return collect(g.t, cmd)
}

// expand replaces "$NAME" in the arguments by what earlier lines left in vars.
func (g *guide) expand(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = guideVar.ReplaceAllStringFunc(a, func(v string) string {
			val, found := g.vars[v[1:]]
			if !found {
				g.t.Fatalf("argument %s: no earlier line set %s", a, v)
			}
			return val
		})
	}
	return out
}

var guideVar = regexp.MustCompile(`\$[A-Za-z][A-Za-z0-9_]*`)

// ok runs a bed step (not a guide line) and fails unless it exits 0.
func (g *guide) ok(args ...string) result {
	g.t.Helper()
	r := g.gnt("", args...)
	if r.code != 0 {
		g.t.Fatalf("bed step ganetictl %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// The state.

func (g *guide) st() *statefile.State { return loadState(g.t, g.stateDir) }

func (g *guide) inst(name string) *statefile.Instance {
	g.t.Helper()
	i := g.st().Instances[name]
	if i == nil {
		g.t.Fatalf("no instance %s in the state", name)
	}
	return i
}

func (g *guide) noInst(name string) {
	g.t.Helper()
	if _, ok := g.st().Instances[name]; ok {
		g.t.Fatalf("instance %s is still in the state", name)
	}
}

// placed checks the instance's nodes (secondary "" for none) and template in the state.
func (g *guide) placed(name, template, primary, secondary string) *statefile.Instance {
	g.t.Helper()
	i := g.inst(name)
	sec := strings.Join(i.SecondaryNodes(), ",")
	if i.DiskTemplate != template || i.PrimaryNode != primary || sec != secondary {
		g.t.Fatalf("%s in the state: %s on %s:%s, want %s on %s:%s", name, i.DiskTemplate, i.PrimaryNode, sec, template, primary, secondary)
	}
	return i
}

func (g *guide) stNode(name string) *statefile.Node {
	g.t.Helper()
	n := g.st().Nodes[name]
	if n == nil {
		g.t.Fatalf("no node %s in the state", name)
	}
	return n
}

func (g *guide) candidates() []string {
	var out []string
	for _, n := range g.st().Nodes {
		if n.MasterCandidate {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out
}

// hasReplica tells whether the node holds a state copy equal to the controller's.
func (g *guide) hasReplica(node string) bool {
	g.t.Helper()
	out, err := g.nodeErr(node, "cat", replicaPath)
	return err == nil && out == string(g.stateBytes())
}

// The nodes.

// lvs lists the instance's LVs on the node (by their originstname tag), sorted.
func (g *guide) lvs(node, inst string) []string {
	g.t.Helper()
	out := g.cluster.node(node, "lvs", "--noheadings", "--separator", "|", "-o", "lv_name,lv_tags,lv_uuid", g.vg)
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(l), "|")
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "originstname+"+inst) {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}

// lvUUID is the lv_uuid of every LV of the node, by name.
func (g *guide) lvUUIDsOn(node string) map[string]string {
	g.t.Helper()
	out := g.cluster.node(node, "lvs", "--noheadings", "--separator", "|", "-o", "lv_name,lv_uuid", g.vg)
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if name, id, ok := strings.Cut(strings.TrimSpace(l), "|"); ok {
			m[name] = id
		}
	}
	return m
}

// wantLVs checks that the instance has n LVs on each of nodes and none on
// the bed's other nodes.
func (g *guide) wantLVs(inst string, n int, nodes ...string) {
	g.t.Helper()
	for _, bn := range g.names() {
		got := len(g.lvs(bn, inst))
		want := 0
		if slices.Contains(nodes, bn) {
			want = n
		}
		if got != want {
			g.t.Fatalf("%s: %d LVs of %s, want %d (%v)", bn, got, inst, want, g.lvs(bn, inst))
		}
	}
}

var drbdLine = regexp.MustCompile(`(?m)^ *(\d+): cs:(\S+) ro:(\S+) ds:(\S+)`)

// drbd is the stand-in's status of minor on node: "cs ro ds", or "" when unconfigured.
func (g *guide) drbd(node string, minor int) string {
	g.t.Helper()
	out, _ := g.nodeErr(node, "cat", "/run/testbed/drbd/proc_drbd")
	for _, m := range drbdLine.FindAllStringSubmatch(out, -1) {
		if m[1] == strconv.Itoa(minor) {
			return m[2] + " " + m[3] + " " + m[4]
		}
	}
	return ""
}

// mirrored checks every disk of a drbd instance: Connected and UpToDate on
// both nodes, Primary where it runs (waiting up to 30 s for a resync).
func (g *guide) mirrored(name string) {
	g.t.Helper()
	i := g.inst(name)
	deadline := time.Now().Add(30 * time.Second)
	for _, d := range i.Disks {
		id, ok := d.DRBD()
		if !ok {
			g.t.Fatalf("%s: disk %s is not drbd", name, d.UUID)
		}
		for _, side := range []struct {
			node  string
			minor int
		}{{id.NodeA, id.MinorA}, {id.NodeB, id.MinorB}} {
			role := "Secondary/Primary"
			if side.node == i.PrimaryNode {
				role = "Primary/Secondary"
			}
			want := "Connected " + role + " UpToDate/UpToDate"
			for {
				got := g.drbd(side.node, side.minor)
				if got == want {
					break
				}
				if time.Now().After(deadline) {
					g.t.Fatalf("%s: drbd minor %d on %s is %q, want %q", name, side.minor, side.node, got, want)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}

// drbdDown checks that no minor of the drbd instance is configured.
func (g *guide) drbdDown(name string) {
	g.t.Helper()
	for _, d := range g.inst(name).Disks {
		id, _ := d.DRBD()
		if a, b := g.drbd(id.NodeA, id.MinorA), g.drbd(id.NodeB, id.MinorB); a != "" || b != "" {
			g.t.Fatalf("%s: drbd minors still up: %s: %q, %s: %q", name, id.NodeA, a, id.NodeB, b)
		}
	}
}

// runsOn checks that QMP says running on node and no other node runs it.
func (g *guide) runsOn(name, node string) {
	g.t.Helper()
	if st := g.qmpStatus(node, name); st != "running" {
		g.t.Fatalf("%s on %s: QMP status %q, want running", name, node, st)
	}
	for _, bn := range g.names() {
		if _, ok := g.running(bn)[name]; ok && bn != node {
			g.t.Fatalf("%s also runs on %s", name, bn)
		}
	}
}

// runsNowhere checks that no node runs the instance.
func (g *guide) runsNowhere(name string) {
	g.t.Helper()
	for _, bn := range g.names() {
		if _, ok := g.running(bn)[name]; ok {
			g.t.Fatalf("%s still runs on %s", name, bn)
		}
	}
}

func (g *guide) pid(name, node string) int {
	g.t.Helper()
	x, ok := g.running(node)[name]
	if !ok {
		g.t.Fatalf("%s does not run on %s", name, node)
	}
	return x.ID
}

// installed remembers the marker the OS install wrote on the new instance.
func (g *guide) installed(name string) {
	g.t.Helper()
	m := g.marker(g.inst(name).PrimaryNode, name, 0)
	if m.Name != name || m.Token == "" {
		g.t.Fatalf("%s: marker after install %+v", name, m)
	}
	g.tokens[name] = m
}

// sameData checks the instance's disk 0 (through its active disk link on
// node) still holds the marker its install wrote.
func (g *guide) sameData(name, node string) {
	g.t.Helper()
	if got := g.marker(node, name, 0); got != g.tokens[name] {
		g.t.Fatalf("%s: marker on %s is %+v, want %+v", name, node, got, g.tokens[name])
	}
}

// lvMarker reads the testos marker at the start of an LV of the node.
func (g *guide) lvMarker(node, lv string) (osdef.Marker, error) {
	out := g.cluster.node(node, "head", "-c", strconv.Itoa(osdef.MarkerSize), "/dev/"+g.vg+"/"+lv)
	return osdef.ParseMarker([]byte(out))
}

// The journal.

type guideJob struct {
	ID      int64    `json:"id"`
	Status  string   `json:"status"`
	Opcodes []string `json:"opcodes"`
	Steps   []struct {
		Stage  string `json:"stage"`
		Node   string `json:"node"`
		Desc   string `json:"desc"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"steps"`
}

func (g *guide) jobs() []guideJob {
	g.t.Helper()
	r := g.gnt("", "--json", "job", "list")
	var jobs []guideJob
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &jobs) != nil {
		g.t.Fatalf("job list --json: %s", r)
	}
	return jobs
}

func (g *guide) job(id string) guideJob {
	g.t.Helper()
	r := g.gnt("", "--json", "job", "info", id)
	var j guideJob
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &j) != nil {
		g.t.Fatalf("job info --json %s: %s", id, r)
	}
	return j
}

// lastJob is the newest job whose first opcode is op (e.g. "INSTANCE_REBOOT(e2e-web)").
func (g *guide) lastJob(op string) guideJob {
	g.t.Helper()
	jobs := g.jobs()
	for i := len(jobs) - 1; i >= 0; i-- {
		if len(jobs[i].Opcodes) > 0 && jobs[i].Opcodes[0] == op {
			return jobs[i]
		}
	}
	g.t.Fatalf("no job %s in the journal", op)
	return guideJob{}
}

// step finds the job's step whose description contains desc.
func (j guideJob) step(desc string) (string, bool) {
	for _, s := range j.Steps {
		if strings.Contains(s.Desc, desc) {
			return s.Node + ": " + s.Desc + ": " + s.Status, s.Status == "success"
		}
	}
	return "", false
}

// waitJob polls a job until its status is want (30 s at most).
func (g *guide) waitJob(id, want string) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := g.job(id)
		if j.Status == want {
			return
		}
		if time.Now().After(deadline) || j.Status != want && j.Status != "queued" && j.Status != "waiting" && j.Status != "running" {
			g.t.Fatalf("job %s is %s, want %s:\n%s", id, j.Status, want, g.gnt("", "job", "info", id).stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Output.

// table splits a table's output into rows of fields.
func table(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

// want fails unless every string is in s.
func (g *guide) want(what, s string, wants ...string) {
	g.t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			g.t.Fatalf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// header checks the first row of a table.
func (g *guide) header(out string, fields ...string) [][]string {
	g.t.Helper()
	rows := table(out)
	if len(rows) == 0 || !slices.Equal(rows[0], fields) {
		g.t.Fatalf("table header: want %q:\n%s", fields, out)
	}
	return rows[1:]
}

// row finds the table row whose first field is key.
func row(rows [][]string, key string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == key {
			return r
		}
	}
	return nil
}

// Checks that several lines share.

// newDRBD checks a new drbd instance: in the state on primary:secondary,
// data and meta LVs on both nodes, the mirror in sync, qemu running on
// the primary; and remembers its marker.
func (g *guide) newDRBD(name, primary, secondary string) {
	g.t.Helper()
	g.placed(name, "drbd", primary, secondary)
	g.wantLVs(name, 2, primary, secondary)
	g.mirrored(name)
	g.runsOn(name, primary)
	g.installed(name)
}

// allocated checks an instance the allocator placed (r is the output
// that says so): the state, LVs (and mirror) on the chosen nodes, qemu on
// the primary, the OS installed.
func (g *guide) allocated(name string, r result) {
	g.t.Helper()
	i := g.inst(name)
	sec := i.SecondaryNodes()
	g.want("allocation", r.stdout+r.stderr, "the allocator chose "+strings.Join(append([]string{i.PrimaryNode}, sec...), ":"))
	switch i.DiskTemplate {
	case "drbd":
		if len(sec) != 1 {
			g.t.Fatalf("%s: secondaries %q", name, sec)
		}
		g.newDRBD(name, i.PrimaryNode, sec[0])
	case "plain":
		g.placed(name, "plain", i.PrimaryNode, "")
		g.wantLVs(name, 1, i.PrimaryNode)
		g.runsOn(name, i.PrimaryNode)
		g.installed(name)
	default:
		g.t.Fatalf("%s: template %s, want the cluster's default (drbd or plain)", name, i.DiskTemplate)
	}
}

// movedTo checks the instance now has primary (and secondary, "" for
// none) in the state, its LVs and mirror there, runs on primary when it
// should, and kept its data.
func (g *guide) movedTo(name, primary, secondary string) {
	g.t.Helper()
	i := g.inst(name)
	g.placed(name, i.DiskTemplate, primary, secondary)
	switch i.DiskTemplate {
	case "drbd":
		g.wantLVs(name, 2, primary, secondary)
		if i.AdminState == "up" {
			g.mirrored(name)
		}
	case "plain":
		g.wantLVs(name, 1, primary)
	}
	if i.AdminState == "up" {
		g.runsOn(name, primary)
		g.sameData(name, primary)
	}
}

// replacedOn checks that replace-disks gave the instance new LVs (same
// names, new lv_uuid) on node, in sync, with the data intact.
func (g *guide) replacedOn(name, node, primary, secondary string) {
	g.t.Helper()
	g.movedTo(name, primary, secondary)
	now := g.lvUUIDsOn(node)
	for _, lv := range g.lvs(node, name) {
		if old, ok := g.lvUUIDs[lv]; !ok || old == now[lv] {
			g.t.Fatalf("%s: LV %s was not replaced (uuid %s -> %s)", node, lv, old, now[lv])
		}
	}
}

// newSecondary checks that the drbd instance's mirror left old for a third
// node, and returns that node.
func (g *guide) newSecondary(name, primary, old string) string {
	g.t.Helper()
	sec := g.inst(name).SecondaryNodes()
	if len(sec) != 1 || sec[0] == old || sec[0] == primary {
		g.t.Fatalf("%s: secondaries %q after evacuating %s", name, sec, old)
	}
	g.movedTo(name, primary, sec[0])
	return sec[0]
}

// foreignLV makes an LV on node that no instance owns, holding a pattern
// (an instance to take over with --disk N:adopt=LV).
func (g *guide) foreignLV(node, lv string) {
	g.t.Helper()
	data := fmt.Sprintf("FOREIGN DATA of %s %d", lv, time.Now().UnixNano())
	g.node(node, "lvcreate", "-L", "64M", "-n", lv, g.vg)
	g.node(node, "sh", "-c", `printf %s "$2" | dd of="$1" conv=notrunc status=none`, "write", "/dev/"+g.vg+"/"+lv, data)
	g.vars["DATA_"+lv] = data
}

// adopted checks that the instance took over the LVs: they carry
// Ganeti's names now, hold their data (no OS was installed on them), and
// the instance runs on node.
func (g *guide) adopted(name, node string, lvs ...string) {
	g.t.Helper()
	g.placed(name, "plain", node, "")
	if got := g.lvs(node, name); len(got) != len(lvs) {
		g.t.Fatalf("LVs of %s: %q", name, got)
	}
	for i, lv := range lvs {
		if _, err := g.nodeErr(node, "test", "-e", "/dev/"+g.vg+"/"+lv); err == nil {
			g.t.Fatalf("LV %s kept its old name", lv)
		}
		want := g.vars["DATA_"+lv]
		got := g.node(node, "head", "-c", strconv.Itoa(len(want)), fmt.Sprintf("/run/ganeti/instance-disks/%s:%d", name, i))
		if got != want {
			g.t.Fatalf("disk %d of %s holds %q, the adopted LV had %q", i, name, got, want)
		}
	}
	g.runsOn(name, node)
}

// console runs instance console with stdin kept open until the node shows
// the serial console connected, then ends it with EOF.
func (g *guide) console(name, node string) result {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := []string{"-m", "--", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, g.hosts, binary,
		"--inventory", g.inv, "--state-dir", g.stateDir, "instance", "console", name}
	cmd := exec.CommandContext(ctx, "unshare", ns...)
	in, err := cmd.StdinPipe()
	if err != nil {
		g.t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	connected := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := g.nodeErr(node, "pgrep", "-f", "UNIX-CONNECT:.*/"+name+".serial"); err == nil {
			connected = true
			break
		}
	}
	in.Close()
	err = cmd.Wait()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		g.t.Fatal(err)
	}
	if !connected {
		g.t.Fatalf("the console never connected to %s's serial port on %s: %s", name, node, r)
	}
	return r
}

// storageRows checks list-storage's table: one row per node, allocatable.
func (g *guide) storageRows(r result, typ, name string) {
	g.t.Helper()
	rows := g.header(r.stdout, "Node", "Type", "Name", "Size", "Used", "Free", "Allocatable")
	for _, n := range g.names() {
		x := row(rows, n)
		if len(x) != 7 || x[1] != typ || x[2] != name || x[6] != "Y" {
			g.t.Fatalf("list-storage row of %s: %q", n, x)
		}
	}
	for _, n := range g.names() { // Used is what the node's LVs take
		var used float64
		for _, f := range strings.Fields(g.node(n, "lvs", "--noheadings", "--nosuffix", "--units", "m", "-o", "lv_size", g.vg)) {
			v, _ := strconv.ParseFloat(f, 64)
			used += v
		}
		if x := row(rows, n); x[4] != fmt.Sprintf("%.0fM", used) {
			g.t.Fatalf("list-storage: %s uses %s, its LVs take %.0f MiB", n, x[4], used)
		}
	}
}

func (g *guide) bedClusterName() string { return g.clusterName }

// tags checks a tag list, in any order.
func (g *guide) tags(got []string, want ...string) {
	g.t.Helper()
	got = slices.Clone(got)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		g.t.Fatalf("tags %q, want %q", got, want)
	}
}

// addSecondaryIP gives the node a second address on its replication link
// (removed at the end): the guide's SECONDARY_IP for node.
func (g *guide) addSecondaryIP(node string) {
	g.t.Helper()
	g.vars["NEWSIP_"+node] = g.extraAddr(node, g.sipOf[node], g.top.Cleanup)
}

// sip checks a node's secondary address in the state and in node list.
func (g *guide) sip(node, want string) {
	g.t.Helper()
	if got := g.stNode(node).SecondaryIP; got != want {
		g.t.Fatalf("%s: secondary ip %s, want %s", node, got, want)
	}
	if x := row(table(g.ok("node", "list", "-o", "name,sip").stdout), node); len(x) != 2 || x[1] != want {
		g.t.Fatalf("node list sip of %s: %q", node, x)
	}
}
