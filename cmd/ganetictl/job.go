package main

import (
	"context"
	"fmt"
	"os"
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
}

// JobListCmd is gnt-job list.
type JobListCmd struct{}

func (c *JobListCmd) Run(ctx context.Context, g *Globals) error {
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	return a.pr.Result(view.JobList(jobs))
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
