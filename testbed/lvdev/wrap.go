// Package lvdev gives LVs real block devices on test-bed nodes, where LVM
// runs with activation = 0 because the kernel has no device-mapper. It
// wraps the LVM tools: the real /usr/sbin tool changes the metadata, then
// the wrapper creates, resizes, renames or removes /dev/<vg>/<lv>, a loop
// device over the LV's extent range of the PV image (so data is really in
// the PV). Only linear LVs whose extents are contiguous get a device.
package lvdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// Tools are the LVM commands Main handles.
var Tools = []string{"lvcreate", "lvremove", "lvrename", "lvchange", "lvresize", "lvextend", "lvreduce",
	"lvs", "vgs", "pvs", "vgchange"}

// lockPath serialises wrapper runs on a node, so the before/after LV
// lists of one command are not mixed with another's changes.
const lockPath = "/run/testbed/lvm.lock"

// Main runs LVM tool with args and then brings LV devices in line. It
// returns the exit code for the process.
func Main(ctx context.Context, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	unlock, err := lock()
	if err != nil {
		fmt.Fprintf(stderr, "%s: testbed: %v\n", tool, err)
		return 5
	}
	defer unlock()

	var before []LV
	if tool == "lvcreate" || tool == "lvremove" || tool == "lvrename" {
		if before, err = List(ctx); err != nil {
			fmt.Fprintf(stderr, "%s: testbed: %v\n", tool, err)
			return 5
		}
	}
	if tool == "lvs" {
		if newArgs, fix, ok := reportFix(args); ok {
			var out bytes.Buffer
			code := runReal(ctx, tool, newArgs, stdin, &out, stderr)
			stdout.Write(fix(out.Bytes()))
			return code
		}
	}
	code := runReal(ctx, tool, args, stdin, stdout, stderr)
	if code != 0 {
		return code
	}
	if err := sync(ctx, tool, args, before); err != nil {
		fmt.Fprintf(stderr, "%s: testbed: %v\n", tool, err)
		return 5
	}
	return 0
}

// sync applies the device side of a successful LVM command.
func sync(ctx context.Context, tool string, args []string, before []LV) error {
	switch tool {
	case "lvs", "vgs", "pvs":
		return nil
	}
	after, err := List(ctx)
	if err != nil {
		return err
	}
	switch tool {
	case "lvcreate":
		if activation(args) == "n" {
			return nil
		}
		for _, lv := range added(before, after) {
			if err := Activate(lv); err != nil {
				return err
			}
			if !noZero(args) {
				if err := zeroHead(lv); err != nil {
					return fmt.Errorf("%s: zero: %w", lv.FullName(), err)
				}
			}
		}
	case "lvremove":
		for _, lv := range added(after, before) {
			if err := Deactivate(lv.VG, lv.Name); err != nil {
				return err
			}
		}
	case "lvrename":
		old := map[string]LV{}
		for _, lv := range before {
			old[lv.UUID] = lv
		}
		for _, lv := range after {
			if o, ok := old[lv.UUID]; ok && o.Name != lv.Name {
				if err := Rename(lv.VG, o.Name, lv.Name); err != nil {
					return err
				}
			}
		}
	case "lvresize", "lvextend", "lvreduce":
		return refresh(after)
	case "lvchange", "vgchange":
		a := activation(args)
		if a == "" {
			if hasFlag(args, "--refresh") {
				return refresh(after)
			}
			return nil
		}
		for _, lv := range targets(tool, args, after) {
			var err error
			if a == "y" {
				err = Activate(lv)
			} else {
				err = Deactivate(lv.VG, lv.Name)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ActivateAll activates every LV of vg, as vgchange -ay does at boot.
func ActivateAll(ctx context.Context, vg string) error {
	lvs, err := List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, lv := range lvs {
		if lv.VG == vg {
			errs = append(errs, Activate(lv))
		}
	}
	return errors.Join(errs...)
}

// refresh resizes the devices of active LVs whose size changed.
func refresh(lvs []LV) error {
	for _, lv := range lvs {
		if Active(lv.VG, lv.Name) {
			if err := Activate(lv); err != nil {
				return err
			}
		}
	}
	return nil
}

// added returns the LVs of b that a does not have (by UUID).
func added(a, b []LV) []LV {
	seen := map[string]bool{}
	for _, lv := range a {
		seen[lv.UUID] = true
	}
	var out []LV
	for _, lv := range b {
		if !seen[lv.UUID] {
			out = append(out, lv)
		}
	}
	return out
}

// runReal runs /usr/sbin/<tool>, dropping the stderr noise that only the
// metadata-only mode of the test bed causes.
func runReal(ctx context.Context, tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := exec.CommandContext(ctx, "/usr/sbin/"+tool, args...)
	cmd.Args[0] = tool // lvm dispatches on argv[0]
	cmd.Env = lvmEnv()
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &errb
	err := cmd.Run()
	io.WriteString(stderr, filterStderr(errb.String()))
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return ee.ExitCode()
	default:
		fmt.Fprintf(stderr, "%s: %v\n", tool, err)
		return 5
	}
}

func lvmEnv() []string {
	return append(os.Environ(), "LVM_SUPPRESS_FD_WARNINGS=1")
}

// noise are stderr lines real nodes (with device-mapper) never print.
var noise = []string{
	"WARNING: Activation disabled. No device-mapper interaction will be attempted.",
	"WARNING: Skipping zeroing and wipping, compiled without activation support.",
}

func filterStderr(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		t := strings.TrimSpace(line)
		drop := false
		for _, n := range noise {
			drop = drop || t == n
		}
		// "not zeroed" is true of the metadata step only; the wrapper zeroes.
		drop = drop || (strings.HasPrefix(t, "WARNING: Logical volume ") && strings.HasSuffix(t, " not zeroed."))
		if !drop {
			b.WriteString(line)
		}
	}
	return b.String()
}

func lock() (func(), error) {
	if err := os.MkdirAll("/run/testbed", 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}
