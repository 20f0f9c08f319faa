package view

import (
	"fmt"
	"io"
	"strings"
)

// BurninResult is a burnin's outcome (its progress went to Err as it ran).
type BurninResult struct {
	Instances  []string `json:"instances"`
	Operations int      `json:"operations"`
	Passed     bool     `json:"passed"`
	Kept       bool     `json:"kept_instances,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// Text writes one line.
func (r BurninResult) Text(w io.Writer) error {
	what := "passed"
	if !r.Passed {
		what = "FAILED"
	}
	line := fmt.Sprintf("Burnin %s: %d instance(s) (%s), %d operation(s)", what, len(r.Instances), strings.Join(r.Instances, ", "), r.Operations)
	if r.Kept {
		line += "; the instances were kept (-K)"
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
