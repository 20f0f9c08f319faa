package playbooks

import (
	"slices"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/ippool"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// networkEnv is instanceEnv with network test (198.18.10.0/24, gateway .1)
// connected to the default group on br100, and network other
// (198.18.11.0/24) not connected anywhere.
func networkEnv(t *testing.T) Env {
	t.Helper()
	env := instanceEnv(t)
	mustApply(t, must(NetworkAdd(env, NetworkAddArgs{Name: "test", Network: "198.18.10.0/24", Gateway: "198.18.10.1", MACPrefix: "aa:00:10"})), env.State)
	mustApply(t, must(NetworkConnect(env, NetworkConnectArgs{Network: "test", Mode: "bridged", Link: "br100", VLAN: ".100"})), env.State)
	mustApply(t, must(NetworkAdd(env, NetworkAddArgs{Name: "other", Network: "198.18.11.0/24"})), env.State)
	return env
}

func addArgs(name string, nics ...NICSpec) InstanceAddArgs {
	return InstanceAddArgs{Name: name, Template: "diskless", Primary: "node1", OS: "testos+default", NoStart: true, NICs: nics}
}

func poolOfNet(t *testing.T, st *statefile.State, name string) *ippool.Pool {
	t.Helper()
	p, err := poolOf(st.Networks[name])
	if err != nil || p == nil {
		t.Fatalf("pool of %s: %v", name, err)
	}
	return p
}

func TestNetworkRefusals(t *testing.T) {
	env := networkEnv(t)
	mustApply(t, must(InstanceAdd(env, addArgs("web1", NICSpec{Network: "test", IP: IPPool}))), env.State)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"add twice", errOf(NetworkAdd(env, NetworkAddArgs{Name: "test", Network: "198.18.12.0/24"})), "Desired network name 'test' already exists as a network (UUID: "},
		{"no subnet", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x"})), "Network must be given"},
		{"host bits", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.7/24"})), "has host bits set: the network is 198.18.12.0/24"},
		{"too small", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/31"})), "too small, please specify at least a /30 network"},
		{"too big", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.0.0.0/8"})), "please specify at most a /16 network"},
		{"gateway outside", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", Gateway: "198.18.13.1"})), "Cannot create IP address pool for network 'x': gateway 198.18.13.1 is not inside 198.18.12.0/24"},
		{"gateway broadcast", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", Gateway: "198.18.12.255"})), "is the network's broadcast address"},
		{"gateway not IPv4", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", Gateway: "gw"})), "Invalid IPv4 gateway 'gw'"},
		{"reserved outside", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", Reserved: []string{"198.18.13.5"}})), "Cannot reserve IP address '198.18.13.5': 198.18.12.0/24 does not contain 198.18.13.5"},
		{"reserved network address", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", Reserved: []string{"198.18.12.0"}})), "is the network or broadcast address"},
		{"bad MAC prefix", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", MACPrefix: "aa:00"})), "Invalid MAC address prefix 'aa:00'"},
		{"bad IPv6", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network6: "198.18.12.0/24"})), "is not a valid IPv6 network"},
		{"IPv6 gateway outside", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network6: "2001:db8:1::/64", Gateway6: "2001:db8:2::1"})), "IPv6 gateway 2001:db8:2::1 is neither inside 2001:db8:1::/64 nor link-local"},
		{"IPv4 gateway on IPv6-only", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network6: "2001:db8:1::/64", Gateway: "198.18.12.1"})), "need an IPv4 subnet"},
		{"bad tag", errOf(NetworkAdd(env, NetworkAddArgs{Name: "x", Network: "198.18.12.0/24", Tags: []string{"a b"}})), "tag"},
		{"modify nothing", errOf(NetworkModify(env, NetworkModifyArgs{Name: "test"})), "Please give at least one of the parameters."},
		{"modify unknown", errOf(NetworkModify(env, NetworkModifyArgs{Name: "nope", Gateway: "none"})), "Network 'nope' not found"},
		{"gateway and reserved", errOf(NetworkModify(env, NetworkModifyArgs{Name: "test", Gateway: "198.18.10.2", AddReserved: []string{"198.18.10.9"}})), "Cannot modify gateway and reserved ips at once"},
		{"gateway in use", errOf(NetworkModify(env, NetworkModifyArgs{Name: "test", Gateway: "198.18.10.2"})), "Gateway IP address '198.18.10.2' is already reserved"},
		{"gateway outside (modify)", errOf(NetworkModify(env, NetworkModifyArgs{Name: "test", Gateway: "198.18.9.1"})), "Gateway 198.18.9.1 is not inside 198.18.10.0/24"},
		{"reserve outside (modify)", errOf(NetworkModify(env, NetworkModifyArgs{Name: "test", AddReserved: []string{"198.18.9.1"}})), "198.18.10.0/24 does not contain it"},
		{"remove connected", errOf(NetworkRemove(env, "test")), "Network still connected: network 'test' is connected to the following node groups: default"},
		{"remove unknown", errOf(NetworkRemove(env, "nope")), "Network 'nope' not found"},
		{"rename onto another", errOf(NetworkRename(env, RenameArgs{Name: "test", NewName: "other"})), "Desired new name 'other' clashes with existing network"},
		{"connect bad mode", errOf(NetworkConnect(env, NetworkConnectArgs{Network: "other", Mode: "bonded", Link: "br0"})), "Invalid NIC mode 'bonded'"},
		{"connect bridged without link", errOf(NetworkConnect(Env{State: func() *statefile.State { s := env.State.Clone(); s.Cluster.NICParams = nil; return s }()}, NetworkConnectArgs{Network: "other"})), "Missing bridged NIC link"},
		{"connect bad vlan", errOf(NetworkConnect(env, NetworkConnectArgs{Network: "other", Link: "br0", VLAN: "1a"})), "Specified VLAN parameter is invalid : 1a"},
		{"connect unknown group", errOf(NetworkConnect(env, NetworkConnectArgs{Network: "other", Link: "br0", Groups: []string{"rack9"}})), "Node group 'rack9' not found"},
		{"disconnect in use", errOf(NetworkDisconnect(env, NetworkDisconnectArgs{Network: "test"})), "Conflicting IP addresses found;  remove/modify the corresponding network interfaces (IP addresses from network 'test', which is about to disconnect from node group 'default', are in use: web1: nic0/198.18.10.2)"},
		// NICs.
		{"not connected", errOf(InstanceAdd(env, addArgs("web2", NICSpec{Network: "other", IP: IPPool}))), "No netparams found for network other. Probably not connected to node's node1 nodegroup (default)"},
		{"unknown network", errOf(InstanceAdd(env, addArgs("web2", NICSpec{Network: "nope"}))), "Network 'nope' not found"},
		{"network and link", errOf(InstanceAdd(env, addArgs("web2", NICSpec{Network: "test", Link: "br0"}))), "If network is given, no mode or link is allowed to be passed"},
		{"pool without network", errOf(InstanceAdd(env, addArgs("web2", NICSpec{IP: IPPool}))), "if ip=pool, parameter network must be passed too"},
		{"IP outside the network", errOf(InstanceAdd(env, addArgs("web2", NICSpec{Network: "test", IP: "198.18.11.5"}))), "IP address 198.18.11.5 already in use or does not belong to network test"},
		{"IP in use", errOf(InstanceAdd(env, addArgs("web2", NICSpec{Network: "test", IP: "198.18.10.2"}))), "IP address 198.18.10.2 already in use or does not belong to network test"},
		{"IP externally reserved", errOf(InstanceAdd(env, addArgs("web2", NICSpec{Network: "test", IP: "198.18.10.1"}))), "IP 198.18.10.1 is externally reserved"},
		{"IP of a network, NIC outside", errOf(InstanceAdd(env, addArgs("web2", NICSpec{IP: "198.18.10.77"}))), "The requested IP address (198.18.10.77) belongs to network test, but the target NIC does not."},
		{"modify: link of a networked NIC", errOf(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{Link: "br0"}}}})), "Not allowed to change link or mode of a NIC that is connected to a network"},
		{"modify: into an unconnected network", errOf(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{Network: "other"}}}})), "No netparams found for network other"},
		{"modify: taken IP", errOf(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "add", Index: -1, Spec: NICSpec{Network: "test", IP: "198.18.10.2"}}}})), "already in use or does not belong to network test"},
		{"modify: pool without network", errOf(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{Network: "none", IP: IPPool}}}})), "ip=pool, but no network found"},
		{"modify: auto MAC", errOf(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{MAC: "auto"}}}})), "'auto' is not a valid MAC address when modifying"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	// --no-conflicts-check: externally reserved addresses may be taken,
	// and addresses of a network may go to NICs outside it.
	a := addArgs("web2", NICSpec{Network: "test", IP: "198.18.10.1"}, NICSpec{IP: "198.18.10.77"})
	a.NoConflictsCheck = true
	if _, err := InstanceAdd(env, a); err != nil {
		t.Errorf("with --no-conflicts-check: %v", err)
	}
}

