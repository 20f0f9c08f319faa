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
	var human, js bytes.Buffer
	if err := RenderRecovery(&human, r); err != nil {
		t.Fatal(err)
	}
	if err := RecoveryJSON(&js, r, map[string]any{"committed": false}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"human": human.String(), "json": js.String()} {
		if strings.Contains(out, "topsecret") || !strings.Contains(out, "masked") {
			t.Errorf("%s output shows the secret or no mask:\n%s", name, out)
		}
	}
	if !strings.Contains(human.String(), "Recovering the state from node2, serial 4; lineage L") ||
		!strings.Contains(human.String(), "fixed instance db added") {
		t.Errorf("human output:\n%s", human.String())
	}
	if !strings.Contains(js.String(), `"committed": false`) || !strings.Contains(js.String(), `"kind": "fixed"`) {
		t.Errorf("json output:\n%s", js.String())
	}
}
