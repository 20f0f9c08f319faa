package statefile_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/storetest"
)

func TestMasked(t *testing.T) {
	st := storetest.Sample(statefile.NewLineage())
	// A nested DRBD disk (not a Ganeti layout, but masking must not care).
	st.Instances["web1"].Disks[0].Children[0] = &statefile.Disk{DevType: "drbd", LogicalID: []any{"a", "b", 1.0, 0.0, 0.0, "inner"}}
	m := st.Masked()
	d := m.Instances["web1"].Disks[0]
	if d.LogicalID[5] != statefile.MaskedSecret || d.Children[0].LogicalID[5] != statefile.MaskedSecret {
		t.Errorf("Masked left a secret: %v / %v", d.LogicalID, d.Children[0].LogicalID)
	}
	if st.Instances["web1"].Disks[0].LogicalID[5] != "secret" {
		t.Errorf("Masked changed the original state")
	}
	var buf bytes.Buffer
	statefile.Write(&buf, m)
	if strings.Contains(buf.String(), "secret") || strings.Contains(buf.String(), "inner") {
		t.Errorf("masked JSON contains a secret:\n%s", buf.String())
	}
	short := storetest.Sample(statefile.NewLineage())
	short.Instances["web1"].Disks[0].LogicalID = []any{"x"}
	short.Masked() // must not panic on a short logical_id
}

func TestEqual(t *testing.T) {
	a := storetest.Sample("L")
	b := a.Clone()
	b.Serial, b.GanetictlVersion = 9, "other"
	b.Cluster.Tags = []string{"a", "b"} // same set, other order
	if !statefile.Equal(a, b) {
		t.Errorf("Equal = false for states differing only in envelope and tag order")
	}
	b.Nodes["node1"].Offline = true
	if statefile.Equal(a, b) {
		t.Errorf("Equal = true for different node flags")
	}
	c := a.Clone()
	c.Lineage = "M"
	if statefile.Equal(a, c) {
		t.Errorf("Equal = true across lineages")
	}
	if !statefile.Equal(nil, nil) || statefile.Equal(a, nil) {
		t.Errorf("Equal with nil")
	}
}

func TestLookups(t *testing.T) {
	st := storetest.Sample("L")
	if n, ok := st.Node("node2"); !ok || n.Name != "node2" {
		t.Errorf("Node(node2) = %v, %v", n, ok)
	}
	if _, ok := st.Node("nope"); ok {
		t.Errorf("Node(nope) found")
	}
	if got := st.NodeNames(); strings.Join(got, ",") != "node1,node2" {
		t.Errorf("NodeNames = %v", got)
	}
	if got := st.InstancesOnNode("node2"); len(got) != 1 || got[0].Name != "web1" {
		t.Errorf("InstancesOnNode(node2) = %v, want [web1] (as secondary)", got)
	}
	if got := st.InstancesOnNode("node3"); len(got) != 0 {
		t.Errorf("InstancesOnNode(node3) = %v", got)
	}
	c := st.Clone()
	c.Nodes["node1"].Tags = append(c.Nodes["node1"].Tags, "x")
	if len(st.Nodes["node1"].Tags) != 0 {
		t.Errorf("Clone shares node objects")
	}
	if s := statefile.New("L"); s.Nodes == nil || s.Instances == nil || s.NodeGroups == nil || s.Networks == nil || s.FormatVersion != statefile.FormatVersion {
		t.Errorf("New = %+v, want empty maps and the current format", s)
	}
	if statefile.NewUUID() == statefile.NewUUID() || len(statefile.NewLineage()) != 36 {
		t.Errorf("NewUUID/NewLineage not random UUIDs")
	}
}
