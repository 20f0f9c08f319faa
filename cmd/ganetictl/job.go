package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

// JobCmd is gnt-job: the journal of operations run against this state.
type JobCmd struct {
	List    JobListCmd    `cmd:"" help:"List jobs (crashed ones are those whose process died mid-run)."`
	Info    JobInfoCmd    `cmd:"" help:"Show a job's steps."`
	Watch   JobWatchCmd   `cmd:"" help:"Follow a job's steps until it ends."`
	Cancel  JobCancelCmd  `cmd:"" help:"Cancel a queued or waiting job; interrupt a running one (it rolls back its current stage)."`
	Resume  JobResumeCmd  `cmd:"" help:"Finish a crashed job from where it stopped."`
	Abort   JobAbortCmd   `cmd:"" help:"Roll back a crashed job."`
	Archive JobArchiveCmd `cmd:"" help:"Move finished jobs to the archive (all finished ones with --all)."`
}

// JobListCmd is gnt-job list.
type JobListCmd struct{}

func (c *JobListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return view.JSON(s.Out, jobs)
	}
	t := view.Table{Columns: []view.Column{{Title: "ID", Numeric: true}, {Title: "Status"}, {Title: "Summary"}}}
	for _, job := range jobs {
		summary := job.Operation
		if len(job.Opcodes) > 0 {
			summary = job.Opcodes[0]
		}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(job.ID, 10), string(job.Status), summary})
	}
	return view.RenderTable(s.Out, t, view.TableOpts{})
}

// JobInfoCmd is gnt-job info.
type JobInfoCmd struct {
	ID int64 `arg:""`
}

func (c *JobInfoCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, _, job, err := g.openJob(ctx, c.ID)
	if err != nil {
		return err
	}
	defer a.close()
	if g.JSON {
		return view.JSON(s.Out, job)
	}
	return view.RenderInfo(s.Out, []view.Info{jobInfo(job)})
}

func jobInfo(job *statefile.Job) view.Info {
	var steps []view.Info
	for _, st := range job.Steps {
		dur, desc := "", st.Desc
		if !st.End.IsZero() {
			dur = st.End.Sub(st.Start).Round(time.Millisecond).String()
		}
		if st.Undo {
			desc = "undo: " + desc
		}
		steps = append(steps, view.Info{}.
			Add("Stage", st.Stage).Add("Node", st.Node).Add("Step", desc).Add("Status", string(st.Status)).
			Add("Duration", dur).Add("Error", st.Error).Add("Output", st.Output))
	}
	return view.Info{}.
		Add("Job ID", job.ID).
		Add("Status", string(job.Status)).
		Add("Command", job.Operation).
		Add("Submitted by", job.Who+"@"+job.Host+" pid "+strconv.Itoa(job.PID)).
		Add("Processing start", fmtStamp(job.Started)).
		Add("Processing end", fmtStamp(job.Ended)).
		Add("Opcodes", job.Opcodes).
		Add("Steps", steps).
		Add("Log", job.Log)
}

// JobWatchCmd is gnt-job watch.
type JobWatchCmd struct {
	ID int64 `arg:""`
}

