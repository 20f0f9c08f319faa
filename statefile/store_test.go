package statefile_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/storetest"
)

func TestDirStoreConformance(t *testing.T) {
	storetest.TestStore(t, func(t *testing.T) storetest.Opener {
		dir := filepath.Join(t.TempDir(), "state")
		return func() statefile.Backend {
			s, err := statefile.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestMemStoreConformance(t *testing.T) {
	storetest.TestStore(t, func(t *testing.T) storetest.Opener {
		m := statefile.NewMem()
		return func() statefile.Backend { return m }
	})
}

func openDir(t *testing.T) *statefile.DirStore {
	t.Helper()
	s, err := statefile.OpenDir(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustLock(t *testing.T, s statefile.Store, op string) *statefile.Lock {
	t.Helper()
	l, err := s.Lock(t.Context(), statefile.NewLockInfo(op, "test"))
	if err != nil {
		t.Fatalf("Lock(%q): %v", op, err)
	}
	t.Cleanup(func() { l.Unlock() })
	return l
}

func TestDirStorePermissions(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "perm")
	st := storetest.Sample(statefile.NewLineage())
	if _, err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	st.Cluster.Tags = []string{"changed"}
	if _, err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{s.Dir, 0o700 | os.ModeDir},
		{filepath.Join(s.Dir, statefile.HistoryDir), 0o700 | os.ModeDir},
		{filepath.Join(s.Dir, statefile.StateFile), 0o600},
		{filepath.Join(s.Dir, statefile.LockFile), 0o600},
		{filepath.Join(s.Dir, statefile.LockInfoFile), 0o600},
		{filepath.Join(s.Dir, statefile.HistoryDir, "1.json"), 0o600},
		{filepath.Join(s.Dir, statefile.HistoryDir, statefile.HistoryIndex), 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if fi.Mode() != c.mode {
			t.Errorf("mode of %s = %v, want %v", filepath.Base(c.path), fi.Mode(), c.mode)
		}
	}
	l.Unlock()
	if _, err := os.Stat(filepath.Join(s.Dir, statefile.LockInfoFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock info remains after Unlock: %v", err)
	}
}

func TestDirStoreHistoryIsTheOutgoingFile(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "h")
	st := storetest.Sample(statefile.NewLineage())
	s.Write(t.Context(), l, st)
	before, _ := os.ReadFile(filepath.Join(s.Dir, statefile.StateFile))
	st.Cluster.Name = "renamed.example.test"
	if _, err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	hist, _ := os.ReadFile(filepath.Join(s.Dir, statefile.HistoryDir, "1.json"))
	if string(hist) != string(before) {
		t.Errorf("history/1.json differs from the state.json it replaced")
	}
	// A history file with other content is never overwritten.
	os.WriteFile(filepath.Join(s.Dir, statefile.HistoryDir, "2.json"), []byte("{}"), 0o600)
	st.Cluster.Name = "again.example.test"
	if _, err := s.Write(t.Context(), l, st); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("Write over a differing history file: err = %v, want refusal", err)
	}
	if cur, _ := s.Read(t.Context()); cur.Serial != 2 {
		t.Errorf("state replaced although saving history failed: serial %d", cur.Serial)
	}
}

func TestDirStoreCrashLeftovers(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "crash")
	st := storetest.Sample(statefile.NewLineage())
	s.Write(t.Context(), l, st)
	l.Unlock()
	// A writer died after creating its temp file: a partial state.
	tmp := filepath.Join(s.Dir, statefile.StateFile+".tmp-123")
	os.WriteFile(tmp, []byte(`{"format_version": 1, "ser`), 0o600)
	got, err := s.Read(t.Context())
	if err != nil || got.Serial != 1 {
		t.Fatalf("Read with a leftover temp file = %v, %v", got, err)
	}
	l = mustLock(t, s, "after crash")
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temp file not removed by the next lock holder")
	}
	st.Cluster.Tags = []string{"x"}
	if _, err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(s.Dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left after a successful write", e.Name())
		}
	}
}

func TestDirStoreRefusesNonRegular(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "nonreg")
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	os.WriteFile(target, nil, 0o600)
	if err := os.Symlink(target, filepath.Join(s.Dir, statefile.StateFile)); err != nil {
		t.Skip(err)
	}
	_, err := s.Write(t.Context(), l, storetest.Sample(statefile.NewLineage()))
	if err == nil {
		t.Fatal("Write over a symlink succeeded")
	}
	os.Remove(filepath.Join(s.Dir, statefile.StateFile))
	os.Mkdir(filepath.Join(s.Dir, statefile.StateFile), 0o700)
	_, err = s.Write(t.Context(), l, storetest.Sample(statefile.NewLineage()))
	if err == nil {
		t.Errorf("Write over a directory succeeded")
	}
}

