package storage

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

var update = flag.Bool("update", false, "rewrite golden files")

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("0000000%d-aaaa-bbbb-cccc-dddddddddddd", n) }
}

func cluster() *statefile.Cluster {
	return &statefile.Cluster{VolumeGroup: "xenvg", FileStorageDir: "/srv/ganeti/file-storage",
		SharedFileStorageDir: "/srv/ganeti/shared-file-storage", RBDPool: "rbd"}
}

// volumeOf is the second element of a leaf disk's logical_id: the LV,
// the file or device path, the rbd image.
func volumeOf(d *statefile.Disk) string {
	if _, lv, ok := d.PlainLV(); ok {
		return lv
	}
	for _, get := range []func() (string, string, bool){d.File, d.BlockDev, d.RBD} {
		if _, name, ok := get(); ok {
			return name
		}
	}
	return ""
}

func mustNew(t *testing.T, tmpl string, specs ...Spec) []*statefile.Disk {
	t.Helper()
	ds, err := New(tmpl, cluster(), "inst1.example.com", "node1", 0, specs, ids())
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestNewNaming(t *testing.T) {
	id1 := "00000001-aaaa-bbbb-cccc-dddddddddddd"
	id2 := "00000002-aaaa-bbbb-cccc-dddddddddddd"
	for _, tc := range []struct {
		tmpl  string
		specs []Spec
		want  [][]any
	}{
		{Plain, []Spec{{Size: 1024}, {Size: 512, VG: "othervg"}}, [][]any{{"xenvg", id1 + ".disk2"}, {"othervg", id2 + ".disk3"}}},
		{File, []Spec{{Size: 1}}, [][]any{{"loop", "/srv/ganeti/file-storage/inst1.example.com/" + id1 + ".file.disk2"}}},
		{SharedFile, []Spec{{Size: 1}}, [][]any{{"loop", "/srv/ganeti/shared-file-storage/inst1.example.com/" + id1 + ".sharedfile.disk2"}}},
		{RBD, []Spec{{Size: 1}}, [][]any{{"rbd", id1 + ".rbd.disk2"}}},
		{BlockDev, []Spec{{Adopt: "/dev/sdb1"}}, [][]any{{"manual", "/dev/sdb1"}}},
	} {
		ds, err := New(tc.tmpl, cluster(), "inst1.example.com", "node1", 2, tc.specs, ids())
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		for i, d := range ds {
			if !reflect.DeepEqual(d.LogicalID, tc.want[i]) {
				t.Errorf("%s disk %d: logical_id %v, want %v", tc.tmpl, i, d.LogicalID, tc.want[i])
			}
			if d.IVName != fmt.Sprintf("disk/%d", 2+i) || d.Mode != "rw" || !slices.Equal(d.Nodes, []string{"node1"}) || d.DevType != tc.tmpl {
				t.Errorf("%s disk %d: %+v", tc.tmpl, i, d)
			}
		}
		if tc.tmpl == RBD && ds[0].Params["pool"] != "rbd" {
			t.Errorf("rbd pool param %v", ds[0].Params)
		}
	}
	if ds, err := New(Diskless, cluster(), "i.example.com", "node1", 0, nil, ids()); err != nil || ds != nil {
		t.Errorf("diskless: %v %v", ds, err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		tmpl, inst string
		spec       Spec
		want       string
	}{
		{Plain, "i.example.com", Spec{Size: 1, VG: "a;b"}, "only letters, digits"},
		{Plain, "i.example.com", Spec{Size: 1, VG: "snapshot"}, "reserved by LVM"},
		{Plain, "i.example.com", Spec{Size: 1, VG: "x_mlog"}, "_mlog and _mimage"},
		{Plain, "i.example.com", Spec{Size: 1, VG: "-x"}, "must not start with '-'"},
		{Plain, "i.example.com", Spec{Size: 1, Adopt: "../x"}, "only letters, digits"},
		{Plain, "i.example.com", Spec{Size: 0}, "size must be a positive"},
		{Plain, "i.example.com", Spec{Size: 1, Mode: "rx"}, "mode"},
		{File, "../x", Spec{Size: 1}, "must be a DNS name"},
		{File, "a;b", Spec{Size: 1}, "must be a DNS name"},
		{File, "i.example.com", Spec{Size: 1, Adopt: "x"}, "adoption is only supported"},
		{BlockDev, "i.example.com", Spec{Adopt: "/dev/../etc/passwd"}, "under /dev/"},
		{DRBD, "i.example.com", Spec{Size: 1}, "use NewDRBD"},
		{"ext", "i.example.com", Spec{Size: 1}, "unknown disk template"},
	} {
		_, err := New(tc.tmpl, cluster(), tc.inst, "node1", 0, []Spec{tc.spec}, ids())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s, %q, %+v) = %v, want error with %q", tc.tmpl, tc.inst, tc.spec, err, tc.want)
		}
	}
	bad := cluster()
	bad.FileStorageDir = "/etc/ganeti/files"
	if _, err := New(File, bad, "i.example.com", "n", 0, []Spec{{Size: 1}}, ids()); err == nil || !strings.Contains(err.Error(), "forbidden prefix /etc") {
		t.Errorf("file dir under /etc: %v", err)
	}
	bad.FileStorageDir = "srv/x"
	if _, err := New(File, bad, "i.example.com", "n", 0, []Spec{{Size: 1}}, ids()); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative file dir: %v", err)
	}
}

