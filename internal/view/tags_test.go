package view

import "testing"

func TestTags(t *testing.T) {
	assertResult(t, Tags{"env:prod", "team.infra"}, "env:prod\nteam.infra\n", "[\n  \"env:prod\",\n  \"team.infra\"\n]\n")
	assertResult(t, Tags(nil), "", "[]\n")
}
