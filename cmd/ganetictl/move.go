package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks/hv"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// InstanceFailoverCmd is gnt-instance failover.
type InstanceFailoverCmd struct {
	Force             bool          `short:"f" name:"force" help:"Do not ask for confirmation."`
	IgnoreConsistency bool          `name:"ignore-consistency" help:"Fail over even if the target's disks are not up to date, or the primary is unreachable."`
	ShutdownTimeout   time.Duration `name:"shutdown-timeout" default:"2m"`
	Target            string        `short:"n" name:"target-node" help:"Target node (shared storage only)."`
	Name              string        `arg:""`
}

func (c *InstanceFailoverCmd) Run(ctx context.Context, g *Globals) error {
	return g.mutate(ctx, "instance failover "+c.Name, moveFacts(c.Name, c.Target), func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Failover(env, playbooks.FailoverArgs{Name: c.Name, Target: c.Target, IgnoreConsistency: c.IgnoreConsistency, ShutdownTimeout: c.ShutdownTimeout})
	})
}

// moveFacts asks the facts of an instance's nodes (and -n) for a move.
func moveFacts(name, target string) *factsOn {
	return &factsOn{nodes: func(st *statefile.State) []string {
		i, ok := st.Instances[name]
		if !ok {
			return nil
		}
		nodes := append([]string{i.PrimaryNode}, i.SecondaryNodes()...)
		if target != "" {
			nodes = append(nodes, target)
		}
		var out []string
		for _, n := range nodes {
			if node := st.Nodes[n]; node != nil && !node.Offline {
				out = append(out, n)
			}
		}
		return out
	}, parts: []string{playbooks.PartRunning, playbooks.PartDRBD}}
}

// InstanceMigrateCmd is gnt-instance migrate.
type InstanceMigrateCmd struct {
	Force            bool          `short:"f" name:"force"`
	NonLive          bool          `name:"non-live" help:"Stop the instance's CPUs during the copy."`
	MigrationMode    string        `name:"migration-mode" enum:"live,non-live," default:"" help:"live or non-live."`
	Cleanup          bool          `name:"cleanup" help:"Finish or undo a migration that was cut off."`
	NoRuntimeChanges bool          `name:"no-runtime-changes" help:"Never reduce the instance's memory to fit the target."`
	Timeout          time.Duration `name:"timeout" help:"Cancel the migration after this long (default from memory size and bandwidth)."`
	Target           string        `short:"n" name:"target-node" help:"Target node (shared storage only)."`
	Name             string        `arg:""`
}

func (c *InstanceMigrateCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if c.Cleanup {
		// The documented fix for an interrupted migration settles the job
		// that was cut off, if ganetictl died in it.
		if id := a.crashedJobOn(ctx, "INSTANCE_MIGRATE", c.Name); id != 0 {
			fmt.Fprintf(a.s.Err, "Job %d (migrate %s) was cut off mid-run: settling it (as job abort %d)\n", id, c.Name, id)
			return a.recoverJob(ctx, id, false)
		}
	}
	return a.migrate(ctx, c)
}

func (a *app) migrate(ctx context.Context, c *InstanceMigrateCmd) (err error) {
	args := playbooks.MigrateArgs{Name: c.Name, Target: c.Target, NonLive: c.NonLive || c.MigrationMode == "non-live",
		NoRuntimeChanges: c.NoRuntimeChanges, Cleanup: c.Cleanup, Timeout: c.Timeout}
	if c.Cleanup {
		if args.SourceStatus, args.TargetStatus, err = a.migrationStatuses(ctx, c.Name, c.Target); err != nil {
			return err
		}
	} else if st, err := a.readState(ctx); err != nil {
		return err
	} else if enc, nodes := playbooks.EncryptedMigration(st, c.Name, c.Target); enc {
		helpers, err := a.ensureHelpers(ctx, nodes) // checked, not uploaded, with --dry-run
		if err != nil {
			return err
		}
		args.Copy = playbooks.CopyOptions{Helpers: helpers, NewIdentity: transfer.NewIdentity}
	}
	return a.mutate(ctx, "instance migrate "+c.Name, moveFacts(c.Name, c.Target), func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Migrate(env, args)
	})
}

