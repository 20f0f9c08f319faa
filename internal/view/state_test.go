package view

import (
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestHistory(t *testing.T) {
	inUTC(t)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	checkResult(t, "state_history", History{
		{Serial: 1, Time: at, Operation: "cluster init", Who: "alice", Host: "ws", LockID: "l1"},
		{Serial: 12, Time: at.Add(time.Hour), Operation: "instance add web1", Who: "bob", Host: "ci", LockID: "l2", Current: true},
	})
}

func TestStateDiff(t *testing.T) {
	checkResult(t, "state_diff", StateDiff{From: 2, To: "current", Diff: []string{"-  \"serial\": 2,", "+  \"serial\": 3,", "@@", "+      \"changed\","}})
	assertResult(t, StateDiff{From: 2, To: "3"}, "--- serial 2\n+++ serial 3\n", "{\n  \"diff\": [],\n  \"from\": 2,\n  \"to\": \"3\"\n}\n")
}

func TestLockBroken(t *testing.T) {
	assertResult(t, LockBroken{ID: "abc"}, "Lock abc broken.\n", "{\n  \"lock_id\": \"abc\",\n  \"broken\": true\n}\n")
}

func stateImport(dry bool) StateImport {
	st := statefile.New("L")
	st.Cluster.Name, st.Cluster.MasterNode, st.Cluster.VolumeGroup = "c.example.com", "node1", "xenvg"
	st.NodeGroups["default"] = &statefile.NodeGroup{Name: "default", AllocPolicy: "preferred"}
	st.Nodes["node1"] = &statefile.Node{Name: "node1", Group: "default", PrimaryIP: "198.18.0.1", MasterCapable: true, VMCapable: true}
	s := StateImport{DryRun: dry, GanetiVersion: "3.0.0", GanetiSerial: 7627, Summary: StateSummary(st)}
	if !dry {
		s.Serial, s.Lineage, s.Warnings = 1, "L", []string{"node node1 is not in the inventory"}
	}
	return s
}

func TestStateImport(t *testing.T) {
	checkResult(t, "state_import_dry_run", stateImport(true))
	checkResult(t, "state_import", stateImport(false))
}

func rollbackPlan(dry bool) RollbackPlan {
	return RollbackPlan{DryRun: dry, FromSerial: 3, ToContentOf: 1, NewSerial: 4, Changes: []string{"~ cluster", "+ instance web2"},
		Diff: []string{"-      \"changed\",", "@@", "+    \"web2\": {"}}
}

func TestRollbackPlan(t *testing.T) {
	checkResult(t, "state_rollback_dry_run", rollbackPlan(true))
	text, _ := renderResult(t, rollbackPlan(false))
	assertText(t, "preview", "Rolling back to the content of serial 1, written as serial 4 (current: 3). Changes:\n  ~ cluster\n  + instance web2\n", text)
	_, js := renderResult(t, RollbackPlan{DryRun: true, FromSerial: 3, ToContentOf: 1, NewSerial: 4})
	assertText(t, "no changes", "{\n  \"changes\": [],\n  \"diff\": [],\n  \"dry_run\": true,\n  \"from_serial\": 3,\n  \"new_serial\": 4,\n  \"to_content_of\": 1\n}\n", js)
}

func TestRolledBack(t *testing.T) {
	assertResult(t, RolledBack{ToContentOf: 1, Serial: 4, Changes: []string{"~ cluster"}},
		"State rolled back: serial 4 has the content of serial 1. Run `ganetictl cluster verify` to see where the nodes differ.\n",
		"{\n  \"changes\": [\n    \"~ cluster\"\n  ],\n  \"rolled_back\": true,\n  \"serial\": 4,\n  \"to_content_of\": 1\n}\n")
}

func TestRollbackNoop(t *testing.T) {
	assertResult(t, RollbackNoop{Serial: 4, ToContentOf: 1},
		"Serial 1 has the same content as the current state (serial 4); nothing to do.\n",
		"{\n  \"rolled_back\": false,\n  \"serial\": 4,\n  \"to_content_of\": 1\n}\n")
	_, js := renderResult(t, RollbackNoop{DryRun: true, Serial: 4, ToContentOf: 1})
	assertText(t, "dry run", "{\n  \"dry_run\": true,\n  \"rolled_back\": false,\n  \"serial\": 4,\n  \"to_content_of\": 1\n}\n", js)
}
