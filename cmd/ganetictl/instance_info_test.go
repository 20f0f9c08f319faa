package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

// TestInstanceInfoDisks: instance info shows a drbd disk's nodes, minors
// and port, never its shared secret, and a plain disk as VG/LV (the
// logical id's fields were run together, the secret included).
func TestInstanceInfoDisks(t *testing.T) {
	secret := "7b6095e809f63b2dbacafb92934fcbe4412ded35"
	st := statefile.New("lineage-1")
	drbd := &statefile.Disk{UUID: "d1", DevType: statefile.DevDRBD, LogicalID: []any{"node1", "node3", 11000, 0, 2, secret},
		Nodes: []string{"node1", "node3"}, Size: 64, Mode: "rw",
		Children: []*statefile.Disk{
			{DevType: statefile.DevPlain, LogicalID: []any{"xenvg", "u1.disk0_data"}, Size: 64},
			{DevType: statefile.DevPlain, LogicalID: []any{"xenvg", "u1.disk0_meta"}, Size: 128}}}
	plain := &statefile.Disk{UUID: "d2", DevType: statefile.DevPlain, LogicalID: []any{"xenvg", "u2.disk0"}, Nodes: []string{"node1"}, Size: 64, Mode: "rw"}
	for _, tc := range []struct {
		disk       *statefile.Disk
		want, dont []string
	}{
		{drbd, []string{"nodeA: node1, minor=0", "nodeB: node3, minor=2", "port: 11000"}, []string{secret, "node1node3"}},
		{plain, []string{"logical_id: xenvg/u2.disk0"}, []string{"xenvgu2"}},
	} {
		inst := &statefile.Instance{Name: "inst1", PrimaryNode: "node1", Hypervisor: "kvm", AdminState: "up",
			DiskTemplate: tc.disk.DevType, Disks: []*statefile.Disk{tc.disk}}
		var b bytes.Buffer
		if err := instanceInfo(instRow{Instance: inst, st: st}, true).Text(&b); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s disk: info lacks %q:\n%s", tc.disk.DevType, w, b.String())
			}
		}
		for _, d := range tc.dont {
			if strings.Contains(b.String(), d) {
				t.Errorf("%s disk: info shows %q:\n%s", tc.disk.DevType, d, b.String())
			}
		}
	}
}
