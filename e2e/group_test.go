//go:build bed

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNodeGroups: the multi-site model on 5 nodes in two groups. Groups
// are made and filled; mirrors, evacuations and migrations stay in their
// group; verify reports group by group and flags a mirror split across
// groups; rename, tags and remove work as gnt-group's.
func TestNodeGroups(t *testing.T) {
	c := newCluster(t, 5)
	n := c.names() // default: n0 n1 n4; rack2: n2 n3
	c.ok("cluster", "init")
	for _, node := range n[1:] {
		c.ok("node", "add", node)
	}
	groupOf := func() map[string]string {
		t.Helper()
		var st struct {
			Nodes map[string]struct {
				Group string `json:"group"`
			} `json:"nodes"`
			Groups map[string]struct {
				AllocPolicy string   `json:"alloc_policy"`
				Tags        []string `json:"tags"`
			} `json:"nodegroups"`
		}
		if err := json.Unmarshal(c.stateBytes(), &st); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for name, node := range st.Nodes {
			out[name] = node.Group
		}
		for name, g := range st.Groups {
			out["group:"+name] = g.AllocPolicy + "|" + strings.Join(g.Tags, ",")
		}
		return out
	}

	c.ok("group", "add", "--alloc-policy", "last_resort", "--ipolicy-vcpu-ratio", "2", "rack2")
	c.ok("group", "assign-nodes", "rack2", n[2], n[3])
	if g := groupOf(); g[n[2]] != "rack2" || g[n[3]] != "rack2" || g[n[4]] != "default" || g["group:rack2"] != "last_resort|" {
		t.Fatalf("groups after assign-nodes: %v", g)
	}
	r := c.ok("group", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "Group") || !strings.Contains(lines[0], "AllocPolicy") {
		t.Fatalf("group list:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[2]); f[0] != "rack2" || f[1] != "2" || f[2] != "0" || f[3] != "last_resort" {
		t.Errorf("rack2's row: %q", lines[2])
	}
	r = c.ok("group", "info", "rack2")
	for _, want := range []string{"Node group: rack2", "vcpu-ratio: 2", "spindle-ratio: default (32)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("group info lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := c.ok("node", "list", "-o", "name,group", "--no-headers", "--separator", "|"); !strings.Contains(r.stdout, n[3]+"|rack2") {
		t.Errorf("node list -o group:\n%s", r.stdout)
	}

	// A mirror stays in one group.
	r = c.fails(1, "instance", "add", "-n", n[0]+":"+n[2], "-o", "testos", "-t", "drbd", "-s", "64M", "--no-name-check", "e2e-grp1")
	if !strings.Contains(r.stderr, "group 'rack2'") || !strings.Contains(r.stderr, "change-group") {
		t.Errorf("a drbd pair across groups:\n%s", r)
	}
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "64M", "--no-name-check", "e2e-grp1")
	// Its secondary leaves node n1: the new one is n4, the other node of
	// the group, not a rack2 node (they have as much room).
	c.ok("node", "evacuate", "-s", n[1])
	var st struct {
		Instances map[string]struct {
			Primary string `json:"primary_node"`
			Disks   []struct {
				Nodes []string `json:"nodes"`
			} `json:"disks"`
		} `json:"instances"`
	}
	load := func() {
		t.Helper()
		st.Instances = nil
		if err := json.Unmarshal(c.stateBytes(), &st); err != nil {
			t.Fatal(err)
		}
	}
	load()
	if nodes := strings.Join(st.Instances["e2e-grp1"].Disks[0].Nodes, ","); nodes != n[0]+","+n[4] {
		t.Fatalf("after evacuating %s the mirror is on %s, want %s,%s", n[1], nodes, n[0], n[4])
	}
	if out := c.node(n[4], "cat", "/run/testbed/drbd/proc_drbd"); !strings.Contains(out, "cs:Connected") {
		t.Errorf("the new secondary %s has no connected mirror:\n%s", n[4], out)
	}
	c.ok("instance", "migrate", "-f", "e2e-grp1")
	load()
	if p := st.Instances["e2e-grp1"].Primary; p != n[4] {
		t.Errorf("migrated to %s, want %s", p, n[4])
	}
	// Nothing outside the group can take it.
	r = c.fails(1, "instance", "replace-disks", "-n", n[2], "e2e-grp1")
	if !strings.Contains(r.stderr, "instances stay inside their group") {
		t.Errorf("replace-disks -n across groups:\n%s", r)
	}

	// Splitting the mirror needs --force; verify then names it in its
	// primary's group section.
	r = c.fails(1, "group", "assign-nodes", "rack2", n[0])
	if !strings.Contains(r.stderr, "get split by this change and --force was not given: e2e-grp1") {
		t.Errorf("assign-nodes splitting a mirror:\n%s", r)
	}
	r = c.ok("group", "assign-nodes", "--force", "rack2", n[0])
	if !strings.Contains(r.stderr, "will split the following instances: e2e-grp1") {
		t.Errorf("forced split warns:\n%s", r)
	}
	r = c.run("cluster", "verify")
	out := r.stdout
	grp := strings.Index(out, "* Verifying group 'default'")
	rack := strings.Index(out, "* Verifying group 'rack2'")
	split := strings.Index(out, "instance has primary and secondary nodes in different groups")
	if grp < 0 || rack < 0 || split < 0 || !(grp < split && split < rack) {
		t.Errorf("verify per group with the split in default's section (its primary %s):\n%s", n[4], out)
	}
	r = c.run("cluster", "verify", "-g", "rack2")
	if strings.Contains(r.stdout, "'default'") || !strings.Contains(r.stdout, "Verifying group 'rack2'") {
		t.Errorf("verify -g rack2:\n%s", r.stdout)
	}
	c.ok("group", "assign-nodes", "default", n[0])

	// cluster command -g runs on the group's nodes only.
	r = c.ok("cluster", "command", "-g", "rack2", "--", "uname", "-n")
	if !strings.Contains(r.stdout, "node: "+n[2]) || !strings.Contains(r.stdout, "node: "+n[3]) || strings.Contains(r.stdout, "node: "+n[0]) {
		t.Errorf("cluster command -g rack2:\n%s", r.stdout)
	}

	// Tags, rename, remove.
	c.ok("group", "add-tags", "rack2", "site:b")
	if r := c.ok("group", "list-tags", "rack2"); strings.TrimSpace(r.stdout) != "site:b" {
		t.Errorf("list-tags: %q", r.stdout)
	}
	c.ok("group", "rename", "rack2", "site-b")
	if g := groupOf(); g[n[2]] != "site-b" || g["group:site-b"] != "last_resort|site:b" {
		t.Errorf("after rename: %v", g)
	}
	r = c.fails(1, "group", "remove", "site-b")
	if !strings.Contains(r.stderr, "not empty, has the following nodes") {
		t.Errorf("remove a group with nodes:\n%s", r)
	}
	c.ok("group", "assign-nodes", "default", n[2], n[3])
	c.ok("group", "remove", "site-b")
	if g := groupOf(); g["group:site-b"] != "" || g[n[2]] != "default" {
		t.Errorf("after remove: %v", g)
	}
	c.ok("instance", "remove", "-f", "e2e-grp1")
}
