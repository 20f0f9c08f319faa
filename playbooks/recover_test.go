package playbooks

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

const showSample = `resource resource3 {
    options {
    }
    net {
        cram-hmac-alg           "md5";
        shared-secret           "s3cr3t";
        after-sb-0pri           discard-zero-changes;
    }
    _remote_host {
        address                 ipv4 198.19.1.3:11001;
    }
    _this_host {
        address                 ipv4 198.19.1.2:11001;
        volume 0 {
            device              minor 3;
            disk                "/dev/xenvg/aaaa.disk0_data";
            meta-disk           "/dev/xenvg/aaaa.disk0_meta";
            disk {
                resync-rate     61440k; # bytes/second
            }
        }
    }
}

resource resource4 {
    options {
    }
    _this_host {
        volume 0 {
            device              minor 4;
        }
    }
}
`

func TestParseDRBDShow(t *testing.T) {
	got, err := ParseDRBDShow([]byte(showSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d minors: %+v", len(got), got)
	}
	want := DRBDShow{Resource: "resource3", Minor: 3, LocalIP: "198.19.1.2", LocalPort: 11001, PeerIP: "198.19.1.3", PeerPort: 11001,
		Disk: "/dev/xenvg/aaaa.disk0_data", Meta: "/dev/xenvg/aaaa.disk0_meta", Secret: "s3cr3t"}
	if got[0] != want {
		t.Errorf("minor 3:\n got %+v\nwant %+v", got[0], want)
	}
	if got[1].Minor != 4 || got[1].Disk != "" || got[1].LocalPort != 0 {
		t.Errorf("unconnected diskless minor 4: %+v", got[1])
	}
}

func TestParseProbe(t *testing.T) {
	rt := `[["/usr/bin/qemu-system-x86_64","-name","web","-m","512","-smp","2,cores=1"],` +
		`[{"uuid":"nic-1","mac":"aa:00:00:11:22:33","ip":null,"name":null,"nicparams":{"mode":"bridged","link":"br0"},"hvinfo":{}}],` +
		`{"kernel_path":""},[[{"uuid":"d-1","dev_type":"plain","size":32,"mode":"rw","iv_name":"disk/0","hvinfo":{}},"/run/x",null]]]`
	out := "@@copy\n" + b64(`{"format_version":1,"serial":7,"lineage":"L"}`) + "\n@@runtime\nweb " + b64(rt) + "\n@@drbdshow\n" + b64(showSample) + "\n@@end\n"
	p, err := ParseProbe("node2", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Runtime["web"]
	if r == nil || r.MaxMem != 512 || r.VCPUs != 2 || len(r.NICs) != 1 || r.NICs[0].MAC != "aa:00:00:11:22:33" || len(r.Disks) != 1 || r.Disks[0].UUID != "d-1" || r.Disks[0].Link != "/run/x" {
		t.Errorf("runtime: %+v", r)
	}
	if len(p.DRBD) != 2 || !strings.Contains(string(p.Copy), `"serial":7`) {
		t.Errorf("probe: %+v", p)
	}
	if _, err := ParseProbe("node2", []byte("@@copy\n")); err == nil {
		t.Error("truncated probe accepted")
	}
}

func copyOf(node, lineage string, serial int64, master string) StateCopy {
	st := statefile.New(lineage)
	st.Serial = serial
	st.Cluster.Name, st.Cluster.MasterNode = "c", master
	return StateCopy{Node: node, State: st, Sum: lineage + "-" + string(rune('0'+serial))}
}

func TestNewestCopy(t *testing.T) {
	tests := []struct {
		name     string
		copies   []StateCopy
		lineage  string
		wantNode string
		wantErr  string
		wantNote string
	}{
		{name: "none"},
		{name: "newest serial wins", copies: []StateCopy{copyOf("n1", "A", 4, "n1"), copyOf("n2", "A", 6, "n1"), copyOf("n3", "A", 5, "n1")}, wantNode: "n2", wantNote: "older copy (serial 4)"},
		{name: "workstation wins a tie", copies: []StateCopy{copyOf("n1", "A", 6, "n1"), copyOf(WorkstationSource, "A", 6, "n1")}, wantNode: WorkstationSource},
		{name: "mixed lineages refused", copies: []StateCopy{copyOf("n1", "A", 4, "n1"), copyOf("n2", "B", 9, "n2")}, wantErr: "--lineage"},
		{name: "lineage chosen", copies: []StateCopy{copyOf("n1", "A", 4, "n1"), copyOf("n2", "B", 9, "n2")}, lineage: "A", wantNode: "n1", wantNote: "another lineage B"},
		{name: "unknown lineage", copies: []StateCopy{copyOf("n1", "A", 4, "n1")}, lineage: "Z", wantErr: "no state copy has lineage Z"},
		{name: "split brain noted", copies: []StateCopy{copyOf("n1", "A", 6, "n1"), {Node: "n2", State: copyOf("n2", "A", 6, "n1").State, Sum: "other"}, copyOf("n3", "A", 6, "n1")}, wantNode: "n1", wantNote: "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best, notes, err := NewestCopy(tt.copies, tt.lineage)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (best == nil) != (tt.wantNode == "") || best != nil && best.Node != tt.wantNode {
				t.Fatalf("best = %+v, want %s", best, tt.wantNode)
			}
			if tt.wantNote != "" && !strings.Contains(notesText(notes), tt.wantNote) {
				t.Errorf("notes %s lack %q", notesText(notes), tt.wantNote)
			}
		})
	}
}

