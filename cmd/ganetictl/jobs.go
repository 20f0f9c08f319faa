package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// planLocks derives the object locks a plan needs, in Ganeti's terms:
//   - the cluster shared, or exclusive when the plan changes the cluster
//     object or has no narrower object to lock;
//   - every instance, node, node group and network the plan changes,
//     exclusively;
//   - every node a step runs on, shared, and its resources (memory, disk,
//     DRBD minors) exclusively where a step creates something there, so
//     that two operations never both count the same free space.
//
// Deriving locks from the plan, rather than declaring them per command,
// keeps them exact: mutate plans again under the locks and checks that the
// new plan needs nothing more.
func planLocks(p *plan.Plan) []statefile.LockReq {
	reqs := []statefile.LockReq{{Level: statefile.LevelCluster}}
	narrow := false
	// An instance operation locks its instance even when it changes
	// nothing of it in the state (reboot, migrate --cleanup, ...).
	if p.Op.Kind == plan.KindInstance && p.Op.Name != "" {
		reqs = append(reqs, statefile.LockReq{Level: statefile.LevelInstance, Name: p.Op.Name, Exclusive: true})
		narrow = true
	}
	for _, c := range p.Changes {
		switch c.Kind {
		case plan.KindCluster:
			reqs[0].Exclusive = true
		case plan.KindInstance:
			reqs = append(reqs, statefile.LockReq{Level: statefile.LevelInstance, Name: c.Name, Exclusive: true})
			narrow = true
		case plan.KindNode:
			reqs = append(reqs, statefile.LockReq{Level: statefile.LevelNode, Name: c.Name, Exclusive: true})
			narrow = true
		case plan.KindNodeGroup:
			reqs = append(reqs, statefile.LockReq{Level: statefile.LevelNodeGroup, Name: c.Name, Exclusive: true})
			narrow = true
		case plan.KindNetwork:
			reqs = append(reqs, statefile.LockReq{Level: statefile.LevelNetwork, Name: c.Name, Exclusive: true})
			narrow = true
		}
	}
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			reqs = append(reqs, statefile.LockReq{Level: statefile.LevelNode, Name: s.Node})
			narrow = true
			reqs = append(reqs, statefile.LockReq{Level: statefile.LevelNodeRes, Name: s.Node, Exclusive: s.Action == plan.Create})
		}
	}
	if !narrow && len(p.Changes) > 0 {
		reqs[0].Exclusive = true
	}
	return statefile.NormalizeLocks(reqs)
}

func covered(held, need []statefile.LockReq) bool {
	for _, r := range need {
		if !statefile.Covers(held, r) {
			return false
		}
	}
	return true
}

// lockObjects takes reqs for op, waiting up to --lock-timeout and saying
// once per object whom it waits for. It reports whether it had to wait.
func (a *app) lockObjects(ctx context.Context, op string, reqs []statefile.LockReq, takeover int64) (*statefile.ObjectLocks, bool, error) {
	lctx, cancel := ctx, context.CancelFunc(func() {})
	if a.g.LockTimeout > 0 {
		lctx, cancel = context.WithTimeout(ctx, a.g.LockTimeout)
	}
	defer cancel()
	waited := false
	a.op = op
	ol, err := a.store.LockObjects(lctx, statefile.NewLockInfo(op, a.g.version), reqs, statefile.LockOptions{
		Takeover: takeover,
		Waiting: func(r statefile.LockReq, holders []statefile.LockInfo) {
			waited = true
			who := "another ganetictl"
			if len(holders) > 0 {
				h := holders[0]
				who = fmt.Sprintf("%s@%s pid %d (%q)", h.Who, h.Host, h.PID, h.Operation)
			}
			fmt.Fprintf(a.s.Err, "Waiting for %s, held by %s (--lock-timeout %s)\n", strings.TrimSuffix(r.String(), " (shared)"), who, a.g.LockTimeout)
		},
	})
	if err != nil && ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	return ol, waited, err
}

// planned is a plan and the state it was made from.
type planned struct {
	st *statefile.State
	p  *plan.Plan
}

// planOnce reads the state, gathers the facts and makes the plan.
func (a *app) planOnce(ctx context.Context, facts *factsOn, makePlan func(env playbooks.Env) (*plan.Plan, error)) (planned, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return planned{}, err
	}
	env := playbooks.Env{State: st, NewID: statefile.NewUUID, Random: randomBytes, DRBDStatusFile: a.inv.Cluster.DRBDStatusFile}
	if facts != nil {
		if nodes := facts.nodes(st); len(nodes) > 0 {
			env.Facts = a.gather(ctx, st, nodes, facts.parts...)
			a.used = &usedFacts{parts: facts.parts, facts: env.Facts}
		}
	}
	p, err := makePlan(env)
	return planned{st, p}, err
}

