package playbooks_test

// Golden plans: every planner with its main variants. A case builds a world
// (a state made by the planners themselves, and the facts its nodes report,
// set explicitly in the case), calls one planner and compares the plan, as
// text (view.RenderPlan) and as JSON (view.PlanJSON, secrets masked), with
// testdata/plans/<case>.txt and testdata/plans/<case>.json. After a
// planner change, rewrite them and read the diff:
//
//	go test ./playbooks -run Golden -update

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

const goldenDir = "testdata/plans"

// goldenCase is one planner call.
type goldenCase struct {
	name string
	// nodes is the cluster size: node1 (the master) to nodeN; 0 means 3.
	nodes int
	// setup makes the state through planners (w.add, w.apply) and sets
	// the facts the nodes report (w.runs, w.drbd, w.down, ...).
	setup func(w *world)
	// plan calls the planner under test.
	plan func(w *world) (*plan.Plan, error)
}

// timestamp is the time planners take as an argument (they have no
// clock): replaced LVs' names, export configs. 2025-11-25 07:00 UTC.
const timestamp = 1764054000

// applyTime is when the worlds' changes are committed (objects' mtime).
var applyTime = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)

func TestGoldenPlans(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range append(goldenCases(), moreGoldenCases...) {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			text, js := c.render(t)
			// Planners are pure: a second world built the same way gives
			// the same plan (map order must not leak into it).
			if text2, js2 := c.render(t); text2 != text || js2 != js {
				t.Fatalf("the plan differs between two identical runs:\n%s\n---\n%s", text, text2)
			}
			compareGolden(t, c.name+".txt", text)
			compareGolden(t, c.name+".json", js)
		})
	}
	// Every golden file belongs to a case; -update removes the others.
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		name := strings.TrimSuffix(strings.TrimSuffix(base, ".txt"), ".json")
		if seen[name] {
			continue
		}
		if *pb.UpdateFlag {
			if err := os.Remove(f); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("%s belongs to no case (run with -update to remove it)", f)
	}
}

// render builds the case's world, plans, and renders the plan.
func (c goldenCase) render(t *testing.T) (text, js string) {
	t.Helper()
	n := c.nodes
	if n == 0 {
		n = 3
	}
	w := newWorld(t, n)
	if c.setup != nil {
		c.setup(w)
	}
	p, err := c.plan(w)
	if err != nil {
		t.Fatalf("planner: %v", err)
	}
	var tb, jb bytes.Buffer
	if err := view.RenderPlan(&tb, p); err != nil {
		t.Fatal(err)
	}
	if err := view.PlanJSON(&jb, p); err != nil {
		t.Fatal(err)
	}
	// The plan was made from the world's state, and its changes apply to it.
	if err := p.CheckFresh(w.st.Lineage, w.st.Serial); err != nil {
		t.Errorf("the plan is not made from the world's state: %v", err)
	} else if err := p.ApplyChanges(w.st.Clone(), applyTime); err != nil {
		t.Errorf("the plan's changes do not apply: %v", err)
	}
	return tb.String(), jb.String()
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *pb.UpdateFlag {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./playbooks -run Golden -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test ./playbooks -run Golden -update if intended):\n%s", path, firstDiff(string(want), got))
	}
}

// firstDiff shows the first differing line and its neighbours.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		if i < len(w) && i < len(g) && w[i] == g[i] {
			continue
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(end of file)"
		}
		return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, line(w), line(g))
	}
	return "(equal?)"
}

// world is a cluster's state and what its nodes report.
type world struct {
	t     *testing.T
	st    *statefile.State
	facts map[string]*pb.NodeFacts
	// One UUID source and one random source for the whole case, so that
	// every object gets its own UUID, as on a real cluster. UUIDs differ
	// in their first group too: tap names and KVM device ids come from it.
	newID  func() string
	random func(n int) []byte
	drbdOn map[string]map[int]string // node -> minor -> its /proc/drbd line
	probes map[string]*pb.NodeProbe  // recovery's probes of the nodes
	idents int                       // TLS identities made
}

// newWorld is a committed cluster of node1 (the master) to node<n>, made
// by ClusterInit and NodeAdd, with the plain, drbd, file, sharedfile and
// diskless templates and instance memory 128..256 MiB. Every node answers
// (goodFacts) with two OS definitions and nothing running.
func newWorld(t *testing.T, n int) *world {
	t.Helper()
	id := 0
	seq := 0
	w := &world{t: t, st: statefile.New("lineage-1"), facts: map[string]*pb.NodeFacts{}, drbdOn: map[string]map[int]string{},
		newID: func() string { id++; return fmt.Sprintf("%08d-0000-0000-0000-%012d", id, id) },
		// The n-th call's bytes are all n: MACs aa:00:00:01:01:01, ...
		random: func(n int) []byte {
			seq++
			return bytes.Repeat([]byte{byte(seq)}, n)
		}}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("node%d", i)
		f := pb.GoodFactsFor(name)
		f.OS = map[string]*pb.OSDef{
			"testos":  {Name: "testos", Path: "/srv/ganeti/os/testos", APIs: []int{20}, Variants: []string{"default", "fail"}},
			"otheros": {Name: "otheros", Path: "/srv/ganeti/os/otheros", APIs: []int{20}},
		}
		f.Running = map[string]hv.Running{}
		w.facts[name] = f
	}
	a := pb.DefaultInitArgs()
	a.MasterSecondaryIP = "198.19.0.1"
	a.EnabledDiskTemplates = []string{"plain", "drbd", "file", "sharedfile", "diskless"}
	a.SharedFileStorageDir = "/srv/ganeti/shared-file-storage"
	a.BEParams = statefile.Params{"maxmem": int64(256), "minmem": int64(128)}
	w.apply(pb.ClusterInit(w.env(), a))
	for i := 2; i <= n; i++ {
		w.apply(pb.NodeAdd(w.env(), pb.NodeAddArgs{Name: fmt.Sprintf("node%d", i),
			PrimaryIP: fmt.Sprintf("198.18.0.%d", i), SecondaryIP: fmt.Sprintf("198.19.0.%d", i)}))
	}
	return w
}

