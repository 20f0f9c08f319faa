package playbooks_test

import (
	"strings"
	"testing"
	"time"

	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// stepDescs lists a plan's stage names and step descriptions.
func stepDescs(p *plan.Plan) string {
	var b strings.Builder
	for _, s := range p.Stages {
		b.WriteString("* " + s.Name + "\n")
		for _, st := range s.Steps {
			b.WriteString("  " + st.Node + ": " + st.Desc + "\n")
		}
	}
	return b.String()
}

// TestStopHonoursACPI: a KVM instance whose effective acpi is off is
// killed at once by shutdown, reboot, remove, failover, move and export
// (Ganeti's hv_kvm: "if force or not acpi: KillProcess"), not powered
// down with a wait for the shutdown timeout.
func TestStopHonoursACPI(t *testing.T) {
	w := newWorld(t, 2)
	w.add(plainInst("web1", "node1", 1024))
	w.runs("web1")
	plans := func() map[string]*plan.Plan {
		out := map[string]*plan.Plan{}
		var err error
		if out["shutdown"], err = pb.InstanceShutdown(w.env(), "web1", time.Minute, false); err != nil {
			t.Fatal(err)
		}
		if out["reboot"], err = pb.InstanceReboot(w.env(), "web1", "full", time.Minute); err != nil {
			t.Fatal(err)
		}
		if out["remove"], err = pb.InstanceRemove(w.env(), "web1", time.Minute, false); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for verb, p := range plans() {
		if d := stepDescs(p); !strings.Contains(d, "stop instance web1 (kvm; powerdown, kill after 1m0s)") {
			t.Errorf("%s with acpi on should power down first:\n%s", verb, d)
		}
	}
	w.st.Cluster.HVParams = map[string]statefile.Params{"kvm": {"acpi": false}}
	for verb, p := range plans() {
		if d := stepDescs(p); !strings.Contains(d, "stop instance web1 (kvm; kill)") {
			t.Errorf("%s with acpi off should kill at once:\n%s", verb, d)
		}
	}
	// The instance's own acpi=true wins over the cluster's.
	w.inst("web1").HVParams = statefile.Params{"acpi": true}
	if d := stepDescs(plans()["shutdown"]); !strings.Contains(d, "powerdown") {
		t.Errorf("instance acpi=true should power down:\n%s", d)
	}
}

// TestAdoptionSkipsOSInstall: adopting LVs (--disk 0:adopt=LV) starts the
// instance on them as they are, "without installing the OS on them"
// (admin guide, import of foreign instances): no create script runs.
func TestAdoptionSkipsOSInstall(t *testing.T) {
	w := newWorld(t, 2)
	w.facts["node1"].Volumes = &storage.Volumes{LVs: []storage.LV{{VG: "xenvg", Name: "legacy-root", SizeMiB: 4096, Attr: "-wi-a-----", Active: true}}}
	a := plainInst("legacy1", "node1")
	a.Disks = []storage.Spec{{Adopt: "legacy-root", Mode: "rw"}}
	p, err := pb.InstanceAdd(w.env(), a)
	if err != nil {
		t.Fatal(err)
	}
	d := stepDescs(p)
	if strings.Contains(d, "install the OS") || strings.Contains(d, "create script") {
		t.Errorf("adoption ran the OS create script over the adopted data:\n%s", d)
	}
	if !strings.Contains(d, "adopt LV xenvg/legacy-root") || !strings.Contains(d, "start instance legacy1") {
		t.Errorf("adoption plan:\n%s", d)
	}
}
