package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks/job"
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
	// Ganeti's other job verbs.
	ListFields     JobFieldsCmd         `cmd:"" name:"list-fields" help:"List the fields job list knows."`
	Wait           JobWaitCmd           `cmd:"" help:"Wait for a job to end (exit 1 unless it succeeded)."`
	ChangePriority JobChangePriorityCmd `cmd:"" name:"change-priority" help:"Change the priority recorded for queued jobs."`
	Autoarchive    JobAutoarchiveCmd    `cmd:"" help:"Archive finished jobs older than AGE (e.g. 6h, 2d), or all."`
}

// JobListCmd is gnt-job list.
type JobListCmd struct {
	Output    string   `short:"o" name:"output" help:"Fields to show (comma-separated; +f adds to the defaults)."`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Filter    bool     `short:"F" name:"filter" help:"The arguments are a query filter (e.g. 'status == \"crashed\"')."`
	IDs       []string `arg:"" optional:"" name:"id"`
}

var jobSpec = view.ListSpec[*statefile.Job]{
	Default: []string{"id", "status", "summary"},
	Fields: []view.Field[*statefile.Job]{
		{Name: "id", Title: "ID", Kind: view.KindNumber, Doc: "Job ID", Get: func(j *statefile.Job) any { return j.ID }},
		{Name: "status", Title: "Status", Kind: view.KindText, Doc: "Job status", Get: func(j *statefile.Job) any { return string(j.Status) }},
		{Name: "summary", Title: "Summary", Kind: view.KindList, Doc: "List of per-opcode summaries", Get: func(j *statefile.Job) any {
			if len(j.Opcodes) > 0 {
				return j.Opcodes
			}
			return []string{j.Operation}
		}},
		{Name: "priority", Title: "Priority", Kind: view.KindText, Doc: "Job priority (low, normal, high)", Get: func(j *statefile.Job) any {
			if j.Priority == "" {
				return "normal"
			}
			return j.Priority
		}},
		{Name: "reason", Title: "Reason", Kind: view.KindText, Doc: "Why the job was run (--reason)", Get: func(j *statefile.Job) any { return j.Reason }},
		{Name: "command", Title: "Command", Kind: view.KindText, Doc: "The command as typed", Get: func(j *statefile.Job) any { return j.Operation }},
		{Name: "who", Title: "User", Kind: view.KindText, Doc: "Who ran it", Get: func(j *statefile.Job) any { return j.Who }},
		{Name: "host", Title: "Host", Kind: view.KindText, Doc: "Where it ran", Get: func(j *statefile.Job) any { return j.Host }},
		{Name: "received_ts", Title: "Received", Kind: view.KindText, Doc: "When the job was created", Get: func(j *statefile.Job) any { return fmtStamp(j.Created) }},
		{Name: "start_ts", Title: "Start", Kind: view.KindText, Doc: "When the job started", Get: func(j *statefile.Job) any { return fmtStamp(j.Started) }},
		{Name: "end_ts", Title: "End", Kind: view.KindText, Doc: "When the job ended", Get: func(j *statefile.Job) any { return fmtStamp(j.Ended) }},
		{Name: "steps", Title: "Steps", Kind: view.KindNumber, Doc: "Number of node steps recorded", Get: func(j *statefile.Job) any { return len(j.Steps) }},
	},
}