// env is what the planners get: the state, the facts, and the sources of
// the CLI made deterministic. The copy helper is this ganetictl's, which
// the nodes' facts do not show: copies upload it first.
func (w *world) env() pb.Env {
	return pb.Env{State: w.st, Facts: w.facts, NewID: w.newID, Random: w.random,
		Helper: func(string) (pb.Helper, error) {
			return pb.Helper{Path: pb.HelperDir + "/helper-0123456789abcdef", SHA256: strings.Repeat("5a", 32)}, nil
		},
		NewIdentity: func() (*transfer.Identity, error) {
			w.idents++
			n := w.idents
			return &transfer.Identity{CertPEM: []byte(fmt.Sprintf("cert %d\n", n)), KeyPEM: []byte(fmt.Sprintf("key %d\n", n)),
				Fingerprint: fmt.Sprintf("%064x", n)}, nil
		}}
}

// apply commits a plan's changes, as a successful run does.
func (w *world) apply(p *plan.Plan, err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := p.ApplyChanges(w.st, applyTime); err != nil {
		w.t.Fatal(err)
	}
	w.st.Serial++
}

// add creates an instance through InstanceAdd. It sets no facts: a started
// instance runs only once the case says so (w.runs).
func (w *world) add(a pb.InstanceAddArgs) {
	w.t.Helper()
	w.apply(pb.InstanceAdd(w.env(), a))
}

func (w *world) inst(name string) *statefile.Instance {
	w.t.Helper()
	i, ok := w.st.Instances[name]
	if !ok {
		w.t.Fatalf("no instance %s", name)
	}
	return i
}

// Facts.

// runs says the instance runs on its primary, at its maximum memory.
func (w *world) runs(name string) { w.runsOn(w.inst(name).PrimaryNode, name) }

// runsOn says the instance runs on node.
func (w *world) runsOn(node, name string) {
	w.facts[node].Running[name] = hv.Running{Name: name, Hypervisor: "kvm", ID: 4000 + len(w.facts[node].Running), MemMiB: 256, VCPUs: 1, State: "running"}
}

// down says the node did not answer.
func (w *world) down(node, why string) {
	w.facts[node] = &pb.NodeFacts{Name: node, Err: why}
}

// /proc/drbd states of a minor, as the primary and the secondary show them.
const (
	drbdPrimary   = "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"
	drbdSecondary = "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----"
)

// drbd says every minor of the instance's disks on node is in the given
// /proc/drbd state.
func (w *world) drbd(name, node, state string) {
	w.t.Helper()
	for i, d := range w.inst(name).Disks {
		m, err := storage.MinorOn(d, node)
		if err != nil {
			w.t.Fatalf("disk %d: %v", i, err)
		}
		if w.drbdOn[node] == nil {
			w.drbdOn[node] = map[int]string{}
		}
		w.drbdOn[node][m] = fmt.Sprintf("%2d: %s", m, state)
	}
	var b strings.Builder
	b.WriteString(w.facts[node].DRBD + "\n")
	minors := make([]int, 0, len(w.drbdOn[node]))
	for m := range w.drbdOn[node] {
		minors = append(minors, m)
	}
	sort.Ints(minors)
	for _, m := range minors {
		b.WriteString(w.drbdOn[node][m] + "\n")
	}
	w.facts[node].DRBDStatus = []byte(b.String())
}

// drbdSynced says the instance's mirror is connected and in sync.
func (w *world) drbdSynced(name string) {
	i := w.inst(name)
	w.drbd(name, i.PrimaryNode, drbdPrimary)
	w.drbd(name, i.SecondaryNodes()[0], drbdSecondary)
}

// Instances, as `instance add` makes them: one NIC, OS testos+default,
// started unless stopped() says otherwise.

func newInstance(name, template, primary, secondary string, sizes ...int64) pb.InstanceAddArgs {
	a := pb.InstanceAddArgs{Name: name, Template: template, Primary: primary, Secondary: secondary, OS: "testos+default", NICs: []pb.NICSpec{{}}}
	for _, s := range sizes {
		a.Disks = append(a.Disks, storage.Spec{Size: s, Mode: "rw"})
	}
	return a
}

func plainInst(name, primary string, sizes ...int64) pb.InstanceAddArgs {
	return newInstance(name, "plain", primary, "", sizes...)
}

func drbdInst(name, primary, secondary string, sizes ...int64) pb.InstanceAddArgs {
	return newInstance(name, "drbd", primary, secondary, sizes...)
}

func fileInst(name, primary string, sizes ...int64) pb.InstanceAddArgs {
	return newInstance(name, "file", primary, "", sizes...)
}

func sharedInst(name, primary string, sizes ...int64) pb.InstanceAddArgs {
	return newInstance(name, "sharedfile", primary, "", sizes...)
}

// stopped is `instance add --no-start`.
func stopped(a pb.InstanceAddArgs) pb.InstanceAddArgs { a.NoStart = true; return a }

// copyOpts are the copy settings of moves, exports and imports.
func copyOpts() pb.CopyOptions { return pb.CopyOptions{Compress: "zstd"} }

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// copies are the master candidates' state copies, all current.
func (w *world) copies(nodes ...string) []pb.StateCopy {
	var out []pb.StateCopy
	for _, n := range nodes {
		out = append(out, pb.StateCopy{Node: n, State: w.st.Clone(), Sum: "sum-" + n})
	}
	return out
}

func goldenCases() []goldenCase {
	var cases []goldenCase
	for _, group := range [][]goldenCase{clusterCases(), nodeCases(), instanceCases(), instanceOpCases(),
		modifyCases(), haCases(), replaceCases(), copyCases(), networkCases()} {
		cases = append(cases, group...)
	}
	return cases
}

