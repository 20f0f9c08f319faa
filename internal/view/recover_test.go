package view

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

func recoveryFixture(t *testing.T) Recovery {
	p := plan.New(plan.ClusterOp("CLUSTER_RECOVER"), "L", 4)
	inst := &statefile.Instance{Name: "db", DiskTemplate: "drbd", Disks: []*statefile.Disk{{DevType: "drbd",
		LogicalID: []any{"n1", "n2", 11000, 0, 1, "topsecret"}}}}
	if err := p.Set(plan.KindInstance, "db", nil, inst); err != nil {
		t.Fatal(err)
	}
	return Recovery{Source: "copy", From: "node2", Serial: 4, Lineage: "L", Plan: p,
		Notes: []RecoveryNote{{Kind: "fixed", Object: "instance db", Message: "added"}}}
}

func TestRecoveryViewsMaskSecrets(t *testing.T) {
	r := recoveryFixture(t)
	var human, js, done bytes.Buffer
	if err := r.Text(&human); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&done, Recovered{Recovery: r, Serial: 5, Replicated: []string{"node2"}}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"human": human.String(), "json": js.String(), "recovered json": done.String()} {
		if strings.Contains(out, "topsecret") || !strings.Contains(out, "masked") {
			t.Errorf("%s output shows the secret or no mask:\n%s", name, out)
		}
	}
	if !strings.Contains(human.String(), "Recovering the state from node2, serial 4; lineage L") ||
		!strings.Contains(human.String(), "fixed instance db added") {
		t.Errorf("human output:\n%s", human.String())
	}
	if !strings.Contains(js.String(), `"serial_taken": 4`) || !strings.Contains(js.String(), `"kind": "fixed"`) || strings.Contains(js.String(), `"committed"`) {
		t.Errorf("json output:\n%s", js.String())
	}
	for _, want := range []string{`"committed": true`, `"serial": 5`, `"serial_taken": 4`, "\"replicated\": [\n    \"node2\"\n  ]"} {
		if !strings.Contains(done.String(), want) {
			t.Errorf("recovered json lacks %q:\n%s", want, done.String())
		}
	}
}

func TestRecoveryNoNotes(t *testing.T) {
	r := recoveryFixture(t)
	r.Notes = nil
	var js bytes.Buffer
	if err := JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"notes": []`) {
		t.Errorf("no notes:\n%s", js.String())
	}
}

func TestRecovered(t *testing.T) {
	var b bytes.Buffer
	_ = Recovered{Recovery: Recovery{Lineage: "L"}, Serial: 5, Replicated: []string{"n1", "n2"}, Ambiguous: 2}.Text(&b)
	assertText(t, "recovered", "State recovered: serial 5, lineage L; copied to 2 master candidate(s).\n"+
		"WARNING: 2 note(s) above need attention; run `ganetictl cluster verify`.\n", b.String())
	b.Reset()
	_ = Recovered{Recovery: Recovery{Lineage: "L"}, Serial: 5}.Text(&b)
	assertText(t, "recovered, nothing ambiguous", "State recovered: serial 5, lineage L; copied to 0 master candidate(s).\n", b.String())
}

func TestStatePull(t *testing.T) {
	checkResult(t, "state_pull", StatePull{
		Copies: StateCopies{
			{Node: "workstation", Serial: 6, Lineage: "L", Status: "local state"},
			{Node: "node2", Serial: 7, Lineage: "L", SHA256: "0123456789ab", Status: "taken"},
			{Node: "node3", Status: "unreachable: ssh: connection refused"},
		},
		TakenFrom: "node2", Serial: 7, Lineage: "L", Result: "took serial 7 (lineage L) from node2",
	})
}
