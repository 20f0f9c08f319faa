//go:build bed

package e2e

import (
	"strings"
	"testing"
)

// TestDRBDReplaceConvertEvacuate: replace-disks -s after the secondary's
// volumes were destroyed; replace-disks -n to a third node; the guide's
// (A,B) -> (C,D) relocation; plain -> drbd -> plain keeping the data; node
// evacuate emptying a node. The marker proves the data each time.
func TestDRBDReplaceConvertEvacuate(t *testing.T) {
	c := newCluster(t, 4)
	n := c.names() // A, B, C, D
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	name := "e2e-rd"
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", name)
	m := c.marker(n[0], name, 0)
	lvs := func(node string) string {
		return strings.TrimSpace(c.node(node, "sh", "-c", "lvs --noheadings -o lv_name xenvg 2>/dev/null | tr -d ' ' | sort"))
	}

	// The secondary's volumes are destroyed: verify sees it, -s rebuilds them.
	// A disk failure: DRBD detaches the dead backing device, the LVs are gone.
	c.node(n[1], "sh", "-c", "drbdsetup detach 0 && lvremove -f xenvg")
	if r := c.fails(1, "cluster", "verify"); !strings.Contains(r.stdout, "missing on node "+n[1]) {
		t.Errorf("verify after losing the secondary's volumes:\n%s", r.stdout)
	}
	c.ok("instance", "replace-disks", "-s", name)
	if got := lvs(n[1]); !strings.Contains(got, "_data") || !strings.Contains(got, "_meta") {
		t.Errorf("secondary LVs after replace-disks -s: %q", got)
	}
	c.verifyClean()

	// (A,B) -> (C,D): replace-disks -n C, migrate to C, replace-disks -n D.
	c.ok("instance", "replace-disks", "-n", n[2], name)
	if got := lvs(n[1]); got != "" {
		t.Errorf("old secondary %s still has LVs: %q", n[1], got)
	}
	c.ok("instance", "migrate", "-f", name)
	c.ok("instance", "replace-disks", "-n", n[3], name)
	r := c.ok("instance", "list", "-o", "pnode,snodes,status", "--no-headers", "--separator=|", name)
	if r.stdout != n[2]+"|"+n[3]+"|running\n" {
		t.Fatalf("after (A,B)->(C,D): %q", r.stdout)
	}
	if got := c.marker(n[2], name, 0); got != m {
		t.Errorf("marker after relocation: %+v, want %+v", got, m)
	}
	c.verifyClean()

	// node evacuate: the primary moves to D, the mirror to another node.
	c.ok("node", "evacuate", "-f", n[2])
	r = c.ok("instance", "list", "-o", "pnode,snodes", "--no-headers", "--separator=|", name)
	if strings.Contains(r.stdout, n[2]) {
		t.Errorf("node evacuate left the instance on %s: %q", n[2], r.stdout)
	}
	if got := lvs(n[2]); got != "" {
		t.Errorf("evacuated node still has LVs: %q", got)
	}
	pnode := strings.Split(strings.TrimSpace(r.stdout), "|")[0]
	if got := c.marker(pnode, name, 0); got != m {
		t.Errorf("marker after evacuate: %+v", got)
	}
	c.verifyClean()

	// drbd -> plain -> drbd on a stopped instance keeps the data.
	c.ok("instance", "shutdown", "--timeout", "1s", name)
	c.ok("instance", "modify", "-t", "plain", name)
	c.ok("instance", "activate-disks", name)
	if got := c.marker(pnode, name, 0); got != m {
		t.Errorf("marker after drbd->plain: %+v", got)
	}
	c.ok("instance", "deactivate-disks", name)
	c.verifyClean()
	c.ok("instance", "modify", "-t", "drbd", "-n", n[2], name)
	c.ok("instance", "failover", "-f", name) // stopped: moves the primary only
	c.ok("instance", "activate-disks", name)
	if got := c.marker(n[2], name, 0); got != m {
		t.Errorf("marker on the new secondary after plain->drbd: %+v", got)
	}
	c.ok("instance", "deactivate-disks", name)
	c.verifyClean()
	c.ok("instance", "remove", "-f", name)
}
