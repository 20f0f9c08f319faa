//go:build bed

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestBackupExportImport exports a stopped plain instance to another node
// and imports it as a new file instance on a third: the marker and the
// disk's data survive; list and remove see the export.
func TestBackupExportImport(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	name := "e2e-cp-exp"
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", name)
	c.fillRandom(n[0], name, 0, 2, 8)
	m := c.marker(n[0], name, 0)
	sum := c.diskSum(n[0], name, 0, 32)
	if r := c.fails(1, "backup", "export", "-n", n[1], "--noshutdown", name); !strings.Contains(r.stderr, "snapshot") {
		t.Errorf("--noshutdown of a running plain instance: %s", r)
	}
	c.ok("backup", "export", "-n", n[1], "--shutdown-timeout", "1s", name)
	if st := c.qmpStatus(n[0], name); st != "running" {
		t.Errorf("instance not restarted after export: %q", st)
	}
	ini := c.node(n[1], "cat", "/srv/ganeti/export/"+name+"/config.ini")
	for _, want := range []string{"[export]", "version = 0", "[instance]", "name = " + name, "disk_template = plain", "disk0_size = 32", "compression = none"} {
		if !strings.Contains(ini, want) {
			t.Errorf("config.ini lacks %q:\n%s", want, ini)
		}
	}
	if r := c.ok("backup", "list"); !strings.Contains(r.stdout, name) {
		t.Errorf("backup list: %s", r)
	}
	imp := "e2e-cp-imp"
	c.ok("backup", "import", "-n", n[2], "--src-node", n[1], "--src-dir", "/srv/ganeti/export/"+name, "-t", "file", "--no-name-check", imp)
	if got := c.marker(n[2], imp, 0); got != m {
		t.Errorf("imported marker %+v, want %+v", got, m)
	}
	if got := c.diskSum(n[2], imp, 0, 32); got != sum {
		t.Errorf("imported disk sha256 %s, want %s", got, sum)
	}
	if st := c.qmpStatus(n[2], imp); st != "running" {
		t.Errorf("imported instance: QMP says %q", st)
	}
	c.ok("backup", "remove", name)
	if r := c.ok("backup", "list"); strings.Contains(r.stdout, name) {
		t.Errorf("backup list after remove: %s", r)
	}
	c.verifyClean()
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", imp)
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", name)
}

