package view

import "testing"

func TestOSListResultGolden(t *testing.T) {
	text, _ := renderResult(t, OSList{Names: []string{"trivial"}})
	assertText(t, "gnt-os list", ganetiGolden(t, "os_list.txt"), text)
}

func TestOSList(t *testing.T) {
	assertResult(t, OSList{Names: []string{"debootstrap+default", "trivial"}, NoHeaders: true}, "debootstrap+default\ntrivial\n",
		"[\n  \"debootstrap+default\",\n  \"trivial\"\n]\n")
	assertResult(t, OSList{}, "Name\n", "[]\n")
}

func TestOSDiagnosis(t *testing.T) {
	deb := &OSDef{Name: "debootstrap", Path: "/srv/ganeti/os/debootstrap", APIs: []int{20, 15}, Variants: []string{"default", "minimal"},
		Parameters: []string{"dhcp"}}
	broken := &OSDef{Name: "broken", Path: "/srv/ganeti/os/broken", APIs: []int{10}, Invalid: "API version 10 not supported"}
	d := OSDiagnosis{
		{Name: "broken", Global: "invalid", Nodes: []OSNodeStatus{
			{Node: "node1", Status: "invalid - API version 10 not supported", OS: broken},
			{Node: "node2", Status: "node unreachable: ssh: connection refused"},
		}},
		{Name: "debootstrap", Global: "invalid - not present on all nodes", Nodes: []OSNodeStatus{
			{Node: "node1", Status: "valid", OS: deb},
			{Node: "node2", Status: "OS not found"},
		}},
	}
	checkResult(t, "os_diagnose", d)
	assertResult(t, OSDiagnosis(nil), "", "{}\n")
}