// commitFunc commits a plan's changes on top of the state as it is at
// commit time: other jobs may have committed meanwhile, on other objects
// (plan.ApplyChanges refuses if one of ours changed). The state lock is
// held only for this read-modify-write.
func (a *app) commitFunc(jr *jobRecorder) apply.Commit {
	return func(ctx context.Context, p *plan.Plan) (int64, error) {
		jr.commitPhase(statefile.CommitStarted, 0)
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		op := a.op
		if op == "" {
			op = p.Operation
		}
		lk, err := a.store.Lock(lctx, statefile.NewLockInfo(op, a.g.version))
		if err != nil {
			return 0, err
		}
		defer lk.Unlock()
		cur, err := a.store.Read(ctx)
		switch {
		case errors.Is(err, statefile.ErrNoState) && p.StateSerial == 0:
			cur = statefile.New(p.StateLineage) // cluster init
		case err != nil:
			return 0, err
		case cur.Lineage != p.StateLineage:
			return 0, &plan.StaleError{PlanLineage: p.StateLineage, StateLineage: cur.Lineage, PlanSerial: p.StateSerial, StateSerial: cur.Serial}
		}
		next := cur.Clone()
		if err := p.ApplyChanges(next, time.Now()); err != nil {
			return 0, err
		}
		next.GanetictlVersion = a.g.version
		serial, err := a.store.Write(ctx, lk, next)
		if err == nil {
			jr.commitPhase(statefile.CommitDone, serial)
		}
		return serial, err
	}
}

// jobRecorder keeps the journal entry of a running job up to date; it is
// the apply hook that makes a crashed job resumable. Journal write failures
// are not fatal to the operation: they are reported once.
type jobRecorder struct {
	apply.NoHooks
	mu     sync.Mutex
	j      *statefile.Journal
	job    *statefile.Job
	ids    map[*plan.Step]apply.StepID // plan steps and their undos
	undos  map[*plan.Step]bool
	open   map[apply.StepID]int // index in job.Steps of a started step
	stages []string             // stage names
	warn   func(error)
}

// The journal keeps the newest journalLive jobs in `job list` and the
// newest journalArchived in its archive.
const journalLive, journalArchived = 500, 5000