func TestValidateNames(t *testing.T) {
	for _, n := range []string{"a;b", "../x", "snapshot", "x_mlog", "y_mimage", ".", "..", "pvmove", "a b", "$(id)", "", "-n"} {
		if ValidateLVMName("LV", n) == nil {
			t.Errorf("LV name %q accepted", n)
		}
	}
	for _, n := range []string{"xenvg", "0a.disk0_data", "a+b-c.d_e"} {
		if err := ValidateLVMName("LV", n); err != nil {
			t.Errorf("LV name %q: %v", n, err)
		}
	}
	for _, p := range []string{"/srv/f/../x/y", "/srv/f/i", "/srv/f/i/x/y", "/srv/other/i/x", "srv/f/i/x", "/srv/f/i/-x", "/srv/f//i/x"} {
		if ValidateFilePath(p, "/srv/f") == nil {
			t.Errorf("file path %q accepted", p)
		}
	}
	if err := ValidateFilePath("/srv/f/i.example.com/u.file.disk0", "/srv/f"); err != nil {
		t.Error(err)
	}
	for _, d := range []string{"/", "/etc", "/usr/lib/x", "/root/x", "/bin", "/usr/local/sbin/x"} {
		if ValidateStorageDir(d) == nil {
			t.Errorf("storage dir %q accepted", d)
		}
	}
	if got := InstanceTag("-in st/é.example.com"); got != "originstname+-in_st/__.example.com" && !strings.HasPrefix(got, "originstname+") {
		t.Errorf("tag %q", got)
	}
	if got := InstanceTag("a b$c.example.com"); got != "originstname+a_b_c.example.com" {
		t.Errorf("tag %q", got)
	}
	if got := InstanceTag(strings.Repeat("x", 200)); len(got) != 128 {
		t.Errorf("tag length %d", len(got))
	}
}

// The disks below are the state as a person could have edited it: every
// function must refuse bad names before building a command.
func TestStepsRefuseBadState(t *testing.T) {
	bad := []*statefile.Disk{
		{UUID: "u", DevType: Plain, LogicalID: []any{"xenvg", "a;b"}, Size: 1},
		{UUID: "u", DevType: Plain, LogicalID: []any{"../x", "lv"}, Size: 1},
		{UUID: "u", DevType: Plain, LogicalID: []any{"xenvg", "snapshot"}, Size: 1},
		{UUID: "u", DevType: Plain, LogicalID: []any{"xenvg", "x_mlog"}, Size: 1},
		{UUID: "u", DevType: Plain, LogicalID: []any{"xenvg"}, Size: 1},
		{UUID: "u", DevType: Plain, LogicalID: []any{"xenvg", 3.0}, Size: 1},
		{UUID: "u", DevType: File, LogicalID: []any{"loop", "/srv/f/../../etc/x"}, Size: 1},
		{UUID: "u", DevType: File, LogicalID: []any{"loop", "/etc/ganeti/i/x"}, Size: 1},
		{UUID: "u", DevType: File, LogicalID: []any{"loop", "relative/i/x"}, Size: 1},
		{UUID: "u", DevType: RBD, LogicalID: []any{"rbd", "a;b"}, Size: 1},
		{UUID: "u", DevType: RBD, LogicalID: []any{"rbd", "x"}, Size: 1, Params: statefile.Params{"pool": "p/q"}},
		{UUID: "u", DevType: RBD, LogicalID: []any{"rbd", "x"}, Size: 1, Params: statefile.Params{"user-id": "-x"}},
		{UUID: "u", DevType: DRBD, LogicalID: []any{"n1", "n2", 1.0, 0.0, 0.0, "s"}, Size: 1},
	}
	for _, d := range bad {
		fns := map[string]func() error{
			"Create":   func() error { _, err := Create(d, "n", "i.example.com"); return err },
			"Remove":   func() error { _, err := Remove(d, "n"); return err },
			"Assemble": func() error { _, err := Assemble(d, "n", "i.example.com", 0); return err },
			"Shutdown": func() error { _, err := Shutdown(d, "n", "i.example.com", 0); return err },
			"Grow":     func() error { _, err := Grow(d, "n", 1); return err },
			"Rename": func() error {
				_, _, err := Rename([]*statefile.Disk{d}, "n", "i.example.com", "j.example.com")
				return err
			},
		}
		for name, fn := range fns {
			if err := fn(); err == nil {
				t.Errorf("%s accepted %s %v %v", name, d.DevType, d.LogicalID, d.Params)
			}
		}
	}
	good := mustNew(t, Plain, Spec{Size: 1})[0]
	if _, err := Create(good, "n", "a;b"); err == nil {
		t.Error("Create accepted instance a;b")
	}
	if _, err := Assemble(good, "n", "../x", 0); err == nil {
		t.Error("Assemble accepted instance ../x")
	}
	if _, _, err := Rename([]*statefile.Disk{good}, "n", "i.example.com", "$(id)"); err == nil {
		t.Error("Rename accepted $(id)")
	}
}

