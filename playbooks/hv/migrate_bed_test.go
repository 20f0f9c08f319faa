//go:build bed

package hv

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/testbed"
)

// Real migrations between test-bed nodes: qemu (TCG) on node1 and node2,
// the stream over the bed's secondary network.

// runMig runs one step and returns stdout, stderr and the error without
// the (long) script text.
func runMig(ctx context.Context, bed *testbed.Bed, s plan.Step) (string, string, error) {
	out, errOut, err := bed.Run(ctx, s.Node, s.Argv...)
	if err != nil {
		err = fmt.Errorf("%s on %s failed: %s", s.Desc, s.Node, strings.TrimSpace(errOut))
	}
	return out, errOut, err
}

func mustMig(ctx context.Context, t *testing.T, bed *testbed.Bed, steps ...plan.Step) string {
	t.Helper()
	var all string
	for _, s := range steps {
		if s.Path != "" {
			if _, err := runStep(ctx, bed, s); err != nil {
				t.Fatalf("%s: %v", s.Desc, err)
			}
			continue
		}
		out, _, err := runMig(ctx, bed, s)
		if err != nil {
			t.Fatal(err)
		}
		all += out
	}
	return all
}

func qmpStatus(ctx context.Context, bed *testbed.Bed, node, inst string) string {
	st, _ := QMP(node, inst, QMPCommand("query-status", nil))
	out, err := runStep(ctx, bed, st)
	if err != nil {
		return ""
	}
	r, err := ParseQMP([]byte(out))
	if err != nil || len(r) != 1 {
		return ""
	}
	var s struct{ Status string }
	json.Unmarshal(r[0], &s)
	return s.Status
}

// leftovers lists what node still has of inst: a qemu, its tap, runtime
// files.
func leftovers(ctx context.Context, bed *testbed.Bed, node, inst, tap string) string {
	out, _, _ := bed.Run(ctx, node, "sh", "-c", `ip -o link show dev "$1" 2>/dev/null; ls -d /run/ganeti/kvm-hypervisor/*/"$2" /run/ganeti/kvm-hypervisor/*/"$2".* /run/ganeti/kvm-hypervisor/nic/"$2"/* 2>/dev/null; true`,
		"sh", tap, inst)
	return strings.TrimSpace(out)
}

// migPort picks a migration port of this test process (the bed is shared).
func migPort(off int) int { return 20000 + (os.Getpid()*7+off)%20000 }

type migBed struct {
	bed      *testbed.Bed
	n1, n2   testbed.Node
	hvp      statefile.Params
	machine  string
	inst     *statefile.Instance
	tap      string
	diskFile string
}

func newMigBed(t *testing.T, name string, maxmem int64) *migBed {
	bed := testbed.ForTest(t, 3)
	ctx := context.Background()
	nodes := bed.Nodes()
	mb := &migBed{bed: bed, n1: nodes[0], n2: nodes[1]}
	var err error
	if mb.hvp, err = Params(KVM, nil, statefile.Params{"serial_console": false}); err != nil {
		t.Fatal(err)
	}
	out, _, err := bed.Run(ctx, mb.n1.Name, "sh", "-c", MachineScript, "ganetictl-machine", str(mb.hvp, "kvm_path"))
	if err != nil {
		t.Fatal(err)
	}
	mb.machine = strings.TrimSpace(out)
	mb.inst = &statefile.Instance{Meta: statefile.Meta{UUID: newUUID(t)}, Name: name, Hypervisor: KVM,
		BEParams: statefile.Params{"maxmem": float64(maxmem), "vcpus": 1.0},
		NICs:     []*statefile.NIC{{UUID: newUUID(t), MAC: "aa:00:00:5e:00:" + fmt.Sprintf("%02x", os.Getpid()%256)}}}
	mb.tap = TapName(mb.inst.NICs[0].UUID, 0)
	t.Cleanup(func() {
		for _, n := range []string{mb.n1.Name, mb.n2.Name} {
			force, _ := Stop(KVM, name, n, 0, true)
			runStep(context.Background(), bed, force)
			bed.Run(context.Background(), n, "rm", "-rf", "/srv/ganeti/file-storage/"+name, DiskLink(name, 0))
		}
	})
	return mb
}

