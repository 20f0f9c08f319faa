//go:build bed

package hv

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/testbed"
)

// These tests run the steps on a real test-bed node (real qemu under TCG,
// ip, socat; the xl stand-in). They are built only with -tags bed (make
// e2e), skip without root, as testbed.ForTest says, and use names of their
// own on the shared bed.

func newUUID(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// runSteps carries out steps on the bed as apply would: uploads through
// stdin, commands as argv.
func runSteps(ctx context.Context, t *testing.T, bed *testbed.Bed, steps []plan.Step) {
	t.Helper()
	for _, s := range steps {
		if _, err := runStep(ctx, bed, s); err != nil {
			t.Fatalf("step %q: %v", s.Desc, err)
		}
	}
}

func runStep(ctx context.Context, bed *testbed.Bed, s plan.Step) (string, error) {
	if s.Path != "" {
		out, _, err := bed.RunInput(ctx, s.Node, s.Content, "sh", "-c", `cat > "$1" && chmod "$2" "$1"`, "sh", s.Path, strconv.FormatUint(uint64(s.Mode), 8))
		return out, err
	}
	out, _, err := bed.Run(ctx, s.Node, s.Argv...)
	return out, err
}

func list(ctx context.Context, t *testing.T, bed *testbed.Bed, node string) map[string]Running {
	t.Helper()
	out, _, err := bed.Run(ctx, node, "sh", "-c", ListScript, "ganetictl-list")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseList([]byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m
}

func qmpReturns(ctx context.Context, t *testing.T, bed *testbed.Bed, node, inst string, cmds ...string) []json.RawMessage {
	t.Helper()
	st, err := QMP(node, inst, cmds...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runStep(ctx, bed, st)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseQMP([]byte(out))
	if err != nil || len(r) != len(cmds) {
		t.Fatalf("qmp: %v (%d replies)\n%s", err, len(r), out)
	}
	return r
}

func TestBedKVMStartStop(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node := bed.Nodes()[0].Name
	hvp, err := Params(KVM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := bed.Run(ctx, node, "sh", "-c", MachineScript, "ganetictl-machine", str(hvp, "kvm_path"))
	if err != nil {
		t.Fatal(err)
	}
	machine := strings.TrimSpace(out)
	t.Logf("default machine on %s: %s", node, machine)

	for _, withDisk := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", withDisk), func(t *testing.T) {
			name := fmt.Sprintf("hvt%d-%v", os.Getpid(), withDisk)
			inst := &statefile.Instance{
				Meta: statefile.Meta{UUID: newUUID(t)}, Name: name, Hypervisor: KVM,
				BEParams: statefile.Params{"maxmem": 128.0, "vcpus": 1.0},
				NICs:     []*statefile.NIC{{UUID: newUUID(t), MAC: "aa:00:00:12:34:56"}},
			}
			a := StartArgs{Instance: inst, Node: node, HVParams: hvp, StartMem: 96, NICLinks: []string{"br0"}, DefaultMachine: machine}
			stop, err := Stop(KVM, name, node, 2*time.Second, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				force, _ := Stop(KVM, name, node, 0, true)
				runStep(context.Background(), bed, force)
				bed.Run(context.Background(), node, "rm", "-rf", "/srv/ganeti/file-storage/"+name, DiskLink(name, 0))
			})
			if withDisk {
				dir := "/srv/ganeti/file-storage/" + name
				inst.Disks = []*statefile.Disk{{UUID: newUUID(t), DevType: "file", Mode: "rw", Size: 64}}
				a.Links = []string{DiskLink(name, 0)}
				for _, argv := range [][]string{
					{"mkdir", "-p", dir, DiskLinkDir},
					{"qemu-img", "create", "-q", "-f", "raw", dir + "/disk0", "64M"},
					{"ln", "-sfn", dir + "/disk0", DiskLink(name, 0)},
				} {
					if _, _, err := bed.Run(ctx, node, argv...); err != nil {
						t.Fatal(err)
					}
				}
			}
			steps, err := Start(a)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			runSteps(ctx, t, bed, steps)
			t.Logf("start took %v", time.Since(t0))

			r, ok := list(ctx, t, bed, node)[name]
			if !ok || r.Hypervisor != KVM || r.MemMiB != 128 || r.VCPUs != 1 || r.ID <= 0 {
				t.Fatalf("list: %+v (found %v)", r, ok)
			}
			rets := qmpReturns(ctx, t, bed, node, name, QMPCommand("query-status", nil), QMPCommand("query-balloon", nil), QMPCommand("query-block", nil))
			var status struct{ Status string }
			var balloon struct{ Actual int64 }
			json.Unmarshal(rets[0], &status)
			json.Unmarshal(rets[1], &balloon)
			if status.Status != "running" {
				t.Errorf("query-status: %s", rets[0])
			}
			// The balloon target was accepted; "actual" only follows it once
			// a guest balloon driver runs, and this guest has no OS.
			if balloon.Actual != 128<<20 && balloon.Actual != 96<<20 {
				t.Errorf("query-balloon: %s", rets[1])
			}
			t.Logf("query-balloon: %s", rets[1])
			if withDisk && !strings.Contains(string(rets[2]), DiskLink(name, 0)) {
				t.Errorf("query-block lacks the disk: %s", rets[2])
			}
			tap := TapName(inst.NICs[0].UUID, 0)
			out, _, err := bed.Run(ctx, node, "ip", "-o", "link", "show", "dev", tap)
			if err != nil || !strings.Contains(out, "master br0") || !strings.Contains(out, "UP") {
				t.Errorf("tap %s: %q %v", tap, out, err)
			}
			// Start again is a no-op.
			runSteps(ctx, t, bed, steps)

			t0 = time.Now()
			out, err = runStep(ctx, bed, stop)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("stop took %v: %s", time.Since(t0), strings.TrimSpace(out))
			if !strings.Contains(out, "killed") {
				t.Errorf("expected the no-OS guest to ignore powerdown and be killed: %s", out)
			}
			if _, ok := list(ctx, t, bed, node)[name]; ok {
				t.Errorf("%s still listed after stop", name)
			}
			out, _, _ = bed.Run(ctx, node, "sh", "-c", `cat "/proc/$1/cmdline" 2>/dev/null; ip -o link show dev "$2" 2>/dev/null; ls -d /run/ganeti/kvm-hypervisor/*/"$3"* 2>/dev/null; true`,
				"sh", strconv.Itoa(r.ID), tap, name)
			if out != "" {
				t.Errorf("left behind after stop: %q", out)
			}
			// Stopping a stopped instance succeeds.
			if out, err := runStep(ctx, bed, stop); err != nil || !strings.Contains(out, "not running") {
				t.Errorf("second stop: %q %v", out, err)
			}
		})
	}
}

