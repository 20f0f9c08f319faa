package view

import "testing"

func TestExports(t *testing.T) {
	checkResult(t, "backup_list", Exports{{Node: "node1", Exports: []string{"db1", "web1"}}, {Node: "node2"}})
	assertResult(t, Exports(nil), "", "{}\n")
}