func notesText(ns []RecoverNote) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.Kind + " " + n.Object + ": " + n.Message + "\n")
	}
	return b.String()
}

func TestMasterFailover(t *testing.T) {
	st := initState(t, "node2", "node3")
	st.Cluster.CandidatePoolSize = 10
	for _, n := range st.Nodes {
		n.MasterCandidate = true
	}
	st.Nodes["node3"].MasterCandidate = false
	cp := func(node string, serial int64) StateCopy {
		c := StateCopy{Node: node, State: st.Clone(), Sum: "x"}
		c.State.Serial = serial
		return c
	}
	cur := st.Serial
	tests := []struct {
		name    string
		args    MasterFailoverArgs
		wantErr string
	}{
		{name: "promotes a current candidate", args: MasterFailoverArgs{Target: "node2", Copies: []StateCopy{cp("node1", cur), cp("node2", cur)}}},
		{name: "stale candidate refused", args: MasterFailoverArgs{Target: "node2", Copies: []StateCopy{cp("node1", cur), cp("node2", cur-1)}},
			wantErr: "its state copy is stale (serial " + itoa64(cur-1) + "), node node1 holds serial " + itoa64(cur)},
		{name: "candidate without copy refused", args: MasterFailoverArgs{Target: "node2", Copies: []StateCopy{cp("node1", cur)}}, wantErr: "stale (no copy)"},
		{name: "workstation behind", args: MasterFailoverArgs{Target: "node2", Copies: []StateCopy{cp("node1", cur+2), cp("node2", cur)}}, wantErr: "state pull"},
		{name: "not a candidate", args: MasterFailoverArgs{Target: "node3"}, wantErr: "not a master candidate; the master candidates are: node2"},
		{name: "already master", args: MasterFailoverArgs{Target: "node1"}, wantErr: "already the master"},
		{name: "no majority", args: MasterFailoverArgs{Target: "node2", Copies: []StateCopy{cp("node2", cur)}, Unreachable: map[string]string{"node1": "down"}}, wantErr: "--no-voting"},
		{name: "no voting", args: MasterFailoverArgs{Target: "node2", NoVoting: true, Copies: []StateCopy{cp("node2", cur)}, Unreachable: map[string]string{"node1": "down"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := MasterFailover(Env{State: st}, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			next := st.Clone()
			mustApply(t, p, next)
			if next.Cluster.MasterNode != tt.args.Target {
				t.Errorf("master %s", next.Cluster.MasterNode)
			}
		})
	}
	var se *StaleCopyError
	_, err := MasterFailover(Env{State: st}, MasterFailoverArgs{Target: "node2", Copies: []StateCopy{cp("node2", 1)}})
	if !errors.As(err, &se) || se.ErrorType() != ErrWrongState {
		t.Errorf("stale refusal is %T %v", err, err)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPullChoice(t *testing.T) {
	local := copyOf(WorkstationSource, "A", 5, "n1").State
	tests := []struct {
		name     string
		a        PullArgs
		wantNode string
		wantErr  string
	}{
		{name: "empty dir takes the newest", a: PullArgs{Copies: []StateCopy{copyOf("n1", "A", 5, "n1"), copyOf("n2", "A", 7, "n1")}}, wantNode: "n2"},
		{name: "newer of the same lineage", a: PullArgs{Local: local, Copies: []StateCopy{copyOf("n1", "A", 6, "n1")}}, wantNode: "n1"},
		{name: "up to date", a: PullArgs{Local: local, Copies: []StateCopy{copyOf("n1", "A", 5, "n1")}}},
		{name: "older refused", a: PullArgs{Local: local, Copies: []StateCopy{copyOf("n1", "A", 4, "n1")}}, wantErr: "older than the local state"},
		{name: "older forced", a: PullArgs{Local: local, Force: true, Copies: []StateCopy{copyOf("n1", "A", 4, "n1")}}, wantNode: "n1"},
		{name: "other lineage refused", a: PullArgs{Local: local, Copies: []StateCopy{copyOf("n1", "B", 9, "n1")}}, wantErr: "lineage A"},
		{name: "other lineage forced", a: PullArgs{Local: local, Force: true, Copies: []StateCopy{copyOf("n1", "B", 9, "n1")}}, wantNode: "n1"},
		{name: "nothing to pull", a: PullArgs{}, wantErr: "no node holds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best, _, err := PullChoice(tt.a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (best == nil) != (tt.wantNode == "") || best != nil && best.Node != tt.wantNode {
				t.Fatalf("best = %+v, want %q", best, tt.wantNode)
			}
		})
	}
}

// recoverFixture is a cluster of node1..node3 with a plain instance on
// node1 (running) and a drbd instance on node2:node3 (running on node2),
// and facts that match it exactly.
func recoverFixture(t *testing.T) (*statefile.State, map[string]*NodeFacts, map[string]*NodeProbe) {
	st := initState(t, "node2", "node3")
	st.Cluster.CandidatePoolSize = 10
	st.Instances["web"] = &statefile.Instance{Meta: statefile.Meta{UUID: "i-web"}, Name: "web", PrimaryNode: "node1", OS: "testos", Hypervisor: "kvm",
		AdminState: "up", DiskTemplate: "plain", DisksActive: true, Tags: []string{}, NICs: []*statefile.NIC{{UUID: "nic-web", MAC: "aa:00:00:00:00:01", NICParams: statefile.Params{"link": "br0", "mode": "bridged"}}},
		Disks: []*statefile.Disk{{UUID: "d-web", DevType: "plain", LogicalID: []any{"xenvg", "d-web.disk0"}, Nodes: []string{"node1"}, IVName: "disk/0", Size: 32, Mode: "rw"}}}
	st.Instances["db"] = &statefile.Instance{Meta: statefile.Meta{UUID: "i-db"}, Name: "db", PrimaryNode: "node2", OS: "testos", Hypervisor: "kvm",
		AdminState: "up", DiskTemplate: "drbd", DisksActive: true, Tags: []string{}, NICs: []*statefile.NIC{},
		Disks: []*statefile.Disk{{UUID: "d-db", DevType: "drbd", LogicalID: []any{"node2", "node3", 11001, 3, 0, "s3cr3t"}, Nodes: []string{"node2", "node3"}, IVName: "disk/0", Size: 64, Mode: "rw",
			Children: []*statefile.Disk{
				{UUID: "c1", DevType: "plain", LogicalID: []any{"xenvg", "aaaa.disk0_data"}, Nodes: []string{"node2", "node3"}, Size: 64, Mode: "rw"},
				{UUID: "c2", DevType: "plain", LogicalID: []any{"xenvg", "aaaa.disk0_meta"}, Nodes: []string{"node2", "node3"}, Size: 128, Mode: "rw"}}}}}
	st = st.Clone() // numbers as JSON gives them
	facts := map[string]*NodeFacts{}
	probes := map[string]*NodeProbe{}
	for _, n := range []string{"node1", "node2", "node3"} {
		f := goodFacts(n)
		f.Running = map[string]hv.Running{}
		f.Volumes = &storage.Volumes{}
		f.OS = map[string]*OSDef{"testos": {Name: "testos"}}
		facts[n] = f
		probes[n] = &NodeProbe{Node: n, Runtime: map[string]*KVMRuntime{}, StateDir: true}
	}
	tag := func(i string) []string { return []string{storage.InstanceTag(i)} }
	facts["node1"].Running["web"] = hv.Running{Name: "web", Hypervisor: "kvm"}
	facts["node1"].Volumes.LVs = []storage.LV{{VG: "xenvg", Name: "d-web.disk0", SizeMiB: 32, Tags: tag("web")}}
	facts["node2"].Running["db"] = hv.Running{Name: "db", Hypervisor: "kvm"}
	for _, n := range []string{"node2", "node3"} {
		facts[n].Volumes.LVs = []storage.LV{{VG: "xenvg", Name: "aaaa.disk0_data", SizeMiB: 64, Tags: tag("db")}, {VG: "xenvg", Name: "aaaa.disk0_meta", SizeMiB: 128, Tags: tag("db")}}
	}
	probes["node2"].DRBD = []DRBDShow{{Minor: 3, LocalPort: 11001, Disk: "/dev/xenvg/aaaa.disk0_data", Secret: "s3cr3t"}}
	probes["node3"].DRBD = []DRBDShow{{Minor: 0, LocalPort: 11001, Disk: "/dev/xenvg/aaaa.disk0_data", Secret: "s3cr3t"}}
	facts["node2"].DRBDStatus = []byte("version: 8.4.11 (api:1/proto:86-101)\n 3: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n")
	probes["node1"].Runtime["web"] = &KVMRuntime{NICs: []RuntimeNIC{{UUID: "nic-web", MAC: "aa:00:00:00:00:01", NICParams: map[string]any{"mode": "bridged", "link": "br0"}}},
		Disks: []RuntimeDisk{{UUID: "d-web", DevType: "plain", Size: 32, Mode: "rw", IVName: "disk/0"}}}
	probes["node2"].Runtime["db"] = &KVMRuntime{NICs: []RuntimeNIC{},
		Disks: []RuntimeDisk{{UUID: "d-db", DevType: "drbd", Size: 64, Mode: "rw", IVName: "disk/0"}}}
	return st, facts, probes
}

func testInventory() []InventoryNode {
	return []InventoryNode{{Name: "node1", Address: "198.18.0.1"}, {Name: "node2", Address: "198.18.0.2"}, {Name: "node3", Address: "198.18.0.3"},
		{Name: "node4", Address: "198.18.0.4"}}
}

func TestRecoverFromCopy(t *testing.T) {
	tests := []struct {
		name  string
		alter func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe)
		check func(t *testing.T, got *statefile.State)
		note  string // a note that must be there
		same  bool   // the state must come out unchanged
	}{
		{name: "matching reality changes nothing", same: true},
		{name: "migrated after the copy: primary follows the VM",
			alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
				delete(f["node2"].Running, "db")
				f["node3"].Running["db"] = hv.Running{Name: "db", Hypervisor: "kvm"}
			},
			check: func(t *testing.T, got *statefile.State) {
				if got.Instances["db"].PrimaryNode != "node3" {
					t.Errorf("primary %s", got.Instances["db"].PrimaryNode)
				}
			}, note: "primary node node2 -> node3"},
		{name: "started after the copy", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			st.Instances["web"].AdminState = "down"
		}, check: func(t *testing.T, got *statefile.State) {
			if got.Instances["web"].AdminState != "up" {
				t.Error("admin state not up")
			}
		}, note: "admin state down -> up"},
		{name: "stopped after the copy", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			delete(f["node1"].Running, "web")
		}, check: func(t *testing.T, got *statefile.State) {
			if got.Instances["web"].AdminState != "down" {
				t.Error("admin state not down")
			}
		}, note: "admin state up -> down"},
		{name: "removed after the copy", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			delete(f["node1"].Running, "web")
			f["node1"].Volumes.LVs = nil
		}, check: func(t *testing.T, got *statefile.State) {
			if _, ok := got.Instances["web"]; ok {
				t.Error("web still there")
			}
		}, note: "removed: it runs nowhere"},
		{name: "added after the copy", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			delete(st.Instances, "web")
		}, check: func(t *testing.T, got *statefile.State) {
			w := got.Instances["web"]
			if w == nil || w.PrimaryNode != "node1" || w.Disks[0].UUID != "d-web" || len(w.NICs) != 1 || w.NICs[0].MAC != "aa:00:00:00:00:01" || w.AdminState != "up" {
				t.Errorf("rebuilt web: %s", js(w))
			}
		}, note: "added: plain disk(s) disk/0=32M"},
		{name: "missing disk reported", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			f["node3"].Volumes.LVs = f["node3"].Volumes.LVs[1:]
		}, note: "aaaa.disk0_data missing on node node3"},
		{name: "unknown volume reported", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			f["node3"].Volumes.LVs = append(f["node3"].Volumes.LVs, storage.LV{VG: "xenvg", Name: "stray"})
		}, note: "xenvg/stray"},
		{name: "drbd minor changed after the copy", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			p["node3"].DRBD[0].Minor = 7
		}, check: func(t *testing.T, got *statefile.State) {
			if js(got.Instances["db"].Disks[0].LogicalID) != `["node2","node3",11001,3,7,"s3cr3t"]` {
				t.Errorf("logical id %s", js(got.Instances["db"].Disks[0].LogicalID))
			}
		}, note: "drbd minor on node3 0 -> 7"},
		{name: "unreachable node reported", alter: func(st *statefile.State, f map[string]*NodeFacts, p map[string]*NodeProbe) {
			f["node3"] = &NodeFacts{Name: "node3", Err: "connection refused"}
			delete(p, "node3")
		}, note: "unreachable (connection refused)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, facts, probes := recoverFixture(t)
			if tt.alter != nil {
				tt.alter(st, facts, probes)
			}
			in := RecoverInput{Copies: []StateCopy{{Node: "node2", State: st, Sum: "x"}}, Inventory: testInventory(), Facts: facts, Probes: probes,
				NewID: ids(), Random: func(n int) []byte { return make([]byte, n) }}
			r, err := Recover(in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != "copy" || r.From != "node2" || r.Lineage != st.Lineage || r.Serial != st.Serial {
				t.Errorf("source %+v", r)
			}
			if tt.same && (!statefile.Equal(st, r.State) || len(r.Plan.Changes) != 0) {
				t.Errorf("state changed:\n%s", notesText(r.Notes))
			}
			if tt.check != nil {
				tt.check(t, r.State)
			}
			if tt.note != "" && !strings.Contains(notesText(r.Notes), tt.note) {
				t.Errorf("notes lack %q:\n%s", tt.note, notesText(r.Notes))
			}
		})
	}
}

