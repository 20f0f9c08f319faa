// Package fault is the on-node format of armed tool faults: a JSON file
// /var/lib/testbed/faults/<tool> that makes the next Remaining invocations
// of that tool fail with ExitCode and Stderr instead of running it.
package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Dir is where faults live on a node (node-private, persistent).
const Dir = "/var/lib/testbed/faults"

// Spec is one armed fault.
type Spec struct {
	Remaining int    `json:"remaining"`
	ExitCode  int    `json:"exit_code"`
	Stderr    string `json:"stderr"`
}

// Validate rejects specs that would not make a tool fail.
func (s Spec) Validate() error {
	if s.Remaining < 1 {
		return fmt.Errorf("fault: remaining must be >= 1, got %d", s.Remaining)
	}
	if s.ExitCode < 1 || s.ExitCode > 255 {
		return fmt.Errorf("fault: exit code must be 1..255, got %d", s.ExitCode)
	}
	return nil
}

// Arm writes spec for tool into dir, replacing any armed fault.
func Arm(dir, tool string, s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+tool+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, tool))
}

// Disarm removes any armed fault for tool.
func Disarm(dir, tool string) error {
	err := os.Remove(filepath.Join(dir, tool))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Take consumes one armed invocation for tool. ok is false when nothing is
// armed. The file is locked so concurrent invocations each take exactly one.
func Take(dir, tool string) (s Spec, ok bool, err error) {
	p := filepath.Join(dir, tool)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return Spec{}, false, nil
	}
	if err != nil {
		return Spec{}, false, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return Spec{}, false, fmt.Errorf("fault %s: lock: %w", tool, err)
	}
	// A concurrent Take may have removed the file after we opened it.
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return Spec{}, false, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Spec{}, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return Spec{}, false, fmt.Errorf("fault %s: %w", p, err)
	}
	if s.Remaining < 1 {
		return Spec{}, false, os.Remove(p)
	}
	s.Remaining--
	if s.Remaining == 0 {
		err = os.Remove(p)
	} else {
		nb, _ := json.Marshal(s)
		err = writeInPlace(f, append(nb, '\n'))
	}
	s.Remaining++ // report the spec as it was when taken
	return s, true, err
}

// writeInPlace rewrites the locked file without replacing its inode, so
// the lock keeps guarding the same file.
func writeInPlace(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(b, 0)
	return err
}
