//go:build bed

package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/testbed"
)

// These tests run the steps for real on the shared test bed (lvm2 on a
// loop PV with LV block devices, file and shared file storage, the rbd
// stand-in) and look at what the node then holds. They are built only with
// -tags bed (make e2e) and skip without root, like every bed test, except
// with CI=true.

const rbdTestPool = "ganetictl-storage-test"

type bedRunner struct {
	t   *testing.T
	bed *testbed.Bed
}

func (r bedRunner) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// run runs argv on node and returns its stdout, failing the test on error.
func (r bedRunner) run(node string, argv ...string) string {
	r.t.Helper()
	ctx, cancel := r.ctx()
	defer cancel()
	out, _, err := r.bed.Run(ctx, node, argv...)
	if err != nil {
		r.t.Fatal(short(err))
	}
	return out
}

// try runs argv and reports whether it succeeded.
func (r bedRunner) try(node string, argv ...string) (string, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	out, _, err := r.bed.Run(ctx, node, argv...)
	return out, err
}

// steps runs plan steps in order, as apply would for one disk.
func (r bedRunner) steps(steps []plan.Step, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, s := range steps {
		if _, err := r.try(s.Node, s.Argv...); err != nil {
			r.t.Fatalf("step %q: %v", s.Desc, short(err))
		}
	}
}

// short keeps scripts out of failure messages.
func short(err error) error {
	s := err.Error()
	if i := strings.Index(s, "sh -c "); i >= 0 {
		if j := strings.Index(s, " ganetictl-"); j > i {
			s = s[:i] + "sh -c <script>" + s[j:]
		}
	}
	return fmt.Errorf("%s", s)
}

func uniq(t *testing.T, prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b) + ".example.com"
}

func bedCluster(bed *testbed.Bed) *statefile.Cluster {
	return &statefile.Cluster{VolumeGroup: bed.VG(), FileStorageDir: DefaultFileDir,
		SharedFileStorageDir: DefaultSharedDir, RBDPool: rbdTestPool}
}

