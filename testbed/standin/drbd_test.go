package standin

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func init() {
	kernelTick = 30 * time.Millisecond
	flushInterval = 200 * time.Millisecond
}

type drbdPair struct {
	a, b                       *testNode
	dataA, metaA, dataB, metaB string
	shared                     string
}

const testDiskSize = 16 << 20

// newDRBDPair creates two nodes with file-backed data and meta "LVs"; A's
// data is random, B's zero.
func newDRBDPair(t *testing.T) *drbdPair {
	shared := t.TempDir()
	p := &drbdPair{a: newTestNode(t, "node1", shared), b: newTestNode(t, "node2", shared), shared: shared}
	lvs := t.TempDir()
	p.dataA, p.metaA = filepath.Join(lvs, "a.data"), filepath.Join(lvs, "a.meta")
	p.dataB, p.metaB = filepath.Join(lvs, "b.data"), filepath.Join(lvs, "b.meta")
	rnd := make([]byte, testDiskSize)
	rand.New(rand.NewSource(1)).Read(rnd)
	writeFile(t, p.dataA, rnd)
	writeFile(t, p.dataB, make([]byte, testDiskSize))
	writeFile(t, p.metaA, make([]byte, 1<<20))
	writeFile(t, p.metaB, make([]byte, 1<<20))
	return p
}

// assemble runs Ganeti's 8.4 command sequence for one node (create-md,
// local attach, sync params, net setup).
func assemble(n *testNode, data, meta, lip, rip string, extra ...string) {
	n.must("drbdmeta", "--force", "/dev/drbd0", "v08", meta, "flex-external", "create-md")
	attachOnly(n, data, meta)
	connect(n, lip, rip, extra...)
}

func attachOnly(n *testNode, data, meta string) {
	n.must("drbdsetup", "new-resource", "resource0")
	n.must("drbdsetup", "new-minor", "resource0", "0", "0")
	n.must("drbdmeta", "/dev/drbd0", "v08", meta, "flex-external", "apply-al")
	n.must("drbdsetup", "attach", "0", data, meta, "flexible", "--on-io-error=detach", "--size", "16m")
	n.must("drbdsetup", "disk-options", "0", "--resync-rate", "61440")
}

func connect(n *testNode, lip, rip string, extra ...string) {
	n.must("drbdsetup", "new-resource", "resource0")
	n.must("drbdsetup", "new-minor", "resource0", "0", "0")
	args := append([]string{"connect", "resource0", "ipv4:" + lip + ":11000", "ipv4:" + rip + ":11000",
		"--protocol", "C", "--after-sb-0pri", "discard-zero-changes", "--after-sb-1pri", "consensus"}, extra...)
	args = append(args, "--cram-hmac-alg", "md5", "--shared-secret", "0123456789abcdef")
	n.must("drbdsetup", args...)
}

// mirroredPair is a pair assembled and connected, A Primary, B an UpToDate
// Secondary.
func mirroredPair(t *testing.T) *drbdPair {
	p := newDRBDPair(t)
	assemble(p.a, p.dataA, p.metaA, "127.0.0.1", "127.0.0.2")
	assemble(p.b, p.dataB, p.metaB, "127.0.0.2", "127.0.0.1")
	p.a.must("drbdsetup", "primary", "0", "--force")
	p.b.waitStatus("cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", 5*time.Second)
	return p
}

var statusLine = regexp.MustCompile(`(?m)^ 0: cs:(\S+) ro:(\S+) ds:(\S+) `)

