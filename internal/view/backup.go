package view

import (
	"io"
	"strings"
)

// NodeExports are the instance exports one node holds.
type NodeExports struct {
	Node    string
	Exports []string
}

// Exports is `backup list`: the exports of the nodes that answered, in
// node order.
type Exports []NodeExports

// Text writes gnt-backup list's blocks:
//
//	Node: node1
//	Exports:
//	  web1
func (e Exports) Text(w io.Writer) error {
	var b strings.Builder
	for _, n := range e {
		b.WriteString("Node: " + n.Node + "\nExports:\n")
		for _, x := range n.Exports {
			b.WriteString("  " + x + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON is an object: node -> its exports.
func (e Exports) MarshalJSON() ([]byte, error) {
	m := make(map[string][]string, len(e))
	for _, n := range e {
		m[n.Node] = nonNil(n.Exports)
	}
	return marshalRaw(m)
}
