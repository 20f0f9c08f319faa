package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/ganetictl/ganetictl/desired"
)

// RenderDesired writes a desired-state plan the way Terraform does: one
// line per object with its symbol (+ add, ~ change, - destroy, -/+
// recreate), its attribute changes indented below, the operations that
// will run, and the summary line.
//
//	~ instance db1
//	    disk 0: 1024 -> 2048 MiB
//
//	Plan: 0 to add, 1 to change, 0 to destroy.
func RenderDesired(w io.Writer, r *desired.Result) error {
	var b strings.Builder
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", warn)
	}
	if r.Empty() {
		b.WriteString("No changes. The cluster matches the desired state.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%3s %s %s\n", c.Symbol, c.Kind, c.Name)
		for _, d := range c.Details {
			fmt.Fprintf(&b, "      %s\n", d)
		}
	}
	b.WriteString("\nOperations, in order:\n")
	for i, op := range r.Ops {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, op.Desc)
	}
	add, change, destroy := r.Counts()
	fmt.Fprintf(&b, "\nPlan: %d to add, %d to change, %d to destroy.\n", add, change, destroy)
	_, err := io.WriteString(w, b.String())
	return err
}

// DesiredJSON is the machine form of a desired-state plan.
type DesiredJSON struct {
	FormatVersion int               `json:"format_version"`
	Changes       []*desired.Change `json:"changes"`
	Operations    []string          `json:"operations"`
	Warnings      []string          `json:"warnings,omitempty"`
	Summary       map[string]int    `json:"summary"`
}

// DesiredPlanJSON writes a desired-state plan as JSON.
func DesiredPlanJSON(w io.Writer, r *desired.Result) error {
	return JSON(w, desiredJSON(r))
}

func desiredJSON(r *desired.Result) DesiredJSON {
	add, change, destroy := r.Counts()
	out := DesiredJSON{FormatVersion: 1, Changes: r.Changes, Operations: []string{}, Warnings: r.Warnings,
		Summary: map[string]int{"add": add, "change": change, "destroy": destroy}}
	if out.Changes == nil {
		out.Changes = []*desired.Change{}
	}
	for _, op := range r.Ops {
		out.Operations = append(out.Operations, op.Desc)
	}
	return out
}

// DesiredPlan is `plan -f`'s result: RenderDesired's text, DesiredJSON.
type DesiredPlan struct{ Result *desired.Result }

// Text renders the plan for people.
func (d DesiredPlan) Text(w io.Writer) error { return RenderDesired(w, d.Result) }

// MarshalJSON is DesiredJSON.
func (d DesiredPlan) MarshalJSON() ([]byte, error) { return marshalRaw(desiredJSON(d.Result)) }
