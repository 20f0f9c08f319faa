package main

import (
	"context"
	"fmt"
	"os"
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
