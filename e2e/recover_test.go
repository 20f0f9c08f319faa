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

	"github.com/ganetictl/ganetictl/statefile"
)

const replicaPath = "/var/lib/ganeti/ganetictl/state.json"

// loadState reads the state file of dir.
func loadState(t *testing.T, dir string) *statefile.State {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := statefile.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// in runs ganetictl against another state directory (another admin machine).
func (c *cluster) in(dir string) *cluster {
	c2 := *c
	c2.stateDir = dir
	return &c2
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// compareRecovered compares the recovered state field by field with the
// original. exact means everything must match (recovered from a copy);
// otherwise only what the nodes show is compared (rebuilt from the nodes):
// names, nodes, roles, addresses, templates, disks (UUIDs of plain and file
// disks, sizes, LV names and paths, DRBD nodes, minors, port and secret),
// admin state, and the NICs of running instances.
func compareRecovered(t *testing.T, want, got *statefile.State, exact bool) {
	t.Helper()
	eq := func(what string, w, g any) {
		t.Helper()
		if js(w) != js(g) {
			t.Errorf("%s: recovered %s, want %s", what, js(g), js(w))
		}
	}
	eq("cluster name", want.Cluster.Name, got.Cluster.Name)
	eq("master", want.Cluster.MasterNode, got.Cluster.MasterNode)
	eq("volume group", want.Cluster.VolumeGroup, got.Cluster.VolumeGroup)
	eq("enabled disk templates", want.Cluster.EnabledDiskTemplates, got.Cluster.EnabledDiskTemplates)
	eq("node names", want.NodeNames(), got.NodeNames())
	for _, name := range want.NodeNames() {
		w, g := want.Nodes[name], got.Nodes[name]
		if g == nil {
			continue
		}
		eq("node "+name+" role", w.Role(want.Cluster.MasterNode), g.Role(got.Cluster.MasterNode))
		eq("node "+name+" addresses", []string{w.PrimaryIP, w.SecondaryIP}, []string{g.PrimaryIP, g.SecondaryIP})
		eq("node "+name+" group", w.Group, g.Group)
		if exact {
			eq("node "+name+" uuid", w.UUID, g.UUID)
		}
	}
	eq("instance names", want.InstanceNames(), got.InstanceNames())
	for _, name := range want.InstanceNames() {
		w, g := want.Instances[name], got.Instances[name]
		if g == nil {
			continue
		}
		p := "instance " + name + " "
		eq(p+"primary", w.PrimaryNode, g.PrimaryNode)
		eq(p+"secondaries", w.SecondaryNodes(), g.SecondaryNodes())
		eq(p+"template", w.DiskTemplate, g.DiskTemplate)
		eq(p+"admin state", w.AdminState, g.AdminState)
		eq(p+"hypervisor", w.Hypervisor, g.Hypervisor)
		eq(p+"os", w.OS, g.OS)
		eq(p+"disks active", w.DisksActive, g.DisksActive)
		if len(w.Disks) != len(g.Disks) {
			t.Errorf("%s: %d disks recovered, want %d", p, len(g.Disks), len(w.Disks))
			continue
		}
		for i, wd := range w.Disks {
			gd := g.Disks[i]
			dp := p + wd.IVName + " "
			eq(dp+"iv_name", wd.IVName, gd.IVName)
			eq(dp+"size", wd.Size, gd.Size)
			eq(dp+"mode", wd.Mode, gd.Mode)
			if wd.DevType == statefile.DevDRBD && !exact {
				// Which node came first at creation is not on any node: compare
				// the nodes as a set, and each node's minor, the port and secret.
				eq(dp+"nodes", sorted(wd.Nodes), sorted(gd.Nodes))
				eq(dp+"drbd ids", drbdIDs(wd), drbdIDs(gd))
			} else {
				eq(dp+"nodes", wd.Nodes, gd.Nodes)
				eq(dp+"logical_id", wd.LogicalID, gd.LogicalID)
			}
			if wd.DevType != statefile.DevDRBD || exact {
				eq(dp+"uuid", wd.UUID, gd.UUID)
			}
			eq(dp+"children", len(wd.Children), len(gd.Children))
			for j := range min(len(wd.Children), len(gd.Children)) {
				eq(dp+"child logical_id", wd.Children[j].LogicalID, gd.Children[j].LogicalID)
				eq(dp+"child size", wd.Children[j].Size, gd.Children[j].Size)
				eq(dp+"child nodes", sorted(wd.Children[j].Nodes), sorted(gd.Children[j].Nodes))
			}
		}
		if exact || w.AdminState == "up" {
			eq(p+"nics", w.NICs, g.NICs)
			eq(p+"beparams", w.BEParams, g.BEParams)
			eq(p+"hvparams", w.HVParams, g.HVParams)
		}
		if exact {
			eq(p+"uuid", w.UUID, g.UUID)
			eq(p+"tags", w.Tags, g.Tags)
		}
	}
	if exact && !statefile.Equal(want, got) {
		t.Errorf("recovered state differs from the original in content")
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// drbdIDs is a drbd disk's logical_id as node -> minor, port and secret.
func drbdIDs(d *statefile.Disk) map[string]any {
	id, ok := d.DRBD()
	if !ok {
		return nil
	}
	return map[string]any{"minor@" + id.NodeA: id.MinorA, "minor@" + id.NodeB: id.MinorB, "port": id.Port, "secret": id.Secret}
}

// TestRecover: a workstation that lost its state gets it back from the
// master candidates' copies (identical, verify clean); another admin
// machine pulls it; with every copy gone too, the state is rebuilt from
// what the nodes hold, and what nodes cannot tell is reported; a candidate
// with a stale copy is refused as master, a current one is promoted.
func TestRecover(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	// The bed's other nodes are in the inventory too: they must not hold
	// a copy of an earlier test's cluster (recover would refuse to choose).
	for _, bn := range c.bed.Nodes()[3:] {
		c.node(bn.Name, "rm", "-rf", filepath.Dir(replicaPath))
	}
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", "e2e-rplain")
	c.ok("instance", "add", "-n", n[1]+":"+n[2], "-o", "testos", "-t", "drbd", "-s", "64M", "--no-name-check", "e2e-rdrbd")
	c.ok("instance", "add", "-n", n[2], "-o", "testos", "-t", "file", "-s", "16M", "--no-start", "--no-name-check", "e2e-rfile")
	c.verifyClean()
	orig := loadState(t, c.stateDir)
	origBytes := c.stateBytes()

	// The workstation loses its state directory.
	if err := os.RemoveAll(c.stateDir); err != nil {
		t.Fatal(err)
	}
	r := c.ok("--dry-run", "cluster", "recover")
	if !strings.Contains(r.stdout, "serial "+strconv.FormatInt(orig.Serial, 10)) {
		t.Errorf("dry run should name the copy's serial:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, "state.json")); err == nil {
		t.Fatal("dry run wrote a state")
	}
	c.ok("--yes", "cluster", "recover")
	got := loadState(t, c.stateDir)
	if got.Lineage != orig.Lineage || got.Serial != orig.Serial {
		t.Errorf("recovered lineage/serial %s/%d, want %s/%d", got.Lineage, got.Serial, orig.Lineage, orig.Serial)
	}
	if string(c.stateBytes()) != string(origBytes) {
		t.Errorf("recovered state file differs from the copy")
	}
	compareRecovered(t, orig, got, true)
	c.verifyClean()

	// The copies are stale: after they were made, the drbd instance was
	// migrated and the plain one shut down. Recovery takes the copy and
	// corrects it from what runs where, as serial+1 of the same lineage.
	stale := c.node(n[0], "cat", replicaPath)
	c.ok("instance", "migrate", "-f", "e2e-rdrbd")
	c.ok("instance", "shutdown", "--timeout", "1s", "e2e-rplain")
	moved := loadState(t, c.stateDir)
	for _, node := range n {
		if _, _, err := c.bed.RunInput(t.Context(), node, []byte(stale), "sh", "-c", "cat > "+replicaPath); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(c.stateDir); err != nil {
		t.Fatal(err)
	}
	r = c.ok("--yes", "cluster", "recover")
	for _, want := range []string{"primary node " + n[1] + " -> " + n[2], "admin state up -> down"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("recovery from a stale copy should report %q:\n%s", want, r.stdout)
		}
	}
	got = loadState(t, c.stateDir)
	if got.Lineage != orig.Lineage || got.Serial != orig.Serial+1 {
		t.Errorf("reconciled state: lineage/serial %s/%d, want %s/%d", got.Lineage, got.Serial, orig.Lineage, orig.Serial+1)
	}
	compareRecovered(t, moved, got, false)
	c.checkReplicas(n...)
	c.verifyClean()
	c.ok("instance", "startup", "e2e-rplain")
	orig = loadState(t, c.stateDir)
	origBytes = c.stateBytes()

	// Another admin machine pulls the state into an empty directory.
	other := c.in(t.TempDir())
	r = other.ok("state", "pull")
	if !strings.Contains(r.stdout, "took serial "+strconv.FormatInt(orig.Serial, 10)) || !strings.Contains(r.stdout, "taken") {
		t.Errorf("state pull output:\n%s", r)
	}
	if string(other.stateBytes()) != string(origBytes) {
		t.Errorf("pulled state differs from the original")
	}
	if r := other.ok("state", "pull"); !strings.Contains(r.stdout, "already up to date") {
		t.Errorf("second pull:\n%s", r)
	}

	// Every copy is gone too: rebuild from the nodes alone.
	if err := os.RemoveAll(c.stateDir); err != nil {
		t.Fatal(err)
	}
	for _, node := range n {
		c.node(node, "rm", "-f", replicaPath)
	}
	r = c.ok("--dry-run", "--json", "cluster", "recover")
	var dry struct {
		Source string            `json:"source"`
		Notes  []json.RawMessage `json:"notes"`
		Plan   struct {
			Changes []json.RawMessage `json:"changes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &dry); err != nil || dry.Source != "nodes" || len(dry.Notes) == 0 || len(dry.Plan.Changes) == 0 {
		t.Errorf("recover --dry-run --json: %v\n%s", err, r.stdout)
	}
	id, _ := orig.Instances["e2e-rdrbd"].Disks[0].DRBD()
	secret := id.Secret
	if strings.Contains(r.stdout, secret) || !strings.Contains(r.stdout, "masked") {
		t.Errorf("the JSON plan shows the DRBD secret unmasked")
	}
	r = c.ok("--yes", "cluster", "recover")
	for _, want := range []string{"rebuilt from the nodes", "instance e2e-rfile", "NICs, hvparams and beparams are unknown", "UUID"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rebuild report should mention %q:\n%s", want, r.stdout)
		}
	}
	rebuilt := loadState(t, c.stateDir)
	if rebuilt.Lineage == orig.Lineage || rebuilt.Serial != 1 {
		t.Errorf("rebuilt state: lineage %s serial %d, want a new lineage at serial 1", rebuilt.Lineage, rebuilt.Serial)
	}
	compareRecovered(t, orig, rebuilt, false)
	c.checkReplicas(n...)
	c.verifyClean()

	// The other machine's state is of the old lineage: pull refuses it
	// without --force.
	if r := other.fails(1, "state", "pull"); !strings.Contains(r.stderr, "lineage") {
		t.Errorf("pull across lineages:\n%s", r)
	}
	other.ok("state", "pull", "--force")
	if string(other.stateBytes()) != string(c.stateBytes()) {
		t.Errorf("forced pull differs from the current state")
	}
}

// TestRecoverMasterFailover: master-failover refuses a candidate whose
// copy is stale (Ganeti #1242), whether an older copy was written onto it
// or it was powered off while the state changed, and tells a workstation
// behind the copies to pull; without a majority of the candidates it needs
// --no-voting.
func TestRecoverMasterFailover(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	other := c.in(t.TempDir())
	other.ok("state", "pull")
	if r := c.fails(1, "cluster", "master-failover", n[0]); !strings.Contains(r.stderr, "already the master") {
		t.Errorf("failover to the master:\n%s", r)
	}

	// A candidate whose copy is stale is not promoted (Ganeti #1242).
	stale := c.node(n[2], "cat", replicaPath)
	c.ok("cluster", "add-tags", "e2e-recover")
	cur := loadState(t, c.stateDir)
	if _, _, err := c.bed.RunInput(t.Context(), n[2], []byte(stale), "sh", "-c", "cat > "+replicaPath); err != nil {
		t.Fatal(err)
	}
	r := c.fails(1, "cluster", "master-failover", n[2])
	for _, want := range []string{"stale", "serial " + strconv.FormatInt(cur.Serial-1, 10), "serial " + strconv.FormatInt(cur.Serial, 10), n[0]} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("master-failover to a stale candidate should say %q:\n%s", want, r)
		}
	}
	if loadState(t, c.stateDir).Cluster.MasterNode != n[0] {
		t.Fatal("the master changed despite the refusal")
	}
	// The other machine's state is now older than the copies.
	if r := other.fails(1, "cluster", "master-failover", n[1]); !strings.Contains(r.stderr, "state pull") {
		t.Errorf("master-failover from an outdated workstation should suggest state pull:\n%s", r)
	}
	c.ok("cluster", "redist-conf")
	c.ok("cluster", "master-failover", n[1])
	if r := c.ok("cluster", "getmaster"); strings.TrimSpace(r.stdout) != n[1] {
		t.Errorf("getmaster after failover: %q", r.stdout)
	}
	c.checkReplicas(n...)
	c.verifyClean()
	if !slices.Contains(loadState(t, c.stateDir).Cluster.Tags, "e2e-recover") {
		t.Error("tag lost")
	}

	// Staleness as it happens: n[0] is off while the state changes, so its
	// copy stays behind; once it is back, it is refused as master.
	down := map[string]bool{}
	powerOff := func(node string) {
		t.Helper()
		if err := c.bed.PowerOff(t.Context(), node); err != nil {
			t.Fatal(err)
		}
		down[node] = true
	}
	boot := func(node string) {
		t.Helper()
		if err := c.bed.Boot(t.Context(), node); err != nil {
			t.Fatal(err)
		}
		delete(down, node)
	}
	defer func() {
		for node := range down {
			c.bed.Boot(t.Context(), node)
		}
	}()
	powerOff(n[0])
	r = c.ok("cluster", "add-tags", "e2e-while-off")
	if !strings.Contains(r.stderr, "WARNING: copy the state to "+n[0]+": ") {
		t.Errorf("replication to a powered-off node should warn:\n%s", r)
	}
	cur = loadState(t, c.stateDir)
	boot(n[0])
	r = c.fails(1, "cluster", "master-failover", n[0])
	if !strings.Contains(r.stderr, "stale (serial "+strconv.FormatInt(cur.Serial-1, 10)+")") || !strings.Contains(r.stderr, "serial "+strconv.FormatInt(cur.Serial, 10)) {
		t.Errorf("master-failover to the node that missed a change:\n%s", r)
	}

	// Most candidates (the master among them) are down: the vote fails,
	// and --no-voting promotes the survivor.
	powerOff(n[0])
	powerOff(n[1])
	if r := c.fails(1, "cluster", "master-failover", n[2]); !strings.Contains(r.stderr, "--no-voting") {
		t.Errorf("master-failover without a majority:\n%s", r)
	}
	r = c.ok("cluster", "master-failover", "--no-voting", n[2])
	if !strings.Contains(r.stderr, "old master "+n[1]+" is not reachable") {
		t.Errorf("no-voting failover should warn about the old master:\n%s", r)
	}
	if r := c.ok("cluster", "getmaster"); strings.TrimSpace(r.stdout) != n[2] {
		t.Errorf("getmaster after --no-voting failover: %q", r.stdout)
	}
	boot(n[0])
	boot(n[1])
	c.ok("cluster", "redist-conf")
	c.checkReplicas(n...)
}

// TestRecoverXen: an xl domain is rebuilt from its config file: the Xen
// hypervisor (enabled again in the rebuilt cluster), NIC MAC and bridge,
// the file disk; the NIC UUID is reported as new.
func TestRecoverXen(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	for _, bn := range c.bed.Nodes()[3:] {
		c.node(bn.Name, "rm", "-rf", filepath.Dir(replicaPath))
	}
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("cluster", "modify", "--enabled-hypervisors", "kvm,xen-pvm")
	c.ok("instance", "add", "-n", n[1], "-o", "testos", "-t", "file", "-s", "32M", "-H", "xen-pvm", "--no-name-check", "e2e-rxen")
	orig := loadState(t, c.stateDir)
	if err := os.RemoveAll(c.stateDir); err != nil {
		t.Fatal(err)
	}
	for _, node := range n[:2] {
		c.node(node, "rm", "-f", replicaPath)
	}
	r := c.ok("--yes", "cluster", "recover")
	for _, want := range []string{"xen config on " + n[1], "hypervisor xen-pvm enabled", "NIC 0: UUID is new"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rebuild report should say %q:\n%s", want, r.stdout)
		}
	}
	got := loadState(t, c.stateDir)
	w, g := orig.Instances["e2e-rxen"], got.Instances["e2e-rxen"]
	if g == nil {
		t.Fatalf("e2e-rxen not rebuilt:\n%s", r.stdout)
	}
	if g.Hypervisor != "xen-pvm" || g.PrimaryNode != n[1] || g.AdminState != "up" || len(g.NICs) != 1 ||
		g.NICs[0].MAC != w.NICs[0].MAC || js(g.NICs[0].NICParams) != js(w.NICs[0].NICParams) ||
		js(g.Disks[0].LogicalID) != js(w.Disks[0].LogicalID) || g.Disks[0].Size != w.Disks[0].Size {
		t.Errorf("rebuilt xen instance:\n got %s\nwant %s", js(g), js(w))
	}
	c.verifyClean()
}