// InstanceReplaceDisksCmd is gnt-instance replace-disks.
type InstanceReplaceDisksCmd struct {
	Primary   bool   `short:"p" name:"on-primary" help:"Replace the disks on the primary node."`
	Secondary bool   `short:"s" name:"on-secondary" help:"Replace the disks on the secondary node."`
	NewNode   string `short:"n" name:"new-secondary" help:"Move the mirror to this new secondary node."`
	Auto      bool   `short:"a" name:"auto" help:"Replace the disks on whichever side is faulty."`
	Disks     string `name:"disks" help:"Comma-separated disk indexes (default: all)."`
	Name      string `arg:""`
}

func (c *InstanceReplaceDisksCmd) Run(ctx context.Context, g *Globals) error {
	mode, n := "", 0
	for _, m := range []struct {
		on   bool
		name string
	}{{c.Primary, "primary"}, {c.Secondary, "secondary"}, {c.NewNode != "", "new"}, {c.Auto, "auto"}} {
		if m.on {
			mode = m.name
			n++
		}
	}
	if n != 1 {
		return invalid("give exactly one of -p, -s, -n NODE and -a")
	}
	var disks []int
	for _, s := range splitList(c.Disks) {
		i, err := strconv.Atoi(s)
		if err != nil {
			return invalid("--disks %q: not a list of disk indexes", c.Disks)
		}
		disks = append(disks, i)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	args := playbooks.ReplaceDisksArgs{Name: c.Name, Mode: mode, NewNode: c.NewNode, Disks: disks, Timestamp: time.Now().Unix()}
	f := moveFacts(c.Name, c.NewNode)
	f.parts = append(f.parts, playbooks.PartVGs)
	return a.mutate(ctx, "instance replace-disks "+c.Name, f, func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.ReplaceDisks(env, args)
	})
}

// NodeMigrateCmd is gnt-node migrate: every primary instance of the node
// moves to its secondary, live when it runs (a failover when it does not).
type NodeMigrateCmd struct {
	Force   bool   `short:"f" name:"force"`
	NonLive bool   `name:"non-live"`
	Node    string `arg:""`
}

func (c *NodeMigrateCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	return evacuate(ctx, g, s, c.Node, true, false, "", c.NonLive)
}

// NodeEvacuateCmd is gnt-node evacuate.
type NodeEvacuateCmd struct {
	Force     bool   `short:"f" name:"force"`
	Primary   bool   `short:"p" name:"primary-only" help:"Only move primary instances (to their secondaries)."`
	Secondary bool   `short:"s" name:"secondary-only" help:"Only move secondary mirrors (to -n or a chosen node)."`
	NewNode   string `short:"n" name:"new-secondary" help:"Node for the moved mirrors."`
	IAlloc    string `short:"I" name:"iallocator" help:"Accepted for compatibility; ganetictl picks the node with the most free space."`
	Node      string `arg:""`
}

func (c *NodeEvacuateCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	both := !c.Primary && !c.Secondary
	return evacuate(ctx, g, s, c.Node, c.Primary || both, c.Secondary || both, c.NewNode, false)
}

