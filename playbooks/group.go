package playbooks

import (
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// The node group opcodes (gnt-group). They change only the state: a group
// is a set of nodes, and where instances may go.
const (
	OpGroupAdd         plan.OpID = "GROUP_ADD"
	OpGroupSetParams   plan.OpID = "GROUP_SET_PARAMS"
	OpGroupRemove      plan.OpID = "GROUP_REMOVE"
	OpGroupRename      plan.OpID = "GROUP_RENAME"
	OpGroupAssignNodes plan.OpID = "GROUP_ASSIGN_NODES"
)

var (
	GroupAddOp = define(&Opcode[GroupArgs]{ID: OpGroupAdd, Command: "group add",
		Subject: func(a GroupArgs) string { return a.Name }, Plan: GroupAdd})
	GroupModifyOp = define(&Opcode[GroupArgs]{ID: OpGroupSetParams, Command: "group modify",
		Subject: func(a GroupArgs) string { return a.Name }, Plan: GroupModify})
	GroupRemoveOp = define(&Opcode[string]{ID: OpGroupRemove, Command: "group remove", Subject: itself, Plan: GroupRemove})
	GroupRenameOp = define(&Opcode[RenameArgs]{ID: OpGroupRename, Command: "group rename",
		Subject: func(a RenameArgs) string { return a.Name + " " + a.NewName }, Plan: GroupRename})
	GroupAssignNodesOp = define(&Opcode[AssignArgs]{ID: OpGroupAssignNodes, Command: "group assign-nodes",
		Subject: func(a AssignArgs) string { return a.Group + " " + strings.Join(a.Nodes, " ") }, Plan: GroupAssignNodes})
)

// GroupArgs are a group's settings for add and modify: what is set
// (empty AllocPolicy, nil maps and nil IPolicy: unchanged, or the
// defaults for add).
type GroupArgs struct {
	Name        string
	AllocPolicy string
	NDParams    statefile.Params
	DiskParams  map[string]statefile.Params
	IPolicy     *statefile.IPolicy // the parts set
}

// AllocPolicies are the valid allocation policies.
var AllocPolicies = []string{statefile.AllocPreferred, statefile.AllocLastResort, statefile.AllocUnallocable}

// GroupAdd plans a new, empty node group.
func GroupAdd(env Env, a GroupArgs) (*plan.Plan, error) {
	st := env.State
	if g, ok := st.NodeGroups[a.Name]; ok {
		return nil, prereq(ErrExists, "Desired group name '%s' already exists as a node group (UUID: %s)", a.Name, g.UUID)
	}
	g := &statefile.NodeGroup{Name: a.Name, AllocPolicy: statefile.AllocPreferred, Tags: []string{}}
	if env.NewID != nil {
		g.UUID = env.NewID()
	}
	if err := setGroup(st, g, a); err != nil {
		return nil, err
	}
	p := plan.New(plan.Op{ID: OpGroupAdd, Kind: plan.KindNodeGroup, Name: a.Name, Args: []string{a.Name}}, st.Lineage, st.Serial)
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Set(plan.KindNodeGroup, a.Name, nil, g)
}

// GroupModify plans changing a group's settings.
func GroupModify(env Env, a GroupArgs) (*plan.Plan, error) {
	st := env.State
	g, err := nodeGroup(st, a.Name)
	if err != nil {
		return nil, err
	}
	if a.AllocPolicy == "" && a.NDParams == nil && a.DiskParams == nil && a.IPolicy == nil {
		return nil, prereq(ErrWrongInput, "Please pass at least one modification")
	}
	c := cloneGroup(g)
	if err := setGroup(st, c, a); err != nil {
		return nil, err
	}
	p := plan.New(plan.Op{ID: OpGroupSetParams, Kind: plan.KindNodeGroup, Name: g.Name, Args: []string{g.Name}}, st.Lineage, st.Serial)
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Set(plan.KindNodeGroup, g.Name, g, c)
}

// setGroup applies a's settings to g, checking them.
func setGroup(st *statefile.State, g *statefile.NodeGroup, a GroupArgs) error {
	if a.AllocPolicy != "" {
		if !slices.Contains(AllocPolicies, a.AllocPolicy) {
			return prereq(ErrWrongInput, "Invalid allocation policy '%s' (%s)", a.AllocPolicy, strings.Join(AllocPolicies, ", "))
		}
		g.AllocPolicy = a.AllocPolicy
	}
	if a.NDParams != nil {
		if g.NDParams == nil {
			g.NDParams = statefile.Params{}
		}
		mergeParams(&g.NDParams, a.NDParams)
	}
	for tmpl, dp := range a.DiskParams {
		if !slices.Contains(inventory.DiskTemplates, tmpl) {
			return prereq(ErrWrongInput, "While verify diskparams options: unknown disk template %s", tmpl)
		}
		if g.DiskParams == nil {
			g.DiskParams = map[string]statefile.Params{}
		}
		cur := g.DiskParams[tmpl]
		mergeParams(&cur, dp)
		g.DiskParams[tmpl] = cur
	}
	if a.IPolicy != nil {
		merged := CloneIPolicy(g.IPolicy)
		if merged == nil {
			merged = &statefile.IPolicy{}
		}
		overlayPartial(merged, a.IPolicy)
		full := EffectiveIPolicy(st, "")
		overlay(&full, merged)
		if err := CheckIPolicy(full); err != nil {
			return err
		}
		g.IPolicy = merged
	}
	return nil
}

// overlayPartial sets in p the parts o sets, keeping std specs key by key.
func overlayPartial(p, o *statefile.IPolicy) {
	if len(o.MinMax) > 0 {
		p.MinMax = cloneMinMax(o.MinMax)
	}
	if len(o.Std) > 0 {
		if p.Std == nil {
			p.Std = statefile.ISpec{}
		}
		for k, v := range o.Std {
			p.Std[k] = v
		}
	}
	if len(o.DiskTemplates) > 0 {
		p.DiskTemplates = slices.Clone(o.DiskTemplates)
	}
	if o.VCPURatio > 0 {
		p.VCPURatio = o.VCPURatio
	}
	if o.SpindleRatio > 0 {
		p.SpindleRatio = o.SpindleRatio
	}
}

// GroupRemove plans removing an empty group; the last one stays.
func GroupRemove(env Env, name string) (*plan.Plan, error) {
	st := env.State
	g, err := nodeGroup(st, name)
	if err != nil {
		return nil, err
	}
	if members := GroupNodes(st, g.Name); len(members) > 0 {
		return nil, prereq(ErrWrongState, "Group '%s' not empty, has the following nodes: %s", g.Name, strings.Join(members, ", "))
	}
	if len(st.NodeGroups) == 1 {
		return nil, prereq(ErrWrongState, "Group '%s' is the only group, cannot be removed", g.Name)
	}
	p := plan.New(plan.Op{ID: OpGroupRemove, Kind: plan.KindNodeGroup, Name: g.Name, Args: []string{g.Name}}, st.Lineage, st.Serial)
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Delete(plan.KindNodeGroup, g.Name, g)
}

// GroupRename plans renaming a group. Nodes name their group, so every
// member changes with it.
func GroupRename(env Env, a RenameArgs) (*plan.Plan, error) {
	st := env.State
	g, err := nodeGroup(st, a.Name)
	if err != nil {
		return nil, err
	}
	if o, ok := st.NodeGroups[a.NewName]; ok {
		return nil, prereq(ErrExists, "Desired new name '%s' clashes with existing node group (UUID: %s)", a.NewName, o.UUID)
	}
	p := plan.New(plan.Op{ID: OpGroupRename, Kind: plan.KindNodeGroup, Name: g.Name, Args: []string{g.Name, a.NewName}}, st.Lineage, st.Serial)
	c := cloneGroup(g)
	c.Name = a.NewName
	if err := p.Delete(plan.KindNodeGroup, g.Name, g); err != nil {
		return nil, err
	}
	if err := p.Set(plan.KindNodeGroup, c.Name, nil, c); err != nil {
		return nil, err
	}
	for _, n := range GroupNodes(st, g.Name) {
		node := st.Nodes[n]
		moved := cloneNode(node)
		moved.Group = a.NewName
		if err := p.Set(plan.KindNode, n, node, moved); err != nil {
			return nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// AssignArgs move Nodes into Group; Force allows splitting mirrored
// instances between groups.
type AssignArgs struct {
	Group string
	Nodes []string
	Force bool
}

// GroupAssignNodes plans moving nodes into a group. A move that would put
// the two nodes of a DRBD instance in different groups is refused unless
// forced, as Ganeti does: allocation and evacuation work within a group.
func GroupAssignNodes(env Env, a AssignArgs) (*plan.Plan, error) {
	st := env.State
	g, err := nodeGroup(st, a.Group)
	if err != nil {
		return nil, err
	}
	if len(a.Nodes) == 0 {
		return nil, prereq(ErrWrongInput, "No nodes given")
	}
	after := map[string]string{} // node -> group once moved
	for _, name := range a.Nodes {
		n, err := node(st, name)
		if err != nil {
			return nil, err
		}
		after[n.Name] = g.Name
	}
	groupOf := func(node string, moved bool) string {
		if grp, ok := after[node]; ok && moved {
			return grp
		}
		if n := st.Nodes[node]; n != nil {
			return n.Group
		}
		return ""
	}
	var newSplits, oldSplits []string
	for _, inst := range st.Instances {
		nodes := append([]string{inst.PrimaryNode}, inst.SecondaryNodes()...)
		if len(nodes) < 2 {
			continue
		}
		split := func(moved bool) bool {
			for _, n := range nodes[1:] {
				if groupOf(n, moved) != groupOf(nodes[0], moved) {
					return true
				}
			}
			return false
		}
		switch was, is := split(false), split(true); {
		case is && !was:
			newSplits = append(newSplits, inst.Name)
		case is:
			oldSplits = append(oldSplits, inst.Name)
		}
	}
	sort.Strings(newSplits)
	sort.Strings(oldSplits)
	p := plan.New(plan.Op{ID: OpGroupAssignNodes, Kind: plan.KindNodeGroup, Name: g.Name, Args: append([]string{g.Name}, a.Nodes...)}, st.Lineage, st.Serial)
	if len(newSplits) > 0 {
		if !a.Force {
			return nil, prereq(ErrWrongState, "The following instances get split by this change and --force was not given: %s", strings.Join(newSplits, ", "))
		}
		p.Warnings = append(p.Warnings, "This operation will split the following instances: "+strings.Join(newSplits, ", "))
		if len(oldSplits) > 0 {
			p.Warnings = append(p.Warnings, "In addition, these already-split instances continue to be split across groups: "+strings.Join(oldSplits, ", "))
		}
	}
	names := make([]string, 0, len(after))
	for n := range after {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		node := st.Nodes[n]
		if node.Group == g.Name {
			continue
		}
		moved := cloneNode(node)
		moved.Group = g.Name
		if err := p.Set(plan.KindNode, n, node, moved); err != nil {
			return nil, err
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// nodeGroup finds a group by name.
func nodeGroup(st *statefile.State, name string) (*statefile.NodeGroup, error) {
	if g, ok := st.NodeGroups[name]; ok {
		return g, nil
	}
	return nil, prereq(ErrUnknownEntity, "Node group '%s' not found", name)
}

// GroupNodes are the names of group's nodes, sorted.
func GroupNodes(st *statefile.State, group string) []string {
	var out []string
	for _, n := range st.Nodes {
		if n.Group == group {
			out = append(out, n.Name)
		}
	}
	sort.Strings(out)
	return out
}

// GroupInstances are the names of the instances whose primary node is in
// group, sorted.
func GroupInstances(st *statefile.State, group string) []string {
	var out []string
	for _, i := range st.Instances {
		if n := st.Nodes[i.PrimaryNode]; n != nil && n.Group == group {
			out = append(out, i.Name)
		}
	}
	sort.Strings(out)
	return out
}

func cloneGroup(g *statefile.NodeGroup) *statefile.NodeGroup {
	c := *g
	c.Tags = cloneTags(g.Tags)
	c.NDParams = cloneParams(g.NDParams)
	if g.DiskParams != nil {
		c.DiskParams = map[string]statefile.Params{}
		for k, v := range g.DiskParams {
			c.DiskParams[k] = cloneParams(v)
		}
	}
	c.IPolicy = CloneIPolicy(g.IPolicy)
	if g.Networks != nil {
		c.Networks = map[string]statefile.Params{}
		for k, v := range g.Networks {
			c.Networks[k] = cloneParams(v)
		}
	}
	return &c
}

// NDDefaults are Ganeti's node parameter defaults.
var NDDefaults = statefile.Params{"cpu_speed": int64(1), "exclusive_storage": false, "oob_program": "", "ovs": false,
	"ovs_link": "", "ovs_name": "switch1", "spindle_count": int64(1), "ssh_port": int64(22)}

// EffectiveND are the node parameters that hold for a node of group with
// its own parameters own: Ganeti's defaults, then the cluster's, the
// group's and the node's.
func EffectiveND(st *statefile.State, group string, own statefile.Params) statefile.Params {
	out := cloneParams(NDDefaults)
	mergeParams(&out, st.Cluster.NDParams)
	if g := st.NodeGroups[group]; g != nil {
		mergeParams(&out, g.NDParams)
	}
	mergeParams(&out, own)
	return out
}

// EffectiveDiskParams are the disk parameters of each template in group:
// the cluster's with the group's over them.
func EffectiveDiskParams(st *statefile.State, group string) map[string]statefile.Params {
	out := map[string]statefile.Params{}
	for t, p := range st.Cluster.DiskParams {
		out[t] = cloneParams(p)
	}
	if g := st.NodeGroups[group]; g != nil {
		for t, p := range g.DiskParams {
			cur := out[t]
			mergeParams(&cur, p)
			out[t] = cur
		}
	}
	return out
}
