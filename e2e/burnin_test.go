//go:build bed

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBurnin runs Ganeti's burnin sequence on two plain instances (create,
// stop/start, runtime memory, grow-disk, move, export/import, reinstall,
// reboots, NICs, disks, rename) and two drbd instances in parallel
// (replace-disks on both sides and to a new secondary, failover,
// migrate); it refuses an existing name, and leaves nothing behind:
// no instance in the state, nothing on the nodes, cluster verify clean.
// Called as "burnin" (a link), Ganeti's --parallel switch works.
func TestBurnin(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	// The bed's guests run no OS, so an ACPI powerdown is never answered
	// and each of burnin's many stops would wait out its 10 s timeout:
	// without ACPI qemu is stopped at once, as TestGuide's bed does (it
	// waits one unanswered powerdown out on purpose).
	c.ok("cluster", "modify", "-H", "kvm:acpi=false")
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", "e2e-keep")
	if r := c.fails(1, "burnin", "-o", "testos", "-t", "plain", "--no-name-check", "e2e-keep"); !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("burnin on an existing instance: %s", r)
	}
	r := c.long(0, "burnin", "-p", "-o", "testos", "-t", "plain", "--disk-size", "32M", "--disk-growth", "8M", "--vcpu-count", "1",
		"--maxmem-size", "128", "--minmem-size", "64", "--no-name-check", "--rename", "e2e-bx", "e2e-b1", "e2e-b2")
	for _, step := range []string{"- Creating instances", "- Stopping and starting instances", "- Setting instance runtime memory", "- Growing disks",
		"- Moving instances", "- Exporting and re-importing instances", "- Reinstalling instances", "- Rebooting instances",
		"- Adding and removing NICs", "- Activating/deactivating disks", "- Adding and removing disks", "- Renaming instances", "- Removing instances"} {
		if !strings.Contains(r.stderr, step) {
			t.Errorf("burnin did not run %q:\n%s", step, r.stderr)
		}
	}
	if !strings.HasPrefix(r.stdout, "Burnin passed: 2 instance(s)") {
		t.Errorf("result: %q", r.stdout)
	}
	// The drbd run, in parallel, through the burnin link.
	link := filepath.Join(t.TempDir(), "burnin")
	if err := os.Symlink(binary, link); err != nil {
		t.Fatal(err)
	}
	saved := binary
	binary = link
	r = c.long(-1, "-o", "testos", "-t", "drbd", "--disk-size", "32M", "--disk-growth", "0", "--vcpu-count", "1", "--maxmem-size", "128",
		"--minmem-size", "128", "--no-name-check", "--no-importexport", "--no-reinstall", "--no-add-disks", "--no-startstop", "--no-reboot", "--no-add-nics", "--no-activate-disks", "--parallel", "e2e-b3", "e2e-b4")
	binary = saved
	if r.code != 0 {
		t.Fatalf("drbd burnin: %s", r)
	}
	for _, step := range []string{"- Replacing disks on the same nodes", "- Changing the secondary node", "- Failing over instances", "- Migrating instances"} {
		if !strings.Contains(r.stderr, step) {
			t.Errorf("drbd burnin did not run %q:\n%s", step, r.stderr)
		}
	}
	// Nothing left behind.
	insts := c.stateInstances()
	if len(insts) != 1 || insts["e2e-keep"].PrimaryNode == "" {
		t.Errorf("instances after burnin: %v", insts)
	}
	for _, node := range n {
		for _, i := range []string{"e2e-b1", "e2e-b2", "e2e-b3", "e2e-b4", "e2e-bx"} {
			if l := c.leftovers(node, i); l != "" {
				t.Errorf("%s: %s left: %s", node, i, l)
			}
		}
		if out := strings.TrimSpace(c.node(node, "sh", "-c", "ls /srv/ganeti/export; cat /run/testbed/drbd/proc_drbd 2>/dev/null | grep -c 'cs:' || true")); out != "0" {
			t.Errorf("%s: exports or DRBD devices left: %q", node, out)
		}
	}
	c.verifyClean()
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-keep")
}

// long runs ganetictl (the binary, as run does) with a longer timeout
// than run's, for burnin; want is the exit code required (-1: any).
func (c *cluster) long(want int, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	r := collect(c.t, exec.CommandContext(ctx, binary, append([]string{"--inventory", c.inv, "--state-dir", c.stateDir}, args...)...))
	if want >= 0 && r.code != want {
		c.t.Fatalf("ganetictl %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}
