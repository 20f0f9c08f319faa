package playbooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ids returns a deterministic UUID source.
func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("00000000-0000-0000-0000-%012d", n) }
}

func goodFacts(name string) *NodeFacts {
	return &NodeFacts{Name: name, Reachable: true, Hostname: name, Uname: "Linux 6.1.0 x86_64", MemTotal: 24000, MemFree: 23000, CPUs: 2,
		Helpers: map[string]string{testHelper.Path: testHelper.SHA256},
		Tools: map[string]string{"lvm": "/usr/sbin/lvm", "drbdsetup": "/usr/local/sbin/drbdsetup", "qemu-system-x86_64": "/usr/bin/qemu-system-x86_64",
			"qemu-img": "/usr/bin/qemu-img", "socat": "/usr/bin/socat", "ip": "/usr/sbin/ip"},
		VG: &VGFacts{Name: "xenvg", Size: 32768, Free: 32768, Attr: "wz--n-"}, DRBD: "version: 8.4.11 (api:1/proto:86-101)",
		Dirs: map[string]bool{"/srv/ganeti/file-storage": true, "/srv/ganeti/shared-file-storage": true}, Bridges: map[string]bool{"br0": true}}
}

func initArgs() InitArgs {
	return InitArgs{Name: "cluster.test", Master: "node1", MasterIP: "198.18.0.1", MasterSecondaryIP: "198.18.0.1", Group: "default",
		VolumeGroup: "xenvg", EnabledHypervisors: []string{"kvm"}, EnabledDiskTemplates: []string{"plain", "drbd", "file"},
		FileStorageDir: "/srv/ganeti/file-storage", MACPrefix: "aa:00:00", MasterNetdev: "br0", CandidatePoolSize: 2,
		NICParams: statefile.Params{"link": "br0", "mode": "bridged"}}
}

// initState is a committed cluster of the given nodes (node1 master).
func initState(t *testing.T, nodes ...string) *statefile.State {
	t.Helper()
	st := statefile.New("lineage-1")
	env := Env{State: st, NewID: ids(), Facts: map[string]*NodeFacts{"node1": goodFacts("node1")}}
	p, err := ClusterInit(env, initArgs())
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, st)
	for i, n := range nodes {
		env := Env{State: st, NewID: ids(), Facts: map[string]*NodeFacts{n: goodFacts(n)}}
		p, err := NodeAdd(env, NodeAddArgs{Name: n, PrimaryIP: fmt.Sprintf("198.18.0.%d", i+2)})
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, p, st)
	}
	return st
}

func mustApply(t *testing.T, p *plan.Plan, st *statefile.State) {
	t.Helper()
	if err := p.ApplyChanges(st, time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	st.Serial++
}

// golden compares the plan's JSON with testdata/<name>.json.
func golden(t *testing.T, name string, p *plan.Plan) {
	t.Helper()
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./playbooks -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("plan %s differs from %s (run with -update if intended):\n%s", name, path, got)
	}
}

func TestClusterInitPlan(t *testing.T) {
	st := statefile.New("lineage-1")
	p, err := ClusterInit(Env{State: st, NewID: ids(), Facts: map[string]*NodeFacts{"node1": goodFacts("node1")}}, initArgs())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "cluster_init", p)
	mustApply(t, p, st)
	if st.Cluster.MasterNode != "node1" || !st.Nodes["node1"].MasterCandidate || st.NodeGroups["default"] == nil {
		t.Errorf("state after init: %+v", st.Cluster)
	}
}

func TestClusterInitRefusals(t *testing.T) {
	noVG := goodFacts("node1")
	noVG.VG, noVG.VGError = nil, `Volume group "xenvg" not found`
	noTool := goodFacts("node1")
	delete(noTool.Tools, "qemu-img")
	wrongHost := goodFacts("node1")
	wrongHost.Hostname = "other"
	skewed := goodFacts("node1")
	skewed.WindowStart = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	skewed.WindowEnd = skewed.WindowStart.Add(time.Second)
	skewed.Time = skewed.WindowEnd.Add(10 * time.Minute)
	for _, tc := range []struct {
		name  string
		facts *NodeFacts
		want  string
	}{
		{"unreachable", &NodeFacts{Name: "node1", Err: "connection refused"}, "not reachable: connection refused"},
		{"no vg", noVG, "no volume group xenvg"},
		{"missing tool", noTool, "lacks required tools: [qemu-img]"},
		{"wrong host", wrongHost, `hostname "other"`},
		{"clock skew", skewed, "clock is 600s away"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ClusterInit(Env{State: statefile.New("l"), NewID: ids(), Facts: map[string]*NodeFacts{"node1": tc.facts}}, initArgs())
			var pe *PrereqError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ClusterInit = %v, want a PrereqError containing %q", err, tc.want)
			}
		})
	}
}