func TestBedDiskLifecycle(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	node, other := bed.Nodes()[0].Name, bed.Nodes()[1].Name
	for _, tmpl := range []string{Plain, File, SharedFile, RBD} {
		t.Run(tmpl, func(t *testing.T) {
			r := bedRunner{t, bed}
			inst := uniq(t, "sto-"+tmpl)
			ds, err := New(tmpl, bedCluster(bed), inst, node, 0, []Spec{{Size: 8}}, statefile.NewUUID)
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			link := LinkPath(inst, 0)
			cur := d // the disk as it is now (Rename changes file paths)
			t.Cleanup(func() {
				if s, err := Shutdown(cur, node, inst, 0); err == nil {
					r.try(node, s[0].Argv...)
				}
				if s, err := Remove(cur, node); err == nil {
					r.try(node, s[0].Argv...)
				}
			})

			r.steps(Create(d, node, inst))
			r.steps(Assemble(d, node, inst, 0))
			if tmpl == RBD { // assembling again keeps one mapping
				r.steps(Assemble(d, node, inst, 0))
				ms, err := ParseShowmapped([]byte(r.run(node, "rbd", "showmapped", "--format", "json")))
				if dev, err2 := MappedDevice(ms, rbdTestPool, volumeOf(d)); err != nil || err2 != nil || dev == "" {
					t.Fatalf("after two assembles: %q %v %v", dev, err, err2)
				}
			}
			target := strings.TrimSpace(r.run(node, "readlink", "-f", link))
			if dp := DevicePath(d); dp != "" && target != dp {
				t.Errorf("link %s -> %s, want %s", link, target, dp)
			}
			if tmpl == Plain || tmpl == RBD {
				r.run(node, "test", "-b", target)
			}

			// Data goes through the link and comes back.
			marker := "ganetictl-" + tmpl + "-marker"
			write := func(l string) {
				r.run(node, "sh", "-c", `printf '%s' "$2" | dd of="$1" bs=4096 conv=notrunc,fsync 2>/dev/null`, "w", l, marker)
			}
			read := func(l string) string {
				return r.run(node, "sh", "-c", `dd if="$1" bs=4096 count=1 2>/dev/null | head -c "$2"`, "r", l, strconv.Itoa(len(marker)))
			}
			write(link)
			if got := read(link); got != marker {
				t.Fatalf("read back %q, want %q", got, marker)
			}

			// Grow by 4 MiB: 12 MiB (8 MiB is a whole number of 4 MiB extents).
			r.steps(Grow(d, node, 4))
			d.Size += 4
			const want = 12 << 20
			var size string
			switch tmpl {
			case Plain:
				size = r.run(node, "blockdev", "--getsize64", DevicePath(d))
			case File, SharedFile:
				size = r.run(node, "stat", "-c", "%s", DevicePath(d))
			case RBD:
				var info struct{ Size int64 }
				if err := json.Unmarshal([]byte(r.run(node, "rbd", "info", "-p", rbdTestPool, volumeOf(d), "--format", "json")), &info); err != nil {
					t.Fatal(err)
				}
				size = strconv.FormatInt(info.Size, 10)
			}
			if strings.TrimSpace(size) != strconv.Itoa(want) {
				t.Errorf("size after grow %s, want %d", strings.TrimSpace(size), want)
			}
			if got := read(link); got != marker {
				t.Errorf("after grow read %q", got)
			}

			// The volume listing sees it.
			vs := VolumesStep(node, bed.VG(), DefaultFileDir, DefaultSharedDir, rbdTestPool)
			v, err := ParseVolumes([]byte(r.run(node, vs.Argv...)))
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Errors) > 0 {
				t.Errorf("volume listing errors: %v", v.Errors)
			}
			if !listed(v, d) {
				t.Errorf("volume %s not in listing %+v", VolumeName(d), v)
			}
			if tmpl == Plain {
				for _, lv := range v.LVs {
					if lv.FullName() == VolumeName(d) && (lv.Instance() != inst || !lv.Active || lv.SizeMiB != 12) {
						t.Errorf("LV %+v: want tag of %s, active, 12 MiB", lv, inst)
					}
				}
			}
			if tmpl == SharedFile { // every node sees shared files
				r.run(other, "test", "-f", DevicePath(d))
			}

			// Rename the instance: file dirs move, LV tags follow.
			newInst := uniq(t, "sto-"+tmpl+"-renamed")
			r.run(node, "rm", "-f", link)
			steps, nds, err := Rename([]*statefile.Disk{d}, node, inst, newInst)
			r.steps(steps, err)
			cur = nds[0]
			if tmpl == File || tmpl == SharedFile {
				r.run(node, "test", "-f", DevicePath(cur))
				if _, err := r.try(node, "test", "-e", DevicePath(d)); err == nil {
					t.Errorf("old file %s still there", DevicePath(d))
				}
			}
			if tmpl == Plain {
				lvs, err := ParseLVs([]byte(r.run(node, "lvs", "--noheadings", "--units=m", "--nosuffix", "--separator=|", "-o", strings.Join(VolumeFields, ","), VolumeName(d))))
				if err != nil || len(lvs) != 1 || lvs[0].Instance() != newInst || len(lvs[0].Tags) != 1 {
					t.Errorf("after rename: %+v %v", lvs, err)
				}
			}
			inst = newInst
			link = LinkPath(inst, 0)
			r.steps(Assemble(cur, node, inst, 0))
			if got := read(link); got != marker {
				t.Errorf("after rename read %q", got)
			}

			// Shutdown, Remove: nothing is left, and Remove again is fine.
			r.steps(Shutdown(cur, node, inst, 0))
			if _, err := r.try(node, "test", "-L", link); err == nil {
				t.Errorf("link %s still there", link)
			}
			if tmpl == RBD {
				ms, _ := ParseShowmapped([]byte(r.run(node, "rbd", "showmapped", "--format", "json")))
				if dev, _ := MappedDevice(ms, rbdTestPool, volumeOf(d)); dev != "" {
					t.Errorf("still mapped at %s", dev)
				}
			}
			r.steps(Remove(cur, node))
			r.steps(Remove(cur, node))
			assertGone(t, r, node, cur)
		})
	}
}