// withBootDisk gives the instance a 1 MiB raw disk holding boot sector
// sector, copied to both nodes under the same link.
func (mb *migBed) withBootDisk(t *testing.T, sector []byte) {
	ctx := context.Background()
	name := mb.inst.Name
	mb.inst.Disks = []*statefile.Disk{{UUID: newUUID(t), DevType: "file", Mode: "rw", Size: 1}}
	dir := "/srv/ganeti/file-storage/" + name
	for _, n := range []string{mb.n1.Name, mb.n2.Name} {
		if _, _, err := bed(mb).RunInput(ctx, n, sector, "sh", "-c",
			`mkdir -p "$1" "$3" && truncate -s 1M "$1/disk0" && dd of="$1/disk0" conv=notrunc status=none && ln -sfn "$1/disk0" "$2"`,
			"sh", dir, DiskLink(name, 0), DiskLinkDir); err != nil {
			t.Fatal(err)
		}
	}
}

func bed(mb *migBed) *testbed.Bed { return mb.bed }

func (mb *migBed) args(src, dst testbed.Node, live bool) MigrateArgs {
	var links []string
	if len(mb.inst.Disks) > 0 {
		links = []string{DiskLink(mb.inst.Name, 0)}
	}
	return MigrateArgs{Instance: mb.inst, Source: src.Name, Target: dst.Name, TargetIP: dst.SecondaryAddr,
		Port: migPort(0), HVParams: mb.hvp, Live: live, Links: links, NICLinks: []string{"br0"},
		DefaultMachine: mb.machine, Timeout: 60 * time.Second}
}

func (mb *migBed) start(ctx context.Context, t *testing.T, node testbed.Node) {
	t.Helper()
	a := mb.args(node, mb.n2, true)
	steps, err := Start(StartArgs{Instance: mb.inst, Node: node.Name, HVParams: mb.hvp, Links: a.Links, NICLinks: a.NICLinks, DefaultMachine: mb.machine})
	if err != nil {
		t.Fatal(err)
	}
	mustMig(ctx, t, mb.bed, steps...)
}

