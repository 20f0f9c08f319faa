package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/statefile"
)

// NetworkCmd is gnt-network: IP networks, their pools and their
// connections to node groups.
type NetworkCmd struct {
	Add        NetworkAddCmd        `cmd:"" help:"Create a network: an IPv4 pool (or IPv6 only), a gateway, a MAC prefix."`
	Remove     NetworkRemoveCmd     `cmd:"" help:"Remove a network no group is connected to and no NIC uses."`
	Modify     NetworkModifyCmd     `cmd:"" help:"Change a network's gateway, reserved IPs, MAC prefix or IPv6 settings."`
	Rename     NetworkRenameCmd     `cmd:"" help:"Rename a network."`
	Connect    NetworkConnectCmd    `cmd:"" help:"Connect a network to node groups (all if none given) with NIC parameters."`
	Disconnect NetworkDisconnectCmd `cmd:"" help:"Disconnect a network from node groups (all if none given)."`
	List       NetworkListCmd       `cmd:"" help:"List networks."`
	ListFields NetworkFieldsCmd     `cmd:"" name:"list-fields" help:"List the fields network list knows."`
	Info       NetworkInfoCmd       `cmd:"" help:"Show networks: settings, pool usage, groups and instances."`
	AddTags    TagsAddCmd           `cmd:"" name:"add-tags" help:"Add tags to a network."`
	RemoveTags TagsRemoveCmd        `cmd:"" name:"remove-tags" help:"Remove tags from a network."`
	ListTags   TagsListCmd          `cmd:"" name:"list-tags" help:"List a network's tags."`
}

// NetworkAddCmd is gnt-network add.
type NetworkAddCmd struct {
	Network          string `name:"network" help:"IPv4 subnet in CIDR notation (/16 to /30); leave it out for an IPv6-only network."`
	Gateway          string `name:"gateway" help:"IPv4 gateway (reserved in the pool)."`
	Network6         string `name:"network6" help:"IPv6 subnet in CIDR notation."`
	Gateway6         string `name:"gateway6" help:"IPv6 gateway (inside network6, or link-local)."`
	MACPrefix        string `name:"mac-prefix" help:"Three-octet MAC prefix of the network's NICs (aa:00:01)."`
	AddReservedIPs   string `name:"add-reserved-ips" help:"Addresses to reserve: IP,IP,..."`
	NoConflictsCheck bool   `name:"no-conflicts-check" help:"Do not reserve the nodes' addresses inside the subnet."`
	Tags             string `name:"tags" help:"Tags: TAG,TAG,..."`
	Name             string `arg:""`
}

func (c *NetworkAddCmd) Run(ctx context.Context, g *Globals) error {
	if err := validName("network", c.Name); err != nil {
		return err
	}
	if c.Network == "" && c.Network6 == "" {
		return invalid("The --network option must be given (or --network6 alone, for an IPv6-only network)")
	}
	return g.run(ctx, playbooks.NetworkAddOp.With(playbooks.NetworkAddArgs{Name: c.Name, Network: c.Network, Gateway: c.Gateway,
		Network6: c.Network6, Gateway6: c.Gateway6, MACPrefix: c.MACPrefix, Reserved: splitList(c.AddReservedIPs),
		Tags: splitList(c.Tags), NoConflictsCheck: c.NoConflictsCheck}))
}

// NetworkModifyCmd is gnt-network modify.
type NetworkModifyCmd struct {
	Gateway           string `name:"gateway" help:"New IPv4 gateway, or none."`
	AddReservedIPs    string `name:"add-reserved-ips" help:"Addresses to reserve: IP,IP,..."`
	RemoveReservedIPs string `name:"remove-reserved-ips" help:"Addresses to release: IP,IP,..."`
	MACPrefix         string `name:"mac-prefix" help:"New MAC prefix, or none."`
	Network6          string `name:"network6" help:"New IPv6 subnet, or none."`
	Gateway6          string `name:"gateway6" help:"New IPv6 gateway, or none."`
	Name              string `arg:""`
}

