//go:build bed

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/statefile"
)

// bridges adds bridges to the nodes for the test, VLAN-filtering ones for
// names in vlanAware when the kernel can (it reports whether it could),
// and removes them afterwards.
func (c *cluster) bridges(nodes []string, names []string, vlanAware ...string) bool {
	c.t.Helper()
	_, err := c.nodeErr(nodes[0], "test", "-e", "/sys/class/net/br0/bridge/vlan_filtering")
	canFilter := err == nil
	for _, n := range nodes {
		for _, br := range names {
			c.node(n, "sh", "-c", `ip link del "$1" 2>/dev/null; ip link add "$1" type bridge && ip link set "$1" up`, "bridge", br)
			if canFilter && slices.Contains(vlanAware, br) {
				c.node(n, "ip", "link", "set", br, "type", "bridge", "vlan_filtering", "1")
			}
		}
	}
	c.t.Cleanup(func() {
		for _, n := range nodes {
			for _, br := range names {
				c.nodeErr(n, "ip", "link", "del", br)
			}
		}
	})
	return canFilter
}

// bridgeOf is the bridge a tap is a port of on node ("" if none).
func (c *cluster) bridgeOf(node, tap string) string {
	c.t.Helper()
	out, err := c.nodeErr(node, "readlink", "/sys/class/net/"+tap+"/master")
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(out)
	return s[strings.LastIndex(s, "/")+1:]
}

// pool is a network's pool as the state holds it.
func (c *cluster) pool(st *statefile.State, name string) (held, ext []string) {
	c.t.Helper()
	n := st.Networks[name]
	if n == nil {
		c.t.Fatalf("no network %s in the state", name)
	}
	p, err := playbooks.NetworkPool(n)
	if err != nil || p == nil {
		c.t.Fatalf("network %s pool: %v", name, err)
	}
	return p.HeldAddrs(), p.ExternalAddrs()
}