// TestNetworkPoolLifecycle: addresses handed out lowest first, never twice,
// given back by NIC removal, moves and instance removal.
func TestNetworkPoolLifecycle(t *testing.T) {
	env := networkEnv(t)
	st := env.State
	var ips []string
	for _, name := range []string{"web1", "web2", "web3"} {
		p := must(InstanceAdd(env, addArgs(name, NICSpec{Network: "test", IP: IPPool})))
		mustApply(t, p, st)
		nic := st.Instances[name].NICs[0]
		ips = append(ips, nic.IP)
		if nic.Network != "test" || nic.NICParams["link"] != "br100" || nic.NICParams["mode"] != "bridged" || nic.NICParams["vlan"] != ".100" ||
			!strings.HasPrefix(nic.MAC, "aa:00:10:") {
			t.Errorf("%s NIC: %+v", name, nic)
		}
	}
	if !slices.Equal(ips, []string{"198.18.10.2", "198.18.10.3", "198.18.10.4"}) {
		t.Fatalf("allocated %v", ips)
	}
	if held := poolOfNet(t, st, "test").HeldAddrs(); !slices.Equal(held, ips) {
		t.Fatalf("held %v", held)
	}
	// Two NICs of one instance in one plan: two addresses.
	mustApply(t, must(InstanceAdd(env, addArgs("web4", NICSpec{Network: "test", IP: IPPool}, NICSpec{Network: "test", IP: IPPool}))), st)
	if a, b := st.Instances["web4"].NICs[0].IP, st.Instances["web4"].NICs[1].IP; a != "198.18.10.5" || b != "198.18.10.6" {
		t.Errorf("web4: %s %s", a, b)
	}
	// Removal gives back; the lowest free address is handed out next.
	p := must(InstanceRemove(env, "web2", DefaultShutdownTimeout, true))
	if !slices.ContainsFunc(p.Changes, func(c plan.Change) bool { return c.Kind == plan.KindNetwork && c.Name == "test" }) {
		t.Fatalf("remove does not release: %+v", p.Changes)
	}
	mustApply(t, p, st)
	if taken, _ := poolOfNet(t, st, "test").Taken("198.18.10.3"); taken {
		t.Error("198.18.10.3 still taken after web2's removal")
	}
	mustApply(t, must(InstanceAdd(env, addArgs("web5", NICSpec{Network: "test", IP: IPPool}))), st)
	if ip := st.Instances["web5"].NICs[0].IP; ip != "198.18.10.3" {
		t.Errorf("web5 got %s", ip)
	}
	// The guide's move: --net -1:ip=none,network=other gives the address
	// back and takes the other network's netparams.
	mustApply(t, must(NetworkConnect(env, NetworkConnectArgs{Network: "other", Link: "br101"})), st)
	mustApply(t, must(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: -1, Spec: NICSpec{IP: "none", Network: "other"}}}})), st)
	nic := st.Instances["web1"].NICs[0]
	if nic.IP != "" || nic.Network != "other" || nic.NICParams["link"] != "br101" || !strings.HasPrefix(nic.MAC, st.Cluster.MACPrefix) {
		t.Errorf("moved NIC %+v", nic)
	}
	if taken, _ := poolOfNet(t, st, "test").Taken("198.18.10.2"); taken {
		t.Error("the moved NIC's address is still taken")
	}
	// ip=pool in the new network; then an explicit change inside it.
	mustApply(t, must(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{IP: IPPool}}}})), st)
	mustApply(t, must(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "modify", Index: 0, Spec: NICSpec{IP: "198.18.11.200"}}}})), st)
	if held := poolOfNet(t, st, "other").HeldAddrs(); !slices.Equal(held, []string{"198.18.11.200"}) {
		t.Errorf("other holds %v", held)
	}
	// NIC removal gives back.
	mustApply(t, must(InstanceModify(env, ModifyInstanceArgs{Name: "web1", NICs: []NICMod{{Op: "remove", Index: 0}}})), st)
	if held := poolOfNet(t, st, "other").HeldAddrs(); len(held) != 0 {
		t.Errorf("other holds %v after the NIC's removal", held)
	}
	// A full pool is refused.
	mustApply(t, must(NetworkAdd(env, NetworkAddArgs{Name: "tiny", Network: "198.18.12.0/30"})), st)
	mustApply(t, must(NetworkConnect(env, NetworkConnectArgs{Network: "tiny", Link: "br0"})), st)
	mustApply(t, must(InstanceAdd(env, addArgs("t1", NICSpec{Network: "tiny", IP: IPPool}, NICSpec{Network: "tiny", IP: IPPool}))), st)
	if err := errOf(InstanceAdd(env, addArgs("t2", NICSpec{Network: "tiny", IP: IPPool}))); err == nil || !strings.Contains(err.Error(), "Unable to get a free IP for NIC 0 from the address pool: 198.18.12.0/30 is full") {
		t.Errorf("full pool: %v", err)
	}
}