// startJob records a job for p in the journal, with the locks it holds.
// With GANETICTL_JOB set (a --submit child), it takes over that queued job.
func (a *app) startJob(ctx context.Context, p *plan.Plan, ol *statefile.ObjectLocks) (*jobRecorder, error) {
	j, err := a.store.Journal()
	if err != nil {
		return nil, err
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	info := statefile.NewLockInfo(p.Operation, a.g.version)
	job := &statefile.Job{Who: info.Who, Host: info.Host, PID: info.PID, Operation: commandLine(),
		Opcodes: []string{p.Operation}, Status: statefile.JobRunning, Started: time.Now(), Plan: pj}
	if ol != nil {
		job.Locks = ol.Held
	}
	if id := submittedJob(); id > 0 {
		prev, err := j.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		job.ID, job.Created, job.Log = id, prev.Created, prev.Log
		err = j.Update(ctx, job)
	} else {
		err = j.Create(ctx, job)
	}
	if err != nil {
		return nil, err
	}
	if job.ID%20 == 0 {
		// Bound the journal now and then (Ganeti issue #1266).
		if err := j.Retain(ctx, journalLive, journalArchived); err != nil {
			fmt.Fprintf(a.s.Err, "WARNING: journal retention: %v\n", err)
		}
	}
	if ol != nil {
		if err := ol.SetJob(job.ID); err != nil {
			return nil, err
		}
	}
	return newRecorder(a, j, job, p), nil
}

func newRecorder(a *app, j *statefile.Journal, job *statefile.Job, p *plan.Plan) *jobRecorder {
	r := &jobRecorder{j: j, job: job, ids: map[*plan.Step]apply.StepID{}, undos: map[*plan.Step]bool{}, open: map[apply.StepID]int{},
		warn: func(err error) { fmt.Fprintf(a.s.Err, "WARNING: journal: %v\n", err) }}
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

// commandLine is the command as typed, for the journal.
func commandLine() string { return strings.Join(os.Args[1:], " ") }

func (r *jobRecorder) record(step *plan.Step) (int, bool) {
	id, ok := r.ids[step]
	if !ok {
		return 0, false
	}
	key := id
	if r.undos[step] {
		key.Index = -1 - key.Index // undo records are separate from the step's
	}
	if i, ok := r.open[key]; ok {
		return i, true
	}
	rec := statefile.StepRecord{Stage: r.stages[id.Stage], StageIndex: id.Stage, Index: id.Index, Undo: r.undos[step], Node: step.Node, Desc: step.Desc,
		Status: statefile.JobRunning, Start: time.Now()}
	if rec.Desc == "" {
		rec.Desc = strings.Join(step.Argv, " ")
	}
	r.job.Steps = append(r.job.Steps, rec)
	r.open[key] = len(r.job.Steps) - 1
	return len(r.job.Steps) - 1, true
}

func (r *jobRecorder) StageStarted(st *plan.Stage) {}

func (r *jobRecorder) StepStarted(step *plan.Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.record(step); ok {
		r.save()
	}
}

func (r *jobRecorder) Undoing(step *plan.Step) { r.StepStarted(step) }

func (r *jobRecorder) StepFinished(res apply.StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.record(res.Step)
	if !ok {
		return
	}
	rec := &r.job.Steps[i]
	rec.Status, rec.End = statefile.JobSuccess, time.Now()
	if out := strings.TrimSpace(string(res.Stderr)); out != "" {
		const keep = 2048
		if len(out) > keep {
			out = "..." + out[len(out)-keep:]
		}
		rec.Output = out
	}
	if res.Err != nil {
		rec.Status, rec.Error = statefile.JobError, res.Err.Error()
	}
	key := r.ids[res.Step]
	if r.undos[res.Step] {
		key.Index = -1 - key.Index
	}
	delete(r.open, key) // a resumed step gets a new record
	r.save()
}

func (r *jobRecorder) commitPhase(phase string, serial int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.Commit, r.job.Serial = phase, serial
	r.save()
}

func (r *jobRecorder) logf(format string, args ...any) {
	if r == nil { // a dry run records nothing
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.Log = append(r.job.Log, time.Now().UTC().Format(time.RFC3339)+" "+fmt.Sprintf(format, args...))
	r.save()
}

func (r *jobRecorder) finish(err error) {
	r.finishAs(err, statefile.JobSuccess)
}

// finishAs ends the job with status ok, or error (canceled when err is a
// cancellation).
func (r *jobRecorder) finishAs(err error, ok statefile.JobStatus) {
	if r == nil { // a dry run records nothing
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.Status, r.job.Ended = ok, time.Now()
	if err != nil {
		r.job.Status = statefile.JobError
		if errors.Is(err, context.Canceled) {
			r.job.Status = statefile.JobCanceled
		}
		r.job.Log = append(r.job.Log, err.Error())
	}
	r.save()
}

func (r *jobRecorder) save() {
	if err := r.j.Update(context.Background(), r.job); err != nil && r.warn != nil {
		r.warn(err)
		r.warn = nil
	}
}

// teeHooks sends apply's progress to several hooks (the display and the
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

// lockWhole takes the cluster exclusively, so that no job runs meanwhile,
// and the state lock, for commands that replace the whole state (import,
// rollback, recover, pull). unlock releases both. With --dry-run it takes
// nothing and returns a nil lock.
func (a *app) lockWhole(ctx context.Context, op string) (lk *statefile.Lock, unlock func(), err error) {
	if a.g.DryRun {
		return nil, func() {}, nil
	}
	ol, _, err := a.lockObjects(ctx, op, []statefile.LockReq{{Level: statefile.LevelCluster, Exclusive: true}}, 0)
	if err != nil {
		return nil, nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if lk, err = a.store.Lock(lctx, statefile.NewLockInfo(op, a.g.version)); err != nil {
		ol.Unlock()
		return nil, nil, err
	}
	return lk, func() { lk.Unlock(); ol.Unlock() }, nil
}

// crashedJobFindings are cluster verify warnings for jobs cut off mid-run:
// until resumed or aborted, what they did is half done and their objects
// are claimed.
func (a *app) crashedJobFindings(ctx context.Context, cluster string) []playbooks.Finding {
	j, err := a.store.Journal()
	if err != nil {
		return nil
	}
	var out []playbooks.Finding
	for id, held := range a.store.CrashedClaims() {
		what := ""
		if job, err := j.Get(ctx, id); err == nil && len(job.Opcodes) > 0 {
			what = " (" + job.Opcodes[0] + ")"
		}
		var objs []string
		for _, r := range held {
			if r.Exclusive && r.Level != statefile.LevelNodeRes {
				objs = append(objs, strings.TrimSuffix(r.String(), " (exclusive)"))
			}
		}
		out = append(out, playbooks.Finding{Severity: playbooks.SevWarning, Code: "ECLUSTERJOB", Kind: "cluster", Object: cluster,
			Message: fmt.Sprintf("job %d%s was cut off mid-run and still claims %s: run `ganetictl job resume %d` or `ganetictl job abort %d`",
				id, what, strings.Join(objs, ", "), id, id)})
	}
	return out
}