// TestNetworkGuide runs the admin guide's "Hands on with gnt-network" on 3
// nodes in two groups (addresses moved to 198.18.0.0/15), and checks the
// state, network info and the nodes: NICs get distinct pool addresses,
// their group's link and mode (their qemu taps are ports of that bridge),
// their network's MAC prefix and VLAN, the network's variables in the OS
// scripts; removals give the addresses back.
func TestNetworkGuide(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	c.ok("group", "add", "nodegroup1")
	c.ok("group", "assign-nodes", "nodegroup1", n[2])
	vlanFiltering := c.bridges(n, []string{"br100", "br101", "br200"}, "br200")

	// gnt-network add --network=192.0.2.0/24 --gateway=192.0.2.1 test
	c.ok("network", "add", "--network=198.18.10.0/24", "--gateway=198.18.10.1", "--mac-prefix=aa:00:10", "--tags=dns", "test")
	// gnt-network connect --nic-parameters mode=bridged,link=br100 test default nodegroup1
	c.ok("network", "connect", "--nic-parameters", "mode=bridged,link=br100", "test", "default", "nodegroup1")
	r := c.ok("network", "list")
	if !strings.Contains(r.stdout, "test    198.18.10.0/24 198.18.10.1 aa:00:10  default (bridged, br100, ), nodegroup1 (bridged, br100, ) dns") {
		t.Errorf("network list:\n%s", r.stdout)
	}
	if r := c.fails(1, "network", "remove", "test"); !strings.Contains(r.stderr, "Network still connected") {
		t.Errorf("remove a connected network:\n%s", r)
	}

	// Two instances, one per group, with an address from the pool.
	c.ok("instance", "add", "-n", n[0], "-o", "testos+default", "-t", "file", "-s", "64M", "--no-name-check",
		"--net", "0:ip=pool,network=test", "e2e-net1")
	c.ok("instance", "add", "-n", n[2], "-o", "testos+default", "-t", "diskless", "--no-name-check",
		"--net", "0:network=test,ip=pool", "e2e-net2")
	st := loadState(t, c.stateDir)
	nic1, nic2 := st.Instances["e2e-net1"].NICs[0], st.Instances["e2e-net2"].NICs[0]
	if nic1.IP != "198.18.10.2" || nic2.IP != "198.18.10.3" {
		t.Fatalf("pool addresses %s, %s", nic1.IP, nic2.IP)
	}
	for _, nic := range []*statefile.NIC{nic1, nic2} {
		if nic.Network != "test" || nic.NICParams["mode"] != "bridged" || nic.NICParams["link"] != "br100" || !strings.HasPrefix(nic.MAC, "aa:00:10:") {
			t.Errorf("NIC %+v", nic)
		}
	}
	if held, _ := c.pool(st, "test"); !slices.Equal(held, []string{"198.18.10.2", "198.18.10.3"}) {
		t.Errorf("pool holds %v", held)
	}
	for _, x := range []struct {
		node, tap string
	}{{n[0], hv.TapName(nic1.UUID, 0)}, {n[2], hv.TapName(nic2.UUID, 0)}} {
		if br := c.bridgeOf(x.node, x.tap); br != "br100" {
			t.Errorf("%s: tap %s is a port of %q, want br100", x.node, x.tap, br)
		}
	}
	log := c.node(n[0], "cat", "/var/log/ganeti/os/create-testos-e2e-net1.log")
	for _, w := range []string{"NIC_0_IP=198.18.10.2", "NIC_0_BRIDGE=br100", "NIC_0_NETWORK_NAME=test", "NIC_0_NETWORK_SUBNET=198.18.10.0/24",
		"NIC_0_NETWORK_GATEWAY=198.18.10.1", "NIC_0_NETWORK_MAC_PREFIX=aa:00:10", "NIC_0_NETWORK_TAGS=dns", "NIC_0_NETWORK_UUID=" + st.Networks["test"].UUID} {
		if !strings.Contains(log, w+"\n") {
			t.Errorf("the OS create script's environment lacks %s:\n%s", w, log)
		}
	}
	r = c.ok("instance", "list", "--no-headers", "--separator=|", "-o", "name,nic.ips,nic.networks.names,nic.links")
	if r.stdout != "e2e-net1|198.18.10.2|test|br100\ne2e-net2|198.18.10.3|test|br100\n" {
		t.Errorf("instance list: %q", r.stdout)
	}
	r = c.ok("network", "info", "test")
	for _, w := range []string{"  Size: 256\n  Free: 251 (98.05%)\n", "        0 XXXX............................................................ 63\n",
		"  externally reserved IPs:\n    198.18.10.0, 198.18.10.1, 198.18.10.255\n",
		"    default (mode:bridged link:br100 vlan:)\n    nodegroup1 (mode:bridged link:br100 vlan:)\n",
		"  used by 2 instances:\n    e2e-net1: 0:198.18.10.2\n    e2e-net2: 0:198.18.10.3\n"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("network info lacks %q:\n%s", w, r.stdout)
		}
	}

	// An explicit address: inside the network and free, or refused.
	if r := c.fails(1, "instance", "add", "-n", n[0], "-o", "testos", "-t", "diskless", "--no-name-check", "--no-start",
		"--net", "0:ip=198.18.10.3,network=test", "e2e-net3"); !strings.Contains(r.stderr, "IP address 198.18.10.3 already in use or does not belong to network test") {
		t.Errorf("a taken address:\n%s", r)
	}
	if r := c.fails(1, "instance", "add", "-n", n[0], "-o", "testos", "-t", "diskless", "--no-name-check", "--no-start",
		"--net", "0:ip=198.18.10.77,link=br0", "e2e-net3"); !strings.Contains(r.stderr, "belongs to network test, but the target NIC does not") {
		t.Errorf("an address of the network outside it:\n%s", r)
	}

	// gnt-instance modify --net -1:add,ip=pool,network=test inst1
	c.ok("instance", "modify", "--net", "-1:add,ip=pool,network=test", "e2e-net1")
	// A second network, for the move.
	c.ok("network", "add", "--network=198.18.11.0/24", "test1")
	c.ok("network", "connect", "-N", "mode=bridged,link=br101", "test1")
	// gnt-instance modify --net -1:ip=none,network=test1 inst1
	c.ok("instance", "modify", "--net", "-1:ip=none,network=test1", "e2e-net1")
	st = loadState(t, c.stateDir)
	moved := st.Instances["e2e-net1"].NICs[1]
	if moved.IP != "" || moved.Network != "test1" || moved.NICParams["link"] != "br101" {
		t.Errorf("moved NIC %+v", moved)
	}
	if held, _ := c.pool(st, "test"); !slices.Equal(held, []string{"198.18.10.2", "198.18.10.3"}) {
		t.Errorf("after the move test holds %v", held)
	}
	// NIC changes apply at the next start: the new NIC's tap is on br101.
	c.ok("instance", "reboot", "--type", "full", "--shutdown-timeout", "1s", "e2e-net1")
	if br := c.bridgeOf(n[0], hv.TapName(moved.UUID, 1)); br != "br101" {
		t.Errorf("the moved NIC's tap is a port of %q, want br101", br)
	}
	if r := c.ok("network", "info", "test1"); !strings.Contains(r.stdout, "    e2e-net1: 1:None\n") {
		t.Errorf("network info test1:\n%s", r.stdout)
	}
	if r := c.fails(1, "network", "disconnect", "test1"); !strings.Contains(r.stderr, "Conflicting IP addresses found") {
		t.Errorf("disconnect a network in use:\n%s", r)
	}

	// A VLAN: the tap is an untagged member of VLAN 100 on the
	// VLAN-filtering bridge.
	c.ok("network", "add", "--network=198.18.12.0/28", "vlan100")
	c.ok("network", "connect", "-N", "mode=bridged,link=br200,vlan=100", "vlan100", "default")
	vlanArgs := []string{"instance", "add", "-n", n[0], "-o", "testos", "-t", "diskless", "--no-name-check", "--net", "0:ip=pool,network=vlan100", "e2e-net4"}
	if !vlanFiltering {
		// This kernel's bridges cannot filter VLANs: the start is refused
		// on the node, and the add rolls back (the address stays free).
		t.Log("the kernel has no bridge VLAN filtering: checking the refusal only")
		r := c.run(vlanArgs...)
		if r.code == 0 || !strings.Contains(r.stderr, "has VLANs untagged 100 but bridge br200 has VLAN filtering disabled") {
			t.Errorf("a VLAN on a bridge without VLAN filtering:\n%s", r)
		}
		st = loadState(t, c.stateDir)
		if held, _ := c.pool(st, "vlan100"); st.Instances["e2e-net4"] != nil || len(held) != 0 {
			t.Errorf("after the refused start: instance %v, pool holds %v", st.Instances["e2e-net4"] != nil, held)
		}
	} else {
		c.ok(vlanArgs...)
		st = loadState(t, c.stateDir)
		nic4 := st.Instances["e2e-net4"].NICs[0]
		tap := hv.TapName(nic4.UUID, 0)
		if nic4.IP != "198.18.12.1" || nic4.NICParams["vlan"] != ".100" || c.bridgeOf(n[0], tap) != "br200" {
			t.Errorf("VLAN NIC %+v on %q", nic4, c.bridgeOf(n[0], tap))
		}
		var vlans []struct {
			Vlans []struct {
				Vlan  int      `json:"vlan"`
				Flags []string `json:"flags"`
			} `json:"vlans"`
		}
		out := c.node(n[0], "bridge", "-j", "vlan", "show", "dev", tap)
		if err := json.Unmarshal([]byte(out), &vlans); err != nil || len(vlans) != 1 || len(vlans[0].Vlans) != 1 ||
			vlans[0].Vlans[0].Vlan != 100 || !slices.Contains(vlans[0].Vlans[0].Flags, "PVID") || !slices.Contains(vlans[0].Vlans[0].Flags, "Egress Untagged") {
			t.Errorf("bridge vlan show dev %s: %s (%v)", tap, out, err)
		}
		c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-net4")
	}
	if r := c.fails(1, "instance", "add", "-n", n[2], "-o", "testos", "-t", "diskless", "--no-name-check", "--no-start",
		"--net", "0:ip=pool,network=vlan100", "e2e-net5"); !strings.Contains(r.stderr, "No netparams found for network vlan100. Probably not connected to node's "+n[2]+" nodegroup (nodegroup1)") {
		t.Errorf("a network the group is not connected to:\n%s", r)
	}

	// Removing the instances gives the addresses back.
	for _, inst := range []string{"e2e-net1", "e2e-net2"} {
		c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", inst)
	}
	st = loadState(t, c.stateDir)
	for _, net := range []string{"test", "test1", "vlan100"} {
		if held, _ := c.pool(st, net); len(held) != 0 {
			t.Errorf("%s still holds %v", net, held)
		}
	}
	r = c.ok("network", "info", "test")
	if !strings.Contains(r.stdout, "  Free: 253 (98.83%)\n") || !strings.Contains(r.stdout, "        0 XX..............................................................") ||
		!strings.Contains(r.stdout, "  not used by any instances\n") {
		t.Errorf("network info after the removals:\n%s", r.stdout)
	}
	c.ok("network", "modify", "--add-reserved-ips=198.18.10.5,198.18.10.6", "--mac-prefix=none", "test")
	if r := c.ok("network", "list", "--no-headers", "-o", "external_reservations,mac_prefix", "test"); r.stdout != "198.18.10.0, 198.18.10.1, 198.18.10.5, 198.18.10.6, 198.18.10.255 None\n" {
		t.Errorf("after modify: %q", r.stdout)
	}
	c.ok("network", "add-tags", "test", "private-filtered")
	if r := c.ok("network", "list-tags", "test"); r.stdout != "dns\nprivate-filtered\n" {
		t.Errorf("list-tags: %q", r.stdout)
	}
	c.ok("network", "disconnect", "test", "nodegroup1")
	c.ok("network", "disconnect", "test")
	for _, net := range []string{"test", "test1", "vlan100"} {
		if net != "test" {
			c.ok("network", "disconnect", net)
		}
		c.ok("network", "remove", net)
	}
	if st := loadState(t, c.stateDir); len(st.Networks) != 0 || len(st.NodeGroups["default"].Networks) != 0 {
		t.Errorf("networks left: %v %v", st.Networks, st.NodeGroups["default"].Networks)
	}
	c.verifyClean()
}