// listenPort waits for a helper receiver on node and returns its port.
func (c *cluster) listenPort(node string) string {
	c.t.Helper()
	for range 200 {
		// The helper listens on the replication address in 42000-49999.
		out, _ := c.nodeErr(node, "ss", "-ltnH")
		for _, f := range strings.Fields(out) {
			if !strings.HasPrefix(f, "198.19.") {
				continue
			}
			port := f[strings.LastIndex(f, ":")+1:]
			if p, err := strconv.Atoi(port); err == nil && p >= 42000 && p < 50000 {
				return port
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ""
}

// TestMoveInterrupted: a stranger connecting to the receiver is refused
// and the copy completes; a SIGKILLed ganetictl and a cut link leave no
// committed partial disk, and a rerun completes with the data intact.
func TestMoveInterrupted(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	nodes := c.bed.Nodes()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	name := "e2e-cp-int"
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "file", "-s", "96M", "--no-start", "--no-name-check", name)
	c.ok("instance", "activate-disks", name)
	c.fillRandom(n[0], name, 0, 2, 48)
	sum := c.diskSum(n[0], name, 0, 96)
	c.ok("instance", "deactivate-disks", name)
	ctx := context.Background()
	// ~48 MiB at 80 Mbit/s: about five seconds of copying.
	if err := c.bed.Slow(ctx, n[0], 80_000_000); err != nil {
		t.Fatal(err)
	}
	defer c.bed.Unslow(ctx, n[0])
	partial := c.node(n[0], "sh", "-c", `ls /srv/ganeti/file-storage/"$1"/*`, "ls", name)
	target := strings.TrimSpace(partial)

	// 1. SIGKILL of ganetictl mid-copy.
	cmd := exec.Command(binary, "--inventory", c.inv, "--state-dir", c.stateDir, "instance", "move", "-n", n[1], name)
	var kstderr strings.Builder
	cmd.Stderr = &kstderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if c.listenPort(n[1]) == "" {
		cmd.Wait()
		t.Fatalf("%s: no helper listening:\n%s", n[1], kstderr.String())
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	time.Sleep(1500 * time.Millisecond) // the helpers notice their session is gone
	// The target holds nothing, or the empty disk the move created: never copied data.
	if out, _ := c.nodeErr(n[1], "sh", "-c", `[ -e "$1" ] || exit 0; cmp -s -n 96M "$1" /dev/zero || echo committed; exit 0`, "t", target); strings.Contains(out, "committed") {
		t.Errorf("a killed move left a committed disk on %s", n[1])
	}
	if got := c.node(n[0], "sh", "-c", `head -c 96M "$1" | sha256sum`, "s", target); !strings.HasPrefix(got, sum) {
		t.Errorf("source changed by the killed move")
	}
	// The cut-off move still claims the instance: a new move is refused
	// until the job is settled; job abort removes the target's disk.
	if r := c.fails(11, "instance", "move", "-n", n[1], name); !strings.Contains(r.stderr, "was cut off mid-run") {
		t.Errorf("a move of an instance claimed by a crashed move: %s", r)
	}
	for id, j := range c.jobList() {
		if j.Status == "crashed" {
			c.ok("job", "abort", strconv.FormatInt(id, 10))
		}
	}
	if out, _ := c.nodeErr(n[1], "sh", "-c", `ls "$1"* 2>/dev/null; exit 0`, "t", target); strings.TrimSpace(out) != "" {
		t.Errorf("the aborted move left on %s: %s", n[1], out)
	}

	// 2. Cut link mid-copy: the copy fails, the target disk is removed.
	move := exec.Command(binary, "--inventory", c.inv, "--state-dir", c.stateDir, "instance", "move", "--transfer-idle-timeout", "3s", "-n", n[1], name)
	var stderr strings.Builder
	move.Stderr = &stderr
	if err := move.Start(); err != nil {
		t.Fatal(err)
	}
	if c.listenPort(n[1]) == "" {
		move.Wait()
		t.Fatalf("%s: no helper listening:\n%s", n[1], stderr.String())
	}
	time.Sleep(1500 * time.Millisecond)
	if err := c.bed.Cut(ctx, n[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	c.bed.Restore(ctx, n[0])
	if err := move.Wait(); err == nil {
		t.Errorf("move across a cut link succeeded:\n%s", stderr.String())
	}
	if out, _ := c.nodeErr(n[1], "sh", "-c", `ls "$1"* 2>/dev/null; exit 0`, "t", target); strings.TrimSpace(out) != "" {
		t.Errorf("cut move left on %s: %s", n[1], out)
	}

	// 3. Rerun with a stranger knocking: it completes.
	c.bed.Unslow(ctx, n[0])
	c.bed.Slow(ctx, n[0], 200_000_000)
	done := make(chan result, 1)
	go func() { done <- c.run("instance", "move", "-n", n[1], name) }()
	port := c.listenPort(n[1])
	if port == "" {
		t.Fatalf("%s: no helper listening: %s", n[1], <-done)
	}
	addr := nodes[1].SecondaryAddr
	out, _ := c.nodeErr(n[2], "sh", "-c", `printf 'GNTXFER1junk' | timeout 3 socat -T2 - TCP:"$1":"$2"; timeout 3 socat -T2 -u OPENSSL:"$1":"$2",verify=0 - </dev/null; exit 0`, "stranger", addr, port)
	if strings.Contains(out, "GNTXFER1") {
		t.Errorf("stranger read stream data: %q", out)
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("rerun of the move: %s", r)
	}
	if !strings.Contains(r.stderr, "MiB (100%)") || !strings.Contains(r.stderr, "MB/s") {
		t.Errorf("no copy progress shown:\n%s", r.stderr)
	}
	c.ok("instance", "activate-disks", name)
	if got := c.diskSum(n[1], name, 0, 96); got != sum {
		t.Errorf("disk sha256 after rerun %s, want %s", got, sum)
	}
	c.ok("instance", "remove", "-f", name)
}

// TestCopyProgressRateAndCleanup: a move with --json streams "transfer"
// events and holds to --rate-limit; export --remove-instance exports,
// removes the instance and the older export on another node; cluster
// verify reports a stale helper and what interrupted copies left, and
// --fix removes them and keeps the current helper.
func TestCopyProgressRateAndCleanup(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	name := "e2e-cp-rate"
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "file", "-s", "24M", "--no-start", "--no-name-check", name)
	c.ok("instance", "activate-disks", name)
	c.fillRandom(n[0], name, 0, 1, 23)
	m := c.marker(n[0], name, 0)
	sum := c.diskSum(n[0], name, 0, 24)
	c.ok("instance", "deactivate-disks", name)

	// 1. --json and --rate-limit: about 3 s of copying at 8 MiB/s.
	r := c.ok("--json", "instance", "move", "-n", n[1], "--rate-limit", "8M", name)
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(l), &ev) != nil {
			t.Fatalf("not a JSON line: %q\n%s", l, r)
		}
		if ev["type"] == "transfer" {
			last = ev
		}
	}
	if last == nil || last["complete"] != true || last["bytes"] != float64(24<<20) || last["node"] != n[0] {
		t.Fatalf("no complete transfer event:\n%s", r)
	}
	// A limit only holds a copy back: this bound cannot fail on a slow machine.
	if rate := last["rate_bytes_per_second"].(float64); rate > 1.3*(8<<20) {
		t.Errorf("copy at %.1f MiB/s with --rate-limit 8M", rate/(1<<20))
	}
	c.ok("instance", "activate-disks", name)
	if got := c.diskSum(n[1], name, 0, 24); got != sum {
		t.Errorf("disk sha256 after move %s, want %s", got, sum)
	}
	c.ok("instance", "deactivate-disks", name)

	// 2. An export on n[2], then export --remove-instance to n[0]: the
	// older export goes, and so does the instance.
	c.ok("backup", "export", "-n", n[2], name)
	c.node(n[2], "test", "-f", "/srv/ganeti/export/"+name+"/config.ini")
	c.ok("backup", "export", "-n", n[0], "--remove-instance", name)
	if out, _ := c.nodeErr(n[2], "ls", "/srv/ganeti/export/"); strings.Contains(out, name) {
		t.Errorf("older export left on %s: %s", n[2], out)
	}
	if r := c.ok("instance", "list", "--no-headers", "-o", "name"); strings.Contains(r.stdout, name) {
		t.Errorf("--remove-instance kept the instance:\n%s", r)
	}
	if l := c.leftovers(n[1], name); l != "" {
		t.Errorf("--remove-instance left on %s:\n%s", n[1], l)
	}
	imp := "e2e-cp-rate2"
	c.ok("backup", "import", "-n", n[1], "--src-node", n[0], "--no-start", "--no-name-check", "--src-dir", "/srv/ganeti/export/"+name, imp)
	c.ok("instance", "activate-disks", imp)
	if got := c.marker(n[1], imp, 0); got != m {
		t.Errorf("imported marker %+v, want %+v", got, m)
	}
	c.ok("instance", "deactivate-disks", imp)

	// 3. Stale helper and leftovers: reported, then removed by --fix.
	current := strings.TrimSpace(c.node(n[0], "sh", "-c", "ls /var/lib/ganetictl/helper-*"))
	c.node(n[0], "sh", "-c", `cp "$1" /var/lib/ganetictl/helper-0123456789abcdef
mkdir -p /srv/ganeti/file-storage/gone /srv/ganeti/export/gone.new
echo x > /srv/ganeti/file-storage/gone/disk0.ganetictl-partial
touch -d '-1 hour' /srv/ganeti/file-storage/gone/disk0.ganetictl-partial /srv/ganeti/export/gone.new
echo y > /srv/ganeti/file-storage/gone/disk1.ganetictl-partial`, "stale", current)
	r = c.run("cluster", "verify")
	for _, want := range []string{"helper-0123456789abcdef is not this ganetictl's", "partial copy /srv/ganeti/file-storage/gone/disk0.ganetictl-partial", "unfinished export /srv/ganeti/export/gone.new"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify does not report %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "disk1.ganetictl-partial") || strings.Contains(r.stdout, current) {
		t.Errorf("verify reports a fresh partial copy or the current helper:\n%s", r)
	}
	c.ok("cluster", "verify", "--fix")
	out := c.node(n[0], "sh", "-c", `ls /var/lib/ganetictl/ /srv/ganeti/file-storage/gone/ /srv/ganeti/export/`)
	if strings.Contains(out, "0123456789abcdef") || strings.Contains(out, "disk0.ganetictl-partial") || strings.Contains(out, "gone.new") ||
		!strings.Contains(out, current[strings.LastIndex(current, "/")+1:]) || !strings.Contains(out, "disk1.ganetictl-partial") {
		t.Errorf("after verify --fix:\n%s", out)
	}
	c.node(n[0], "rm", "-rf", "/srv/ganeti/file-storage/gone")
	c.verifyClean()
	c.ok("instance", "remove", "-f", imp)
}

// TestBackupDRBDAndRBD exports a drbd instance (read from the primary's
// data volume) and an rbd one (mapped for the copy while stopped), and
// imports each into the other template: the markers survive, and the
// imported drbd instance's data reached its secondary (failover).
func TestBackupDRBDAndRBD(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-ex-drbd")
	md := c.marker(n[0], "e2e-ex-drbd", 0)
	c.ok("instance", "add", "-n", n[2], "-o", "testos", "-t", "rbd", "-s", "32M", "--no-start", "--no-name-check", "e2e-ex-rbd")
	c.ok("instance", "activate-disks", "e2e-ex-rbd")
	mr := c.marker(n[2], "e2e-ex-rbd", 0)
	c.ok("instance", "deactivate-disks", "e2e-ex-rbd")

	c.ok("backup", "export", "-n", n[2], "--shutdown-timeout", "1s", "e2e-ex-drbd")
	if st := c.qmpStatus(n[0], "e2e-ex-drbd"); st != "running" {
		t.Errorf("drbd instance not restarted after export: %q", st)
	}
	c.ok("backup", "export", "-n", n[0], "e2e-ex-rbd")
	if out := c.node(n[2], "sh", "-c", "rbd showmapped 2>/dev/null | tail -n +2"); strings.TrimSpace(out) != "" {
		t.Errorf("the export left rbd mappings: %s", out)
	}

	// drbd export → rbd instance; rbd export → drbd instance.
	c.ok("backup", "import", "-n", n[1], "--src-node", n[2], "--src-dir", "/srv/ganeti/export/e2e-ex-drbd", "-t", "rbd", "--no-name-check", "e2e-im-rbd")
	if got := c.marker(n[1], "e2e-im-rbd", 0); got != md {
		t.Errorf("rbd import of the drbd export: marker %+v, want %+v", got, md)
	}
	c.ok("backup", "import", "-n", n[1]+":"+n[2], "--src-node", n[0], "--src-dir", "/srv/ganeti/export/e2e-ex-rbd", "-t", "drbd", "--no-name-check", "e2e-im-drbd")
	if got := c.marker(n[1], "e2e-im-drbd", 0); got != mr {
		t.Errorf("drbd import of the rbd export: marker %+v, want %+v", got, mr)
	}
	c.ok("instance", "failover", "-f", "--shutdown-timeout", "1s", "e2e-im-drbd")
	if got := c.marker(n[2], "e2e-im-drbd", 0); got != mr {
		t.Errorf("after failover the secondary's copy has marker %+v, want %+v", got, mr)
	}
	c.verifyClean()
}
