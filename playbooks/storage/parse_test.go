package storage

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/internal/fixtures"
)

// fixture reads one file of Ganeti's own test data, shared with the
// project (never copied).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	return fixtures.Read(t, "ganeti-test-data", name)
}

// lvs_lv.txt is "lvs --noheadings --units=b --separator=;" with these fields.
var lvsLVFields = strings.Split("lv_uuid,lv_name,lv_attr,lv_major,lv_minor,lv_kernel_major,lv_kernel_minor,lv_size,seg_count,lv_tags,modules,vg_uuid,vg_name,segtype,seg_start,seg_start_pe,seg_size,seg_tags,seg_pe_ranges,devices", ",")

func TestParseLVReportFixture(t *testing.T) {
	lvs, err := ParseLVReport(fixture(t, "lvs_lv.txt"), ";", lvsLVFields)
	if err != nil {
		t.Fatal(err)
	}
	want := []LV{
		{VG: "xenvg", Name: "df9ff3f6-a833-48ff-8bd5-bff2eaeab759.disk0_data", SizeMiB: 1024, Attr: "-wi-ao",
			Tags: []string{"originstname+instance1.example.com"}, PVs: []string{"/dev/sda5"}, Active: true, Open: true},
		{VG: "xenvg", Name: "df9ff3f6-a833-48ff-8bd5-bff2eaeab759.disk0_meta", SizeMiB: 128, Attr: "-wi-ao",
			Tags: []string{"originstname+instance1.example.com"}, PVs: []string{"/dev/sda5"}, Active: true, Open: true},
	}
	if !reflect.DeepEqual(lvs, want) {
		t.Errorf("got  %+v\nwant %+v", lvs, want)
	}
	if lvs[0].Instance() != "instance1.example.com" || lvs[0].FullName() != "xenvg/df9ff3f6-a833-48ff-8bd5-bff2eaeab759.disk0_data" {
		t.Errorf("instance %q name %q", lvs[0].Instance(), lvs[0].FullName())
	}
}

