package playbooks_test

import (
	"fmt"
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

// TestSecondaryIPRules: node modify -s and node add -s follow Ganeti (the
// guide's "Replication network changes"): the node must hold the address,
// its instances must be down (stopped ones are fine, --force or not), and
// a multi-homed cluster goes single-homed only through its master with
// --force.
func TestSecondaryIPRules(t *testing.T) {
	w := newWorld(t, 3)
	for i, n := range []string{"node1", "node2", "node3"} {
		w.facts[n].Addrs = []string{"127.0.0.1", fmt.Sprintf("198.18.0.%d", i+1), fmt.Sprintf("198.19.0.%d", i+1), fmt.Sprintf("198.19.0.%d", 101+i)}
	}
	modify := func(node, ip string, force bool) error {
		_, _, err := pb.NodeModify(w.env(), pb.NodeModifyArgs{Name: node, SecondaryIP: ip, Force: force})
		return err
	}
	for _, tc := range []struct {
		node, ip string
		force    bool
		err      string
	}{
		{"node3", "198.19.0.99", false, "does not have the secondary ip 198.19.0.99"},
		{"node3", "198.19.0.99", true, "does not have the secondary ip"},
		{"node3", "198.19.0.103", false, ""},
		{"node3", "198.18.0.3", false, "same as the primary IP on a multi-homed cluster"},
		{"node3", "198.18.0.3", true, "same as the primary IP on a multi-homed cluster"},
		{"node1", "198.18.0.1", true, ""}, // the master, forced: the way to single-homed
	} {
		if err := modify(tc.node, tc.ip, tc.force); tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("modify -s %s %s (force %v): %v, want %q", tc.ip, tc.node, tc.force, err, tc.err)
		}
	}
	// An instance using the node: refused while it is up, even with
	// --force; fine once it is stopped.
	w.add(drbdInst("db1", "node1", "node3", 1024))
	for _, force := range []bool{false, true} {
		if err := modify("node3", "198.19.0.103", force); err == nil || !strings.Contains(err.Error(), "up or have active disks (db1)") {
			t.Errorf("modify -s with db1 up (force %v): %v", force, err)
		}
	}
	w.inst("db1").AdminState, w.inst("db1").DisksActive = "down", false
	if err := modify("node3", "198.19.0.103", false); err != nil {
		t.Errorf("modify -s with db1 down: %v", err)
	}
	// The node cannot be asked: refused.
	w.down("node3", "connection refused")
	if err := modify("node3", "198.19.0.103", false); err == nil || !strings.Contains(err.Error(), "not reachable") {
		t.Errorf("modify -s of an unreachable node: %v", err)
	}
	// node add -s with an address the new node lacks.
	w4 := newWorld(t, 3)
	f := pb.GoodFactsFor("node4")
	f.Addrs = []string{"198.18.0.4", "198.19.0.4"}
	w4.facts["node4"] = f
	_, err := pb.NodeAdd(w4.env(), pb.NodeAddArgs{Name: "node4", PrimaryIP: "198.18.0.4", SecondaryIP: "198.19.0.44"})
	if err == nil || !strings.Contains(err.Error(), "does not have the secondary ip 198.19.0.44") {
		t.Errorf("node add -s with a foreign address: %v", err)
	}
	if _, err := pb.NodeAdd(w4.env(), pb.NodeAddArgs{Name: "node4", PrimaryIP: "198.18.0.4", SecondaryIP: "198.19.0.4"}); err != nil {
		t.Errorf("node add -s: %v", err)
	}
}

// TestRuntimeMemoryBounds: modify -m takes a size between the instance's
// minimum and maximum memory; below the minimum only with --force
// (Ganeti's "must have memory between ... unless --force is given").
func TestRuntimeMemoryBounds(t *testing.T) {
	w := newWorld(t, 2) // instances: minmem 128, maxmem 256
	w.add(plainInst("web1", "node1", 1024))
	w.runs("web1")
	for _, tc := range []struct {
		mem   int64
		force bool
		err   string
	}{
		{192, false, ""},
		{64, false, "must have memory between 128 and 256 MiB of memory unless --force is given"},
		{64, true, ""},
		{512, true, "above the instance's maximum memory"},
	} {
		p, err := pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1", RuntimeMemory: tc.mem, Force: tc.force})
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("-m %d (force %v): %v", tc.mem, tc.force, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("-m %d (force %v): %v, want %q", tc.mem, tc.force, err, tc.err)
		case err == nil && !strings.Contains(stepDescs(p), fmt.Sprintf("set memory of web1 to %d MiB", tc.mem)):
			t.Errorf("-m %d: plan\n%s", tc.mem, stepDescs(p))
		}
	}
}