func clusterCases() []goldenCase {
	return []goldenCase{
		{name: "cluster_init", nodes: 1,
			setup: func(w *world) { w.st = statefile.New("lineage-2") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.ClusterInit(w.env(), pb.DefaultInitArgs())
			}},
		{name: "cluster_modify",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.ClusterModify(w.env(), pb.ModifyArgs{BEParams: statefile.Params{"vcpus": int64(2), "minmem": "default"},
					HVParams: map[string]statefile.Params{"kvm": {"migration_bandwidth": int64(64)}}, CandidatePoolSize: 3,
					EnabledDiskTemplates: []string{"plain", "drbd"}, MACPrefix: "aa:00:01"})
			}},
		{name: "cluster_rename",
			plan: func(w *world) (*plan.Plan, error) { return pb.ClusterRename(w.env(), "cluster2.test") }},
		{name: "cluster_copyfile",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Copyfile(w.env(), pb.CopyfileArgs{Path: "/etc/motd", Mode: 0o644, Content: []byte("welcome\n"), Nodes: []string{"node1", "node3"}})
			}},
		{name: "cluster_redist_conf",
			plan: func(w *world) (*plan.Plan, error) { return pb.RedistConf(w.env(), struct{}{}) }},
		{name: "cluster_destroy", nodes: 1,
			plan: func(w *world) (*plan.Plan, error) { return pb.ClusterDestroy(w.env()) }},
		{name: "group_add",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.GroupAdd(w.env(), pb.GroupArgs{Name: "rack2", AllocPolicy: statefile.AllocLastResort,
					NDParams: statefile.Params{"spindle_count": int64(2)}, DiskParams: map[string]statefile.Params{"plain": {"stripes": int64(2)}},
					IPolicy: &statefile.IPolicy{VCPURatio: 2, DiskTemplates: []string{"plain", "drbd"}}})
			}},
		{name: "group_modify",
			setup: func(w *world) { w.apply(pb.GroupAdd(w.env(), pb.GroupArgs{Name: "rack2"})) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.GroupModify(w.env(), pb.GroupArgs{Name: "rack2", AllocPolicy: statefile.AllocUnallocable,
					IPolicy: &statefile.IPolicy{MinMax: []statefile.MinMax{{
						Min: statefile.ISpec{"cpu-count": 1, "disk-count": 1, "disk-size": 512, "memory-size": 128, "nic-count": 1, "spindle-use": 1},
						Max: statefile.ISpec{"cpu-count": 4, "disk-count": 4, "disk-size": 65536, "memory-size": 4096, "nic-count": 2, "spindle-use": 4}}}}})
			}},
		{name: "group_remove",
			setup: func(w *world) { w.apply(pb.GroupAdd(w.env(), pb.GroupArgs{Name: "rack2"})) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.GroupRemove(w.env(), "rack2") }},
		{name: "group_rename",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.GroupRename(w.env(), pb.RenameArgs{Name: "default", NewName: "site-a"})
			}},
		{name: "group_assign_nodes_split_forced",
			setup: func(w *world) {
				w.apply(pb.GroupAdd(w.env(), pb.GroupArgs{Name: "rack2"}))
				w.add(drbdInst("db1", "node2", "node3", 512))
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.GroupAssignNodes(w.env(), pb.AssignArgs{Group: "rack2", Nodes: []string{"node3"}, Force: true})
			}},
		{name: "tags_cluster_add",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Tags(w.env(), plan.KindCluster, "", []string{"prod", "dc1"}, nil)
			}},
		{name: "tags_node_remove",
			setup: func(w *world) { w.apply(pb.Tags(w.env(), plan.KindNode, "node3", []string{"rack1", "ssd"}, nil)) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Tags(w.env(), plan.KindNode, "node3", nil, []string{"ssd"})
			}},
		{name: "tags_instance_add",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Tags(w.env(), plan.KindInstance, "web1", []string{"owner:web"}, nil)
			}},
		{name: "cluster_master_failover",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.MasterFailover(w.env(), pb.MasterFailoverArgs{Target: "node2", Copies: w.copies("node1", "node2")})
			}},
		{name: "os_modify",
			plan: func(w *world) (*plan.Plan, error) {
				hidden := true
				return pb.OSModify(w.env(), pb.OSModifyArgs{OS: "testos", Hidden: &hidden, OSParams: statefile.Params{"dhcp": "no"},
					HVParams: map[string]statefile.Params{"kvm": {"kernel_path": "/boot/vmlinuz"}}})
			}},
		{name: "cluster_master_failover_newest_candidate",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.MasterFailover(w.env(), pb.MasterFailoverArgs{Copies: w.copies("node1", "node2")})
			}},
		{name: "cluster_master_failover_no_voting",
			setup: func(w *world) { w.down("node1", "connection timed out") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.MasterFailover(w.env(), pb.MasterFailoverArgs{Target: "node2", NoVoting: true, Copies: w.copies("node2"),
					Unreachable: map[string]string{"node1": "connection timed out"}})
			}},
		{name: "cluster_verify_fix",
			setup: func(w *world) {
				w.facts["node1"].Leftovers = []pb.Leftover{
					{Kind: "helper", Path: pb.HelperDir + "/helper-0123456789abcdef"}, // this ganetictl's
					{Kind: "helper", Path: pb.HelperDir + "/helper-1111111111111111"},
					{Kind: "helper-busy", Path: pb.HelperDir + "/helper-2222222222222222"},
					{Kind: "partial", Path: "/srv/ganeti/file-storage/web1/disk0.ganetictl-partial"},
				}
				w.facts["node2"].Leftovers = []pb.Leftover{{Kind: "export-new", Path: "/srv/ganeti/export/web1.new"}}
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.RemoveLeftovers(w.st, pb.Stale(w.facts, []string{pb.HelperDir + "/helper-0123456789abcdef"}))
			}},
		{name: "cluster_repair_disk_sizes",
			setup: func(w *world) {
				w.add(plainInst("web1", "node1", 1024, 512))
				w.add(plainInst("web2", "node2", 256))
				lv := func(d *statefile.Disk, size float64) storage.LV {
					return storage.LV{VG: "xenvg", Name: lvName(d), SizeMiB: size, Attr: "-wi-ao----", Active: true, Open: true}
				}
				web1, web2 := w.inst("web1"), w.inst("web2")
				// web1's first disk was grown by hand; web2 is as recorded.
				w.facts["node1"].Volumes = &storage.Volumes{LVs: []storage.LV{lv(web1.Disks[0], 2048), lv(web1.Disks[1], 512)}}
				w.facts["node2"].Volumes = &storage.Volumes{LVs: []storage.LV{lv(web2.Disks[0], 256)}}
			},
			plan: func(w *world) (*plan.Plan, error) {
				p, _, err := pb.RepairDiskSizes(w.env(), nil)
				return p, err
			}},
		{name: "cluster_recover_from_copy",
			setup: func(w *world) {
				// The recovery tests' cluster (node1..node3, plain web on
				// node1, drbd db on node2:node3) and its probes; db was
				// migrated to node3 after node2's copy was written.
				w.st, w.facts, w.probes = pb.RecoverFixtureFor(w.t)
				delete(w.facts["node2"].Running, "db")
				w.facts["node3"].Running["db"] = hv.Running{Name: "db", Hypervisor: "kvm"}
			},
			plan: func(w *world) (*plan.Plan, error) {
				r, err := pb.Recover(pb.RecoverInput{Copies: []pb.StateCopy{{Node: "node2", State: w.st.Clone(), Sum: "x"}},
					Inventory: pb.RecoverInventory(), Facts: w.facts, Probes: w.probes, NewID: w.newID, Random: w.random})
				if err != nil {
					return nil, err
				}
				return r.Plan, nil
			}},
	}
}

