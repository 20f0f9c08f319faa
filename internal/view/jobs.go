package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// JobReporter shows what the job engine does (it implements
// job.Reporter): lock waits, warnings and notes on Err; a run's progress
// as lines on Err, or as the JSON event stream of `apply --json` when
// Events is set.
type JobReporter struct {
	Printer
	Verbose    bool    // every node command, not only what steps achieve
	Events     *Events // the JSON event stream, or nil
	PrintJobID bool    // --print-jobid: "JobID: N" when a job starts
	Now        func() time.Time
}

// Waiting says whom a job waits for: "Waiting for instance web1, held by
// alice@ws pid 123 ("instance migrate web1") (--lock-timeout 2m0s)".
func (r *JobReporter) Waiting(req statefile.LockReq, holders []statefile.LockInfo, timeout time.Duration) {
	who := "another ganetictl"
	if len(holders) > 0 {
		h := holders[0]
		who = fmt.Sprintf("%s@%s pid %d (%q)", h.Who, h.Host, h.PID, h.Operation)
	}
	r.Printer.Note("Waiting for %s, held by %s (--lock-timeout %s)", strings.TrimSuffix(req.String(), " (shared)"), who, timeout)
}

// Warning writes "WARNING: msg".
func (r *JobReporter) Warning(msg string) { r.Printer.Warning("%s", msg) }

// JobStarted prints "JobID: N" with --print-jobid (not with --json: the
// result has the ID).
func (r *JobReporter) JobStarted(id int64) {
	if r.PrintJobID && !r.JSON {
		fmt.Fprintf(r.Out, "JobID: %d\n", id)
	}
}

// Note writes msg as " - INFO: msg", as Ganeti's tools show information.
func (r *JobReporter) Note(msg string) { r.Printer.Note(" - INFO: %s", msg) }

// Run gives the progress hooks of a run of p.
func (r *JobReporter) Run(p *plan.Plan) apply.Hooks {
	if r.Events != nil {
		r.Events.Plan(p)
		return eventHooks{r.Events}
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	return &progressHooks{p: NewProgress(r.Err, now), verbose: r.Verbose}
}

// RunResult is the result of a mutating command: nothing for people (the
// progress said it all), one object with --json.
type RunResult struct {
	Operation string `json:"operation"`
	JobID     int64  `json:"job_id,omitempty"`
	Committed bool   `json:"committed"`
	Serial    int64  `json:"serial"`
	Failed    int    `json:"failed_steps"`
	Aborted   bool   `json:"aborted,omitempty"`
	Error     string `json:"error,omitempty"` // of one of several jobs
}

// RunResults are the results of several jobs of one command (startup
// --all): nothing for people, a JSON array.
type RunResults []RunResult

// Text writes nothing: progress and warnings said it.
func (RunResults) Text(io.Writer) error { return nil }

// Text writes nothing.
func (RunResult) Text(io.Writer) error { return nil }

// Finished shows a run's result: an event of the stream, or the result
// object with --json.
func (r *JobReporter) Finished(res RunResult) error {
	if r.Events != nil {
		r.Events.Result(res.Operation, res.Committed, res.Serial, res.Failed)
		return nil
	}
	return r.Result(res)
}

// eventHooks send a run's progress to the JSON event stream.
type eventHooks struct{ *Events }

// StepStderr streams a disk copy's progress as "transfer" events
// (apply.StderrHooks).
func (h eventHooks) StepStderr(s *plan.Step) io.Writer {
	if !s.Progress {
		return nil
	}
	return &copyProgress{t: h.Events.Transfer(s.Node, s.Desc)}
}

// progressHooks print a run's progress: a line per stage and per step.
type progressHooks struct {
	apply.NoHooks
	p       *Progress
	verbose bool
}

func (h *progressHooks) StageStarted(st *plan.Stage) {
	if len(st.Steps) > 0 {
		h.p.Printf("* %s", st.Name)
	}
}

func (h *progressHooks) StepFinished(r apply.StepResult) {
	what := r.Step.Desc
	if h.verbose || what == "" {
		what = strings.Join(r.Step.Argv, " ")
		if len(r.Step.Argv) > 2 && r.Step.Argv[0] == "sh" && r.Step.Argv[1] == "-c" {
			what = r.Step.Desc
		}
	}
	h.p.Done(r.Step.Node, what, r.Duration, r.Err)
}

func (h *progressHooks) Undoing(s *plan.Step) { h.p.Printf("  undo on %s: %s", s.Node, s.Desc) }

// StepStderr streams a disk copy's progress (the sending helper's JSON
// lines on stderr) to a bar on a terminal, else to a plain line every two
// seconds (apply.StderrHooks).
func (h *progressHooks) StepStderr(s *plan.Step) io.Writer {
	if !s.Progress {
		return nil
	}
	return &copyProgress{t: h.p.Transfer(s.Node, s.Desc)}
}

// copyProgress turns the helper's progress lines into a Transfer's
// updates.
type copyProgress struct {
	t       Transfer
	partial []byte
}

func (c *copyProgress) Write(b []byte) (int, error) {
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := c.partial[:i]
		c.partial = c.partial[i+1:]
		var ev struct {
			Event string `json:"event"`
			transfer.Progress
		}
		if json.Unmarshal(line, &ev) != nil || ev.Event != "progress" || ev.Total <= 0 {
			continue
		}
		c.t.Update(TransferStatus{Bytes: ev.Bytes, Total: ev.Total, Rate: ev.Rate, Done: ev.Done})
	}
}