func TestRecoverRebuild(t *testing.T) {
	orig, facts, probes := recoverFixture(t)
	skel := initState(t)
	skel.Lineage = "new-lineage"
	skel.Cluster.CandidatePoolSize = 10
	in := RecoverInput{Inventory: testInventory(), Facts: facts, Probes: probes, Skeleton: skel,
		NewID: ids(), Random: func(n int) []byte { return make([]byte, n) }}
	facts["node4"] = goodFacts("node4")
	probes["node4"] = &NodeProbe{Node: "node4"}
	// An rbd instance: images carry no tags, the runtime file names them.
	facts["node3"].Running["ceph"] = hv.Running{Name: "ceph", Hypervisor: "kvm"}
	facts["node3"].Volumes.RBD = []string{"r-1.rbd.disk0", "stray.rbd.disk0"}
	probes["node3"].Runtime["ceph"] = &KVMRuntime{Disks: []RuntimeDisk{{UUID: "r-1", DevType: "rbd", Size: 100, Mode: "rw", IVName: "disk/0"}}}
	r, err := Recover(in)
	if err != nil {
		t.Fatal(err)
	}
	got := r.State
	if r.Source != "nodes" || got.Lineage != "new-lineage" {
		t.Fatalf("source %s lineage %s", r.Source, got.Lineage)
	}
	if js(got.NodeNames()) != js(orig.NodeNames()) || !got.Nodes["node3"].MasterCandidate {
		t.Errorf("nodes: %s", js(got.Nodes))
	}
	for _, name := range []string{"web", "db"} {
		w, g := orig.Instances[name], got.Instances[name]
		if g == nil {
			t.Fatalf("%s not rebuilt:\n%s", name, notesText(r.Notes))
		}
		for what, pair := range map[string][2]any{
			"primary": {w.PrimaryNode, g.PrimaryNode}, "template": {w.DiskTemplate, g.DiskTemplate}, "admin": {w.AdminState, g.AdminState},
			"os": {w.OS, g.OS}, "nics": {w.NICs, g.NICs}, "disk logical id": {w.Disks[0].LogicalID, g.Disks[0].LogicalID},
			"disk uuid": {w.Disks[0].UUID, g.Disks[0].UUID}, "size": {w.Disks[0].Size, g.Disks[0].Size}, "nodes": {w.Disks[0].Nodes, g.Disks[0].Nodes},
		} {
			if js(pair[0]) != js(pair[1]) {
				t.Errorf("%s %s: got %s, want %s", name, what, js(pair[1]), js(pair[0]))
			}
		}
	}
	if c := got.Instances["ceph"]; c == nil || js(c.Disks[0].LogicalID) != `["rbd","r-1.rbd.disk0"]` || c.Disks[0].Size != 100 || c.PrimaryNode != "node3" {
		t.Errorf("rbd instance: %s", js(c))
	}
	if got.Cluster.HighestUsedPort != 11001 {
		t.Errorf("highest used port %d", got.Cluster.HighestUsedPort)
	}
	for _, want := range []string{"rebuilt from the nodes", "OS testos: the only OS", "holds nothing of the cluster", "instance UUID and tags are new"} {
		if !strings.Contains(notesText(r.Notes), want) {
			t.Errorf("notes lack %q:\n%s", want, notesText(r.Notes))
		}
	}
	// Verify finds nothing wrong with the rebuilt state on these nodes.
	rep := Verify(VerifyInput{State: got, Facts: facts})
	for _, s := range rep.Sections {
		for _, f := range s.Findings {
			if f.Severity == SevError && (strings.Contains(f.Code, "ORPHAN") || strings.Contains(f.Code, "MISSING")) {
				t.Errorf("verify: %s %s %s", f.Code, f.Object, f.Message)
			}
		}
	}
}

