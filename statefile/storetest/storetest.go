// Package storetest is a conformance suite for implementations of
// statefile.Backend, run against every backend (DirStore, MemStore, the
// cluster and etcd backends). Another implementation passes it to be
// usable by ganetictl.
package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

// Opener opens handles on one backend's storage: each call is another
// client of the same state (another process, another workstation).
type Opener func() statefile.Backend

// TestStore runs the suite. newBackend must return an Opener on new,
// empty storage each time it is called; the handles it opens are closed
// by the suite.
func TestStore(t *testing.T, newBackend func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s statefile.Backend)
	}{
		{"EmptyHasNoState", testEmpty},
		{"WriteReadRoundtrip", testRoundtrip},
		{"SerialBumpsOnlyOnChange", testSerialBump},
		{"StaleSerialConflicts", testConflict},
		{"LineageMismatchConflicts", testLineage},
		{"WriteNeedsLock", testWriteNeedsLock},
		{"History", testHistory},
		{"LockExclusive", testLockExclusive},
		{"LockWaitsWithDeadline", testLockWait},
		{"LockConcurrentGoroutines", testLockConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, opened(t, newBackend(t))) })
	}
	multi := []struct {
		name string
		fn   func(t *testing.T, open func() statefile.Backend)
	}{
		{"TwoClientsLockEachOther", testTwoClientsLock},
		{"ConcurrentCommitsLoseNothing", testConcurrentCommits},
		{"ForceUnlockFromAnotherClient", testForceUnlock},
		{"ObjectLocksSharedExclusive", testObjectLocks},
		{"ObjectLocksWaitWithDeadline", testObjectLockWait},
		{"CrashedJobClaimsSurviveAndAreTakenOver", testCrashedClaims},
		{"Journal", testJournal},
		{"JournalConcurrentCreate", testJournalConcurrent},
		{"DrainFlag", testDrain},
		{"AppliedPlans", testApplied},
		{"ExportImport", func(t *testing.T, open func() statefile.Backend) { testExportImport(t, open, newBackend) }},
	}
	for _, tt := range multi {
		t.Run(tt.name, func(t *testing.T) {
			o := newBackend(t)
			tt.fn(t, func() statefile.Backend { return opened(t, o) })
		})
	}
}

func opened(t *testing.T, o Opener) statefile.Backend {
	b := o()
	t.Cleanup(func() { b.Close() })
	return b
}

// Sample returns a small state with one node group, two nodes and a DRBD
// instance, for tests.
func Sample(lineage string) *statefile.State {
	st := statefile.New(lineage)
	st.Cluster.Name = "cluster.example.test"
	st.Cluster.MasterNode = "node1"
	st.Cluster.MACPrefix = "aa:00:00"
	st.Cluster.EnabledHypervisors = []string{"kvm"}
	st.Cluster.EnabledDiskTemplates = []string{"drbd", "plain"}
	st.Cluster.Tags = []string{"b", "a"}
	st.NodeGroups["default"] = &statefile.NodeGroup{Name: "default", AllocPolicy: "preferred"}
	for _, n := range []string{"node1", "node2"} {
		st.Nodes[n] = &statefile.Node{Name: n, PrimaryIP: "198.18.0.1", Group: "default", MasterCapable: true, VMCapable: true}
	}
	st.Instances["web1"] = &statefile.Instance{
		Name: "web1", PrimaryNode: "node1", Hypervisor: "kvm", AdminState: "up", DiskTemplate: "drbd",
		Disks: []*statefile.Disk{{
			DevType: "drbd", Size: 1024, Mode: "rw", IVName: "disk/0", Nodes: []string{"node1", "node2"},
			LogicalID: []any{"node1", "node2", 11000.0, 0.0, 0.0, "secret"},
			Children: []*statefile.Disk{
				{DevType: "plain", Size: 1024, LogicalID: []any{"xenvg", "x.disk0_data"}},
				{DevType: "plain", Size: 128, LogicalID: []any{"xenvg", "x.disk0_meta"}},
			},
		}},
	}
	return st
}

func lock(t *testing.T, s statefile.Backend, op string) *statefile.Lock {
	t.Helper()
	l, err := s.Lock(t.Context(), statefile.NewLockInfo(op, "test"))
	if err != nil {
		t.Fatalf("Lock(%q): %v", op, err)
	}
	t.Cleanup(func() { l.Unlock() })
	return l
}

func write(t *testing.T, s statefile.Backend, l *statefile.Lock, st *statefile.State) int64 {
	t.Helper()
	n, err := s.Write(t.Context(), l, st)
	if err != nil {
		t.Fatalf("Write(serial %d): %v", st.Serial, err)
	}
	return n
}

