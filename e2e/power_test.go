//go:build bed

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/testbed"
)

// bootID is a node's kernel boot id (the bed gives each node its own).
func (c *cluster) bootID(node string) string {
	c.t.Helper()
	return strings.TrimSpace(c.node(node, "cat", "/proc/sys/kernel/random/boot_id"))
}

// waitBooted waits until node answers again with another boot id.
func (c *cluster) waitBooted(node, old string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if out, err := c.nodeErr(node, "cat", "/proc/sys/kernel/random/boot_id"); err == nil && strings.TrimSpace(out) != old && strings.TrimSpace(out) != "" {
			if _, err := c.nodeErr(node, "true"); err == nil {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s did not come back from a reboot", node)
}

// TestNodePower: the bed's out-of-band program (testbed-oob, Ganeti's OOB
// protocol) behind node power status|off|on, the recorded power state,
// node powercycle through the node's own OS (the bed's reboot stand-in),
// node failover of a node's primaries, and cluster epo off and --on.
func TestNodePower(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	t.Cleanup(func() { // whatever happened, the nodes are on for the next test
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, x := range n {
			c.bed.Boot(ctx, x)
		}
	})
	if r := c.fails(1, "node", "power", "status", n[1]); !strings.Contains(r.stderr, "does not support out-of-band") {
		t.Fatalf("power status without a program: %s", r)
	}
	c.ok("cluster", "modify", "--node-parameters", "oob_program="+testbed.OOBProgram)
	r := c.ok("node", "power", "status")
	for _, x := range n {
		if !strings.Contains(r.stdout, x+" powered") {
			t.Errorf("power status: %q", r.stdout)
		}
	}
	if r := c.fails(1, "node", "power", "--force", "off", n[0]); !strings.Contains(r.stderr, "Operating on the master node "+n[0]+" is not allowed for power-off") {
		t.Errorf("power off the master: %s", r)
	}
	// Power off: the node is marked offline first, then goes down.
	c.ok("node", "power", "--force", "off", n[2])
	if on, _ := c.bed.Running(t.Context()); on[n[2]] {
		t.Fatalf("%s still runs after power off", n[2])
	}
	var nodes []struct {
		Name    string `json:"name"`
		Offline bool   `json:"offline"`
		Powered *bool  `json:"powered"`
	}
	var st struct {
		Nodes map[string]json.RawMessage `json:"nodes"`
	}
	json.Unmarshal(c.stateBytes(), &st)
	for _, raw := range st.Nodes {
		var x struct {
			Name    string `json:"name"`
			Offline bool   `json:"offline"`
			Powered *bool  `json:"powered"`
		}
		json.Unmarshal(raw, &x)
		nodes = append(nodes, x)
	}
	for _, x := range nodes {
		if x.Name == n[2] && (!x.Offline || x.Powered == nil || *x.Powered) {
			t.Errorf("%s after power off: %+v", n[2], x)
		}
	}
	if r := c.ok("node", "power", "status", n[2]); !strings.Contains(r.stdout, n[2]+" unpowered") {
		t.Errorf("status of the node off: %q", r.stdout)
	}
	c.ok("node", "power", "--force", "on", n[2])
	if on, _ := c.bed.Running(t.Context()); !on[n[2]] {
		t.Fatalf("%s not running after power on", n[2])
	}
	c.ok("node", "modify", "-O", "no", n[2])

	// powercycle: the node reboots (a new boot id).
	old := c.bootID(n[2])
	c.fails(10, "node", "powercycle", n[0]) // the master needs --force
	c.ok("--yes", "node", "powercycle", n[2])
	c.waitBooted(n[2], old)

	// node failover: the node's drbd primaries move to their secondaries.
	c.ok("instance", "add", "-n", n[1]+":"+n[2], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-pw1")
	c.ok("node", "failover", "-f", "--shutdown-timeout", "1s", n[1])
	if row := c.list("e2e-pw1", "pnode,status"); row != n[2]+"|running" {
		t.Fatalf("after node failover: %q", row)
	}

	// EPO of node3: its instance stops (still configured up), it powers
	// off; --on brings both back.
	c.ok("cluster", "epo", "--force", "--shutdown-timeout", "1s", n[2])
	if on, _ := c.bed.Running(t.Context()); on[n[2]] {
		t.Fatalf("%s still runs after epo", n[2])
	}
	if insts := c.stateInstances(); insts["e2e-pw1"].AdminState != "up" {
		t.Errorf("epo changed the admin state: %+v", insts["e2e-pw1"])
	}
	r = c.ok("cluster", "epo", "--on", "--force", n[2])
	if !strings.Contains(r.stderr, "Node "+n[2]+" became available") || !strings.Contains(r.stderr, "All instances have been started successfully") {
		t.Errorf("epo --on: %s", r)
	}
	c.ok("instance", "activate-disks", "e2e-pw1")
	if row := c.list("e2e-pw1", "status"); row != "running" {
		t.Errorf("after epo --on: %q", row)
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-pw1")
}
