package view

import (
	"fmt"
	"io"
	"time"
)

// Result is a command's output as one value: Text renders it for people;
// its JSON form is the value itself (json.Marshal), so both show the same
// data. Commands build a Result and hand it to Printer.Result instead of
// choosing between text and JSON themselves. Text may write nothing: a
// command that succeeds silently for people still has a JSON result.
type Result interface {
	Text(w io.Writer) error
}

// Printer is how a command writes: its result on Out (JSON with --json),
// notes and warnings on Err. It is built once from the global flags.
type Printer struct {
	Streams
	JSON bool
}

// Result writes r to Out, as JSON or as text.
func (p Printer) Result(r Result) error {
	if p.JSON {
		return JSON(p.Out, r)
	}
	return r.Text(p.Out)
}

// Preview writes r's text to Out for people to read before a question
// (what a rollback or a recovery will write). With JSON it writes
// nothing: the result written afterwards carries the data.
func (p Printer) Preview(r Result) error {
	if p.JSON {
		return nil
	}
	return r.Text(p.Out)
}

// Outcome writes a result whose text is a status line for people rather
// than output ("Lock ... broken.", "Archived 2 job(s)"): the text on Err,
// or the JSON on Out like every result.
func (p Printer) Outcome(r Result) error {
	if p.JSON {
		return JSON(p.Out, r)
	}
	return r.Text(p.Err)
}

// Status writes r's text to Err, with or without JSON: what a command is
// doing (a console attached, a job's steps as they end) or the details
// of a refusal that follows.
func (p Printer) Status(r Result) error {
	return r.Text(p.Err)
}

// Warning writes "WARNING: msg" to Err, as Ganeti's tools do.
func (p Printer) Warning(format string, a ...any) {
	fmt.Fprintf(p.Err, "WARNING: "+format+"\n", a...)
}

// Note writes an informational line to Err (never to Out, which scripts
// read).
func (p Printer) Note(format string, a ...any) {
	fmt.Fprintf(p.Err, format+"\n", a...)
}

// Lines is a Result of plain lines (text) and a list (JSON).
type Lines []string

// Text writes one line each.
func (l Lines) Text(w io.Writer) error {
	for _, s := range l {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}

// EventStream is the JSON event stream on Out with --json (the output of
// apply and of the copying commands), or nil without it.
func (p Printer) EventStream(now func() time.Time) *Events {
	if !p.JSON {
		return nil
	}
	return NewEvents(p.Out, now)
}

// Submitted is a job queued with --submit: "JobID: N", as gnt-* prints it.
type Submitted struct {
	JobID int64 `json:"job_id"`
}

// Text writes Ganeti's line.
func (s Submitted) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "JobID: %d\n", s.JobID)
	return err
}
