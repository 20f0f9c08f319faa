package desired

import (
	"strings"
	"testing"
)

// TestAutoPlacement: primary = "auto" places with the allocator on the
// simulated cluster: a plain instance goes where disk space is left, and
// each instance of a file sees the ones planned before it.
func TestAutoPlacement(t *testing.T) {
	env := cluster(t)
	env.Facts["node1"].VG.Free = 1536 // too little for 2G, enough for a 1G mirror
	src := `[[instance]]
name = "a1"
template = "plain"
primary = "auto"
disks = ["2G"]
os = "testos"

[[instance]]
name = "d1"
template = "drbd"
primary = "auto"
disks = ["1G"]
os = "testos"
`
	f, err := Parse("auto.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	realize(t, env, f)
	if got := env.State.Instances["a1"].PrimaryNode; got != "node2" {
		t.Errorf("a1 on %s, want node2 (node1 has 1.5G free)", got)
	}
	d := env.State.Instances["d1"]
	if d == nil || len(d.SecondaryNodes()) != 1 || d.PrimaryNode == d.SecondaryNodes()[0] {
		t.Fatalf("d1: %+v", d)
	}
	// Nothing fits anywhere: the error says why, node by node.
	env.Facts["node2"].VG.Free = 100
	f, err = Parse("auto.toml", []byte(src+"\n[[instance]]\nname = \"big\"\ntemplate = \"plain\"\nprimary = \"auto\"\ndisks = [\"50G\"]\nos = \"testos\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Diff(env, f, Options{})
	if err == nil || !strings.Contains(err.Error(), "no node can take big") || !strings.Contains(err.Error(), "free disk, needs 50 GiB") {
		t.Errorf("Diff: %v", err)
	}
}
