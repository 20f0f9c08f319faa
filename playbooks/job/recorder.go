package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// The journal keeps the newest journalLive jobs in `job list` and the
// newest journalArchived in its archive (Ganeti issue #1266: unbounded).
const journalLive, journalArchived = 500, 5000

// recorder keeps the journal entry of a running job up to date: it is the
// apply hook that makes a crashed job resumable. Journal write failures
// do not fail the operation: they are reported once. A nil recorder (a dry
// run) records nothing.
type recorder struct {
	apply.NoHooks
	mu     sync.Mutex
	j      *statefile.Journal
	job    *statefile.Job
	ids    map[*plan.Step]apply.StepID // plan steps and their undos
	undos  map[*plan.Step]bool
	open   map[apply.StepID]int // index in job.Steps of a started step
	stages []string
	warn   func(string)
	now    func() time.Time
}

// startJob records a job for p in the journal, with the locks it holds.
// A --submit child takes over its queued job.
func (e *Engine) startJob(ctx context.Context, p *plan.Plan, ol *statefile.ObjectLocks) (*recorder, error) {
	j, err := e.Store.Journal()
	if err != nil {
		return nil, err
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	info := statefile.NewLockInfo(p.Operation, e.Version)
	job := &statefile.Job{Who: info.Who, Host: info.Host, PID: info.PID, Operation: e.Command,
		Opcodes: []string{p.Operation}, Status: statefile.JobRunning, Started: e.now(), Plan: pj,
		Reason: e.Reason, Priority: e.Priority}
	if ol != nil {
		job.Locks = ol.Held
	}
	if e.Submitted > 0 {
		prev, err := j.Get(ctx, e.Submitted)
		if err != nil {
			return nil, err
		}
		job.ID, job.Created, job.Log = e.Submitted, prev.Created, prev.Log
		err = j.Update(ctx, job)
	} else {
		err = j.Create(ctx, job)
	}
	if err != nil {
		return nil, err
	}
	if job.ID%20 == 0 { // now and then
		if err := j.Retain(ctx, journalLive, journalArchived); err != nil {
			e.Report.Warning("journal retention: " + err.Error())
		}
	}
	if ol != nil {
		if err := ol.SetJob(job.ID); err != nil {
			return nil, err
		}
	}
	e.Report.JobStarted(job.ID)
	return e.recorder(j, job, p), nil
}

func (e *Engine) recorder(j *statefile.Journal, job *statefile.Job, p *plan.Plan) *recorder {
	r := &recorder{j: j, job: job, ids: map[*plan.Step]apply.StepID{}, undos: map[*plan.Step]bool{}, open: map[apply.StepID]int{},
		warn: func(msg string) { e.Report.Warning("journal: " + msg) }, now: e.now}
	for si := range p.Stages {
		r.stages = append(r.stages, p.Stages[si].Name)
		for i := range p.Stages[si].Steps {
			s := &p.Stages[si].Steps[i]
			r.ids[s] = apply.StepID{Stage: si, Index: i}
			if s.Undo != nil {
				r.ids[s.Undo] = apply.StepID{Stage: si, Index: i}
				r.undos[s.Undo] = true
			}
		}
	}
	return r
}

// key is the record key of step: an undo's records are apart from its
// step's.
func (r *recorder) key(step *plan.Step) (apply.StepID, bool) {
	id, ok := r.ids[step]
	if ok && r.undos[step] {
		id.Index = -1 - id.Index
	}
	return id, ok
}

func (r *recorder) record(step *plan.Step) (int, bool) {
	key, ok := r.key(step)
	if !ok {
		return 0, false
	}
	if i, ok := r.open[key]; ok {
		return i, true
	}
	id := r.ids[step]
	rec := statefile.StepRecord{Stage: r.stages[id.Stage], StageIndex: id.Stage, Index: id.Index, Undo: r.undos[step], Node: step.Node, Desc: step.Desc,
		Status: statefile.JobRunning, Start: r.now()}
	if rec.Desc == "" {
		rec.Desc = strings.Join(step.Argv, " ")
	}
	r.job.Steps = append(r.job.Steps, rec)
	r.open[key] = len(r.job.Steps) - 1
	return len(r.job.Steps) - 1, true
}

func (r *recorder) StepStarted(step *plan.Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.record(step); ok {
		r.save()
	}
}

func (r *recorder) Undoing(step *plan.Step) { r.StepStarted(step) }

// outputKept is how much of a step's stderr the journal keeps (the tail).
const outputKept = 2048

func (r *recorder) StepFinished(res apply.StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.record(res.Step)
	if !ok {
		return
	}
	rec := &r.job.Steps[i]
	rec.Status, rec.End = statefile.JobSuccess, r.now()
	if out := strings.TrimSpace(string(res.Stderr)); out != "" {
		if len(out) > outputKept {
			out = "..." + out[len(out)-outputKept:]
		}
		rec.Output = out
	}
	if res.Err != nil {
		rec.Status, rec.Error = statefile.JobError, res.Err.Error()
	}
	key, _ := r.key(res.Step)
	delete(r.open, key) // a step run again gets a new record
	r.save()
}

func (r *recorder) commitPhase(phase string, serial int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.Commit, r.job.Serial = phase, serial
	r.save()
}

func (r *recorder) logf(format string, args ...any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.Log = append(r.job.Log, r.now().UTC().Format(time.RFC3339)+" "+fmt.Sprintf(format, args...))
	r.save()
}

func (r *recorder) finish(err error) { r.finishAs(err, statefile.JobSuccess) }

// finishAs ends the job with status ok, or error (canceled when err is a
// cancellation).
func (r *recorder) finishAs(err error, ok statefile.JobStatus) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.Status, r.job.Ended = ok, r.now()
	if err != nil {
		r.job.Status = statefile.JobError
		if errors.Is(err, context.Canceled) {
			r.job.Status = statefile.JobCanceled
		}
		r.job.Log = append(r.job.Log, err.Error())
	}
	r.save()
}

func (r *recorder) save() {
	if err := r.j.Update(context.Background(), r.job); err != nil && r.warn != nil {
		r.warn(err.Error())
		r.warn = nil
	}
}

// teeHooks sends apply's progress to several hooks (the display, then the
// journal); the first one's live stderr, if any, is used.
type teeHooks []apply.Hooks

func (t teeHooks) StageStarted(s *plan.Stage) {
	for _, h := range t {
		h.StageStarted(s)
	}
}

func (t teeHooks) StepStarted(s *plan.Step) {
	for _, h := range t {
		h.StepStarted(s)
	}
}

func (t teeHooks) StepFinished(r apply.StepResult) {
	for _, h := range t {
		h.StepFinished(r)
	}
}

func (t teeHooks) Undoing(s *plan.Step) {
	for _, h := range t {
		h.Undoing(s)
	}
}

func (t teeHooks) StateSaved(serial int64) {
	for _, h := range t {
		h.StateSaved(serial)
	}
}

func (t teeHooks) StepStderr(s *plan.Step) io.Writer {
	if sh, ok := t[0].(apply.StderrHooks); ok {
		return sh.StepStderr(s)
	}
	return nil
}
