package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"golang.org/x/crypto/ssh"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// mustParse runs the command line through the CLI parser only, with the
// argument rewriting run() does.
func mustParse(t *testing.T, args ...string) *CLI {
	t.Helper()
	var cli CLI
	parser, err := kong.New(&cli, kong.Name("ganetictl"), kong.Exit(func(int) { t.Fatalf("parser exited on %q", args) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(deviceIndexValues(args)); err != nil { // as run() does
		t.Fatalf("parse %q: %v", args, err)
	}
	return &cli
}

// TestRepeatableFlagsKeepCommas: each --net, --disk and -H is one value,
// commas included (kong splits repeatable flags on commas by default,
// which broke the guide's --net 0:ip=...,link=...).
func TestRepeatableFlagsKeepCommas(t *testing.T) {
	cli := mustParse(t, "instance", "add", "-n", "node1", "-o", "testos", "-t", "plain",
		"--disk", "0:size=1G,vg=xenvg", "--disk", "1:size=512M,mode=ro",
		"--net", "0:ip=198.18.10.5,link=br0", "--net", "1:ip=pool,network=test", "--no-name-check", "inst1")
	c := cli.Instance.Add
	if !slices.Equal(c.NICs, []string{"0:ip=198.18.10.5,link=br0", "1:ip=pool,network=test"}) ||
		!slices.Equal(c.Disks, []string{"0:size=1G,vg=xenvg", "1:size=512M,mode=ro"}) {
		t.Fatalf("--net %q --disk %q", c.NICs, c.Disks)
	}
	a, err := c.args()
	if err != nil {
		t.Fatal(err)
	}
	want := []playbooks.NICSpec{{IP: "198.18.10.5", Link: "br0"}, {IP: "pool", Network: "test"}}
	if !slices.Equal(a.NICs, want) {
		t.Errorf("NICs %+v", a.NICs)
	}
	if !slices.Equal(a.Disks, []storage.Spec{{Size: 1024, VG: "xenvg", Mode: "rw"}, {Size: 512, Mode: "ro"}}) {
		t.Errorf("disks %+v", a.Disks)
	}

	cli = mustParse(t, "instance", "modify", "--net", "-1:add,ip=pool,network=test", "--net", "0:ip=none,network=test1", "--disk", "add:size=1G,mode=ro", "inst1")
	if m := cli.Instance.Modify; !slices.Equal(m.NICs, []string{"-1:add,ip=pool,network=test", "0:ip=none,network=test1"}) ||
		!slices.Equal(m.Disks, []string{"add:size=1G,mode=ro"}) {
		t.Errorf("modify --net %q --disk %q", m.NICs, m.Disks)
	}
	cli = mustParse(t, "backup", "import", "-n", "node1", "--src-node", "node2", "--net", "0:ip=pool,network=test", "--disk", "0:size=1G,vg=xenvg", "inst1")
	if b := cli.Backup.Import; !slices.Equal(b.NICs, []string{"0:ip=pool,network=test"}) || !slices.Equal(b.Disks, []string{"0:size=1G,vg=xenvg"}) {
		t.Errorf("import --net %q --disk %q", b.NICs, b.Disks)
	}
	cli = mustParse(t, "cluster", "modify", "-H", "kvm:kernel_path=,migration_bandwidth=64", "-H", "xen-pvm:root_path=/dev/xvda1")
	if h := cli.Cluster.Modify.HypervisorParameters; !slices.Equal(h, []string{"kvm:kernel_path=,migration_bandwidth=64", "xen-pvm:root_path=/dev/xvda1"}) {
		t.Errorf("-H %q", h)
	}
}

func TestParseNICVLANAndNetwork(t *testing.T) {
	specs, err := parseNICSpecs([]string{"0:network=test,ip=pool", "1:link=br0,vlan=100,name=backend"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(specs, []playbooks.NICSpec{{Network: "test", IP: "pool"}, {Link: "br0", VLAN: "100", Name: "backend"}}) {
		t.Errorf("%+v", specs)
	}
	if _, err := parseNICSpecs([]string{"0:colour=red"}); err == nil || !strings.Contains(err.Error(), "unknown NIC parameter \"colour\"") {
		t.Errorf("bad key: %v", err)
	}
}

// TestNetworkConnectForms: Ganeti 2.14's -N, and the positional forms of
// older releases.
func TestNetworkConnectForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want playbooks.NetworkConnectArgs
	}{
		{[]string{"--nic-parameters", "mode=bridged,link=br100", "test", "default", "nodegroup1"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{"default", "nodegroup1"}, Mode: "bridged", Link: "br100"}},
		{[]string{"-N", "mode=routed,link=100,vlan=5", "test"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{}, Mode: "routed", Link: "100", VLAN: "5"}},
		{[]string{"--no-conflicts-check", "-N", "link=br0", "test", "g1"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{"g1"}, Link: "br0", NoConflictsCheck: true}},
		{[]string{"test", "bridged", "br100"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{}, Mode: "bridged", Link: "br100"}},
		{[]string{"test", "bridged", "br100", "default", "nodegroup1"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{"default", "nodegroup1"}, Mode: "bridged", Link: "br100"}},
		{[]string{"test", "default", "bridged", "br100"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{"default"}, Mode: "bridged", Link: "br100"}},
		{[]string{"test", "default", "rack2"},
			playbooks.NetworkConnectArgs{Network: "test", Groups: []string{"default", "rack2"}}},
	} {
		cli := mustParse(t, append([]string{"network", "connect"}, tc.args...)...)
		got, err := cli.Network.Connect.args()
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got.Groups == nil {
			got.Groups = []string{}
		}
		if g, w := mustJSON(t, got), mustJSON(t, tc.want); g != w {
			t.Errorf("%q:\ngot  %s\nwant %s", tc.args, g, w)
		}
	}
	cli := mustParse(t, "network", "connect", "-N", "colour=red", "test")
	if _, err := cli.Network.Connect.args(); err == nil || !strings.Contains(err.Error(), "unknown NIC parameter") {
		t.Errorf("bad -N: %v", err)
	}
}

// withKey gives the inventory an SSH key (never used: the commands
// tested reach no node), for the commands that open the SSH pool, and
// loopback addresses, should one try.
func (c *cli) withKey() {
	c.t.Helper()
	inv, err := os.ReadFile(c.inv)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(c.inv, []byte(strings.ReplaceAll(string(inv), "192.0.2.", "127.0.0.")), 0o600); err != nil {
		c.t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		c.t.Fatal(err)
	}
	dir := filepath.Dir(c.inv)
	key, kh := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		c.t.Fatal(err)
	}
	f, err := os.OpenFile(c.inv, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\n[ssh]\nidentity_file = %q\nknown_hosts = %q\n", key, kh); err != nil {
		c.t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNetworkCommands runs the read-only network commands and dry runs on
// an imported Ganeti config (no node is contacted).
func TestNetworkCommands(t *testing.T) {
	c := newCLI(t)
	c.withKey()
	c.mustRun("state", "import", ganetiConfig)
	// The fixture's network, with an instance NIC in it and a connection.
	c.commit(func(st *statefile.State) {
		net := st.Networks["a network"]
		p, err := playbooks.NetworkPool(net)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Reserve("203.0.113.7", false); err != nil {
			t.Fatal(err)
		}
		net.Reservations = p.Reservations()
		nic := st.Instances["instance1.example.com"].NICs[0]
		nic.Network, nic.IP = "a network", "203.0.113.7"
		st.NodeGroups["default"].Networks = map[string]statefile.Params{"a network": {"mode": "bridged", "link": "br100", "vlan": ""}}
	})

	out := c.mustRun("network", "list")
	want := "Network   Subnet         Gateway MacPrefix GroupList                  Tags\n" +
		"a network 203.0.113.0/24 None    None      default (bridged, br100, ) \n"
	if out != want {
		t.Errorf("network list:\n%q\nwant\n%q", out, want)
	}
	out = c.mustRun("network", "list", "--no-headers", "--separator=|", "-o", "name,free_count,reserved_count,inst_list,external_reservations")
	if out != "a network|253|3|instance1.example.com|203.0.113.0, 203.0.113.255\n" {
		t.Errorf("network list -o: %q", out)
	}
	out = c.mustRun("network", "info", "a network")
	for _, w := range []string{
		"Network name: a network\nUUID: 99f0128a-1c84-44da-90b9-9581ea00c075\n",
		"  Subnet: 203.0.113.0/24\n  Gateway: None\n  IPv6 Subnet: None\n  IPv6 Gateway: None\n  Mac Prefix: None\n  Size: 256\n  Free: 253 (98.83%)\n  Usage map:\n",
		"        0 X......X........................................................ 63\n",
		"      192 ...............................................................X 255\n         (X) used    (.) free\n",
		"  externally reserved IPs:\n    203.0.113.0, 203.0.113.255\n",
		"  connected to node groups:\n    default (mode:bridged link:br100 vlan:)\n",
		"  used by 1 instances:\n    instance1.example.com: 0:203.0.113.7\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("network info lacks %q:\n%s", w, out)
		}
	}
	var infos []map[string]any
	if err := json.Unmarshal([]byte(c.mustRun("--json", "network", "info")), &infos); err != nil || len(infos) != 1 || infos[0]["free_count"] != 253.0 {
		t.Errorf("network info --json: %v %v", err, infos)
	}
	if out := c.mustRun("network", "list-fields"); !strings.Contains(out, "external_reservations") || !strings.Contains(out, "GroupList") {
		t.Errorf("list-fields:\n%s", out)
	}
	if out := c.mustRun("network", "list-tags", "a network"); out != "" {
		t.Errorf("list-tags: %q", out)
	}

	// The guide's commands, as dry runs (addresses in 198.18.0.0/15).
	out = c.mustRun("--dry-run", "network", "add", "--network=198.18.10.0/24", "--gateway=198.18.10.1", "test")
	if !strings.Contains(out, "NETWORK_ADD(test)") || !strings.Contains(out, "+ network test") || !strings.Contains(out, `gateway: "198.18.10.1"`) {
		t.Errorf("dry-run add:\n%s", out)
	}
	out = c.mustRun("--dry-run", "network", "connect", "--nic-parameters", "mode=bridged,link=br100", "a network", "default", "another")
	if !strings.Contains(out, "~ nodegroup another") || strings.Contains(out, "~ nodegroup default") {
		t.Errorf("dry-run connect:\n%s", out)
	}
	code, _, errOut := c.run("--dry-run", "network", "remove", "a network")
	if code == 0 || !strings.Contains(errOut, "Network still connected") {
		t.Errorf("remove a connected network: exit %d\n%s", code, errOut)
	}
	code, _, errOut = c.run("network", "add", "--gateway=198.18.10.1", "test")
	if code != exitUsage && code != 10 || !strings.Contains(errOut, "The --network option must be given") {
		t.Errorf("add without --network: exit %d\n%s", code, errOut)
	}
	code, _, errOut = c.run("network", "add", "--network=198.18.10.0/24", "bad;name")
	if code == 0 || !strings.Contains(errOut, "network name") {
		t.Errorf("bad name: exit %d\n%s", code, errOut)
	}
}