func nodeCases() []goldenCase {
	return []goldenCase{
		{name: "node_add_candidate", nodes: 1,
			setup: func(w *world) { w.facts["node2"] = pb.GoodFactsFor("node2") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NodeAdd(w.env(), pb.NodeAddArgs{Name: "node2", PrimaryIP: "198.18.0.2", SecondaryIP: "198.19.0.2"})
			}},
		{name: "node_add_pool_full", // candidate_pool_size 2: node1 and node2 are the candidates
			setup: func(w *world) { w.facts["node4"] = pb.GoodFactsFor("node4") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NodeAdd(w.env(), pb.NodeAddArgs{Name: "node4", PrimaryIP: "198.18.0.4", SecondaryIP: "198.19.0.4"})
			}},
		{name: "node_readd",
			setup: func(w *world) {
				w.apply(nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", Offline: yes()}))
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NodeAdd(w.env(), pb.NodeAddArgs{Name: "node3", PrimaryIP: "198.18.0.3", SecondaryIP: "198.19.0.3", Readd: true})
			}},
		{name: "node_remove_candidate", // node3 is promoted in node2's place
			plan: func(w *world) (*plan.Plan, error) { return pb.NodeRemove(w.env(), "node2") }},
		{name: "node_remove_offline",
			setup: func(w *world) {
				w.apply(nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", Offline: yes()}))
				w.down("node3", "no route to host")
			},
			plan: func(w *world) (*plan.Plan, error) { return pb.NodeRemove(w.env(), "node3") }},
		{name: "node_modify_offline_auto_promote",
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node2", Offline: yes(), AutoPromote: true})
			}},
		{name: "node_modify_offline_with_instances",
			setup: func(w *world) { w.add(plainInst("web1", "node3", 1024)) },
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", Offline: yes()})
			}},
		{name: "node_modify_online",
			setup: func(w *world) {
				w.apply(nodeModify(w.env(), pb.NodeModifyArgs{Name: "node2", Offline: yes(), AutoPromote: true}))
				w.apply(nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", MasterCandidate: no(), AutoPromote: true, Force: true}))
			},
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node2", Offline: no()})
			}},
		{name: "node_modify_drain",
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", Drained: yes()})
			}},
		{name: "node_modify_promote",
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", MasterCandidate: yes()})
			}},
		{name: "node_modify_demote_force",
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node2", MasterCandidate: no(), Force: true})
			}},
		{name: "node_modify_secondary_ip",
			plan: func(w *world) (*plan.Plan, error) {
				return nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", SecondaryIP: "198.19.1.3"})
			}},
	}
}