func TestCreateArgv(t *testing.T) {
	d := mustNew(t, Plain, Spec{Size: 1024})[0]
	steps, err := Create(d, "node1", "inst1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lvcreate", "-Wn", "-L1024m", "-n00000001-aaaa-bbbb-cccc-dddddddddddd.disk0", "-i1",
		"--addtag", "originstname+inst1.example.com", "xenvg"}
	if len(steps) != 1 || !slices.Equal(steps[0].Argv, want) {
		t.Fatalf("plain create %q", steps[0].Argv)
	}
	if u := steps[0].Undo; u == nil || u.Argv[len(u.Argv)-1] != "xenvg/00000001-aaaa-bbbb-cccc-dddddddddddd.disk0" {
		t.Fatalf("plain undo %+v", u)
	}
	r := mustNew(t, RBD, Spec{Size: 10})[0]
	r.Params["user-id"] = "admin"
	steps, _ = Create(r, "node1", "inst1.example.com")
	if want := []string{"rbd", "create", "-p", "rbd", "00000001-aaaa-bbbb-cccc-dddddddddddd.rbd.disk0", "--size", "10", "--id", "admin"}; !slices.Equal(steps[0].Argv, want) {
		t.Errorf("rbd create %q", steps[0].Argv)
	}
	g, _ := Grow(r, "node1", 5)
	if want := []string{"rbd", "resize", "-p", "rbd", "00000001-aaaa-bbbb-cccc-dddddddddddd.rbd.disk0", "--size", "15", "--id", "admin"}; !slices.Equal(g[0].Argv, want) {
		t.Errorf("rbd grow %q", g[0].Argv)
	}
}