func (c *NetworkModifyCmd) Run(ctx context.Context, g *Globals) error {
	a := playbooks.NetworkModifyArgs{Name: c.Name, Gateway: c.Gateway, MACPrefix: c.MACPrefix, Network6: c.Network6, Gateway6: c.Gateway6,
		AddReserved: splitList(c.AddReservedIPs), RemoveReserved: splitList(c.RemoveReservedIPs)}
	if a.Gateway == "" && a.MACPrefix == "" && a.Network6 == "" && a.Gateway6 == "" && a.AddReserved == nil && a.RemoveReserved == nil {
		return invalid("Please give at least one of the parameters.")
	}
	return g.run(ctx, playbooks.NetworkModifyOp.With(a))
}

// NetworkRemoveCmd is gnt-network remove.
type NetworkRemoveCmd struct {
	Force bool   `short:"f" name:"force" help:"Accepted for compatibility (remove asks nothing)."`
	Name  string `arg:""`
}

func (c *NetworkRemoveCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.NetworkRemoveOp.With(c.Name))
}

// NetworkRenameCmd is gnt-network rename.
type NetworkRenameCmd struct {
	Name    string `arg:""`
	NewName string `arg:""`
}

func (c *NetworkRenameCmd) Run(ctx context.Context, g *Globals) error {
	if err := validName("network", c.NewName); err != nil {
		return err
	}
	return g.run(ctx, playbooks.NetworkRenameOp.With(playbooks.RenameArgs{Name: c.Name, NewName: c.NewName}))
}

// NetworkConnectCmd is gnt-network connect. Besides Ganeti 2.14's
// -N mode=M,link=L[,vlan=V] NETWORK [GROUP...], it takes the positional
// forms of older releases: NETWORK MODE LINK [GROUP...] (Ganeti 2.7 to
// 2.13) and NETWORK GROUP MODE LINK.
type NetworkConnectCmd struct {
	NICParameters    string   `short:"N" name:"nic-parameters" help:"mode=bridged|routed|openvswitch,link=LINK[,vlan=VLAN] (missing ones: the cluster's NIC defaults)."`
	NoConflictsCheck bool     `name:"no-conflicts-check" help:"Do not refuse groups whose instances use the subnet's addresses outside the network."`
	Args             []string `arg:"" help:"NETWORK [GROUP...]"`
}

func (c *NetworkConnectCmd) Run(ctx context.Context, g *Globals) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	return g.run(ctx, playbooks.NetworkConnectOp.With(a))
}

func (c *NetworkConnectCmd) args() (playbooks.NetworkConnectArgs, error) {
	a := playbooks.NetworkConnectArgs{Network: c.Args[0], Groups: c.Args[1:], NoConflictsCheck: c.NoConflictsCheck}
	rest := c.Args[1:]
	isMode := func(s string) bool { return slices.Contains(playbooks.NICModes, s) }
	switch {
	case c.NICParameters != "":
		kv, err := parseKV(c.NICParameters)
		if err != nil {
			return a, err
		}
		for k, v := range kv {
			s := fmt.Sprint(v) // parseKV reads vlan=100 as a number
			switch k {
			case "mode":
				a.Mode = s
			case "link":
				a.Link = s
			case "vlan":
				a.VLAN = s
			default:
				return a, invalid("unknown NIC parameter %q (mode, link, vlan)", k)
			}
		}
	case len(rest) >= 2 && isMode(rest[0]):
		a.Mode, a.Link, a.Groups = rest[0], rest[1], rest[2:]
	case len(rest) == 3 && isMode(rest[1]):
		a.Groups, a.Mode, a.Link = rest[:1], rest[1], rest[2]
	}
	return a, nil
}

// NetworkDisconnectCmd is gnt-network disconnect.
type NetworkDisconnectCmd struct {
	Network string   `arg:""`
	Groups  []string `arg:"" optional:""`
}

func (c *NetworkDisconnectCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.NetworkDisconnectOp.With(playbooks.NetworkDisconnectArgs{Network: c.Network, Groups: c.Groups}))
}

