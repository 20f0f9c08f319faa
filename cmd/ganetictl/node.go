package main

import (
	"context"
	"io"
	"os"

	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/ganetictl/ganetictl/internal/qfilter"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
)

// NodeCmd is gnt-node.
type NodeCmd struct {
	Add           NodeAddCmd           `cmd:"" help:"Add a node to the cluster."`
	Remove        NodeRemoveCmd        `cmd:"" help:"Remove a node that holds no instances."`
	Modify        NodeModifyCmd        `cmd:"" help:"Change a node's role and flags."`
	List          NodeListCmd          `cmd:"" help:"List nodes."`
	ListFields    NodeFieldsCmd        `cmd:"" name:"list-fields" help:"List the fields node list knows."`
	Info          NodeInfoCmd          `cmd:"" help:"Show node details."`
	Volumes       NodeVolumesCmd       `cmd:"" help:"List the logical volumes of nodes."`
	Migrate       NodeMigrateCmd       `cmd:"" help:"Migrate every primary instance of the node to its secondary."`
	Evacuate      NodeEvacuateCmd      `cmd:"" help:"Move all instances off the node (-p primaries, -s secondaries)."`
	ListStorage   NodeListStorageCmd   `cmd:"" name:"list-storage" help:"List storage units (lvm-vg, lvm-pv, file)."`
	ModifyStorage NodeModifyStorageCmd `cmd:"" name:"modify-storage" help:"Change a storage unit (lvm-pv --allocatable)."`
	RepairStorage NodeRepairStorageCmd `cmd:"" name:"repair-storage" help:"Repair a storage unit (lvm-vg: vgreduce --removemissing)."`
	AddTags       TagsAddCmd           `cmd:"" name:"add-tags" help:"Add tags to a node."`
	RemoveTags    TagsRemoveCmd        `cmd:"" name:"remove-tags" help:"Remove tags from a node."`
	ListTags      TagsListCmd          `cmd:"" name:"list-tags" help:"List a node's tags."`
	ListDRBD      NodeListDRBDCmd      `cmd:"" name:"list-drbd" help:"List the DRBD minors the cluster gives a node."`
	Failover      NodeFailoverCmd      `cmd:"" help:"Fail over every primary instance of the node to its secondary."`
	Powercycle    NodePowercycleCmd    `cmd:"" help:"Hard-reboot a node through its own OS."`
	Power         NodePowerCmd         `cmd:"" help:"Power nodes on, off, cycle them or ask their status (out-of-band program)."`
	StorageInit   NodeStorageInitCmd   `cmd:"" name:"storage-init" help:"Show the nodes' disks (diskinfo) or make the volume group of free disks (create; lvmstrap)."`
}

// NodeListDRBDCmd is gnt-node list-drbd.
type NodeListDRBDCmd struct {
	NoHeaders bool   `name:"no-headers"`
	Separator string `name:"separator"`
	Node      string `arg:""`
}

var drbdSpec = view.ListSpec[playbooks.DRBDMinor]{
	Default: []string{"node", "minor", "instance", "disk", "role", "peer"},
	Fields: []view.Field[playbooks.DRBDMinor]{
		{Name: "node", Title: "Node", Kind: view.KindText, Get: func(m playbooks.DRBDMinor) any { return m.Node }},
		{Name: "minor", Title: "Minor", Kind: view.KindNumber, Get: func(m playbooks.DRBDMinor) any { return m.Minor }},
		{Name: "instance", Title: "Instance", Kind: view.KindText, Get: func(m playbooks.DRBDMinor) any { return m.Instance }},
		{Name: "disk", Title: "Disk", Kind: view.KindText, Get: func(m playbooks.DRBDMinor) any { return m.Disk }},
		{Name: "role", Title: "Role", Kind: view.KindText, Get: func(m playbooks.DRBDMinor) any { return m.Role }},
		{Name: "peer", Title: "PeerNode", Kind: view.KindText, Get: func(m playbooks.DRBDMinor) any { return m.Peer }},
	},
}

