package statefile

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestNormalizeLocks(t *testing.T) {
	got := NormalizeLocks([]LockReq{
		{Level: LevelNodeRes, Name: "node2", Exclusive: true},
		{Level: LevelInstance, Name: "web1", Exclusive: true},
		{Level: LevelNode, Name: "node2"},
		{Level: LevelCluster},
		{Level: LevelNode, Name: "node1"},
		{Level: LevelNode, Name: "node2", Exclusive: true},
	})
	want := []LockReq{
		{Level: LevelCluster},
		{Level: LevelInstance, Name: "web1", Exclusive: true},
		{Level: LevelNode, Name: "node1"},
		{Level: LevelNode, Name: "node2", Exclusive: true},
		{Level: LevelNodeRes, Name: "node2", Exclusive: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if !Covers(got, LockReq{Level: LevelNode, Name: "node1"}) || Covers(got, LockReq{Level: LevelNode, Name: "node1", Exclusive: true}) {
		t.Error("Covers: shared node1 covers a shared request only")
	}
}

func TestLockObjects(t *testing.T) {
	s, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shared := func(l Level, n string) LockReq { return LockReq{Level: l, Name: n} }
	excl := func(l Level, n string) LockReq { return LockReq{Level: l, Name: n, Exclusive: true} }

	a, err := s.LockObjects(ctx, NewLockInfo("instance startup web1", "test"),
		[]LockReq{shared(LevelCluster, ""), excl(LevelInstance, "web1"), shared(LevelNode, "node1")}, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A different instance on the same node: no conflict.
	b, err := s.LockObjects(ctx, NewLockInfo("instance startup db1", "test"),
		[]LockReq{shared(LevelCluster, ""), excl(LevelInstance, "db1"), shared(LevelNode, "node1")}, LockOptions{})
	if err != nil {
		t.Fatalf("disjoint locks: %v", err)
	}
	b.Unlock()

	// The same instance: fails at once without a deadline, naming the holder.
	_, err = s.LockObjects(ctx, NewLockInfo("instance shutdown web1", "test"),
		[]LockReq{shared(LevelCluster, ""), excl(LevelInstance, "web1")}, LockOptions{})
	var le *ObjectLockedError
	if !errors.As(err, &le) || le.Req.Name != "web1" || len(le.Holders) != 1 || le.Holders[0].Operation != "instance startup web1" {
		t.Fatalf("want ObjectLockedError naming the holder, got %v", err)
	}
	if !strings.Contains(err.Error(), `instance web1 is locked by`) || !strings.Contains(err.Error(), `"instance startup web1"`) {
		t.Errorf("message: %v", err)
	}
	// The cluster exclusively: blocked by the shared holder.
	_, err = s.LockObjects(ctx, NewLockInfo("cluster modify", "test"), []LockReq{excl(LevelCluster, "")}, LockOptions{})
	if !errors.As(err, &le) || le.Req.Level != LevelCluster {
		t.Fatalf("want the cluster lock refused, got %v", err)
	}

	// With a deadline the second waits and gets the lock once released.
	var waited []LockInfo
	go func() { time.Sleep(100 * time.Millisecond); a.Unlock() }()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := s.LockObjects(wctx, NewLockInfo("instance shutdown web1", "test"),
		[]LockReq{shared(LevelCluster, ""), excl(LevelInstance, "web1")}, LockOptions{Waiting: func(_ LockReq, h []LockInfo) { waited = h }})
	if err != nil {
		t.Fatalf("waiting lock: %v", err)
	}
	if len(waited) != 1 || waited[0].Operation != "instance startup web1" {
		t.Errorf("waiting callback got %v", waited)
	}
	c.Unlock()
	c.Unlock() // idempotent
}

func TestCrashedJobClaims(t *testing.T) {
	s, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dead := deadPID(t)
	j, _ := s.Journal()
	job := &Job{Operation: "instance add d1", Status: JobRunning, PID: dead,
		Steps: []StepRecord{{Stage: "create disks", Node: "node1", Status: JobRunning}}}
	if err := j.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	reqs := []LockReq{{Level: LevelCluster}, {Level: LevelInstance, Name: "d1", Exclusive: true}}
	info := NewLockInfo("instance add d1", "test")
	info.PID = dead
	ol, err := s.LockObjects(ctx, info, reqs, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ol.SetJob(job.ID); err != nil {
		t.Fatal(err)
	}
	ol.Abandon() // the process "dies": its flocks go, its record stays

	if got := s.CrashedClaims(); len(got[job.ID]) != 2 {
		t.Fatalf("CrashedClaims = %v", got)
	}
	_, err = s.LockObjects(ctx, NewLockInfo("instance remove d1", "test"), reqs, LockOptions{})
	var ce *CrashedJobError
	if !errors.As(err, &ce) || ce.Job != job.ID || !strings.Contains(err.Error(), "job resume 1") {
		t.Fatalf("want CrashedJobError for job %d, got %v", job.ID, err)
	}
	// Other objects are free.
	other, err := s.LockObjects(ctx, NewLockInfo("instance startup web1", "test"),
		[]LockReq{{Level: LevelCluster}, {Level: LevelInstance, Name: "web1", Exclusive: true}}, LockOptions{})
	if err != nil {
		t.Fatalf("unrelated object: %v", err)
	}
	other.Unlock()
	// Resume takes the claims over; afterwards they are gone.
	res, err := s.LockObjects(ctx, NewLockInfo("job resume 1", "test"), reqs, LockOptions{Takeover: job.ID})
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	res.Unlock()
	if got := s.CrashedClaims(); len(got) != 0 {
		t.Fatalf("claims after takeover: %v", got)
	}
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
