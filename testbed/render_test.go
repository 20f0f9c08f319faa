package testbed

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func testSpec() spec {
	return spec{ID: 5, Dir: "/tmp/bed", VG: "xenvg", PVSize: 1 << 30, Nodes: naming{5}.nodes(3)}
}

func TestNaming(t *testing.T) {
	nm := naming{5}
	got := []string{nm.bridge(), nm.bridgeSec(), nm.netns(3), nm.veth(3), nm.vethSec(3), nm.addr(3), nm.secAddr(3), nm.hostAddr(), mac(5, 3, 1)}
	want := []string{"gtb5", "gtb5s", "gtb5-n3", "gtb5n3", "gtb5s3", "198.18.5.3", "198.19.5.3", "198.18.5.254", "02:74:62:05:03:01"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// Interface names must fit IFNAMSIZ-1 for the largest id and node.
	if l := len(naming{255}.vethSec(MaxNodes)); l > 15 {
		t.Fatalf("veth name too long: %d", l)
	}
}

// keys flattens a decoded TOML document into dotted key paths; arrays of
// tables contribute their first element's keys.
func keys(prefix string, v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			keys(prefix+k+".", x, out)
		}
	case []map[string]any:
		if len(v) > 0 {
			keys(prefix+"[]", v[0], out)
		}
	default:
		out[strings.TrimSuffix(prefix, ".")] = true
	}
}

// The bed's inventory uses exactly the schema of examples/inventory.toml.
func TestInventoryFollowsExample(t *testing.T) {
	var ex, ours map[string]any
	if _, err := toml.DecodeFile(filepath.Join("..", "examples", "inventory.toml"), &ex); err != nil {
		t.Fatal(err)
	}
	inv := renderInventory(testSpec(), 0, "state")
	if _, err := toml.Decode(inv, &ours); err != nil {
		t.Fatalf("inventory is not TOML: %v\n%s", err, inv)
	}
	ek, ok := map[string]bool{}, map[string]bool{}
	keys("", ex, ek)
	keys("", ours, ok)
	var missing, extra []string
	for k := range ek {
		// The bed keeps its state in a directory; the other backends'
		// tables are the tests' own.
		if strings.HasPrefix(k, "state.cluster.") || strings.HasPrefix(k, "state.etcd.") {
			continue
		}
		if !ok[k] {
			missing = append(missing, k)
		}
	}
	for k := range ok {
		if !ek[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("inventory keys differ from the example: missing %v, extra %v", missing, extra)
	}
	for _, want := range []string{
		`volume_group = "xenvg"`, `drbd_status_file = "/run/testbed/drbd/proc_drbd"`, `master_netdev = "br0"`,
		`enabled_disk_templates = ["plain", "drbd", "file", "sharedfile", "diskless", "rbd"]`,
		"name = \"node3\"\naddress = \"198.18.5.3\"\nsecondary_address = \"198.19.5.3\"",
		`identity_file = "id_ed25519"`, `known_hosts = "known_hosts"`, `dir = "state"`,
	} {
		if !strings.Contains(inv, want) {
			t.Errorf("inventory lacks %q", want)
		}
	}
	if two := renderInventory(testSpec(), 2, "s"); strings.Contains(two, "node3") {
		t.Error("inventory of 2 nodes lists node3")
	}
}

func TestSSHFiles(t *testing.T) {
	s := testSpec()
	cfg := renderSSHConfig(layout{s.Dir}, s.Nodes)
	for _, want := range []string{"Host node2\n  HostName 198.18.5.2\n", "StrictHostKeyChecking yes", "UserKnownHostsFile /tmp/bed/known_hosts",
		"IdentityFile /tmp/bed/id_ed25519", "BatchMode yes"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("ssh_config lacks %q:\n%s", want, cfg)
		}
	}
	kh := renderKnownHosts(s.Nodes, map[string]string{"node1": "ssh-ed25519 A1", "node2": "ssh-ed25519 A2", "node3": "ssh-ed25519 A3"})
	if !strings.HasPrefix(kh, "node1,198.18.5.1,198.19.5.1 ssh-ed25519 A1\n") || strings.Count(kh, "\n") != 3 {
		t.Errorf("known_hosts:\n%s", kh)
	}
	if h := renderHosts(s.Nodes); !strings.Contains(h, "198.18.5.3\tnode3\n") {
		t.Errorf("hosts:\n%s", h)
	}
	if c := renderLVMConf("/dev/loop7"); !strings.Contains(c, `"a|^/dev/loop7$|", "r|.*|"`) || !strings.Contains(c, "activation = 0") {
		t.Errorf("lvm.conf:\n%s", c)
	}
}

func TestWriteInventoryAbsolute(t *testing.T) {
	b := &Bed{l: layout{"/tmp/bed"}, s: testSpec(), nm: naming{5}}
	p := filepath.Join(t.TempDir(), "inv.toml")
	if err := b.WriteInventory(p, 2, "/tmp/st"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	for _, want := range []string{`identity_file = "/tmp/bed/id_ed25519"`, `known_hosts = "/tmp/bed/known_hosts"`, `dir = "/tmp/st"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("lacks %q", want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv("TESTBED_DIR", "")
	o, err := Options{Nodes: 3}.withDefaults()
	if err != nil || o.Dir != DefaultDir || o.VG != "xenvg" || o.PVSize != 32<<30 {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range []Options{{Nodes: 0}, {Nodes: MaxNodes + 1}, {Nodes: 1, ID: 256}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
