//go:build bed

package storage

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/testbed"
)

// DRBD on the test bed's DRBD 8.4 stand-in: every step runs for real in
// the node namespaces, and data written on one node is read on the other.
// Each test uses its own minors (240+) and ports (14900+), far from what
// allocations in other packages' bed tests use, and downs them first and
// last.

const bedSecret = "5f3c1e2a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e"

// resolved replaces secret placeholders the way apply does.
func resolved(argv []string) []string {
	out := append([]string(nil), argv...)
	for i, a := range out {
		if plan.IsSecret(a) {
			out[i] = bedSecret
		}
	}
	return out
}

// stages runs per-node sequences zipped into stages, as apply would.
func (r bedRunner) stages(seqs ...[]plan.Step) {
	r.t.Helper()
	for _, st := range Stages("drbd", plan.Abort, seqs...) {
		for _, s := range st.Steps {
			if _, err := r.try(s.Node, resolved(s.Argv)...); err != nil {
				r.t.Fatalf("%s: step %q on %s: %v", st.Name, s.Desc, s.Node, short(err))
			}
		}
	}
}

// m fails the test on a builder error and returns its steps.
func (b *drbdBed) m(steps []plan.Step, err error) []plan.Step {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	return steps
}

type drbdBed struct {
	bedRunner
	st   *statefile.State
	env  DRBDEnv
	n1   string
	n2   string
	n3   string
	inst string
	// growable: create meta before data (see bringUp)
	growable bool
}

func newDRBDBed(t *testing.T, name string, base int) *drbdBed {
	bed := testbed.ForTest(t, 3)
	nodes := bed.Nodes()
	st := statefile.New("bed")
	st.Cluster.VolumeGroup = bed.VG()
	for _, n := range nodes[:3] {
		st.Nodes[n.Name] = &statefile.Node{Name: n.Name, PrimaryIP: n.Addr, SecondaryIP: n.SecondaryAddr}
	}
	b := &drbdBed{bedRunner: bedRunner{t, bed}, st: st, env: DRBDEnvFrom(st, testbed.DRBDStatusFile),
		n1: nodes[0].Name, n2: nodes[1].Name, n3: nodes[2].Name, inst: uniq(t, name)}
	for _, n := range []string{b.n1, b.n2, b.n3} { // leftovers of an interrupted run
		for m := base; m < base+4; m++ {
			b.try(n, "drbdsetup", "down", DRBDResource(m))
		}
	}
	return b
}

