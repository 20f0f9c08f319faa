package main

import (
	"context"
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
)

// InstanceFailoverCmd is gnt-instance failover.
type InstanceFailoverCmd struct {
	Force             bool          `short:"f" name:"force" help:"Do not ask for confirmation."`
	IgnoreConsistency bool          `name:"ignore-consistency" help:"Fail over even if the target's disks are not up to date, or the primary is unreachable."`
	ShutdownTimeout   time.Duration `name:"shutdown-timeout" default:"2m"`
	Target            string        `short:"n" name:"target-node" help:"Target node (shared storage only; default: the allocator's choice)."`
	IAllocator        string        `short:"I" name:"iallocator" help:"Choose the target with this iallocator (shared storage)."`
	Name              string        `arg:""`
}

func (c *InstanceFailoverCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if c.Target, err = a.externalTarget(ctx, c.Name, c.Target, c.IAllocator); err != nil { // instance_alloc.go
		return err
	}
	return a.run(ctx, playbooks.InstanceFailoverOp.With(playbooks.FailoverArgs{Name: c.Name, Target: c.Target,
		IgnoreConsistency: c.IgnoreConsistency, ShutdownTimeout: c.ShutdownTimeout}))
}

// InstanceMigrateCmd is gnt-instance migrate.
type InstanceMigrateCmd struct {
	Force            bool          `short:"f" name:"force"`
	NonLive          bool          `name:"non-live" help:"Stop the instance's CPUs during the copy."`
	MigrationMode    string        `name:"migration-mode" enum:"live,non-live," default:"" help:"live or non-live."`
	Cleanup          bool          `name:"cleanup" help:"Finish or undo a migration that was cut off."`
	NoRuntimeChanges bool          `name:"no-runtime-changes" help:"Never reduce the instance's memory to fit the target."`
	Timeout          time.Duration `name:"timeout" help:"Cancel the migration after this long (default from memory size and bandwidth)."`
	Target           string        `short:"n" name:"target-node" help:"Target node (shared storage only; default: the allocator's choice)."`
	IAllocator       string        `short:"I" name:"iallocator" help:"Choose the target with this iallocator (shared storage)."`
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
		if id := a.eng.CrashedJobOn(ctx, playbooks.OpInstanceMigrate, c.Name); id != 0 {
			a.pr.Note("Job %d (migrate %s) was cut off mid-run: settling it (as job abort %d)", id, c.Name, id)
			return a.recoverJob(ctx, id, false)
		}
	}
	if !c.Cleanup {
		if c.Target, err = a.externalTarget(ctx, c.Name, c.Target, c.IAllocator); err != nil { // instance_alloc.go
			return err
		}
	}
	return a.run(ctx, playbooks.InstanceMigrateOp.With(playbooks.MigrateArgs{Name: c.Name, Target: c.Target,
		NonLive: c.NonLive || c.MigrationMode == "non-live", NoRuntimeChanges: c.NoRuntimeChanges, Cleanup: c.Cleanup, Timeout: c.Timeout}))
}

// InstanceReplaceDisksCmd is gnt-instance replace-disks.
type InstanceReplaceDisksCmd struct {
	Primary   bool   `short:"p" name:"on-primary" help:"Replace the disks on the primary node."`
	Secondary bool   `short:"s" name:"on-secondary" help:"Replace the disks on the secondary node."`
	NewNode   string `short:"n" name:"new-secondary" help:"Move the mirror to this new secondary node."`
	Auto      bool   `short:"a" name:"auto" help:"Replace the disks on whichever side is faulty."`
	Disks     string `name:"disks" help:"Comma-separated disk indexes (default: all)."`
	// EarlyRelease removes the old volumes before the resync ends.
	EarlyRelease bool   `name:"early-release" help:"Remove the old volumes before the new ones are in sync."`
	IAlloc       string `short:"I" name:"iallocator" help:"Move the mirror to the new secondary this iallocator chooses (hail: ganetictl's own)."`
	Name         string `arg:""`
}

func (c *InstanceReplaceDisksCmd) Run(ctx context.Context, g *Globals) error {
	if c.IAlloc != "" { // instance_alloc.go
		if c.NewNode != "" {
			return invalid("give either -n or -I, not both")
		}
		a, err := g.open()
		if err != nil {
			return err
		}
		defer a.close()
		if c.NewNode, err = a.newSecondary(ctx, c.Name, c.IAlloc); err != nil {
			return err
		}
	}
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
	return g.run(ctx, playbooks.InstanceReplaceDisksOp.With(playbooks.ReplaceDisksArgs{Name: c.Name, Mode: mode, NewNode: c.NewNode,
		Disks: disks, Timestamp: time.Now().Unix(), EarlyRelease: c.EarlyRelease}))
}