// migrate runs accept, migrate and finalize from src to dst and checks
// the result.
func (mb *migBed) migrate(ctx context.Context, t *testing.T, src, dst testbed.Node, live bool) MigrateSummary {
	t.Helper()
	a := mb.args(src, dst, live)
	acc, err := AcceptSteps(a)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	mustMig(ctx, t, mb.bed, acc...)
	tAccept := time.Since(t0)
	if st := qmpStatus(ctx, mb.bed, dst.Name, mb.inst.Name); st != "inmigrate" {
		t.Fatalf("target status after accept: %q", st)
	}
	ms, err := MigrateStep(a)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	out, errOut, err := runMig(ctx, mb.bed, ms)
	tMig := time.Since(t1)
	sum, perr := ParseMigrateSummary([]byte(out))
	if err != nil || perr != nil || sum.Status != "completed" {
		t.Fatalf("migrate: %v %v %+v\nstdout %s\nstderr %s", err, perr, sum, out, errOut)
	}
	if sum.SourceStatus != "postmigrate" || sum.Live != live {
		t.Errorf("summary %+v", sum)
	}
	fs, _ := FinalizeSourceSteps(a)
	ft, _ := FinalizeTargetSteps(a)
	t2 := time.Now()
	mustMig(ctx, t, mb.bed, ft...)
	mustMig(ctx, t, mb.bed, fs...)
	tFin := time.Since(t2)
	t.Logf("%s -> %s (%s): accept %v, migrate step %v [%s; wall %d ms], finalize %v, total %v",
		src.Name, dst.Name, map[bool]string{true: "live", false: "non-live"}[live], tAccept.Round(time.Millisecond),
		tMig.Round(time.Millisecond), sum, sum.WallMs, tFin.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	if st := qmpStatus(ctx, mb.bed, dst.Name, mb.inst.Name); st != "running" {
		t.Errorf("target status after migration: %q", st)
	}
	if r, ok := list(ctx, t, mb.bed, dst.Name)[mb.inst.Name]; !ok || r.MemMiB != integer(mb.inst.BEParams, "maxmem") {
		t.Errorf("target list: %+v %v", r, ok)
	}
	if _, ok := list(ctx, t, mb.bed, src.Name)[mb.inst.Name]; ok {
		t.Errorf("%s still listed on the source", mb.inst.Name)
	}
	if l := leftovers(ctx, mb.bed, src.Name, mb.inst.Name, mb.tap); l != "" {
		t.Errorf("left on the source: %s", l)
	}
	if out, _, err := mb.bed.Run(ctx, dst.Name, "ip", "-o", "link", "show", "dev", mb.tap); err != nil || !strings.Contains(out, "master br0") {
		t.Errorf("target tap: %q %v", out, err)
	}
	return sum
}

func TestBedKVMMigrate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	mb := newMigBed(t, fmt.Sprintf("hvmig%d", os.Getpid()), 64)
	mb.start(ctx, t, mb.n1)
	mb.migrate(ctx, t, mb.n1, mb.n2, true)
	mb.migrate(ctx, t, mb.n2, mb.n1, false)

	// A failed migration: the target qemu dies before the stream starts.
	a := mb.args(mb.n1, mb.n2, true)
	acc, _ := AcceptSteps(a)
	mustMig(ctx, t, mb.bed, acc...)
	// Accept again replaces the stale incoming qemu.
	out := mustMig(ctx, t, mb.bed, acc...)
	if !strings.Contains(out, "stale incoming") {
		t.Errorf("second accept: %q", out)
	}
	if _, _, err := mb.bed.Run(ctx, mb.n2.Name, "sh", "-c", `kill -KILL "$(cat "$1")"`, "sh", kvmPidFile(mb.inst.Name)); err != nil {
		t.Fatal(err)
	}
	ms, _ := MigrateStep(a)
	out, errOut, err := runMig(ctx, mb.bed, ms)
	sum, perr := ParseMigrateSummary([]byte(out))
	if err == nil || perr != nil || sum.Status != "failed" || sum.SourceStatus != "running" {
		t.Fatalf("migration to a dead target: %v %v %+v\n%s", err, perr, sum, errOut)
	}
	t.Logf("migration to a dead target: %s", sum)
	at, _ := AbortTargetSteps(a)
	mustMig(ctx, t, mb.bed, at...)
	if l := leftovers(ctx, mb.bed, mb.n2.Name, mb.inst.Name, mb.tap); l != "" {
		t.Errorf("left on the target after abort: %s", l)
	}
	if st := qmpStatus(ctx, mb.bed, mb.n1.Name, mb.inst.Name); st != "running" {
		t.Errorf("source status after the failed migration: %q", st)
	}
	// The source refuses to be "finalized" while it runs; the accept
	// refuses to start a target where the instance runs.
	fs, _ := FinalizeSourceSteps(a)
	if _, _, err := runMig(ctx, mb.bed, fs[0]); err == nil || !strings.Contains(err.Error(), "not killing") {
		t.Errorf("finalize source of a running instance: %v", err)
	}
	back := mb.args(mb.n2, mb.n1, true)
	acc, _ = AcceptSteps(back)
	if _, _, err := runMig(ctx, mb.bed, acc[0]); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("accept where the instance runs: %v", err)
	}
	if st := qmpStatus(ctx, mb.bed, mb.n1.Name, mb.inst.Name); st != "running" {
		t.Errorf("source status at the end: %q", st)
	}
	// Non-live failure: the source is resumed.
	a.Live = false
	ms, _ = MigrateStep(a)
	out, _, err = runMig(ctx, mb.bed, ms)
	if sum, _ := ParseMigrateSummary([]byte(out)); err == nil || sum.SourceStatus != "running" {
		t.Errorf("non-live migration to nowhere: %v %+v", err, sum)
	}
	if st := qmpStatus(ctx, mb.bed, mb.n1.Name, mb.inst.Name); st != "running" {
		t.Errorf("source status after the failed non-live migration: %q", st)
	}
}