func (c *JobListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	if _, err := jobSpec.Select(c.Output); err != nil {
		return invalid("%v", err)
	}
	ids, filter, err := listFilter(c.IDs, c.Filter)
	if err != nil {
		return err
	}
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		jobs = slices.DeleteFunc(jobs, func(job *statefile.Job) bool { return !want[strconv.FormatInt(job.ID, 10)] })
	}
	if jobs, err = jobSpec.Filter(jobs, filter); err != nil {
		return invalid("%v", err)
	}
	if g.JSON && c.Output == "" {
		return a.pr.Result(view.JobList(jobs)) // the journal's records, as before -o existed
	}
	return view.RenderList(s.Out, jobSpec, jobs, view.ListOpts{Fields: c.Output, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

// JobFieldsCmd is gnt-job list-fields.
type JobFieldsCmd struct{}

func (c *JobFieldsCmd) Run(s view.Streams) error {
	return view.RenderTable(s.Out, jobSpec.FieldsTable(), view.TableOpts{})
}

// JobWaitCmd is gnt-job wait: as watch, silently.
type JobWaitCmd struct {
	ID int64 `arg:""`
}

func (c *JobWaitCmd) Run(ctx context.Context, g *Globals) error {
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	for {
		job, err := j.Get(ctx, c.ID)
		if err != nil {
			return invalid("job %d: %v", c.ID, err)
		}
		if !job.Status.Active() {
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

// JobChangePriorityCmd is gnt-job change-priority. Jobs start at once
// (there is no queue to reorder), so only a queued job's record changes.
// The new priority is the common --priority option.
type JobChangePriorityCmd struct {
	IDs []int64 `arg:"" name:"id"`
}

func (c *JobChangePriorityCmd) Run(ctx context.Context, g *Globals) error {
	if g.Priority == "" {
		return invalid("give the new priority: job change-priority --priority low|normal|high ID...")
	}
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	for _, id := range c.IDs {
		job, err := j.Get(ctx, id)
		if err != nil {
			return invalid("job %d: %v", id, err)
		}
		if job.Status != statefile.JobQueued {
			return invalid("job %d is %s: only a queued job's priority can change", id, job.Status)
		}
		job.Priority = g.Priority
		if !g.DryRun {
			if err := j.Update(ctx, job); err != nil {
				return err
			}
		}
	}
	return nil
}

// JobAutoarchiveCmd is gnt-job autoarchive.
type JobAutoarchiveCmd struct {
	Age string `arg:"" help:"Archive finished jobs that ended longer ago than this (30m, 6h, 2d, 1w), or all."`
}

func (c *JobAutoarchiveCmd) Run(ctx context.Context, g *Globals) error {
	age, err := parseAge(c.Age)
	if err != nil {
		return err
	}
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	var ids []int64
	for _, job := range jobs {
		if job.Status.Finished() && (age < 0 || time.Since(job.Ended) > age) {
			ids = append(ids, job.ID)
		}
	}
	if g.DryRun {
		return a.pr.Result(view.JobArchive{IDs: ids, DryRun: true})
	}
	for _, id := range ids {
		if err := j.Archive(ctx, id); err != nil {
			return err
		}
	}
	return a.pr.Outcome(view.JobArchive{IDs: ids})
}

// parseAge reads Ganeti's ages: a number with s, m, h, d or w (seconds
// without), or "all" (-1).
func parseAge(s string) (time.Duration, error) {
	if s == "all" {
		return -1, nil
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	mult, num := time.Second, s
	if s != "" {
		if u, ok := unit[s[len(s)-1]]; ok {
			mult, num = u, s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, invalid("age %q: a number with s, m, h, d or w, or all", s)
	}
	return time.Duration(n) * mult, nil
}

// JobInfoCmd is gnt-job info.
type JobInfoCmd struct {
	ID int64 `arg:""`
}

func (c *JobInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, _, job, err := g.openJob(ctx, c.ID)
	if err != nil {
		return err
	}
	defer a.close()
	return a.pr.Result(view.JobInfo{Job: job})
}

// JobWatchCmd is gnt-job watch.
type JobWatchCmd struct {
	ID int64 `arg:""`
}

func (c *JobWatchCmd) Run(ctx context.Context, g *Globals) error {
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
			_ = a.pr.Status(view.JobStep(st))
		}
		if !job.Status.Active() {
			if err := a.pr.Result(view.JobEnded{ID: job.ID, Status: job.Status}); err != nil {
				return err
			}
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

func (c *JobCancelCmd) Run(ctx context.Context, g *Globals) error {
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
	res := view.JobCancel{ID: c.ID, PID: job.PID, Host: job.Host, DryRun: g.DryRun}
	if g.DryRun {
		return a.pr.Result(res)
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
	return a.pr.Result(res)
}

// JobArchiveCmd is gnt-job archive.
type JobArchiveCmd struct {
	All bool    `help:"Archive every finished job."`
	IDs []int64 `arg:"" optional:"" name:"id"`
}

func (c *JobArchiveCmd) Run(ctx context.Context, g *Globals) error {
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
		return a.pr.Result(view.JobArchive{IDs: ids, DryRun: true})
	}
	for _, id := range ids {
		if err := j.Archive(ctx, id); err != nil {
			return err
		}
	}
	return a.pr.Outcome(view.JobArchive{IDs: ids})
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

// recoverJob resumes (or aborts) crashed job id, or with --dry-run shows
// what that would run.
func recoverJob(ctx context.Context, g *Globals, id int64, resume bool) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	return a.recoverJob(ctx, id, resume)
}

func (a *app) recoverJob(ctx context.Context, id int64, resume bool) error {
	if a.g.DryRun {
		p, err := a.eng.LeftToDo(ctx, id, resume)
		if err != nil {
			return err
		}
		return a.pr.Result(view.PlanView{Plan: p})
	}
	var out *job.Outcome
	var err error
	if resume {
		out, err = a.eng.Resume(ctx, id)
	} else {
		out, err = a.eng.Abort(ctx, id)
	}
	if err != nil {
		return err
	}
	return a.finished(out)
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
