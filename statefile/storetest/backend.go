package storetest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func shared(l statefile.Level, n string) statefile.LockReq {
	return statefile.LockReq{Level: l, Name: n}
}
func excl(l statefile.Level, n string) statefile.LockReq {
	return statefile.LockReq{Level: l, Name: n, Exclusive: true}
}

func lockObjects(t *testing.T, s statefile.Backend, op string, reqs ...statefile.LockReq) *statefile.ObjectLocks {
	t.Helper()
	ol, err := s.LockObjects(t.Context(), statefile.NewLockInfo(op, "test"), reqs, statefile.LockOptions{})
	if err != nil {
		t.Fatalf("LockObjects(%q): %v", op, err)
	}
	t.Cleanup(ol.Unlock)
	return ol
}

// testTwoClientsLock: the writer lock excludes another client, which is
// told who holds it.
func testTwoClientsLock(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	l := lock(t, a, "instance migrate web1")
	_, err := b.Lock(t.Context(), statefile.NewLockInfo("node add", "test"))
	var le *statefile.LockedError
	if !errors.As(err, &le) || le.Info.ID != l.Info.ID || le.Info.Operation != "instance migrate web1" {
		t.Fatalf("Lock by another client: err = %v, want *LockedError naming the holder", err)
	}
	time.AfterFunc(100*time.Millisecond, func() { l.Unlock() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	l2, err := b.Lock(ctx, statefile.NewLockInfo("node add", "test"))
	if err != nil {
		t.Fatalf("Lock with deadline after release by another client: %v", err)
	}
	l2.Unlock()
}

// testConcurrentCommits: clients that each lock, read, change and write
// in a loop lose no update, and every serial is in history.
func testConcurrentCommits(t *testing.T, open func() statefile.Backend) {
	first := open()
	st := Sample(statefile.NewLineage())
	l := lock(t, first, "init")
	write(t, first, l, st)
	l.Unlock()
	const clients, each = 3, 4
	var wg sync.WaitGroup
	for c := range clients {
		s := open()
		wg.Go(func() {
			for i := range each {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				l, err := s.Lock(ctx, statefile.NewLockInfo(fmt.Sprintf("tag %d/%d", c, i), "test"))
				if err != nil {
					cancel()
					t.Errorf("client %d: Lock: %v", c, err)
					return
				}
				cur, err := s.Read(ctx)
				if err == nil {
					cur.Cluster.Tags = append(cur.Cluster.Tags, fmt.Sprintf("c%d-%d", c, i))
					_, err = s.Write(ctx, l, cur)
				}
				l.Unlock()
				cancel()
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := first.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for c := range clients {
		for i := range each {
			if !slices.Contains(got.Cluster.Tags, fmt.Sprintf("c%d-%d", c, i)) {
				t.Errorf("update c%d-%d lost: tags %v", c, i, got.Cluster.Tags)
			}
		}
	}
	if want := int64(1 + clients*each); got.Serial != want {
		t.Errorf("serial = %d, want %d", got.Serial, want)
	}
	h, err := first.History(t.Context())
	if err != nil || len(h) != int(got.Serial) {
		t.Fatalf("History = %d entries (%v), want %d", len(h), err, got.Serial)
	}
	for i, e := range h {
		if e.Serial != int64(i+1) {
			t.Errorf("History[%d].Serial = %d", i, e.Serial)
		}
	}
}

// testForceUnlock: another client breaks the lock by its ID; the broken
// holder can no longer write.
func testForceUnlock(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	l := lock(t, a, "hung")
	if err := b.ForceUnlock(t.Context(), "not-the-id"); err == nil {
		t.Errorf("ForceUnlock with a wrong ID succeeded")
	}
	if err := b.ForceUnlock(t.Context(), l.Info.ID); err != nil {
		t.Fatalf("ForceUnlock: %v", err)
	}
	l2 := lock(t, b, "after")
	if _, err := a.Write(t.Context(), l, Sample(statefile.NewLineage())); err == nil {
		t.Errorf("Write by a force-unlocked holder succeeded")
	}
	if _, err := b.Write(t.Context(), l2, Sample(statefile.NewLineage())); err != nil {
		t.Errorf("Write by the new holder: %v", err)
	}
}

// testObjectLocks: shared and exclusive object locks between clients, and
// the holder named in the refusal.
func testObjectLocks(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	lockObjects(t, a, "instance startup web1", shared(statefile.LevelCluster, ""), excl(statefile.LevelInstance, "web1"), shared(statefile.LevelNode, "node1"))
	lockObjects(t, b, "instance startup db1", shared(statefile.LevelCluster, ""), excl(statefile.LevelInstance, "db1"), shared(statefile.LevelNode, "node1"))
	_, err := b.LockObjects(t.Context(), statefile.NewLockInfo("instance reboot web1", "test"),
		[]statefile.LockReq{shared(statefile.LevelCluster, ""), excl(statefile.LevelInstance, "web1")}, statefile.LockOptions{})
	var oe *statefile.ObjectLockedError
	if !errors.As(err, &oe) || oe.Req != excl(statefile.LevelInstance, "web1") || len(oe.Holders) != 1 || oe.Holders[0].Operation != "instance startup web1" {
		t.Fatalf("conflicting lock: err = %v, want *ObjectLockedError naming the holder", err)
	}
	if !strings.Contains(err.Error(), `instance web1 is locked by`) || !strings.Contains(err.Error(), `"instance startup web1"`) {
		t.Errorf("message %q does not name object and holder", err)
	}
	_, err = b.LockObjects(t.Context(), statefile.NewLockInfo("cluster modify", "test"),
		[]statefile.LockReq{excl(statefile.LevelCluster, "")}, statefile.LockOptions{})
	if !errors.As(err, &oe) || oe.Req.Level != statefile.LevelCluster {
		t.Errorf("exclusive cluster lock over shared holders: err = %v, want *ObjectLockedError", err)
	}
	// A name that is a prefix of another is another object.
	lockObjects(t, b, "instance startup web10", excl(statefile.LevelInstance, "web10"))
}

func testObjectLockWait(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	ol, err := a.LockObjects(t.Context(), statefile.NewLockInfo("holder", "test"), []statefile.LockReq{excl(statefile.LevelInstance, "web1")}, statefile.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, ol.Unlock)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var told []statefile.LockInfo
	var mu sync.Mutex
	got, err := b.LockObjects(ctx, statefile.NewLockInfo("waiter", "test"), []statefile.LockReq{excl(statefile.LevelInstance, "web1")}, statefile.LockOptions{
		Waiting: func(_ statefile.LockReq, h []statefile.LockInfo) { mu.Lock(); told = append(told, h...); mu.Unlock() },
	})
	if err != nil {
		t.Fatalf("waiting for a lock another client releases: %v", err)
	}
	mu.Lock()
	if len(told) != 1 || told[0].Operation != "holder" {
		t.Errorf("Waiting told %+v, want the holder once", told)
	}
	mu.Unlock()
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = a.LockObjects(ctx, statefile.NewLockInfo("late", "test"), []statefile.LockReq{excl(statefile.LevelInstance, "web1")}, statefile.LockOptions{})
	var oe *statefile.ObjectLockedError
	if !errors.As(err, &oe) || len(oe.Holders) != 1 || oe.Holders[0].Operation != "waiter" {
		t.Errorf("after the deadline: err = %v, want *ObjectLockedError naming the holder", err)
	}
	got.Unlock()
}

// DeadPID returns the PID of a process that has exited.
func DeadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// testCrashedClaims: a holder dies (its locks go, its record stays): the
// job it ran claims its objects for every client until one takes them over.
func testCrashedClaims(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	ctx := t.Context()
	dead := DeadPID(t)
	j, err := a.Journal()
	if err != nil {
		t.Fatal(err)
	}
	job := &statefile.Job{Operation: "instance add d1", Status: statefile.JobRunning, PID: dead,
		Steps: []statefile.StepRecord{{Stage: "create disks", Node: "node1", Status: statefile.JobRunning}}}
	if err := j.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	reqs := []statefile.LockReq{shared(statefile.LevelCluster, ""), excl(statefile.LevelInstance, "d1")}
	info := statefile.NewLockInfo("instance add d1", "test")
	info.PID = dead
	ol, err := a.LockObjects(ctx, info, reqs, statefile.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ol.SetJob(job.ID); err != nil {
		t.Fatal(err)
	}
	ol.Abandon() // the holder dies

	jb, _ := b.Journal()
	if got, err := jb.Get(ctx, job.ID); err != nil || got.Status != statefile.JobCrashed {
		t.Fatalf("the dead holder's job seen from another client: %+v, %v; want crashed", got, err)
	}
	if got := b.CrashedClaims(); len(got[job.ID]) != 2 {
		t.Fatalf("CrashedClaims = %v, want job %d's two locks", got, job.ID)
	}
	_, err = b.LockObjects(ctx, statefile.NewLockInfo("instance remove d1", "test"), reqs, statefile.LockOptions{})
	var ce *statefile.CrashedJobError
	if !errors.As(err, &ce) || ce.Job != job.ID || !strings.Contains(err.Error(), fmt.Sprintf("job resume %d", job.ID)) {
		t.Fatalf("want CrashedJobError for job %d, got %v", job.ID, err)
	}
	other := lockObjects(t, b, "instance startup web1", shared(statefile.LevelCluster, ""), excl(statefile.LevelInstance, "web1"))
	other.Unlock()
	res, err := b.LockObjects(ctx, statefile.NewLockInfo(fmt.Sprintf("job resume %d", job.ID), "test"), reqs, statefile.LockOptions{Takeover: job.ID})
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	res.Unlock()
	if got := a.CrashedClaims(); len(got) != 0 {
		t.Fatalf("claims after takeover: %v", got)
	}
}

func testJournal(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	ctx := t.Context()
	ja, err := a.Journal()
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := b.Journal()
	var ids []int64
	for i := range 3 {
		job := &statefile.Job{Operation: fmt.Sprintf("op %d", i), Opcodes: []string{"OP_TEST"}, Status: statefile.JobRunning}
		if err := ja.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	if !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Errorf("job IDs = %v, want 1 2 3", ids)
	}
	job, err := jb.Get(ctx, 2)
	if err != nil || job.Operation != "op 1" || job.Status != statefile.JobRunning || job.Who == "" || job.Created.IsZero() {
		t.Fatalf("Get(2) from another client = %+v, %v", job, err)
	}
	job.Steps = append(job.Steps, statefile.StepRecord{Stage: "s", Desc: "d", Status: statefile.JobSuccess})
	job.Status, job.Commit, job.Serial = statefile.JobSuccess, statefile.CommitDone, 7
	if err := jb.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	got, err := ja.Get(ctx, 2)
	if err != nil || got.Status != statefile.JobSuccess || len(got.Steps) != 1 || got.Serial != 7 {
		t.Fatalf("after Update: %+v, %v", got, err)
	}
	if err := ja.Archive(ctx, 1); err == nil {
		t.Errorf("Archive of a running job succeeded")
	}
	if err := ja.Archive(ctx, 2); err != nil {
		t.Fatal(err)
	}
	list, err := jb.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != 1 || list[1].ID != 3 {
		t.Fatalf("List after archive = %v, %v", list, err)
	}
	if got, err := jb.Get(ctx, 2); err != nil || got.ID != 2 {
		t.Errorf("Get of an archived job: %v", err)
	}
	if _, err := jb.Get(ctx, 9); !errors.Is(err, statefile.ErrNoJob) {
		t.Errorf("Get(9): err = %v, want ErrNoJob", err)
	}
	dead := &statefile.Job{Operation: "killed", Status: statefile.JobRunning, PID: DeadPID(t)}
	if err := ja.Create(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if got, _ := jb.Get(ctx, dead.ID); got.Status != statefile.JobCrashed {
		t.Errorf("a running job whose process is gone: status %q, want crashed", got.Status)
	}
	if dead.ID != 4 {
		t.Errorf("ID after an archived job = %d, want 4", dead.ID)
	}
}

func testJournalConcurrent(t *testing.T, open func() statefile.Backend) {
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for c := range 2 {
		j, err := open().Journal()
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			wg.Go(func() {
				job := &statefile.Job{Operation: fmt.Sprintf("client %d", c), Status: statefile.JobQueued}
				if err := j.Create(t.Context(), job); err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if seen[job.ID] {
					t.Errorf("job ID %d given twice", job.ID)
				}
				seen[job.ID] = true
			})
		}
	}
	wg.Wait()
	if len(seen) != 8 {
		t.Errorf("%d distinct IDs, want 8", len(seen))
	}
}

func testDrain(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	if _, drained, err := b.Drained(); err != nil || drained {
		t.Fatalf("new backend drained = %v, %v", drained, err)
	}
	if err := a.SetDrained(statefile.DrainInfo{}); err != nil {
		t.Fatal(err)
	}
	d, drained, err := b.Drained()
	if err != nil || !drained || d.Who == "" || d.Host == "" || d.Time.IsZero() {
		t.Fatalf("Drained from another client = %+v, %v, %v", d, drained, err)
	}
	if err := b.Undrain(); err != nil {
		t.Fatal(err)
	}
	if _, drained, _ := a.Drained(); drained {
		t.Errorf("still drained after Undrain")
	}
	if err := a.Undrain(); err != nil {
		t.Errorf("Undrain of an undrained queue: %v", err)
	}
}

func testApplied(t *testing.T, open func() statefile.Backend) {
	a, b := open(), open()
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if _, done, err := b.AppliedAt("p1"); err != nil || done {
		t.Fatalf("AppliedAt before = %v, %v", done, err)
	}
	if err := a.MarkApplied("p1", at); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkApplied("bad id", at); err == nil {
		t.Errorf("MarkApplied with a space in the id succeeded")
	}
	when, done, err := b.AppliedAt("p1")
	if err != nil || !done || !when.Equal(at) {
		t.Errorf("AppliedAt from another client = %v, %v, %v", when, done, err)
	}
	if _, done, _ := b.AppliedAt("p2"); done {
		t.Errorf("p2 reported applied")
	}
}

// Fill gives s a history of three versions, jobs (one archived), an
// applied plan and a set drain flag, for migration tests.
func Fill(t *testing.T, s statefile.Backend) {
	t.Helper()
	ctx := t.Context()
	st := Sample(statefile.NewLineage())
	for i, op := range []string{"cluster init", "node add node3", "instance remove web1"} {
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
	j, err := s.Journal()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		job := &statefile.Job{Operation: fmt.Sprintf("op %d", i), Status: statefile.JobSuccess, Commit: statefile.CommitDone, Serial: int64(i + 1),
			Steps: []statefile.StepRecord{{Stage: "s", Node: "node1", Desc: "x", Status: statefile.JobSuccess}}}
		if err := j.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Archive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkApplied("plan-1", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDrained(statefile.DrainInfo{Who: "alice", Host: "ws1", Time: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
}

// SameDump compares two exports: versions byte for byte with their
// entries, jobs, applied plans and drain flag.
func SameDump(t *testing.T, a, b *statefile.Dump) {
	t.Helper()
	if len(a.Versions) != len(b.Versions) {
		t.Fatalf("versions: %d vs %d", len(a.Versions), len(b.Versions))
	}
	for i := range a.Versions {
		va, vb := a.Versions[i], b.Versions[i]
		if string(va.Data) != string(vb.Data) {
			t.Errorf("serial %d: data differs", va.Entry.Serial)
		}
		if !va.Entry.Time.Equal(vb.Entry.Time) {
			t.Errorf("serial %d: time %v vs %v", va.Entry.Serial, va.Entry.Time, vb.Entry.Time)
		}
		va.Entry.Time, vb.Entry.Time = time.Time{}, time.Time{}
		if va.Entry != vb.Entry {
			t.Errorf("serial %d: entry %+v vs %+v", va.Entry.Serial, va.Entry, vb.Entry)
		}
	}
	if !reflect.DeepEqual(a.Jobs, b.Jobs) || !reflect.DeepEqual(a.Archived, b.Archived) {
		t.Errorf("jobs differ: %d/%d live, %d/%d archived", len(a.Jobs), len(b.Jobs), len(a.Archived), len(b.Archived))
	}
	if len(a.Applied) != len(b.Applied) {
		t.Errorf("applied: %v vs %v", a.Applied, b.Applied)
	}
	for i := range min(len(a.Applied), len(b.Applied)) {
		if a.Applied[i].ID != b.Applied[i].ID || !a.Applied[i].At.Equal(b.Applied[i].At) {
			t.Errorf("applied: %v vs %v", a.Applied, b.Applied)
		}
	}
	if (a.Drain == nil) != (b.Drain == nil) || a.Drain != nil && (a.Drain.Who != b.Drain.Who || !a.Drain.Time.Equal(b.Drain.Time)) {
		t.Errorf("drain: %+v vs %+v", a.Drain, b.Drain)
	}
}

func testExportImport(t *testing.T, open func() statefile.Backend, newBackend func(t *testing.T) Opener) {
	src := open()
	Fill(t, src)
	d, err := src.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Versions) != 3 || len(d.Jobs) != 2 || len(d.Archived) != 1 || len(d.Applied) != 1 || d.Drain == nil {
		t.Fatalf("Export: %d versions, %d jobs, %d archived, %d applied, drain %v", len(d.Versions), len(d.Jobs), len(d.Archived), len(d.Applied), d.Drain)
	}
	dst := opened(t, newBackend(t))
	l := lock(t, dst, "state migrate")
	if err := dst.Import(t.Context(), l, d); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if err := dst.Import(t.Context(), l, d); !errors.Is(err, statefile.ErrNotEmpty) {
		t.Errorf("second Import: err = %v, want ErrNotEmpty", err)
	}
	l.Unlock()
	back, err := dst.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	SameDump(t, d, back)
	cur, err := dst.Read(t.Context())
	if err != nil || cur.Serial != 3 {
		t.Fatalf("Read after Import: %v, %v", cur, err)
	}
	l = lock(t, dst, "after import")
	cur.Cluster.Tags = append(cur.Cluster.Tags, "imported")
	if n := write(t, dst, l, cur); n != 4 {
		t.Errorf("Write after Import = serial %d, want 4", n)
	}
}
