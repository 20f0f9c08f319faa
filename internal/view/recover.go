package view

import (
	"fmt"
	"io"
	"strconv"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// RecoveryNote is one line of a recovery report: what was taken from
// where, corrected, guessed, or is ambiguous.
type RecoveryNote struct {
	Kind    string `json:"kind"`
	Object  string `json:"object"`
	Message string `json:"message"`
}

// Recovery is what `cluster recover` will write: where the state comes
// from, the notes, and the plan (secrets masked). People see it before
// the question (Printer.Preview); it is a dry run's result.
type Recovery struct {
	Source  string // "copy" or "nodes"
	From    string // the copy's holder (a node, or the workstation)
	Serial  int64  // the copy's serial
	Lineage string
	Notes   []RecoveryNote
	Plan    *plan.Plan
}

// Text writes where the state comes from, the notes as a table and the
// plan.
func (r Recovery) Text(w io.Writer) error {
	from := "the nodes (rebuilt)"
	if r.Source == "copy" {
		from = fmt.Sprintf("%s, serial %d", r.From, r.Serial)
	}
	if _, err := fmt.Fprintf(w, "Recovering the state from %s; lineage %s\n\n", from, r.Lineage); err != nil {
		return err
	}
	t := Table{Columns: []Column{{Title: "Kind"}, {Title: "Object"}, {Title: "Note"}}}
	for _, n := range r.Notes {
		t.Rows = append(t.Rows, []string{n.Kind, n.Object, n.Message})
	}
	if err := RenderTable(w, t, TableOpts{}); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	return RenderPlan(w, r.Plan)
}

// MarshalJSON writes one object: source, from, serial_taken, lineage,
// notes and the masked plan.
func (r Recovery) MarshalJSON() ([]byte, error) { return marshalRaw(r.fields()) }

func (r Recovery) fields() map[string]any {
	return map[string]any{"source": r.Source, "from": r.From, "serial_taken": r.Serial, "lineage": r.Lineage,
		"notes": nonNil(r.Notes), "plan": maskedPlan(r.Plan)}
}

// Recovered is `cluster recover` done: the state written as Serial and
// copied to the master candidates Replicated (Printer.Outcome).
type Recovered struct {
	Recovery   Recovery
	Serial     int64
	Replicated []string
	Ambiguous  int // notes that need attention
}

// Text says what was written, and whether notes need attention.
func (r Recovered) Text(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "State recovered: serial %d, lineage %s; copied to %d master candidate(s).\n",
		r.Serial, r.Recovery.Lineage, len(r.Replicated)); err != nil {
		return err
	}
	if r.Ambiguous > 0 {
		_, err := fmt.Fprintf(w, "WARNING: %d note(s) above need attention; run `ganetictl cluster verify`.\n", r.Ambiguous)
		return err
	}
	return nil
}

// MarshalJSON is the Recovery's object with committed, serial and
// replicated.
func (r Recovered) MarshalJSON() ([]byte, error) {
	m := r.Recovery.fields()
	m["committed"], m["serial"], m["replicated"] = true, r.Serial, r.Replicated
	return marshalRaw(m)
}

// StateCopyRow is one copy of the state in `state pull`'s report.
type StateCopyRow struct {
	Node    string `json:"node"`
	Serial  int64  `json:"serial,omitempty"`
	Lineage string `json:"lineage,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Status  string `json:"status"`
}

// StateCopies are the copies of the state `state pull` looked at: shown
// on their own before a refusal (Printer.Status).
type StateCopies []StateCopyRow

// Text writes the table: Node, Serial, Lineage, SHA256, Status.
func (c StateCopies) Text(w io.Writer) error {
	t := Table{Columns: []Column{{Title: "Node"}, {Title: "Serial", Numeric: true}, {Title: "Lineage"}, {Title: "SHA256"}, {Title: "Status"}}}
	for _, r := range c {
		serial := ""
		if r.Serial > 0 {
			serial = strconv.FormatInt(r.Serial, 10)
		}
		t.Rows = append(t.Rows, []string{r.Node, serial, r.Lineage, r.SHA256, r.Status})
	}
	return RenderTable(w, t, TableOpts{})
}

// StatePull is `state pull`: the copies looked at and what was done.
type StatePull struct {
	Copies    StateCopies `json:"copies"`
	TakenFrom string      `json:"taken_from,omitempty"`
	Serial    int64       `json:"serial,omitempty"`
	Lineage   string      `json:"lineage,omitempty"`
	Result    string      `json:"result"` // "took serial 7 (lineage L) from node2", "already up to date (serial 7)"
}

// Text writes the copies, then the result.
func (p StatePull) Text(w io.Writer) error {
	if err := p.Copies.Text(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", p.Result)
	return err
}
