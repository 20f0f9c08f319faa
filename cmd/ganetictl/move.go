package main

import (
	"context"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
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
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	return a.mutate(ctx, "instance failover "+c.Name, a.moveFacts(c.Name, c.Target), func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Failover(env, playbooks.FailoverArgs{Name: c.Name, Target: c.Target, IgnoreConsistency: c.IgnoreConsistency, ShutdownTimeout: c.ShutdownTimeout})
	})
}

// moveFacts asks the facts of an instance's nodes (and -n) for a move.
func (a *app) moveFacts(name, target string) *factsOn {
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
	args := playbooks.MigrateArgs{Name: c.Name, Target: c.Target, NonLive: c.NonLive || c.MigrationMode == "non-live",
		NoRuntimeChanges: c.NoRuntimeChanges, Cleanup: c.Cleanup, Timeout: c.Timeout}
	return a.mutate(ctx, "instance migrate "+c.Name, a.moveFacts(c.Name, c.Target), func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Migrate(env, args)
	})
}
