package view

import (
	"errors"
	"testing"
)

func TestActivatedDisks(t *testing.T) {
	checkResult(t, "activate_disks", ActivatedDisks{
		{Node: "node1", IVName: "disk/0", Device: "/run/ganeti/instance-disks/web1:0"},
		{Node: "node1", IVName: "disk/1", Device: "/run/ganeti/instance-disks/web1:1"},
	})
	assertResult(t, ActivatedDisks(nil), "", "[]\n")
}

func runVerifyDisks(p Printer) error {
	v := NewVerifyDisks(p)
	v.BadNode("node3", "ssh: connection refused")
	v.Activating("web1")
	v.Activated("web1", nil)
	v.Activating("db1")
	v.Activated("db1", errors.New("drbdsetup failed"))
	v.Activating("dry1") // a dry run activates nothing
	v.Missing("db2", [][2]string{{"node1", "xenvg/x.disk0_data"}, {"node2", "xenvg/x.disk0_meta"}})
	return v.Close()
}

func TestVerifyDisks(t *testing.T) {
	for _, js := range []bool{false, true} {
		s, out, errOut := NewTestStreams()
		if err := runVerifyDisks(Printer{Streams: s, JSON: js}); err != nil {
			t.Fatal(err)
		}
		if errOut.Len() > 0 {
			t.Errorf("wrote to Err: %q", errOut)
		}
		name := "verify_disks.txt"
		if js {
			name = "verify_disks.json"
		}
		checkGolden(t, "results/"+name, out.Bytes())
	}
}

func TestVerifyDisksHealthy(t *testing.T) {
	s, out, _ := NewTestStreams()
	if err := NewVerifyDisks(Printer{Streams: s}).Close(); err != nil || out.Len() > 0 {
		t.Errorf("healthy cluster: %v %q (want silence)", err, out)
	}
	s, out, _ = NewTestStreams()
	_ = NewVerifyDisks(Printer{Streams: s, JSON: true}).Close()
	assertText(t, "healthy JSON", "{\n  \"bad_nodes\": [],\n  \"activations\": [],\n  \"missing\": []\n}\n", out.String())
}