// TestNetworkConcurrentPool starts pairs of ganetictl processes at once on
// one state directory, each creating an instance with ip=pool in one
// network: the network's lock serialises them, the second plans again
// after the first's commit, and no address is handed out twice.
func TestNetworkConcurrentPool(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("network", "add", "--network=198.18.10.0/28", "--gateway=198.18.10.1", "race")
	c.ok("network", "connect", "-N", "mode=bridged,link=br0", "race")
	const pairs = 4
	waited := 0
	for i := range pairs {
		var wg sync.WaitGroup
		results, outs := make([]string, 2), make([]string, 2)
		for j := range 2 {
			name := fmt.Sprintf("e2e-race%d%c", i, 'a'+j)
			cmd := exec.Command(binary, "--inventory", c.inv, "--state-dir", c.stateDir, "instance", "add", "-n", n[j], "-o", "testos",
				"-t", "diskless", "--no-start", "--no-name-check", "--net", "0:ip=pool,network=race", name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := cmd.CombinedOutput()
				outs[j] = string(out)
				if err != nil {
					results[j] = fmt.Sprintf("%s: %v\n%s", name, err, out)
				}
			}()
		}
		wg.Wait()
		for j, r := range results {
			if r != "" {
				t.Errorf("concurrent add: %s", r)
			}
			if strings.Contains(outs[j], "Waiting for network race") {
				waited++
			}
		}
	}
	// How often the second of a pair found the first holding the
	// network's lock (else it planned again on the newer state).
	t.Logf("%d of %d processes waited for the network's lock", waited, 2*pairs)
	st := loadState(t, c.stateDir)
	var ips []string
	for _, name := range st.InstanceNames() {
		ips = append(ips, st.Instances[name].NICs[0].IP)
	}
	slices.Sort(ips)
	held, _ := c.pool(st, "race")
	if len(ips) != 2*pairs || len(slices.Compact(slices.Clone(ips))) != 2*pairs || !slices.Equal(held, ips) {
		t.Fatalf("addresses %v, pool holds %v", ips, held)
	}
	// Serialised, each took the lowest free address: .2 to .9.
	want := []string{"198.18.10.2", "198.18.10.3", "198.18.10.4", "198.18.10.5", "198.18.10.6", "198.18.10.7", "198.18.10.8", "198.18.10.9"}
	if !slices.Equal(ips, want) {
		t.Errorf("addresses %v, want %v", ips, want)
	}
	// The rest of the /28 (13 usable, .1 the gateway): 5 left, then full.
	r := c.ok("network", "list", "--no-headers", "-o", "free_count,reserved_count,inst_cnt", "race")
	if strings.Fields(r.stdout)[0] != "5" || strings.Fields(r.stdout)[2] != "8" {
		t.Errorf("counts: %q", r.stdout)
	}
}

