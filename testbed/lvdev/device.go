package lvdev

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ganetictl/ganetictl/testbed/loopdev"
)

// PVImage is where every test-bed node keeps the file behind its PV loop
// device; LV devices are loop devices over byte ranges of this file.
const PVImage = "/var/lib/testbed/pv.img"

// Path is the device node of an active LV, as on a real node.
func Path(vg, lv string) string { return filepath.Join("/dev", vg, lv) }

// loopOf returns the loop number behind the device node at p, or -1 when
// no node exists (the LV is inactive).
func loopOf(p string) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, nil
		}
		return -1, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return -1, fmt.Errorf("%s: not a block device", p)
	}
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	if err != nil {
		return -1, fmt.Errorf("%s: %w", p, err)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(link), "loop"))
	if err != nil {
		return -1, fmt.Errorf("%s: not a loop device (%s)", p, link)
	}
	return n, nil
}

// Activate gives lv a block device at /dev/<vg>/<lv>: a loop device over
// the LV's extent range in the PV image. An active LV is resized in place
// if its size changed.
func Activate(lv LV) error {
	pv, off, size, err := lv.Extent()
	if err != nil {
		return err
	}
	if err := checkPV(pv); err != nil {
		return fmt.Errorf("%s: %w", lv.FullName(), err)
	}
	p := Path(lv.VG, lv.Name)
	n, err := loopOf(p)
	if err != nil {
		return err
	}
	if n >= 0 {
		d, err := loopdev.Status(n)
		if err == nil && d.Offset == off {
			if d.SizeLimit != size {
				return loopdev.Resize(n, size)
			}
			return nil
		}
		// The node is stale (e.g. its loop was detached): replace it.
		if err == nil {
			_ = loopdev.Detach(n)
		}
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	d, err := loopdev.Attach(PVImage, off, size)
	if err != nil {
		return fmt.Errorf("%s: %w", lv.FullName(), err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		_ = loopdev.Detach(d.N)
		return err
	}
	if err := unix.Mknod(p, unix.S_IFBLK|0o660, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
		_ = loopdev.Detach(d.N)
		return fmt.Errorf("%s: mknod %s: %w", lv.FullName(), p, err)
	}
	return nil
}

// Deactivate removes the device of vg/lv and detaches its loop device.
func Deactivate(vg, lv string) error {
	p := Path(vg, lv)
	n, err := loopOf(p)
	if err != nil || n < 0 {
		return err
	}
	if err := loopdev.Detach(n); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	_ = os.Remove(filepath.Dir(p)) // only succeeds once the VG dir is empty
	return nil
}

// Rename moves the device node of an active LV to its new name.
func Rename(vg, from, to string) error {
	n, err := loopOf(Path(vg, from))
	if err != nil || n < 0 {
		return err
	}
	return os.Rename(Path(vg, from), Path(vg, to))
}

// Active reports whether vg/lv has a device node.
func Active(vg, lv string) bool {
	n, err := loopOf(Path(vg, lv))
	return err == nil && n >= 0
}

// checkPV refuses PVs other than the node's image-backed loop device,
// since LV devices are carved from that image.
func checkPV(pv string) error {
	n, err := strconv.Atoi(strings.TrimPrefix(pv, "/dev/loop"))
	if err != nil {
		return fmt.Errorf("PV %s is not the test-bed loop device", pv)
	}
	d, err := loopdev.Status(n)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(PVImage, &st); err != nil {
		return &os.PathError{Op: "stat", Path: PVImage, Err: err}
	}
	if d.BackingDev != uint64(st.Dev) || d.BackingIno != st.Ino || d.Offset != 0 {
		return fmt.Errorf("PV %s is not backed by %s", pv, PVImage)
	}
	return nil
}

// zeroHead wipes the first 4 KiB of a new LV, as lvcreate does by default
// on a real node (it cannot without device-mapper).
func zeroHead(lv LV) error {
	f, err := os.OpenFile(Path(lv.VG, lv.Name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	n := int64(4096)
	if lv.Size < n {
		n = lv.Size
	}
	if _, err := f.Write(make([]byte, n)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