func TestParseLVs(t *testing.T) {
	out := "  xenvg|a.disk0|1024.00|-wi-a-----|originstname+i1\n" +
		"  xenvg|b.disk0|12.00|-wi-ao----|\n" +
		"  xenvg|c.disk0_data|128.00|vwi-------|originstname+i2,other\n" +
		"  xenvg|d|<4.00|-wi-------||\n"
	lvs, err := ParseLVs([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(lvs) != 4 {
		t.Fatalf("%d LVs", len(lvs))
	}
	if !lvs[0].Active || lvs[0].Open || lvs[0].Instance() != "i1" || lvs[0].SizeMiB != 1024 {
		t.Errorf("0: %+v", lvs[0])
	}
	if !lvs[1].Open || lvs[1].Tags != nil {
		t.Errorf("1: %+v", lvs[1])
	}
	if !lvs[2].Virtual || !slices.Equal(lvs[2].Tags, []string{"originstname+i2", "other"}) {
		t.Errorf("2: %+v", lvs[2])
	}
	if lvs[3].Active || lvs[3].SizeMiB != 4 {
		t.Errorf("3: %+v", lvs[3])
	}
	for _, bad := range []string{"xenvg|a|1|-wi-a-|x|y|z\n", "xenvg|a|x|-wi-a-|\n", "xenvg|a|1|-wi|\n", "  Volume group \"x\" not found\n"} {
		if _, err := ParseLVs([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseVolumes(t *testing.T) {
	out := "@@hostname\nnode1\n@@lvs\n  xenvg|a.disk0|1024.00|-wi-a-----|originstname+i1\n! Volume group \"other\" not found\n" +
		"@@files\n1048576 /srv/ganeti/file-storage/i1/u.file.disk0\n" +
		"@@rbd\nu.rbd.disk0\n@@rbdmapped\nid pool namespace image       snap device    \n0  rbd            u.rbd.disk0 -    /dev/rbd0 \n@@volumes-end\n@@end\n"
	v, err := ParseVolumes([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.LVs) != 1 || len(v.Files) != 1 || v.Files[0].Size != 1<<20 || !slices.Equal(v.RBD, []string{"u.rbd.disk0"}) ||
		len(v.Errors) != 1 || !strings.Contains(v.Errors[0], "not found") {
		t.Errorf("%+v", v)
	}
	if dev, _ := MappedDevice(v.RBDMapped, "rbd", "u.rbd.disk0"); dev != "/dev/rbd0" {
		t.Errorf("mapped %+v", v.RBDMapped)
	}
	if _, err := ParseVolumes([]byte("@@lvs\n")); err == nil {
		t.Error("truncated listing accepted")
	}
	if _, err := ParseFiles([]byte("12 relative\n")); err == nil {
		t.Error("bad file line accepted")
	}
}

// TestParseShowmappedFixtures follows Ganeti's own test expectations for
// its rbd showmapped parser.
func TestParseShowmappedFixtures(t *testing.T) {
	const img = "d7ab910a-4933-4ffe-88d0-faf2ce31390a.rbd.disk0"
	for _, tc := range []struct {
		file, dev string
		err       bool
	}{
		{"json_output_ok.txt", "/dev/rbd3", false},
		{"json_output_no_matches.txt", "", false},
		{"json_output_extra_matches.txt", "", true},
		{"json_output_empty.txt", "", false},
		{"plain_output_new_ok.txt", "/dev/rbd3", false},
		{"plain_output_new_no_matches.txt", "", false},
		{"plain_output_new_extra_matches.txt", "", true},
		{"plain_output_new_empty.txt", "", false},
		{"plain_output_old_ok.txt", "/dev/rbd3", false},
		{"plain_output_old_no_matches.txt", "", false},
		{"plain_output_old_extra_matches.txt", "", true},
		{"plain_output_old_empty.txt", "", false},
		{"output_invalid.txt", "", true},
	} {
		ms, err := ParseShowmapped(fixture(t, "bdev-rbd/"+tc.file))
		dev := ""
		if err == nil {
			dev, err = MappedDevice(ms, "rbd", img)
		}
		if (err != nil) != tc.err || dev != tc.dev {
			t.Errorf("%s: dev %q err %v; want %q err=%v", tc.file, dev, err, tc.dev, tc.err)
		}
	}
	// Ceph 16 (the test bed's stand-in) has a namespace column, blank for
	// the default namespace, and a JSON list.
	ms, err := ParseShowmapped([]byte("id pool namespace image snap device    \n0  p            img1  -    /dev/rbd0 \n1  p  ns        img2  -    /dev/rbd1 \n"))
	if err != nil || len(ms) != 2 || ms[0].Image != "img1" || ms[1].Image != "img2" || ms[1].Device != "/dev/rbd1" {
		t.Errorf("%+v %v", ms, err)
	}
	ms, err = ParseShowmapped([]byte(`[{"id":"0","pool":"p","namespace":"","name":"img1","snap":"-","device":"/dev/rbd0"}]`))
	if err != nil || len(ms) != 1 || ms[0].Device != "/dev/rbd0" {
		t.Errorf("%+v %v", ms, err)
	}
}

func TestParseNodeVolumes(t *testing.T) {
	out := "  a.disk0|512.00|/dev/sdb1(0)|xenvg\n  b.disk0|1024.00|/dev/sdb1(128),/dev/sdc1(0)|xenvg\n  thin|4.00||xenvg\n"
	rows, err := ParseNodeVolumes([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeVolume{{"/dev/sdb1", "xenvg", "a.disk0", 512}, {"/dev/sdb1", "xenvg", "b.disk0", 1024},
		{"/dev/sdc1", "xenvg", "b.disk0", 1024}, {"", "xenvg", "thin", 4}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %+v", rows)
	}
	if _, err := ParseNodeVolumes([]byte("garbage\n")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseStorage(t *testing.T) {
	rows, err := ParseStorage("node1", StorageLVMPV, []byte("  /dev/loop11|32764.00|12.00|32752.00|a--\n  /dev/sdb|100.00|0|100.00|---\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []StorageRow{{"node1", "lvm-pv", "/dev/loop11", 32764, 12, 32752, true}, {"node1", "lvm-pv", "/dev/sdb", 100, 0, 100, false}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("pv: %+v", rows)
	}
	rows, err = ParseStorage("node1", StorageLVMVG, []byte("  xenvg|32764.00|32752.00\n"))
	if err != nil || !reflect.DeepEqual(rows, []StorageRow{{"node1", "lvm-vg", "xenvg", 32764, 12, 32752, true}}) {
		t.Errorf("vg: %+v %v", rows, err)
	}
	rows, err = ParseStorage("node1", StorageFile, []byte("/srv/ganeti/file-storage|1000|10|900\n"))
	if err != nil || !reflect.DeepEqual(rows, []StorageRow{{"node1", "file", "/srv/ganeti/file-storage", 1000, 10, 900, true}}) {
		t.Errorf("file: %+v %v", rows, err)
	}
	if _, err := ParseStorage("n", StorageLVMVG, []byte("xenvg|1\n")); err == nil {
		t.Error("short vg line accepted")
	}
	if _, err := ListStorageStep("n", "lvm-thin", ""); err == nil {
		t.Error("unknown type accepted")
	}
	if _, err := ModifyStorageStep("n", StorageLVMPV, "/dev/../etc", true); err == nil {
		t.Error("bad pv accepted")
	}
	if _, err := ModifyStorageStep("n", StorageLVMVG, "xenvg", true); err == nil {
		t.Error("modify of lvm-vg accepted")
	}
	if _, err := RepairStorageStep("n", StorageLVMVG, "a;b"); err == nil {
		t.Error("bad vg accepted")
	}
	if _, err := RepairStorageStep("n", StorageLVMPV, "/dev/sdb"); err == nil {
		t.Error("repair of lvm-pv accepted")
	}
}

func TestVGReduceRules(t *testing.T) {
	for file, force := range map[string]bool{
		"vgreduce-removemissing-2.02.02.txt":      false,
		"vgreduce-removemissing-2.02.66-ok.txt":   false,
		"vgreduce-removemissing-2.02.66-fail.txt": true,
	} {
		if got := VGReduceNeedsForce(fixture(t, file)); got != force {
			t.Errorf("%s: needs force %v, want %v", file, got, force)
		}
	}
	for _, file := range []string{"vgs-missing-pvs-2.02.02.txt", "vgs-missing-pvs-2.02.66.txt"} {
		if VGConsistent(fixture(t, file), "xenvg") {
			t.Errorf("%s: reported consistent", file)
		}
	}
	if !VGConsistent([]byte("  xenvg   1   0   0 wz--n- 32764.00 32764.00\n"), "xenvg") {
		t.Error("healthy vgs reported inconsistent")
	}
}

// TestRepairScript runs the repair script against fake vgreduce and vgs
// that print the fixtures, checking it follows the same rules as Go: the
// --force rerun exactly when VGReduceNeedsForce, failure while vgs still
// misses a PV.
func TestRepairScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	st, err := RepairStorageStep("n", StorageLVMVG, "xenvg")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		vgreduce, vgs string
		wantForce, ok bool
	}{
		{"vgreduce-removemissing-2.02.66-ok.txt", "", false, true},
		{"vgreduce-removemissing-2.02.02.txt", "", false, true},
		{"vgreduce-removemissing-2.02.66-fail.txt", "", true, true},
		{"vgreduce-removemissing-2.02.66-ok.txt", "vgs-missing-pvs-2.02.66.txt", false, false},
	} {
		dir := t.TempDir()
		log := filepath.Join(dir, "log")
		vgsOut := "  xenvg   1   0   0 wz--n- 32764.00 32764.00\n"
		if tc.vgs != "" {
			vgsOut = string(fixture(t, tc.vgs))
		}
		write := func(name, body string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho \"$0 $*\" >> "+log+"\n"+body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write("vgreduce", "cat "+fixtures.Path(t, "ganeti-test-data", tc.vgreduce)+"\nexit 5\n")
		write("vgs", "cat <<'EOF'\n"+vgsOut+"EOF\n")
		cmd := exec.Command(st.Argv[0], st.Argv[1:]...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(log)
		forced := strings.Contains(string(calls), "--force")
		if forced != tc.wantForce || (err == nil) != tc.ok {
			t.Errorf("%s/%s: forced=%v err=%v\ncalls:\n%s\nout:\n%s", tc.vgreduce, tc.vgs, forced, err, calls, out)
		}
	}
}