// TestBedKVMStartFailure: a start that fails midway (missing bridge)
// undoes itself: no qemu, tap or runtime file is left.
func TestBedKVMStartFailure(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := bed.Nodes()[0].Name
	name := fmt.Sprintf("hvf%d", os.Getpid())
	hvp, _ := Params(KVM, nil, nil)
	inst := &statefile.Instance{Meta: statefile.Meta{UUID: newUUID(t)}, Name: name, Hypervisor: KVM,
		BEParams: statefile.Params{"maxmem": 64.0, "vcpus": 1.0},
		NICs:     []*statefile.NIC{{UUID: newUUID(t), MAC: "aa:00:00:12:34:58"}, {UUID: newUUID(t), MAC: "aa:00:00:12:34:59"}}}
	t.Cleanup(func() {
		force, _ := Stop(KVM, name, node, 0, true)
		runStep(context.Background(), bed, force)
	})
	steps, err := Start(StartArgs{Instance: inst, Node: node, HVParams: hvp, NICLinks: []string{"br0", "nobridge0"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = runStep(ctx, bed, steps[0])
	if err == nil || !strings.Contains(err.Error(), "nobridge0") {
		t.Fatalf("want a bridge error, got %v", err)
	}
	out, _, _ := bed.Run(ctx, node, "sh", "-c", `ip -o link show dev "$1" 2>/dev/null; ip -o link show dev "$2" 2>/dev/null; ls -d /run/ganeti/kvm-hypervisor/*/"$3"* 2>/dev/null; true`,
		"sh", TapName(inst.NICs[0].UUID, 0), TapName(inst.NICs[1].UUID, 1), name)
	if out != "" {
		t.Errorf("left behind after failed start: %q", out)
	}
}

func TestBedXen(t *testing.T) {
	bed := testbed.ForTest(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := bed.Nodes()[0].Name
	name := fmt.Sprintf("hvx%d", os.Getpid())
	hvp, err := Params(XenPVM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := StartArgs{
		Instance: &statefile.Instance{Meta: statefile.Meta{UUID: newUUID(t)}, Name: name, Hypervisor: XenPVM,
			BEParams: statefile.Params{"maxmem": 256.0, "vcpus": 2.0},
			NICs:     []*statefile.NIC{{UUID: newUUID(t), MAC: "aa:00:00:12:34:57"}}},
		Node: node, HVParams: hvp, StartMem: 128, NICLinks: []string{"br0"},
	}
	t.Cleanup(func() {
		force, _ := Stop(XenPVM, name, node, 0, true)
		runStep(context.Background(), bed, force)
	})
	steps, err := Start(a)
	if err != nil {
		t.Fatal(err)
	}
	runSteps(ctx, t, bed, steps)
	r, ok := list(ctx, t, bed, node)[name]
	if !ok || r.Hypervisor != "xen" || r.MemMiB != 128 || r.VCPUs != 2 || r.State != "running" {
		t.Fatalf("after start: %+v %v", r, ok)
	}
	cfg, _, err := bed.Run(ctx, node, "cat", XenConfig(name))
	if want, _ := XenConfigFile(a); err != nil || cfg != string(want) {
		t.Fatalf("config on node: %q %v", cfg, err)
	}
	bs, err := Balloon(a, 200)
	if err != nil {
		t.Fatal(err)
	}
	runSteps(ctx, t, bed, bs)
	if r := list(ctx, t, bed, node)[name]; r.MemMiB != 200 {
		t.Errorf("after balloon: %+v", r)
	}
	rb, err := Reboot(a, "soft")
	if err != nil {
		t.Fatal(err)
	}
	runSteps(ctx, t, bed, rb)
	if r2 := list(ctx, t, bed, node)[name]; r2.ID == r.ID || r2.State != "running" {
		t.Errorf("after soft reboot: %+v (was id %d)", r2, r.ID)
	}
	stop, err := Stop(XenPVM, name, node, 2*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	runSteps(ctx, t, bed, []plan.Step{stop})
	if _, ok := list(ctx, t, bed, node)[name]; ok {
		t.Error("still listed after stop")
	}
	if _, _, err := bed.Run(ctx, node, "test", "!", "-e", XenConfig(name)); err != nil {
		t.Errorf("config left behind: %v", err)
	}
	if out, err := runStep(ctx, bed, stop); err != nil || !strings.Contains(out, "not running") {
		t.Errorf("second stop: %q %v", out, err)
	}
}
