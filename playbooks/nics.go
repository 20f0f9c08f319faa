package playbooks

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/ippool"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// NIC planning: new NICs (instance add, modify --net add), changed ones
// (modify --net N:...) and removed ones, with Ganeti's rules for NICs in a
// network: the NIC takes the NIC parameters the network has in the group
// of the instance's primary node, a MAC with the network's prefix, and an
// address of its pool (ip=pool: the lowest free one) or an address checked
// against it. The networks whose pools change are recorded in the same
// plan as the instance, so an allocation commits with it or not at all;
// the plan's change of the network also makes two jobs allocating from
// one pool take its lock in turn (package job).

// IPPool is the ip= value that takes an address from the network's pool.
const IPPool = "pool"

// nicPlanner plans the NICs of one instance.
type nicPlanner struct {
	env       Env
	inst      string // the instance ("" while it is being added)
	primary   string // its primary node: whose group's netparams apply
	conflicts bool   // Ganeti's conflicts check (off: --no-conflicts-check)
	macs      map[string]string
	ips       map[string]string // addresses of NICs outside any network
	nets      map[string]*statefile.Network
	pools     map[string]*ippool.Pool
	changed   map[string]bool
}

// newNICPlanner plans NICs of instance inst (which keeps NICs keep, for
// MAC uniqueness) on primary.
func newNICPlanner(env Env, inst, primary string, keep []*statefile.NIC, conflicts bool) *nicPlanner {
	np := &nicPlanner{env: env, inst: inst, primary: primary, conflicts: conflicts, macs: map[string]string{}, ips: map[string]string{},
		nets: map[string]*statefile.Network{}, pools: map[string]*ippool.Pool{}, changed: map[string]bool{}}
	for _, i := range env.State.Instances {
		if i.Name == inst {
			continue
		}
		for _, n := range i.NICs {
			np.macs[strings.ToLower(n.MAC)] = i.Name
			if n.IP != "" && n.Network == "" {
				np.ips[n.IP] = i.Name
			}
		}
	}
	for _, n := range keep {
		np.macs[strings.ToLower(n.MAC)] = "this instance"
		if n.IP != "" && n.Network == "" {
			np.ips[n.IP] = "this instance"
		}
	}
	return np
}

// network is the planner's copy of a network (with its pool as changed
// so far); nil pool for an IPv6-only one.
func (np *nicPlanner) network(name string) (*statefile.Network, *ippool.Pool, error) {
	if n, ok := np.nets[name]; ok {
		return n, np.pools[name], nil
	}
	n, err := network(np.env.State, name)
	if err != nil {
		return nil, nil, err
	}
	c := cloneNetwork(n)
	pool, err := poolOf(c)
	if err != nil {
		return nil, nil, prereq(ErrWrongState, "Network '%s': %v", name, err)
	}
	np.nets[name], np.pools[name] = c, pool
	return c, pool, nil
}

// netParams are the NIC parameters of network in the primary's group.
func (np *nicPlanner) netParams(network string) (statefile.Params, error) {
	st := np.env.State
	group := ""
	if n := st.Nodes[np.primary]; n != nil {
		group = n.Group
	}
	if g := st.NodeGroups[group]; g != nil {
		if p, ok := g.Networks[network]; ok {
			return cloneParams(p), nil
		}
	}
	return nil, prereq(ErrWrongInput, "No netparams found for network %s. Probably not connected to node's %s nodegroup (%s): `network connect %s %s`",
		network, np.primary, orNone(group), network, group)
}

// take reserves ip in network for the NIC; check refuses externally
// reserved addresses (off with --no-conflicts-check, as in Ganeti).
func (np *nicPlanner) take(network, ip string) error {
	n, pool, err := np.network(network)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return err
	}
	if a = a.Unmap(); a.Is6() {
		// IPv6 addresses have no pool (Ganeti #688): inside the subnet will do.
		if p, err := netip.ParsePrefix(n.Network6); err == nil && p.Contains(a) {
			return nil
		}
		return fmt.Errorf("not in IPv6 subnet %s", orNone(n.Network6))
	}
	if pool == nil {
		return fmt.Errorf("network %s has no IPv4 subnet", network)
	}
	if !pool.Contains(ip) {
		return fmt.Errorf("not in %s", pool.Subnet())
	}
	if ext, _ := pool.IsReserved(ip, true); ext && np.conflicts {
		return fmt.Errorf("IP %s is externally reserved", ip)
	}
	if err := pool.Reserve(ip, false); err != nil {
		return err
	}
	np.changed[network] = true
	return nil
}