func listed(v *Volumes, d *statefile.Disk) bool {
	name := VolumeName(d)
	for _, lv := range v.LVs {
		if lv.FullName() == name {
			return true
		}
	}
	for _, f := range v.Files {
		if f.Path == name {
			return true
		}
	}
	for _, img := range v.RBD {
		if rbdTestPool+"/"+img == name {
			return true
		}
	}
	return false
}

// assertGone checks the node holds nothing of d: no LV, no file nor its
// instance directory, no rbd image.
func assertGone(t *testing.T, r bedRunner, node string, d *statefile.Disk) {
	t.Helper()
	v, err := ParseVolumes([]byte(r.run(node, VolumesStep(node, r.bed.VG(), DefaultFileDir, DefaultSharedDir, rbdTestPool).Argv...)))
	if err != nil {
		t.Fatal(err)
	}
	if listed(v, d) {
		t.Errorf("%s still listed", VolumeName(d))
	}
	switch d.DevType {
	case Plain:
		if _, err := r.try(node, "test", "-e", DevicePath(d)); err == nil {
			t.Errorf("device %s still there", DevicePath(d))
		}
	case File, SharedFile:
		dir := DevicePath(d)[:strings.LastIndex(DevicePath(d), "/")]
		if _, err := r.try(node, "test", "-e", dir); err == nil {
			t.Errorf("instance directory %s still there", dir)
		}
	}
}

// TestBedCreateUndo creates each disk, lets a second creation of the same
// disk fail (the volume exists: file creation is exclusive, as Ganeti's
// O_EXCL), then runs the first step's Undo, as apply does when a later
// step fails: nothing may be left.
func TestBedCreateUndo(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	node := bed.Nodes()[0].Name
	for _, tmpl := range []string{Plain, File, SharedFile, RBD} {
		t.Run(tmpl, func(t *testing.T) {
			r := bedRunner{t, bed}
			inst := uniq(t, "sto-undo-"+tmpl)
			ds, err := New(tmpl, bedCluster(bed), inst, node, 0, []Spec{{Size: 4}}, statefile.NewUUID)
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			t.Cleanup(func() {
				if s, err := Remove(d, node); err == nil {
					r.try(node, s[0].Argv...)
				}
			})
			steps, err := Create(d, node, inst)
			r.steps(steps, err)
			if _, err := r.try(node, steps[0].Argv...); err == nil {
				t.Fatal("creating an existing volume succeeded")
			}
			if steps[0].Undo == nil {
				t.Fatal("no undo")
			}
			r.steps([]plan.Step{*steps[0].Undo}, nil)
			assertGone(t, r, node, d)
		})
	}
}

// TestBedNodeStorage lists the node's storage with the real tools.
func TestBedNodeStorage(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	r := bedRunner{t, bed}
	node := bed.Nodes()[0].Name
	for _, typ := range []string{StorageLVMPV, StorageLVMVG, StorageFile} {
		name := map[string]string{StorageFile: DefaultFileDir}[typ]
		st, err := ListStorageStep(node, typ, name)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := ParseStorage(node, typ, []byte(r.run(node, st.Argv...)))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if len(rows) == 0 || rows[0].Size <= 0 || rows[0].Free > rows[0].Size || !rows[0].Allocatable {
			t.Errorf("%s: %+v", typ, rows)
		}
		if typ == StorageLVMVG && rows[0].Name != bed.VG() {
			t.Errorf("vg rows %+v", rows)
		}
	}
	if _, err := ParseNodeVolumes([]byte(r.run(node, NodeVolumesArgv()...))); err != nil {
		t.Error(err)
	}
}