// dirtySector is the probe's memory-dirtying boot sector (testbed-probe
// §3.5): 32-bit mode, then rewrite 32 MiB at 1 MiB forever.
func dirtySector(t *testing.T) []byte {
	code, err := hex.DecodeString("fa31c08ed80f0116687c0f20c06683c8010f22c0ea197c080066b810008ed88ec08ed0bc007c000066baf803b050ee31dbbf000010008b0df07d0000c1e90289d8fcf3ab43b02eeeebe78db6000000000000000000000000ffff0000009acf00ffff00000092cf001700507c")
	if err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 512)
	copy(s, code)
	copy(s[0x1f0:], []byte{0, 0, 0, 2}) // 32 MiB
	s[510], s[511] = 0x55, 0xaa
	return s
}

// TestBedKVMMigrateDirty: a guest that dirties memory faster than the
// bandwidth never converges; the timeout cancels the migration and the
// source keeps running. The target qemu is then killed while a second
// migration streams.
func TestBedKVMMigrateDirty(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	mb := newMigBed(t, fmt.Sprintf("hvdirty%d", os.Getpid()), 64)
	mb.hvp["disk_type"] = "ide"
	mb.withBootDisk(t, dirtySector(t))
	mb.start(ctx, t, mb.n1)
	a := mb.args(mb.n1, mb.n2, true)
	a.Port = migPort(1)
	a.Bandwidth, a.Timeout = 4, 3*time.Second

	acc, _ := AcceptSteps(a)
	mustMig(ctx, t, mb.bed, acc...)
	ms, _ := MigrateStep(a)
	t0 := time.Now()
	out, errOut, err := runMig(ctx, mb.bed, ms)
	sum, perr := ParseMigrateSummary([]byte(out))
	if err == nil || perr != nil || sum.Status != "cancelled" || !sum.TimedOut || sum.SourceStatus != "running" {
		t.Fatalf("dirty guest at 4 MiB/s: %v %v %+v\n%s", err, perr, sum, errOut)
	}
	t.Logf("dirty guest at 4 MiB/s, timeout 3 s: %s after %v; stderr:\n%s", sum, time.Since(t0).Round(time.Millisecond), errOut)
	at, _ := AbortTargetSteps(a)
	mustMig(ctx, t, mb.bed, at...)
	if l := leftovers(ctx, mb.bed, mb.n2.Name, mb.inst.Name, mb.tap); l != "" {
		t.Errorf("left on the target: %s", l)
	}

	// Kill the target while the stream runs.
	acc, _ = AcceptSteps(a)
	mustMig(ctx, t, mb.bed, acc...)
	a.Timeout = 30 * time.Second
	ms, _ = MigrateStep(a)
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, errOut, err = runMig(ctx, mb.bed, ms)
	}()
	time.Sleep(1500 * time.Millisecond)
	if _, _, err := mb.bed.Run(ctx, mb.n2.Name, "sh", "-c", `kill -KILL "$(cat "$1")"`, "sh", kvmPidFile(mb.inst.Name)); err != nil {
		t.Fatal(err)
	}
	<-done
	sum, perr = ParseMigrateSummary([]byte(out))
	if err == nil || perr != nil || sum.Status != "failed" || sum.SourceStatus != "running" || sum.Transferred == 0 {
		t.Fatalf("target killed mid-stream: %v %v %+v\n%s", err, perr, sum, errOut)
	}
	t.Logf("target killed mid-stream: %s", sum)
	mustMig(ctx, t, mb.bed, at...)
	if l := leftovers(ctx, mb.bed, mb.n2.Name, mb.inst.Name, mb.tap); l != "" {
		t.Errorf("left on the target: %s", l)
	}

	// With enough bandwidth it converges.
	a.Bandwidth, a.Downtime = 10000, 300
	acc, _ = AcceptSteps(a)
	mustMig(ctx, t, mb.bed, acc...)
	ms, _ = MigrateStep(a)
	out, errOut, err = runMig(ctx, mb.bed, ms)
	if sum, _ := ParseMigrateSummary([]byte(out)); err != nil || sum.Status != "completed" {
		t.Fatalf("dirty guest at 10000 MiB/s: %v %+v\n%s", err, sum, errOut)
	} else {
		t.Logf("dirty guest at 10000 MiB/s, downtime 300 ms: %s", sum)
	}
	ft, _ := FinalizeTargetSteps(a)
	fs, _ := FinalizeSourceSteps(a)
	mustMig(ctx, t, mb.bed, append(ft, fs...)...)
	if st := qmpStatus(ctx, mb.bed, mb.n2.Name, mb.inst.Name); st != "running" {
		t.Errorf("target: %q", st)
	}
}

