package standin

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/internal/fixtures"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixture reads one of Ganeti's real tool outputs from the shared fixtures.
func fixture(t *testing.T, name string) string {
	t.Helper()
	return string(fixtures.Read(t, "ganeti-test-data", name))
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// testNode is one simulated node: private run and dev dirs, a shared dir,
// and a DRBD daemon running as a goroutine that "power off" stops.
type testNode struct {
	t    *testing.T
	root *Root
	mu   sync.Mutex
	// cancels stop every daemon spawned: a command may spawn one while
	// an earlier one has not yet taken the kernel lock (the late one then
	// exits, the early one runs), so keeping only the last would leave the
	// running daemon unstoppable.
	cancels []context.CancelFunc
	wg      sync.WaitGroup
	dead    bool
}

func newTestNode(t *testing.T, name, shared string) *testNode {
	t.Helper()
	dir := t.TempDir()
	n := &testNode{t: t}
	n.root = &Root{
		RunDir: filepath.Join(dir, "run"), SharedDir: shared, DevDir: filepath.Join(dir, "dev"),
		Hostname: name, peerTimeout: 600 * time.Millisecond,
	}
	n.root.spawnKernel = func(r *Root) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.dead {
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		n.cancels = append(n.cancels, cancel)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := r.runKernel(ctx); err != nil {
				t.Errorf("%s kernel: %v", name, err)
			}
		}()
		return nil
	}
	for _, d := range []string{n.root.RunDir, n.root.DevDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(n.powerOff)
	return n
}

// powerOff stops the node's daemon for good, like killing its namespace.
func (n *testNode) powerOff() {
	n.mu.Lock()
	n.dead = true
	for _, cancel := range n.cancels {
		cancel()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

func (n *testNode) run(tool string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = n.root.Run(tool, args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), code
}

// must runs a command that has to succeed.
func (n *testNode) must(tool string, args ...string) string {
	n.t.Helper()
	o, e, code := n.run(tool, args...)
	if code != 0 {
		n.t.Fatalf("%s %s %s: exit %d: %s", n.root.Hostname, tool, strings.Join(args, " "), code, e)
	}
	return o
}

func (n *testNode) status() string {
	b, err := os.ReadFile(n.root.DRBDStatusFile())
	if err != nil {
		return ""
	}
	return string(b)
}

// waitStatus polls the node's status file until it contains want.
func (n *testNode) waitStatus(want string, timeout time.Duration) string {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := n.status()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: status never showed %q; last:\n%s", n.root.Hostname, want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
