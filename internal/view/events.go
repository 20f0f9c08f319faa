package view

import (
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// EventsVersion is the version of the JSON event stream (`apply --json`).
// It is bumped when a consumer's parser must change; adding event types or
// fields is not such a change.
const EventsVersion = 1

// Events writes a run as a stream of JSON objects, one per line, each with
// a "type": first {"type":"version"}, then for each operation "plan",
// "step_started", "step_finished" (node, duration_ms, error), "progress",
// "transfer" (a disk copy's bytes, total_bytes, rate_bytes_per_second,
// eta_seconds, complete; about once a second), "state_saved" and "result", and at the end "done" or "error". It
// implements apply.Hooks; calls may come from several goroutines.
type Events struct {
	mu          sync.Mutex
	w           io.Writer
	now         func() time.Time
	op          string
	stage       string
	total, done int
}

// Event is one line of the stream. Empty fields are left out.
type Event struct {
	Type       string         `json:"type"`
	Time       string         `json:"time,omitempty"`
	Version    int            `json:"version,omitempty"`
	Operation  string         `json:"operation,omitempty"`
	Stage      string         `json:"stage,omitempty"`
	Node       string         `json:"node,omitempty"`
	Action     string         `json:"action,omitempty"`
	Desc       string         `json:"desc,omitempty"`
	DurationMS *int64         `json:"duration_ms,omitempty"`
	Error      string         `json:"error,omitempty"`
	ExitCode   *int           `json:"exit_code,omitempty"`
	Done       *int           `json:"done,omitempty"`
	Total      *int           `json:"total,omitempty"`
	Serial     *int64         `json:"serial,omitempty"`
	Committed  *bool          `json:"committed,omitempty"`
	Failed     *int           `json:"failed_steps,omitempty"`
	Plan       *EventPlan     `json:"plan,omitempty"`
	Summary    map[string]int `json:"summary,omitempty"`
	// transfer events (a disk copy's progress)
	Bytes      *int64   `json:"bytes,omitempty"`
	TotalBytes *int64   `json:"total_bytes,omitempty"`
	Rate       *float64 `json:"rate_bytes_per_second,omitempty"`
	ETA        *float64 `json:"eta_seconds,omitempty"`
	Complete   *bool    `json:"complete,omitempty"`
}

// EventPlan is the plan event's summary of a plan (the whole plan is
// `--plan-out` or `--dry-run --json`).
type EventPlan struct {
	FormatVersion int           `json:"format_version"`
	Lineage       string        `json:"state_lineage"`
	Serial        int64         `json:"state_serial"`
	Stages        int           `json:"stages"`
	Steps         int           `json:"steps"`
	Changes       []EventChange `json:"changes"`
	Warnings      []string      `json:"warnings,omitempty"`
}

// EventChange names one state object a plan changes.
type EventChange struct {
	Action string `json:"action"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
}

// NewEvents starts a stream on w; now stamps the events (time.Now, or a
// fixed clock in tests). It writes the version line.
func NewEvents(w io.Writer, now func() time.Time) *Events {
	e := &Events{w: w, now: now}
	e.emit(Event{Type: "version", Version: EventsVersion})
	return e
}

func (e *Events) emit(ev Event) {
	if e.now != nil {
		ev.Time = e.now().UTC().Format(time.RFC3339Nano)
	}
	_ = JSONLine(e.w, ev)
}

// Plan announces the plan about to be applied.
func (e *Events) Plan(p *plan.Plan) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.op, e.stage, e.done, e.total = p.Operation, "", 0, 0
	ep := &EventPlan{FormatVersion: p.FormatVersion, Lineage: p.StateLineage, Serial: p.StateSerial, Stages: len(p.Stages),
		Changes: []EventChange{}, Warnings: p.Warnings}
	for _, st := range p.Stages {
		ep.Steps += len(st.Steps)
	}
	for _, c := range p.Changes {
		ep.Changes = append(ep.Changes, EventChange{Action: c.Action.String(), Kind: c.Kind, Name: c.Name})
	}
	e.total = ep.Steps
	e.emit(Event{Type: "plan", Operation: p.Operation, Plan: ep})
}

// StageStarted implements apply.Hooks.
func (e *Events) StageStarted(st *plan.Stage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stage = st.Name
}

// StepStarted implements apply.Hooks.
func (e *Events) StepStarted(s *plan.Step) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emit(Event{Type: "step_started", Operation: e.op, Stage: e.stage, Node: s.Node, Action: s.Action.String(), Desc: stepDesc(s)})
}

// StepFinished implements apply.Hooks.
func (e *Events) StepFinished(r apply.StepResult) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ms := r.Duration.Milliseconds()
	ev := Event{Type: "step_finished", Operation: e.op, Stage: e.stage, Node: r.Step.Node, Action: r.Step.Action.String(), Desc: stepDesc(r.Step), DurationMS: &ms}
	if r.Err != nil {
		ev.Error = r.Err.Error()
	}
	e.emit(ev)
	e.done++
	done, total := e.done, e.total
	e.emit(Event{Type: "progress", Operation: e.op, Done: &done, Total: &total})
}

// Undoing implements apply.Hooks.
func (e *Events) Undoing(s *plan.Step) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emit(Event{Type: "step_started", Operation: e.op, Stage: "undo", Node: s.Node, Action: s.Action.String(), Desc: stepDesc(s)})
}

// StateSaved implements apply.Hooks.
func (e *Events) StateSaved(serial int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emit(Event{Type: "state_saved", Operation: e.op, Serial: &serial})
}

// Result ends one operation.
func (e *Events) Result(op string, committed bool, serial int64, failed int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emit(Event{Type: "result", Operation: op, Committed: &committed, Serial: &serial, Failed: &failed})
}

// Done ends a successful run; summary counts what was done (e.g. the
// desired-state apply's added/changed/destroyed objects).
func (e *Events) Done(summary map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emit(Event{Type: "done", Summary: summary})
}

// Error ends a failed run.
func (e *Events) Error(err error, exitCode int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emit(Event{Type: "error", Operation: e.op, Error: err.Error(), ExitCode: &exitCode})
}

// stepDesc is the step's purpose, or its command with secrets masked.
func stepDesc(s *plan.Step) string {
	if s.Desc != "" {
		return s.Desc
	}
	if len(s.Argv) == 0 {
		return "upload " + s.Path
	}
	return oneLine(strings.TrimSpace(quoteMasked(s.Argv)))
}
