package apply

import (
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// A step's Stdin (a secret placeholder) reaches the command resolved.
func TestStdinSecret(t *testing.T) {
	rs := newFakes("node1")
	p := plan.New(plan.Op{ID: "X"}, "", 0)
	key := p.Secret("k", "PRIVATE")
	p.Add("s", plan.Abort, plan.Step{Node: "node1", Argv: []string{"helper", "--identity", "-"}, Stdin: key})
	if _, err := Run(t.Context(), p, rs, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if c := rs["node1"].Calls(); len(c) != 1 || string(c[0].Stdin) != "PRIVATE" {
		t.Errorf("stdin seen by the node: %+v", c)
	}
}
