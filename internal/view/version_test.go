package view

import "testing"

func TestVersion(t *testing.T) {
	assertResult(t, Version{Version: "0.1.0"}, "ganetictl 0.1.0\n", "{\n  \"ganetictl_version\": \"0.1.0\"\n}\n")
}
