//go:build bed

package e2e

import (
	"strings"
	"testing"
)

// TestSharedStorageMoves: failover and live migration of instances on
// shared storage (sharedfile, rbd) between any two nodes, with the disk's
// marker intact and QMP telling where it runs.
func TestSharedStorageMoves(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	for _, tmpl := range []string{"sharedfile", "rbd"} {
		t.Run(tmpl, func(t *testing.T) {
			c.t = t
			name := "e2e-mv-" + tmpl
			c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", tmpl, "-s", "32M", "--no-name-check", name)
			m := c.marker(n[0], name, 0)

			r := c.ok("instance", "migrate", "-n", n[1], name)
			if st := c.qmpStatus(n[1], name); st != "running" {
				t.Fatalf("after migrate: QMP on %s says %q\n%s", n[1], st, r)
			}
			if _, ok := c.running(n[0])[name]; ok {
				t.Errorf("source %s still runs %s after migrate", n[0], name)
			}
			if r := c.ok("instance", "list", "-o", "pnode,status", "--no-headers", "--separator=|", name); r.stdout != n[1]+"|running\n" {
				t.Errorf("list after migrate: %q", r.stdout)
			}
			if got := c.marker(n[1], name, 0); got != m {
				t.Errorf("marker after migrate: %+v, want %+v", got, m)
			}
			c.verifyClean()

			c.ok("instance", "failover", "--shutdown-timeout", "1s", "-n", n[2], name)
			if st := c.qmpStatus(n[2], name); st != "running" {
				t.Fatalf("after failover: QMP on %s says %q", n[2], st)
			}
			if got := c.marker(n[2], name, 0); got != m {
				t.Errorf("marker after failover: %+v, want %+v", got, m)
			}
			c.verifyClean()
			c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
		})
	}
	c.t = t
	// Local storage cannot move this way; Ganeti's messages.
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "file", "-s", "32M", "--no-start", "--no-name-check", "e2e-local")
	if r := c.fails(1, "instance", "failover", "-n", n[1], "e2e-local"); !strings.Contains(r.stderr, "Instance's disk layout 'file' does not allow failovers") {
		t.Errorf("failover of a file instance: %s", r)
	}
	if r := c.fails(1, "instance", "migrate", "-n", n[1], "e2e-local"); !strings.Contains(r.stderr, "Instance's disk layout 'file' does not allow migrations") {
		t.Errorf("migrate of a file instance: %s", r)
	}
}
