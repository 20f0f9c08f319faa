package main

import (
	"context"
	"strings"

	"github.com/ganetictl/ganetictl/internal/qfilter"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/statefile"
)

// GroupCmd is gnt-group: node groups.
type GroupCmd struct {
	Add           GroupAddCmd         `cmd:"" help:"Create an empty node group."`
	AssignNodes   GroupAssignNodesCmd `cmd:"" name:"assign-nodes" help:"Move nodes into a group."`
	Modify        GroupModifyCmd      `cmd:"" help:"Change a group's parameters."`
	Remove        GroupRemoveCmd      `cmd:"" help:"Remove an empty group."`
	Rename        GroupRenameCmd      `cmd:"" help:"Rename a group."`
	List          GroupListCmd        `cmd:"" help:"List node groups."`
	ListFields    GroupFieldsCmd      `cmd:"" name:"list-fields" help:"List the fields group list knows."`
	Info          GroupInfoCmd        `cmd:"" help:"Show groups' parameters."`
	ShowIspecsCmd GroupIspecsCmd      `cmd:"" name:"show-ispecs-cmd" help:"Show the command that recreates groups' instance specs."`
	AddTags       TagsAddCmd          `cmd:"" name:"add-tags" help:"Add tags to a group."`
	RemoveTags    TagsRemoveCmd       `cmd:"" name:"remove-tags" help:"Remove tags from a group."`
	ListTags      TagsListCmd         `cmd:"" name:"list-tags" help:"List a group's tags."`
	Evacuate      GroupEvacuateCmd    `cmd:"" help:"Move every instance of a group to other groups (instance_alloc.go)."`
}

// groupFlags are the settings group add and modify take.
type groupFlags struct {
	NodeParameters string   `name:"node-parameters" help:"Node parameters: key=value,..."`
	AllocPolicy    string   `name:"alloc-policy" help:"preferred, last_resort or unallocable."`
	DiskParameters []string `short:"D" name:"disk-parameters" sep:"none" help:"TEMPLATE:key=value,... (repeatable)."`
	DiskState      string   `name:"disk-state" help:"Accepted for compatibility; ignored (ganetictl reads storage from the nodes)."`
	HVState        string   `name:"hypervisor-state" help:"Accepted for compatibility; ignored (ganetictl reads memory from the nodes)."`
	ipolicyFlags
}

func (f groupFlags) args(name string) (playbooks.GroupArgs, error) {
	a := playbooks.GroupArgs{Name: name, AllocPolicy: f.AllocPolicy}
	var err error
	if f.NodeParameters != "" {
		if a.NDParams, err = parseKV(f.NodeParameters); err != nil {
			return a, err
		}
	}
	if a.DiskParams, err = parseDiskParams(f.DiskParameters); err != nil {
		return a, err
	}
	a.IPolicy, err = f.policy("")
	return a, err
}

// GroupAddCmd is gnt-group add.
type GroupAddCmd struct {
	groupFlags
	Name string `arg:""`
}

func (c *GroupAddCmd) Run(ctx context.Context, g *Globals) error {
	if err := validName("group", c.Name); err != nil {
		return err
	}
	args, err := c.args(c.Name)
	if err != nil {
		return err
	}
	return g.run(ctx, playbooks.GroupAddOp.With(args))
}

// GroupModifyCmd is gnt-group modify.
type GroupModifyCmd struct {
	groupFlags
	Name string `arg:""`
}

func (c *GroupModifyCmd) Run(ctx context.Context, g *Globals) error {
	args, err := c.args(c.Name)
	if err != nil {
		return err
	}
	return g.run(ctx, playbooks.GroupModifyOp.With(args))
}

// GroupRemoveCmd is gnt-group remove.
type GroupRemoveCmd struct {
	Name string `arg:""`
}

func (c *GroupRemoveCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.GroupRemoveOp.With(c.Name))
}

// GroupRenameCmd is gnt-group rename.
type GroupRenameCmd struct {
	Name    string `arg:""`
	NewName string `arg:""`
}

func (c *GroupRenameCmd) Run(ctx context.Context, g *Globals) error {
	if err := validName("group", c.NewName); err != nil {
		return err
	}
	return g.run(ctx, playbooks.GroupRenameOp.With(playbooks.RenameArgs{Name: c.Name, NewName: c.NewName}))
}

// GroupAssignNodesCmd is gnt-group assign-nodes.
type GroupAssignNodesCmd struct {
	Force bool     `name:"force" help:"Move nodes even if that splits mirrored instances between groups."`
	Group string   `arg:""`
	Nodes []string `arg:""`
}

func (c *GroupAssignNodesCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.GroupAssignNodesOp.With(playbooks.AssignArgs{Group: c.Group, Nodes: c.Nodes, Force: c.Force}))
}

