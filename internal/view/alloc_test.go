package view

import (
	"bytes"
	"strings"
	"testing"
)

// TestBalanceText: cluster balance prints hbal's lines, and -C the
// commands by job set.
func TestBalanceText(t *testing.T) {
	b := Balance{Group: "default", Nodes: 4, Instances: 6, InitialScore: 46.94539253, FinalScore: 0.26606742, BadNodes: []string{},
		Commands: true, Moves: []Move{
			{Instance: "inst-p2", Code: "f r:node-1 f", OldPrimary: "node-E", OldSecondary: "node-3", Primary: "node-1", Secondary: "node-3",
				Score: 26.52581735, Jobset: 1, Ops: []MoveOp{{Op: "migrate"}, {Op: "replace-disks", Node: "node-1"}, {Op: "migrate"}}},
			{Instance: "inst-s1", Code: "r:node-3", OldPrimary: "node-2", OldSecondary: "node-E", Primary: "node-2", Secondary: "node-3",
				Score: 0.26606742, Jobset: 2, Ops: []MoveOp{{Op: "replace-disks", Node: "node-3"}}}}}
	var out bytes.Buffer
	if err := b.Text(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Initial check done: 0 bad nodes, 0 bad instances.\n",
		"Initial score: 46.94539253\n",
		"    1. inst-p2 node-E:node-3 => node-1:node-3  26.52581735 a=f r:node-1 f\n",
		"Cluster score improved from 46.94539253 to 0.26606742\nSolution length=2\n",
		"echo jobset 1, 1 jobs\n  echo job 1/1\n  check\n  ganetictl instance migrate -f inst-p2\n  ganetictl instance replace-disks -n node-1 inst-p2\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	b = Balance{Group: "g", Balanced: true, InitialScore: 0.5, OptimalScore: 0.5, MinScore: 1e-9}
	out.Reset()
	_ = b.Text(&out)
	if !strings.Contains(out.String(), "Cluster is already well balanced (initial score 0.5,\noptimum score due to N+1 reservations 0.5,\nminimum score 1e-09).\nNothing to do, exiting\n") {
		t.Errorf("balanced:\n%s", out.String())
	}
}

// TestCapacityMachineReadable: HTS_ lines, quoted as hspace quotes.
func TestCapacityMachineReadable(t *testing.T) {
	c := Capacity{MachineReadable: true, Keys: [][2]string{{"TSPEC", "1,2,3,4=5 6,7,8,9=1"}, {"OK", "1"}, {"X", ""}}}
	var out bytes.Buffer
	_ = c.Text(&out)
	if got := out.String(); got != "HTS_TSPEC='1,2,3,4=5 6,7,8,9=1'\nHTS_OK=1\nHTS_X=\n" {
		t.Errorf("machine-readable:\n%s", got)
	}
}
