package view

import (
	"bytes"
	"testing"
)

func TestConsoleCommand(t *testing.T) {
	assertResult(t, ConsoleCommand{Node: "node1", Argv: []string{"socat", "stdio,raw", "unix-connect:/run/x y.serial"},
		Command: "socat stdio,raw 'unix-connect:/run/x y.serial'"},
		"node1: socat stdio,raw 'unix-connect:/run/x y.serial'\n",
		"{\n  \"node\": \"node1\",\n  \"argv\": [\n    \"socat\",\n    \"stdio,raw\",\n    \"unix-connect:/run/x y.serial\"\n  ],\n"+
			"  \"command\": \"socat stdio,raw 'unix-connect:/run/x y.serial'\"\n}\n")
}

func TestConsoleAttached(t *testing.T) {
	var b bytes.Buffer
	_ = ConsoleAttached{Instance: "web1", Node: "node1", Raw: true}.Text(&b)
	_ = ConsoleAttached{Instance: "web1", Node: "node1"}.Text(&b)
	assertText(t, "attached", "Connected to the console of web1 on node1 (leave with ^]).\r\n"+
		"Connected to the console of web1 on node1 (end with EOF or ^]).\n", b.String())
}