// TestNetworkIPv6Only: an IPv6-only network has no pool (Ganeti #688):
// its NICs take an IPv6 address of its subnet, or none, never ip=pool.
func TestNetworkIPv6Only(t *testing.T) {
	env := networkEnv(t)
	st := env.State
	mustApply(t, must(NetworkAdd(env, NetworkAddArgs{Name: "v6", Network6: "2001:db8:20::/64"})), st)
	mustApply(t, must(NetworkConnect(env, NetworkConnectArgs{Network: "v6", Link: "br6"})), st)
	p := must(InstanceAdd(env, addArgs("web6", NICSpec{Network: "v6", IP: "2001:db8:20::10"}, NICSpec{Network: "v6"})))
	for _, c := range p.Changes {
		if c.Kind == plan.KindNetwork {
			t.Errorf("an IPv6-only network changed: %s", c.After)
		}
	}
	mustApply(t, p, st)
	if nic := st.Instances["web6"].NICs[0]; nic.IP != "2001:db8:20::10" || nic.NICParams["link"] != "br6" {
		t.Errorf("NIC %+v", nic)
	}
	if err := errOf(InstanceAdd(env, addArgs("web7", NICSpec{Network: "v6", IP: IPPool}))); err == nil || !strings.Contains(err.Error(), "is IPv6-only and has no pool") {
		t.Errorf("ip=pool on IPv6: %v", err)
	}
	if err := errOf(InstanceAdd(env, addArgs("web7", NICSpec{Network: "v6", IP: "2001:db8:21::1"}))); err == nil || !strings.Contains(err.Error(), "not in IPv6 subnet 2001:db8:20::/64") {
		t.Errorf("IPv6 outside: %v", err)
	}
	// Dual-stack: an IPv6 address is checked against network6, not the pool.
	mustApply(t, must(NetworkModify(env, NetworkModifyArgs{Name: "test", Network6: "2001:db8:10::/64"})), st)
	if _, err := InstanceAdd(env, addArgs("web8", NICSpec{Network: "test", IP: "2001:db8:10::8"})); err != nil {
		t.Errorf("IPv6 address in a dual-stack network: %v", err)
	}
	if err := errOf(NetworkModify(env, NetworkModifyArgs{Name: "v6", Network6: "none"})); err == nil || !strings.Contains(err.Error(), "IPv6-only") {
		t.Errorf("removing the only subnet: %v", err)
	}
}

