package playbooks

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks/ippool"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// The network opcodes (gnt-network). A network is state only: an IPv4 pool
// (subnet, gateway, reservations), IPv6 information for the NICs' scripts,
// a MAC prefix, and per node group the NIC parameters (mode, link, vlan)
// its NICs get there. Nodes are never touched: bridges are the admin's.
const (
	OpNetworkAdd        plan.OpID = "NETWORK_ADD"
	OpNetworkSetParams  plan.OpID = "NETWORK_SET_PARAMS"
	OpNetworkRemove     plan.OpID = "NETWORK_REMOVE"
	OpNetworkRename     plan.OpID = "NETWORK_RENAME"
	OpNetworkConnect    plan.OpID = "NETWORK_CONNECT"
	OpNetworkDisconnect plan.OpID = "NETWORK_DISCONNECT"
)

var (
	NetworkAddOp = define(&Opcode[NetworkAddArgs]{ID: OpNetworkAdd, Command: "network add",
		Subject: func(a NetworkAddArgs) string { return a.Name }, Plan: NetworkAdd})
	NetworkModifyOp = define(&Opcode[NetworkModifyArgs]{ID: OpNetworkSetParams, Command: "network modify",
		Subject: func(a NetworkModifyArgs) string { return a.Name }, Plan: NetworkModify})
	NetworkRemoveOp = define(&Opcode[string]{ID: OpNetworkRemove, Command: "network remove", Subject: itself, Plan: NetworkRemove})
	NetworkRenameOp = define(&Opcode[RenameArgs]{ID: OpNetworkRename, Command: "network rename",
		Subject: func(a RenameArgs) string { return a.Name + " " + a.NewName }, Plan: NetworkRename})
	NetworkConnectOp = define(&Opcode[NetworkConnectArgs]{ID: OpNetworkConnect, Command: "network connect",
		Subject: func(a NetworkConnectArgs) string { return strings.Join(append([]string{a.Network}, a.Groups...), " ") }, Plan: NetworkConnect})
	NetworkDisconnectOp = define(&Opcode[NetworkDisconnectArgs]{ID: OpNetworkDisconnect, Command: "network disconnect",
		Subject: func(a NetworkDisconnectArgs) string {
			return strings.Join(append([]string{a.Network}, a.Groups...), " ")
		}, Plan: NetworkDisconnect})
)

// ErrNotUnique is Ganeti's resource_not_unique: an address or name taken.
const ErrNotUnique = "resource_not_unique"

// None is the value that clears an optional setting ("--gateway=none").
const None = "none"

func isNone(s string) bool { return strings.EqualFold(s, None) }

// NetworkAddArgs are network add's settings. Network (the IPv4 subnet) or
// Network6 must be given; a network with Network6 only has no pool.
type NetworkAddArgs struct {
	Name             string
	Network, Gateway string
	Network6         string
	Gateway6         string
	MACPrefix        string
	Reserved         []string // --add-reserved-ips
	Tags             []string
	NoConflictsCheck bool // --no-conflicts-check: the nodes' addresses are not reserved
}