// groupRow is one group for list.
type groupRow struct {
	*statefile.NodeGroup
	st *statefile.State
}

func (r groupRow) nodes() []string     { return playbooks.GroupNodes(r.st, r.Name) }
func (r groupRow) instances() []string { return playbooks.GroupInstances(r.st, r.Name) }

var groupSpec = view.ListSpec[groupRow]{
	Default: []string{"name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"},
	Fields: []view.Field[groupRow]{
		{Name: "name", Title: "Group", Kind: view.KindText, Doc: "Group name", Get: func(r groupRow) any { return r.Name }},
		{Name: "node_cnt", Title: "Nodes", Kind: view.KindNumber, Doc: "Number of nodes", Get: func(r groupRow) any { return len(r.nodes()) }},
		{Name: "node_list", Title: "NodeList", Kind: view.KindList, Doc: "List of nodes", Get: func(r groupRow) any { return r.nodes() }},
		{Name: "pinst_cnt", Title: "Instances", Kind: view.KindNumber, Doc: "Number of primary instances", Get: func(r groupRow) any { return len(r.instances()) }},
		{Name: "pinst_list", Title: "InstanceList", Kind: view.KindList, Doc: "List of primary instances", Get: func(r groupRow) any { return r.instances() }},
		{Name: "alloc_policy", Title: "AllocPolicy", Kind: view.KindText, Doc: "Allocation policy for group", Get: func(r groupRow) any { return r.AllocPolicy }},
		{Name: "ndparams", Title: "NDParams", Kind: view.KindText, Doc: "Node parameters", Format: view.PyRepr,
			Get: func(r groupRow) any { return playbooks.EffectiveND(r.st, r.Name, nil) }},
		{Name: "custom_ndparams", Title: "CustomNDParams", Kind: view.KindText, Doc: "Custom node parameters", Format: view.PyRepr,
			Get: func(r groupRow) any { return nonNilParams(r.NDParams) }},
		{Name: "diskparams", Title: "DiskParameters", Kind: view.KindText, Doc: "Disk parameters (merged)", Format: view.PyRepr,
			Get: func(r groupRow) any { return paramsOf(playbooks.EffectiveDiskParams(r.st, r.Name)) }},
		{Name: "custom_diskparams", Title: "CustomDiskParameters", Kind: view.KindText, Doc: "Custom disk parameters", Format: view.PyRepr,
			Get: func(r groupRow) any { return paramsOf(r.DiskParams) }},
		{Name: "ipolicy", Title: "InstancePolicy", Kind: view.KindText, Doc: "Instance policy limitations (merged)",
			Get: func(r groupRow) any { return playbooks.EffectiveIPolicy(r.st, r.Name) }, Format: jsonText},
		{Name: "custom_ipolicy", Title: "CustomInstancePolicy", Kind: view.KindText, Doc: "Custom instance policy limitations",
			Get: func(r groupRow) any { return r.IPolicy }, Format: jsonText},
		{Name: "networks", Title: "Networks", Kind: view.KindList, Doc: "Networks connected to the group", Get: func(r groupRow) any { return sortedMapKeys(r.Networks) }},
		{Name: "tags", Title: "Tags", Kind: view.KindList, Doc: "Tags", Get: func(r groupRow) any { return r.Tags }},
		{Name: "uuid", Title: "UUID", Kind: view.KindText, Doc: "Group UUID", Get: func(r groupRow) any { return r.UUID }},
		{Name: "serial_no", Title: "SerialNo", Kind: view.KindNumber, Doc: "Group object serial number, incremented on each modification", Get: func(r groupRow) any { return r.Serial }},
		{Name: "ctime", Title: "CTime", Kind: view.KindText, Doc: "Creation timestamp", Get: func(r groupRow) any { return fmtStamp(r.Ctime) }},
		{Name: "mtime", Title: "MTime", Kind: view.KindText, Doc: "Modification timestamp", Get: func(r groupRow) any { return fmtStamp(r.Mtime) }},
	},
}

func nonNilParams(p statefile.Params) statefile.Params {
	if p == nil {
		return statefile.Params{}
	}
	return p
}

// paramsOf shows per-template parameters as one dict of dicts.
func paramsOf(m map[string]statefile.Params) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = map[string]any(v)
	}
	return out
}

// jsonText shows a structured value as compact JSON in a list column.
func jsonText(v any) string { return view.CompactJSON(v) }

// GroupListCmd is gnt-group list.
type GroupListCmd struct {
	Output    string   `short:"o" name:"output" help:"Fields to show (comma-separated; +f adds to the defaults)."`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Filter    bool     `short:"F" name:"filter" help:"The arguments are a query filter (e.g. 'node_cnt > 2')."`
	Names     []string `arg:"" optional:""`
}