// TestNetworkConnectConflicts: connecting refuses a group whose instances
// already use the subnet's addresses on NICs outside the network.
func TestNetworkConnectConflicts(t *testing.T) {
	env := networkEnv(t)
	st := env.State
	mustApply(t, must(InstanceAdd(env, addArgs("web1", NICSpec{IP: "198.18.11.9", Link: "br0"}))), st)
	err := errOf(NetworkConnect(env, NetworkConnectArgs{Network: "other", Link: "br101"}))
	if err == nil || !strings.Contains(err.Error(), "which is about to connect to node group 'default', are in use: web1: nic0/198.18.11.9") {
		t.Errorf("connect conflict: %v", err)
	}
	if _, err := NetworkConnect(env, NetworkConnectArgs{Network: "other", Link: "br101", NoConflictsCheck: true}); err != nil {
		t.Errorf("--no-conflicts-check: %v", err)
	}
	// Connecting again: a warning, nothing changes.
	p := must(NetworkConnect(env, NetworkConnectArgs{Network: "test", Link: "br100"}))
	if len(p.Changes) != 0 || len(p.Warnings) != 1 || p.Warnings[0] != "Network 'test' is already mapped to group 'default'" {
		t.Errorf("connect twice: %v %v", p.Changes, p.Warnings)
	}
	p = must(NetworkDisconnect(env, NetworkDisconnectArgs{Network: "other"}))
	if len(p.Changes) != 0 || len(p.Warnings) != 1 || p.Warnings[0] != "Network 'other' is not mapped to group 'default'" {
		t.Errorf("disconnect unconnected: %v %v", p.Changes, p.Warnings)
	}
}

