package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
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
