package desired

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cluster is a two-node state built through the real planners, with facts
// saying what runs where.
func cluster(t *testing.T) playbooks.Env {
	t.Helper()
	st := statefile.New("lin")
	n := 0
	env := playbooks.Env{State: st, NewID: func() string { n++; return fmt.Sprintf("00000000-0000-0000-0000-%012d", n) },
		Random: func(k int) []byte { return bytes.Repeat([]byte{byte(n)}, k) }, Facts: map[string]*playbooks.NodeFacts{}}
	for _, name := range []string{"node1", "node2"} {
		env.Facts[name] = &playbooks.NodeFacts{Name: name, Reachable: true, Hostname: name, MemTotal: 24000, MemFree: 20000,
			Tools: map[string]string{"lvm": "x", "qemu-system-x86_64": "x", "qemu-img": "x", "socat": "x", "ip": "x", "drbdsetup": "x"},
			VG:    &playbooks.VGFacts{Name: "xenvg", Size: 32768, Free: 32768}, DiskTotal: 100000, DiskFree: 90000,
			OS:      map[string]*playbooks.OSDef{"testos": {Name: "testos", Path: "/srv/ganeti/os/testos", APIs: []int{20}, Variants: []string{"default"}}},
			Running: map[string]hv.Running{}}
	}
	apply := func(p *plan.Plan, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ApplyChanges(st, st.Cluster.Mtime); err != nil {
			t.Fatal(err)
		}
		st.Serial++
	}
	apply(playbooks.ClusterInit(env, playbooks.InitArgs{Name: "c.test", Master: "node1", MasterIP: "198.18.0.1", MasterSecondaryIP: "198.19.0.1",
		Group: "default", VolumeGroup: "xenvg", EnabledHypervisors: []string{"kvm"}, EnabledDiskTemplates: []string{"plain", "file", "sharedfile", "drbd"},
		FileStorageDir: "/srv/ganeti/file-storage", SharedFileStorageDir: "/srv/ganeti/shared-file-storage", MACPrefix: "aa:00:00", CandidatePoolSize: 10,
		NICParams: statefile.Params{"link": "br0", "mode": "bridged"}}))
	apply(playbooks.NodeAdd(env, playbooks.NodeAddArgs{Name: "node2", PrimaryIP: "198.18.0.2", SecondaryIP: "198.19.0.2"}))
	return env
}

const base = `[[instance]]
name = "web1"
template = "file"
primary = "node1"
disks = ["64M"]
os = "testos"

[[instance]]
name = "shared1"
template = "sharedfile"
primary = "node1"
disks = ["32M"]
os = "testos"

[[instance]]
name = "old1"
template = "plain"
primary = "node2"
disks = ["32M"]
os = "testos"
state = "stopped"
`

