package view

import (
	"fmt"
	"io"
)

// ConsoleCommand is `instance console --show-cmd`: the command that
// attaches the console, run on the instance's primary node.
type ConsoleCommand struct {
	Node    string   `json:"node"`
	Argv    []string `json:"argv"`
	Command string   `json:"command"` // Argv quoted for a shell
}

// Text writes "node: command".
func (c ConsoleCommand) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s: %s\n", c.Node, c.Command)
	return err
}

// ConsoleAttached tells that the console is attached (Printer.Status).
// Raw is set when the local terminal goes into raw mode, where lines end
// in "\r\n".
type ConsoleAttached struct {
	Instance, Node string
	Raw            bool
}

// Text writes how to leave the console.
func (c ConsoleAttached) Text(w io.Writer) error {
	var err error
	if c.Raw {
		_, err = fmt.Fprintf(w, "Connected to the console of %s on %s (leave with ^]).\r\n", c.Instance, c.Node)
	} else {
		_, err = fmt.Fprintf(w, "Connected to the console of %s on %s (end with EOF or ^]).\n", c.Instance, c.Node)
	}
	return err
}
