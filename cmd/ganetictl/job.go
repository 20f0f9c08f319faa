package main

import (
	"context"
	"strconv"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

// JobCmd is gnt-job: the journal of operations run against this state.
type JobCmd struct {
	List JobListCmd `cmd:"" help:"List jobs (crashed ones are those whose process died mid-run)."`
	Info JobInfoCmd `cmd:"" help:"Show a job's steps."`
}

// JobListCmd is gnt-job list.
type JobListCmd struct{}

func (c *JobListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	j, err := a.store.Journal()
	if err != nil {
		return err
	}
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
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	j, err := a.store.Journal()
	if err != nil {
		return err
	}
	job, err := j.Get(ctx, c.ID)
	if err != nil {
		return invalid("job %d: %v", c.ID, err)
	}
	if g.JSON {
		return view.JSON(s.Out, job)
	}
	return view.RenderInfo(s.Out, []view.Info{jobInfo(job)})
}

func jobInfo(job *statefile.Job) view.Info {
	var steps []view.Info
	for _, st := range job.Steps {
		steps = append(steps, view.Info{}.
			Add("Stage", st.Stage).Add("Node", st.Node).Add("Step", st.Desc).Add("Status", string(st.Status)).
			Add("Duration", st.End.Sub(st.Start).String()).Add("Error", st.Error))
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
