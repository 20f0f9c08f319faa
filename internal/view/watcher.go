package view

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WatcherReport is one watcher pass: what it did (each action a job),
// what it noticed and left, or why it did nothing.
type WatcherReport struct {
	// Skipped says why the pass did nothing at all: paused, another pass
	// running, the queue drained. Empty when it ran.
	Skipped string `json:"skipped,omitempty"`
	// Quiet marks a skip that prints nothing for people (another pass
	// runs: cron sends no mail).
	Quiet       bool            `json:"-"`
	PausedUntil *time.Time      `json:"paused_until,omitempty"`
	Actions     []WatcherAction `json:"actions"`
	Notes       []WatcherNote   `json:"notes,omitempty"`
	Archived    int             `json:"archived_jobs"`
	// Acted is true when some action ran; Failed counts the actions that
	// failed and the instances given up on.
	Acted  bool `json:"acted"`
	Failed int  `json:"failed"`
}

// WatcherAction is one job of a pass.
type WatcherAction struct {
	Kind    string `json:"kind"`    // restart, cleanup, activate-disks, node-maintenance, record
	Subject string `json:"subject"` // the instance or node
	Detail  string `json:"detail,omitempty"`
	JobID   int64  `json:"job_id,omitempty"`
	// Result is done, failed, skipped (another job held the object) or
	// unneeded (it turned out to be fine when the job planned).
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// WatcherNote is something the pass noticed and left.
type WatcherNote struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Error  bool   `json:"error,omitempty"`
}

// watcherVerbs say what each kind of action does, as Ganeti's watcher logs it.
var watcherVerbs = map[string]string{
	"restart":          "Restarting instance '%s'",
	"cleanup":          "Cleaning up instance '%s' (shut down by its guest)",
	"activate-disks":   "Activating disks for instance '%s'",
	"node-maintenance": "Shutting down what runs on offline node '%s'",
}

// Text writes one line per action and per note, or why nothing ran.
func (r WatcherReport) Text(w io.Writer) error {
	var b strings.Builder
	switch {
	case r.Quiet:
		return nil
	case r.Skipped != "":
		fmt.Fprintf(&b, "%s\n", r.Skipped)
		_, err := io.WriteString(w, b.String())
		return err
	}
	for _, a := range r.Actions {
		if a.Kind == "record" {
			continue
		}
		verb, ok := watcherVerbs[a.Kind]
		if !ok {
			verb = a.Kind + " %s"
		}
		line := fmt.Sprintf(verb, a.Subject)
		if a.Detail != "" {
			line += " (" + a.Detail + ")"
		}
		line += ": " + a.Result
		if a.JobID != 0 {
			line += fmt.Sprintf(" (job %d)", a.JobID)
		}
		if a.Error != "" {
			line += ": " + a.Error
		}
		b.WriteString(line + "\n")
	}
	for _, n := range r.Notes {
		sev := "WARNING"
		if n.Error {
			sev = "ERROR"
		}
		fmt.Fprintf(&b, "%s: %s %s: %s\n", sev, n.Kind, n.Name, n.Reason)
	}
	if r.Archived > 0 {
		fmt.Fprintf(&b, "Archived %d job(s)\n", r.Archived)
	}
	if len(r.Actions) == 0 && len(r.Notes) == 0 {
		b.WriteString("Nothing to do.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WatcherPauseInfo is `cluster watcher pause|continue|info`, with the
// guide's sentences.
type WatcherPauseInfo struct {
	Paused bool       `json:"paused"`
	Until  *time.Time `json:"until,omitempty"`
	// Continued marks `continue`: "The watcher is no longer paused."
	Continued bool `json:"-"`
	DryRun    bool `json:"dry_run,omitempty"`
}

// Text writes Ganeti's sentence; the time as ctime(3) prints it.
func (p WatcherPauseInfo) Text(w io.Writer) error {
	var err error
	would := ""
	if p.DryRun {
		would = "Would set: "
	}
	switch {
	case p.Continued:
		_, err = fmt.Fprintf(w, "%sThe watcher is no longer paused.\n", would)
	case p.Paused && p.Until != nil:
		_, err = fmt.Fprintf(w, "%sThe watcher is paused until %s.\n", would, p.Until.Local().Format("Mon Jan _2 15:04:05 2006"))
	default:
		_, err = fmt.Fprintln(w, "The watcher is not paused.")
	}
	return err
}