func TestBedXenMigrate(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n1, n2 := bed.Nodes()[0], bed.Nodes()[1]
	name := fmt.Sprintf("hvxmig%d", os.Getpid())
	hvp, _ := Params(XenPVM, nil, nil)
	inst := &statefile.Instance{Meta: statefile.Meta{UUID: newUUID(t)}, Name: name, Hypervisor: XenPVM,
		BEParams: statefile.Params{"maxmem": 256.0, "vcpus": 1.0},
		NICs:     []*statefile.NIC{{UUID: newUUID(t), MAC: "aa:00:00:12:35:57"}}}
	t.Cleanup(func() {
		for _, n := range []string{n1.Name, n2.Name} {
			force, _ := Stop(XenPVM, name, n, 0, true)
			runStep(context.Background(), bed, force)
			bed.Run(context.Background(), n, "sh", "-c", `xl destroy "$1--migratedaway" 2>/dev/null; xl destroy "$1--incoming" 2>/dev/null; true`, "sh", name)
		}
	})
	start, err := Start(StartArgs{Instance: inst, Node: n1.Name, HVParams: hvp, NICLinks: []string{"br0"}})
	if err != nil {
		t.Fatal(err)
	}
	mustMig(ctx, t, bed, start...)
	a := MigrateArgs{Instance: inst, Source: n1.Name, Target: n2.Name, TargetIP: n2.SecondaryAddr, Port: migPort(2),
		HVParams: hvp, Live: true, NICLinks: []string{"br0"}}
	acc, _ := AcceptSteps(a)
	ms, _ := MigrateStep(a)
	ft, _ := FinalizeTargetSteps(a)
	fs, _ := FinalizeSourceSteps(a)
	t0 := time.Now()
	mustMig(ctx, t, bed, acc...)
	out, errOut, err := runMig(ctx, bed, ms)
	sum, perr := ParseMigrateSummary([]byte(out))
	if err != nil || perr != nil || sum.Status != "completed" {
		t.Fatalf("xen migrate: %v %v %+v\n%s", err, perr, sum, errOut)
	}
	mustMig(ctx, t, bed, append(ft, fs...)...)
	t.Logf("xen migration %s -> %s: %s, total with accept (1 s wait) and finalize %v", n1.Name, n2.Name, sum, time.Since(t0).Round(time.Millisecond))
	if r, ok := list(ctx, t, bed, n2.Name)[name]; !ok || r.State != "running" {
		t.Errorf("target: %+v %v", r, ok)
	}
	if _, ok := list(ctx, t, bed, n1.Name)[name]; ok {
		t.Error("still on the source")
	}
	cfg, _, err := bed.Run(ctx, n2.Name, "cat", XenConfig(name))
	if want, _ := XenConfigFile(StartArgs{Instance: inst, HVParams: hvp, NICLinks: a.NICLinks}); err != nil || cfg != string(want) {
		t.Errorf("target config: %v\n%s", err, cfg)
	}
	if _, _, err := bed.Run(ctx, n1.Name, "test", "!", "-e", XenConfig(name)); err != nil {
		t.Error("source config left behind")
	}
	if out, _, _ := bed.Run(ctx, n2.Name, "sh", "-c", `ls /run/ganeti/xen-hypervisor/ 2>/dev/null | grep migrate-receive; true`); strings.TrimSpace(out) != "" {
		t.Errorf("receiver pidfile left: %s", out)
	}

	// Failure: nobody listens on the target; the source keeps the domain.
	back := a
	back.Source, back.Target, back.TargetIP = n2.Name, n1.Name, n1.SecondaryAddr
	ms, _ = MigrateStep(back)
	out, _, err = runMig(ctx, bed, ms)
	if sum, _ := ParseMigrateSummary([]byte(out)); err == nil || sum.Status != "failed" {
		t.Errorf("migration without receiver: %v %+v", err, sum)
	}
	if r, ok := list(ctx, t, bed, n2.Name)[name]; !ok || r.State != "running" {
		t.Errorf("source after the failed migration: %+v %v", r, ok)
	}
	at, _ := AbortTargetSteps(back)
	as, _ := AbortSourceSteps(back)
	mustMig(ctx, t, bed, append(at, as...)...)
	// A receiver that is told to give up leaves nothing.
	acc, _ = AcceptSteps(back)
	mustMig(ctx, t, bed, acc...)
	mustMig(ctx, t, bed, at...)
	if out, _, _ := bed.Run(ctx, n1.Name, "sh", "-c", `ls /run/ganeti/xen-hypervisor/ 2>/dev/null | grep migrate-receive; xl list | grep "$1"; true`, "sh", name); strings.TrimSpace(out) != "" {
		t.Errorf("left on the target: %s", out)
	}
}

