package hv

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/internal/fixtures"
)

// xlOut prefixes a fixture like ListScript does.
func xlOut(t *testing.T, name string) []byte {
	b := fixtures.Read(t, "ganeti-test-data", name)
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		out.WriteString("xl " + l + "\n")
	}
	return []byte(out.String())
}

func TestParseListXen(t *testing.T) {
	got, err := ParseList(xlOut(t, "xen-xl-list-4.0.1-dom0-only.txt"))
	if err != nil || len(got) != 0 {
		t.Fatalf("dom0 only: %v %v", got, err)
	}
	got, err = ParseList(xlOut(t, "xen-xl-list-4.0.1-four-instances.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Running{
		"server01.example.com":      {Name: "server01.example.com", Hypervisor: "xen", ID: 1, MemMiB: 1024, VCPUs: 1, State: "running"},
		"web3106215069.example.com": {Name: "web3106215069.example.com", Hypervisor: "xen", ID: 3, MemMiB: 4096, VCPUs: 1, State: "running"},
		"testinstance.example.com":  {Name: "testinstance.example.com", Hypervisor: "xen", ID: 2, MemMiB: 2048, VCPUs: 2, State: "running"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v want %+v", k, got[k], w)
		}
	}
	// Crashed rows ("c") are dropped, paused "p" ignored.
	got, err = ParseList(xlOut(t, "xen-xl-list-4.4-crashed-instances.txt"))
	if err != nil || len(got) != 1 || got["server01.example.com"].State != "running" {
		t.Fatalf("crashed: %v %v", got, err)
	}
}

func TestParseListStates(t *testing.T) {
	out := "xl Name ID Mem VCPUs State Time(s)\n" +
		"xl down 4 128 1 ---s-- 1.0\n" +
		"xl paused 5 128 1 --p--- 1.0\n" +
		"xl mig 6 128 1 -b-ss- 1.0\n"
	got, err := ParseList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if got["down"].State != "shutdown" || got["paused"].State != "running" || got["mig"].State != "running" {
		t.Fatalf("%+v", got)
	}
	for _, bad := range []string{
		"xl Name\nxl x 1 128 1 r-b--- 1.0\n", // unknown state
		"xl Name\nxl x 1 128 1 r-----\n",     // 5 fields
		"xl Name\nxl x one 128 1 r----- 1.0\n",
		"xlerr 1\n",
		"kvm a 1 128\n",
		"kvm a b 128 1\n",
		"garbage\n",
		"kvm a 1 128 1\nxl Name\nxl a 1 128 1 r----- 1.0\n", // twice
	} {
		if _, err := ParseList([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseListKVM(t *testing.T) {
	out := "kvm kvm1 4242 128 1\nkvm web.example.com 77 2G 4\nkvm s 9 size=512M,slots=2 2\n"
	got, err := ParseList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r := got["kvm1"]; r != (Running{Name: "kvm1", Hypervisor: KVM, ID: 4242, MemMiB: 128, VCPUs: 1, State: "running"}) {
		t.Errorf("%+v", r)
	}
	if got["web.example.com"].MemMiB != 2048 || got["web.example.com"].VCPUs != 4 || got["s"].MemMiB != 512 {
		t.Errorf("%+v", got)
	}
	if got, err := ParseList(nil); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestParseQMP(t *testing.T) {
	r, err := ParseQMP([]byte("{\"return\": {}}\n{\"return\": {\"status\": \"running\", \"running\": true}}\n"))
	if err != nil || len(r) != 2 || !strings.Contains(string(r[1]), "running") {
		t.Fatalf("%s %v", r, err)
	}
	_, err = ParseQMP([]byte(`{"error": {"class": "GenericError", "desc": "No balloon device has been activated"}}`))
	if err == nil || !strings.Contains(err.Error(), "No balloon") {
		t.Fatal(err)
	}
}