func TestNodeAddPromotesUntilPoolFull(t *testing.T) {
	st := initState(t, "node2", "node3") // pool size 2
	if !st.Nodes["node2"].MasterCandidate || st.Nodes["node3"].MasterCandidate {
		t.Errorf("candidates: node2=%v node3=%v, want true,false", st.Nodes["node2"].MasterCandidate, st.Nodes["node3"].MasterCandidate)
	}
	_, err := NodeAdd(Env{State: st, NewID: ids(), Facts: map[string]*NodeFacts{"node2": goodFacts("node2")}}, NodeAddArgs{Name: "node2", PrimaryIP: "198.18.0.9"})
	if err == nil || !strings.Contains(err.Error(), "--readd") {
		t.Errorf("adding node2 twice: %v", err)
	}
	_, err = NodeAdd(Env{State: st, NewID: ids(), Facts: map[string]*NodeFacts{"node4": goodFacts("node4")}}, NodeAddArgs{Name: "node4", PrimaryIP: "198.18.0.2"})
	if err == nil || !strings.Contains(err.Error(), "already used by node node2") {
		t.Errorf("duplicate address: %v", err)
	}
}

func TestNodeAddPlan(t *testing.T) {
	st := initState(t)
	p, err := NodeAdd(Env{State: st, NewID: ids(), Facts: map[string]*NodeFacts{"node2": goodFacts("node2")}}, NodeAddArgs{Name: "node2", PrimaryIP: "198.18.0.2", SecondaryIP: "198.19.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "node_add", p)
}

func TestNodeModify(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name  string
		args  NodeModifyArgs
		check func(t *testing.T, st *statefile.State)
		err   string
	}{
		{name: "offline needs auto-promote", args: NodeModifyArgs{Name: "node2", Offline: &yes}, err: "--auto-promote"},
		{name: "offline with auto-promote", args: NodeModifyArgs{Name: "node2", Offline: &yes, AutoPromote: true}, check: func(t *testing.T, st *statefile.State) {
			if n := st.Nodes["node2"]; !n.Offline || n.MasterCandidate {
				t.Errorf("node2: %+v", n)
			}
			if !st.Nodes["node3"].MasterCandidate {
				t.Error("node3 was not promoted")
			}
		}},
		{name: "master cannot be drained", args: NodeModifyArgs{Name: "node1", Drained: &yes}, err: "master-failover"},
		{name: "two roles", args: NodeModifyArgs{Name: "node3", Drained: &yes, Offline: &yes}, err: "Only one"},
		{name: "nothing", args: NodeModifyArgs{Name: "node3"}, err: "at least one"},
		{name: "unknown", args: NodeModifyArgs{Name: "node9", Drained: &no}, err: "Node 'node9' not known"},
		{name: "promote", args: NodeModifyArgs{Name: "node3", MasterCandidate: &yes}, check: func(t *testing.T, st *statefile.State) {
			if !st.Nodes["node3"].MasterCandidate {
				t.Error("node3 not a candidate")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := initState(t, "node2", "node3")
			p, _, err := NodeModify(Env{State: st, NewID: ids()}, tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("NodeModify = %v, want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mustApply(t, p, st)
			tc.check(t, st)
		})
	}
}

func TestNodeRemove(t *testing.T) {
	st := initState(t, "node2", "node3")
	if _, err := NodeRemove(Env{State: st}, "node1"); err == nil || !strings.Contains(err.Error(), "master") {
		t.Errorf("removing the master: %v", err)
	}
	st.Instances["web1"] = &statefile.Instance{Name: "web1", PrimaryNode: "node3"}
	if _, err := NodeRemove(Env{State: st}, "node3"); err == nil || !strings.Contains(err.Error(), "web1") {
		t.Errorf("removing a node with instances: %v", err)
	}
	delete(st.Instances, "web1")
	p, err := NodeRemove(Env{State: st}, "node2")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "node_remove", p)
	mustApply(t, p, st)
	if _, ok := st.Nodes["node2"]; ok || !st.Nodes["node3"].MasterCandidate {
		t.Errorf("after remove: node2 present=%v, node3 candidate=%v", ok, st.Nodes["node3"].MasterCandidate)
	}
}

func TestTags(t *testing.T) {
	st := initState(t, "node2")
	p, err := Tags(Env{State: st}, plan.KindCluster, "", []string{"b", "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, st)
	if got := strings.Join(st.Cluster.Tags, ","); got != "a,b" {
		t.Errorf("cluster tags = %s", got)
	}
	if _, err := Tags(Env{State: st}, plan.KindNode, "node2", nil, []string{"x"}); err == nil {
		t.Error("removing a missing tag should fail")
	}
}

func TestStaleAndReplay(t *testing.T) {
	st := initState(t, "node2")
	p, err := Tags(Env{State: st}, plan.KindCluster, "", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckFresh(st.Lineage, st.Serial+1); err == nil {
		t.Error("a plan for an older serial must be stale")
	}
	var se *plan.StaleError
	if err := p.CheckFresh("other", st.Serial); !errors.As(err, &se) || !strings.Contains(err.Error(), "another cluster") {
		t.Errorf("another lineage: %v", err)
	}
}
