package playbooks

import (
	"errors"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

func allocEnv(t *testing.T) Env {
	env := instanceEnv(t)
	st := env.State
	st.Cluster.EnabledDiskTemplates = []string{"plain", "drbd", "file", "diskless"}
	n := &statefile.Node{Name: "node3", PrimaryIP: "198.18.0.9", SecondaryIP: "198.18.0.9", Group: "default", VMCapable: true, MasterCapable: true}
	st.Nodes["node3"] = n
	f := goodFacts("node3")
	f.OS = env.Facts["node1"].OS
	f.Running = env.Facts["node1"].Running
	env.Facts["node3"] = f
	return env
}

func TestInstanceAddAllocates(t *testing.T) {
	env := allocEnv(t)
	env.Facts["node1"].MemFree = 100 // too little for maxmem 256
	env.State.Nodes["node2"].Drained = true
	a := InstanceAddArgs{Name: "web1", Template: "plain", OS: "testos", Disks: []storage.Spec{{Size: 1024, Mode: "rw"}}, NICs: []NICSpec{{}}}
	need := InstanceAddOp.With(a).Needs(env.State)
	if strings.Join(need.Nodes, ",") != "node1,node2,node3" {
		t.Errorf("Needs nodes %v, want every online vm-capable node", need.Nodes)
	}
	p, err := InstanceAdd(env, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "the allocator chose node3") {
		t.Errorf("notes %v", p.Notes)
	}
	mustApply(t, p, env.State)
	if got := env.State.Instances["web1"].PrimaryNode; got != "node3" {
		t.Errorf("primary %s, want node3", got)
	}
	// drbd needs two nodes of which only node1 and node3 are usable; with
	// 100 MiB free node1 cannot even be the secondary (a failover to it
	// needs 256).
	a.Name, a.Template = "db1", "drbd"
	if _, err := InstanceAdd(env, a); err == nil || !strings.Contains(err.Error(), "node1: as primary: 100 MiB free memory, needs 256; as secondary: 100 MiB free memory, a failover to it needs 256") {
		t.Errorf("drbd on a full node1: %v", err)
	}
	env.Facts["node1"].MemFree = 20000
	p, err = InstanceAdd(env, a)
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	db := env.State.Instances["db1"]
	if pair := db.PrimaryNode + ":" + db.SecondaryNodes()[0]; pair != "node1:node3" && pair != "node3:node1" {
		t.Errorf("db1 on %s, want node1 and node3", pair)
	}
}

func TestInstanceAddRefusalInWords(t *testing.T) {
	env := allocEnv(t)
	env.Facts["node1"].MemFree = 100
	env.Facts["node3"].VG.Free = 500
	env.State.Nodes["node2"].Drained = true
	a := InstanceAddArgs{Name: "web1", Template: "plain", OS: "testos", Disks: []storage.Spec{{Size: 10240, Mode: "rw"}}, NICs: []NICSpec{{}},
		BEParams: statefile.Params{"maxmem": int64(2048), "vcpus": int64(2)}}
	_, err := InstanceAdd(env, a)
	var r *alloc.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("want a refusal, got %v", err)
	}
	want := "no node can take web1 (2048 MiB, 2 vcpus, 10 GiB plain): node1: 100 MiB free memory, needs 2048; node2: drained; node3: 500 MiB free disk, needs 10 GiB"
	if err.Error() != want {
		t.Errorf("refusal:\n got %s\nwant %s", err, want)
	}
	if len(r.Nodes) != 3 || r.Nodes[1].Reason != "drained" {
		t.Errorf("structured refusal %+v", r.Nodes)
	}
}

// TestSharedFailoverPicksTarget: a shared-storage instance fails over (or
// migrates) without -n to the node the allocator chooses; its Needs ask
// for the group's nodes.
func TestSharedFailoverPicksTarget(t *testing.T) {
	env := allocEnv(t)
	st := env.State
	st.Cluster.EnabledDiskTemplates = append(st.Cluster.EnabledDiskTemplates, "sharedfile")
	st.Cluster.SharedFileStorageDir = "/srv/ganeti/shared-file-storage"
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "s1", Template: "sharedfile", Primary: "node1", OS: "testos", NoStart: true,
		Disks: []storage.Spec{{Size: 1024, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, st)
	env.Facts["node2"].MemFree = 100 // node3 is the better target
	if need := InstanceFailoverOp.With(FailoverArgs{Name: "s1"}).Needs(st); len(need.Nodes) != 3 {
		t.Errorf("failover without -n should ask every node of the group, got %v", need.Nodes)
	}
	p, err = Failover(env, FailoverArgs{Name: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "the allocator chose node3") {
		t.Errorf("notes %v", p.Notes)
	}
	mustApply(t, p, st)
	if got := st.Instances["s1"].PrimaryNode; got != "node3" {
		t.Errorf("s1 on %s, want node3", got)
	}
}

// TestInstanceAddAllocatesUnderEnforcedPolicy: the allocator judges by the
// instance policy instance add -n is held to: Ganeti's default bounds
// (disks of 1 GiB at least) only once an admin sets a policy.
func TestInstanceAddAllocatesUnderEnforcedPolicy(t *testing.T) {
	env := allocEnv(t)
	a := InstanceAddArgs{Name: "web1", Template: "plain", OS: "testos", Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}}
	if _, err := InstanceAdd(env, a); err != nil {
		t.Fatalf("a 64 MiB disk without a policy set: %v", err)
	}
	env.State.Cluster.IPolicy = &statefile.IPolicy{MinMax: DefaultIPolicy().MinMax}
	if _, err := InstanceAdd(env, a); err == nil || !strings.Contains(err.Error(), "disk-size 64 is below the minimum 1024 of the instance policy") {
		t.Errorf("a 64 MiB disk under the default bounds, set: %v", err)
	}
}
