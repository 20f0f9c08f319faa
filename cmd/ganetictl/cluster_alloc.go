package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/statefile"
)

// dataFlags are hbal's and hspace's options on the data they read.
type dataFlags struct {
	TextData      string   `short:"t" name:"text-data" type:"path" help:"Read the cluster from Ganeti's htools text backend file instead (nothing is run)."`
	Offline       []string `short:"O" name:"offline" sep:"," help:"Treat these nodes as offline."`
	ExclusionTags []string `name:"exclusion-tags" sep:"," help:"Instance tag prefixes two instances on one node must not share (besides the cluster's htools:iextags: tags)."`
	IgnoreDynu    bool     `name:"ignore-dynu" help:"Ignore dynamic utilisation (each instance weighs nothing instead of one)."`
}

// model is the allocator's view of the cluster: from -t, or from the
// state and every online node's facts.
func (f dataFlags) model(ctx context.Context, g *Globals, fo alloc.FinishOptions) (*app, *statefile.State, *alloc.Cluster, []string, error) {
	fo.ExclusionPrefixes = f.ExclusionTags
	fo.IgnoreUtil = f.IgnoreDynu
	var a *app
	var st *statefile.State
	var c *alloc.Cluster
	var warnings []string
	if f.TextData != "" {
		b, err := os.ReadFile(f.TextData)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if c, err = alloc.LoadText(string(b)); err != nil {
			return nil, nil, nil, nil, invalid("%s: %v", f.TextData, err)
		}
		if warnings, err = c.Finish(fo); err != nil {
			return nil, nil, nil, nil, invalid("%v", err)
		}
	} else {
		var err error
		if a, st, err = g.openState(ctx); err != nil {
			return nil, nil, nil, nil, err
		}
		need := playbooks.AllocNeeds(st, "")
		facts := a.gather(ctx, st, need.Nodes, need.Parts...)
		if c, warnings, err = playbooks.AllocClusterWith(st, facts, fo); err != nil {
			a.close()
			return nil, nil, nil, nil, err
		}
	}
	for _, n := range f.Offline {
		i := c.NodeIndex(n)
		if i < 0 {
			if a != nil {
				a.close()
			}
			return nil, nil, nil, nil, invalid("wrong node name(s) set as offline: %s", n)
		}
		c.Nodes[i].Offline = true
	}
	return a, st, c, warnings, nil
}

// ClusterBalanceCmd is hbal: moves that lower the cluster score, shown as
// a plan and, once confirmed, run as jobs (moves on disjoint nodes at
// once).
type ClusterBalanceCmd struct {
	Group               string   `short:"G" name:"group" help:"Balance this node group (default: every group)."`
	MaxLength           int      `short:"l" name:"max-length" default:"-1" help:"At most this many moves (-1: no limit)."`
	MinGain             float64  `name:"min-gain" default:"0.01" help:"Below --min-gain-limit, a move must gain this much."`
	MinGainLimit        float64  `name:"min-gain-limit" default:"0.1" help:"The score below which --min-gain applies."`
	MinScore            float64  `short:"e" name:"min-score" default:"1e-9" help:"Stop this close to the optimal score."`
	PrintCommands       bool     `short:"C" name:"print-commands" help:"Also print the commands that make the moves, by job set."`
	EvacMode            bool     `short:"E" name:"evac-mode" help:"Only move instances off offline and drained nodes."`
	NoDiskMoves         bool     `name:"no-disk-moves" help:"Never copy disks (no replace-disks, no instance move)."`
	NoInstanceMoves     bool     `name:"no-instance-moves" help:"Never change an instance's primary."`
	RestrictedMigration bool     `name:"restricted-migration" help:"Only migrate instances off offline nodes (hbal --restricted-migration)."`
	IgnoreSoftErrors    bool     `name:"ignore-soft-errors" help:"Accept moves beyond soft limits (reserves, ratios, tags)."`
	SelectInstances     []string `name:"select-instances" sep:"," help:"Only move these instances."`
	ExcludeInstances    []string `name:"exclude-instances" sep:"," help:"Never move these instances."`
	HbalCompatible      bool     `name:"hbal-compatible" help:"Balance exactly as hbal does: one greedy step at a time, plain and file instances stay put."`
	CopyMoveCost        float64  `name:"copy-move-cost" help:"What copying a plain or file instance to another node costs, in score units (default 0.1)."`
	Thorough            bool     `name:"thorough" help:"Take every move that lowers the score (by default a move beyond the count hbal would need must gain --extra-move-cost)."`
	ExtraMoveCost       float64  `name:"extra-move-cost" help:"What a move beyond the count hbal would need must gain, in score units (default 0.05)."`
	Jobs                int      `name:"jobs" default:"4" help:"How many moves run at once (on disjoint nodes)."`
	dataFlags
}