func testEmpty(t *testing.T, s statefile.Backend) {
	if _, err := s.Read(t.Context()); !errors.Is(err, statefile.ErrNoState) {
		t.Errorf("Read on empty store: err = %v, want ErrNoState", err)
	}
	h, err := s.History(t.Context())
	if err != nil || len(h) != 0 {
		t.Errorf("History on empty store = %v, %v; want empty, nil", h, err)
	}
	if _, err := s.ReadSerial(t.Context(), 1); !errors.Is(err, statefile.ErrUnknownSerial) {
		t.Errorf("ReadSerial(1) on empty store: err = %v, want ErrUnknownSerial", err)
	}
}

func testRoundtrip(t *testing.T, s statefile.Backend) {
	l := lock(t, s, "roundtrip")
	st := Sample(statefile.NewLineage())
	if n := write(t, s, l, st); n != 1 || st.Serial != 1 {
		t.Fatalf("first Write = %d (st.Serial %d), want 1", n, st.Serial)
	}
	got, err := s.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !statefile.Equal(got, st) || got.Serial != 1 || got.FormatVersion != statefile.FormatVersion {
		t.Errorf("Read after Write: serial %d format %d, equal %v", got.Serial, got.FormatVersion, statefile.Equal(got, st))
	}
	if got.GanetictlVersion != "test" {
		t.Errorf("GanetictlVersion = %q, want the lock holder's version %q", got.GanetictlVersion, "test")
	}
	if id, _ := got.Instances["web1"].Disks[0].DRBD(); id.Secret != "secret" {
		t.Errorf("DRBD secret after roundtrip = %q, want it stored unmasked", id.Secret)
	}
}

func testSerialBump(t *testing.T, s statefile.Backend) {
	l := lock(t, s, "bump")
	st := Sample(statefile.NewLineage())
	write(t, s, l, st)
	if n := write(t, s, l, st.Clone()); n != 1 {
		t.Errorf("Write of unchanged content = serial %d, want 1 (no bump)", n)
	}
	st.Nodes["node2"].Drained = true
	if n := write(t, s, l, st); n != 2 || st.Serial != 2 {
		t.Errorf("Write of changed content = %d (st.Serial %d), want 2", n, st.Serial)
	}
	h, err := s.History(t.Context())
	if err != nil || len(h) != 2 {
		t.Fatalf("History = %v, %v; want 2 entries", h, err)
	}
}

func testConflict(t *testing.T, s statefile.Backend) {
	l := lock(t, s, "conflict")
	st := Sample(statefile.NewLineage())
	write(t, s, l, st)
	stale := st.Clone()
	st.Cluster.Tags = append(st.Cluster.Tags, "c")
	write(t, s, l, st)
	stale.Cluster.Tags = nil
	stale.Serial = 1
	_, err := s.Write(t.Context(), l, stale)
	var ce *statefile.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Write of stale serial: err = %v, want *ConflictError", err)
	}
	if ce.HaveSerial != 2 || ce.GotSerial != 1 {
		t.Errorf("ConflictError = have %d got %d, want have 2 got 1", ce.HaveSerial, ce.GotSerial)
	}
	got, _ := s.Read(t.Context())
	if got.Serial != 2 || !statefile.Equal(got, st) {
		t.Errorf("state changed by a refused write: serial %d", got.Serial)
	}
	fresh := Sample(st.Lineage)
	if _, err := s.Write(t.Context(), l, fresh); !errors.As(err, &ce) {
		t.Errorf("Write of serial 0 over serial 2: err = %v, want *ConflictError", err)
	}
}

func testLineage(t *testing.T, s statefile.Backend) {
	l := lock(t, s, "lineage")
	write(t, s, l, Sample(statefile.NewLineage()))
	other := Sample(statefile.NewLineage())
	other.Serial = 1
	_, err := s.Write(t.Context(), l, other)
	var ce *statefile.ConflictError
	if !errors.As(err, &ce) || ce.HaveLineage == ce.GotLineage {
		t.Errorf("Write of another lineage: err = %v, want *ConflictError naming both lineages", err)
	}
	if _, err := s.Write(t.Context(), l, statefile.New("")); err == nil {
		t.Errorf("Write of a state without lineage succeeded")
	}
}

