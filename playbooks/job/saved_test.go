package job

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
)

func TestSavedPlanFactChecks(t *testing.T) {
	then := map[string]*playbooks.NodeFacts{
		"n1": {Name: "n1", Reachable: true, MemFree: 4096, VG: &playbooks.VGFacts{Free: 1000}, Running: map[string]hv.Running{"web1": {}}},
		"n2": {Name: "n2", Reachable: true, MemFree: 4096},
	}
	saved := recordFacts(nil, then)
	if why := compareFacts(saved, then); len(why) != 0 {
		t.Fatalf("same facts refused: %v", why)
	}
	now := map[string]*playbooks.NodeFacts{
		"n1": {Name: "n1", Reachable: true, MemFree: 4000, VG: &playbooks.VGFacts{Free: 900}, Running: map[string]hv.Running{}},
		"n2": {Name: "n2", Reachable: false},
	}
	why := strings.Join(compareFacts(saved, now), "\n")
	for _, want := range []string{"instances running on n1 changed", "volume group on n1 shrank", "node n2 no longer answers"} {
		if !strings.Contains(why, want) {
			t.Errorf("missing %q in:\n%s", want, why)
		}
	}
	if strings.Contains(why, "memory") {
		t.Errorf("a small memory change is within tolerance:\n%s", why)
	}
}
