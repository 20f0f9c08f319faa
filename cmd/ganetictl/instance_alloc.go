package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/statefile"
)

// The allocator behind the instance, node and group commands: -I NAME
// (or no node given) picks nodes with ganetictl's allocator or an
// external iallocator, then the command runs its usual opcodes.

// pickForAdd sets instance add's nodes from external iallocator name
// (the built-in allocator works inside the planner, from its facts).
func (a *app) pickForAdd(ctx context.Context, args *playbooks.InstanceAddArgs, name string) error {
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	c, err := a.allocModel(ctx, st)
	if err != nil {
		return err
	}
	ni, err := playbooks.AllocNewInstance(st, *args)
	if err != nil {
		return err
	}
	nodes, err := a.externalNodes(ctx, name, c, alloc.AllocateRequest(ni, args.Group, c), ni.Template.RequiredNodes())
	if err != nil {
		return err
	}
	args.Primary = nodes[0]
	if len(nodes) > 1 {
		args.Secondary = nodes[1]
	}
	return nil
}

// relocateTo is the node an instance's disks should go to instead of
// node from (its drbd secondary, or the primary of a shared-storage or
// (with copies) local instance), chosen by iallocator name.
func (a *app) relocateTo(ctx context.Context, inst, from, name string) (string, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := st.Instances[inst]; !ok {
		return "", &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", inst)}
	}
	c, err := a.allocModel(ctx, st)
	if err != nil {
		return "", err
	}
	if !builtinIAllocator(name) {
		nodes, err := a.externalNodes(ctx, name, c, alloc.RelocateRequest(c, inst, []string{from}), 1)
		if err != nil {
			return "", err
		}
		return nodes[0], nil
	}
	nodes, _, err := c.Relocate(inst, []string{from}, alloc.AllocOptions{CopyMoves: true})
	if err != nil {
		return "", &playbooks.PrereqError{Type: "insufficient_resources", Msg: fmt.Sprintf("No node can take %s from %s: %v", inst, from, err)}
	}
	a.pr.Note("the allocator chose %s", nodes[0])
	return nodes[0], nil
}

// newSecondary is replace-disks -I's new secondary.
func (a *app) newSecondary(ctx context.Context, inst, name string) (string, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return "", err
	}
	i, ok := st.Instances[inst]
	if !ok {
		return "", &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", inst)}
	}
	sec := i.SecondaryNodes()
	if i.DiskTemplate != "drbd" || len(sec) == 0 {
		return "", &playbooks.PrereqError{Type: playbooks.ErrWrongState, Msg: fmt.Sprintf("Instance %s has no drbd secondary to replace", inst)}
	}
	return a.relocateTo(ctx, inst, sec[0], name)
}

// recreateOn is recreate-disks -I's new primary: where the instance would
// be placed if it were new.
func (a *app) recreateOn(ctx context.Context, inst, name string) (string, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return "", err
	}
	i, ok := st.Instances[inst]
	if !ok {
		return "", &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", inst)}
	}
	c, err := a.allocModel(ctx, st)
	if err != nil {
		return "", err
	}
	ni := alloc.NewInstance{Name: inst, Mem: int(playbooks.MaxMem(&st.Cluster, i)), Template: alloc.Template(i.DiskTemplate), NICs: len(i.NICs)}
	be := playbooks.EffectiveBE(&st.Cluster, i.BEParams)
	if v, ok := statefile.Int(be["vcpus"]); ok {
		ni.VCPUs = int(v)
	}
	for _, d := range i.Disks {
		ni.Disks = append(ni.Disks, alloc.Disk{Size: int(d.Size), Spindles: -1})
	}
	group := ""
	if p := st.Nodes[i.PrimaryNode]; p != nil {
		group = p.Group
	}
	if !builtinIAllocator(name) {
		nodes, err := a.externalNodes(ctx, name, c, alloc.AllocateRequest(ni, group, c), ni.Template.RequiredNodes())
		if err != nil {
			return "", err
		}
		return nodes[0], nil
	}
	p, err := c.Allocate(ni, group, alloc.AllocOptions{PreferRedundant: true})
	if err != nil {
		return "", err
	}
	a.pr.Note("the allocator chose %s", strings.Join(p.Nodes, ":"))
	return p.Nodes[0], nil
}

// evacuation is how instances leave: the moves, shown, confirmed and run.
func (a *app) runEvacuation(ctx context.Context, what string, c *alloc.Cluster, ev *alloc.Evacuation, mr moveRun) error {
	moves := ev.Moves
	v := view.Moves{What: what, Moves: moveViews(moves), Failed: []view.MoveFailed{}}
	for _, f := range ev.Failed {
		v.Failed = append(v.Failed, view.MoveFailed{Instance: f.Instance, Reason: f.Reason})
	}
	if a.g.PlanOut != "" {
		return writeJSON(a.g.PlanOut, v)
	}
	if err := a.pr.Result(v); err != nil {
		return err
	}
	var runErr error
	if len(moves) > 0 && !a.g.DryRun {
		runErr = a.runMoves(ctx, moves, mr)
	}
	if runErr == nil && len(ev.Failed) > 0 {
		var names []string
		for _, f := range ev.Failed {
			names = append(names, f.Instance+": "+f.Reason)
		}
		return &playbooks.PrereqError{Type: "insufficient_resources", Msg: fmt.Sprintf("%s: %d instance(s) cannot move: %s", what, len(ev.Failed), strings.Join(names, "; "))}
	}
	return runErr
}