func instanceCases() []goldenCase {
	return []goldenCase{
		{name: "instance_add_plain",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceAdd(w.env(), plainInst("web1", "node1", 1024, 512))
			}},
		{name: "instance_add_drbd",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceAdd(w.env(), drbdInst("db1", "node1", "node2", 1024))
			}},
		{name: "instance_add_drbd_no_wait_for_sync",
			plan: func(w *world) (*plan.Plan, error) {
				a := drbdInst("db1", "node1", "node2", 1024)
				a.NoWaitForSync = true
				return pb.InstanceAdd(w.env(), a)
			}},
		{name: "instance_add_file_no_start",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceAdd(w.env(), stopped(fileInst("files1", "node2", 512)))
			}},
		{name: "instance_add_sharedfile",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceAdd(w.env(), sharedInst("shared1", "node1", 512))
			}},
		{name: "instance_add_diskless",
			plan: func(w *world) (*plan.Plan, error) {
				a := newInstance("pxe1", "diskless", "node1", "")
				a.BEParams = statefile.Params{"maxmem": int64(512), "vcpus": int64(2)}
				a.NICs = []pb.NICSpec{{}, {MAC: "aa:00:00:12:34:56", IP: "198.18.10.5"}}
				return pb.InstanceAdd(w.env(), a)
			}},
		{name: "instance_add_adopt",
			setup: func(w *world) {
				w.facts["node1"].Volumes = &storage.Volumes{LVs: []storage.LV{{VG: "xenvg", Name: "legacy-root", SizeMiB: 4096, Attr: "-wi-a-----", Active: true}}}
			},
			plan: func(w *world) (*plan.Plan, error) {
				a := plainInst("legacy1", "node1")
				a.Disks = []storage.Spec{{Adopt: "legacy-root", Mode: "rw"}}
				a.NoInstall = true
				return pb.InstanceAdd(w.env(), a)
			}},
		{name: "instance_remove_plain",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024, 512)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceRemove(w.env(), "web1", pb.DefaultShutdownTimeout, false)
			}},
		{name: "instance_remove_drbd",
			setup: func(w *world) { w.add(drbdInst("db1", "node1", "node2", 1024)); w.runs("db1"); w.drbdSynced("db1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceRemove(w.env(), "db1", pb.DefaultShutdownTimeout, false)
			}},
		{name: "instance_remove_ignore_failures", // its primary is offline
			setup: func(w *world) {
				w.add(plainInst("web1", "node3", 1024))
				w.apply(nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", Offline: yes()}))
				w.down("node3", "no route to host")
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceRemove(w.env(), "web1", pb.DefaultShutdownTimeout, true)
			}},
		{name: "instance_rename_plain",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.Rename(w.env(), "web1", "www1") }},
		{name: "instance_rename_file",
			setup: func(w *world) { w.add(stopped(fileInst("files1", "node2", 512))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.Rename(w.env(), "files1", "files2") }},
		{name: "instance_reinstall",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.Reinstall(w.env(), "web1", "", nil) }},
		{name: "instance_reinstall_other_os",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Reinstall(w.env(), "db1", "otheros", statefile.Params{"dhcp": "no"})
			}},
		{name: "instance_recreate_disks_plain",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024, 512))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.RecreateDisks(w.env(), "web1", "") }},
		{name: "instance_recreate_disks_new_primary", // node3 died with web1's disks
			setup: func(w *world) {
				w.add(stopped(plainInst("web1", "node3", 1024)))
				w.apply(nodeModify(w.env(), pb.NodeModifyArgs{Name: "node3", Offline: yes()}))
				w.down("node3", "no route to host")
			},
			plan: func(w *world) (*plan.Plan, error) { return pb.RecreateDisks(w.env(), "web1", "node2") }},
		{name: "instance_recreate_disks_drbd",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.RecreateDisks(w.env(), "db1", "") }},
	}
}

func instanceOpCases() []goldenCase {
	return []goldenCase{
		{name: "instance_startup_plain",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.InstanceStartup(w.env(), "web1") }},
		{name: "instance_startup_drbd",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.InstanceStartup(w.env(), "db1") }},
		{name: "instance_startup_running", // nothing to do but remember it is up
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan:  func(w *world) (*plan.Plan, error) { return pb.InstanceStartup(w.env(), "web1") }},
		{name: "instance_shutdown_plain",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceShutdown(w.env(), "web1", pb.DefaultShutdownTimeout, false)
			}},
		{name: "instance_shutdown_drbd_no_remember",
			setup: func(w *world) { w.add(drbdInst("db1", "node1", "node2", 1024)); w.runs("db1"); w.drbdSynced("db1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceShutdown(w.env(), "db1", 30*time.Second, true)
			}},
		{name: "instance_reboot_soft",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceReboot(w.env(), "web1", "soft", pb.DefaultShutdownTimeout)
			}},
		{name: "instance_reboot_hard",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceReboot(w.env(), "web1", "hard", pb.DefaultShutdownTimeout)
			}},
		{name: "instance_reboot_full_drbd",
			setup: func(w *world) { w.add(drbdInst("db1", "node1", "node2", 1024)); w.runs("db1"); w.drbdSynced("db1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceReboot(w.env(), "db1", "full", pb.DefaultShutdownTimeout)
			}},
		{name: "instance_reboot_stopped", // a stopped instance is started
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceReboot(w.env(), "web1", "soft", pb.DefaultShutdownTimeout)
			}},
		{name: "instance_activate_disks_plain",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024, 512))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.ActivateDisks(w.env(), "web1") }},
		{name: "instance_activate_disks_drbd",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.ActivateDisks(w.env(), "db1") }},
		{name: "instance_deactivate_disks_plain",
			setup: func(w *world) {
				w.add(stopped(plainInst("web1", "node1", 1024)))
				w.apply(pb.ActivateDisks(w.env(), "web1"))
			},
			plan: func(w *world) (*plan.Plan, error) { return pb.DeactivateDisks(w.env(), "web1", false) }},
		{name: "instance_deactivate_disks_drbd_force", // it runs
			setup: func(w *world) { w.add(drbdInst("db1", "node1", "node2", 1024)); w.runs("db1"); w.drbdSynced("db1") },
			plan:  func(w *world) (*plan.Plan, error) { return pb.DeactivateDisks(w.env(), "db1", true) }},
		{name: "instance_grow_disk_plain",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024, 512)); w.runs("web1") },
			plan:  func(w *world) (*plan.Plan, error) { return pb.GrowDisk(w.env(), "web1", 1, 512, false, false) }},
		{name: "instance_grow_disk_drbd_absolute",
			setup: func(w *world) { w.add(drbdInst("db1", "node1", "node2", 1024)); w.runs("db1"); w.drbdSynced("db1") },
			plan:  func(w *world) (*plan.Plan, error) { return pb.GrowDisk(w.env(), "db1", 0, 2048, true, false) }},
		{name: "instance_grow_disk_file",
			setup: func(w *world) { w.add(stopped(fileInst("files1", "node2", 512))) },
			plan:  func(w *world) (*plan.Plan, error) { return pb.GrowDisk(w.env(), "files1", 0, 256, false, false) }},
	}
}