// realize applies the diff's operations to the env's state (no nodes).
func realize(t *testing.T, env playbooks.Env, f *File) {
	t.Helper()
	r, err := Diff(env, f, Options{AllowDestroy: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range r.Ops {
		p, err := op.Plan(env)
		if err != nil {
			t.Fatalf("%s: %v", op.Desc, err)
		}
		if err := p.ApplyChanges(env.State, env.State.Cluster.Mtime); err != nil {
			t.Fatal(err)
		}
		env.State.Serial++
	}
	for name, i := range env.State.Instances {
		if i.AdminState == "up" {
			env.Facts[i.PrimaryNode].Running[name] = hv.Running{Name: name, Hypervisor: "kvm", MemMiB: 128}
		}
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(string) string
		facts  func(playbooks.Env)
		want   []string // "symbol kind name" per change, in order
		ops    []string
		render string // golden file, "" for none
	}{
		{name: "no change", edit: func(s string) string { return s }, want: nil, ops: nil},
		{name: "resize move remove", edit: func(s string) string {
			s = strings.Replace(s, `disks = ["64M"]`, `disks = ["96M"]`, 1)
			s = strings.Replace(s, "name = \"shared1\"\ntemplate = \"sharedfile\"\nprimary = \"node1\"", "name = \"shared1\"\ntemplate = \"sharedfile\"\nprimary = \"node2\"", 1)
			return s[:strings.Index(s, "[[instance]]\nname = \"old1\"")]
		}, want: []string{"- instance old1", "~ instance web1", "~ instance shared1"},
			ops: []string{"instance remove old1", "instance grow-disk web1 0", "instance migrate shared1"}, render: "resize_move_remove.txt"},
		{name: "drift", edit: func(s string) string { return s }, facts: func(env playbooks.Env) { delete(env.Facts["node1"].Running, "web1") },
			want: []string{"~ instance web1"}, ops: []string{"instance startup web1"}},
		{name: "create", edit: func(s string) string {
			return s + "\n[[instance]]\nname = \"new1\"\ntemplate = \"file\"\nprimary = \"node2\"\ndisks = [\"16M\"]\nos = \"testos\"\n"
		}, want: []string{"+ instance new1"}, ops: []string{"instance add new1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := cluster(t)
			f0, err := Parse("d.toml", []byte(base))
			if err != nil {
				t.Fatal(err)
			}
			realize(t, env, f0)
			if tc.facts != nil {
				tc.facts(env)
			}
			f, err := Parse("d.toml", []byte(tc.edit(base)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Diff(env, f, Options{AllowDestroy: true})
			if err != nil {
				t.Fatal(err)
			}
			var got, ops []string
			for _, c := range r.Changes {
				got = append(got, c.Symbol+" "+c.Kind+" "+c.Name)
			}
			for _, o := range r.Ops {
				ops = append(ops, o.Desc)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("changes = %q, want %q", got, tc.want)
			}
			if len(ops) != len(tc.ops) {
				t.Fatalf("ops = %q, want %q", ops, tc.ops)
			}
			for i := range ops {
				if !strings.HasPrefix(ops[i], tc.ops[i]) {
					t.Errorf("op %d = %q, want prefix %q", i, ops[i], tc.ops[i])
				}
			}
			if tc.render != "" {
				var b bytes.Buffer
				for _, c := range r.Changes {
					fmt.Fprintf(&b, "%s %s %s\n", c.Symbol, c.Kind, c.Name)
					for _, d := range c.Details {
						fmt.Fprintf(&b, "    %s\n", d)
					}
				}
				golden(t, tc.render, b.Bytes())
			}
		})
	}
	// Without --allow-destroy the removal is refused, naming the instance.
	env := cluster(t)
	f0, _ := Parse("d.toml", []byte(base))
	realize(t, env, f0)
	f, _ := Parse("d.toml", []byte(base[:strings.Index(base, "[[instance]]\nname = \"old1\"")]))
	if _, err := Diff(env, f, Options{}); err == nil || !strings.Contains(err.Error(), "old1") {
		t.Errorf("destroy without --allow-destroy: %v", err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if intended):\n%s", path, got)
	}
}

// Two instances that each fit a node but not together fail at plan time.
func TestDiffCombinedCapacity(t *testing.T) {
	env := cluster(t)
	env.Facts["node2"].VG.Free = 1500
	f, err := Parse("d.toml", []byte(`[[instance]]
name = "a1"
template = "plain"
primary = "node2"
disks = ["1G"]
os = "testos"

[[instance]]
name = "a2"
template = "plain"
primary = "node2"
disks = ["1G"]
os = "testos"
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Diff(env, f, Options{})
	if err == nil || !strings.Contains(err.Error(), "d.toml:8") || !strings.Contains(err.Error(), "Not enough disk space") {
		t.Errorf("Diff = %v, want a capacity error on the second instance (line 8)", err)
	}
	env.Facts["node2"].VG.Free = 4096
	if _, err := Diff(env, f, Options{}); err != nil {
		t.Errorf("with room for both: %v", err)
	}
}

// TestApplyConverges: applying a file's operations leaves nothing to do,
// for every field the file declares (tags included: a new instance's
// tags were once left for a second pass).
func TestApplyConverges(t *testing.T) {
	env := cluster(t)
	f, err := Parse("desired.toml", []byte(`[cluster]
tags = ["site:a"]

[[instance]]
name = "web1"
template = "file"
primary = "node1"
disks = ["64M"]
os = "testos"
tags = ["owner:alice", "app:web"]

[[instance]]
name = "db1"
template = "drbd"
primary = "node1"
secondary = "node2"
disks = ["32M"]
os = "testos"
state = "stopped"
tags = ["app:db"]
`))
	if err != nil {
		t.Fatal(err)
	}
	realize(t, env, f)
	if tags := env.State.Instances["web1"].Tags; strings.Join(tags, ",") != "app:web,owner:alice" {
		t.Errorf("web1's tags after apply: %v", tags)
	}
	r, err := Diff(env, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Empty() {
		var b strings.Builder
		for _, op := range r.Ops {
			b.WriteString(op.Desc + "\n")
		}
		t.Errorf("a plan right after apply is not empty:\n%s", b.String())
	}
}

const netFile = `[[network]]
name = "test"
subnet = "198.18.10.0/24"
gateway = "198.18.10.1"
reserved = ["198.18.10.5"]
tags = ["dns"]

[[network.connect]]
group = "default"
link = "br100"

[[instance]]
name = "web1"
template = "file"
primary = "node1"
disks = ["64M"]
os = "testos"

[[instance.nic]]
network = "test"
ip = "pool"
`

// TestDiffNetworks: networks and NICs in them converge, and a plan right
// after applying shows nothing to do.
func TestDiffNetworks(t *testing.T) {
	env := cluster(t)
	ops := func(src string) []string {
		t.Helper()
		f, err := Parse("d.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Diff(env, f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range r.Ops {
			out = append(out, o.Desc)
		}
		return out
	}
	converge := func(src string, want ...string) {
		t.Helper()
		if got := ops(src); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("ops %q, want %q", got, want)
		}
		f, _ := Parse("d.toml", []byte(src))
		realize(t, env, f)
		if again := ops(src); len(again) != 0 {
			t.Fatalf("after applying, still: %q", again)
		}
	}
	converge(netFile, "network add test", "network connect test default", "instance add web1")
	st := env.State
	nic := st.Instances["web1"].NICs[0]
	if nic.Network != "test" || nic.IP != "198.18.10.2" || nic.NICParams["link"] != "br100" {
		t.Fatalf("NIC %+v", nic)
	}
	pool, _ := playbooks.NetworkPool(st.Networks["test"])
	if got := pool.ExternalAddrs(); strings.Join(got, ",") != "198.18.10.0,198.18.10.1,198.18.10.5,198.18.10.255" {
		t.Errorf("external %v", got)
	}

	// Settings, reservations, tags and a connection's link change; the
	// NIC moves to a second network.
	edited := strings.NewReplacer(`gateway = "198.18.10.1"`, `gateway = "198.18.10.254"`, `reserved = ["198.18.10.5"]`, `reserved = ["198.18.10.6"]`,
		`tags = ["dns"]`, `tags = ["dns", "nfdhcpd"]`, `network = "test"`, `network = "test1"`).Replace(netFile) + `
[[network]]
name = "test1"
subnet = "198.18.11.0/24"
[[network.connect]]
group = "default"
link = "br101"
vlan = "7"
`
	converge(edited, "network modify test", "network modify test", "network tags test", "network add test1", "network connect test1 default",
		"instance modify --net web1")
	nic = st.Instances["web1"].NICs[0]
	if nic.Network != "test1" || nic.IP != "198.18.11.1" || nic.NICParams["link"] != "br101" || nic.NICParams["vlan"] != ".7" {
		t.Errorf("moved NIC %+v", nic)
	}
	if n := st.Networks["test"]; n.Gateway != "198.18.10.254" || strings.Join(n.Tags, ",") != "dns,nfdhcpd" {
		t.Errorf("test %+v", n)
	}
	pool, _ = playbooks.NetworkPool(st.Networks["test"])
	if got := pool.ExternalAddrs(); strings.Join(got, ",") != "198.18.10.0,198.18.10.6,198.18.10.254,198.18.10.255" || len(pool.HeldAddrs()) != 0 {
		t.Errorf("test's pool: external %v held %v", got, pool.HeldAddrs())
	}
	// test is now unused: its connection's link may change (disconnect, connect).
	relinked := strings.Replace(edited, `link = "br100"`, `link = "br102"`, 1)
	converge(relinked, "network disconnect test default", "network connect test default")

	for _, tc := range []struct{ src, want string }{
		{strings.Replace(relinked, `subnet = "198.18.10.0/24"`, `subnet = "198.18.20.0/24"`, 1), "d.toml:3: network test: its subnet is 198.18.10.0/24 and cannot change to 198.18.20.0/24"},
		{strings.Replace(relinked, `group = "default"`, `group = "rack9"`, 1), "network test: unknown node group \"rack9\""},
		{"[[network]]\nname = \"new\"\ngateway = \"198.18.30.1\"\n", "d.toml:1: network new: a new network needs a subnet"},
		// test1 is in use: its link cannot change under the NIC.
		{strings.Replace(relinked, `link = "br101"`, `link = "br103"`, 1), "Conflicting IP addresses found"},
	} {
		f, err := Parse("d.toml", []byte(tc.src))
		if err == nil {
			_, err = Diff(env, f, Options{AllowDestroy: true})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if _, err := Parse("d.toml", []byte("[[network]]\nname = \"a;b\"\nsubnet = \"198.18.30.0/24\"\n[[network]]\nname = \"a;b\"\n")); err == nil ||
		!strings.Contains(err.Error(), "d.toml:2: network name") || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("parse: %v", err)
	}
}

func TestGroupsConverge(t *testing.T) {
	env := cluster(t)
	f, err := Parse("desired.toml", []byte(`[[group]]
name = "rack2"
alloc_policy = "last_resort"
nodes = ["node2"]
tags = ["site:b"]
`))
	if err != nil {
		t.Fatal(err)
	}
	realize(t, env, f)
	g := env.State.NodeGroups["rack2"]
	if g == nil || g.AllocPolicy != "last_resort" || strings.Join(g.Tags, ",") != "site:b" || env.State.Nodes["node2"].Group != "rack2" {
		t.Fatalf("after apply: group %+v, node2 in %q", g, env.State.Nodes["node2"].Group)
	}
	r, err := Diff(env, f, Options{})
	if err != nil || !r.Empty() {
		t.Errorf("a plan right after apply: %v, %d ops", err, len(r.Ops))
	}
	if _, err := Parse("d.toml", []byte("[[group]]\nname = \"a\"\nnodes = [\"n\"]\n[[group]]\nname = \"b\"\nnodes = [\"n\"]\n")); err == nil || !strings.Contains(err.Error(), "node n is in two groups") {
		t.Errorf("a node in two groups: %v", err)
	}
}
