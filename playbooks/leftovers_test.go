package playbooks

import (
	"strings"
	"testing"
)

func TestStaleLeftovers(t *testing.T) {
	env := instanceEnv(t)
	cur := HelperDir + "/helper-1111111111111111"
	env.Facts["node1"].Leftovers = []Leftover{
		{"helper", cur},
		{"helper", HelperDir + "/helper-2222222222222222"},
		{"helper-busy", HelperDir + "/helper-3333333333333333"},
		{"partial", "/srv/ganeti/file-storage/web1/disk0.ganetictl-partial"},
	}
	env.Facts["node2"].Leftovers = []Leftover{{"export-new", "/srv/ganeti/export/web1.new"}}
	stale := Stale(env.Facts, []string{cur})
	if len(stale["node1"]) != 2 || stale["node1"][0].Path != HelperDir+"/helper-2222222222222222" || stale["node1"][1].Kind != "partial" || len(stale["node2"]) != 1 {
		t.Errorf("stale: %+v", stale)
	}
	// Without knowing its own helper, ganetictl removes none.
	if s := Stale(env.Facts, nil); len(s["node1"]) != 1 || s["node1"][0].Kind != "partial" {
		t.Errorf("stale without current helpers: %+v", s)
	}
	r := Verify(VerifyInput{State: env.State, Facts: env.Facts, CurrentHelpers: []string{cur}})
	var found []Finding
	for _, s := range r.Sections {
		if s.Title == "Verifying copy helpers and leftovers" {
			found = s.Findings
		}
	}
	if len(found) != 3 || found[0].Code != "ENODELEFTOVER" || !strings.Contains(found[2].Message, "unfinished export /srv/ganeti/export/web1.new") {
		t.Errorf("verify findings: %+v", found)
	}
	p, err := RemoveLeftovers(env.State, stale)
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	for _, s := range p.Stages[0].Steps {
		argv = append(argv, s.Node+": "+strings.Join(s.Argv, " "))
	}
	want := "node1: rm -f -- /var/lib/ganetictl/helper-2222222222222222|node1: rm -f -- /srv/ganeti/file-storage/web1/disk0.ganetictl-partial|node2: rm -rf -- /srv/ganeti/export/web1.new"
	if got := strings.Join(argv, "|"); got != want {
		t.Errorf("fix steps:\n%s\nwant\n%s", got, want)
	}
	if len(p.Changes) != 0 {
		t.Error("--fix changes the state")
	}
	if _, err := RemoveLeftovers(env.State, nil); err == nil {
		t.Error("nothing to fix accepted")
	}
}
