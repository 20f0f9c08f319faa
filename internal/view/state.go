package view

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// History is `state history`: the state's versions, oldest first, the
// current one marked "*".
type History []statefile.HistoryEntry

// Text writes the table: Serial, Time, Who, Operation.
func (h History) Text(w io.Writer) error {
	t := Table{Columns: []Column{{Title: "Serial", Numeric: true}, {Title: "Time"}, {Title: "Who"}, {Title: "Operation"}}}
	for _, e := range h {
		serial := strconv.FormatInt(e.Serial, 10)
		if e.Current {
			serial += "*"
		}
		t.Rows = append(t.Rows, []string{serial, stamp(e.Time), e.Who, e.Operation})
	}
	return RenderTable(w, t, TableOpts{})
}

// StateDiff is `state diff`: the changed lines between two serials'
// states, secrets masked, "@@" between runs of changes.
type StateDiff struct {
	Diff []string `json:"diff"`
	From int64    `json:"from"`
	To   string   `json:"to"` // a serial, or "current"
}

// Text writes the diff with its "--- serial A" / "+++ serial B" header.
func (d StateDiff) Text(w io.Writer) error {
	return writeDiff(w, fmt.Sprintf("serial %d", d.From), "serial "+d.To, d.Diff)
}

// MarshalJSON writes the diff as [] when nothing changed.
func (d StateDiff) MarshalJSON() ([]byte, error) {
	type plain StateDiff
	d.Diff = nonNil(d.Diff)
	return marshalRaw(plain(d))
}

func writeDiff(w io.Writer, from, to string, lines []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", from, to)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// LockBroken is `state unlock --force ID` done (Printer.Outcome).
type LockBroken struct {
	ID string `json:"lock_id"`
}

// Text writes "Lock ID broken."
func (l LockBroken) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "Lock %s broken.\n", l.ID)
	return err
}

// MarshalJSON adds "broken": true.
func (l LockBroken) MarshalJSON() ([]byte, error) {
	return marshalRaw(struct {
		ID     string `json:"lock_id"`
		Broken bool   `json:"broken"`
	}{l.ID, true})
}

// StateImport is `state import`: what was (or, in a dry run, would be)
// imported from a Ganeti config.data.
type StateImport struct {
	DryRun        bool     `json:"dry_run"`
	GanetiSerial  int64    `json:"ganeti_serial"`  // config.data's serial_no
	GanetiVersion string   `json:"ganeti_version"` // "3.0.0"
	Lineage       string   `json:"lineage,omitempty"`
	Serial        int64    `json:"serial,omitempty"` // of the state written; none in a dry run
	Summary       Info     `json:"summary"`          // StateSummary
	Warnings      []string `json:"warnings"`         // also shown on Err
}

// Text writes the summary, then what was written or that nothing was.
func (s StateImport) Text(w io.Writer) error {
	verb := "Imported"
	if s.DryRun {
		verb = "Would import"
	}
	if _, err := fmt.Fprintf(w, "%s Ganeti %s configuration (config serial %d):\n", verb, s.GanetiVersion, s.GanetiSerial); err != nil {
		return err
	}
	if err := RenderInfo(w, s.Summary); err != nil {
		return err
	}
	if s.DryRun {
		_, err := fmt.Fprintln(w, "Dry run: nothing written.")
		return err
	}
	_, err := fmt.Fprintf(w, "Imported as serial %d, lineage %s. Next: check the inventory has every node, then run `ganetictl cluster verify`.\n",
		s.Serial, s.Lineage)
	return err
}

// MarshalJSON writes the warnings as [] when there are none.
func (s StateImport) MarshalJSON() ([]byte, error) {
	type plain StateImport
	s.Warnings = nonNil(s.Warnings)
	return marshalRaw(plain(s))
}

// RollbackPlan is what `state rollback` will write: shown before the
// question (Printer.Preview), and a dry run's result with the diff.
type RollbackPlan struct {
	Changes     []string `json:"changes"` // "~ cluster", "+ instance web2", ...
	Diff        []string `json:"diff"`    // as state diff shows it
	DryRun      bool     `json:"dry_run"`
	FromSerial  int64    `json:"from_serial"`   // the current serial
	NewSerial   int64    `json:"new_serial"`    // the serial the rollback writes
	ToContentOf int64    `json:"to_content_of"` // the serial whose content comes back
}

// Text writes the changes by object; a dry run adds the diff.
func (r RollbackPlan) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Rolling back to the content of serial %d, written as serial %d (current: %d). Changes:\n", r.ToContentOf, r.NewSerial, r.FromSerial)
	for _, l := range r.Changes {
		b.WriteString("  " + l + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil || !r.DryRun {
		return err
	}
	if err := writeDiff(w, fmt.Sprintf("serial %d (current)", r.FromSerial), fmt.Sprintf("serial %d", r.ToContentOf), r.Diff); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Dry run: nothing written.")
	return err
}

// MarshalJSON writes empty lists as [].
func (r RollbackPlan) MarshalJSON() ([]byte, error) {
	type plain RollbackPlan
	r.Changes, r.Diff = nonNil(r.Changes), nonNil(r.Diff)
	return marshalRaw(plain(r))
}

// RolledBack is `state rollback` done.
type RolledBack struct {
	Changes     []string `json:"changes"`
	RolledBack  bool     `json:"rolled_back"` // always true
	Serial      int64    `json:"serial"`      // the serial written
	ToContentOf int64    `json:"to_content_of"`
}

// Text says what was written and what to check next.
func (r RolledBack) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "State rolled back: serial %d has the content of serial %d. Run `ganetictl cluster verify` to see where the nodes differ.\n",
		r.Serial, r.ToContentOf)
	return err
}

// MarshalJSON sets rolled_back and writes no changes as [].
func (r RolledBack) MarshalJSON() ([]byte, error) {
	type plain RolledBack
	r.RolledBack, r.Changes = true, nonNil(r.Changes)
	return marshalRaw(plain(r))
}

// RollbackNoop is a rollback to a serial with the current content: nothing
// is written (Printer.Outcome).
type RollbackNoop struct {
	DryRun      bool  `json:"dry_run,omitempty"`
	RolledBack  bool  `json:"rolled_back"` // always false
	Serial      int64 `json:"serial"`      // the current serial
	ToContentOf int64 `json:"to_content_of"`
}

// Text says there is nothing to do.
func (r RollbackNoop) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "Serial %d has the same content as the current state (serial %d); nothing to do.\n", r.ToContentOf, r.Serial)
	return err
}

// SanitizedConfig is state sanitize's output: the sanitized JSON
// document, the same for people and with --json.
type SanitizedConfig []byte

// Text writes the document.
func (s SanitizedConfig) Text(w io.Writer) error {
	_, err := w.Write(s)
	return err
}

// MarshalJSON is the document itself.
func (s SanitizedConfig) MarshalJSON() ([]byte, error) { return []byte(s), nil }
