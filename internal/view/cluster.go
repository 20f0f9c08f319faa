package view

import (
	"fmt"
	"io"
	"strings"
)

// Master is `cluster getmaster`: the master node's name.
type Master struct {
	Name string `json:"master"`
}

// Text writes the name alone, for scripts (as gnt-cluster getmaster).
func (m Master) Text(w io.Writer) error {
	_, err := fmt.Fprintln(w, m.Name)
	return err
}

// NodeOutput is what a command run by `cluster command` did on one node.
type NodeOutput struct {
	Node     string `json:"node"`
	Output   string `json:"output"` // stdout then stderr
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"` // why it did not run (then ExitCode is -1)
}

// CommandOutputs is `cluster command`'s result: gnt-cluster command's
// blocks, or the outputs as a JSON array.
type CommandOutputs struct {
	Outputs      []NodeOutput
	FailureOnly  bool // --failure-only: only the nodes where it failed
	MachineNames bool // -M: every output line prefixed with the node name
}

// Text writes one block per node:
//
//	------------------------------------------------
//	node: node1
//	 12:00:01 up 3 days
//	return code = 0
func (c CommandOutputs) Text(w io.Writer) error {
	var b strings.Builder
	for _, o := range c.Outputs {
		if c.FailureOnly && o.ExitCode == 0 {
			continue
		}
		text := strings.TrimRight(o.Output, "\n")
		if o.Error != "" {
			text = o.Error
		}
		b.WriteString("------------------------------------------------\n")
		if c.MachineNames {
			for _, line := range strings.Split(text, "\n") {
				fmt.Fprintf(&b, "%s: %s\n", o.Node, line)
			}
		} else {
			fmt.Fprintf(&b, "node: %s\n%s\n", o.Node, text)
		}
		fmt.Fprintf(&b, "return code = %d\n", o.ExitCode)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON is the outputs, all of them (--failure-only is for people).
func (c CommandOutputs) MarshalJSON() ([]byte, error) { return marshalRaw(c.Outputs) }
