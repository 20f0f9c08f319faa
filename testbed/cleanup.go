package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanup removes every trace of the bed in l (and of bed id): it asks a
// live supervisor to tear down, then kills by PID what a crashed run left,
// detaches loop devices and deletes network objects. With removeDir it
// also deletes the bed directory (only if it carries the bed marker).
func cleanup(ctx context.Context, l layout, id int, removeDir bool) error {
	ids := []int{id}
	if s, err := readSpec(l); err == nil && s.ID != id {
		ids = append(ids, s.ID)
	}
	if _, err := os.Stat(l.sock()); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		_, err := call(cctx, l.sock(), request{Op: "teardown"})
		cancel()
		if err == nil {
			waitGone(ctx, pidFromFile(l.supPID()), 10*time.Second)
		}
	}
	var errs []error
	// Leftovers of a crashed supervisor: it and the nodes' unshare processes.
	for _, pid := range bedProcesses(l) {
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(ctx, pid, 5*time.Second)
	}
	imgs, _ := filepath.Glob(filepath.Join(l.dir, "nodes", "*", "testbed", "pv.img"))
	for _, img := range imgs {
		errs = append(errs, detachAll(img))
	}
	for _, id := range ids {
		errs = append(errs, deleteNet(ctx, naming{id}))
	}
	os.Remove(l.sock())
	if removeDir {
		if _, err := os.Stat(l.marker()); err == nil {
			errs = append(errs, os.RemoveAll(l.dir))
		} else if ents, err := os.ReadDir(l.dir); err == nil && len(ents) > 0 {
			errs = append(errs, fmt.Errorf("testbed: %s is not a test-bed directory (no %s); not removing it",
				l.dir, filepath.Base(l.marker())))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// bedProcesses finds the supervisor and node processes of the bed in l by
// their command lines (which name the bed's tbtool binary).
func bedProcesses(l layout) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	me := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == me {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		for i, a := range argv {
			if a == l.tbtool() && i+1 < len(argv) && (argv[i+1] == "supervise" || argv[i+1] == "node-init") {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func pidFromFile(p string) int {
	b, _ := os.ReadFile(p)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// waitGone waits until pid has exited (a zombie counts as gone).
func waitGone(ctx context.Context, pid int, d time.Duration) {
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// state is the field after the ")" that ends the command name
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