// TestStepsGolden records every function's steps for every template, so a
// change of any argv shows up in review. Run with -update to rewrite.
func TestStepsGolden(t *testing.T) {
	type entry struct {
		Case  string      `json:"case"`
		Steps []plan.Step `json:"steps"`
	}
	var got []entry
	add := func(name string, steps []plan.Step, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got = append(got, entry{name, steps})
	}
	for _, tmpl := range []string{Plain, File, SharedFile, RBD, BlockDev, Diskless} {
		spec := Spec{Size: 1024}
		if tmpl == BlockDev {
			spec = Spec{Adopt: "/dev/sdb1"}
		}
		var specs []Spec
		if tmpl != Diskless {
			specs = []Spec{spec}
		}
		ds := mustNew(t, tmpl, specs...)
		d := &statefile.Disk{DevType: Diskless}
		if len(ds) > 0 {
			d = ds[0]
		}
		s, err := Create(d, "node1", "inst1.example.com")
		add(tmpl+" create", s, err)
		s, err = Assemble(d, "node1", "inst1.example.com", 0)
		add(tmpl+" assemble", s, err)
		s, err = Shutdown(d, "node1", "inst1.example.com", 0)
		add(tmpl+" shutdown", s, err)
		s, err = Remove(d, "node1")
		add(tmpl+" remove", s, err)
		if tmpl != BlockDev && tmpl != Diskless {
			s, err = Grow(d, "node1", 100)
			add(tmpl+" grow", s, err)
		}
		s, _, err = Rename([]*statefile.Disk{d}, "node1", "inst1.example.com", "inst2.example.com")
		add(tmpl+" rename", s, err)
	}
	s, err := Adopt(mustNew(t, Plain, Spec{Size: 1024, Adopt: "old-lv"})[0], "node1", "inst1.example.com", "old-lv")
	add("plain adopt", s, err)
	for _, typ := range []string{StorageLVMPV, StorageLVMVG, StorageFile} {
		name := map[string]string{StorageFile: "/srv/ganeti/file-storage"}[typ]
		st, err := ListStorageStep("node1", typ, name)
		add("list-storage "+typ, []plan.Step{st}, err)
	}
	st, err := ModifyStorageStep("node1", StorageLVMPV, "/dev/sdb1", false)
	add("modify-storage", []plan.Step{st}, err)
	st, err = RepairStorageStep("node1", StorageLVMVG, "xenvg")
	add("repair-storage", []plan.Step{st}, err)
	add("volumes", []plan.Step{VolumesStep("node1", "xenvg", "/srv/ganeti/file-storage", "/srv/ganeti/shared-file-storage", "rbd")}, nil)
	add("node volumes", []plan.Step{{Node: "node1", Action: plan.Read, Argv: NodeVolumesArgv()}}, nil)

	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "steps.json", append(b, '\n'))

	// Every creating step can be rolled back.
	for _, e := range got {
		for _, s := range e.Steps {
			if s.Action == plan.Create && s.Undo == nil {
				t.Errorf("%s: creating step %q has no Undo", e.Case, s.Desc)
			}
			if len(s.Argv) > 2 && s.Argv[0] == "sh" && !strings.HasPrefix(s.Argv[3], "ganetictl-") {
				t.Errorf("%s: script without $0 name", e.Case)
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test -update and review the diff", p)
	}
}

func TestRenameFile(t *testing.T) {
	ds := mustNew(t, File, Spec{Size: 1}, Spec{Size: 2})
	steps, nds, err := Rename(ds, "node1", "inst1.example.com", "inst2.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 {
		t.Fatalf("want one directory rename for two disks, got %d", len(steps))
	}
	want := []string{"/srv/ganeti/file-storage/inst1.example.com", "/srv/ganeti/file-storage/inst2.example.com"}
	if !slices.Equal(steps[0].Argv[4:], want) || !slices.Equal(steps[0].Undo.Argv[4:], []string{want[1], want[0]}) {
		t.Errorf("rename argv %q undo %q", steps[0].Argv, steps[0].Undo.Argv)
	}
	if volumeOf(nds[1]) != "/srv/ganeti/file-storage/inst2.example.com/00000002-aaaa-bbbb-cccc-dddddddddddd.file.disk1" {
		t.Errorf("new path %v", nds[1].LogicalID)
	}
	if volumeOf(ds[1]) == volumeOf(nds[1]) {
		t.Error("Rename changed its input")
	}
	if _, _, err := Rename(ds, "node1", "other.example.com", "x.example.com"); err == nil {
		t.Error("rename from a name that is not the directory accepted")
	}
}

func TestStages(t *testing.T) {
	a := []plan.Step{{Desc: "a1"}, {Desc: "a2"}}
	b := []plan.Step{{Desc: "b1"}}
	st := Stages("create disks", plan.Abort, a, b)
	if len(st) != 2 || len(st[0].Steps) != 2 || len(st[1].Steps) != 1 || st[1].Steps[0].Desc != "a2" || st[0].Name != "create disks (1/2)" {
		t.Errorf("%+v", st)
	}
	if st := Stages("x", plan.Abort, b); len(st) != 1 || st[0].Name != "x" {
		t.Errorf("%+v", st)
	}
}

func TestExpected(t *testing.T) {
	st := statefile.New("l")
	p := mustNew(t, Plain, Spec{Size: 1})
	f := mustNew(t, File, Spec{Size: 1})
	r := mustNew(t, RBD, Spec{Size: 1})
	drbd := &statefile.Disk{DevType: DRBD, Nodes: []string{"node1", "node2"}, Children: []*statefile.Disk{
		{DevType: Plain, LogicalID: []any{"xenvg", "u.disk0_data"}, Nodes: []string{"node1", "node2"}},
		{DevType: Plain, LogicalID: []any{"xenvg", "u.disk0_meta"}, Nodes: []string{"node1", "node2"}},
	}}
	st.Instances["a"] = &statefile.Instance{Name: "a", Disks: append(append(p, f...), r...)}
	st.Instances["b"] = &statefile.Instance{Name: "b", Disks: []*statefile.Disk{drbd}}
	got := Expected(st)
	want := map[string][]string{
		"node1": {"/srv/ganeti/file-storage/inst1.example.com/00000001-aaaa-bbbb-cccc-dddddddddddd.file.disk0",
			"xenvg/00000001-aaaa-bbbb-cccc-dddddddddddd.disk0", "xenvg/u.disk0_data", "xenvg/u.disk0_meta"},
		"node2":     {"xenvg/u.disk0_data", "xenvg/u.disk0_meta"},
		ClusterWide: {"rbd/00000001-aaaa-bbbb-cccc-dddddddddddd.rbd.disk0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expected:\n got %v\nwant %v", got, want)
	}
}