func (c *ClusterBalanceCmd) options() alloc.BalanceOptions {
	return alloc.BalanceOptions{MaxLength: c.MaxLength, MinGain: c.MinGain, MinGainLimit: c.MinGainLimit, MinScore: c.MinScore,
		NoDiskMoves: c.NoDiskMoves, NoInstanceMoves: c.NoInstanceMoves, RestrictedMigration: c.RestrictedMigration,
		EvacMode: c.EvacMode, IgnoreSoftErrors: c.IgnoreSoftErrors, Hbal: c.HbalCompatible, CopyMoveCost: c.CopyMoveCost,
		Thorough: c.Thorough, ExtraMoveCost: c.ExtraMoveCost}
}

func (c *ClusterBalanceCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, _, cl, warnings, err := c.model(ctx, g, alloc.FinishOptions{Select: c.SelectInstances, Exclude: c.ExcludeInstances})
	if err != nil {
		return err
	}
	pr := view.Printer{Streams: s, JSON: g.JSON}
	if a != nil {
		defer a.close()
		pr = a.pr
	}
	groups, err := balanceGroups(cl, c.Group)
	if err != nil {
		return err
	}
	var views []view.Balance
	var moves []alloc.BalanceMove
	for _, gi := range groups {
		r, err := alloc.Balance(cl, gi, c.options())
		if err != nil {
			return err
		}
		v := balanceView(cl, gi, r, c.MinScore)
		v.Commands = c.PrintCommands
		v.Warnings = warnings
		views = append(views, v)
		// Groups are disjoint: their moves' dependencies stay inside.
		off := len(moves)
		for _, m := range r.Moves {
			for i := range m.After {
				m.After[i] += off
			}
			moves = append(moves, m)
		}
	}
	for _, w := range warnings {
		pr.Warning("%s", w)
	}
	if len(views) == 1 {
		if err := pr.Result(views[0]); err != nil {
			return err
		}
	} else if err := pr.Result(view.Balances(views)); err != nil {
		return err
	}
	if len(moves) == 0 || g.DryRun {
		return nil
	}
	if a == nil {
		pr.Note("moves of a data file (-t) are not run")
		return nil
	}
	if g.PlanOut != "" {
		return writeJSON(g.PlanOut, views)
	}
	if err := a.confirm(fmt.Sprintf("Run these %d moves?", len(moves))); err != nil {
		return err
	}
	return a.runMoves(ctx, moves, moveRun{parallel: c.Jobs})
}

// balanceGroups are the groups to balance: -G's, or every group with
// nodes.
func balanceGroups(c *alloc.Cluster, name string) ([]int, error) {
	if name != "" {
		g := c.GroupIndex(name)
		if g < 0 {
			var names []string
			for _, grp := range c.Groups {
				names = append(names, grp.Name)
			}
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node group %s not found. Node group list is: %s", name, strings.Join(names, ", "))}
		}
		return []int{g}, nil
	}
	var out []int
	for g := range c.Groups {
		for _, n := range c.Nodes {
			if n.Group == g {
				out = append(out, g)
				break
			}
		}
	}
	return out, nil
}