// NetworkAdd plans a new network: its pool with the network and broadcast
// addresses, the gateway, the given addresses and (unless told not to)
// the nodes' addresses inside the subnet externally reserved, as Ganeti
// does.
func NetworkAdd(env Env, a NetworkAddArgs) (*plan.Plan, error) {
	st := env.State
	if a.Name == "" {
		return nil, prereq(ErrWrongInput, "No network name given")
	}
	if n, ok := st.Networks[a.Name]; ok {
		return nil, prereq(ErrExists, "Desired network name '%s' already exists as a network (UUID: %s)", a.Name, n.UUID)
	}
	if a.Network == "" && a.Network6 == "" {
		return nil, prereq(ErrWrongInput, "Network must be given (--network SUBNET, or --network6 SUBNET6 alone for an IPv6-only network)")
	}
	n := &statefile.Network{Name: a.Name, Tags: []string{}}
	if env.NewID != nil {
		n.UUID = env.NewID()
	}
	for _, t := range a.Tags {
		if err := inventory.ValidTag(t); err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		if !slices.Contains(n.Tags, t) {
			n.Tags = append(n.Tags, t)
		}
	}
	sort.Strings(n.Tags)
	var err error
	if a.MACPrefix != "" {
		if n.MACPrefix, err = MACPrefix(a.MACPrefix); err != nil {
			return nil, err
		}
	}
	if n.Network6, n.Gateway6, err = checkIPv6(a.Network6, a.Gateway6); err != nil {
		return nil, err
	}
	p := plan.New(plan.Op{ID: OpNetworkAdd, Kind: plan.KindNetwork, Name: a.Name, Args: []string{a.Name}}, st.Lineage, st.Serial)
	switch {
	case a.Network != "":
		if a.Gateway != "" {
			if n.Gateway, err = ipv4(a.Gateway, "gateway"); err != nil {
				return nil, err
			}
		}
		pool, err := ippool.Init(a.Network, n.Gateway)
		if err != nil {
			return nil, prereq(ErrWrongInput, "Cannot create IP address pool for network '%s': %v", a.Name, err)
		}
		n.Network = pool.Subnet().String()
		if !a.NoConflictsCheck {
			// As Ganeti: the nodes' addresses are never handed to instances.
			for _, name := range st.NodeNames() {
				nd := st.Nodes[name]
				for _, ip := range uniq(nd.PrimaryIP, nd.SecondaryIP) {
					if !pool.Contains(ip) {
						continue
					}
					if err := pool.Reserve(ip, true); err != nil {
						p.Warnings = append(p.Warnings, fmt.Sprintf("Cannot reserve IP address '%s' of node '%s': %v", ip, name, err))
						continue
					}
					p.Notes = append(p.Notes, fmt.Sprintf("Reserved IP address of node '%s' (%s)", name, ip))
				}
			}
		}
		for _, ip := range a.Reserved {
			if err := reserveExternal(pool, ip); err != nil {
				return nil, prereq(ErrWrongInput, "Cannot reserve IP address '%s': %v", ip, err)
			}
		}
		n.Reservations, n.ExtReserved = pool.Reservations(), pool.External()
	case a.Gateway != "" || len(a.Reserved) > 0:
		return nil, prereq(ErrWrongInput, "A gateway and reserved IPs need an IPv4 subnet (--network); this network is IPv6-only")
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Set(plan.KindNetwork, a.Name, nil, n)
}

// reserveExternal reserves a user-given address: an IPv4 address of the
// subnet that is neither its network nor its broadcast address.
func reserveExternal(pool *ippool.Pool, ip string) error {
	addr, err := ipv4(ip, "address")
	if err != nil {
		return err
	}
	if !pool.Contains(addr) {
		return fmt.Errorf("%s does not contain %s", pool.Subnet(), addr)
	}
	if pool.IsNetworkOrBroadcast(addr) {
		return fmt.Errorf("%s is the network or broadcast address of %s", addr, pool.Subnet())
	}
	return pool.Reserve(addr, true)
}

// ipv4 checks an IPv4 address and gives its canonical form.
func ipv4(s, what string) (string, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Unmap().Is4() {
		return "", prereq(ErrWrongInput, "Invalid IPv4 %s '%s'", what, s)
	}
	return a.Unmap().String(), nil
}

// checkIPv6 checks an IPv6 subnet and gateway (either may be ""): the
// gateway inside the subnet, or link-local (Ganeti #680).
func checkIPv6(subnet, gateway string) (string, string, error) {
	var net6 netip.Prefix
	if subnet != "" {
		p, err := ippool.ParseSubnet6(subnet)
		if err != nil {
			return "", "", prereq(ErrWrongInput, "%v", err)
		}
		net6, subnet = p, p.String()
	}
	if gateway != "" {
		g, err := netip.ParseAddr(strings.TrimSpace(gateway))
		if err != nil || !g.Is6() || g.Is4In6() {
			return "", "", prereq(ErrWrongInput, "Invalid IPv6 gateway '%s'", gateway)
		}
		if net6.IsValid() && !net6.Contains(g) && !g.IsLinkLocalUnicast() {
			return "", "", prereq(ErrWrongInput, "IPv6 gateway %s is neither inside %s nor link-local", g, net6)
		}
		gateway = g.String()
	}
	return subnet, gateway, nil
}

var macPrefixRE = regexp.MustCompile(`^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$`)

// MACPrefix normalises a three-octet MAC prefix ("AA:00:01" -> "aa:00:01").
func MACPrefix(s string) (string, error) {
	m := strings.ToLower(strings.TrimSpace(s))
	if !macPrefixRE.MatchString(m) {
		return "", prereq(ErrWrongInput, "Invalid MAC address prefix '%s'", s)
	}
	return m, nil
}

func uniq(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// NetworkModifyArgs are network modify's changes: "" leaves a setting,
// "none" clears it.
type NetworkModifyArgs struct {
	Name                        string
	Gateway, MACPrefix          string
	Network6, Gateway6          string
	AddReserved, RemoveReserved []string
}

// NetworkModify plans changing a network's settings (not its subnet: that
// would renumber its instances; Ganeti refuses it too). As in Ganeti,
// addresses that cannot be reserved or released are warnings.
func NetworkModify(env Env, a NetworkModifyArgs) (*plan.Plan, error) {
	st := env.State
	n, err := network(st, a.Name)
	if err != nil {
		return nil, err
	}
	if a.Gateway == "" && a.MACPrefix == "" && a.Network6 == "" && a.Gateway6 == "" && a.AddReserved == nil && a.RemoveReserved == nil {
		return nil, prereq(ErrWrongInput, "Please give at least one of the parameters.")
	}
	if a.Gateway != "" && (len(a.AddReserved) > 0 || len(a.RemoveReserved) > 0) {
		return nil, prereq(ErrWrongInput, "Cannot modify gateway and reserved ips at once")
	}
	c := cloneNetwork(n)
	p := plan.New(plan.Op{ID: OpNetworkSetParams, Kind: plan.KindNetwork, Name: n.Name, Args: []string{n.Name}}, st.Lineage, st.Serial)
	warn := func(format string, args ...any) { p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...)) }
	pool, err := poolOf(n)
	if err != nil {
		return nil, prereq(ErrWrongState, "Network '%s': %v", n.Name, err)
	}
	if pool == nil && (a.Gateway != "" || len(a.AddReserved) > 0 || len(a.RemoveReserved) > 0) {
		return nil, prereq(ErrWrongInput, "Network '%s' is IPv6-only: it has no IPv4 gateway or reserved IPs", n.Name)
	}
	if a.Gateway != "" {
		gw := ""
		if !isNone(a.Gateway) {
			if gw, err = ipv4(a.Gateway, "gateway"); err != nil {
				return nil, err
			}
			if !pool.Contains(gw) {
				return nil, prereq(ErrWrongInput, "Gateway %s is not inside %s", gw, pool.Subnet())
			}
			if pool.IsNetworkOrBroadcast(gw) {
				return nil, prereq(ErrWrongInput, "Gateway %s is the network or broadcast address of %s", gw, pool.Subnet())
			}
			if used, _ := pool.IsReserved(gw, false); used {
				return nil, prereq(ErrWrongState, "Gateway IP address '%s' is already reserved", gw)
			}
		}
		if gw == n.Gateway {
			warn("Gateway is already %s", orNone(gw))
		} else {
			if gw != "" {
				if ext, _ := pool.IsReserved(gw, true); !ext {
					_ = pool.Reserve(gw, true)
				}
			}
			if n.Gateway != "" {
				_ = pool.Release(n.Gateway, true)
			}
			c.Gateway = gw
		}
	}
	for _, ip := range a.AddReserved {
		addr, err := ipv4(ip, "address")
		if err != nil {
			return nil, err
		}
		if !pool.Contains(addr) {
			return nil, prereq(ErrWrongInput, "Cannot reserve IP address %s: %s does not contain it", addr, pool.Subnet())
		}
		if err := pool.Reserve(addr, true); err != nil {
			warn("Cannot reserve IP address %s: %v", addr, err)
		}
	}
	for _, ip := range a.RemoveReserved {
		addr, err := ipv4(ip, "address")
		if err != nil {
			return nil, err
		}
		switch {
		case addr == c.Gateway:
			warn("Cannot unreserve Gateway's IP")
		case pool.IsNetworkOrBroadcast(addr):
			warn("Cannot unreserve %s: it is the network or broadcast address of %s", addr, pool.Subnet())
		default:
			if err := pool.Release(addr, true); err != nil {
				warn("Cannot release IP address %s: %v", addr, err)
			}
		}
	}
	if pool != nil {
		c.Reservations, c.ExtReserved = pool.Reservations(), pool.External()
	}
	if a.MACPrefix != "" {
		c.MACPrefix = ""
		if !isNone(a.MACPrefix) {
			if c.MACPrefix, err = MACPrefix(a.MACPrefix); err != nil {
				return nil, err
			}
		}
	}
	net6, gw6 := c.Network6, c.Gateway6
	if a.Network6 != "" {
		net6 = ""
		if !isNone(a.Network6) {
			net6 = a.Network6
		}
	}
	if a.Gateway6 != "" {
		gw6 = ""
		if !isNone(a.Gateway6) {
			gw6 = a.Gateway6
		}
	}
	if c.Network6, c.Gateway6, err = checkIPv6(net6, gw6); err != nil {
		return nil, err
	}
	if c.Network == "" && c.Network6 == "" {
		return nil, prereq(ErrWrongInput, "Network '%s' is IPv6-only: its IPv6 subnet cannot be removed", n.Name)
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Set(plan.KindNetwork, n.Name, n, c)
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// NetworkRemove plans removing a network no group is connected to and no
// NIC uses.
func NetworkRemove(env Env, name string) (*plan.Plan, error) {
	st := env.State
	n, err := network(st, name)
	if err != nil {
		return nil, err
	}
	if groups := NetworkGroups(st, n.Name); len(groups) > 0 {
		return nil, prereq(ErrWrongState, "Network still connected: network '%s' is connected to the following node groups: %s (disconnect it first)", n.Name, strings.Join(groups, ", "))
	}
	if users := NetworkUsers(st, n.Name); len(users) > 0 {
		var parts []string
		for _, u := range users {
			parts = append(parts, u.String())
		}
		return nil, prereq(ErrWrongState, "Network '%s' is still used by the NICs of instances: %s", n.Name, strings.Join(parts, "; "))
	}
	p := plan.New(plan.Op{ID: OpNetworkRemove, Kind: plan.KindNetwork, Name: n.Name, Args: []string{n.Name}}, st.Lineage, st.Serial)
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Delete(plan.KindNetwork, n.Name, n)
}

// NetworkRename plans renaming a network. Groups and NICs name it, so
// every group connected to it and every instance with a NIC in it change
// with it.
func NetworkRename(env Env, a RenameArgs) (*plan.Plan, error) {
	st := env.State
	n, err := network(st, a.Name)
	if err != nil {
		return nil, err
	}
	if o, ok := st.Networks[a.NewName]; ok {
		return nil, prereq(ErrExists, "Desired new name '%s' clashes with existing network (UUID: %s)", a.NewName, o.UUID)
	}
	if a.NewName == "" {
		return nil, prereq(ErrWrongInput, "No new name given")
	}
	p := plan.New(plan.Op{ID: OpNetworkRename, Kind: plan.KindNetwork, Name: n.Name, Args: []string{n.Name, a.NewName}}, st.Lineage, st.Serial)
	c := cloneNetwork(n)
	c.Name = a.NewName
	if err := p.Delete(plan.KindNetwork, n.Name, n); err != nil {
		return nil, err
	}
	if err := p.Set(plan.KindNetwork, c.Name, nil, c); err != nil {
		return nil, err
	}
	for _, g := range NetworkGroups(st, n.Name) {
		grp := st.NodeGroups[g]
		gc := cloneGroup(grp)
		gc.Networks[a.NewName] = gc.Networks[n.Name]
		delete(gc.Networks, n.Name)
		if err := p.Set(plan.KindNodeGroup, g, grp, gc); err != nil {
			return nil, err
		}
	}
	for _, name := range st.InstanceNames() {
		inst := st.Instances[name]
		if !slices.ContainsFunc(inst.NICs, func(nic *statefile.NIC) bool { return nic.Network == n.Name }) {
			continue
		}
		ic := cloneInstance(inst)
		for _, nic := range ic.NICs {
			if nic.Network == n.Name {
				nic.Network = a.NewName
			}
		}
		if err := p.Set(plan.KindInstance, name, inst, ic); err != nil {
			return nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// NetworkConnectArgs connect Network to Groups (none: every group) with
// the NIC parameters its NICs get there; "" takes the cluster's default.
type NetworkConnectArgs struct {
	Network          string
	Groups           []string
	Mode, Link, VLAN string
	NoConflictsCheck bool
}

// NetworkConnect plans connecting a network to node groups. A group
// already connected is left as it is (a warning, as in Ganeti); unless
// told not to, a group whose instances already use addresses of the
// subnet on other NICs is refused.
func NetworkConnect(env Env, a NetworkConnectArgs) (*plan.Plan, error) {
	st := env.State
	n, err := network(st, a.Network)
	if err != nil {
		return nil, err
	}
	params, err := ConnectParams(st, a)
	if err != nil {
		return nil, err
	}
	groups, err := targetGroups(st, a.Groups)
	if err != nil {
		return nil, err
	}
	pool, err := poolOf(n)
	if err != nil {
		return nil, prereq(ErrWrongState, "Network '%s': %v", n.Name, err)
	}
	p := plan.New(plan.Op{ID: OpNetworkConnect, Kind: plan.KindNetwork, Name: n.Name, Args: append([]string{n.Name}, groups...)}, st.Lineage, st.Serial)
	for _, name := range groups {
		g := st.NodeGroups[name]
		if _, ok := g.Networks[n.Name]; ok {
			p.Warnings = append(p.Warnings, fmt.Sprintf("Network '%s' is already mapped to group '%s'", n.Name, g.Name))
			continue
		}
		if !a.NoConflictsCheck && pool != nil {
			if err := conflictCheck(st, n.Name, g.Name, "connect to", func(nic *statefile.NIC) bool {
				return nic.Network != n.Name && nic.IP != "" && pool.Contains(nic.IP)
			}); err != nil {
				return nil, err
			}
		}
		c := cloneGroup(g)
		if c.Networks == nil {
			c.Networks = map[string]statefile.Params{}
		}
		c.Networks[n.Name] = cloneParams(params)
		if err := p.Set(plan.KindNodeGroup, g.Name, g, c); err != nil {
			return nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// NICModes are the NIC modes Ganeti knows.
var NICModes = []string{"bridged", "routed", "openvswitch"}

// ConnectParams are the netparams a connection sets: the given ones over
// the cluster's NIC defaults, checked as Ganeti checks NIC parameters.
func ConnectParams(st *statefile.State, a NetworkConnectArgs) (statefile.Params, error) {
	mode, link := a.Mode, a.Link
	if mode == "" {
		mode, _ = st.Cluster.NICParams["mode"].(string)
	}
	if mode == "" {
		mode = "bridged"
	}
	if link == "" {
		link, _ = st.Cluster.NICParams["link"].(string)
	}
	if !slices.Contains(NICModes, mode) {
		return nil, prereq(ErrWrongInput, "Invalid NIC mode '%s' (%s)", mode, strings.Join(NICModes, ", "))
	}
	if mode == "bridged" && link == "" {
		return nil, prereq(ErrWrongInput, "Missing bridged NIC link")
	}
	if link != "" && !validIfName(link) {
		return nil, prereq(ErrWrongInput, "Invalid NIC link '%s' (an interface name)", link)
	}
	vlan, err := NormalizeVLAN(a.VLAN)
	if err != nil {
		return nil, err
	}
	return statefile.Params{"mode": mode, "link": link, "vlan": vlan}, nil
}

var vlanRE = regexp.MustCompile(`^(\.[0-9]+(:[0-9]+)*|:[0-9]+(:[0-9]+)*)$`)

// NormalizeVLAN checks a vlan NIC parameter as Ganeti does: ".N" (an
// untagged access port, optionally followed by ":M..." tagged ones),
// ":N:M" (tagged only), or "N" (read as ".N").
func NormalizeVLAN(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.Trim(v, "0123456789") == "" {
		v = "." + v
	}
	if !vlanRE.MatchString(v) {
		return "", prereq(ErrWrongInput, "Specified VLAN parameter is invalid : %s", v)
	}
	return v, nil
}

// targetGroups are the named groups, checked, or every group sorted.
func targetGroups(st *statefile.State, names []string) ([]string, error) {
	if len(names) == 0 {
		var all []string
		for g := range st.NodeGroups {
			all = append(all, g)
		}
		sort.Strings(all)
		return all, nil
	}
	var out []string
	for _, name := range names {
		g, err := nodeGroup(st, name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, g.Name) {
			out = append(out, g.Name)
		}
	}
	return out, nil
}

// conflictCheck refuses, with Ganeti's messages, when NICs of the group's
// instances match conflict: addresses of the network in use elsewhere
// (connect), or NICs in the network (disconnect).
func conflictCheck(st *statefile.State, network, group, action string, conflict func(*statefile.NIC) bool) error {
	var found []string
	for _, name := range GroupInstances(st, group) {
		var nics []string
		for i, nic := range st.Instances[name].NICs {
			if conflict(nic) {
				nics = append(nics, fmt.Sprintf("nic%d/%s", i, orNone(nic.IP)))
			}
		}
		if len(nics) > 0 {
			found = append(found, name+": "+strings.Join(nics, ", "))
		}
	}
	if len(found) == 0 {
		return nil
	}
	return prereq(ErrWrongState, "Conflicting IP addresses found;  remove/modify the corresponding network interfaces (IP addresses from network '%s', which is about to %s node group '%s', are in use: %s)",
		network, action, group, strings.Join(found, ", "))
}

// NetworkDisconnectArgs disconnect Network from Groups (none: every group).
type NetworkDisconnectArgs struct {
	Network string
	Groups  []string
}

// NetworkDisconnect plans disconnecting a network from node groups whose
// instances have no NIC in it; a group not connected is a warning.
func NetworkDisconnect(env Env, a NetworkDisconnectArgs) (*plan.Plan, error) {
	st := env.State
	n, err := network(st, a.Network)
	if err != nil {
		return nil, err
	}
	groups, err := targetGroups(st, a.Groups)
	if err != nil {
		return nil, err
	}
	p := plan.New(plan.Op{ID: OpNetworkDisconnect, Kind: plan.KindNetwork, Name: n.Name, Args: append([]string{n.Name}, groups...)}, st.Lineage, st.Serial)
	for _, name := range groups {
		g := st.NodeGroups[name]
		if _, ok := g.Networks[n.Name]; !ok {
			p.Warnings = append(p.Warnings, fmt.Sprintf("Network '%s' is not mapped to group '%s'", n.Name, g.Name))
			continue
		}
		if err := conflictCheck(st, n.Name, g.Name, "disconnect from", func(nic *statefile.NIC) bool { return nic.Network == n.Name }); err != nil {
			return nil, err
		}
		c := cloneGroup(g)
		delete(c.Networks, n.Name)
		if err := p.Set(plan.KindNodeGroup, g.Name, g, c); err != nil {
			return nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// network finds a network by name.
func network(st *statefile.State, name string) (*statefile.Network, error) {
	if n, ok := st.Networks[name]; ok {
		return n, nil
	}
	return nil, prereq(ErrUnknownEntity, "Network '%s' not found", name)
}

// NetworkPool is the IPv4 pool of a network, nil for an IPv6-only one.
func NetworkPool(n *statefile.Network) (*ippool.Pool, error) { return poolOf(n) }

func poolOf(n *statefile.Network) (*ippool.Pool, error) {
	if n.Network == "" {
		return nil, nil
	}
	return ippool.New(n.Network, n.Reservations, n.ExtReserved)
}

// NetworkGroups are the groups a network is connected to, sorted.
func NetworkGroups(st *statefile.State, name string) []string {
	var out []string
	for g, grp := range st.NodeGroups {
		if _, ok := grp.Networks[name]; ok {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// NICUse is an instance's NICs in a network: index and address.
type NICUse struct {
	Instance string
	NICs     []int
	IPs      []string // "" for a NIC without an address
}

// String is Ganeti's "inst1: 0:198.18.10.2, 1:None".
func (u NICUse) String() string {
	parts := make([]string, len(u.NICs))
	for i, idx := range u.NICs {
		parts[i] = fmt.Sprintf("%d:%s", idx, orNone(u.IPs[i]))
	}
	return u.Instance + ": " + strings.Join(parts, ", ")
}

// NetworkUsers are the instances with NICs in a network, by name.
func NetworkUsers(st *statefile.State, name string) []NICUse {
	var out []NICUse
	for _, iname := range st.InstanceNames() {
		u := NICUse{Instance: iname}
		for i, nic := range st.Instances[iname].NICs {
			if nic.Network == name {
				u.NICs = append(u.NICs, i)
				u.IPs = append(u.IPs, nic.IP)
			}
		}
		if len(u.NICs) > 0 {
			out = append(out, u)
		}
	}
	return out
}

func cloneNetwork(n *statefile.Network) *statefile.Network {
	c := *n
	c.Tags = cloneTags(n.Tags)
	return &c
}
