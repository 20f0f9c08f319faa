package playbooks

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/storage"
)

// hotplugEnv has web1 (plain, one NIC) on node1, running or not; with a
// probe, its runtime file as its start wrote it.
func hotplugEnv(t *testing.T, running, probe bool) Env {
	t.Helper()
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "plain", Primary: "node1", OS: "testos",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{Link: "br0"}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	if running {
		env.Facts["node1"].Running = map[string]hv.Running{"web1": {Name: "web1", Hypervisor: "kvm", MemMiB: 256}}
	}
	if probe {
		inst := env.State.Instances["web1"]
		sa, err := startArgs(env, inst, env.Facts["node1"])
		if err != nil {
			t.Fatal(err)
		}
		rt, err := hv.KVMRuntime(sa)
		if err != nil {
			t.Fatal(err)
		}
		env.Probes = []Probe{{Node: "node1", Stdout: rt}}
	}
	return env
}

func stageNames(ss []string, name string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, name) {
			return true
		}
	}
	return false
}

// TestModifyHotplug: what --hotplug and --hotplug-if-possible plug in,
// refuse, or leave to the next start.
func TestModifyHotplug(t *testing.T) {
	nicAdd := []NICMod{{Op: "add", Index: -1, Spec: NICSpec{Link: "br0"}}}
	diskAdd := []DiskMod{{Op: "add", Index: -1, Spec: storage.Spec{Size: 64, Mode: "rw"}}}
	for _, tc := range []struct {
		name           string
		running, probe bool
		xen            bool
		a              ModifyInstanceArgs
		err            []string // all in the error; nil: no error
		hotplugs, note bool     // a hot-plug stage; a "next start" note
		diskTypeIDE    bool
	}{
		{name: "nic and disk added", running: true, probe: true, a: ModifyInstanceArgs{Hotplug: true, NICs: nicAdd, Disks: diskAdd}, hotplugs: true},
		{name: "if possible, added", running: true, probe: true, a: ModifyInstanceArgs{HotplugIfPossible: true, NICs: nicAdd}, hotplugs: true},
		{name: "stopped: simply applies", a: ModifyInstanceArgs{Hotplug: true, NICs: nicAdd}},
		{name: "xen refused", running: true, xen: true, a: ModifyInstanceArgs{Hotplug: true, NICs: nicAdd}, err: []string{"hotplug is supported for kvm only"}},
		{name: "xen if possible: next start", running: true, xen: true, a: ModifyInstanceArgs{HotplugIfPossible: true, NICs: nicAdd}, note: true},
		{name: "nic removal refused", running: true, probe: true, a: ModifyInstanceArgs{Hotplug: true, NICs: []NICMod{{Op: "remove", Index: 0}}},
			err: []string{"NIC 0", "guest's cooperation (ACPI)", "shut the instance down", "drop --hotplug"}},
		{name: "nic change refused", running: true, probe: true, a: ModifyInstanceArgs{Hotplug: true, NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{Link: "br1"}}}},
			err: []string{"hot-modify NIC 0", "shut the instance down"}},
		{name: "disk removal refused", running: true, probe: true, a: ModifyInstanceArgs{Hotplug: true, Disks: []DiskMod{{Op: "remove", Index: -1}}},
			err: []string{"hot-unplug (remove) disk -1", "shut the instance down", "drop --hotplug"}},
		{name: "removal if possible: next start", running: true, probe: true, a: ModifyInstanceArgs{HotplugIfPossible: true, NICs: []NICMod{{Op: "remove", Index: 0}}}, note: true},
		{name: "no runtime file", running: true, a: ModifyInstanceArgs{Hotplug: true, NICs: nicAdd}, err: []string{"runtime file", "was not read"}},
		{name: "ide disk refused", running: true, probe: true, diskTypeIDE: true, a: ModifyInstanceArgs{Hotplug: true, Disks: diskAdd},
			err: []string{"disk_type ide", "only paravirtual"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := hotplugEnv(t, tc.running, tc.probe)
			if tc.probe {
				if tc.diskTypeIDE { // the running qemu's runtime says ide
					env.State.Instances["web1"].HVParams = map[string]any{"disk_type": "ide"}
					sa, _ := startArgs(env, env.State.Instances["web1"], env.Facts["node1"])
					rt, err := hv.KVMRuntime(sa)
					if err != nil {
						t.Fatal(err)
					}
					env.Probes = []Probe{{Node: "node1", Stdout: rt}}
				}
			}
			if tc.xen {
				env.State.Instances["web1"].Hypervisor = hv.XenPVM
			}
			tc.a.Name = "web1"
			p, err := InstanceModify(env, tc.a)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.err)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range p.Stages {
				names = append(names, s.Name)
			}
			if got := stageNames(names, "hot-plug"); got != tc.hotplugs {
				t.Errorf("hot-plug stages %v, want %v: %q", got, tc.hotplugs, names)
			}
			note := len(p.Notes) == 1 && strings.Contains(p.Notes[0], "next start of web1")
			if note != tc.note {
				t.Errorf("notes %q, want the next-start note %v", p.Notes, tc.note)
			}
		})
	}
}