func (c *JobWatchCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	shown := 0
	for {
		job, err := j.Get(ctx, c.ID)
		if err != nil {
			return invalid("job %d: %v", c.ID, err)
		}
		for ; shown < len(job.Steps); shown++ {
			st := job.Steps[shown]
			if st.Status == statefile.JobRunning {
				break // shown once it ends
			}
			what := st.Desc
			if st.Undo {
				what = "undo: " + what
			}
			line := fmt.Sprintf("%s %s: %s ... %s", st.End.Local().Format("15:04:05"), st.Node, what, st.Status)
			if st.Error != "" {
				line += ": " + st.Error
			}
			fmt.Fprintln(s.Err, line)
		}
		if !job.Status.Active() {
			fmt.Fprintf(s.Out, "Job %d %s\n", job.ID, job.Status)
			if job.Status != statefile.JobSuccess {
				return silentExit(exitError)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// JobCancelCmd is gnt-job cancel.
type JobCancelCmd struct {
	ID int64 `arg:""`
}

func (c *JobCancelCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, j, job, err := g.openJob(ctx, c.ID)
	if err != nil {
		return err
	}
	defer a.close()
	if !job.Status.Active() {
		return invalid("job %d is %s: only queued, waiting or running jobs can be cancelled", c.ID, job.Status)
	}
	if host, _ := os.Hostname(); job.Host != host {
		return invalid("job %d runs on %s, not here: cancel it there", c.ID, job.Host)
	}
	if g.DryRun {
		fmt.Fprintf(s.Out, "Would cancel job %d (SIGINT to pid %d on %s)\n", c.ID, job.PID, job.Host)
		return nil
	}
	job.CancelRequested = true
	if err := j.Update(ctx, job); err != nil {
		return err
	}
	// SIGINT is Ctrl-C: the job stops at once if it has not started, else
	// it rolls back the stage it is in (see apply.Run).
	if err := syscall.Kill(job.PID, syscall.SIGINT); err != nil {
		return fmt.Errorf("cancel job %d (pid %d): %w", c.ID, job.PID, err)
	}
	fmt.Fprintf(s.Out, "Job %d has been cancelled\n", c.ID)
	return nil
}

// JobArchiveCmd is gnt-job archive.
type JobArchiveCmd struct {
	All bool    `help:"Archive every finished job."`
	IDs []int64 `arg:"" optional:"" name:"id"`
}

func (c *JobArchiveCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	ids := c.IDs
	if c.All {
		jobs, err := j.List(ctx)
		if err != nil {
			return err
		}
		for _, job := range jobs {
			if job.Status.Finished() {
				ids = append(ids, job.ID)
			}
		}
	}
	if len(ids) == 0 {
		return invalid("name the jobs to archive, or give --all")
	}
	if g.DryRun {
		fmt.Fprintf(s.Out, "Would archive %d job(s): %v\n", len(ids), ids)
		return nil
	}
	n := 0
	for _, id := range ids {
		if err := j.Archive(ctx, id); err != nil {
			return err
		}
		n++
	}
	fmt.Fprintf(s.Err, "Archived %d job(s)\n", n)
	return nil
}

// JobResumeCmd finishes a crashed job.
type JobResumeCmd struct {
	ID int64 `arg:""`
}

func (c *JobResumeCmd) Run(ctx context.Context, g *Globals) error {
	return recoverJob(ctx, g, c.ID, true)
}

// JobAbortCmd rolls a crashed job back.
type JobAbortCmd struct {
	ID int64 `arg:""`
}

func (c *JobAbortCmd) Run(ctx context.Context, g *Globals) error {
	return recoverJob(ctx, g, c.ID, false)
}

// recoverJob resumes (or aborts) crashed job id: it takes over the job's
// locks, then either runs the steps the job had not finished, re-running
// the one it was cut off in after that step's undo, and commits; or undoes
// every step it did, newest first. A migration is settled from the
// hypervisors' view instead (migrate --cleanup), since whether the guest
// already runs on the target decides what is left to do; resuming then
// migrates it again if it is still on the source.
func recoverJob(ctx context.Context, g *Globals, id int64, resume bool) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	return a.recoverJob(ctx, id, resume)
}

// crashedJobOn returns the crashed job that claims instance name with
// opcode op (e.g. INSTANCE_MIGRATE), or 0.
func (a *app) crashedJobOn(ctx context.Context, op, name string) int64 {
	j, err := a.store.Journal()
	if err != nil {
		return 0
	}
	for id, held := range a.store.CrashedClaims() {
		if !statefile.Covers(held, statefile.LockReq{Level: statefile.LevelInstance, Name: name, Exclusive: true}) {
			continue
		}
		if job, err := j.Get(ctx, id); err == nil && slices.Contains(job.Opcodes, op+"("+name+")") {
			return id
		}
	}
	return 0
}

func (a *app) recoverJob(ctx context.Context, id int64, resume bool) error {
	j, err := a.store.Journal()
	if err != nil {
		return err
	}
	job, err := j.Get(ctx, id)
	if err != nil {
		return invalid("job %d: %v", id, err)
	}
	verb := map[bool]string{true: "resume", false: "abort"}[resume]
	if job.Status != statefile.JobCrashed {
		return invalid("job %d is %s: only a crashed job (its process died mid-run) can be resumed or aborted", id, job.Status)
	}
	if len(job.Plan) == 0 {
		return invalid("job %d has no plan recorded (it was cut off before it started, or by an older ganetictl): nothing to %s; check `ganetictl cluster verify`", id, verb)
	}
	p := new(plan.Plan)
	if err := json.Unmarshal(job.Plan, p); err != nil {
		return fmt.Errorf("job %d: its plan is unreadable: %w", id, err)
	}
	// Decide what is left before touching anything: a refusal leaves the
	// job as it was.
	done, cut, failed := cutOffRun(job.Steps)
	name, migration := p.Op.Name, p.Op.ID == playbooks.OpInstanceMigrate
	if !migration && job.Commit != statefile.CommitDone {
		if resume && failed {
			return invalid("job %d was already failing and rolling back when it was cut off: it cannot be resumed; roll it back with `ganetictl job abort %d`", id, id)
		}
		if why := irreversible(p, done, cut); !resume && why != "" {
			return invalid("job %d cannot be rolled back: %s; finish it with `ganetictl job resume %d`", id, why, id)
		}
	}
	if a.g.DryRun && (!migration || job.Commit == statefile.CommitDone) { // else migrate --cleanup's dry run
		left := leftToDo(p, done, cut, resume || job.Commit == statefile.CommitDone)
		if job.Commit == statefile.CommitDone {
			left.Changes = nil // committed: only the replication is left
		}
		return a.renderPlan(left)
	}
	ol, _, err := a.lockObjects(ctx, fmt.Sprintf("job %s %d", verb, id), job.Locks, id)
	if err != nil {
		return err
	}
	defer ol.Unlock()
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	secrets, err := planSecrets(p, st)
	if err != nil {
		return err
	}
	p.SetSecrets(secrets)

	var jr *jobRecorder
	if !a.g.DryRun {
		job.PID, job.Status = os.Getpid(), statefile.JobRunning
		jr = newRecorder(a, j, job, p)
		if err := ol.SetJob(id); err != nil {
			return err
		}
		jr.logf("%s by %s pid %d: %d step(s) done, %d cut off, commit %q", verb, job.Who, os.Getpid(), len(done), len(cut), job.Commit)
	}
	if job.Commit == statefile.CommitDone || job.Commit == statefile.CommitStarted && p.AppliedTo(st) {
		// Committed: nothing to roll back, only the replication was left.
		if !resume {
			fmt.Fprintf(a.s.Err, "Job %d had already committed its changes: it cannot be rolled back, only finished; finishing it\n", id)
		}
		opt := a.runOptions(p, jr)
		opt.Committed, opt.Done = true, done
		res, err := apply.Run(ctx, p, a.pool, nil, opt)
		err = a.finishRun(ctx, p, res, err)
		jr.finish(err)
		return err
	}
	if migration {
		a.held = ol
		err := a.settleMigration(ctx, name, migrationSource(p), resume)
		if jr != nil {
			jr.finishAs(err, map[bool]statefile.JobStatus{true: statefile.JobSuccess, false: statefile.JobCanceled}[resume])
		}
		return err
	}
	hooks := a.hooks(p, jr)
	if !resume {
		err := apply.Undo(ctx, p, a.pool, done, cut, apply.Options{Parallel: a.parallel(), Hooks: hooks})
		if err != nil {
			err = fmt.Errorf("job %d: rollback incomplete: %w; `ganetictl cluster verify` lists what is left", id, err)
		}
		jr.finishAs(err, statefile.JobCanceled)
		if err == nil && a.g.JSON {
			return view.JSON(a.s.Out, map[string]any{"job_id": id, "aborted": true})
		}
		return err
	}
	opt := a.runOptions(p, jr)
	opt.Hooks, opt.Done, opt.Redo = hooks, done, cut
	res, err := apply.Run(ctx, p, a.pool, a.commitFunc(jr), opt)
	err = a.finishRun(ctx, p, res, err)
	jr.finish(err)
	return err
}

// leftToDo is what resuming (the steps not done, a cut-off one after its
// undo) or aborting (the undos of the done and cut-off steps, newest
// first) a cut-off run of p would run, as a plan to show.
func leftToDo(p *plan.Plan, done, cut map[apply.StepID]bool, resume bool) *plan.Plan {
	out := plan.New(p.Op, p.StateLineage, p.StateSerial)
	out.Operation = p.Operation
	if !resume {
		var undos []plan.Step
		for si := len(p.Stages) - 1; si >= 0; si-- {
			for i := len(p.Stages[si].Steps) - 1; i >= 0; i-- {
				id := apply.StepID{Stage: si, Index: i}
				if u := p.Stages[si].Steps[i].Undo; u != nil && (done[id] || cut[id]) {
					undos = append(undos, *u)
				}
			}
		}
		if len(undos) > 0 {
			out.Add("roll back", plan.Continue, undos...)
		}
		return out
	}
	for si, st := range p.Stages {
		var steps []plan.Step
		for i, s := range st.Steps {
			id := apply.StepID{Stage: si, Index: i}
			if done[id] {
				continue
			}
			if cut[id] && s.Undo != nil {
				steps = append(steps, *s.Undo)
			}
			steps = append(steps, s)
		}
		if len(steps) > 0 {
			out.Add(st.Name, st.OnError, steps...)
		}
	}
	out.Changes = p.Changes
	return out
}

// settleMigration finishes or undoes a cut-off migration from what the
// hypervisors say, then (resume) migrates again if the guest is still on
// its source.
func (a *app) settleMigration(ctx context.Context, name, source string, resume bool) error {
	if err := a.migrate(ctx, &InstanceMigrateCmd{Name: name, Cleanup: true}); err != nil {
		return fmt.Errorf("settle the migration of %s: %w", name, err)
	}
	if !resume {
		return nil
	}
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	if i, ok := st.Instances[name]; !ok || i.PrimaryNode != source {
		return nil // it got there
	}
	return a.migrate(ctx, &InstanceMigrateCmd{Name: name})
}

// migrationSource is the primary node a migration plan moves away from.
func migrationSource(p *plan.Plan) string {
	for _, c := range p.Changes {
		var i statefile.Instance
		if c.Kind == plan.KindInstance && json.Unmarshal(c.Before, &i) == nil {
			return i.PrimaryNode
		}
	}
	return ""
}

// irreversible says why undoing a cut-off run would lose data, or "": it
// removed something without an undo after it had built something (a move
// that removed the source disk after the copy: undoing the copy would
// remove the only one left), or the plan only removes (instance remove).
func irreversible(p *plan.Plan, done, cut map[apply.StepID]bool) string {
	hasUndo, built := false, false
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			hasUndo = hasUndo || s.Undo != nil
		}
	}
	for si, st := range p.Stages {
		for i, s := range st.Steps {
			id := apply.StepID{Stage: si, Index: i}
			if !done[id] && !cut[id] {
				continue
			}
			if s.Undo != nil {
				built = true
				continue
			}
			if s.Action == plan.Remove && (built || !hasUndo) {
				return fmt.Sprintf("it already ran %q on %s, which has no undo", s.Desc, s.Node)
			}
		}
	}
	return ""
}

// cutOffRun reads a crashed job's step records: the steps done, the steps
// cut off mid-run (marked canceled in steps), and whether the job was
// failing or rolling back when it died. The newest record of each step
// says where it is. An undo that no run of its step follows means a
// rollback; one that follows a cut-off run is the undo before re-running
// it (job resume).
func cutOffRun(steps []statefile.StepRecord) (done, cut map[apply.StepID]bool, failed bool) {
	done, cut = map[apply.StepID]bool{}, map[apply.StepID]bool{}
	rolling := map[apply.StepID]bool{}
	last := map[apply.StepID]statefile.JobStatus{} // of the step's newest run
	for i := range steps {
		r := &steps[i]
		k := apply.StepID{Stage: r.StageIndex, Index: r.Index}
		if r.Undo {
			if last[k] == statefile.JobCanceled {
				cut[k] = true
			} else {
				rolling[k] = true
			}
			continue
		}
		if r.Status == statefile.JobRunning {
			r.Status, r.Error = statefile.JobCanceled, "cut off (the process died)"
		}
		last[k] = r.Status
		delete(rolling, k)
		delete(done, k)
		delete(cut, k)
		switch r.Status {
		case statefile.JobError:
			failed = true
		case statefile.JobSuccess:
			done[k] = true
		case statefile.JobCanceled:
			cut[k] = true
		}
	}
	return done, cut, failed || len(rolling) > 0
}

// openJob is openJournal and job id from it.
func (g *Globals) openJob(ctx context.Context, id int64) (*app, *statefile.Journal, *statefile.Job, error) {
	a, j, err := g.openJournal()
	if err != nil {
		return nil, nil, nil, err
	}
	job, err := j.Get(ctx, id)
	if err != nil {
		a.close()
		return nil, nil, nil, invalid("job %d: %v", id, err)
	}
	return a, j, job, nil
}