// allocate takes the lowest free address of network's pool.
func (np *nicPlanner) allocate(network string) (string, error) {
	_, pool, err := np.network(network)
	if err != nil {
		return "", err
	}
	if pool == nil {
		return "", fmt.Errorf("network %s is IPv6-only and has no pool: give the NIC an ip=", network)
	}
	ip, err := pool.Allocate()
	if err != nil {
		return "", err
	}
	np.changed[network] = true
	return ip, nil
}

// release gives a NIC's address back to its network's pool. An address
// the pool does not hold (IPv6, outside the subnet, an import's oddity)
// has nothing to release.
func (np *nicPlanner) release(network, ip string) {
	if network == "" || ip == "" {
		return
	}
	_, pool, err := np.network(network)
	if err != nil || pool == nil || !pool.Contains(ip) {
		return
	}
	if pool.Release(ip, false) == nil {
		np.changed[network] = true
	}
}

// record adds the changed networks to the plan, by name.
func (np *nicPlanner) record(p *plan.Plan) error {
	names := make([]string, 0, len(np.changed))
	for n := range np.changed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := np.nets[name]
		pool := np.pools[name]
		c.Reservations, c.ExtReserved = pool.Reservations(), pool.External()
		if err := p.Set(plan.KindNetwork, name, np.env.State.Networks[name], c); err != nil {
			return err
		}
	}
	return nil
}

// conflictingIP refuses an address outside any network that belongs to a
// network connected to the primary's group (Ganeti's CheckForConflictingIp).
func (np *nicPlanner) conflictingIP(ip string) error {
	st := np.env.State
	n := st.Nodes[np.primary]
	if n == nil || st.NodeGroups[n.Group] == nil {
		return nil
	}
	for _, name := range sortedKeys(st.NodeGroups[n.Group].Networks) {
		net := st.Networks[name]
		if net == nil {
			continue
		}
		if pool, err := poolOf(net); err == nil && pool != nil && pool.Contains(ip) {
			return prereq(ErrWrongState, "The requested IP address (%s) belongs to network %s, but the target NIC does not.", ip, name)
		}
	}
	return nil
}

// mac generates a MAC unused in the cluster, with network's prefix if it
// has one, else the cluster's.
func (np *nicPlanner) mac(network string) (string, error) {
	prefix := np.env.State.Cluster.MACPrefix
	if network != "" {
		if n, _, err := np.network(network); err == nil && n.MACPrefix != "" {
			prefix = n.MACPrefix
		}
	}
	m, err := generateMAC(np.env, prefix, np.macs)
	if err == nil {
		np.macs[m] = "this instance"
	}
	return m, err
}

// givenMAC checks a MAC given for NIC i.
func (np *nicPlanner) givenMAC(i int, s string) (string, error) {
	mac := strings.ToLower(s)
	if _, err := net.ParseMAC(mac); err != nil || len(mac) != 17 {
		return "", prereq(ErrWrongInput, "NIC %d: invalid MAC address '%s'", i, s)
	}
	if other, dup := np.macs[mac]; dup {
		return "", prereq(ErrNotUnique, "NIC %d: MAC address %s already in use by %s", i, mac, other)
	}
	np.macs[mac] = "this instance"
	return mac, nil
}

