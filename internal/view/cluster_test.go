package view

import "testing"

func TestMaster(t *testing.T) {
	assertResult(t, Master{Name: "node1.gref.test"}, "node1.gref.test\n", "{\n  \"master\": \"node1.gref.test\"\n}\n")
}

func TestInfoResults(t *testing.T) {
	in := Info{}.Add("Software version", "0.1.0").Add("OS api version", 20)
	assertResult(t, in, "Software version: 0.1.0\nOS api version: 20\n",
		"{\n  \"Software version\": \"0.1.0\",\n  \"OS api version\": 20\n}\n")
	assertResult(t, Infos{Info{}.Add("Node name", "n1"), Info{}.Add("Node name", "n2")},
		"- Node name: n1\n- Node name: n2\n", "[\n  {\n    \"Node name\": \"n1\"\n  },\n  {\n    \"Node name\": \"n2\"\n  }\n]\n")
	assertResult(t, Infos(nil), "\n", "null\n")
}

func commandOutputs() CommandOutputs {
	return CommandOutputs{Outputs: []NodeOutput{
		{Node: "node2", Output: " 12:00:01 up 3 days\n", ExitCode: 0},
		{Node: "node3", Output: "a\nb\n", ExitCode: 2},
		{Node: "node1", Error: "ssh: connection refused", ExitCode: -1},
	}}
}

func TestCommandOutputs(t *testing.T) {
	checkResult(t, "cluster_command", commandOutputs())
	c := commandOutputs()
	c.FailureOnly, c.MachineNames = true, true
	text, js := renderResult(t, c)
	assertText(t, "--failure-only -M", "------------------------------------------------\nnode3: a\nnode3: b\nreturn code = 2\n"+
		"------------------------------------------------\nnode1: ssh: connection refused\nreturn code = -1\n", text)
	if _, all := renderResult(t, commandOutputs()); js != all {
		t.Errorf("--failure-only changed the JSON:\n%s", js)
	}
	assertResult(t, CommandOutputs{}, "", "null\n")
}
