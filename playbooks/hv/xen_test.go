package hv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func xenArgs(t *testing.T, hv string) StartArgs {
	hvp, err := Params(hv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return StartArgs{
		Instance: &statefile.Instance{
			Meta: statefile.Meta{UUID: "87a98459-93b9-484b-beea-933f636615d6"},
			Name: "xen1.example.com", Hypervisor: hv, NetworkPort: 11000,
			BEParams: statefile.Params{"maxmem": 512.0, "vcpus": 2.0},
			Disks: []*statefile.Disk{
				{UUID: "932df160-7a22-4067-a566-0123456789ab", DevType: "plain", Mode: "rw"},
				{UUID: "11111111-2222-3333-4444-555555555555", DevType: "file", Mode: "rw", LogicalID: []any{"loop", "/srv/ganeti/file-storage/xen1/disk1"}},
			},
			NICs: []*statefile.NIC{
				{UUID: "7e06ddbf-d0ac-422b-b5a5-926c67959c0b", MAC: "aa:00:00:32:87:6d", IP: "198.18.0.50"},
				{UUID: "8e06ddbf-d0ac-422b-b5a5-926c67959c0b", MAC: "aa:00:00:32:87:6e"},
			},
		},
		Node: "node1", HVParams: hvp, StartMem: 256,
		Links:    []string{DiskLink("xen1.example.com", 0), DiskLink("xen1.example.com", 1)},
		NICLinks: []string{"br0", "br1"},
	}
}

func TestXenConfigGolden(t *testing.T) {
	for _, hv := range []string{XenPVM, XenHVM} {
		cfg, err := XenConfigFile(xenArgs(t, hv))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, hv+".cfg", cfg)
	}
	a := xenArgs(t, XenPVM)
	a.HVParams["cpu_mask"] = "0-1:3"
	a.HVParams["cpu_cap"] = 50.0
	a.HVParams["reboot_behavior"] = "exit"
	a.HVParams["initrd_path"] = "/boot/initrd-3-xenU"
	cfg, err := XenConfigFile(a)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "xen-pvm-options.cfg", cfg)
}

func TestXenConfigRefusals(t *testing.T) {
	for name, mod := range map[string]func(*StartArgs){
		"quote in kernel args": func(a *StartArgs) { a.HVParams["kernel_args"] = "ro' extra='x" },
		"backslash":            func(a *StartArgs) { a.HVParams["kernel_args"] = `ro\` },
		"bad ip":               func(a *StartArgs) { a.Instance.NICs[0].IP = "1.2.3.4, bridge=x" },
		"bad bridge":           func(a *StartArgs) { a.NICLinks[0] = "br0, script=/x" },
		"bad link":             func(a *StartArgs) { a.Links[0] = "/x',y" },
		"bad cpu mask":         func(a *StartArgs) { a.HVParams["cpu_mask"] = `0"]` },
		"bad name":             func(a *StartArgs) { a.Instance.Name = "x'" },
	} {
		a := xenArgs(t, XenPVM)
		mod(&a)
		if _, err := XenConfigFile(a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestXenSteps(t *testing.T) {
	a := xenArgs(t, XenPVM)
	steps, err := Start(a)
	if err != nil || len(steps) != 1 {
		t.Fatalf("%v %v", steps, err)
	}
	s := steps[0]
	cfg, _ := XenConfigFile(a)
	if s.Argv[2] != xenStartScript || s.Argv[4] != "xen1.example.com" || s.Argv[5] != string(cfg) || s.Argv[6] != "" {
		t.Fatalf("start argv %q", s.Argv[3:])
	}
	if s.Undo == nil || s.Undo.Argv[2] != xenStopScript {
		t.Fatalf("undo %+v", s.Undo)
	}
	st, err := Stop(XenPVM, "xen1.example.com", "node1", 1500*1e6, false)
	if err != nil || strings.Join(st.Argv[3:], " ") != "ganetictl-xen-stop xen1.example.com 2 " {
		t.Fatalf("stop %q %v", st.Argv, err)
	}
	bs, err := Balloon(a, 384)
	if err != nil || len(bs) != 2 || strings.Join(bs[0].Argv, " ") != "xl mem-set xen1.example.com 384" ||
		bs[1].Path != "/etc/xen/xen1.example.com" || !bytes.Contains(bs[1].Content, []byte("\nmemory = 384\n")) {
		t.Fatalf("balloon %+v %v", bs, err)
	}
	rs, err := Reboot(a, "soft")
	if err != nil || len(rs) != 1 || rs[0].Argv[2] != xenRebootScript {
		t.Fatalf("soft reboot %+v %v", rs, err)
	}
	rs, err = Reboot(a, "hard")
	if err != nil || len(rs) != 2 || rs[0].Argv[2] != xenStopScript || rs[1].Argv[2] != xenStartScript {
		t.Fatalf("hard reboot %+v %v", rs, err)
	}
	if _, err := Reboot(a, "full"); err == nil {
		t.Fatal("full reboot accepted")
	}
}