// plainParams are the NIC parameters of a NIC outside any network: the
// given ones over base (the cluster's defaults, or the NIC's own).
func plainParams(i int, base statefile.Params, s NICSpec) (statefile.Params, error) {
	params := statefile.Params{"mode": base["mode"], "link": base["link"]}
	if v, ok := base["vlan"].(string); ok && v != "" {
		params["vlan"] = v
	}
	if s.Mode != "" {
		params["mode"] = s.Mode
	}
	if s.Link != "" {
		params["link"] = s.Link
	}
	switch {
	case isNone(s.VLAN):
		delete(params, "vlan")
	case s.VLAN != "":
		vlan, err := NormalizeVLAN(s.VLAN)
		if err != nil {
			return nil, err
		}
		params["vlan"] = vlan
	}
	mode, _ := params["mode"].(string)
	if mode == "" {
		mode = "bridged"
	}
	params["mode"] = mode
	if !slices.Contains(NICModes, mode) {
		return nil, prereq(ErrWrongInput, "NIC %d: invalid mode '%s' (bridged, routed or openvswitch)", i, mode)
	}
	link, _ := params["link"].(string)
	params["link"] = link
	if link != "" && !validIfName(link) {
		return nil, prereq(ErrWrongInput, "NIC %d: invalid link '%s' (an interface name)", i, link)
	}
	return params, nil
}

// checkIP checks an explicit address for NIC i.
func checkIP(i int, ip string) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", prereq(ErrWrongInput, "NIC %d: invalid IP address '%s'", i, ip)
	}
	return a.Unmap().String(), nil
}

// add plans new NIC i from spec s.
func (np *nicPlanner) add(i int, s NICSpec) (*statefile.NIC, error) {
	netName := s.Network
	if isNone(netName) {
		netName = ""
	}
	nic := &statefile.NIC{Name: s.Name, Network: netName}
	if np.env.NewID != nil {
		nic.UUID = np.env.NewID()
	}
	var err error
	if netName != "" {
		if s.Mode != "" || s.Link != "" {
			return nil, prereq(ErrWrongInput, "If network is given, no mode or link is allowed to be passed")
		}
		if s.VLAN != "" {
			return nil, prereq(ErrWrongInput, "If network is given, no vlan is allowed to be passed: the NIC takes the network's")
		}
		if _, _, err := np.network(netName); err != nil {
			return nil, err
		}
		if nic.NICParams, err = np.netParams(netName); err != nil {
			return nil, err
		}
	} else if nic.NICParams, err = plainParams(i, np.env.State.Cluster.NICParams, s); err != nil {
		return nil, err
	}
	switch ip := strings.ToLower(s.IP); {
	case ip == "" || ip == None:
	case ip == IPPool:
		if netName == "" {
			return nil, prereq(ErrWrongInput, "if ip=pool, parameter network must be passed too")
		}
		if nic.IP, err = np.allocate(netName); err != nil {
			return nil, prereq(ErrWrongState, "Unable to get a free IP for NIC %d from the address pool: %v", i, err)
		}
	default:
		if nic.IP, err = checkIP(i, s.IP); err != nil {
			return nil, err
		}
		if netName != "" {
			if err := np.take(netName, nic.IP); err != nil {
				return nil, prereq(ErrNotUnique, "IP address %s already in use or does not belong to network %s (%v)", nic.IP, netName, err)
			}
		} else if err := np.plainIP(i, nic.IP); err != nil {
			return nil, err
		}
	}
	if nic.NICParams["mode"] == "routed" && nic.IP == "" && netName == "" {
		return nil, prereq(ErrWrongInput, "Routed nic mode requires an ip address if not attached to a network")
	}
	switch mac := strings.ToLower(s.MAC); mac {
	case "", "generate", "auto":
		nic.MAC, err = np.mac(netName)
	default:
		nic.MAC, err = np.givenMAC(i, s.MAC)
	}
	if err != nil {
		return nil, err
	}
	return nic, nil
}

// plainIP checks an address of a NIC outside any network: unused by other
// such NICs, and (with the conflicts check) not one of a network connected
// to the primary's group.
func (np *nicPlanner) plainIP(i int, ip string) error {
	if other, dup := np.ips[ip]; dup {
		return prereq(ErrNotUnique, "NIC %d: IP address %s already in use by %s", i, ip, other)
	}
	if np.conflicts {
		if err := np.conflictingIP(ip); err != nil {
			return err
		}
	}
	np.ips[ip] = "this instance"
	return nil
}

