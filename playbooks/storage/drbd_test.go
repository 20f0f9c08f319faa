package storage

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

const testSecret = "0123456789abcdef0123456789abcdef01234567"

func drbdState() *statefile.State {
	st := statefile.New("l")
	st.Cluster.VolumeGroup = "xenvg"
	st.Nodes["node1"] = &statefile.Node{Name: "node1", PrimaryIP: "198.18.0.1", SecondaryIP: "198.19.0.1"}
	st.Nodes["node2"] = &statefile.Node{Name: "node2", PrimaryIP: "198.18.0.2", SecondaryIP: "198.19.0.2"}
	st.Nodes["node3"] = &statefile.Node{Name: "node3", PrimaryIP: "198.18.0.3"}
	return st
}

func mustDRBD(t *testing.T, st *statefile.State, specs ...Spec) []*statefile.Disk {
	t.Helper()
	idsets, err := AllocDRBD(st, "node1", "node2", len(specs))
	if err != nil {
		t.Fatal(err)
	}
	secrets := make([]string, len(specs))
	for i := range secrets {
		secrets[i] = testSecret
	}
	ds, err := NewDRBD(&st.Cluster, "inst1.example.com", "node1", "node2", 0, specs, idsets, secrets, ids())
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestAllocDRBD(t *testing.T) {
	st := drbdState()
	got, err := AllocDRBD(st, "node1", "node2", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []DRBDIDs{{11000, 0, 0}, {11001, 1, 1}, {11002, 2, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty state: %v, want %v", got, want)
	}
	// An instance on node1/node3 uses minors 0 (node1), 0 (node3) and port
	// 11000; one on node2/node1 uses minor 2 on node2 and 1 on node1 (as
	// JSON numbers), port 11003; a kvm instance has network port 11001.
	mk := func(a, b string, port, ma, mb int) *statefile.Disk {
		return &statefile.Disk{DevType: DRBD, LogicalID: []any{a, b, float64(port), float64(ma), float64(mb), testSecret}}
	}
	st.Instances["a"] = &statefile.Instance{Name: "a", Disks: []*statefile.Disk{mk("node1", "node3", 11000, 0, 0)}}
	st.Instances["b"] = &statefile.Instance{Name: "b", Disks: []*statefile.Disk{mk("node2", "node1", 11003, 2, 1)}, NetworkPort: 11001}
	got, err = AllocDRBD(st, "node1", "node2", 3)
	if err != nil {
		t.Fatal(err)
	}
	want = []DRBDIDs{{11002, 2, 0}, {11004, 3, 1}, {11005, 4, 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("used state: %v, want %v", got, want)
	}
	// The pool comes first, then highest_used_port+1.
	st.Cluster.TCPUDPPortPool = []int{11003, 12000, 11500}
	st.Cluster.HighestUsedPort = 13000
	got, _ = AllocDRBD(st, "node1", "node2", 3)
	if got[0].Port != 12000 || got[1].Port != 11500 || got[2].Port != 13001 {
		t.Errorf("pool: %v", got)
	}
	hi, pool := PortsAfterAlloc(&st.Cluster, got)
	if hi != 13001 || !reflect.DeepEqual(pool, []int{11003}) {
		t.Errorf("PortsAfterAlloc = %d %v", hi, pool)
	}
	// At the top of the range it wraps to the lowest free port.
	st.Cluster.TCPUDPPortPool, st.Cluster.HighestUsedPort = nil, LastDRBDPort
	got, _ = AllocDRBD(st, "node1", "node2", 1)
	if got[0].Port != 11002 {
		t.Errorf("wrap: %v", got)
	}
	if _, err := AllocDRBD(st, "node1", "node1", 1); err == nil {
		t.Error("same node twice accepted")
	}
	ms, err := AllocMinors(st, "node1", 2)
	if err != nil || !reflect.DeepEqual(ms, []int{2, 3}) {
		t.Errorf("AllocMinors = %v %v", ms, err)
	}
}

func TestNewDRBD(t *testing.T) {
	st := drbdState()
	st.Cluster.DiskParams = map[string]statefile.Params{DRBD: {"metavg": "metavg"}}
	ds := mustDRBD(t, st, Spec{Size: 1024}, Spec{Size: 512, VG: "othervg", Name: "data"})
	b, _ := json.Marshal(ds[0])
	want := `{"uuid":"00000004-aaaa-bbbb-cccc-dddddddddddd","dev_type":"drbd","logical_id":["node1","node2",11000,0,0,"` + testSecret + `"],` +
		`"children":[{"uuid":"00000002-aaaa-bbbb-cccc-dddddddddddd","dev_type":"plain","logical_id":["xenvg","00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_data"],"nodes":["node1","node2"],"iv_name":"","size":1024,"mode":"rw"},` +
		`{"uuid":"00000003-aaaa-bbbb-cccc-dddddddddddd","dev_type":"plain","logical_id":["metavg","00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_meta"],"nodes":["node1","node2"],"iv_name":"","size":128,"mode":"rw"}],` +
		`"nodes":["node1","node2"],"iv_name":"disk/0","size":1024,"mode":"rw"}`
	if string(b) != want {
		t.Errorf("disk 0:\n got %s\nwant %s", b, want)
	}
	id, err := DRBDInfo(ds[1])
	if want := (statefile.DRBDLogicalID{NodeA: "node1", NodeB: "node2", Port: 11001, MinorA: 1, MinorB: 1, Secret: testSecret}); err != nil || id != want {
		t.Errorf("DRBDInfo = %+v %v", id, err)
	}
	d1 := ds[1]
	dataVG, dataLV, _ := d1.Children[0].PlainLV()
	metaVG, metaLV, _ := d1.Children[1].PlainLV()
	if dataVG != "othervg" || metaVG != "metavg" || d1.Children[1].Size != 128 || d1.Name != "data" {
		t.Errorf("disk 1: %+v %+v", d1.Children[0], d1.Children[1])
	}
	if !strings.HasSuffix(dataLV, ".disk1_data") || !strings.HasSuffix(metaLV, ".disk1_meta") ||
		strings.TrimSuffix(dataLV, "_data") != strings.TrimSuffix(metaLV, "_meta") {
		t.Errorf("child names %v %v", d1.Children[0].LogicalID, d1.Children[1].LogicalID)
	}
	// JSON round trip (numbers become float64) still reads back.
	var back statefile.Disk
	raw, _ := json.Marshal(d1)
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if m, err := MinorOn(&back, "node2"); err != nil || m != 1 {
		t.Errorf("MinorOn after JSON = %d %v", m, err)
	}
	if p, err := PeerOf(&back, "node2"); err != nil || p != "node1" {
		t.Errorf("PeerOf = %q %v", p, err)
	}
	if _, err := MinorOn(&back, "node3"); err == nil {
		t.Error("MinorOn of a foreign node")
	}
	if err := Check(&back, &st.Cluster); err != nil {
		t.Error(err)
	}
	// Expected lists the children on both nodes.
	st.Instances["i"] = &statefile.Instance{Name: "i", Disks: ds}
	exp := Expected(st)
	if len(exp["node1"]) != 4 || len(exp["node2"]) != 4 || len(exp["node3"]) != 0 {
		t.Errorf("Expected = %v", exp)
	}
	if s := DRBDSecrets(ds); s[SecretName(ds[0])] != testSecret || len(s) != 2 {
		t.Errorf("DRBDSecrets = %v", s)
	}
	// The masked state does not hold a usable secret.
	if err := Check(st.Masked().Instances["i"].Disks[0], &st.Cluster); err == nil {
		t.Error("masked secret accepted")
	}
}

func TestNewDRBDRefuses(t *testing.T) {
	st := drbdState()
	good := []DRBDIDs{{11000, 0, 0}}
	for _, tc := range []struct {
		name    string
		p, s    string
		ids     []DRBDIDs
		secrets []string
		spec    Spec
		want    string
	}{
		{"same node", "node1", "node1", good, []string{testSecret}, Spec{Size: 1}, "different secondary"},
		{"secret chars", "node1", "node2", good, []string{"abc;rm"}, Spec{Size: 1}, "hex digits only"},
		{"secret option", "node1", "node2", good, []string{"--x"}, Spec{Size: 1}, "hex digits only"},
		{"empty secret", "node1", "node2", good, []string{""}, Spec{Size: 1}, "1-128 hex"},
		{"port", "node1", "node2", []DRBDIDs{{70000, 0, 0}}, []string{testSecret}, Spec{Size: 1}, "not a TCP port"},
		{"minor", "node1", "node2", []DRBDIDs{{11000, -1, 0}}, []string{testSecret}, Spec{Size: 1}, "outside 0-255"},
		{"minor high", "node1", "node2", []DRBDIDs{{11000, 0, 256}}, []string{testSecret}, Spec{Size: 1}, "outside 0-255"},
		{"count", "node1", "node2", nil, []string{testSecret}, Spec{Size: 1}, "id sets"},
		{"size", "node1", "node2", good, []string{testSecret}, Spec{Size: 0}, "positive"},
		{"vg", "node1", "node2", good, []string{testSecret}, Spec{Size: 1, VG: "-x"}, "must not start"},
		{"adopt", "node1", "node2", good, []string{testSecret}, Spec{Size: 1, Adopt: "lv"}, "adoption"},
	} {
		_, err := NewDRBD(&st.Cluster, "i.example.com", tc.p, tc.s, 0, []Spec{tc.spec}, tc.ids, tc.secrets, ids())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// argvs renders steps as one line each, scripts shortened to their name.
func argvs(steps []plan.Step) []string {
	var out []string
	for _, s := range steps {
		a := s.Argv
		if len(a) > 3 && a[0] == "sh" && a[1] == "-c" {
			a = append([]string{"sh:" + a[3]}, a[4:]...)
		}
		out = append(out, s.Node+": "+strings.Join(a, " "))
	}
	return out
}

func checkArgv(t *testing.T, name string, steps []plan.Step, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got := argvs(steps)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, s := range steps {
		for _, st := range []*plan.Step{&s, s.Undo} {
			if st == nil {
				continue
			}
			if strings.Contains(strings.Join(st.Argv, " "), testSecret) || strings.Contains(st.Desc, testSecret) {
				t.Errorf("%s: secret in clear in %q", name, st.Desc)
			}
			if st.Node == "" || st.Desc == "" {
				t.Errorf("%s: step without node or desc: %+v", name, st)
			}
		}
	}
}

func TestDRBDSteps(t *testing.T) {
	st := drbdState()
	d := mustDRBD(t, st, Spec{Size: 1024})[0]
	env := DRBDEnvFrom(st, "/run/testbed/drbd/proc_drbd")
	data := "/dev/xenvg/00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_data"
	meta := "/dev/xenvg/00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_meta"
	// ids(): 1 = LV prefix, 2 data, 3 meta, 4 disk.
	ref := plan.SecretRef("drbd-00000004-aaaa-bbbb-cccc-dddddddddddd")
	tag := "originstname+inst1.example.com"

	steps, err := Create(d, "node2", "inst1.example.com")
	checkArgv(t, "Create", steps, err,
		"node2: lvcreate -Wn -L1024m -n00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_data -i1 --addtag "+tag+" xenvg",
		"node2: lvcreate -Wn -L128m -n00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_meta -i1 --addtag "+tag+" xenvg",
		"node2: dd if=/dev/zero of="+meta+" bs=1048576 count=128 oflag=direct",
		"node2: drbdmeta --force /dev/drbd0 v08 "+meta+" flex-external create-md")
	if steps[0].Undo == nil || steps[1].Undo == nil {
		t.Error("Create: LV creation without undo")
	}

	steps, err = AssembleDRBD(d, "node1", env)
	checkArgv(t, "AssembleDRBD", steps, err,
		"node1: sh:ganetictl-drbd-attach 0 resource0 "+data+" "+meta+" --on-io-error=detach --size 1024m",
		"node1: drbdsetup disk-options 0 --resync-rate 61440",
		"node1: sh:ganetictl-drbd-connect 0 resource0 ipv4:198.19.0.1:11000 ipv4:198.19.0.2:11000 --protocol C --after-sb-0pri discard-zero-changes --after-sb-1pri consensus --cram-hmac-alg md5 --shared-secret "+ref)
	if steps[0].Undo == nil || strings.Join(steps[0].Undo.Argv, " ") != "drbdsetup down resource0" {
		t.Errorf("AssembleDRBD undo %+v", steps[0].Undo)
	}

	steps, err = AttachNet(d, "node2", env, true)
	checkArgv(t, "AttachNet dual", steps, err,
		"node2: sh:ganetictl-drbd-connect 0 resource0 ipv4:198.19.0.2:11000 ipv4:198.19.0.1:11000 --protocol C --after-sb-0pri discard-zero-changes --after-sb-1pri consensus --allow-two-primaries --cram-hmac-alg md5 --shared-secret "+ref,
		"node2: sh:ganetictl-drbd-wait /run/testbed/drbd/proc_drbd 0 sync 120 disk/0")

	steps, err = DisconnectNet(d, "node1", env)
	checkArgv(t, "DisconnectNet", steps, err,
		"node1: sh:ganetictl-drbd-disconnect /run/testbed/drbd/proc_drbd 0 ipv4:198.19.0.1:11000 ipv4:198.19.0.2:11000")

	steps, err = MakePrimary(d, "node1", "inst1.example.com", 0, true)
	checkArgv(t, "MakePrimary", steps, err,
		"node1: drbdsetup primary 0 --force",
		"node1: sh:ganetictl-assemble /dev/drbd0 /run/ganeti/instance-disks/inst1.example.com:0 -b")
	steps, err = MakeSecondary(d, "node1", "inst1.example.com", 0)
	checkArgv(t, "MakeSecondary", steps, err,
		"node1: rm -f -- /run/ganeti/instance-disks/inst1.example.com:0",
		"node1: drbdsetup secondary 0")
	steps, err = Shutdown(d, "node2", "inst1.example.com", 0)
	checkArgv(t, "Shutdown", steps, err,
		"node2: rm -f -- /run/ganeti/instance-disks/inst1.example.com:0",
		"node2: drbdsetup down resource0")
	steps, err = Remove(d, "node2")
	checkArgv(t, "Remove", steps, err,
		"node2: drbdsetup down resource0",
		"node2: sh:ganetictl-remove-lv xenvg/00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_data",
		"node2: sh:ganetictl-remove-lv xenvg/00000001-aaaa-bbbb-cccc-dddddddddddd.disk0_meta")
	steps, err = WaitSync(d, "node1", env, 600)
	checkArgv(t, "WaitSync", steps, err, "node1: sh:ganetictl-drbd-wait /run/testbed/drbd/proc_drbd 0 sync 600 disk/0")
	steps, err = Grow(d, "node2", 4)
	checkArgv(t, "Grow", steps, err, "node2: sh:ganetictl-grow-lv "+data+" 4096")
	steps, err = ResizeDRBD(d, "node1", 4)
	checkArgv(t, "ResizeDRBD", steps, err, "node1: drbdsetup resize 0 --size 1028m")

	steps, err = CreateReplacementLVs(d, "node2", "inst1.example.com", "new")
	checkArgv(t, "CreateReplacementLVs", steps, err,
		"node2: lvcreate -Wn -L1024m -nnew.disk0_data -i1 --addtag "+tag+" xenvg",
		"node2: lvcreate -Wn -L128m -nnew.disk0_meta -i1 --addtag "+tag+" xenvg")
	steps, err = SwapReplacementLVs(d, "node2", "new", 1700000000, env)
	old := "00000001-aaaa-bbbb-cccc-dddddddddddd.disk0"
	checkArgv(t, "SwapReplacementLVs", steps, err,
		"node2: drbdsetup detach 0",
		"node2: sh:ganetictl-rename-lv xenvg "+old+"_data "+old+"_data_replaced-1700000000",
		"node2: sh:ganetictl-rename-lv xenvg "+old+"_meta "+old+"_meta_replaced-1700000000",
		"node2: lvrename xenvg new.disk0_data "+old+"_data",
		"node2: lvrename xenvg new.disk0_meta "+old+"_meta",
		"node2: sh:ganetictl-drbd-init-meta "+meta+" /run/testbed/drbd/proc_drbd",
		"node2: sh:ganetictl-drbd-attach 0 resource0 "+data+" "+meta+" --on-io-error=detach --size 1024m",
		"node2: drbdsetup disk-options 0 --resync-rate 61440")
	steps, err = RemoveReplacedLVs(d, "node2", 1700000000)
	checkArgv(t, "RemoveReplacedLVs", steps, err,
		"node2: sh:ganetictl-remove-lv xenvg/"+old+"_data_replaced-1700000000",
		"node2: sh:ganetictl-remove-lv xenvg/"+old+"_meta_replaced-1700000000")

	// Params: dynamic resync, barriers, custom words, protocol.
	env.DiskParams = []statefile.Params{{"dynamic-resync": true, "disk-barriers": "bf", "meta-barriers": true, "protocol": "b", "disk-custom": "--al-extents=257", "net-custom": "--ping-int 5"}}
	steps, err = AssembleDRBD(d, "node1", env)
	checkArgv(t, "AssembleDRBD params", steps, err,
		"node1: sh:ganetictl-drbd-attach 0 resource0 "+data+" "+meta+" --on-io-error=detach --size 1024m --md-flushes=no --disk-flushes=no --disk-barrier=no --al-extents=257",
		"node1: drbdsetup disk-options 0 --c-plan-ahead 20 --c-fill-target 0 --c-delay-target 1 --c-max-rate 61440 --c-min-rate 4096",
		"node1: sh:ganetictl-drbd-connect 0 resource0 ipv4:198.19.0.1:11000 ipv4:198.19.0.2:11000 --protocol B --after-sb-0pri discard-zero-changes --after-sb-1pri consensus --cram-hmac-alg md5 --shared-secret "+ref+" --ping-int 5")
	for _, bad := range []statefile.Params{{"disk-custom": "; rm -rf /"}, {"protocol": "D"}, {"disk-barriers": "x"}, {"resync-rate": "-1"}} {
		env.DiskParams = []statefile.Params{bad}
		if _, err := AssembleDRBD(d, "node1", env); err == nil {
			t.Errorf("params %v accepted", bad)
		}
	}
	env.DiskParams = nil

	// New secondary: node3 has no secondary IP, so its primary IP serves.
	nd, err := WithSecondary(d, "node1", "node3", 5)
	if err != nil {
		t.Fatal(err)
	}
	nid, _ := nd.DRBD()
	was, _ := d.DRBD()
	if nid.NodeB != "node3" || nid.MinorB != 5 || nid.MinorA != 0 || !reflect.DeepEqual(nd.Children[0].Nodes, []string{"node1", "node3"}) || was.NodeB != "node2" {
		t.Errorf("WithSecondary: %v %v (old %v)", nd.LogicalID, nd.Children[0].Nodes, d.LogicalID)
	}
	steps, err = AttachNet(nd, "node3", env, false)
	checkArgv(t, "AttachNet new secondary", steps, err,
		"node3: sh:ganetictl-drbd-connect 5 resource5 ipv4:198.18.0.3:11000 ipv4:198.19.0.1:11000 --protocol C --after-sb-0pri discard-zero-changes --after-sb-1pri consensus --cram-hmac-alg md5 --shared-secret "+ref,
		"node3: sh:ganetictl-drbd-wait /run/testbed/drbd/proc_drbd 5 connected 120 disk/0")

	// Conversions.
	pl := &statefile.Disk{UUID: "p", DevType: Plain, LogicalID: []any{"xenvg", "old.disk0"}, Nodes: []string{"node1"}, IVName: "disk/0", Size: 1024, Mode: "rw"}
	p, s, err := PlainToDRBD(pl, d, "node1", "inst1.example.com", env)
	checkArgv(t, "PlainToDRBD primary", p, err,
		"node1: lvcreate -Wn -L128m -n"+old+"_meta -i1 --addtag "+tag+" xenvg",
		"node1: lvrename xenvg old.disk0 "+old+"_data",
		"node1: dd if=/dev/zero of="+meta+" bs=1048576 count=128 oflag=direct",
		"node1: drbdmeta --force /dev/drbd0 v08 "+meta+" flex-external create-md",
		"node1: sh:ganetictl-drbd-attach 0 resource0 "+data+" "+meta+" --on-io-error=detach --size 1024m",
		"node1: drbdsetup disk-options 0 --resync-rate 61440",
		"node1: sh:ganetictl-drbd-connect 0 resource0 ipv4:198.19.0.1:11000 ipv4:198.19.0.2:11000 --protocol C --after-sb-0pri discard-zero-changes --after-sb-1pri consensus --cram-hmac-alg md5 --shared-secret "+ref,
		"node1: drbdsetup primary 0 --force")
	if len(s) != 7 || s[0].Node != "node2" {
		t.Errorf("PlainToDRBD secondary: %v", argvs(s))
	}
	plain, p, s, err := DRBDToPlain(d, "node1", "")
	checkArgv(t, "DRBDToPlain primary", p, err,
		"node1: drbdsetup down resource0",
		"node1: sh:ganetictl-remove-lv xenvg/"+old+"_meta")
	checkArgv(t, "DRBDToPlain secondary", s, nil,
		"node2: drbdsetup down resource0",
		"node2: sh:ganetictl-remove-lv xenvg/"+old+"_data",
		"node2: sh:ganetictl-remove-lv xenvg/"+old+"_meta")
	if plain.DevType != Plain || VolumeName(plain) != "xenvg/"+old+"_data" || plain.IVName != "disk/0" || plain.Size != 1024 || !reflect.DeepEqual(plain.Nodes, []string{"node1"}) {
		t.Errorf("DRBDToPlain disk %+v", plain)
	}
	plain, p, _, _ = DRBDToPlain(d, "node1", "x.disk0")
	if VolumeName(plain) != "xenvg/x.disk0" || len(p) != 3 {
		t.Errorf("DRBDToPlain rename: %v %v", plain.LogicalID, argvs(p))
	}
	if _, err := Assemble(d, "node1", "inst1.example.com", 0); err == nil {
		t.Error("Assemble of drbd accepted")
	}
}

func TestDRBDIPv6(t *testing.T) {
	st := drbdState()
	st.Nodes["node1"].SecondaryIP = "2001:db8::1"
	st.Nodes["node2"].SecondaryIP = "2001:db8::2"
	d := mustDRBD(t, st, Spec{Size: 8})[0]
	steps, err := DisconnectNet(d, "node1", DRBDEnvFrom(st, ""))
	checkArgv(t, "ipv6", steps, err, "node1: sh:ganetictl-drbd-disconnect /proc/drbd 0 ipv6:[2001:db8::1]:11000 ipv6:[2001:db8::2]:11000")
	st.Nodes["node2"].SecondaryIP = "198.19.0.2"
	if _, err := DisconnectNet(d, "node1", DRBDEnvFrom(st, "")); err != nil {
		t.Log(err) // disconnect does not compare families
	}
	if _, err := AssembleDRBD(d, "node1", DRBDEnvFrom(st, "")); err == nil || !strings.Contains(err.Error(), "different families") {
		t.Errorf("mixed families: %v", err)
	}
	st.Nodes["node2"].SecondaryIP = "-x"
	if _, err := AssembleDRBD(d, "node1", DRBDEnvFrom(st, "")); err == nil {
		t.Error("bad IP accepted")
	}
}

func TestParseProcDRBD(t *testing.T) {
	s84, err := ParseProcDRBD(fixture(t, "proc_drbd84.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s84) != 6 {
		t.Errorf("8.4: %d minors: %v", len(s84), s84)
	}
	want0 := DRBDStatus{Minor: 0, CState: "Connected", Role: "Primary", PeerRole: "Secondary", Disk: "UpToDate", PeerDisk: "UpToDate", ETASeconds: -1, OOSKiB: 0}
	if s84[0] != want0 {
		t.Errorf("minor 0: %+v", s84[0])
	}
	if !s84[0].InSync() || s84[0].Degraded() || s84[0].LDisk() != "okay" || NeedsActivation(s84, 0) {
		t.Errorf("minor 0 predicates")
	}
	if !s84[2].Unconfigured || !NeedsActivation(s84, 2) || !NeedsActivation(s84, 3) {
		t.Errorf("minor 2: %+v", s84[2])
	}
	if s := s84[4]; s.CState != "WFConnection" || s.Role != "Primary" || s.PeerDisk != "DUnknown" || !s.Degraded() || s.InSync() || NeedsActivation(s84, 4) || s.OOSKiB != 1048320 {
		t.Errorf("minor 4: %+v", s)
	}
	if s := s84[6]; s.Disk != "Diskless" || s.LDisk() != "faulty" || !NeedsActivation(s84, 6) || !s.Degraded() {
		t.Errorf("minor 6: %+v", s)
	}
	if s := s84[8]; s.CState != "StandAlone" || s.LDisk() != "faulty" || !NeedsActivation(s84, 8) {
		t.Errorf("minor 8: %+v", s)
	}

	sync, err := ParseProcDRBD(fixture(t, "proc_drbd84_sync.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s := sync[5]; !s.Syncing || s.SyncPercent != 68.5 || s.ETASeconds != 5 || s.CState != "SyncSource" || s.LDisk() != "okay" || s.PeerDisk != "Inconsistent" || !s.InResync() {
		t.Errorf("8.4 sync minor 5: %+v", s)
	}
	if s := sync[0]; s.Syncing || s.CState != "StandAlone" {
		t.Errorf("8.4 sync minor 0: %+v", s)
	}

	s83, err := ParseProcDRBD(fixture(t, "proc_drbd83_sync.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s := s83[3]; !s.Syncing || s.SyncPercent != 34.9 || s.ETASeconds != 5 || s.CState != "SyncTarget" || s.LDisk() != "sync" {
		t.Errorf("8.3 sync minor 3: %+v", s)
	}

	s80, err := ParseProcDRBD(fixture(t, "proc_drbd8.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s := s80[1]; s.Role != "Secondary" || s.PeerRole != "Primary" || !s.InSync() {
		t.Errorf("8.0 minor 1: %+v", s)
	}
	if s := s80[5]; s.PeerDisk != "Diskless" || s.Degraded() {
		t.Errorf("8.0 minor 5: %+v", s)
	}
	if len(s80) != 8 {
		t.Errorf("8.0: %d minors", len(s80))
	}

	for _, f := range []string{"proc_drbd80-emptyline.txt", "proc_drbd80-emptyversion.txt", "proc_drbd84_emptyfirst.txt", "proc_drbd83.txt", "proc_drbd83_sync_want.txt", "proc_drbd83_sync_krnl2.6.39.txt"} {
		st, err := ParseProcDRBD(fixture(t, f))
		if err != nil || len(st) == 0 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	empty, err := ParseProcDRBD(fixture(t, "proc_drbd80-emptyline.txt"))
	if err != nil || len(empty) != 5 || !empty[6].Unconfigured || empty[0].CState != "Connected" {
		t.Errorf("emptyline: %v %v", empty, err)
	}
	if maj, mi, pt, err := DRBDVersion(fixture(t, "proc_drbd84.txt")); err != nil || maj != 8 || mi != 4 || pt != 2 {
		t.Errorf("version %d.%d.%d %v", maj, mi, pt, err)
	}
	if _, err := ParseProcDRBD([]byte("version: 9.0.1 (api:2/proto:86-112)\n")); err == nil {
		t.Error("drbd 9 accepted")
	}
}

// TestDRBDScripts checks the scripts' syntax and runs drbd_state (awk)
// on Ganeti's status fixtures.
func TestDRBDScripts(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	for name, s := range map[string]string{"wait": drbdWaitScript, "disconnect": drbdDisconnectScript, "attach": drbdAttachScript,
		"connect": drbdConnectScript, "init-meta": drbdInitMetaScript, "rename": renameIfScript} {
		if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v %s", name, err, out)
		}
	}
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("no awk")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		file  string
		minor int
		want  string
	}{
		{"proc_drbd84_sync.txt", 5, "SyncSource Secondary/Secondary UpToDate/Inconsistent 68.5 0:00:05"},
		{"proc_drbd84_sync.txt", 0, "StandAlone Primary/Unknown UpToDate/DUnknown - -"},
		{"proc_drbd84_sync.txt", 3, "Unconfigured - - - -"},
		{"proc_drbd84_sync.txt", 4, "missing"},
		{"proc_drbd84.txt", 1, "Connected Secondary/Primary UpToDate/UpToDate - -"},
		{"proc_drbd8.txt", 8, "StandAlone Secondary/Unknown UpToDate/DUnknown - -"},
		{"proc_drbd83_sync.txt", 3, "SyncTarget Primary/Secondary Inconsistent/UpToDate 34.9 0:00:05"},
	} {
		f := filepath.Join(dir, tc.file)
		if err := os.WriteFile(f, fixture(t, tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", drbdStateFn+`drbd_state "$1" "$2"`, "x", f, strconv.Itoa(tc.minor)).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("%s minor %d: %q %v, want %q", tc.file, tc.minor, got, err, tc.want)
		}
	}
	// init-meta's free minor: first Unconfigured, else highest+1.
	for file, want := range map[string]string{"proc_drbd84.txt": "2", "proc_drbd84_emptyfirst.txt": "2"} {
		f := filepath.Join(dir, file)
		os.WriteFile(f, fixture(t, file), 0o644)
		script := drbdInitMetaScript[:strings.Index(drbdInitMetaScript, "dd if")] + "echo $m\n"
		out, err := exec.Command("sh", "-c", script, "x", "/dev/null", f).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("free minor in %s: %q %v, want %s", file, got, err, want)
		}
	}
}