func balanceView(c *alloc.Cluster, g int, r *alloc.BalanceResult, minScore float64) view.Balance {
	v := view.Balance{Group: r.Group, InitialScore: r.InitialScore, FinalScore: r.FinalScore, OptimalScore: r.OptimalScore,
		MinScore: minScore, Balanced: r.Balanced, BadNodes: nonNil(r.BadNodes), BadInstances: nonNil(r.BadInstances),
		FinalBadNodes: nonNil(r.FinalBadNodes), Merged: r.Compressed, Moves: moveViews(r.Moves)}
	for _, n := range c.Nodes {
		if n.Group == g {
			v.Nodes++
			v.Instances += len(n.Pri)
		}
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func moveViews(ms []alloc.BalanceMove) []view.Move {
	out := []view.Move{}
	for _, m := range ms {
		v := view.Move{Instance: m.Instance, Code: m.Code, Kind: m.Kind, OldPrimary: m.OldPrimary, OldSecondary: m.OldSecondary,
			Primary: m.Primary, Secondary: m.Secondary, Score: m.Score, Nodes: m.Nodes, After: m.After, Jobset: m.Jobset}
		for _, op := range m.Ops {
			v.Ops = append(v.Ops, view.MoveOp{Op: op.Kind, Node: op.Node})
		}
		out = append(out, v)
	}
	return out
}

// moveRun says how moves run.
type moveRun struct {
	parallel   int  // at once, on disjoint nodes
	crossGroup bool // moves may leave the instance's group (change-group)
	failover   bool // fail over instead of migrating
	// earlyRelease removes a moved mirror's old volumes before the resync
	// ends (replace-disks --early-release).
	earlyRelease bool
}

// moveRequests are the jobs of a move, one per operation.
func moveRequests(m alloc.BalanceMove, now time.Time, mr moveRun) ([]playbooks.Request, error) {
	var out []playbooks.Request
	for _, op := range m.Ops {
		kind := op.Kind
		if kind == "migrate" && mr.failover {
			kind = "failover"
		}
		switch kind {
		case "migrate":
			out = append(out, playbooks.InstanceMigrateOp.With(playbooks.MigrateArgs{Name: m.Instance, Target: op.Node, CrossGroup: mr.crossGroup}))
		case "failover":
			out = append(out, playbooks.InstanceFailoverOp.With(playbooks.FailoverArgs{Name: m.Instance, Target: op.Node, ShutdownTimeout: 2 * time.Minute,
				CrossGroup: mr.crossGroup}))
		case "replace-disks":
			out = append(out, playbooks.InstanceReplaceDisksOp.With(playbooks.ReplaceDisksArgs{Name: m.Instance, Mode: "new", NewNode: op.Node,
				Timestamp: now.Unix(), CrossGroup: mr.crossGroup, EarlyRelease: mr.earlyRelease}))
		case "move":
			out = append(out, playbooks.InstanceMoveOp.With(playbooks.MoveArgs{Name: m.Instance, Target: op.Node, ShutdownTimeout: 2 * time.Minute}))
		default:
			return nil, fmt.Errorf("move of %s: unknown operation %q", m.Instance, op.Kind)
		}
	}
	return out, nil
}

// runMoves runs moves as jobs through the engine: a move waits for the
// moves it comes after (those on its nodes), up to parallel run at once;
// a move whose predecessor failed is skipped.
func (a *app) runMoves(ctx context.Context, moves []alloc.BalanceMove, mr moveRun) error {
	parallel := max(1, mr.parallel)
	n := len(moves)
	done := make([]chan struct{}, n)
	failed := make([]bool, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, parallel)
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	for i, m := range moves {
		wg.Add(1)
		go func(i int, m alloc.BalanceMove) {
			defer wg.Done()
			defer close(done[i])
			for _, j := range m.After {
				<-done[j]
				mu.Lock()
				f := failed[j]
				mu.Unlock()
				if f {
					mu.Lock()
					failed[i] = true
					bad = append(bad, m.Instance+" (skipped: an earlier move on its nodes failed)")
					mu.Unlock()
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				mu.Lock()
				failed[i] = true
				mu.Unlock()
				return
			}
			defer func() { <-sem }()
			reqs, err := moveRequests(m, time.Now(), mr)
			runOne := func(req playbooks.Request) error {
				a.pr.Note("* move %d: %s", i+1, req.Label)
				out, err := a.eng.Run(ctx, req)
				if err == nil {
					err = a.finished(out)
				}
				return err
			}
			for _, req := range reqs {
				if err != nil {
					break
				}
				// As Ganeti, a stopped instance's disks are activated for
				// a new secondary and deactivated after.
				if req.ID == playbooks.OpInstanceReplaceDisks && !a.disksActive(ctx, m.Instance) {
					if err = runOne(playbooks.ActivateDisksOp.With(playbooks.ActivateArgs{Name: m.Instance})); err != nil {
						break
					}
					err = runOne(req)
					if derr := runOne(playbooks.DeactivateDisksOp.With(playbooks.DeactivateArgs{Name: m.Instance})); err == nil {
						err = derr
					}
					continue
				}
				err = runOne(req)
			}
			if err != nil {
				mu.Lock()
				failed[i] = true
				bad = append(bad, fmt.Sprintf("%s: %v", m.Instance, err))
				mu.Unlock()
				a.pr.Note("  move %d (%s) failed: %v", i+1, m.Instance, err)
			}
		}(i, m)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return &job.PartialError{Err: fmt.Errorf("%d of %d moves did not run: %s", len(bad), n, strings.Join(bad, "; "))}
	}
	return nil
}

// disksActive says whether an instance's disks are active now.
func (a *app) disksActive(ctx context.Context, name string) bool {
	st, err := a.readState(ctx)
	if err != nil {
		return true
	}
	i := st.Instances[name]
	return i == nil || i.DisksActive
}

// ClusterCapacityCmd is hspace: how many more instances of a spec fit.
type ClusterCapacityCmd struct {
	DiskTemplate      string `name:"disk-template" help:"Template of the new instances (default: the policy's first)."`
	SpindleUse        int    `name:"spindle-use" help:"Spindles each new instance uses (default: the standard spec's)."`
	StandardAlloc     string `name:"standard-alloc" placeholder:"DISK,RAM,CPU[,SPN]" help:"The fixed spec (default: the policy's standard spec)."`
	TieredAlloc       string `name:"tiered-alloc" placeholder:"DISK,RAM,CPU[,SPN]" help:"The tiered run's first spec (default: the policy's maximal specs)."`
	MaxLength         int    `short:"l" name:"max-length" default:"-1" help:"Place at most this many instances."`
	MachineReadable   bool   `name:"machine-readable" help:"Print hspace's HTS_KEY=value lines."`
	NoCapacityChecks  bool   `name:"no-capacity-checks" help:"Do not keep every node evacuable (global N+1)."`
	IndependentGroups bool   `name:"independent-groups" help:"A group failing N+1 does not stop the others."`
	AcceptExisting    bool   `name:"accept-existing" help:"Existing N+1 failures do not stop the count."`
	dataFlags
}

func (c *ClusterCapacityCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, _, cl, warnings, err := c.model(ctx, g, alloc.FinishOptions{})
	if err != nil {
		return err
	}
	pr := view.Printer{Streams: s, JSON: g.JSON}
	if a != nil {
		defer a.close()
		pr = a.pr
	}
	o := alloc.CapacityOptions{SpindleUse: c.SpindleUse, MaxLength: c.MaxLength, NoCapacityChecks: c.NoCapacityChecks,
		IndependentGroups: c.IndependentGroups, AcceptExisting: c.AcceptExisting}
	if c.DiskTemplate != "" {
		if o.Template, err = alloc.ParseTemplate(c.DiskTemplate); err != nil {
			return invalid("--disk-template: %v", err)
		}
	}
	size := func(v string) (int64, error) { return inventory.ParseSize(v) }
	if c.StandardAlloc != "" {
		sp, err := alloc.ParseRSpec(c.StandardAlloc, size)
		if err != nil {
			return invalid("--standard-alloc: %v", err)
		}
		o.Std = &sp
	}
	if c.TieredAlloc != "" {
		sp, err := alloc.ParseRSpec(c.TieredAlloc, size)
		if err != nil {
			return invalid("--tiered-alloc: %v", err)
		}
		o.Tiered = &sp
	}
	r, err := cl.Capacity(o)
	if err != nil {
		return err
	}
	if !c.MachineReadable {
		for _, w := range warnings {
			pr.Warning("%s", w)
		}
	}
	return pr.Result(capacityView(r, c.MachineReadable))
}

func capacityView(r *alloc.CapacityResult, machine bool) view.Capacity {
	spec := func(s alloc.RSpec, n int) view.CapacitySpec {
		return view.CapacitySpec{Mem: s.Mem, Dsk: s.Dsk, CPU: s.CPU, Spn: s.Spn, Count: n}
	}
	run := func(a *alloc.AllocRun) view.CapacityRun {
		v := view.CapacityRun{Spec: spec(a.Spec, 0), Allocated: a.Allocated, Reason: a.Reason, Failures: map[string]int{},
			FinalScore: a.Stats.Score, Efficiency: a.Stats.Efficiencies()}
		for _, s := range a.Specs {
			v.Specs = append(v.Specs, spec(s.Spec, s.Count))
		}
		for _, f := range a.Failures {
			if f.Count > 0 {
				v.Failures[f.Mode] = f.Count
			}
		}
		return v
	}
	i := r.Initial
	v := view.Capacity{Nodes: r.Nodes, Template: string(r.Template), Existing: r.Existing, InitialScore: i.Score,
		Tiered: run(r.Tiered), Standard: run(r.Standard), BadGroups: r.BadGroups, MachineReadable: machine, Spindles: i.ExclStorage(),
		Resources: [][2]string{{"MEM", fmt.Sprintf("%.0f", i.MemTotal)}, {"DSK", fmt.Sprintf("%.0f", i.DskTotal)},
			{"CPU", fmt.Sprintf("%.0f", i.CPUTotal)}, {"VCPU", fmt.Sprint(i.VCPUTotal)}}}
	if i.ExclStorage() {
		v.Resources = append(v.Resources, [2]string{"SPN", fmt.Sprintf("%.0f", i.SpnTotal)})
	}
	for _, g := range r.Groups {
		v.Groups = append(v.Groups, view.CapacityGroup{Group: g.Group, Policy: g.Policy, Allocated: g.Allocated, Reason: g.Reason, Why: g.Why})
	}
	for _, kv := range r.Keys() {
		v.Keys = append(v.Keys, [2]string{kv.Key, kv.Value})
	}
	return v
}

// ClusterIspecsCmd is gnt-cluster show-ispecs-cmd.
type ClusterIspecsCmd struct{}

func (c *ClusterIspecsCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	lines := view.Lines{"gnt-cluster init" + view.IPolicyCommand(playbooks.EffectiveIPolicy(st, ""), false) + " " + st.Cluster.Name}
	var names []string
	for n := range st.NodeGroups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		pol := statefile.IPolicy{}
		if p := st.NodeGroups[n].IPolicy; p != nil {
			pol = *p
		}
		lines = append(lines, "gnt-group add"+view.IPolicyCommand(pol, true)+" "+n)
	}
	return a.pr.Result(lines)
}

// clusterIPolicyInfo is cluster info's instance policy: the cluster's own
// over Ganeti's defaults.
func clusterIPolicyInfo(st *statefile.State) view.Info {
	eff := playbooks.EffectiveIPolicy(st, "")
	return view.IPolicyInfo(&eff, eff, true)
}

// ClusterIAllocCmd answers an iallocator request as hail does: ganetictl
// is then an iallocator for Ganeti itself (a link named hail runs it).
type ClusterIAllocCmd struct {
	NoCapacityChecks    bool     `name:"no-capacity-checks" help:"Do not keep every node evacuable (global N+1)."`
	IgnoreSoftErrors    bool     `name:"ignore-soft-errors" help:"Place beyond soft limits."`
	RestrictAllocation  []string `name:"restrict-allocation-to" sep:"," help:"Only use these nodes."`
	StaticKVMNodeMemory int      `name:"static-kvm-node-memory" default:"4096" help:"Memory a KVM node keeps for itself, in MiB (0: as reported)."`
	TextData            string   `short:"t" name:"text-data" type:"path" help:"Take the cluster from a text backend file instead of the request."`
	Request             string   `arg:"" help:"The request file ('-': standard input)."`
}

func (c *ClusterIAllocCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	var b []byte
	var err error
	if c.Request == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(c.Request)
	}
	if err != nil {
		return err
	}
	r, err := alloc.ParseRequest(b, alloc.ParseOptions{StaticKVMNodeMem: c.StaticKVMNodeMemory})
	if err != nil {
		return invalid("%v", err)
	}
	if c.TextData != "" {
		tb, err := os.ReadFile(c.TextData)
		if err != nil {
			return err
		}
		cl, err := alloc.LoadText(string(tb))
		if err != nil {
			return invalid("%s: %v", c.TextData, err)
		}
		if _, err := cl.Finish(alloc.FinishOptions{}); err != nil {
			return invalid("%v", err)
		}
		r.Cluster = cl
	}
	pr := view.Printer{Streams: s}
	for _, w := range r.Warnings {
		pr.Warning("%s", w)
	}
	resp, _ := r.Answer(alloc.AllocOptions{NoCapacityChecks: c.NoCapacityChecks, IgnoreSoftErrors: c.IgnoreSoftErrors, RestrictToNodes: c.RestrictAllocation})
	return pr.Result(view.IAllocResponse{JSON: resp.Marshal()})
}

// writeJSON saves v as indented JSON (cluster balance --plan-out).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
