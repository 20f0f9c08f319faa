//go:build bed

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStorageInit: diskinfo lists each node's disks with what uses them;
// create needs --yes-do-it, and refuses disks in use and an existing
// volume group. (Only dry runs ask for a plan: the bed's nodes see the
// host's disks.)
func TestStorageInit(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	r := c.ok("node", "storage-init", "diskinfo")
	for _, node := range n {
		if !strings.Contains(r.stdout, "------- Disk information: "+node+" -------\nName") {
			t.Errorf("diskinfo has no table for %s:\n%s", node, r.stdout)
		}
	}
	var infos []struct {
		Node  string
		Disks []struct {
			Name  string
			InUse bool `json:"in_use"`
		}
	}
	if err := json.Unmarshal([]byte(c.ok("--json", "node", "storage-init", "diskinfo", n[0]).stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("diskinfo --json: %v %+v", err, infos)
	}
	if r := c.fails(10, "node", "storage-init", "create", "--alldisks", n[0]); !strings.Contains(r.stderr, "--yes-do-it") {
		t.Errorf("create without --yes-do-it: %s", r)
	}
	if r := c.fails(1, "--dry-run", "node", "storage-init", "create", "--alldisks", n[0]); !strings.Contains(r.stderr, "It seems volume group 'xenvg' already exists") {
		t.Errorf("create over the cluster's volume group: %s", r)
	}
	for _, d := range infos[0].Disks {
		if d.InUse {
			r := c.fails(1, "--dry-run", "node", "storage-init", "create", "-g", "e2e-vg", "--disks", d.Name, n[0])
			if !strings.Contains(r.stderr, "disk "+d.Name+" is in use, cannot wipe!") {
				t.Errorf("create on %s, in use: %s", d.Name, r)
			}
		}
	}
	if r := c.fails(1, "--dry-run", "node", "storage-init", "create", "-g", "e2e-vg", "--disks", "nosuchdisk", n[0]); !strings.Contains(r.stderr, "cannot find disk nosuchdisk") {
		t.Errorf("create on an unknown disk: %s", r)
	}
}
