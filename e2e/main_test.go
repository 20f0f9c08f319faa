//go:build bed

// Package e2e runs the ganetictl binary against the test bed's real sshd
// nodes and checks what the nodes and the state file really hold. Every
// file carries the bed build tag: "go test ./..." leaves the package out,
// "make e2e" (go test -tags bed) runs it, as root.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/testbed"
)

// binary is the ganetictl built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ganetictl-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ganetictl")
	build := exec.Command("go", "build", "-o", binary, "../cmd/ganetictl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build ganetictl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is one test's view of the bed: the bed, an inventory and a
// private state directory.
type cluster struct {
	t        *testing.T
	bed      *testbed.Bed
	inv      string
	stateDir string
	n        int // nodes this test uses: the bed's first n
}

func newCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	bed := testbed.ForTest(t, nodes)
	c := &cluster{t: t, bed: bed, inv: bed.InventoryPath(), stateDir: t.TempDir(), n: nodes}
	// Nodes are shared between tests: start and end each test with clean nodes.
	c.wipe()
	t.Cleanup(c.wipe)
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs ganetictl with the cluster's inventory and state directory.
func (c *cluster) run(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{"--inventory", c.inv, "--state-dir", c.stateDir}, args...)
	t0 := time.Now()
	r := collect(c.t, exec.CommandContext(ctx, binary, full...))
	if os.Getenv("E2E_TIMES") != "" {
		c.t.Logf("%5.1fs ganetictl %s", time.Since(t0).Seconds(), strings.Join(args, " "))
	}
	return r
}

// collect runs cmd and returns its output and exit code; a command that
// cannot be run at all fails the test.
func collect(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return r
}

// ok runs ganetictl and fails the test unless it exits 0.
func (c *cluster) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("ganetictl %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// fails runs ganetictl, wants exit code want, and returns the result.
func (c *cluster) fails(want int, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != want {
		c.t.Fatalf("ganetictl %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// node runs a command on a node without ganetictl, for assertions.
func (c *cluster) node(name string, argv ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, err := c.bed.Run(ctx, name, argv...)
	if err != nil {
		c.t.Fatalf("%s: %v: %v: %s", name, argv, err, stderr)
	}
	return out
}

// nodeErr runs a command on a node and returns its error instead of failing.
func (c *cluster) nodeErr(name string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := c.bed.Run(ctx, name, argv...)
	return out, err
}

func (c *cluster) stateBytes() []byte {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.stateDir, "state.json"))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *cluster) names() []string {
	var out []string
	for _, n := range c.bed.Nodes()[:c.n] {
		out = append(out, n.Name)
	}
	return out
}

// wipeScript removes everything an instance may leave on a test bed node:
// qemu processes, taps, xl domains, LVs, disk files, rbd mappings, runtime
// files, the state copy, exports and copy helpers. It runs on the bed's own nodes only.
const wipeScript = `for f in /run/ganeti/kvm-hypervisor/pid/*; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
for t in $(ip -o link show type tun 2>/dev/null | sed -n 's/^[0-9]*: \(gt[0-9a-f]*\).*/\1/p'); do ip link del "$t"; done
for d in $(xl list 2>/dev/null | awk 'NR>2 {print $1}'); do xl destroy "$d" >/dev/null 2>&1; done
rm -f /etc/xen/e2e-* 2>/dev/null
for dev in $(rbd showmapped 2>/dev/null | awk 'NR>1 {print $NF}'); do rbd unmap "$dev" >/dev/null 2>&1; done
for m in $(sed -n 's/^ *\([0-9][0-9]*\): cs:.*/\1/p' /run/testbed/drbd/proc_drbd 2>/dev/null); do drbdsetup down "resource$m" >/dev/null 2>&1; done
lvremove -f xenvg >/dev/null 2>&1
rm -rf /srv/ganeti/file-storage/* /run/ganeti/instance-disks /run/ganeti/kvm-hypervisor /var/lib/ganeti/ganetictl /tmp/ganetictl-e2e
rm -rf /srv/ganeti/export/* /var/lib/ganetictl/helper-*
true`

func (c *cluster) wipe() {
	for _, n := range c.bed.Nodes()[:c.n] {
		c.node(n.Name, "sh", "-c", wipeScript)
	}
	// Shared storage lives once for all nodes.
	c.node(c.bed.Nodes()[0].Name, "sh", "-c", `rm -rf /srv/ganeti/shared-file-storage/* 2>/dev/null; for i in $(rbd ls -p rbd 2>/dev/null); do rbd rm -p rbd "$i" >/dev/null 2>&1; done; true`)
}

// extraAddr gives node a second address on the link that holds old: old's
// host part plus 100, in its /24. cleanup (the test's, or an outer one's)
// removes it again.
func (c *cluster) extraAddr(node, old string, cleanup func(func())) string {
	c.t.Helper()
	dot := strings.LastIndex(old, ".")
	host, _ := strconv.Atoi(old[dot+1:])
	ip := fmt.Sprintf("%s.%d", old[:dot], 100+host)
	dev := strings.TrimSpace(c.node(node, "sh", "-c", `ip -o -4 addr show | awk -v a="$1/" 'index($4, a) == 1 {print $2}'`, "dev", old))
	if dev == "" {
		c.t.Fatalf("%s: no link holds %s", node, old)
	}
	c.node(node, "ip", "addr", "add", ip+"/24", "dev", dev)
	cleanup(func() { c.nodeErr(node, "ip", "addr", "del", ip+"/24", "dev", dev) })
	return ip
}
