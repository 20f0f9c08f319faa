package view

import (
	"io"
)

// NodePower is one node's line of `node power`: the status the
// out-of-band program reported (powered, unpowered), "invoked" for a
// command sent, or "error".
type NodePower struct {
	Node    string `json:"node"`
	Status  string `json:"status"`
	Powered *bool  `json:"powered,omitempty"`
	Error   string `json:"error,omitempty"`
}

// NodePowers is `node power`'s table.
type NodePowers []NodePower

// Text writes Ganeti's two columns, an error after its status.
func (p NodePowers) Text(w io.Writer) error {
	t := Table{Columns: []Column{{Title: "Node"}, {Title: "Status"}}}
	for _, n := range p {
		st := n.Status
		if n.Error != "" {
			st += ": " + n.Error
		}
		t.Rows = append(t.Rows, []string{n.Node, st})
	}
	return RenderTable(w, t, TableOpts{})
}