func TestDRBDTwoNodesResyncReplicateDown(t *testing.T) {
	p := newDRBDPair(t)
	a, b := p.a, p.b

	// Fresh minor: listed as Unconfigured until attached.
	a.must("drbdsetup", "new-resource", "resource0")
	a.must("drbdsetup", "new-minor", "resource0", "0", "0")
	if s := a.status(); !strings.Contains(s, " 0: cs:Unconfigured\n") {
		t.Fatalf("fresh minor: %s", s)
	}
	assemble(a, p.dataA, p.metaA, "127.0.0.1", "127.0.0.2")
	a.waitStatus(" 0: cs:WFConnection ro:Secondary/Unknown ds:Inconsistent/DUnknown C r-----\n", 2*time.Second)

	assemble(b, p.dataB, p.metaB, "127.0.0.2", "127.0.0.1")
	a.waitStatus("cs:Connected ro:Secondary/Secondary ds:Inconsistent/Inconsistent C r-----", 2*time.Second)

	// The device node aliases the local data.
	if tgt, err := os.Readlink(filepath.Join(a.root.DevDir, "drbd0")); err != nil || tgt != p.dataA {
		t.Fatalf("/dev/drbd0 alias: %q %v", tgt, err)
	}

	// Slow the resync so that the progress lines are observable.
	writeFile(t, filepath.Join(p.shared, "drbd", "resync-rate-kib"), []byte("16384\n"))
	a.must("drbdsetup", "primary", "0", "--force")
	s := a.waitStatus("cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----", 2*time.Second)
	if !regexp.MustCompile(`\n\t\[[=>.]{20}\] sync'ed:[ 0-9]{3}\.\d% \(\d+/16384\)K\n\tfinish: \d+:\d\d:\d\d speed: [\d,]+ \([\d,]+\) K/sec\n`).MatchString(s) {
		t.Errorf("source progress lines:\n%s", s)
	}
	s = b.waitStatus("cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----", 2*time.Second)
	if !strings.Contains(s, " want: 61,440 K/sec\n") {
		t.Errorf("target progress lines:\n%s", s)
	}
	os.Remove(filepath.Join(p.shared, "drbd", "resync-rate-kib"))
	a.waitStatus("cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----", 5*time.Second)
	b.waitStatus("cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----", 2*time.Second)
	if !bytes.Equal(readFile(t, p.dataA), readFile(t, p.dataB)) {
		t.Fatal("resync did not copy A's data to B")
	}

	// show reports what Ganeti compares.
	show := a.must("drbdsetup", "show", "0")
	for _, want := range []string{"address\t\t\tipv4 127.0.0.2:11000;", "address\t\t\tipv4 127.0.0.1:11000;",
		"disk\t\t\t\"" + p.dataA + "\";", "meta-disk\t\t\t\"" + p.metaA + "\";", "size            \t32768s; # bytes"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}

	// A write through A's device reaches B by wait-sync at the latest.
	f, err := os.OpenFile(filepath.Join(a.root.DevDir, "drbd0"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("written on the primary"), 5<<20+17); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b.must("drbdsetup", "wait-sync", "0")
	if !bytes.Equal(readFile(t, p.dataA), readFile(t, p.dataB)) {
		t.Fatal("wait-sync on the secondary did not bring it up to date")
	}

	// Two primaries need allow-two-primaries.
	if _, e, code := b.run("drbdsetup", "primary", "0"); code != 11 || e != "0: State change failed: (-1) Multiple primaries not allowed by config\n" {
		t.Errorf("second primary: exit %d %q", code, e)
	}

	// disconnect flushes again and leaves both sides StandAlone/WFConnection.
	writeAt(t, p.dataA, 9<<20, "second write")
	a.must("drbdsetup", "disconnect", "ipv4:127.0.0.1:11000", "ipv4:127.0.0.2:11000")
	if !bytes.Equal(readFile(t, p.dataA), readFile(t, p.dataB)) {
		t.Fatal("disconnect did not replicate")
	}
	a.waitStatus(" 0: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----", time.Second)
	b.waitStatus(" 0: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----", 2*time.Second)

	// Reconnect dual-primary (live migration) and promote B.
	b.must("drbdsetup", "disconnect", "ipv4:127.0.0.2:11000", "ipv4:127.0.0.1:11000")
	connect(a, "127.0.0.1", "127.0.0.2", "--allow-two-primaries")
	connect(b, "127.0.0.2", "127.0.0.1", "--allow-two-primaries")
	b.waitStatus("cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", 2*time.Second)
	b.must("drbdsetup", "primary", "0")
	a.waitStatus("cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate", 2*time.Second)
	a.must("drbdsetup", "secondary", "0")

	a.must("drbdsetup", "down", "resource0")
	b.must("drbdsetup", "down", "resource0")
	for _, n := range []*testNode{a, b} {
		if s := n.status(); strings.Contains(s, " 0:") {
			t.Errorf("%s still lists minor 0 after down:\n%s", n.root.Hostname, s)
		}
		if _, err := os.Lstat(filepath.Join(n.root.DevDir, "drbd0")); err == nil {
			t.Errorf("%s: /dev/drbd0 survives down", n.root.Hostname)
		}
	}
}

func writeAt(t *testing.T, path string, off int64, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(s), off); err != nil {
		t.Fatal(err)
	}
}

// A peer that powers off is noticed through its silent heartbeat; the
// survivor can be promoted, and its newer generation resyncs the old
// primary when that comes back.
func TestDRBDPeerPowerOffAndFailback(t *testing.T) {
	p := mirroredPair(t)
	a, b := p.a, p.b

	a.powerOff()
	s := b.waitStatus(" 0: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----", 3*time.Second)
	if m := statusLine.FindStringSubmatch(s); m == nil {
		t.Fatalf("status unparsable:\n%s", s)
	}
	b.must("drbdsetup", "primary", "0") // failover
	writeAt(t, p.dataB, 1<<20, "written after failover")

	// Node A boots again: fresh run dir, same disks.
	a2 := newTestNode(t, "node1", p.shared)
	attachOnly(a2, p.dataA, p.metaA)
	connect(a2, "127.0.0.1", "127.0.0.2")
	a2.waitStatus("cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", 5*time.Second)
	b.waitStatus("cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate", 5*time.Second)
	b.must("drbdsetup", "wait-sync", "0")
	if !bytes.Equal(readFile(t, p.dataA), readFile(t, p.dataB)) {
		t.Fatal("old primary was not resynced from the survivor")
	}
}

