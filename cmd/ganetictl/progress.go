package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/transfer"
)

// streamEvents makes a copying command's --json output the event stream
// of `apply --json` (version, plan, steps, "transfer" progress, result,
// then done or error) instead of one result object, so a pipeline can
// follow a long copy. A dry run or --plan-out keeps its plan output. The
// returned function ends the stream with the command's error.
func (a *app) streamEvents() func(error) error {
	if !a.g.JSON || a.g.DryRun || a.g.PlanOut != "" {
		return func(err error) error { return err }
	}
	a.events = view.NewEvents(a.s.Out, time.Now)
	return func(err error) error {
		if err != nil {
			a.events.Error(err, exitCode(err))
			return &silentError{err}
		}
		a.events.Done(nil)
		return nil
	}
}

// StepStderr streams a disk copy's progress (the sending helper's JSON
// lines on stderr) to a progress bar on a terminal, else to a plain line
// every two seconds (apply.StderrHooks).
func (h *progressHooks) StepStderr(s *plan.Step) io.Writer {
	if !playbooks.IsCopySend(s) {
		return nil
	}
	return &copyProgress{t: h.p.Transfer(s.Node, s.Desc)}
}

// StepStderr streams a disk copy's progress as "transfer" events
// (apply.StderrHooks).
func (h *eventHooks) StepStderr(s *plan.Step) io.Writer {
	if !playbooks.IsCopySend(s) {
		return nil
	}
	return &copyProgress{t: h.Events.Transfer(s.Node, s.Desc)}
}

// copyProgress turns the helper's progress lines into a view.Transfer's
// updates.
type copyProgress struct {
	t       view.Transfer
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
		c.t.Update(view.TransferStatus{Bytes: ev.Bytes, Total: ev.Total, Rate: ev.Rate, Done: ev.Done})
	}
}

// eventHooks send apply's progress to the JSON event stream.
type eventHooks struct{ *view.Events }

// progressHooks print apply progress to stderr.
type progressHooks struct {
	apply.NoHooks
	p       *view.Progress
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