func TestDirStoreCorrupt(t *testing.T) {
	s := openDir(t)
	p := filepath.Join(s.Dir, statefile.StateFile)
	os.WriteFile(p, []byte(`{"format_version": 1, "serial": 3,`), 0o600)
	_, err := s.Read(t.Context())
	var ce *statefile.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Read of corrupt state: err = %v, want *CorruptError", err)
	}
	if ce.Path != p || !strings.Contains(err.Error(), "history/") || !strings.Contains(err.Error(), "state history") {
		t.Errorf("CorruptError = %q (path %q); want the path and a pointer to history", err, ce.Path)
	}
	l := mustLock(t, s, "over corrupt")
	if _, err := s.Write(t.Context(), l, storetest.Sample(statefile.NewLineage())); !errors.As(err, &ce) {
		t.Errorf("Write over a corrupt state: err = %v, want *CorruptError", err)
	}

	os.WriteFile(p, []byte(`{"format_version": 7}`), 0o600)
	_, err = s.Read(t.Context())
	var ve *statefile.VersionError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "state format 7 is newer than this ganetictl understands (1); upgrade ganetictl") {
		t.Errorf("Read of format 7: err = %v", err)
	}
}

func TestDirStoreForceUnlock(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "hung operation")
	if err := s.ForceUnlock(t.Context(), "wrong-id"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("ForceUnlock with a wrong ID: err = %v", err)
	}
	if err := s.ForceUnlock(t.Context(), l.Info.ID); err != nil {
		t.Fatalf("ForceUnlock: %v", err)
	}
	l2 := mustLock(t, s, "rescuer")
	// The broken holder must not be able to write any more.
	if _, err := s.Write(t.Context(), l, storetest.Sample(statefile.NewLineage())); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Write by a force-unlocked holder: err = %v, want refusal", err)
	}
	if _, err := s.Write(t.Context(), l2, storetest.Sample(statefile.NewLineage())); err != nil {
		t.Errorf("Write by the new holder: %v", err)
	}
	l.Unlock() // must not remove l2's info
	if _, err := os.Stat(filepath.Join(s.Dir, statefile.LockInfoFile)); err != nil {
		t.Errorf("the old holder's Unlock removed the new holder's lock info: %v", err)
	}
	l2.Unlock()
	if err := s.ForceUnlock(t.Context(), l2.Info.ID); !errors.Is(err, statefile.ErrNotLocked) {
		t.Errorf("ForceUnlock with nothing locked: err = %v, want ErrNotLocked", err)
	}
}

func TestDirStoreNowInjected(t *testing.T) {
	s := openDir(t)
	fixed := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return fixed }
	l := mustLock(t, s, "clock")
	if !l.Info.Created.Equal(fixed) {
		t.Errorf("lock Created = %v, want %v", l.Info.Created, fixed)
	}
	s.Write(t.Context(), l, storetest.Sample(statefile.NewLineage()))
	h, _ := s.History(t.Context())
	if len(h) != 1 || !h[0].Time.Equal(fixed) {
		t.Errorf("History = %+v, want one entry at %v", h, fixed)
	}
}

// TestHelperProcess is not a test: TestDirStoreLockOtherProcess runs the test
// binary again with it to hold the lock from another process.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("GANETICTL_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := statefile.OpenDir(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, err := s.Lock(context.Background(), statefile.NewLockInfo("helper holds the lock", "helper")); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(0)
}

func TestDirStoreLockOtherProcess(t *testing.T) {
	s := openDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "GANETICTL_TEST_LOCK_DIR="+s.Dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	killed := false
	t.Cleanup(func() {
		if !killed {
			syscall.Kill(pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = s.Lock(t.Context(), statefile.NewLockInfo("me", "test"))
	var le *statefile.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while another process holds it: err = %v, want *LockedError", err)
	}
	if le.Info.PID != pid || le.Info.Operation != "helper holds the lock" || le.HolderGone {
		t.Errorf("LockedError = %+v, want holder pid %d", le, pid)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(pid)) {
		t.Errorf("LockedError message %q does not name pid %d", err, pid)
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	l := mustLock(t, s, "after the holder died")
	if l.Previous == nil || l.Previous.PID != pid || l.Previous.Operation != "helper holds the lock" {
		t.Errorf("Lock after the holder was killed: Previous = %+v, want the dead holder pid %d", l.Previous, pid)
	}
	l.Unlock()
	l = mustLock(t, s, "clean")
	if l.Previous != nil {
		t.Errorf("Previous = %+v after a clean unlock", l.Previous)
	}
}