func migStatus(ctx context.Context, t *testing.T, bed *testbed.Bed, node, inst string) string {
	t.Helper()
	st, err := MigrationStatusStep(KVM, node, inst)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runMig(ctx, bed, st)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseMigrationStatus([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBedKVMMigrateCleanup: migrate --cleanup after a migration that was
// interrupted before finalizing (completed: the source leftover goes) and
// one interrupted after the accept (the target leftover goes).
func TestBedKVMMigrateCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mb := newMigBed(t, fmt.Sprintf("hvclean%d", os.Getpid()), 64)
	mb.start(ctx, t, mb.n1)
	a := mb.args(mb.n1, mb.n2, false)
	a.Port = migPort(3)
	acc, _ := AcceptSteps(a)
	ms, _ := MigrateStep(a)
	mustMig(ctx, t, mb.bed, acc...)
	mustMig(ctx, t, mb.bed, ms) // non-live, completed, not finalized
	src, dst := migStatus(ctx, t, mb.bed, mb.n1.Name, mb.inst.Name), migStatus(ctx, t, mb.bed, mb.n2.Name, mb.inst.Name)
	d, steps, err := CleanupSteps(a, src, dst)
	if err != nil || d.Runs != Target || !d.Resume {
		t.Fatalf("%s/%s: %+v %v", src, dst, d, err)
	}
	t.Logf("source %s, target %s: %s", src, dst, d.Reason)
	mustMig(ctx, t, mb.bed, steps...)
	if s := migStatus(ctx, t, mb.bed, mb.n1.Name, mb.inst.Name); s != StatusAbsent {
		t.Errorf("source after cleanup: %s", s)
	}
	if s := migStatus(ctx, t, mb.bed, mb.n2.Name, mb.inst.Name); s != "running" {
		t.Errorf("target after cleanup: %s", s)
	}
	if l := leftovers(ctx, mb.bed, mb.n1.Name, mb.inst.Name, mb.tap); l != "" {
		t.Errorf("left on the source: %s", l)
	}

	// Back: interrupted right after the accept.
	b := mb.args(mb.n2, mb.n1, true)
	b.Port = migPort(3)
	acc, _ = AcceptSteps(b)
	mustMig(ctx, t, mb.bed, acc...)
	src, dst = migStatus(ctx, t, mb.bed, mb.n2.Name, mb.inst.Name), migStatus(ctx, t, mb.bed, mb.n1.Name, mb.inst.Name)
	d, steps, err = CleanupSteps(b, src, dst)
	if err != nil || d.Runs != Source || d.Kill != Target {
		t.Fatalf("%s/%s: %+v %v", src, dst, d, err)
	}
	t.Logf("source %s, target %s: %s", src, dst, d.Reason)
	mustMig(ctx, t, mb.bed, steps...)
	if l := leftovers(ctx, mb.bed, mb.n1.Name, mb.inst.Name, mb.tap); l != "" {
		t.Errorf("left on the target: %s", l)
	}
	if s := migStatus(ctx, t, mb.bed, mb.n2.Name, mb.inst.Name); s != "running" {
		t.Errorf("source after cleanup: %s", s)
	}
	// A stale decision cannot kill the guest: "kill the source leftover"
	// is refused now that the source runs.
	_, stale, _ := CleanupSteps(b, "postmigrate", "running")
	if _, _, err := runMig(ctx, mb.bed, stale[0]); err == nil || !strings.Contains(err.Error(), "not killing") {
		t.Errorf("stale cleanup: %v", err)
	}
}
