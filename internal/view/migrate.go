package view

import (
	"fmt"
	"io"
)

// StateMigrate is state migrate's result: the state moved from one
// backend to another.
type StateMigrate struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Backend  string `json:"backend"`
	Serial   int64  `json:"serial"`
	Lineage  string `json:"lineage"`
	Versions int    `json:"versions"`
	Jobs     int    `json:"jobs"`
	DryRun   bool   `json:"dry_run,omitempty"`
}

func (m StateMigrate) Text(w io.Writer) error {
	verb := "Moved"
	if m.DryRun {
		verb = "Would move"
	}
	_, err := fmt.Fprintf(w, "%s the state (serial %d, lineage %s, %d versions, %d jobs)\n  from %s\n  to   %s\n"+
		"Set [state] backend = %q in the inventory to use it; the old backend is kept, drained.\n",
		verb, m.Serial, m.Lineage, m.Versions, m.Jobs, m.From, m.To, m.Backend)
	return err
}
