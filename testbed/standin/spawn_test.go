package standin

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const envTestMain = "STANDIN_TEST_MAIN"

// TestMain lets the test binary act as tbtool ("<exe> <tool> args...") so
// that the real daemon spawn path can be exercised.
func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) != "" {
		os.Exit(Main(os.Args[1], os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The default spawn re-executes the binary detached; the daemon keeps the
// status file current and exits once the last minor is down.
func TestDRBDDaemonProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envTestMain, "1")
	old := selfInvocation
	SetInvocation([]string{exe, "drbdsetup"})
	t.Cleanup(func() { selfInvocation = old })

	dir := t.TempDir()
	r := &Root{RunDir: filepath.Join(dir, "run"), SharedDir: filepath.Join(dir, "shared"), DevDir: filepath.Join(dir, "dev"), Hostname: "node1"}
	if err := InitNode(r); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(r.RunDir, "drbd", "kernel.pid")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL) // only the daemon this test started
			}
		}
	})
	n := &testNode{t: t, root: r}
	data, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	writeFile(t, data, make([]byte, 1<<20))
	writeFile(t, meta, make([]byte, 1<<20))
	n.must("drbdmeta", "--force", "/dev/drbd3", "v08", meta, "flex-external", "create-md")
	n.must("drbdsetup", "new-resource", "resource3")
	n.must("drbdsetup", "new-minor", "resource3", "3", "0")
	n.must("drbdsetup", "attach", "3", data, meta, "flexible")
	n.must("drbdsetup", "connect", "resource3", "ipv4:127.0.0.1:11003", "ipv4:127.0.0.2:11003")
	waitFile(t, pidFile, true)
	// The daemon's heartbeat keeps the endpoint registration fresh.
	ep := filepath.Join(r.SharedDir, "drbd", "ep-127.0.0.1-11003.json")
	fi1, err := os.Stat(ep)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * kernelTick)
	if fi2, err := os.Stat(ep); err != nil || !fi2.ModTime().After(fi1.ModTime()) {
		t.Errorf("endpoint not refreshed by the daemon: %v", err)
	}
	n.waitStatus(" 3: cs:WFConnection ro:Secondary/Unknown ds:Inconsistent/DUnknown C r-----", 2*time.Second)
	n.must("drbdsetup", "down", "resource3")
	waitFile(t, pidFile, false)
}

func waitFile(t *testing.T, p string, exists bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(p); (err == nil) == exists {
			return
		}
	}
	t.Fatalf("%s: exists=%v never reached", p, exists)
}
