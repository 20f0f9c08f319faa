package view

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// TestEventsGolden fixes the JSON event stream's schema (apply --json).
func TestEventsGolden(t *testing.T) {
	var b bytes.Buffer
	clock := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	e := NewEvents(&b, clock)
	p := plan.New(plan.InstanceOp("INSTANCE_STARTUP", "web1"), "lin-1", 7)
	st := p.Add("start the instance", plan.Abort, plan.Step{Node: "node1", Action: plan.Exec, Desc: "start web1", Argv: []string{"kvm", plan.SecretRef("x")}})
	p.Changes = []plan.Change{{Action: plan.Modify, Kind: plan.KindInstance, Name: "web1"}}
	e.Plan(p)
	e.StageStarted(st)
	e.StepStarted(&st.Steps[0])
	e.StepFinished(apply.StepResult{Step: &st.Steps[0], Duration: 1500 * time.Millisecond})
	e.StepFinished(apply.StepResult{Step: &plan.Step{Node: "node2", Action: plan.Remove, Argv: []string{"rm", plan.SecretRef("y")}}, Duration: time.Second, Err: errors.New("boom")})
	e.StateSaved(8)
	e.Result(p.Operation, true, 8, 1)
	e.Done(map[string]int{"add": 0, "change": 1, "destroy": 0, "operations": 1})
	e.Error(errors.New("refused"), 12)
	golden := filepath.Join("testdata", "events.golden")
	if *update {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("event stream changed (run with -update if intended):\n%s", b.String())
	}
	if bytes.Contains(b.Bytes(), []byte("{{secret")) {
		t.Error("a secret placeholder leaked")
	}
}
