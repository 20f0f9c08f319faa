// Package loopdev attaches, resizes, lists and detaches Linux loop devices
// with ioctls, so it works inside a test-bed node whose /dev is a private
// tmpfs without /dev/loopN nodes (losetup needs those nodes).
package loopdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Dev is a bound loop device.
type Dev struct {
	N            int    // loopN
	Major, Minor uint32 // device numbers, from sysfs
	Offset       int64  // byte offset into the backing file
	SizeLimit    int64  // 0 means up to the end of the file
	BackingDev   uint64 // st_dev of the backing file
	BackingIno   uint64 // st_ino of the backing file
}

// Attach binds a free loop device to size bytes of file starting at offset
// (size 0: to the end of the file).
func Attach(file string, offset, size int64) (Dev, error) {
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return Dev{}, err
	}
	defer f.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return Dev{}, err
	}
	defer ctl.Close()
	// LOOP_CTL_GET_FREE races with other attachers: a lost race shows as
	// EBUSY from LOOP_CONFIGURE, and then we simply ask again.
	for try := 0; try < 50; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return Dev{}, fmt.Errorf("loop-control: get free: %w", err)
		}
		d, err := open(n)
		if err != nil {
			return Dev{}, err
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Offset = uint64(offset)
		cfg.Info.Sizelimit = uint64(size)
		copy(cfg.Info.File_name[:], file)
		err = unix.IoctlLoopConfigure(int(d.Fd()), &cfg)
		d.Close()
		if errors.Is(err, unix.EBUSY) {
			continue
		}
		if err != nil {
			return Dev{}, fmt.Errorf("loop%d: configure %s: %w", n, file, err)
		}
		return Status(n)
	}
	return Dev{}, fmt.Errorf("loop: no free device for %s", file)
}

// Detach unbinds loopN. A device still held open is detached by the kernel
// on its last close.
func Detach(n int) error {
	d, err := open(n)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.IoctlSetInt(int(d.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("loop%d: detach: %w", n, err)
	}
	return nil
}

// Resize changes the size limit of loopN in place (the offset stays), so
// an LV device stays usable by whoever holds it open.
func Resize(n int, size int64) error {
	d, err := open(n)
	if err != nil {
		return err
	}
	defer d.Close()
	info, err := unix.IoctlLoopGetStatus64(int(d.Fd()))
	if err != nil {
		return fmt.Errorf("loop%d: status: %w", n, err)
	}
	info.Sizelimit = uint64(size)
	if err := unix.IoctlLoopSetStatus64(int(d.Fd()), info); err != nil {
		return fmt.Errorf("loop%d: resize: %w", n, err)
	}
	if err := unix.IoctlSetInt(int(d.Fd()), unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("loop%d: set capacity: %w", n, err)
	}
	return nil
}

// Status reports loopN; it fails with ENXIO when loopN is not bound.
func Status(n int) (Dev, error) {
	maj, min, err := numbers(n)
	if err != nil {
		return Dev{}, err
	}
	d, err := open(n)
	if err != nil {
		return Dev{}, err
	}
	defer d.Close()
	info, err := unix.IoctlLoopGetStatus64(int(d.Fd()))
	if err != nil {
		return Dev{}, fmt.Errorf("loop%d: status: %w", n, err)
	}
	return Dev{N: n, Major: maj, Minor: min, Offset: int64(info.Offset), SizeLimit: int64(info.Sizelimit),
		BackingDev: info.Device, BackingIno: info.Inode}, nil
}

// List returns every bound loop device.
func List() ([]Dev, error) {
	ents, err := os.ReadDir("/sys/block")
	if err != nil {
		return nil, err
	}
	var out []Dev
	for _, e := range ents {
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "loop"))
		if err != nil || !strings.HasPrefix(e.Name(), "loop") {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/block", e.Name(), "loop")); err != nil {
			continue // not bound
		}
		d, err := Status(n)
		if errors.Is(err, unix.ENXIO) {
			continue // unbound meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// BackedBy returns the bound loop devices whose backing file is file.
func BackedBy(file string) ([]Dev, error) {
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: file, Err: err}
	}
	all, err := List()
	if err != nil {
		return nil, err
	}
	var out []Dev
	for _, d := range all {
		if d.BackingDev == uint64(st.Dev) && d.BackingIno == st.Ino {
			out = append(out, d)
		}
	}
	return out, nil
}

// numbers reads loopN's major:minor from sysfs (not namespaced, unlike /dev).
func numbers(n int) (uint32, uint32, error) {
	b, err := os.ReadFile(fmt.Sprintf("/sys/block/loop%d/dev", n))
	if err != nil {
		return 0, 0, fmt.Errorf("loop%d: %w", n, err)
	}
	var maj, min uint32
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err != nil {
		return 0, 0, fmt.Errorf("loop%d: parse dev %q: %w", n, b, err)
	}
	return maj, min, nil
}

// open opens loopN through /dev/loopN when that node is right, else
// through a private node made for the call (node /dev has no loopN).
func open(n int) (*os.File, error) {
	maj, min, err := numbers(n)
	if err != nil {
		return nil, err
	}
	want := unix.Mkdev(maj, min)
	p := fmt.Sprintf("/dev/loop%d", n)
	// devtmpfs creates the node asynchronously after LOOP_CTL_GET_FREE.
	for i := 0; i < 20; i++ {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Rdev == want {
			return os.OpenFile(p, os.O_RDWR, 0)
		}
		if i == 0 && !isDevtmpfs() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	tmp := fmt.Sprintf("/dev/.tbloop%d-%d", n, os.Getpid())
	if err := unix.Mknod(tmp, unix.S_IFBLK|0o600, int(want)); err != nil {
		return nil, fmt.Errorf("loop%d: mknod %s: %w", n, tmp, err)
	}
	defer os.Remove(tmp)
	return os.OpenFile(tmp, os.O_RDWR, 0)
}

// isDevtmpfs tells a host /dev (devtmpfs, nodes appear by themselves) from
// a node's private tmpfs /dev; the last /dev mount is the visible one.
func isDevtmpfs() bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	fstype := ""
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "/dev" {
			fstype = f[2]
		}
	}
	return fstype == "devtmpfs"
}
