package statefile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobStatus is the status of a job or of one of its steps, with Ganeti's
// names plus Crashed.
type JobStatus string

// Job and step statuses.
const (
	JobQueued   JobStatus = "queued"
	JobWaiting  JobStatus = "waiting" // for locks
	JobRunning  JobStatus = "running"
	JobSuccess  JobStatus = "success"
	JobError    JobStatus = "error"
	JobCanceled JobStatus = "canceled"
	// JobCrashed is never stored: Get and List report it for a job stored
	// as running whose process (on this host) is gone, i.e. a job cut off by
	// a crash or kill -9, to be resumed or rolled back.
	JobCrashed JobStatus = "crashed"
)

// Finished reports whether s is final (success, error or canceled).
func (s JobStatus) Finished() bool {
	return s == JobSuccess || s == JobError || s == JobCanceled
}

// Job is one journal entry: an operation run by one ganetictl process.
type Job struct {
	ID        int64        `json:"id"` // assigned by Create; increasing
	Who       string       `json:"who"`
	Host      string       `json:"host"`
	PID       int          `json:"pid"`
	Operation string       `json:"operation"` // the command, e.g. "instance migrate web1"
	Opcodes   []string     `json:"opcodes"`   // e.g. ["OP_INSTANCE_MIGRATE"]
	Status    JobStatus    `json:"status"`
	Steps     []StepRecord `json:"steps"`
	Created   time.Time    `json:"created"`
	Started   time.Time    `json:"started,omitzero"`
	Ended     time.Time    `json:"ended,omitzero"`
	Log       []string     `json:"log"`

	// Plan is the plan the job runs (secrets as placeholders), kept so that
	// a crashed job can be resumed or rolled back.
	Plan json.RawMessage `json:"plan,omitempty"`
	// Locks are the object locks the job holds; a crashed job keeps them
	// reserved until it is resumed or aborted.
	Locks []LockReq `json:"locks,omitempty"`
	// Commit tracks the state commit: "" before it, "started", then "done"
	// with Serial the state serial it produced.
	Commit string `json:"commit,omitempty"`
	Serial int64  `json:"serial,omitempty"`
	// Reason and Priority are Ganeti's --reason and --priority.
	Reason   string `json:"reason,omitempty"`
	Priority string `json:"priority,omitempty"`
	// CancelRequested is set by `job cancel`.
	CancelRequested bool `json:"cancel_requested,omitempty"`
}

// Commit phases of a job.
const (
	CommitStarted = "started"
	CommitDone    = "done"
)

// Active reports whether a job stored as status s may still have a live
// process (queued, waiting or running).
func (s JobStatus) Active() bool { return s == JobQueued || s == JobWaiting || s == JobRunning }

// StepRecord is the record of one plan step.
type StepRecord struct {
	Stage string `json:"stage"`
	// StageIndex and Index locate the step in the job's plan; Undo marks
	// the run of that step's undo.
	StageIndex int       `json:"stage_index"`
	Index      int       `json:"index"`
	Undo       bool      `json:"undo,omitempty"`
	Node       string    `json:"node,omitempty"`
	Desc       string    `json:"desc"`
	Status     JobStatus `json:"status"`
	Start      time.Time `json:"start,omitzero"`
	End        time.Time `json:"end,omitzero"`
	Error      string    `json:"error,omitempty"`
	// Output is the tail of what the step wrote to stderr (progress,
	// warnings), for job info.
	Output string `json:"output,omitempty"`
}

// ErrNoJob is returned by Journal.Get for an unknown job ID.
var ErrNoJob = errors.New("no such job")

// Journal stores jobs as dir/<id>.json, each replaced atomically on update.
// It is safe for use by several processes: IDs are claimed by exclusive file
// creation.
type Journal struct {
	Dir string
	// Now gives timestamps; nil means time.Now.
	Now func() time.Time
}

// OpenJournal opens (creating, 0700) the journal directory dir.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return &Journal{Dir: dir}, nil
}

func (j *Journal) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *Journal) path(id int64) string {
	return filepath.Join(j.Dir, strconv.FormatInt(id, 10)+".json")
}

// Create stores job as a new job and sets its ID (one more than the highest
// stored), and, when zero or empty, Created, Status (queued), Who, Host and
// PID from this process.
func (j *Journal) Create(ctx context.Context, job *Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if job.Created.IsZero() {
		job.Created = j.now().UTC()
	}
	if job.Status == "" {
		job.Status = JobQueued
	}
	if job.Host == "" {
		job.Host = hostname()
	}
	if job.PID == 0 {
		job.PID = os.Getpid()
	}
	if job.Who == "" {
		job.Who = currentUser()
	}
	ids, err := j.ids()
	if err != nil {
		return err
	}
	next := int64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	for range 1000 {
		job.ID = next
		err := j.createExcl(job)
		if errors.Is(err, fs.ErrExist) {
			next++
			continue
		}
		if err != nil {
			job.ID = 0
			return fmt.Errorf("create job: %w", err)
		}
		return nil
	}
	job.ID = 0
	return fmt.Errorf("create job: could not claim a job ID in %s", j.Dir)
}