// modify plans changing NIC i (old) by spec s, as Ganeti's
// _PrepareNicModification: a NIC moved into a network takes its netparams
// and, when the MAC prefix differs, a new MAC; a changed (ip, network) pair
// reserves the new address and releases the old one.
func (np *nicPlanner) modify(i int, old *statefile.NIC, s NICSpec) (*statefile.NIC, error) {
	c := *old
	c.NICParams = cloneParams(old.NICParams)
	newNet := old.Network
	if s.Network != "" {
		newNet = s.Network
		if isNone(newNet) {
			newNet = ""
		} else if s.Mode != "" || s.Link != "" {
			return nil, prereq(ErrWrongInput, "If network is given mode or link should not")
		}
	}
	var err error
	if newNet != "" {
		if _, _, err := np.network(newNet); err != nil {
			return nil, err
		}
		if s.VLAN != "" {
			return nil, prereq(ErrWrongInput, "If network is given, no vlan is allowed to be passed: the NIC takes the network's")
		}
		if c.NICParams, err = np.netParams(newNet); err != nil {
			return nil, err
		}
	} else if c.NICParams, err = plainParams(i, old.NICParams, s); err != nil {
		return nil, err
	}
	newIP := old.IP
	if s.IP != "" {
		newIP = s.IP
		if isNone(newIP) {
			newIP = ""
		}
	}
	if c.NICParams["mode"] == "routed" && newIP == "" && newNet == "" {
		return nil, prereq(ErrWrongInput, "Cannot set the NIC IP address to None on a routed NIC if not attached to a network")
	}
	switch mac := strings.ToLower(s.MAC); {
	case mac == "auto":
		return nil, prereq(ErrWrongInput, "'auto' is not a valid MAC address when modifying an existing NIC")
	case mac == "generate":
		delete(np.macs, strings.ToLower(old.MAC))
		if c.MAC, err = np.mac(newNet); err != nil {
			return nil, err
		}
	case mac != "" && mac != strings.ToLower(old.MAC):
		if c.MAC, err = np.givenMAC(i, s.MAC); err != nil {
			return nil, err
		}
	case mac == "" && newNet != old.Network && np.prefix(newNet) != np.prefix(old.Network):
		if c.MAC, err = np.mac(newNet); err != nil {
			return nil, err
		}
	}
	if strings.EqualFold(newIP, IPPool) || newIP != old.IP || newNet != old.Network {
		switch {
		case strings.EqualFold(newIP, IPPool):
			if newNet == "" {
				return nil, prereq(ErrWrongInput, "ip=pool, but no network found")
			}
			if newIP, err = np.allocate(newNet); err != nil {
				return nil, prereq(ErrWrongState, "Unable to get a free IP from the address pool: %v", err)
			}
		case newIP != "":
			if newIP, err = checkIP(i, newIP); err != nil {
				return nil, err
			}
			if newNet != "" {
				if err := np.take(newNet, newIP); err != nil {
					return nil, prereq(ErrNotUnique, "IP %s not available in network %s (%v)", newIP, newNet, err)
				}
			} else if err := np.plainIP(i, newIP); err != nil {
				return nil, err
			}
		}
		np.release(old.Network, old.IP)
	} else if old.Network != "" && (s.Link != "" || s.Mode != "") {
		return nil, prereq(ErrWrongInput, "Not allowed to change link or mode of a NIC that is connected to a network")
	}
	c.IP, c.Network = newIP, newNet
	if s.Name != "" {
		c.Name = strings.TrimSpace(s.Name)
		if isNone(c.Name) {
			c.Name = ""
		}
	}
	return &c, nil
}

// prefix is the MAC prefix NICs of network get ("" network: the cluster's).
func (np *nicPlanner) prefix(network string) string {
	if network != "" {
		if n, _, err := np.network(network); err == nil && n.MACPrefix != "" {
			return n.MACPrefix
		}
	}
	return np.env.State.Cluster.MACPrefix
}

// remove gives a removed NIC's address back.
func (np *nicPlanner) remove(nic *statefile.NIC) { np.release(nic.Network, nic.IP) }
