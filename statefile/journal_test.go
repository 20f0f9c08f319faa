package statefile_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestJournal(t *testing.T) {
	s := openDir(t)
	j, err := s.Journal()
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	j.Now = func() time.Time { return fixed }
	ctx := t.Context()

	job := &statefile.Job{Operation: "instance migrate web1", Opcodes: []string{"OP_INSTANCE_MIGRATE"}}
	if err := j.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	if job.ID != 1 || job.Status != statefile.JobQueued || !job.Created.Equal(fixed) || job.PID != os.Getpid() || job.Host == "" || job.Who == "" {
		t.Errorf("created job = %+v", job)
	}
	job.Status = statefile.JobRunning
	job.Started = fixed
	job.Steps = append(job.Steps, statefile.StepRecord{Stage: "migrate", Node: "node1", Desc: "drbdsetup primary", Status: statefile.JobSuccess, Start: fixed, End: fixed})
	job.Log = append(job.Log, "migrating")
	if err := j.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	got, err := j.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != statefile.JobRunning || len(got.Steps) != 1 || got.Steps[0].Node != "node1" || got.Log[0] != "migrating" {
		t.Errorf("Get(1) = %+v", got)
	}
	if fi, _ := os.Stat(filepath.Join(j.Dir, "1.json")); fi.Mode() != 0o600 {
		t.Errorf("job file mode = %v", fi.Mode())
	}
	if _, err := j.Get(ctx, 99); !errors.Is(err, statefile.ErrNoJob) {
		t.Errorf("Get(99): err = %v, want ErrNoJob", err)
	}
	job.Status = statefile.JobCrashed
	if err := j.Update(ctx, job); err == nil {
		t.Errorf("Update with status crashed succeeded")
	}
}

func TestJournalCrashedJob(t *testing.T) {
	j, err := statefile.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	// A PID that is certainly dead: a child we started and reaped.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	dead := cmd.Process.Pid
	ctx := t.Context()
	job := &statefile.Job{Operation: "node add node4", PID: dead, Status: statefile.JobRunning}
	j.Create(ctx, job)
	alive := &statefile.Job{Operation: "still running", Status: statefile.JobRunning}
	j.Create(ctx, alive)
	remote := &statefile.Job{Operation: "other host", Status: statefile.JobRunning, Host: "elsewhere.invalid", PID: dead}
	j.Create(ctx, remote)

	jobs, err := j.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []statefile.JobStatus{statefile.JobCrashed, statefile.JobRunning, statefile.JobRunning}
	for i, w := range want {
		if jobs[i].Status != w {
			t.Errorf("List()[%d] (%s) status = %s, want %s", i, jobs[i].Operation, jobs[i].Status, w)
		}
	}
	b, _ := os.ReadFile(filepath.Join(j.Dir, "1.json"))
	if !contains(string(b), `"status": "running"`) {
		t.Errorf("crash detection rewrote the job file:\n%s", b)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestJournalConcurrentCreate(t *testing.T) {
	j, _ := statefile.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	var wg sync.WaitGroup
	ids := make([]int64, 16)
	for i := range ids {
		wg.Go(func() {
			job := &statefile.Job{Operation: "c"}
			if err := j.Create(t.Context(), job); err != nil {
				t.Error(err)
			}
			ids[i] = job.ID
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] || id < 1 || id > 16 {
			t.Errorf("job IDs not unique and dense: %v", ids)
			break
		}
		seen[id] = true
	}
}

func TestJournalPrune(t *testing.T) {
	j, _ := statefile.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	ctx := t.Context()
	statuses := []statefile.JobStatus{statefile.JobSuccess, statefile.JobError, statefile.JobRunning, statefile.JobSuccess, statefile.JobCanceled, statefile.JobSuccess}
	for _, st := range statuses {
		j.Create(ctx, &statefile.Job{Operation: string(st), Status: st})
	}
	n, err := j.Prune(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Prune(2) removed %d, want 3", n)
	}
	jobs, _ := j.List(ctx)
	var ids []int64
	for _, job := range jobs {
		ids = append(ids, job.ID)
	}
	if len(ids) != 3 || ids[0] != 3 || ids[1] != 5 || ids[2] != 6 {
		t.Errorf("after Prune(2) jobs = %v, want [3 5 6] (running kept, newest 2 finished kept)", ids)
	}
	j.Prune(ctx, 0)
	job := &statefile.Job{Operation: "next"}
	j.Create(ctx, job)
	if job.ID != 7 {
		t.Errorf("ID after Prune(0) = %d, want 7 (IDs never reused)", job.ID)
	}
}