// createExcl writes job to a temporary file and links it to its final name,
// which fails with fs.ErrExist if the ID is taken: the file appears complete
// or not at all.
func (j *Journal) createExcl(job *Job) error {
	b, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(j.Dir, "new"+tempInfix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(f.Name(), j.path(job.ID)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return err
	}
	return syncDir(j.Dir)
}

// Update replaces the stored job (atomic write). The job must have been
// created.
func (j *Journal) Update(ctx context.Context, job *Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if job.ID <= 0 {
		return fmt.Errorf("update job: job has no ID (call Create first)")
	}
	if job.Status == JobCrashed {
		return fmt.Errorf("update job %d: status %q is derived and never stored", job.ID, JobCrashed)
	}
	b, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return fmt.Errorf("update job %d: %w", job.ID, err)
	}
	// Not fsynced: a job file must survive its process being killed, which
	// the rename alone guarantees; a sync per step would cost more than
	// many steps.
	if err := writeFile(j.path(job.ID), append(b, '\n'), 0o600, job.Status.Finished()); err != nil {
		return fmt.Errorf("update job %d: %w", job.ID, err)
	}
	return nil
}

// Get returns the job with that ID (ErrNoJob if none), reporting a running
// job whose process is gone as JobCrashed.
func (j *Journal) Get(ctx context.Context, id int64) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(j.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(j.Dir, ArchiveDir, filepath.Base(j.path(id))))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("job %d: %w", id, ErrNoJob)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %d: %w", id, err)
	}
	job := new(Job)
	if err := json.Unmarshal(b, job); err != nil {
		return nil, fmt.Errorf("read job %d: %s is corrupt: %w", id, j.path(id), err)
	}
	if job.Status.Active() && job.Host == hostname() && !pidAlive(job.PID) {
		job.Status = JobCrashed
	}
	return job, nil
}

// List returns all jobs, oldest first, with crashed jobs reported as in Get.
// Unreadable job files are reported in the error after the readable jobs.
func (j *Journal) List(ctx context.Context) ([]*Job, error) {
	ids, err := j.ids()
	if err != nil {
		return nil, err
	}
	var out []*Job
	var errs []error
	for _, id := range ids {
		job, err := j.Get(ctx, id)
		if errors.Is(err, ErrNoJob) {
			continue // pruned meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, job)
	}
	return out, errors.Join(errs...)
}

// Prune removes the oldest finished jobs so that at most keep finished jobs
// remain, and returns how many it removed. Unfinished and crashed jobs are
// never removed, nor is the newest job (it keeps IDs increasing).
func (j *Journal) Prune(ctx context.Context, keep int) (int, error) {
	jobs, err := j.List(ctx)
	if err != nil {
		return 0, err
	}
	var finished []*Job
	for _, job := range jobs {
		if job.Status.Finished() {
			finished = append(finished, job)
		}
	}
	slices.SortFunc(finished, func(a, b *Job) int { return cmp.Compare(a.ID, b.ID) })
	removed := 0
	for i := 0; i < len(finished)-max(keep, 0); i++ {
		id := finished[i].ID
		if id == jobs[len(jobs)-1].ID {
			continue
		}
		if err := os.Remove(j.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("prune job %d: %w", id, err)
		}
		removed++
	}
	return removed, nil
}

func (j *Journal) ids() ([]int64, error) {
	ents, err := os.ReadDir(j.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var ids []int64
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".json")
		id, err := strconv.ParseInt(n, 10, 64)
		if ok && err == nil && id > 0 && !strings.Contains(n, tempInfix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// ArchiveDir is where archived jobs go, below the journal.
const ArchiveDir = "archive"

// Archive moves a finished job to the archive: `job list` no longer shows
// it; `job info` still finds it.
func (j *Journal) Archive(ctx context.Context, id int64) error {
	job, err := j.Get(ctx, id)
	if err != nil {
		return err
	}
	if !job.Status.Finished() {
		return fmt.Errorf("archive job %d: it is %s; only finished jobs are archived", id, job.Status)
	}
	if err := os.MkdirAll(filepath.Join(j.Dir, ArchiveDir), 0o700); err != nil {
		return fmt.Errorf("archive job %d: %w", id, err)
	}
	if err := os.Rename(j.path(id), filepath.Join(j.Dir, ArchiveDir, filepath.Base(j.path(id)))); err != nil {
		return fmt.Errorf("archive job %d: %w", id, err)
	}
	return nil
}

// Retain bounds the journal (Ganeti issue #1266: job files piling up): it
// archives the oldest finished jobs beyond the newest live ones, and
// deletes archived jobs beyond the newest archived.
func (j *Journal) Retain(ctx context.Context, live, archived int) error {
	ids, err := j.ids()
	if err != nil {
		return err
	}
	if len(ids) > live {
		for _, id := range ids[:len(ids)-live] {
			if id == ids[len(ids)-1] {
				break
			}
			if job, err := j.Get(ctx, id); err == nil && job.Status.Finished() {
				if err := j.Archive(ctx, id); err != nil {
					return err
				}
			}
		}
	}
	arch := &Journal{Dir: filepath.Join(j.Dir, ArchiveDir)}
	aids, err := arch.ids()
	if err != nil || len(aids) <= archived {
		return err
	}
	for _, id := range aids[:len(aids)-archived] {
		if err := os.Remove(arch.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