func testWriteNeedsLock(t *testing.T, s statefile.Backend) {
	st := Sample(statefile.NewLineage())
	if _, err := s.Write(t.Context(), nil, st); !errors.Is(err, statefile.ErrNotLocked) {
		t.Errorf("Write without lock: err = %v, want ErrNotLocked", err)
	}
	l := lock(t, s, "x")
	l.Unlock()
	if _, err := s.Write(t.Context(), l, st); !errors.Is(err, statefile.ErrNotLocked) {
		t.Errorf("Write with released lock: err = %v, want ErrNotLocked", err)
	}
	if _, err := s.Read(t.Context()); !errors.Is(err, statefile.ErrNoState) {
		t.Errorf("a refused write left state behind: %v", err)
	}
}

func testHistory(t *testing.T, s statefile.Backend) {
	st := Sample(statefile.NewLineage())
	ops := []string{"cluster init", "node add node3", "instance remove web1"}
	for i, op := range ops {
		l := lock(t, s, op)
		switch i {
		case 1:
			st.Nodes["node3"] = &statefile.Node{Name: "node3", Group: "default"}
		case 2:
			delete(st.Instances, "web1")
		}
		write(t, s, l, st)
		l.Unlock()
	}
	h, err := s.History(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("History has %d entries, want 3: %+v", len(h), h)
	}
	for i, e := range h {
		if e.Serial != int64(i+1) || e.Operation != ops[i] || e.Current != (i == 2) || e.Who == "" || e.Time.IsZero() {
			t.Errorf("History[%d] = %+v, want serial %d operation %q current %v with who and time", i, e, i+1, ops[i], i == 2)
		}
	}
	for serial := int64(1); serial <= 3; serial++ {
		old, err := s.ReadSerial(t.Context(), serial)
		if err != nil {
			t.Fatalf("ReadSerial(%d): %v", serial, err)
		}
		_, hasNode3 := old.Nodes["node3"]
		_, hasWeb1 := old.Instances["web1"]
		if old.Serial != serial || hasNode3 != (serial >= 2) || hasWeb1 != (serial < 3) {
			t.Errorf("ReadSerial(%d): serial %d node3 %v web1 %v", serial, old.Serial, hasNode3, hasWeb1)
		}
	}
	if _, err := s.ReadSerial(t.Context(), 4); !errors.Is(err, statefile.ErrUnknownSerial) {
		t.Errorf("ReadSerial(4): err = %v, want ErrUnknownSerial", err)
	}
}

func testLockExclusive(t *testing.T, s statefile.Backend) {
	info := statefile.NewLockInfo("instance migrate web1", "v1.2.3")
	l := lock(t, s, info.Operation)
	_, err := s.Lock(t.Context(), statefile.NewLockInfo("node add", "v1"))
	var le *statefile.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: err = %v, want *LockedError", err)
	}
	if le.Info.ID != l.Info.ID || le.Info.Operation != "instance migrate web1" || le.Info.PID != l.Info.PID || le.Info.Created.IsZero() {
		t.Errorf("LockedError.Info = %+v, want the holder %+v", le.Info, l.Info)
	}
	if msg := err.Error(); !contains(msg, l.Info.ID) || !contains(msg, "instance migrate web1") || !contains(msg, "unlock --force") {
		t.Errorf("LockedError message %q lacks the lock ID, the operation or how to break it", msg)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v, want nil", err)
	}
	l2 := lock(t, s, "after")
	if l2.Previous != nil {
		t.Errorf("Lock after a clean Unlock reports a dead previous holder: %+v", l2.Previous)
	}
}

func testLockWait(t *testing.T, s statefile.Backend) {
	l := lock(t, s, "holder")
	time.AfterFunc(150*time.Millisecond, func() { l.Unlock() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l2, err := s.Lock(ctx, statefile.NewLockInfo("waiter", "test"))
	if err != nil {
		t.Fatalf("Lock with deadline did not wait for the holder: %v", err)
	}
	l2.Unlock()

	l3 := lock(t, s, "holder2")
	defer l3.Unlock()
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx, statefile.NewLockInfo("waiter", "test"))
	var le *statefile.LockedError
	if !errors.As(err, &le) {
		t.Errorf("Lock after deadline: err = %v, want *LockedError", err)
	}
}

func testLockConcurrent(t *testing.T, s statefile.Backend) {
	const n = 8
	var (
		mu      sync.Mutex
		holders int
		maxSeen int
		wg      sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			l, err := s.Lock(ctx, statefile.NewLockInfo("concurrent", "test"))
			if err != nil {
				t.Errorf("Lock: %v", err)
				return
			}
			mu.Lock()
			holders++
			maxSeen = max(maxSeen, holders)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			holders--
			mu.Unlock()
			if err := l.Unlock(); err != nil {
				t.Errorf("Unlock: %v", err)
			}
		})
	}
	wg.Wait()
	if maxSeen != 1 {
		t.Errorf("%d goroutines held the lock at once", maxSeen)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