func (c *NodeListDRBDCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	_, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	minors, err := playbooks.NodeDRBD(st, c.Node)
	if err != nil {
		return err
	}
	return view.RenderList(s.Out, drbdSpec, minors, view.ListOpts{Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

// NodeAddCmd is gnt-node add.
type NodeAddCmd struct {
	Name             string `arg:"" help:"Node name (as in the inventory, or resolvable)."`
	SecondaryIP      string `short:"s" name:"secondary-ip" help:"Replication address."`
	PrimaryIP        string `name:"primary-ip" help:"Address to reach the node (default: the inventory's, else the name)."`
	Group            string `short:"g" name:"node-group"`
	Readd            bool   `name:"readd" help:"Re-initialise a node already in the cluster."`
	MasterCapable    yesNo  `name:"master-capable"`
	VMCapable        yesNo  `name:"vm-capable"`
	AcceptNewHostKey bool   `name:"accept-new-host-key" help:"Trust and record the node's host key if known_hosts does not have it yet (a changed key is always refused)."`
}

func (c *NodeAddCmd) Run(ctx context.Context, g *Globals) error {
	if err := inventory.ValidHostname(c.Name); err != nil {
		return invalid("node name: %v", err)
	}
	mc, err := c.MasterCapable.ptr("--master-capable")
	if err != nil {
		return err
	}
	vc, err := c.VMCapable.ptr("--vm-capable")
	if err != nil {
		return err
	}
	args := playbooks.NodeAddArgs{Name: c.Name, PrimaryIP: c.PrimaryIP, SecondaryIP: c.SecondaryIP, Group: c.Group, Readd: c.Readd, MasterCapable: mc, VMCapable: vc}
	a, err := g.open(openOpts{trustNewHostKey: c.AcceptNewHostKey, extra: func(inv *inventory.Inventory) []remote.Target {
		if n, ok := inv.Node(c.Name); ok {
			args.Name = n.Name
			args.PrimaryIP = pick(c.PrimaryIP, n.Address)
			args.SecondaryIP = pick(c.SecondaryIP, n.SecondaryAddress)
			args.Group = pick(c.Group, n.Group)
			return nil
		}
		// Not in the inventory: reach it by the address given, else by name (DNS), as Ganeti does.
		args.PrimaryIP = pick(c.PrimaryIP, c.Name)
		return []remote.Target{{Name: c.Name, Addr: args.PrimaryIP, Port: inv.SSH.Port}}
	}})
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx, playbooks.NodeAddOp.With(args))
}

// NodeRemoveCmd is gnt-node remove.
type NodeRemoveCmd struct {
	Name string `arg:""`
}

func (c *NodeRemoveCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.NodeRemoveOp.With(c.Name))
}

// NodeModifyCmd is gnt-node modify.
type NodeModifyCmd struct {
	Name            string `arg:""`
	MasterCandidate yesNo  `short:"C" name:"master-candidate" help:"yes|no"`
	Drained         yesNo  `short:"D" name:"drained" help:"yes|no"`
	Offline         yesNo  `short:"O" name:"offline" help:"yes|no"`
	MasterCapable   yesNo  `name:"master-capable" help:"yes|no"`
	VMCapable       yesNo  `name:"vm-capable" help:"yes|no"`
	SecondaryIP     string `short:"s" name:"secondary-ip"`
	Force           bool   `name:"force"`
	AutoPromote     bool   `name:"auto-promote" help:"Promote another node when this one stops being a master candidate."`
}

func (c *NodeModifyCmd) Run(ctx context.Context, g *Globals) error {
	args := playbooks.NodeModifyArgs{Name: c.Name, SecondaryIP: c.SecondaryIP, Force: c.Force, AutoPromote: c.AutoPromote}
	var err error
	for _, f := range []struct {
		v    yesNo
		name string
		dst  **bool
	}{
		{c.MasterCandidate, "-C/--master-candidate", &args.MasterCandidate},
		{c.Drained, "-D/--drained", &args.Drained},
		{c.Offline, "-O/--offline", &args.Offline},
		{c.MasterCapable, "--master-capable", &args.MasterCapable},
		{c.VMCapable, "--vm-capable", &args.VMCapable},
	} {
		if *f.dst, err = f.v.ptr(f.name); err != nil {
			return err
		}
	}
	return g.run(ctx, playbooks.NodeModifyOp.With(args))
}

// nodeRow is one node with its live facts, for list and info.
type nodeRow struct {
	*statefile.Node
	master string
	facts  *playbooks.NodeFacts // nil when not gathered
	st     *statefile.State
	live   bool // facts were asked for
}

func (r nodeRow) liveInt(get func(*playbooks.NodeFacts) int64) any {
	switch {
	case r.Offline:
		return view.Offline
	case r.facts == nil || !r.facts.Reachable:
		return view.NoData
	}
	return get(r.facts)
}

func (r nodeRow) disk() (total, free int64, ok bool) {
	f := r.facts
	if f.VG != nil {
		return int64(f.VG.Size), int64(f.VG.Free), true
	}
	return f.DiskTotal, f.DiskFree, f.DiskTotal > 0
}

func (r nodeRow) instances() (pri, sec []string) {
	for _, i := range r.st.Instances {
		if i.PrimaryNode == r.Name {
			pri = append(pri, i.Name)
		}
		for _, s := range i.SecondaryNodes() {
			if s == r.Name {
				sec = append(sec, i.Name)
			}
		}
	}
	sort.Strings(pri)
	sort.Strings(sec)
	return pri, sec
}

// liveFields need facts from the node.
var liveFields = map[string]bool{"dtotal": true, "dfree": true, "mtotal": true, "mnode": true, "mfree": true, "ctotal": true, "bootid": true}

var nodeSpec = view.ListSpec[nodeRow]{
	Default: []string{"name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt"},
	Fields: []view.Field[nodeRow]{
		{Name: "name", Title: "Node", Kind: view.KindText, Doc: "Node name", Get: func(r nodeRow) any { return r.Name }},
		{Name: "dtotal", Title: "DTotal", Kind: view.KindUnit, Doc: "Total disk space in the volume group (or file storage)", Get: func(r nodeRow) any {
			return r.liveInt(func(*playbooks.NodeFacts) int64 { t, _, _ := r.disk(); return t })
		}},
		{Name: "dfree", Title: "DFree", Kind: view.KindUnit, Doc: "Free disk space", Get: func(r nodeRow) any {
			return r.liveInt(func(*playbooks.NodeFacts) int64 { _, f, _ := r.disk(); return f })
		}},
		{Name: "mtotal", Title: "MTotal", Kind: view.KindUnit, Doc: "Total memory", Get: func(r nodeRow) any {
			return r.liveInt(func(f *playbooks.NodeFacts) int64 { return f.MemTotal })
		}},
		{Name: "mnode", Title: "MNode", Kind: view.KindUnit, Doc: "Memory used by the node itself", Get: func(r nodeRow) any {
			return r.liveInt(func(f *playbooks.NodeFacts) int64 { return f.MemTotal - f.MemFree })
		}},
		{Name: "mfree", Title: "MFree", Kind: view.KindUnit, Doc: "Memory available for instances", Get: func(r nodeRow) any {
			return r.liveInt(func(f *playbooks.NodeFacts) int64 { return f.MemFree })
		}},
		{Name: "ctotal", Title: "CTotal", Kind: view.KindNumber, Doc: "Number of logical processors", Get: func(r nodeRow) any {
			return r.liveInt(func(f *playbooks.NodeFacts) int64 { return int64(f.CPUs) })
		}},
		{Name: "pinst_cnt", Title: "Pinst", Kind: view.KindNumber, Doc: "Number of instances with this node as primary", Get: func(r nodeRow) any { p, _ := r.instances(); return len(p) }},
		{Name: "sinst_cnt", Title: "Sinst", Kind: view.KindNumber, Doc: "Number of instances with this node as secondary", Get: func(r nodeRow) any { _, s := r.instances(); return len(s) }},
		{Name: "pinst_list", Title: "PriInstances", Kind: view.KindList, Doc: "Instances with this node as primary", Get: func(r nodeRow) any { p, _ := r.instances(); return p }},
		{Name: "sinst_list", Title: "SecInstances", Kind: view.KindList, Doc: "Instances with this node as secondary", Get: func(r nodeRow) any { _, s := r.instances(); return s }},
		{Name: "pip", Title: "PrimaryIP", Kind: view.KindText, Doc: "Primary address", Get: func(r nodeRow) any { return r.PrimaryIP }},
		{Name: "sip", Title: "SecondaryIP", Kind: view.KindText, Doc: "Secondary (replication) address", Get: func(r nodeRow) any { return r.SecondaryIP }},
		{Name: "master", Title: "IsMaster", Kind: view.KindBool, Doc: "Whether the node is the master", Get: func(r nodeRow) any { return r.Name == r.master }},
		{Name: "master_candidate", Title: "MasterC", Kind: view.KindBool, Doc: "Whether the node is a master candidate", Get: func(r nodeRow) any { return r.MasterCandidate }},
		{Name: "drained", Title: "Drained", Kind: view.KindBool, Doc: "Whether the node is drained", Get: func(r nodeRow) any { return r.Drained }},
		{Name: "offline", Title: "Offline", Kind: view.KindBool, Doc: "Whether the node is offline", Get: func(r nodeRow) any { return r.Offline }},
		{Name: "master_capable", Title: "MasterCapable", Kind: view.KindBool, Doc: "Whether the node can become master candidate", Get: func(r nodeRow) any { return r.MasterCapable }},
		{Name: "vm_capable", Title: "VMCapable", Kind: view.KindBool, Doc: "Whether the node can host instances", Get: func(r nodeRow) any { return r.VMCapable }},
		{Name: "role", Title: "Role", Kind: view.KindText, Doc: "Node role: M(aster), C(andidate), R(egular), D(rained), O(ffline)", Get: func(r nodeRow) any { return r.Role(r.master) }},
		{Name: "group", Title: "Group", Kind: view.KindText, Doc: "Node group", Get: func(r nodeRow) any { return r.Group }},
		{Name: "tags", Title: "Tags", Kind: view.KindList, Doc: "Tags", Get: func(r nodeRow) any { return r.Tags }},
		{Name: "uuid", Title: "UUID", Kind: view.KindText, Doc: "Node UUID", Get: func(r nodeRow) any { return r.UUID }},
		{Name: "serial_no", Title: "SerialNo", Kind: view.KindNumber, Doc: "Node object serial number", Get: func(r nodeRow) any { return r.Serial }},
		{Name: "ctime", Title: "CTime", Kind: view.KindText, Doc: "Creation time", Get: func(r nodeRow) any { return fmtStamp(r.Ctime) }},
		{Name: "mtime", Title: "MTime", Kind: view.KindText, Doc: "Modification time", Get: func(r nodeRow) any { return fmtStamp(r.Mtime) }},
	},
}

// NodeListCmd is gnt-node list.
type NodeListCmd struct {
	Output    string   `short:"o" name:"output" help:"Fields to show (comma-separated; +f adds to the defaults)."`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Units     string   `name:"units" help:"h, m, g or t"`
	Filter    bool     `short:"F" name:"filter" help:"The arguments are a query filter (e.g. 'role == \"C\"')."`
	Names     []string `arg:"" optional:""`
}

func (c *NodeListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	if c.Units != "" {
		if err := view.CheckUnits(c.Units); err != nil {
			return invalid("%v", err)
		}
	}
	sel, err := nodeSpec.Select(c.Output)
	if err != nil {
		return invalid("%v", err)
	}
	names, filter, err := listFilter(c.Names, c.Filter)
	if err != nil {
		return err
	}
	needLive := false
	for _, f := range sel {
		needLive = needLive || liveFields[f.Name]
	}
	if filter != nil {
		for _, f := range qfilter.Fields(filter) {
			needLive = needLive || liveFields[f]
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := a.nodeRows(ctx, names, needLive)
	if err != nil {
		return err
	}
	if rows, err = nodeSpec.Filter(rows, filter); err != nil {
		return invalid("%v", err)
	}
	return view.RenderList(s.Out, nodeSpec, rows, view.ListOpts{Fields: c.Output, Units: c.Units, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

// nodeRows reads the state and, when asked, every listed node's facts (one
// round trip per node, all in parallel).
func (a *app) nodeRows(ctx context.Context, names []string, live bool) ([]nodeRow, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		names = st.NodeNames()
	}
	var rows []nodeRow
	var ask []string
	for _, name := range names {
		n, ok := st.Nodes[name]
		if !ok {
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", name)}
		}
		rows = append(rows, nodeRow{Node: n, master: st.Cluster.MasterNode, st: st, live: live})
		if live && !n.Offline {
			ask = append(ask, name)
		}
	}
	if live && len(ask) > 0 {
		facts := a.gather(ctx, st, ask, playbooks.PartVGs)
		for i := range rows {
			rows[i].facts = facts[rows[i].Name]
		}
	}
	return rows, nil
}

// NodeFieldsCmd is gnt-node list-fields.
type NodeFieldsCmd struct{}

func (c *NodeFieldsCmd) Run(g *Globals, s view.Streams) error {
	return view.RenderTable(s.Out, nodeSpec.FieldsTable(), view.TableOpts{})
}

// NodeInfoCmd is gnt-node info.
type NodeInfoCmd struct {
	Names []string `arg:"" optional:""`
}

// ndDefaults are Ganeti's node parameter defaults, shown as "default (x)".
var ndDefaults = map[string]any{"cpu_speed": 1, "exclusive_storage": false, "oob_program": "", "ovs": false, "ovs_link": "", "ovs_name": "switch1", "spindle_count": 1, "ssh_port": 22}

func (c *NodeInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := a.nodeRows(ctx, c.Names, false)
	if err != nil {
		return err
	}
	var infos view.Infos
	for _, r := range rows {
		pri, sec := r.instances()
		eff := map[string]any{}
		for k, v := range ndDefaults {
			eff[k] = v
		}
		for k, v := range r.st.Cluster.NDParams {
			eff[k] = v
		}
		for k, v := range r.NDParams {
			eff[k] = v
		}
		infos = append(infos, view.Info{}.
			Add("Node name", r.Name).
			Add("primary ip", r.PrimaryIP).
			Add("secondary ip", r.SecondaryIP).
			Add("master candidate", r.MasterCandidate).
			Add("drained", r.Drained).
			Add("offline", r.Offline).
			Add("master_capable", r.MasterCapable).
			Add("vm_capable", r.VMCapable).
			Add("primary for instances", pri).
			Add("secondary for instances", sec).
			Add("node parameters", view.ParamsInfo(map[string]any(r.NDParams), eff)))
	}
	return a.pr.Result(infos)
}

// Tags commands serve both nouns: the parent command's name says which.

// TagsAddCmd is add-tags.
type TagsAddCmd struct {
	From string   `name:"from" help:"Also the tags in this file, one a line (- for stdin)."`
	Args []string `arg:"" optional:"" help:"For node: NODE TAG...; for cluster: TAG..."`
}

// TagsRemoveCmd is remove-tags.
type TagsRemoveCmd struct {
	From string   `name:"from" help:"Also the tags in this file, one a line (- for stdin)."`
	Args []string `arg:"" optional:""`
}

// TagsListCmd is list-tags.
type TagsListCmd struct {
	Args []string `arg:"" optional:""`
}

func (c *TagsAddCmd) Run(ctx context.Context, g *Globals, k *kong.Context) error {
	return changeTags(ctx, g, nounOf(k), c.Args, c.From, true)
}

func (c *TagsRemoveCmd) Run(ctx context.Context, g *Globals, k *kong.Context) error {
	return changeTags(ctx, g, nounOf(k), c.Args, c.From, false)
}

func changeTags(ctx context.Context, g *Globals, kind string, args []string, from string, add bool) error {
	name, tags, err := splitTagArgs(kind, args)
	if err != nil {
		return err
	}
	if from != "" {
		more, err := tagsFrom(from)
		if err != nil {
			return err
		}
		tags = append(tags, more...)
	}
	if len(tags) == 0 {
		return invalid("no tags given")
	}
	for _, t := range tags {
		if err := inventory.ValidTag(t); err != nil {
			return invalid("%v", err)
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	op := playbooks.TagsDelOp
	if add {
		op = playbooks.TagsSetOp
	}
	return a.run(ctx, op.With(playbooks.TagsArgs{Kind: kind, Name: name, Tags: tags}))
}

func splitTagArgs(kind string, args []string) (name string, tags []string, err error) {
	if kind == plan.KindCluster {
		return "", args, nil
	}
	if len(args) == 0 {
		return "", nil, invalid("name the %s first", kind)
	}
	return args[0], args[1:], nil
}

func (c *TagsListCmd) Run(ctx context.Context, g *Globals, k *kong.Context) error {
	kind := nounOf(k)
	name, _, err := splitTagArgs(kind, c.Args)
	if err != nil {
		return err
	}
	a, st, err := g.openStateOnly(ctx) // the state only: no SSH needed
	if err != nil {
		return err
	}
	defer a.close()
	tags, err := playbooks.TagsOf(st, kind, name)
	if err != nil {
		return err
	}
	return a.pr.Result(view.Tags(tags))
}

// nounOf is the noun of the running command ("cluster" or "node").
func nounOf(k *kong.Context) string {
	noun, _, _ := strings.Cut(k.Command(), " ")
	if noun == "group" {
		return plan.KindNodeGroup
	}
	return noun
}

// tagsFrom reads tags one a line from path, or from stdin for "-"
// (Ganeti's --from).
func tagsFrom(path string) ([]string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, invalid("--from %s: %v", path, err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}
