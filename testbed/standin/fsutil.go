package standin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeFileAtomic replaces path with data so readers (cat of the status
// file, a peer reading a registration) never see a torn file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// readJSON reads path into v; a missing file leaves v untouched and reports
// found=false.
func readJSON(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("parse %s: %w", path, err)
	}
	return true, nil
}

// fileLock is an flock(2) on a lock file. flock locks belong to the open file
// description, so they exclude goroutines of one process as well as other
// processes and other nodes (the shared dir is one filesystem).
type fileLock struct{ f *os.File }

func lockFile(path string, exclusive, wait bool) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// devIdentity describes a backing device so that another node can reach the
// same kernel object: a block device by major:minor (loop devices are
// host-global), a regular file (unit tests) by absolute path.
type devIdentity struct {
	Path  string `json:"path"`
	Block bool   `json:"block"`
	Rdev  uint64 `json:"rdev"`
	// Loop is what a loop device maps. Loop numbers are reused once
	// detached (a node powered off detaches its LVs), so a peer checks
	// it before writing: the number alone may be another node's LV by now.
	Loop *loopBinding `json:"loop,omitempty"`
}

// loopBinding is a loop device's backing file (device and inode) and offset.
type loopBinding struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset uint64 `json:"offset"`
}

// boundLoop reports what the loop device open as f maps; nil, nil for a
// block device that is no loop device.
func boundLoop(f *os.File) (*loopBinding, error) {
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: loop status: %w", f.Name(), err)
	}
	return &loopBinding{Dev: info.Device, Ino: info.Inode, Offset: info.Offset}, nil
}

func identify(path string) (devIdentity, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return devIdentity{}, err
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return devIdentity{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		id := devIdentity{Path: abs, Block: true, Rdev: uint64(st.Rdev)}
		f, err := os.Open(abs)
		if err != nil {
			return devIdentity{}, err
		}
		defer f.Close()
		if id.Loop, err = boundLoop(f); err != nil {
			return devIdentity{}, err
		}
		return id, nil
	case unix.S_IFREG:
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return devIdentity{}, err
		}
		return devIdentity{Path: real}, nil
	}
	return devIdentity{}, fmt.Errorf("%s is not a block device", path)
}

// makeAlias makes alias refer to the device id: a block device node with the
// same major:minor, or a symlink for a regular file. An existing correct alias
// is kept, a wrong one replaced.
func makeAlias(alias string, id devIdentity) error {
	if err := os.MkdirAll(filepath.Dir(alias), 0o755); err != nil {
		return err
	}
	if !id.Block {
		if cur, err := os.Readlink(alias); err == nil && cur == id.Path {
			return nil
		}
		tmp := alias + ".tmp" + randomHex(4)
		if err := os.Symlink(id.Path, tmp); err != nil {
			return err
		}
		return os.Rename(tmp, alias)
	}
	var st unix.Stat_t
	if err := unix.Lstat(alias, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && uint64(st.Rdev) == id.Rdev {
		return nil
	}
	tmp := alias + ".tmp" + randomHex(4)
	if err := unix.Mknod(tmp, unix.S_IFBLK|0o660, int(id.Rdev)); err != nil {
		return &os.PathError{Op: "mknod", Path: tmp, Err: err}
	}
	return os.Rename(tmp, alias)
}

func removeAlias(alias string) {
	_ = os.Remove(alias)
}

// deviceSize returns the size in bytes of a block device or regular file.
func deviceSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Seek(0, io.SeekEnd)
}

const copyChunk = 1 << 20

// syncRange makes dst equal src over [0,size): it reads both in chunks and
// writes only the chunks that differ, so re-replicating an almost identical
// device costs reads only. progress is called with the bytes scanned so far
// and may return an error to abort (cancellation).
func syncRange(src, dst *os.File, size int64, progress func(done int64) error) (written int64, err error) {
	a := make([]byte, copyChunk)
	b := make([]byte, copyChunk)
	for off := int64(0); off < size; {
		n := int64(copyChunk)
		if size-off < n {
			n = size - off
		}
		if _, err := src.ReadAt(a[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return written, fmt.Errorf("read source at %d: %w", off, err)
		}
		m, err := dst.ReadAt(b[:n], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return written, fmt.Errorf("read target at %d: %w", off, err)
		}
		if int64(m) != n || !bytes.Equal(a[:n], b[:n]) {
			if _, err := dst.WriteAt(a[:n], off); err != nil {
				return written, fmt.Errorf("write target at %d: %w", off, err)
			}
			written += n
		}
		off += n
		if progress != nil {
			if err := progress(off); err != nil {
				return written, err
			}
		}
	}
	return written, dst.Sync()
}

// writeFileRange overwrites the start of an existing file or device.
func writeFileRange(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