// newDisk allocates (shifted to this test's minors and ports) and builds
// one drbd disk of size MiB, removed on both nodes at cleanup.
func (b *drbdBed) newDisk(size int64, base int) *statefile.Disk {
	t := b.t
	ids, err := AllocDRBD(b.st, b.n1, b.n2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids[0].MinorA += base
	ids[0].MinorB += base + 1
	ids[0].Port += 14900 - FirstDRBDPort + base - 240
	ds, err := NewDRBD(&b.st.Cluster, b.inst, b.n1, b.n2, 0, []Spec{{Size: size}}, ids, []string{bedSecret}, statefile.NewUUID)
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	t.Cleanup(func() {
		for _, n := range []string{b.n1, b.n2} {
			b.try(n, "rm", "-f", LinkPath(b.inst, 0))
			if s, err := Remove(d, n); err == nil {
				for _, st := range s {
					b.try(n, st.Argv...)
				}
			}
		}
	})
	return d
}

func (b *drbdBed) status(node string) map[int]DRBDStatus {
	b.t.Helper()
	s, err := ParseProcDRBD([]byte(b.run(node, "cat", testbed.DRBDStatusFile)))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *drbdBed) minorState(d *statefile.Disk, node string) DRBDStatus {
	m, _ := MinorOn(d, node)
	return b.status(node)[m]
}

// eventually polls d's status on node (the status file follows the
// peer's changes within a tick) until ok, for 15 s.
func (b *drbdBed) eventually(d *statefile.Disk, node string, ok func(DRBDStatus) bool) DRBDStatus {
	b.t.Helper()
	var s DRBDStatus
	for i := 0; i < 75; i++ {
		if s = b.minorState(d, node); ok(s) {
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

func (b *drbdBed) write(node, dev, marker string) {
	b.run(node, "sh", "-c", `printf '%s' "$2" | dd of="$1" bs=4096 conv=notrunc,fsync oflag=direct 2>/dev/null || printf '%s' "$2" | dd of="$1" bs=4096 conv=notrunc,fsync 2>/dev/null`, "w", dev, marker)
}

func (b *drbdBed) read(node, dev string, n int) string {
	return b.run(node, "sh", "-c", `dd if="$1" bs=4096 count=1 iflag=direct 2>/dev/null | head -c "$2"`, "r", dev, strconv.Itoa(n))
}

func dev(d *statefile.Disk, node string) string {
	p, _ := DRBDDevice(d, node)
	return p
}

// bringUp creates and assembles d on both nodes, makes n1 primary with
// --force and waits for the initial sync.
func (b *drbdBed) bringUp(d *statefile.Disk) {
	t := b.t
	c1, c2 := b.m(Create(d, b.n1, b.inst)), b.m(Create(d, b.n2, b.inst))
	if b.growable {
		// The bed gives only contiguous LVs a device: create the meta LV
		// first so the data LV can grow in place (real LVM does not care).
		c1[0], c1[1] = c1[1], c1[0]
		c2[0], c2[1] = c2[1], c2[0]
	}
	b.stages(c1, c2)
	b.stages(b.m(AssembleDRBD(d, b.n1, b.env)), b.m(AssembleDRBD(d, b.n2, b.env)))
	// Assembling again changes nothing (idempotent, as Ganeti's slow path).
	b.stages(b.m(AssembleDRBD(d, b.n1, b.env)), b.m(AssembleDRBD(d, b.n2, b.env)))
	b.stages(b.m(MakePrimary(d, b.n1, b.inst, 0, true)))
	b.stages(b.m(WaitSync(d, b.n1, b.env, 120)))
	if s := b.minorState(d, b.n1); !s.InSync() || s.Role != "Primary" || s.PeerRole != "Secondary" {
		t.Fatalf("after sync on %s: %+v", b.n1, s)
	}
}

func TestBedDRBDLifecycle(t *testing.T) {
	const base = 240
	b := newDRBDBed(t, "sto-drbd", base)
	b.growable = true
	d := b.newDisk(8, base)
	b.bringUp(d)

	link := LinkPath(b.inst, 0)
	if got := strings.TrimSpace(b.run(b.n1, "readlink", link)); got != dev(d, b.n1) {
		t.Errorf("link -> %s, want %s", got, dev(d, b.n1))
	}
	marker := "ganetictl-drbd-marker-" + b.inst
	b.write(b.n1, link, marker)

	// Failover of the disks: n1 secondary (link gone), n2 primary.
	b.stages(b.m(MakeSecondary(d, b.n1, b.inst, 0)))
	if _, err := b.try(b.n1, "test", "-L", link); err == nil {
		t.Error("link still on the old primary")
	}
	b.stages(b.m(WaitConnected(d, b.n2, b.env, 60)))
	b.stages(b.m(MakePrimary(d, b.n2, b.inst, 0, false)))
	if got := b.read(b.n2, dev(d, b.n2), len(marker)); got != marker {
		t.Fatalf("read on %s through %s: %q, want %q", b.n2, dev(d, b.n2), got, marker)
	}
	if got := b.read(b.n2, link, len(marker)); got != marker {
		t.Errorf("read through %s's link: %q", b.n2, got)
	}
	// Two primaries are refused without --allow-two-primaries.
	if _, err := b.try(b.n1, "drbdsetup", "primary", strconv.Itoa(base)); err == nil {
		t.Error("second primary accepted in single-primary mode")
	}

	// Grow: data LVs on both nodes, then resize on the primary.
	b.stages(b.m(Grow(d, b.n1, 4)), b.m(Grow(d, b.n2, 4)))
	b.stages(b.m(ResizeDRBD(d, b.n2, 4)))
	d.Size += 4
	d.Children[0].Size += 4
	b.stages(b.m(WaitSync(d, b.n2, b.env, 120)))
	for _, n := range []string{b.n1, b.n2} {
		out := b.run(n, "blockdev", "--getsize64", "/dev/"+b.bed.VG()+"/"+volumeOf(d.Children[0]))
		if strings.TrimSpace(out) != strconv.Itoa(12<<20) {
			t.Errorf("%s: data LV is %s bytes after grow", n, strings.TrimSpace(out))
		}
	}
	if out := strings.TrimSpace(b.run(b.n2, "blockdev", "--getsize64", dev(d, b.n2))); out != strconv.Itoa(12<<20) {
		t.Logf("%s: %s is %s bytes after resize", b.n2, dev(d, b.n2), out)
	}
	if got := b.read(b.n2, link, len(marker)); got != marker {
		t.Errorf("after grow: %q", got)
	}

	// The volumes are where Expected says.
	b.st.Instances[b.inst] = &statefile.Instance{Name: b.inst, Disks: []*statefile.Disk{d}}
	exp := Expected(b.st)
	for _, n := range []string{b.n1, b.n2} {
		v, err := ParseVolumes([]byte(b.run(n, VolumesStep(n, b.bed.VG(), "", "", "").Argv...)))
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, lv := range v.LVs {
			have[lv.FullName()] = lv.Instance() == b.inst
		}
		for _, name := range exp[n] {
			if !have[name] {
				t.Errorf("%s: expected volume %s missing or untagged", n, name)
			}
		}
	}

	// Shutdown, Remove: nothing left.
	b.stages(b.m(Shutdown(d, b.n2, b.inst, 0)), b.m(Shutdown(d, b.n1, b.inst, 0)))
	for _, n := range []string{b.n1, b.n2} {
		if !NeedsActivation(b.status(n), mustMinor(t, d, n)) {
			t.Errorf("%s: minor still active after shutdown", n)
		}
	}
	b.stages(b.m(Remove(d, b.n1)), b.m(Remove(d, b.n2)))
	b.stages(b.m(Remove(d, b.n1))) // again: fine
	for _, n := range []string{b.n1, b.n2} {
		if s, ok := b.status(n)[mustMinor(t, d, n)]; ok && !s.Unconfigured {
			t.Errorf("%s: minor still listed: %+v", n, s)
		}
		for _, c := range d.Children {
			if _, err := b.try(n, "lvs", VolumeName(c)); err == nil {
				t.Errorf("%s: LV %s still there", n, VolumeName(c))
			}
		}
	}
}

func mustMinor(t *testing.T, d *statefile.Disk, node string) int {
	m, err := MinorOn(d, node)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBedDRBDMigrationDance runs Ganeti's live-migration disk sequence
// (§11.3): standalone, reconnect dual-primary, primary on both, then back
// to single-primary on the target.
func TestBedDRBDMigrationDance(t *testing.T) {
	const base = 244
	b := newDRBDBed(t, "sto-drbd-mig", base)
	d := b.newDisk(8, base)
	b.bringUp(d)
	marker := "ganetictl-drbd-migrate-" + b.inst
	b.write(b.n1, LinkPath(b.inst, 0), marker)

	b.stages(b.m(MakeSecondary(d, b.n2, b.inst, 0)))
	b.stages(b.m(DisconnectNet(d, b.n1, b.env)), b.m(DisconnectNet(d, b.n2, b.env)))
	for _, n := range []string{b.n1, b.n2} {
		if s := b.minorState(d, n); s.CState != "StandAlone" {
			t.Fatalf("%s after disconnect: %+v", n, s)
		}
	}
	b.stages(b.m(DisconnectNet(d, b.n1, b.env))) // already standalone: fine
	// Waiting for sync on a StandAlone disk fails clearly, not at the timeout.
	w := b.m(WaitSync(d, b.n1, b.env, 60))
	start := time.Now()
	if _, err := b.try(b.n1, w[0].Argv...); err == nil || !strings.Contains(err.Error(), "StandAlone") || time.Since(start) > 30*time.Second {
		t.Errorf("wait-sync on a standalone disk: %v after %v", short(err), time.Since(start))
	}
	b.stages(b.m(AttachNet(d, b.n1, b.env, true)), b.m(AttachNet(d, b.n2, b.env, true)))
	b.stages(b.m(MakePrimary(d, b.n1, b.inst, 0, false)), b.m(MakePrimary(d, b.n2, b.inst, 0, false)))
	for _, n := range []string{b.n1, b.n2} {
		dual := func(s DRBDStatus) bool { return s.Role == "Primary" && s.PeerRole == "Primary" && s.InSync() }
		if s := b.eventually(d, n, dual); !dual(s) {
			t.Fatalf("%s in dual-primary: %+v", n, s)
		}
	}
	if got := b.read(b.n2, LinkPath(b.inst, 0), len(marker)); got != marker {
		t.Errorf("target reads %q in dual-primary", got)
	}
	// The hypervisor moved; the old primary closes.
	b.stages(b.m(MakeSecondary(d, b.n1, b.inst, 0)))
	b.stages(b.m(DisconnectNet(d, b.n1, b.env)), b.m(DisconnectNet(d, b.n2, b.env)))
	b.stages(b.m(AttachNet(d, b.n1, b.env, false)), b.m(AttachNet(d, b.n2, b.env, false)))
	b.stages(b.m(WaitSync(d, b.n2, b.env, 120)))
	single := func(s DRBDStatus) bool { return s.Role == "Primary" && s.PeerRole == "Secondary" && s.InSync() }
	if s := b.eventually(d, b.n2, single); !single(s) {
		t.Errorf("target after migration: %+v", s)
	}
	if _, err := b.try(b.n1, "drbdsetup", "primary", strconv.Itoa(mustMinor(t, d, b.n1))); err == nil {
		t.Error("dual-primary still allowed after going back to single")
	}
	// Connecting an already connected disk dual is refused clearly.
	steps := b.m(AttachNet(d, b.n1, b.env, true))
	if _, err := b.try(b.n1, resolved(steps[0].Argv)...); err == nil || !strings.Contains(err.Error(), "disconnect it first") {
		t.Errorf("dual connect over single: %v", err)
	}
	b.stages(b.m(Shutdown(d, b.n1, b.inst, 0)), b.m(Shutdown(d, b.n2, b.inst, 0)))
}

// TestBedDRBDConversion converts a plain disk to drbd and back (§11.6),
// keeping its data, and checks the secondary received it.
func TestBedDRBDConversion(t *testing.T) {
	const base = 248
	b := newDRBDBed(t, "sto-drbd-conv", base)
	ps, err := New(Plain, &b.st.Cluster, b.inst, b.n1, 0, []Spec{{Size: 8}}, statefile.NewUUID)
	if err != nil {
		t.Fatal(err)
	}
	pl := ps[0]
	t.Cleanup(func() {
		if s, err := Remove(pl, b.n1); err == nil {
			b.try(b.n1, s[0].Argv...)
		}
	})
	b.steps(Create(pl, b.n1, b.inst))
	b.steps(Assemble(pl, b.n1, b.inst, 0))
	marker := "ganetictl-drbd-convert-" + b.inst
	b.write(b.n1, LinkPath(b.inst, 0), marker)
	b.steps(Shutdown(pl, b.n1, b.inst, 0))

	d := b.newDisk(8, base)
	onP, onS, err := PlainToDRBD(pl, d, b.n1, b.inst, b.env)
	if err != nil {
		t.Fatal(err)
	}
	b.stages(onP, onS)
	b.stages(b.m(WaitSync(d, b.n1, b.env, 120)))
	if _, err := b.try(b.n1, "lvs", VolumeName(pl)); err == nil {
		t.Error("plain LV still under its old name")
	}
	// The secondary holds the data: read it there as primary.
	b.stages(b.m(MakeSecondary(d, b.n1, "", 0)))
	b.stages(b.m(MakePrimary(d, b.n2, "", 0, false)))
	if got := b.read(b.n2, dev(d, b.n2), len(marker)); got != marker {
		t.Fatalf("secondary after conversion reads %q, want %q", got, marker)
	}
	b.stages(b.m(MakeSecondary(d, b.n2, "", 0)))

	// And back to plain, renaming the data LV to the plain name.
	back, onP, onS, err := DRBDToPlain(d, b.n1, volumeOf(pl))
	if err != nil {
		t.Fatal(err)
	}
	b.stages(onP, onS)
	if VolumeName(back) != VolumeName(pl) {
		t.Errorf("converted back to %s, want %s", VolumeName(back), VolumeName(pl))
	}
	b.steps(Assemble(back, b.n1, b.inst, 0))
	if got := b.read(b.n1, LinkPath(b.inst, 0), len(marker)); got != marker {
		t.Errorf("plain again reads %q", got)
	}
	b.steps(Shutdown(back, b.n1, b.inst, 0))
	for _, n := range []string{b.n1, b.n2} {
		if s, ok := b.status(n)[mustMinor(t, d, n)]; ok && !s.Unconfigured {
			t.Errorf("%s: minor still listed: %+v", n, s)
		}
	}
	if _, err := b.try(b.n2, "lvs", VolumeName(d.Children[0])); err == nil {
		t.Error("secondary data LV left")
	}
	if _, err := b.try(b.n1, "lvs", VolumeName(d.Children[1])); err == nil {
		t.Error("primary meta LV left")
	}
}

// TestBedDRBDReplaceDisks replaces the secondary's storage in place (-s,
// §11.4), then moves the secondary to the third node (-n, §11.5), and
// reads the data on each new copy.
func TestBedDRBDReplaceDisks(t *testing.T) {
	const base = 252
	b := newDRBDBed(t, "sto-drbd-repl", base)
	d := b.newDisk(8, base)
	b.bringUp(d)
	marker := "ganetictl-drbd-replace-" + b.inst
	b.write(b.n1, LinkPath(b.inst, 0), marker)

	// -s: new LVs on n2, swapped in under the old names, resynced.
	const ts = 1700000000
	newID := statefile.NewUUID()
	b.stages(b.m(CreateReplacementLVs(d, b.n2, b.inst, newID)))
	b.stages(b.m(SwapReplacementLVs(d, b.n2, newID, ts, b.env)))
	b.stages(b.m(WaitSync(d, b.n1, b.env, 120)))
	for _, c := range d.Children {
		b.run(b.n2, "lvs", VolumeName(c)+"_replaced-1700000000")
	}
	b.stages(b.m(RemoveReplacedLVs(d, b.n2, ts)))
	for _, c := range d.Children {
		if _, err := b.try(b.n2, "lvs", VolumeName(c)+"_replaced-1700000000"); err == nil {
			t.Errorf("old LV %s left", VolumeName(c))
		}
	}
	// n2's new storage has the data: cut n1 off and read it there.
	b.stages(b.m(MakeSecondary(d, b.n1, b.inst, 0)))
	b.stages(b.m(MakePrimary(d, b.n2, "", 0, false)))
	if got := b.read(b.n2, dev(d, b.n2), len(marker)); got != marker {
		t.Fatalf("after replace -s, %s reads %q", b.n2, got)
	}
	b.stages(b.m(MakeSecondary(d, b.n2, "", 0)))
	b.stages(b.m(MakePrimary(d, b.n1, b.inst, 0, false)))

	// -n: n3 replaces n2.
	ms, err := AllocMinors(b.st, b.n3, 1)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := WithSecondary(d, b.n1, b.n3, ms[0]+base+2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := Remove(nd, b.n3); err == nil {
			for _, st := range s {
				b.try(b.n3, st.Argv...)
			}
		}
	})
	b.stages(append(b.m(Create(nd, b.n3, b.inst)), b.m(AttachLocal(nd, b.n3, b.env))...))
	b.stages(b.m(DownDRBD(d, b.n2)))
	b.stages(b.m(DisconnectNet(d, b.n1, b.env)))
	b.stages(b.m(AttachNet(nd, b.n1, b.env, false)), b.m(AttachNet(nd, b.n3, b.env, false)))
	b.stages(b.m(WaitSync(nd, b.n1, b.env, 120)))
	b.stages(b.m(Remove(d, b.n2)))
	for _, c := range d.Children {
		if _, err := b.try(b.n2, "lvs", VolumeName(c)); err == nil {
			t.Errorf("old secondary still has %s", VolumeName(c))
		}
	}
	b.stages(b.m(MakeSecondary(nd, b.n1, b.inst, 0)))
	b.stages(b.m(MakePrimary(nd, b.n3, "", 0, false)))
	if got := b.read(b.n3, dev(nd, b.n3), len(marker)); got != marker {
		t.Fatalf("new secondary %s reads %q", b.n3, got)
	}
	b.stages(b.m(Shutdown(nd, b.n3, b.inst, 0)), b.m(Shutdown(nd, b.n1, b.inst, 0)))
}