func modifyCases() []goldenCase {
	return []goldenCase{
		{name: "instance_modify_params",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1", BEParams: statefile.Params{"maxmem": int64(512), "vcpus": int64(2)},
					HVParams: statefile.Params{"kernel_path": "/boot/vmlinuz-guest"}})
			}},
		{name: "instance_modify_runtime_memory",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1", RuntimeMemory: 192})
			}},
		{name: "instance_modify_disk_add_running",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1",
					Disks: []pb.DiskMod{{Op: "add", Index: -1, Spec: storage.Spec{Size: 2048, Mode: "rw", Name: "data"}}}})
			}},
		{name: "instance_modify_disk_remove",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024, 512))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1", Disks: []pb.DiskMod{{Op: "remove", Index: -1}}})
			}},
		{name: "instance_modify_nic_add",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1",
					NICs: []pb.NICMod{{Op: "add", Index: -1, Spec: pb.NICSpec{IP: "198.18.10.7", Link: "br0", Name: "backend"}}}})
			}},
		{name: "instance_modify_nic_modify_remove",
			setup: func(w *world) {
				a := plainInst("web1", "node1", 1024)
				a.NICs = []pb.NICSpec{{}, {Name: "backend"}}
				w.add(stopped(a))
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1", NICs: []pb.NICMod{
					{Op: "modify", Index: 0, Spec: pb.NICSpec{IP: "198.18.10.8"}}, {Op: "remove", Index: 1}}})
			}},
		{name: "instance_modify_os_offline",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1", OSType: "testos+fail", Offline: yes()})
			}},
		{name: "instance_convert_plain_to_drbd",
			setup: func(w *world) { w.add(stopped(plainInst("web1", "node1", 1024, 512))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Convert(w.env(), pb.ConvertArgs{Name: "web1", Template: "drbd", Secondary: "node2"})
			}},
		{name: "instance_convert_drbd_to_plain",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Convert(w.env(), pb.ConvertArgs{Name: "db1", Template: "plain"})
			}},
	}
}

func haCases() []goldenCase {
	drbdRunning := func(w *world) { w.add(drbdInst("db1", "node1", "node2", 1024)); w.runs("db1"); w.drbdSynced("db1") }
	sharedRunning := func(w *world) { w.add(sharedInst("shared1", "node1", 512)); w.runs("shared1") }
	return []goldenCase{
		{name: "instance_failover_drbd",
			setup: drbdRunning,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Failover(w.env(), pb.FailoverArgs{Name: "db1", ShutdownTimeout: pb.DefaultShutdownTimeout})
			}},
		{name: "instance_failover_drbd_stopped",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Failover(w.env(), pb.FailoverArgs{Name: "db1", ShutdownTimeout: pb.DefaultShutdownTimeout})
			}},
		{name: "instance_failover_shared",
			setup: sharedRunning,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Failover(w.env(), pb.FailoverArgs{Name: "shared1", Target: "node3", ShutdownTimeout: pb.DefaultShutdownTimeout})
			}},
		{name: "instance_failover_ignore_consistency", // node1 died under db1
			setup: func(w *world) {
				drbdRunning(w)
				w.down("node1", "no route to host")
				w.drbd("db1", "node2", "cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----")
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Failover(w.env(), pb.FailoverArgs{Name: "db1", IgnoreConsistency: true, ShutdownTimeout: pb.DefaultShutdownTimeout})
			}},
		{name: "instance_migrate_live_drbd",
			setup: drbdRunning,
			plan:  func(w *world) (*plan.Plan, error) { return pb.Migrate(w.env(), pb.MigrateArgs{Name: "db1"}) }},
		{name: "instance_migrate_non_live_drbd",
			setup: drbdRunning,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Migrate(w.env(), pb.MigrateArgs{Name: "db1", NonLive: true})
			}},
		{name: "instance_migrate_shared",
			setup: sharedRunning,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Migrate(w.env(), pb.MigrateArgs{Name: "shared1", Target: "node2"})
			}},
		{name: "instance_migrate_balloon", // node2 has 200 MiB free: db1 shrinks from 256 MiB
			setup: func(w *world) { drbdRunning(w); w.facts["node2"].MemFree = 200 },
			plan:  func(w *world) (*plan.Plan, error) { return pb.Migrate(w.env(), pb.MigrateArgs{Name: "db1"}) }},
		{name: "instance_migrate_encrypted",
			setup: func(w *world) {
				a := drbdInst("db1", "node1", "node2", 1024)
				a.HVParams = statefile.Params{"migration_encrypt": true}
				w.add(a)
				w.runs("db1")
				w.drbdSynced("db1")
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Migrate(w.env(), pb.MigrateArgs{Name: "db1", Copy: copyOpts()})
			}},
		{name: "instance_migrate_cleanup_source_owns",
			setup: drbdRunning,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Migrate(w.env(), pb.MigrateArgs{Name: "db1", Cleanup: true, SourceStatus: "running", TargetStatus: "inmigrate"})
			}},
		{name: "instance_migrate_cleanup_target_owns",
			setup: func(w *world) { drbdRunning(w); delete(w.facts["node1"].Running, "db1"); w.runsOn("node2", "db1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Migrate(w.env(), pb.MigrateArgs{Name: "db1", Cleanup: true, SourceStatus: "postmigrate", TargetStatus: "running"})
			}},
		{name: "instance_migrate_cleanup_resume", // a non-live migration completed, never finalized
			setup: func(w *world) {
				sharedRunning(w)
				delete(w.facts["node1"].Running, "shared1")
				w.runsOn("node2", "shared1")
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Migrate(w.env(), pb.MigrateArgs{Name: "shared1", Target: "node2", Cleanup: true, SourceStatus: "postmigrate", TargetStatus: "paused"})
			}},
	}
}

