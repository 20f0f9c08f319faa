package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// diskSum is the SHA-256 of the first size MiB of an instance disk, read
// through its link.
func (c *cluster) diskSum(node, inst string, idx, sizeMiB int) string {
	c.t.Helper()
	out := c.node(node, "sh", "-c", `head -c "$2" "$1" | sha256sum`, "disksum",
		fmt.Sprintf("/run/ganeti/instance-disks/%s:%d", inst, idx), fmt.Sprint(sizeMiB<<20))
	return strings.Fields(out)[0]
}

// fillRandom writes count MiB of random data at seek MiB into an instance
// disk, keeping the marker at its start.
func (c *cluster) fillRandom(node, inst string, idx, seekMiB, countMiB int) {
	c.t.Helper()
	c.node(node, "dd", "if=/dev/urandom", "of="+fmt.Sprintf("/run/ganeti/instance-disks/%s:%d", inst, idx),
		"bs=1M", fmt.Sprintf("seek=%d", seekMiB), fmt.Sprintf("count=%d", countMiB), "conv=notrunc,fsync", "status=none")
}

// TestMoveFileAndPlain moves a running file and a plain instance to
// another node through the helper: the whole disk's checksum and the
// marker are the same on the target, nothing is left on the source.
func TestMoveFileAndPlain(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	for _, tmpl := range []string{"file", "plain"} {
		t.Run(tmpl, func(t *testing.T) {
			c.t = t
			name := "e2e-cp-" + tmpl
			c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", tmpl, "-s", "64M", "--no-name-check", name)
			c.fillRandom(n[0], name, 0, 4, 16)
			m := c.marker(n[0], name, 0)
			sum := c.diskSum(n[0], name, 0, 64)

			r := c.ok("instance", "move", "-n", n[1], "--shutdown-timeout", "1s", "--compress", "zstd", name)
			if st := c.qmpStatus(n[1], name); st != "running" {
				t.Fatalf("after move: QMP on %s says %q\n%s", n[1], st, r)
			}
			if got := c.marker(n[1], name, 0); got != m {
				t.Errorf("marker after move: %+v, want %+v", got, m)
			}
			if got := c.diskSum(n[1], name, 0, 64); got != sum {
				t.Errorf("disk sha256 after move: %s, want %s", got, sum)
			}
			if l := c.leftovers(n[0], name); l != "" {
				t.Errorf("source %s keeps:\n%s", n[0], l)
			}
			if r := c.ok("instance", "list", "-o", "pnode,status", "--no-headers", "--separator=|", name); r.stdout != n[1]+"|running\n" {
				t.Errorf("list after move: %q", r.stdout)
			}
			c.verifyClean()
			c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
		})
	}
	c.t = t
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "sharedfile", "-s", "32M", "--no-start", "--no-name-check", "e2e-cp-shared")
	if r := c.fails(1, "instance", "move", "-n", n[1], "e2e-cp-shared"); !strings.Contains(r.stderr, "nothing to copy") {
		t.Errorf("move of a sharedfile instance: %s", r)
	}
}
