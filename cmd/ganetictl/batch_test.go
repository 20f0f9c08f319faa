package main

import (
	"slices"
	"strings"
	"testing"
)

// TestBatchCommands: batch-create reads Ganeti's file, a list of instance
// creation opcodes (the gnt-instance(8) example), as well as the older
// object by instance name.
func TestBatchCommands(t *testing.T) {
	cmds, err := batchCommands([]byte(`[
  {"mode": "create", "instance_name": "instance1.example.com", "disk_template": "drbd", "os_type": "debootstrap",
   "disks": [{"size": "1024"}, {"size": 512, "mode": "ro"}], "nics": [{}], "hypervisor": "xen-pvm",
   "pnode": "node1", "snode": "node2", "beparams": {"vcpus": 2}, "start": false, "name_check": false},
  {"instance_name": "inst2", "disk_template": "plain", "os_type": "testos", "disks": [{"size": 64}], "pnode": "node3", "tags": ["a", "b"]}
]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 {
		t.Fatalf("%d commands", len(cmds))
	}
	a, b := cmds[0], cmds[1]
	if a.Name != "instance1.example.com" || a.Node != "node1:node2" || a.Template != "drbd" || a.OS != "debootstrap" ||
		!slices.Equal(a.Disks, []string{"0:size=1024", "1:mode=ro,size=512"}) || !slices.Equal(a.NICs, []string{"0:"}) ||
		a.Hypervisor != "xen-pvm:" || a.Backend != "vcpus=2" || !a.NoStart || !a.NoNameCheck {
		t.Errorf("first: %+v", a)
	}
	if b.Node != "node3" || b.NoStart || b.NoNameCheck || !slices.Equal(b.Disks, []string{"0:size=64"}) || b.NICs != nil || b.Tags != "a,b" {
		t.Errorf("second: %+v", b)
	}
	for _, bad := range []struct{ file, err string }{
		{`[{"instance_name": "i1", "mode": "import"}]`, "batch-create creates instances"},
		{`[{"instance_name": "i1", "iallocator": "hail"}]`, "for the whole batch"},
		{`[{"disk_template": "plain"}]`, "no instance_name"},
		{`[{"instance_name": "i1", "bogus": 1}]`, "unknown field"},
	} {
		if _, err := batchCommands([]byte(bad.file)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: %v, want %q", bad.file, err, bad.err)
		}
	}
	old, err := batchCommands([]byte(`{"web1": {"template": "plain", "os": "testos", "disk_size": ["1G"], "primary_node": "node1"}}`))
	if err != nil || len(old) != 1 || old[0].Name != "web1" || !slices.Equal(old[0].Disks, []string{"0:size=1G"}) {
		t.Errorf("object format: %+v %v", old, err)
	}
}