func replaceCases() []goldenCase {
	drbdRunning := func(w *world) {
		w.add(drbdInst("db1", "node1", "node2", 1024, 512))
		w.runs("db1")
		w.drbdSynced("db1")
	}
	replace := func(mode, node string, disks ...int) func(w *world) (*plan.Plan, error) {
		return func(w *world) (*plan.Plan, error) {
			return pb.ReplaceDisks(w.env(), pb.ReplaceDisksArgs{Name: "db1", Mode: mode, NewNode: node, Disks: disks, Timestamp: timestamp})
		}
	}
	return []goldenCase{
		{name: "instance_replace_disks_primary", setup: drbdRunning, plan: replace("primary", "")},
		{name: "instance_replace_disks_secondary_one_disk", setup: drbdRunning, plan: replace("secondary", "", 1)},
		{name: "instance_replace_disks_new_secondary", setup: drbdRunning, plan: replace("new", "node3")},
		{name: "instance_replace_disks_new_secondary_early_release", setup: drbdRunning,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.ReplaceDisks(w.env(), pb.ReplaceDisksArgs{Name: "db1", Mode: "new", NewNode: "node3", Timestamp: timestamp, EarlyRelease: true})
			}},
		{name: "instance_replace_disks_new_secondary_old_down",
			setup: func(w *world) {
				drbdRunning(w)
				w.down("node2", "no route to host")
				w.drbd("db1", "node1", "cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----")
			},
			plan: replace("new", "node3")},
		{name: "instance_replace_disks_auto", // the secondary lost its disks
			setup: func(w *world) {
				drbdRunning(w)
				w.drbd("db1", "node1", "cs:Connected ro:Primary/Secondary ds:UpToDate/Diskless C r-----")
				w.drbd("db1", "node2", "cs:Connected ro:Secondary/Primary ds:Diskless/UpToDate C r-----")
			},
			plan: replace("auto", "")},
		{name: "instance_replace_disks_auto_nothing", setup: drbdRunning, plan: replace("auto", "")},
	}
}

func copyCases() []goldenCase {
	return []goldenCase{
		{name: "instance_move_plain_running",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024, 512)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Move(w.env(), pb.MoveArgs{Name: "web1", Target: "node3", ShutdownTimeout: pb.DefaultShutdownTimeout, Copy: copyOpts()})
			}},
		{name: "instance_move_file_stopped",
			setup: func(w *world) { w.add(stopped(fileInst("files1", "node2", 512))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Move(w.env(), pb.MoveArgs{Name: "files1", Target: "node1", Copy: copyOpts()})
			}},
		{name: "backup_export_plain_running",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024, 512)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Export(w.env(), pb.ExportArgs{Name: "web1", Target: "node3", ShutdownTimeout: pb.DefaultShutdownTimeout,
					Timestamp: timestamp, Copy: copyOpts()})
			}},
		{name: "backup_export_drbd_stopped",
			setup: func(w *world) { w.add(stopped(drbdInst("db1", "node1", "node2", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Export(w.env(), pb.ExportArgs{Name: "db1", Target: "node3", Timestamp: timestamp, Copy: copyOpts()})
			}},
		{name: "backup_export_remove_instance",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Export(w.env(), pb.ExportArgs{Name: "web1", Target: "node2", RemoveInstance: true, ShutdownTimeout: pb.DefaultShutdownTimeout,
					Timestamp: timestamp, Copy: copyOpts()})
			}},
		{name: "backup_import_plain", // web1's export on node2 becomes web2 on node3
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024, 512)) },
			plan: func(w *world) (*plan.Plan, error) {
				exp, err := pb.ParseExportConfig(pb.ExportConfig(w.st, w.inst("web1"), timestamp))
				if err != nil {
					return nil, err
				}
				add := plainInst("web2", "node3", exp.Disks[0].Size, exp.Disks[1].Size)
				return pb.Import(w.env(), pb.ImportArgs{Add: add, SrcNode: "node2", SrcDir: pb.ExportDir + "/web1", Export: exp, Copy: copyOpts()})
			}},
		{name: "backup_import_drbd",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)) },
			plan: func(w *world) (*plan.Plan, error) {
				exp, err := pb.ParseExportConfig(pb.ExportConfig(w.st, w.inst("web1"), timestamp))
				if err != nil {
					return nil, err
				}
				add := drbdInst("db2", "node2", "node3", exp.Disks[0].Size)
				return pb.Import(w.env(), pb.ImportArgs{Add: add, SrcNode: "node1", SrcDir: pb.ExportDir + "/web1", Export: exp, Copy: copyOpts()})
			}},
	}
}

// moreGoldenCases are the cases of golden_<topic>_test.go files (their
// init functions append to it), so that topics keep their cases apart.
var moreGoldenCases []goldenCase

// inspectCalls marks the pb.X functions src calls.
func inspectCalls(src *ast.File, called map[string]bool) {
	ast.Inspect(src, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if s, ok := c.Fun.(*ast.SelectorExpr); ok {
				if x, ok := s.X.(*ast.Ident); ok && x.Name == "pb" {
					called[s.Sel.Name] = true
				}
			}
		}
		return true
	})
}

// nodeModify is NodeModify without its warnings (the plan holds them).
func nodeModify(env pb.Env, a pb.NodeModifyArgs) (*plan.Plan, error) {
	p, _, err := pb.NodeModify(env, a)
	return p, err
}

// TestGoldenCoverage: every exported planner (a function returning a
// *plan.Plan, and Recover, whose result holds one) is called by some case.
func TestGoldenCoverage(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"Recover": true}
	for _, f := range pkgs["playbooks"].Files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil {
				continue
			}
			for _, r := range fn.Type.Results.List {
				if s, ok := r.Type.(*ast.StarExpr); ok && types.ExprString(s.X) == "plan.Plan" {
					want[fn.Name.Name] = true
				}
			}
		}
	}
	called := map[string]bool{}
	files, _ := filepath.Glob("golden_*_test.go")
	for _, name := range append([]string{"golden_test.go"}, files...) {
		src, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		inspectCalls(src, called)
	}
	var missing []string
	for name := range want {
		if !called[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("planners without a golden case: %s", strings.Join(missing, ", "))
	}
	if len(want) < 30 {
		t.Errorf("found only %d planners: %v", len(want), want)
	}
}

