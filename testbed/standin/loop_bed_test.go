//go:build bed

package standin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ganetictl/ganetictl/testbed/loopdev"
)

// A peer's loop device that was detached and whose number now maps another
// file is refused: writing there would corrupt another node's LV.
func TestBedOpenPeerDevRefusesReusedLoop(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "pv.img")
	writeFile(t, img, make([]byte, 4<<20))
	d, err := loopdev.Attach(img, 1<<20, 1<<20)
	if err != nil {
		t.Skipf("no loop devices here: %v", err)
	}
	dev := filepath.Join(dir, "lv")
	id := devIdentity{Path: dev, Block: true, Rdev: unix.Mkdev(d.Major, d.Minor)}
	if err := makeAlias(dev, id); err != nil {
		loopdev.Detach(d.N)
		t.Fatal(err)
	}
	if id, err = identify(dev); err != nil || id.Loop == nil {
		loopdev.Detach(d.N)
		t.Fatalf("identify %s: %+v %v", dev, id, err)
	}
	r := &Root{RunDir: filepath.Join(dir, "run")}
	peer := &endpoint{Node: "node2", Dev: id}
	f, err := r.openPeerDev(0, peer)
	if err != nil {
		loopdev.Detach(d.N)
		t.Fatalf("the peer's own device: %v", err)
	}
	f.Close()

	// The same number over another range of the image: another LV.
	if err := loopdev.Detach(d.N); err != nil {
		t.Fatal(err)
	}
	d2, err := loopdev.Attach(img, 2<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer loopdev.Detach(d2.N)
	if d2.N != d.N {
		t.Skipf("loop%d was not reused (got loop%d)", d.N, d2.N)
	}
	if f, err := r.openPeerDev(0, peer); err == nil || !strings.Contains(err.Error(), "is no longer its disk") {
		if f != nil {
			f.Close()
		}
		t.Fatalf("a reused loop number was opened: %v", err)
	}
	_ = os.Remove(dev)
}