// networkRow is one network for list and info.
type networkRow struct {
	*statefile.Network
	st *statefile.State
}

// pool is the network's pool usage: counts, map and external
// reservations (zero for an IPv6-only network or a broken pool).
func (r networkRow) pool() (free, reserved int, usage string, ext []string, ok bool) {
	p, err := playbooks.NetworkPool(r.Network)
	if err != nil || p == nil {
		return 0, 0, "", nil, false
	}
	return p.FreeCount(), p.ReservedCount(), p.Map(), p.ExternalAddrs(), true
}

func (r networkRow) groups() []view.NetworkGroup {
	out := []view.NetworkGroup{}
	for _, g := range playbooks.NetworkGroups(r.st, r.Name) {
		np := r.st.NodeGroups[g].Networks[r.Name]
		str := func(k string) string { s, _ := np[k].(string); return s }
		out = append(out, view.NetworkGroup{Name: g, Mode: str("mode"), Link: str("link"), VLAN: str("vlan")})
	}
	return out
}

func (r networkRow) instances() []string {
	var out []string
	for _, u := range playbooks.NetworkUsers(r.st, r.Name) {
		out = append(out, u.Instance)
	}
	return out
}

func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var networkSpec = view.ListSpec[networkRow]{
	Default: []string{"name", "network", "gateway", "mac_prefix", "group_list", "tags"},
	Fields: []view.Field[networkRow]{
		{Name: "name", Title: "Network", Kind: view.KindText, Doc: "Name", Get: func(r networkRow) any { return r.Name }},
		{Name: "network", Title: "Subnet", Kind: view.KindText, Doc: "IPv4 subnet", Get: func(r networkRow) any { return optional(r.Network.Network) }},
		{Name: "gateway", Title: "Gateway", Kind: view.KindText, Doc: "IPv4 gateway", Get: func(r networkRow) any { return optional(r.Gateway) }},
		{Name: "network6", Title: "IPv6Subnet", Kind: view.KindText, Doc: "IPv6 subnet", Get: func(r networkRow) any { return optional(r.Network6) }},
		{Name: "gateway6", Title: "IPv6Gateway", Kind: view.KindText, Doc: "IPv6 gateway", Get: func(r networkRow) any { return optional(r.Gateway6) }},
		{Name: "mac_prefix", Title: "MacPrefix", Kind: view.KindText, Doc: "MAC address prefix", Get: func(r networkRow) any { return optional(r.MACPrefix) }},
		{Name: "group_cnt", Title: "NodeGroups", Kind: view.KindNumber, Doc: "Number of nodegroups", Get: func(r networkRow) any { return len(r.groups()) }},
		{Name: "group_list", Title: "GroupList", Kind: view.KindList, Doc: "List of nodegroups (group name, NIC mode, NIC link)",
			Get: func(r networkRow) any {
				out := [][]string{}
				for _, g := range r.groups() {
					out = append(out, []string{g.Name, g.Mode, g.Link, g.VLAN})
				}
				return out
			},
			Format: func(v any) string {
				var parts []string
				for _, g := range v.([][]string) {
					parts = append(parts, g[0]+" ("+g[1]+", "+g[2]+", "+g[3]+")")
				}
				return strings.Join(parts, ", ")
			}},
		{Name: "inst_cnt", Title: "Instances", Kind: view.KindNumber, Doc: "Number of instances", Get: func(r networkRow) any { return len(r.instances()) }},
		{Name: "inst_list", Title: "InstanceList", Kind: view.KindList, Doc: "List of instances", Get: func(r networkRow) any { return nonNilList(r.instances()) }},
		{Name: "free_count", Title: "FreeCount", Kind: view.KindNumber, Doc: "Number of available addresses", Get: func(r networkRow) any { f, _, _, _, _ := r.pool(); return f }},
		{Name: "reserved_count", Title: "ReservedCount", Kind: view.KindNumber, Doc: "Number of reserved addresses", Get: func(r networkRow) any { _, n, _, _, _ := r.pool(); return n }},
		{Name: "map", Title: "Map", Kind: view.KindText, Doc: "Actual mapping", Get: func(r networkRow) any { _, _, m, _, _ := r.pool(); return m }},
		{Name: "external_reservations", Title: "ExternalReservations", Kind: view.KindText, Doc: "External reservations",
			Get: func(r networkRow) any { _, _, _, ext, _ := r.pool(); return strings.Join(ext, ", ") }},
		{Name: "tags", Title: "Tags", Kind: view.KindList, Doc: "Tags", Get: func(r networkRow) any { return nonNilList(r.Tags) }},
		{Name: "uuid", Title: "UUID", Kind: view.KindText, Doc: "Network UUID", Get: func(r networkRow) any { return r.UUID }},
		{Name: "serial_no", Title: "SerialNo", Kind: view.KindNumber, Doc: "Network object serial number, incremented on each modification", Get: func(r networkRow) any { return r.Serial }},
		{Name: "ctime", Title: "CTime", Kind: view.KindText, Doc: "Creation timestamp", Get: func(r networkRow) any { return fmtStamp(r.Ctime) }},
		{Name: "mtime", Title: "MTime", Kind: view.KindText, Doc: "Modification timestamp", Get: func(r networkRow) any { return fmtStamp(r.Mtime) }},
	},
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// NetworkListCmd is gnt-network list.
type NetworkListCmd struct {
	Output    string   `short:"o" name:"output" help:"Fields to show (comma-separated; +f adds to the defaults)."`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Names     []string `arg:"" optional:""`
}

func (c *NetworkListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	if _, err := networkSpec.Select(c.Output); err != nil {
		return invalid("%v", err)
	}
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := networkRows(st, c.Names)
	if err != nil {
		return err
	}
	return view.RenderList(s.Out, networkSpec, rows, view.ListOpts{Fields: c.Output, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

func networkRows(st *statefile.State, names []string) ([]networkRow, error) {
	if len(names) == 0 {
		names = sortedMapKeys(st.Networks)
	}
	var rows []networkRow
	for _, n := range names {
		net, ok := st.Networks[n]
		if !ok {
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: "Network '" + n + "' not found"}
		}
		rows = append(rows, networkRow{Network: net, st: st})
	}
	return rows, nil
}

// NetworkFieldsCmd is gnt-network list-fields.
type NetworkFieldsCmd struct{}

func (c *NetworkFieldsCmd) Run(g *Globals, s view.Streams) error {
	return view.RenderTable(s.Out, networkSpec.FieldsTable(), view.TableOpts{})
}

// NetworkInfoCmd is gnt-network info.
type NetworkInfoCmd struct {
	Names []string `arg:"" optional:""`
}

func (c *NetworkInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := networkRows(st, c.Names)
	if err != nil {
		return err
	}
	infos := view.NetworkInfos{}
	for _, r := range rows {
		infos = append(infos, networkInfo(r))
	}
	return a.pr.Result(infos)
}

func networkInfo(r networkRow) view.NetworkInfo {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	in := view.NetworkInfo{Name: r.Name, UUID: r.UUID, Serial: r.Serial, Subnet: opt(r.Network.Network), Gateway: opt(r.Gateway),
		Subnet6: opt(r.Network6), Gateway6: opt(r.Gateway6), MACPrefix: opt(r.MACPrefix), Groups: r.groups(),
		Instances: []view.NetworkInstance{}, ExternalReservations: []string{}}
	free, reserved, usage, ext, ok := r.pool()
	in.Pool, in.FreeCount, in.ReservedCount, in.Map = ok, free, reserved, usage
	if ext != nil {
		in.ExternalReservations = ext
	}
	for _, u := range playbooks.NetworkUsers(r.st, r.Name) {
		ni := view.NetworkInstance{Name: u.Instance}
		for i, idx := range u.NICs {
			ni.NICs = append(ni.NICs, view.NetworkNIC{Index: idx, IP: u.IPs[i]})
		}
		in.Instances = append(in.Instances, ni)
	}
	return in
}