// TestNetworkDeclarative: a desired-state file declaring a network, its
// connection and an instance with a NIC in it converges with apply -f; a
// plan right after shows no changes; an edit moves the NIC.
func TestNetworkDeclarative(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	file := filepath.Join(t.TempDir(), "desired.toml")
	write := func(nicNet string) {
		s := `[[network]]
name = "dc-net"
subnet = "198.18.10.0/24"
gateway = "198.18.10.1"
reserved = ["198.18.10.2"]
[[network.connect]]
group = "default"
link = "br0"

[[network]]
name = "dc-net2"
subnet = "198.18.11.0/24"
[[network.connect]]
group = "default"
link = "br0"

[[instance]]
name = "e2e-dc-nic"
template = "diskless"
primary = "` + n[1] + `"
os = "testos"
state = "stopped"
[[instance.nic]]
network = "` + nicNet + `"
ip = "pool"
`
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dc-net")
	r := c.fails(2, "plan", "-f", file, "--detailed-exitcode")
	for _, w := range []string{"+ network dc-net", "subnet 198.18.10.0/24, gateway 198.18.10.1", "connect to default (bridged, br0, )",
		"+ instance e2e-dc-nic", "network add dc-net", "network connect dc-net default"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("plan lacks %q:\n%s", w, r.stdout)
		}
	}
	c.ok("apply", "-f", file, "--yes")
	c.ok("plan", "-f", file, "--detailed-exitcode")
	st := loadState(t, c.stateDir)
	if nic := st.Instances["e2e-dc-nic"].NICs[0]; nic.Network != "dc-net" || nic.IP != "198.18.10.3" || nic.NICParams["link"] != "br0" {
		t.Errorf("NIC %+v", nic)
	}
	write("dc-net2")
	r = c.fails(2, "plan", "-f", file, "--detailed-exitcode")
	if !strings.Contains(r.stdout, "nic 0: network dc-net -> dc-net2, ip 198.18.10.3 -> pool") {
		t.Errorf("edited plan:\n%s", r.stdout)
	}
	c.ok("apply", "-f", file, "--yes")
	c.ok("plan", "-f", file, "--detailed-exitcode")
	st = loadState(t, c.stateDir)
	if nic := st.Instances["e2e-dc-nic"].NICs[0]; nic.Network != "dc-net2" || nic.IP != "198.18.11.1" {
		t.Errorf("moved NIC %+v", nic)
	}
	if held, _ := c.pool(st, "dc-net"); len(held) != 0 {
		t.Errorf("dc-net still holds %v", held)
	}
}
