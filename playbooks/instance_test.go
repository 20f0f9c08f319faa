package playbooks

import (
	"errors"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

func instanceEnv(t *testing.T) Env {
	st := initState(t, "node2")
	st.Cluster.EnabledDiskTemplates = []string{"plain", "file", "diskless"}
	st.Cluster.BEParams = statefile.Params{"maxmem": int64(256), "minmem": int64(128)}
	facts := map[string]*NodeFacts{}
	for _, n := range []string{"node1", "node2"} {
		f := goodFacts(n)
		f.OS = map[string]*OSDef{"testos": {Name: "testos", Path: "/srv/ganeti/os/testos", APIs: []int{20}, Variants: []string{"default", "fail"}}}
		f.Running = map[string]hv.Running{}
		facts[n] = f
	}
	seq := byte(0)
	return withHelper(Env{State: st, Facts: facts, NewID: ids(), Random: func(n int) []byte {
		seq++
		b := make([]byte, n)
		copy(b, []byte{0x10, 0x20, seq})
		return b
	}})
}

func TestInstanceAddPlan(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "plain", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 1024, Mode: "rw"}, {Size: 512, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "instance_add_plain", p)
	// Every creating step can be undone, and the OS runs after the disks.
	names := []string{}
	for _, st := range p.Stages {
		names = append(names, st.Name)
		for _, s := range st.Steps {
			if s.Action == plan.Create && s.Undo == nil {
				t.Errorf("stage %q: %s has no undo", st.Name, s.Desc)
			}
		}
	}
	if got := strings.Join(names, ","); got != "create disks,activate disks,install the OS,start the instance,copy the state to the master candidates" {
		t.Errorf("stages: %s", got)
	}
	st := env.State
	mustApply(t, p, st)
	inst := st.Instances["web1"]
	if inst.AdminState != "up" || len(inst.Disks) != 2 || inst.NICs[0].MAC != "aa:00:00:10:20:01" {
		t.Errorf("instance after add: %+v", inst)
	}
}

func TestInstanceAddStartMemory(t *testing.T) {
	env := instanceEnv(t)
	env.Facts["node1"].MemFree = 200 // between minmem 128 and maxmem 256
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "diskless", Primary: "node1", OS: "testos", NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	start := p.Stages[len(p.Stages)-2].Steps[0] // the last is the state's copy
	if !strings.Contains(strings.Join(start.Argv, " "), "-m 256") {
		t.Errorf("qemu should get -m maxmem: %v", start.Argv)
	}
	env.Facts["node1"].MemFree = 100 // below minmem
	_, err = InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "diskless", Primary: "node1", OS: "testos", NICs: []NICSpec{{}}})
	if err == nil || !strings.Contains(err.Error(), "Not enough memory") {
		t.Errorf("below minmem: %v", err)
	}
	// --no-start does not need the memory.
	if _, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "diskless", Primary: "node1", OS: "testos", NoStart: true}); err != nil {
		t.Errorf("--no-start below minmem: %v", err)
	}
}

func TestInstanceAddRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Env, *InstanceAddArgs)
		typ  string
		want string
	}{
		{"template disabled", func(e *Env, a *InstanceAddArgs) { a.Template = "sharedfile" }, ErrWrongInput, "not enabled"},
		{"drbd without secondary", func(e *Env, a *InstanceAddArgs) {
			e.State.Cluster.EnabledDiskTemplates = append(e.State.Cluster.EnabledDiskTemplates, "drbd")
			a.Template = "drbd"
		}, ErrWrongInput, "needs a secondary node"},
		{"drbd secondary = primary", func(e *Env, a *InstanceAddArgs) {
			e.State.Cluster.EnabledDiskTemplates = append(e.State.Cluster.EnabledDiskTemplates, "drbd")
			a.Template, a.Secondary = "drbd", "node1"
		}, ErrWrongInput, "cannot be the primary"},
		{"hypervisor", func(e *Env, a *InstanceAddArgs) { a.Hypervisor = "xen-pvm" }, ErrWrongInput, "Hypervisor 'xen-pvm' is not enabled"},
		{"no disks", func(e *Env, a *InstanceAddArgs) { a.Disks = nil }, ErrWrongInput, "No disks given"},
		{"vg full", func(e *Env, a *InstanceAddArgs) { e.Facts["node1"].VG.Free = 100 }, ErrWrongState, "Not enough disk space"},
		{"offline node", func(e *Env, a *InstanceAddArgs) { e.State.Nodes["node2"].Offline = true; a.Primary = "node2" }, ErrWrongState, "offline node"},
		{"unknown OS", func(e *Env, a *InstanceAddArgs) { a.OS = "debian" }, ErrWrongInput, "OS 'debian' not found"},
		{"bad MAC", func(e *Env, a *InstanceAddArgs) { a.NICs = []NICSpec{{MAC: "zz:00"}} }, ErrWrongInput, "invalid MAC"},
		{"bad -B", func(e *Env, a *InstanceAddArgs) { a.BEParams = statefile.Params{"memroy": int64(1)} }, ErrWrongInput, "Unknown backend parameter"},
		{"minmem > maxmem", func(e *Env, a *InstanceAddArgs) {
			a.BEParams = statefile.Params{"minmem": int64(512), "maxmem": int64(256)}
		}, ErrWrongInput, "cannot be larger"},
		{"bad -H", func(e *Env, a *InstanceAddArgs) { a.HVParams = statefile.Params{"no_such": "x"} }, ErrWrongInput, "no_such"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := instanceEnv(t)
			a := InstanceAddArgs{Name: "web1", Template: "plain", Primary: "node1", OS: "testos", Disks: []storage.Spec{{Size: 1024, Mode: "rw"}}, NICs: []NICSpec{{}}}
			tc.mod(&env, &a)
			_, err := InstanceAdd(env, a)
			var pe *PrereqError
			if !errors.As(err, &pe) || pe.Type != tc.typ || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("InstanceAdd = %v, want %s error containing %q", err, tc.typ, tc.want)
			}
		})
	}
}

