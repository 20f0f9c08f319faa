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

// Recovery is what `cluster recover` shows before it writes the state.
type Recovery struct {
	Source  string // "copy" or "nodes"
	From    string // the copy's holder (a node, or the workstation)
	Serial  int64  // the copy's serial
	Lineage string
	Notes   []RecoveryNote
	Plan    *plan.Plan
}

// RenderRecovery prints where the state comes from, the notes as a table
// and the plan (secrets masked).
func RenderRecovery(w io.Writer, r Recovery) error {
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
	fmt.Fprintln(w)
	return RenderPlan(w, r.Plan)
}

// RecoveryJSON writes the recovery as one JSON object (its plan with
// secrets masked) with the extra result fields (committed, serial, ...).
func RecoveryJSON(w io.Writer, r Recovery, extra map[string]any) error {
	out := map[string]any{"source": r.Source, "from": r.From, "serial_taken": r.Serial, "lineage": r.Lineage,
		"notes": r.Notes, "plan": maskedPlan(r.Plan)}
	if r.Notes == nil {
		out["notes"] = []RecoveryNote{}
	}
	for k, v := range extra {
		out[k] = v
	}
	return JSON(w, out)
}

// StateCopyRow is one copy of the state in `state pull`'s report.
type StateCopyRow struct {
	Node    string `json:"node"`
	Serial  int64  `json:"serial,omitempty"`
	Lineage string `json:"lineage,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Status  string `json:"status"`
}

// RenderStateCopies prints the copies state pull looked at.
func RenderStateCopies(w io.Writer, rows []StateCopyRow) error {
	t := Table{Columns: []Column{{Title: "Node"}, {Title: "Serial", Numeric: true}, {Title: "Lineage"}, {Title: "SHA256"}, {Title: "Status"}}}
	for _, c := range rows {
		serial := ""
		if c.Serial > 0 {
			serial = strconv.FormatInt(c.Serial, 10)
		}
		t.Rows = append(t.Rows, []string{c.Node, serial, c.Lineage, c.SHA256, c.Status})
	}
	return RenderTable(w, t, TableOpts{})
}
