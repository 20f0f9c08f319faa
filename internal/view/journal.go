package view

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

// JobList is `job list`: the journal's jobs, oldest first.
type JobList []*statefile.Job

// Text writes gnt-job list's table: ID, Status, Summary (the first
// opcode, or the command).
func (l JobList) Text(w io.Writer) error {
	t := Table{Columns: []Column{{Title: "ID", Numeric: true}, {Title: "Status"}, {Title: "Summary"}}}
	for _, job := range l {
		summary := job.Operation
		if len(job.Opcodes) > 0 {
			summary = job.Opcodes[0]
		}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(job.ID, 10), string(job.Status), summary})
	}
	return RenderTable(w, t, TableOpts{})
}

// JobInfo is `job info`: a job and its steps. Its JSON is the job as the
// journal holds it.
type JobInfo struct{ Job *statefile.Job }

// Text writes gnt-job info's tree.
func (j JobInfo) Text(w io.Writer) error { return RenderInfo(w, []Info{jobInfo(j.Job)}) }

// MarshalJSON is the journal's job.
func (j JobInfo) MarshalJSON() ([]byte, error) { return marshalRaw(j.Job) }

func jobInfo(job *statefile.Job) Info {
	var steps []Info
	for _, st := range job.Steps {
		dur, desc := "", st.Desc
		if !st.End.IsZero() {
			dur = st.End.Sub(st.Start).Round(time.Millisecond).String()
		}
		if st.Undo {
			desc = "undo: " + desc
		}
		steps = append(steps, Info{}.
			Add("Stage", st.Stage).Add("Node", st.Node).Add("Step", desc).Add("Status", string(st.Status)).
			Add("Duration", dur).Add("Error", st.Error).Add("Output", st.Output))
	}
	return Info{}.
		Add("Job ID", job.ID).
		Add("Status", string(job.Status)).
		Add("Command", job.Operation).
		Add("Reason", orNone(job.Reason)).
		Add("Priority", orDefault(job.Priority, "normal")).
		Add("Submitted by", job.Who+"@"+job.Host+" pid "+strconv.Itoa(job.PID)).
		Add("Processing start", stamp(job.Started)).
		Add("Processing end", stamp(job.Ended)).
		Add("Opcodes", job.Opcodes).
		Add("Steps", steps).
		Add("Log", job.Log)
}

// JobStep is a step of a watched job that ended (`job watch`, shown with
// Printer.Status): "15:04:05 node2: create the volume ... success".
type JobStep statefile.StepRecord

// Text writes the step's line, with its error if it failed.
func (s JobStep) Text(w io.Writer) error {
	what := s.Desc
	if s.Undo {
		what = "undo: " + what
	}
	line := fmt.Sprintf("%s %s: %s ... %s", s.End.Local().Format("15:04:05"), s.Node, what, s.Status)
	if s.Error != "" {
		line += ": " + s.Error
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// JobEnded is how a watched job ended: "Job 7 success".
type JobEnded struct {
	ID     int64               `json:"job_id"`
	Status statefile.JobStatus `json:"status"`
}

// Text writes "Job ID STATUS".
func (j JobEnded) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "Job %d %s\n", j.ID, j.Status)
	return err
}

// JobCancel is `job cancel`: the job interrupted (SIGINT to its process),
// or in a dry run the one that would be.
type JobCancel struct {
	ID     int64  `json:"job_id"`
	PID    int    `json:"pid"`
	Host   string `json:"host"`
	DryRun bool   `json:"dry_run"`
}

// Text writes gnt-job cancel's line, or what a dry run would do.
func (c JobCancel) Text(w io.Writer) error {
	var err error
	if c.DryRun {
		_, err = fmt.Fprintf(w, "Would cancel job %d (SIGINT to pid %d on %s)\n", c.ID, c.PID, c.Host)
	} else {
		_, err = fmt.Fprintf(w, "Job %d has been cancelled\n", c.ID)
	}
	return err
}

// JobArchive is `job archive`: the jobs moved to the archive, or in a dry
// run those that would be. Done, it is a status line (Printer.Outcome).
type JobArchive struct {
	IDs    []int64 `json:"job_ids"`
	DryRun bool    `json:"dry_run"`
}

// Text writes how many jobs were (or would be) archived.
func (a JobArchive) Text(w io.Writer) error {
	var err error
	if a.DryRun {
		_, err = fmt.Fprintf(w, "Would archive %d job(s): %v\n", len(a.IDs), a.IDs)
	} else {
		_, err = fmt.Fprintf(w, "Archived %d job(s)\n", len(a.IDs))
	}
	return err
}

// MarshalJSON writes no jobs as [].
func (a JobArchive) MarshalJSON() ([]byte, error) {
	type plain JobArchive
	a.IDs = nonNil(a.IDs)
	return marshalRaw(plain(a))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