// evacuateWithAllocator is node evacuate without -n: the allocator (or
// iallocator name) finds every instance new nodes in its group.
func evacuateWithAllocator(ctx context.Context, g *Globals, node string, mode alloc.EvacMode, name string, earlyRelease bool) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if _, ok := st.Nodes[node]; !ok {
		return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", node)}
	}
	c, err := a.allocModel(ctx, st)
	if err != nil {
		return err
	}
	var ev *alloc.Evacuation
	if builtinIAllocator(name) {
		if ev, err = c.EvacuateNode(node, mode, alloc.AllocOptions{CopyMoves: true}); err != nil {
			return err
		}
	} else {
		var insts []string
		pri, sec := playbooks.InstancesOn(st, node)
		for _, i := range pri {
			if mode != alloc.EvacSecondary {
				insts = append(insts, i.Name)
			}
		}
		for _, i := range sec {
			if mode != alloc.EvacPrimary {
				insts = append(insts, i.Name)
			}
		}
		slices.Sort(insts)
		insts = slices.Compact(insts)
		if ev, err = a.externalEvacuation(ctx, name, c, alloc.EvacuateRequest(insts, mode)); err != nil {
			return err
		}
	}
	return a.runEvacuation(ctx, "evacuate "+node, c, ev, moveRun{parallel: 4, earlyRelease: earlyRelease})
}

// externalEvacuation asks iallocator name for a node-evacuate or
// change-group answer, as moves.
func (a *app) externalEvacuation(ctx context.Context, name string, c *alloc.Cluster, req map[string]any) (*alloc.Evacuation, error) {
	resp, err := a.askIAllocator(ctx, name, c, req)
	if err != nil {
		return nil, err
	}
	ev, err := resp.EvacResult()
	if err != nil {
		return nil, &iallocError{name, err.Error()}
	}
	if ev.Moves, err = evacMoves(c, ev); err != nil {
		return nil, &iallocError{name, err.Error()}
	}
	a.pr.Note("iallocator %s: %s", name, resp.Info)
	return ev, nil
}

// InstanceChangeGroupCmd is gnt-instance change-group: the instance moves
// to another node group, onto nodes the allocator chooses there.
type InstanceChangeGroupCmd struct {
	To         []string `name:"to" sep:"," help:"Target groups (default: any other group)."`
	IAllocator string   `short:"I" name:"iallocator" help:"Iallocator choosing the group and nodes (default: ganetictl's own)."`
	Jobs       int      `name:"jobs" default:"4" help:"How many moves run at once (on disjoint nodes)."`
	Names      []string `arg:""`
}

func (c *InstanceChangeGroupCmd) Run(ctx context.Context, g *Globals) error {
	return changeGroup(ctx, g, c.Names, c.To, c.IAllocator, moveRun{parallel: c.Jobs, crossGroup: true}, "change-group "+strings.Join(c.Names, ","))
}

// GroupEvacuateCmd is gnt-group evacuate: every instance of group src
// moves to other groups.
type GroupEvacuateCmd struct {
	To            []string `name:"to" sep:"," help:"Target groups (default: any other group)."`
	IAllocator    string   `short:"I" name:"iallocator" help:"Iallocator choosing the groups and nodes (default: ganetictl's own)."`
	Sequential    bool     `name:"sequential" help:"Move one instance at a time."`
	ForceFailover bool     `name:"force-failover" help:"Fail over instead of migrating (instances stop and start)."`
	Jobs          int      `name:"jobs" default:"4" help:"How many moves run at once (on disjoint nodes)."`
	Group         string   `arg:""`
}

func (c *GroupEvacuateCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	_ = a
	if _, ok := st.NodeGroups[c.Group]; !ok {
		return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node group '%s' not found", c.Group)}
	}
	insts := playbooks.GroupInstances(st, c.Group)
	if len(insts) == 0 {
		return a.pr.Result(view.Moves{What: "evacuate group " + c.Group, Moves: []view.Move{}, Failed: []view.MoveFailed{}})
	}
	mr := moveRun{parallel: c.Jobs, crossGroup: true, failover: c.ForceFailover}
	if c.Sequential {
		mr.parallel = 1
	}
	return changeGroup(ctx, g, insts, c.To, c.IAllocator, mr, "evacuate group "+c.Group)
}

func changeGroup(ctx context.Context, g *Globals, names, to []string, name string, mr moveRun, what string) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	for _, n := range names {
		if _, ok := st.Instances[n]; !ok {
			return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", n)}
		}
	}
	for _, t := range to {
		if _, ok := st.NodeGroups[t]; !ok {
			return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node group '%s' not found", t)}
		}
	}
	c, err := a.allocModel(ctx, st)
	if err != nil {
		return err
	}
	var ev *alloc.Evacuation
	if builtinIAllocator(name) {
		if ev, err = c.ChangeGroup(names, to, alloc.AllocOptions{CopyMoves: true}); err != nil {
			return err
		}
	} else if ev, err = a.externalEvacuation(ctx, name, c, alloc.ChangeGroupRequest(c, names, to)); err != nil {
		return err
	}
	return a.runEvacuation(ctx, what, c, ev, mr)
}

// externalTarget is failover's and migrate's target from external
// iallocator name, for a shared-storage instance given no -n; with the
// built-in allocator the planner chooses.
func (a *app) externalTarget(ctx context.Context, inst, target, name string) (string, error) {
	if target != "" || builtinIAllocator(name) {
		if target != "" && name != "" {
			return "", invalid("give either -n or -I, not both")
		}
		return target, nil
	}
	st, err := a.readState(ctx)
	if err != nil {
		return "", err
	}
	i, ok := st.Instances[inst]
	if !ok {
		return "", &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", inst)}
	}
	if i.DiskTemplate == "drbd" {
		return "", nil // to its secondary
	}
	return a.relocateTo(ctx, inst, i.PrimaryNode, name)
}