// evacuate moves a node's instances away, one job per instance (as Ganeti
// submits one job per instance): primaries to their secondaries, then
// secondary mirrors to newNode (or the node with the most free VG space).
func evacuate(ctx context.Context, g *Globals, s view.Streams, nodeName string, primaries, secondaries bool, newNode string, nonLive bool) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if _, ok := st.Nodes[nodeName]; !ok {
		return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", nodeName)}
	}
	pri, sec := playbooks.InstancesOn(st, nodeName)
	var failed []string
	run := func(what, inst string, f *factsOn, mk func(env playbooks.Env) (*plan.Plan, error)) {
		fmt.Fprintf(s.Err, "* %s %s\n", what, inst)
		if err := a.mutate(ctx, what+" "+inst, f, mk); err != nil {
			fmt.Fprintf(s.Err, "  %s %s failed: %v\n", what, inst, err)
			failed = append(failed, inst)
		}
	}
	if primaries {
		for _, i := range pri {
			name := i.Name
			facts, err := a.gatherFor(ctx, moveFacts(name, ""))
			if err != nil {
				return err
			}
			if f := facts[i.PrimaryNode]; f != nil && f.Running != nil {
				if _, running := f.Running[name]; running && !g.DryRun {
					run("instance migrate", name, moveFacts(name, ""), func(env playbooks.Env) (*plan.Plan, error) {
						return playbooks.Migrate(env, playbooks.MigrateArgs{Name: name, NonLive: nonLive})
					})
					continue
				}
			}
			run("instance failover", name, moveFacts(name, ""), func(env playbooks.Env) (*plan.Plan, error) {
				return playbooks.Failover(env, playbooks.FailoverArgs{Name: name, ShutdownTimeout: 2 * time.Minute})
			})
		}
	}
	if secondaries {
		// Re-read: the migrations above made this node a secondary.
		if st, err = a.readState(ctx); err != nil {
			return err
		}
		_, sec = playbooks.InstancesOn(st, nodeName)
		for _, i := range sec {
			name := i.Name
			target := newNode
			if target == "" {
				if target, err = a.pickSecondary(ctx, st, i, nodeName); err != nil {
					fmt.Fprintf(s.Err, "  %s: %v\n", name, err)
					failed = append(failed, name)
					continue
				}
			}
			f := moveFacts(name, target)
			f.parts = append(f.parts, playbooks.PartVGs)
			run("instance replace-disks -n "+target, name, f, func(env playbooks.Env) (*plan.Plan, error) {
				return playbooks.ReplaceDisks(env, playbooks.ReplaceDisksArgs{Name: name, Mode: "new", NewNode: target, Timestamp: time.Now().Unix()})
			})
		}
	}
	if len(failed) > 0 {
		return &partialError{fmt.Errorf("could not move %d instance(s): %s", len(failed), strings.Join(failed, ", "))}
	}
	return nil
}

// gatherFor gathers the facts a factsOn asks for, outside of a mutation.
func (a *app) gatherFor(ctx context.Context, f *factsOn) (map[string]*playbooks.NodeFacts, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return nil, err
	}
	return a.gather(ctx, st, f.nodes(st), f.parts...), nil
}

// pickSecondary chooses a new secondary for inst: the vm-capable online
// node with the most free VG space that is neither its primary nor leaving.
func (a *app) pickSecondary(ctx context.Context, st *statefile.State, inst *statefile.Instance, leaving string) (string, error) {
	var cands []string
	for _, n := range st.NodeNames() {
		node := st.Nodes[n]
		if n == leaving || n == inst.PrimaryNode || node.Offline || node.Drained || !node.VMCapable {
			continue
		}
		cands = append(cands, n)
	}
	facts := a.gather(ctx, st, cands, playbooks.PartVGs)
	best, free := "", -1.0
	for _, n := range cands {
		if f := facts[n]; f != nil && f.Reachable && f.VG != nil && f.VG.Free > free {
			best, free = n, f.VG.Free
		}
	}
	if best == "" {
		return "", fmt.Errorf("no node can take the mirror of %s (pass -n NODE)", inst.Name)
	}
	return best, nil
}

// migrationStatuses asks the hypervisors of the instance's primary and of
// the other node (its secondary, or target) what they hold of it.
func (a *app) migrationStatuses(ctx context.Context, name, target string) (src, dst string, err error) {
	st, err := a.readState(ctx)
	if err != nil {
		return "", "", err
	}
	inst, ok := st.Instances[name]
	if !ok {
		return "", "", &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", name)}
	}
	if target == "" {
		if sec := inst.SecondaryNodes(); len(sec) == 1 {
			target = sec[0]
		}
	}
	if target == "" {
		return "", "", invalid("name the other node of the interrupted migration: -n NODE")
	}
	var steps []plan.Step
	for _, n := range []string{inst.PrimaryNode, target} {
		s, err := hv.MigrationStatusStep(inst.Hypervisor, n, name)
		if err != nil {
			return "", "", err
		}
		steps = append(steps, s)
	}
	res := a.readOnly(ctx, steps)
	words := make([]string, 2)
	for i, r := range res {
		if r.Err != nil {
			words[i] = hv.StatusUnreachable
			continue
		}
		if words[i], err = hv.ParseMigrationStatus(r.Stdout); err != nil {
			return "", "", fmt.Errorf("%s: %w", r.Step.Node, err)
		}
	}
	return words[0], words[1], nil
}