// TestNetworkAddReservesNodes: the nodes' addresses inside the subnet are
// reserved, unless --no-conflicts-check.
func TestNetworkAddReservesNodes(t *testing.T) {
	env := instanceEnv(t)
	p := must(NetworkAdd(env, NetworkAddArgs{Name: "n", Network: "198.18.0.0/24"}))
	mustApply(t, p, env.State)
	ext := poolOfNet(t, env.State, "n").ExternalAddrs()
	ips := []string{"198.18.0.0"}
	for _, name := range env.State.NodeNames() {
		ips = append(ips, env.State.Nodes[name].PrimaryIP)
	}
	ips = append(ips, "198.18.0.255")
	slices.Sort(ips)
	slices.Sort(ext)
	if !slices.Equal(ext, ips) || len(p.Notes) != len(ips)-2 {
		t.Errorf("external %v, want %v; notes %v", ext, ips, p.Notes)
	}
	p = must(NetworkAdd(env, NetworkAddArgs{Name: "m", Network: "198.18.0.0/24", NoConflictsCheck: true}))
	mustApply(t, p, env.State)
	if ext := poolOfNet(t, env.State, "m").ExternalAddrs(); len(ext) != 2 {
		t.Errorf("--no-conflicts-check reserved %v", ext)
	}
}

// TestNetworkModifyWarnings: as Ganeti, reserving what is reserved and
// releasing what is not are warnings.
func TestNetworkModifyWarnings(t *testing.T) {
	env := networkEnv(t)
	p := must(NetworkModify(env, NetworkModifyArgs{Name: "test", AddReserved: []string{"198.18.10.1"}, RemoveReserved: []string{"198.18.10.9", "198.18.10.255"}}))
	want := []string{"Cannot reserve IP address 198.18.10.1: IP 198.18.10.1 is already externally reserved",
		"Cannot release IP address 198.18.10.9: IP 198.18.10.9 is not externally reserved",
		"Cannot unreserve 198.18.10.255: it is the network or broadcast address of 198.18.10.0/24"}
	if !slices.Equal(p.Warnings, want) {
		t.Errorf("warnings %q", p.Warnings)
	}
	p = must(NetworkModify(env, NetworkModifyArgs{Name: "test", Gateway: "none"}))
	mustApply(t, p, env.State)
	if n := env.State.Networks["test"]; n.Gateway != "" || slices.Contains(poolOfNet(t, env.State, "test").ExternalAddrs(), "198.18.10.1") {
		t.Errorf("gateway none: %+v", n)
	}
}

// TestNetworkRemoveInUse: a network no group is connected to (its group
// was left by the instance's node, say) is still not removed while NICs
// use it.
func TestNetworkRemoveInUse(t *testing.T) {
	env := networkEnv(t)
	mustApply(t, must(InstanceAdd(env, addArgs("web1", NICSpec{Network: "test", IP: IPPool}, NICSpec{Network: "test"}))), env.State)
	delete(env.State.NodeGroups["default"].Networks, "test")
	err := errOf(NetworkRemove(env, "test"))
	if err == nil || !strings.Contains(err.Error(), "Network 'test' is still used by the NICs of instances: web1: 0:198.18.10.2, 1:None") {
		t.Errorf("remove in use: %v", err)
	}
	mustApply(t, must(InstanceRemove(env, "web1", DefaultShutdownTimeout, true)), env.State)
	if _, err := NetworkRemove(env, "test"); err != nil {
		t.Errorf("remove unused: %v", err)
	}
}