// lvName is the LV of a plain disk.
func lvName(d *statefile.Disk) string {
	_, lv, _ := d.PlainLV()
	return lv
}

// withNetwork adds network "test" (198.18.10.0/24, gateway .1, MAC prefix
// aa:00:10) connected to the default group on br100.
func withNetwork(w *world) {
	w.apply(pb.NetworkAdd(w.env(), pb.NetworkAddArgs{Name: "test", Network: "198.18.10.0/24", Gateway: "198.18.10.1", MACPrefix: "aa:00:10"}))
	w.apply(pb.NetworkConnect(w.env(), pb.NetworkConnectArgs{Network: "test", Mode: "bridged", Link: "br100"}))
}

// poolNIC is a NIC taking an address from network test's pool.
func poolNIC(a pb.InstanceAddArgs) pb.InstanceAddArgs {
	a.NICs = []pb.NICSpec{{IP: pb.IPPool, Network: "test"}}
	return a
}

func networkCases() []goldenCase {
	return []goldenCase{
		{name: "network_add",
			plan: func(w *world) (*plan.Plan, error) {
				// The nodes are in 198.18.0.0/24: node2's and node3's
				// addresses are reserved, as Ganeti does.
				return pb.NetworkAdd(w.env(), pb.NetworkAddArgs{Name: "test", Network: "198.18.0.0/24", Gateway: "198.18.0.254",
					Network6: "2001:db8:10::/64", Gateway6: "fe80::1", MACPrefix: "AA:00:10", Reserved: []string{"198.18.0.100"}, Tags: []string{"dns"}})
			}},
		{name: "network_add_ipv6_only",
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NetworkAdd(w.env(), pb.NetworkAddArgs{Name: "v6", Network6: "2001:db8:20::/64", Gateway6: "2001:db8:20::1"})
			}},
		{name: "network_modify",
			setup: withNetwork,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NetworkModify(w.env(), pb.NetworkModifyArgs{Name: "test", AddReserved: []string{"198.18.10.5", "198.18.10.6"},
					RemoveReserved: []string{"198.18.10.1"}, MACPrefix: "none", Network6: "2001:db8:10::/64"})
			}},
		{name: "network_modify_gateway",
			setup: withNetwork,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NetworkModify(w.env(), pb.NetworkModifyArgs{Name: "test", Gateway: "198.18.10.254"})
			}},
		{name: "network_remove",
			setup: func(w *world) {
				w.apply(pb.NetworkAdd(w.env(), pb.NetworkAddArgs{Name: "test", Network: "198.18.10.0/24"}))
			},
			plan: func(w *world) (*plan.Plan, error) { return pb.NetworkRemove(w.env(), "test") }},
		{name: "network_rename",
			setup: func(w *world) { withNetwork(w); w.add(poolNIC(plainInst("web1", "node1", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NetworkRename(w.env(), pb.RenameArgs{Name: "test", NewName: "public"})
			}},
		{name: "network_connect",
			setup: func(w *world) {
				w.apply(pb.GroupAdd(w.env(), pb.GroupArgs{Name: "rack2"}))
				w.apply(pb.NetworkAdd(w.env(), pb.NetworkAddArgs{Name: "test", Network: "198.18.10.0/24", Gateway: "198.18.10.1"}))
			},
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NetworkConnect(w.env(), pb.NetworkConnectArgs{Network: "test", Groups: []string{"default", "rack2"},
					Mode: "bridged", Link: "br100", VLAN: "100"})
			}},
		{name: "network_disconnect",
			setup: withNetwork,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.NetworkDisconnect(w.env(), pb.NetworkDisconnectArgs{Network: "test"})
			}},
		{name: "tags_network_add",
			setup: withNetwork,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.Tags(w.env(), plan.KindNetwork, "test", []string{"dns", "private-filtered"}, nil)
			}},
		{name: "instance_add_ip_pool",
			setup: withNetwork,
			plan: func(w *world) (*plan.Plan, error) {
				a := poolNIC(plainInst("web1", "node1", 1024))
				a.NICs = append(a.NICs, pb.NICSpec{Network: "test", IP: "198.18.10.50"})
				return pb.InstanceAdd(w.env(), a)
			}},
		{name: "instance_modify_nic_network_move",
			setup: func(w *world) {
				withNetwork(w)
				w.apply(pb.NetworkAdd(w.env(), pb.NetworkAddArgs{Name: "test1", Network: "198.18.11.0/24"}))
				w.apply(pb.NetworkConnect(w.env(), pb.NetworkConnectArgs{Network: "test1", Link: "br101"}))
				w.add(poolNIC(stopped(plainInst("web1", "node1", 1024))))
			},
			plan: func(w *world) (*plan.Plan, error) {
				// The guide: move the last NIC to network test1, without an address.
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1",
					NICs: []pb.NICMod{{Op: "modify", Index: -1, Spec: pb.NICSpec{IP: "none", Network: "test1"}}}})
			}},
		{name: "instance_modify_nic_add_pool",
			setup: func(w *world) { withNetwork(w); w.add(stopped(plainInst("web1", "node1", 1024))) },
			plan: func(w *world) (*plan.Plan, error) {
				// The guide: gnt-instance modify --net -1:add,ip=pool,network=test inst1
				return pb.InstanceModify(w.env(), pb.ModifyInstanceArgs{Name: "web1",
					NICs: []pb.NICMod{{Op: "add", Index: -1, Spec: pb.NICSpec{IP: pb.IPPool, Network: "test"}}}})
			}},
		{name: "instance_remove_releases_ip",
			setup: func(w *world) { withNetwork(w); w.add(poolNIC(plainInst("web1", "node1", 1024))); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				return pb.InstanceRemove(w.env(), "web1", pb.DefaultShutdownTimeout, false)
			}},
	}
}