func TestParseXenConfig(t *testing.T) {
	cfg := `# this is autogenerated by Ganeti, please do not edit
#
kernel = '/boot/vmlinuz-3-xenU'
memory = 128
maxmem = 256
vcpus = 2
name = 'xen1'
vif = ['mac=aa:00:00:00:00:02, ip=198.18.10.5, bridge=br0', 'mac=aa:00:00:00:00:03, bridge=br1']
disk = ['phy:/run/ganeti/instance-disks/xen1:0,sda,w']
`
	rt := ParseXenConfig([]byte(cfg))
	if rt == nil || rt.Hypervisor != hv.XenPVM || rt.MaxMem != 256 || rt.VCPUs != 2 || len(rt.NICs) != 2 {
		t.Fatalf("parsed %s", js(rt))
	}
	if n := rt.NICs[0]; n.MAC != "aa:00:00:00:00:02" || n.IP == nil || *n.IP != "198.18.10.5" || n.NICParams["link"] != "br0" {
		t.Errorf("nic 0: %s", js(n))
	}
	if rt := ParseXenConfig([]byte("builder = 'hvm'\nname = 'h'\n")); rt == nil || rt.Hypervisor != hv.XenHVM {
		t.Errorf("hvm: %s", js(rt))
	}
	if ParseXenConfig([]byte("# xl.conf\nautoballoon=0\n")) != nil {
		t.Error("xl.conf taken for a domain config")
	}
}