// A Secondary that loses power and is back before the Primary's daemon
// noticed (its old registration still beating) is resynced, including what
// the Primary wrote meanwhile: the Primary's new generation on losing the
// old connection decides it, not the replication flush, which this test
// turns off. The first Connected UpToDate/UpToDate already has the data.
func TestDRBDQuickSecondaryRebootResyncs(t *testing.T) {
	// Restored after the nodes' daemons stopped (cleanups run last first).
	saved := flushInterval
	t.Cleanup(func() { flushInterval = saved })
	flushInterval = time.Hour
	p := mirroredPair(t)
	b := p.b
	b.must("drbdsetup", "wait-sync", "0")

	b.powerOff()
	writeAt(t, p.dataA, 3<<20, "written while the secondary is down")
	b2 := newTestNode(t, "node2", p.shared)
	attachOnly(b2, p.dataB, p.metaB)
	connect(b2, "127.0.0.2", "127.0.0.1")
	b2.waitStatus("cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", 5*time.Second)
	if !bytes.Equal(readFile(t, p.dataA), readFile(t, p.dataB)) {
		t.Fatal("connected and UpToDate, but the secondary lacks what was written while it was down")
	}
}

func TestDRBDErrors(t *testing.T) {
	shared := t.TempDir()
	n := newTestNode(t, "node1", shared)
	meta := filepath.Join(t.TempDir(), "meta")
	writeFile(t, meta, make([]byte, 1<<20))

	if _, e, code := n.run("drbdsetup", "new-minor", "resource9", "9", "0"); code != 10 || e != "resource9: Failure: (158) Unknown resource\n" {
		t.Errorf("new-minor on unknown resource: %d %q", code, e)
	}
	n.must("drbdsetup", "new-resource", "resource0")
	n.must("drbdsetup", "new-resource", "resource0") // idempotent
	n.must("drbdsetup", "new-minor", "resource0", "0", "0")
	n.must("drbdsetup", "new-minor", "resource0", "0", "0")
	if _, e, code := n.run("drbdsetup", "attach", "0", "/nonexistent/data", meta, "flexible"); code != 20 ||
		e != "Can not open device '/nonexistent/data': No such file or directory\n" {
		t.Errorf("attach missing device: %d %q", code, e)
	}
	data := filepath.Join(t.TempDir(), "data")
	writeFile(t, data, make([]byte, 1<<20))
	if _, e, code := n.run("drbdsetup", "attach", "0", data, meta, "flexible"); code != 10 || !strings.HasPrefix(e, "0: Failure: (119) No valid meta-data signature found.") {
		t.Errorf("attach without meta data: %d %q", code, e)
	}
	if _, e, code := n.run("drbdsetup", "primary", "7"); code != 10 || e != "7: Failure: (127) Device minor not allocated\n" {
		t.Errorf("primary on missing minor: %d %q", code, e)
	}
	if _, e, code := n.run("drbdsetup", "primary", "0"); code != 17 || e != "0: State change failed: (-2) Need access to UpToDate data\n" {
		t.Errorf("primary without data: %d %q", code, e)
	}
	if o, _, code := n.run("drbdsetup", "frobnicate"); code != 20 || !strings.Contains(o, "invalid command") {
		t.Errorf("unknown command: %d %q", code, o)
	}
	if _, _, code := n.run("drbdsetup", "attach", "0", data, meta, "flexible", "--no-such-option"); code != 20 {
		t.Errorf("unknown option: %d", code)
	}
	n.must("drbdsetup", "down", "resource0")
	n.must("drbdsetup", "down", "resource0") // down of a missing resource succeeds
	if s := n.status(); !strings.HasPrefix(s, "version: 8.4.11 (api:1/proto:86-101)\n") {
		t.Errorf("status header: %q", s)
	}
}

// A wrong shared secret never connects.
func TestDRBDSecretMismatch(t *testing.T) {
	p := newDRBDPair(t)
	assemble(p.a, p.dataA, p.metaA, "127.0.0.1", "127.0.0.2")
	p.b.must("drbdmeta", "--force", "/dev/drbd0", "v08", p.metaB, "flex-external", "create-md")
	attachOnly(p.b, p.dataB, p.metaB)
	p.b.must("drbdsetup", "connect", "resource0", "ipv4:127.0.0.2:11000", "ipv4:127.0.0.1:11000", "--protocol", "C",
		"--cram-hmac-alg", "md5", "--shared-secret", "other")
	time.Sleep(300 * time.Millisecond)
	if s := p.a.status(); !strings.Contains(s, "cs:WFConnection") {
		t.Errorf("mismatched secret connected:\n%s", s)
	}
}
