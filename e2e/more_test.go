//go:build bed

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

// TestRolesJobsAndJSON covers the remaining node flags, re-adding a node,
// the journal, the state commands and the JSON forms of verify and errors.
func TestRolesJobsAndJSON(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])

	if r := c.ok("cluster", "version"); !strings.Contains(r.stdout, "Software version: ") || !strings.Contains(r.stdout, "OS api version: 20") {
		t.Errorf("cluster version:\n%s", r.stdout)
	}

	// -D yes: drained, no longer candidate (with --auto-promote), role D.
	c.ok("node", "modify", "-D", "yes", "--auto-promote", n[2])
	if r := c.ok("node", "list", "-o", "name,role,drained", "--no-headers", "--separator=|", n[2]); r.stdout != n[2]+"|D|Y\n" {
		t.Errorf("drained node: %q", r.stdout)
	}
	// Undraining promotes it again while the pool is short (Ganeti's self-promotion).
	c.ok("node", "modify", "-D", "no", n[2])
	if r := c.ok("node", "list", "-o", "role", "--no-headers", n[2]); strings.TrimSpace(r.stdout) != "C" {
		t.Errorf("undrained node role: %q", r.stdout)
	}
	c.checkReplicas(n...)
	c.ok("node", "modify", "--vm-capable=no", n[2])
	// -s needs the node to hold the new address (Ganeti checks it there).
	sip := c.extraAddr(n[2], c.bed.Nodes()[2].SecondaryAddr, t.Cleanup)
	c.ok("node", "modify", "-s", sip, n[2])
	r := c.ok("--json", "node", "info", n[2])
	var infos []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("node info --json: %v\n%s", err, r.stdout)
	}
	if infos[0]["vm_capable"] != false || infos[0]["secondary ip"] != sip {
		t.Errorf("node info after modify: %v", infos[0])
	}
	c.ok("node", "modify", "--vm-capable=yes", "-s", c.bed.Nodes()[2].SecondaryAddr, n[2])

	// --readd keeps the node's configuration and re-prepares the node.
	c.node(n[1], "rm", "-rf", "/var/lib/ganeti/ganetictl")
	c.ok("node", "add", "--readd", n[1])
	if _, err := c.nodeErr(n[1], "test", "-d", "/var/lib/ganeti/ganetictl"); err != nil {
		t.Error("--readd did not recreate the node's directory")
	}
	c.checkReplicas(n...)

	// verify --json: a list of findings; clean here.
	r = c.ok("--json", "cluster", "verify")
	var findings []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &findings); err != nil || len(findings) != 0 {
		t.Errorf("verify --json: %v\n%s", err, r.stdout)
	}
	// Errors in JSON: one object on stdout with type, message and exit code.
	r = c.fails(1, "--json", "node", "info", "nosuchnode")
	var jerr struct {
		Error struct {
			Type     string `json:"type"`
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &jerr); err != nil || jerr.Error.Type != "unknown_entity" || jerr.Error.ExitCode != 1 {
		t.Errorf("JSON error: %v\n%s", err, r.stdout)
	}

	// The journal has one job per mutating command, all successful.
	r = c.ok("job", "list")
	if !strings.Contains(r.stdout, "success NODE_ADD("+n[1]+")") || strings.Contains(r.stdout, " error ") {
		t.Errorf("job list:\n%s", r.stdout)
	}
	if r := c.ok("job", "info", "1"); !strings.Contains(r.stdout, "Status: success") || !strings.Contains(r.stdout, "create ganeti directories") {
		t.Errorf("job info 1:\n%s", r.stdout)
	}

	// state show is the state file; state unlock --force breaks a lock.
	var shown map[string]any
	if err := json.Unmarshal([]byte(c.ok("state", "show").stdout), &shown); err != nil || shown["lineage"] == "" {
		t.Errorf("state show: %v", err)
	}
	store, err := statefile.OpenDir(c.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := store.Lock(t.Context(), statefile.NewLockInfo("stuck operation", "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock()
	c.fails(11, "cluster", "add-tags", "x")
	c.fails(1, "state", "unlock", "--force", "wrong-id")
	c.ok("state", "unlock", "--force", lk.Info.ID)
	c.ok("cluster", "add-tags", "x")
}