func TestInstanceOpsNeedState(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "file", Primary: "node1", OS: "testos", Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	env.Facts["node1"].Running = map[string]hv.Running{"web1": {Name: "web1", Hypervisor: "kvm", MemMiB: 256}}
	if _, err := Rename(env, "web1", "web2"); err == nil || !strings.Contains(err.Error(), "shut it down") {
		t.Errorf("rename while running: %v", err)
	}
	if _, err := Reinstall(env, "web1", "", nil); err == nil {
		t.Error("reinstall while running must be refused")
	}
	if _, err := InstanceModify(env, ModifyInstanceArgs{Name: "web1", Disks: []DiskMod{{Op: "remove", Index: 0}}}); err == nil {
		t.Error("disk removal while running must be refused")
	}
	// Startup of a running instance changes only the admin state.
	p, err = InstanceStartup(env, "web1")
	if err != nil || len(p.Stages) != 1 || !p.Stages[0].AfterCommit {
		t.Errorf("startup of a running instance: %v, %d stages", err, len(p.Stages))
	}
	// Shutdown stops, then deactivates disks; the admin state goes down.
	p, err = InstanceShutdown(env, "web1", DefaultShutdownTimeout, false)
	if err != nil || p.Stages[0].Name != "stop the instance" {
		t.Fatalf("shutdown: %v", err)
	}
	mustApply(t, p, env.State)
	if env.State.Instances["web1"].AdminState != "down" {
		t.Error("admin state after shutdown")
	}
	env.Facts["node1"].Running = map[string]hv.Running{}
	if _, err := InstanceModify(env, ModifyInstanceArgs{Name: "web1", RuntimeMemory: 128}); err == nil {
		t.Error("-m on a stopped instance must be refused")
	}
	if _, err := GrowDisk(env, "web1", 0, 32, true, false); err == nil {
		t.Error("an absolute size below the current one must be refused")
	}
	if _, err := GrowDisk(env, "web1", 3, 32, false, false); err == nil {
		t.Error("a bad disk index must be refused")
	}
	p, err = Rename(env, "web1", "web2")
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	if _, ok := env.State.Instances["web2"]; !ok || env.State.Instances["web1"] != nil {
		t.Error("rename did not rename")
	}
	if !strings.Contains(storage.VolumeName(env.State.Instances["web2"].Disks[0]), "/web2/") {
		t.Errorf("file disk not moved: %s", storage.VolumeName(env.State.Instances["web2"].Disks[0]))
	}
}

func TestInstanceAddDRBDPlan(t *testing.T) {
	env := instanceEnv(t)
	env.State.Cluster.EnabledDiskTemplates = append(env.State.Cluster.EnabledDiskTemplates, "drbd")
	env.State.Nodes["node1"].SecondaryIP, env.State.Nodes["node2"].SecondaryIP = "198.19.0.1", "198.19.0.2"
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "db1", Template: "drbd", Primary: "node1", Secondary: "node2", OS: "testos",
		Disks: []storage.Spec{{Size: 1024, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	secretSeen := false
	for _, st := range p.Stages {
		names = append(names, st.Name)
		for _, s := range st.Steps {
			for _, a := range s.Argv {
				if plan.IsSecret(a) {
					secretSeen = true
				}
			}
		}
	}
	if !secretSeen {
		t.Error("the drbd connect step should carry the shared secret as a placeholder")
	}
	got := strings.Join(names, ",")
	for _, want := range []string{"create disks", "activate disks", "wait for the disks to sync", "install the OS", "start the instance"} {
		if !strings.Contains(got, want) {
			t.Errorf("stages %s lack %q", got, want)
		}
	}
	// The plan resolves the secret the state records, and nothing else shows it.
	mustApply(t, p, env.State)
	d := env.State.Instances["db1"].Disks[0]
	id, _ := d.DRBD()
	secret := id.Secret
	resolved, err := p.Resolve([]string{plan.SecretRef(storage.SecretName(d))})
	if err != nil || resolved[0] != secret || len(secret) != 40 {
		t.Errorf("secret %q resolves to %v, %v", secret, resolved, err)
	}
	if d.Nodes[0] != "node1" || d.Nodes[1] != "node2" || len(d.Children) != 2 {
		t.Errorf("drbd disk: %+v", d)
	}
}

// TestModifyHotplugIfPossible: --hotplug-if-possible on a running
// instance goes on without hotplug and says that the NIC comes at the next
// start; on a stopped one there is nothing to say.
func TestModifyHotplugIfPossible(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "file", Primary: "node1", OS: "testos", Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	add := ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "add", Index: -1}}, HotplugIfPossible: true}
	env.Facts["node1"].Running = map[string]hv.Running{"web1": {Name: "web1", Hypervisor: "kvm", MemMiB: 256}}
	p, err = InstanceModify(env, add)
	if err != nil || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "Hotplug is not possible") || !strings.Contains(p.Notes[0], "next start of web1") {
		t.Fatalf("running: %v, notes %q", err, p.Notes)
	}
	env.Facts["node1"].Running = map[string]hv.Running{}
	if p, err = InstanceModify(env, add); err != nil || len(p.Notes) != 0 {
		t.Fatalf("stopped: %v, notes %q", err, p.Notes)
	}
}