func (c *GroupListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	if _, err := groupSpec.Select(c.Output); err != nil {
		return invalid("%v", err)
	}
	names, filter, err := listFilter(c.Names, c.Filter)
	if err != nil {
		return err
	}
	_, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	rows, err := groupRows(st, names)
	if err != nil {
		return err
	}
	if rows, err = groupSpec.Filter(rows, filter); err != nil {
		return invalid("%v", err)
	}
	return view.RenderList(s.Out, groupSpec, rows, view.ListOpts{Fields: c.Output, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

func groupRows(st *statefile.State, names []string) ([]groupRow, error) {
	if len(names) == 0 {
		names = sortedMapKeys(st.NodeGroups)
	}
	var rows []groupRow
	for _, n := range names {
		grp, ok := st.NodeGroups[n]
		if !ok {
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: "Node group '" + n + "' not found"}
		}
		rows = append(rows, groupRow{NodeGroup: grp, st: st})
	}
	return rows, nil
}

// GroupFieldsCmd is gnt-group list-fields.
type GroupFieldsCmd struct{}

func (c *GroupFieldsCmd) Run(g *Globals, s view.Streams) error {
	return view.RenderTable(s.Out, groupSpec.FieldsTable(), view.TableOpts{})
}

// GroupInfoCmd is gnt-group info.
type GroupInfoCmd struct {
	Names []string `arg:"" optional:""`
}

func (c *GroupInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	rows, err := groupRows(st, c.Names)
	if err != nil {
		return err
	}
	infos := view.Infos{}
	for _, r := range rows {
		dp := view.Info{}
		eff := playbooks.EffectiveDiskParams(st, r.Name)
		for _, t := range sortedMapKeys(eff) {
			dp = dp.Add(t, view.ParamsInfo(map[string]any(r.DiskParams[t]), map[string]any(eff[t])))
		}
		infos = append(infos, view.Info{}.
			Add("Node group", r.Name).
			Add("Node parameters", view.ParamsInfo(map[string]any(r.NDParams), map[string]any(playbooks.EffectiveND(st, r.Name, nil)))).
			Add("Disk parameters", dp).
			Add("Instance policy", view.IPolicyInfo(r.IPolicy, playbooks.EffectiveIPolicy(st, r.Name), false)))
	}
	return a.pr.Result(infos)
}

// GroupIspecsCmd is gnt-group show-ispecs-cmd.
type GroupIspecsCmd struct {
	IncludeDefaults bool     `name:"include-defaults" help:"Include the cluster's values, not only the group's own."`
	Names           []string `arg:"" optional:""`
}

func (c *GroupIspecsCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	rows, err := groupRows(st, c.Names)
	if err != nil {
		return err
	}
	var lines view.Lines
	for _, r := range rows {
		pol := statefile.IPolicy{}
		if r.IPolicy != nil {
			pol = *r.IPolicy
		}
		if c.IncludeDefaults {
			pol = playbooks.EffectiveIPolicy(st, r.Name)
		}
		lines = append(lines, "gnt-group add"+view.IPolicyCommand(pol, true)+" "+r.Name)
	}
	return a.pr.Result(lines)
}

// validName checks a group or network name: what Ganeti accepts and a
// shell or a file name cannot misread.
func validName(kind, name string) error {
	if name == "" || len(name) > 64 || strings.HasPrefix(name, "-") ||
		strings.IndexFunc(name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r))
		}) >= 0 {
		return invalid("%s name %q: use 1 to 64 letters, digits and . _ + - (not starting with -)", kind, name)
	}
	return nil
}

// onlineNodesIn are the named nodes (none: every online node), of group
// only when one is given (-g).
func onlineNodesIn(st *statefile.State, names []string, group string) ([]string, error) {
	nodes, err := onlineNodes(st, names)
	if err != nil || group == "" {
		return nodes, err
	}
	if _, ok := st.NodeGroups[group]; !ok {
		return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: "Node group '" + group + "' not found"}
	}
	var out []string
	for _, n := range nodes {
		if st.Nodes[n].Group == group {
			out = append(out, n)
		}
	}
	return out, nil
}

// listFilter splits a list command's arguments into names and a query
// filter: with -F they are one filter; a single argument that looks like
// one is one, as Ganeti decides.
func listFilter(args []string, force bool) ([]string, qfilter.Expr, error) {
	if len(args) == 0 || !force && !(len(args) == 1 && qfilter.LooksLikeFilter(args[0])) {
		return args, nil, nil
	}
	e, err := qfilter.Parse(strings.Join(args, " "))
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	return nil, e, nil
}
