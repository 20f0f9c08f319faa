package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/statefile"
)

// NodeMigrateCmd is gnt-node migrate: every primary instance of the node
// moves to its secondary, live when it runs (a failover when it does not).
type NodeMigrateCmd struct {
	Force   bool   `short:"f" name:"force"`
	NonLive bool   `name:"non-live"`
	Node    string `arg:""`
}

func (c *NodeMigrateCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	return evacuate(ctx, g, s, c.Node, true, false, "", c.NonLive, false)
}

// NodeEvacuateCmd is gnt-node evacuate.
type NodeEvacuateCmd struct {
	Force     bool   `short:"f" name:"force"`
	Primary   bool   `short:"p" name:"primary-only" help:"Only move primary instances (to their secondaries)."`
	Secondary bool   `short:"s" name:"secondary-only" help:"Only move secondary mirrors (to -n or a chosen node)."`
	NewNode   string `short:"n" name:"new-secondary" help:"Node for the moved mirrors."`
	IAlloc    string `short:"I" name:"iallocator" help:"Choose the new nodes with this iallocator (default, and hail: ganetictl's own)."`
	// EarlyRelease is replace-disks --early-release for the moved mirrors.
	EarlyRelease bool   `name:"early-release" help:"Remove a moved mirror's old volumes before the new ones are in sync."`
	Node         string `arg:""`
}

func (c *NodeEvacuateCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	both := !c.Primary && !c.Secondary
	if c.NewNode == "" { // the allocator finds every instance new nodes (instance_alloc.go)
		mode := alloc.EvacAll
		switch {
		case c.Primary && !c.Secondary:
			mode = alloc.EvacPrimary
		case c.Secondary && !c.Primary:
			mode = alloc.EvacSecondary
		}
		return evacuateWithAllocator(ctx, g, c.Node, mode, c.IAlloc, c.EarlyRelease)
	}
	return evacuate(ctx, g, s, c.Node, c.Primary || both, c.Secondary || both, c.NewNode, false, c.EarlyRelease)
}

// evacuate moves a node's instances away, one job per instance (as Ganeti
// submits one job per instance): primaries to their secondaries, then
// secondary mirrors to newNode (or the node with the most free VG space).
func evacuate(ctx context.Context, g *Globals, s view.Streams, nodeName string, primaries, secondaries bool, newNode string, nonLive, earlyRelease bool) error {
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
	run := func(inst string, req playbooks.Request) {
		a.pr.Note("* %s", req.Label)
		if err := a.run(ctx, req); err != nil {
			a.pr.Note("  %s failed: %v", req.Label, err)
			failed = append(failed, inst)
		}
	}
	if primaries {
		for _, i := range pri {
			name := i.Name
			facts := a.gather(ctx, st, playbooks.InstanceNodes(st, name), playbooks.PartRunning)
			if f := facts[i.PrimaryNode]; f != nil && f.Running != nil {
				if _, running := f.Running[name]; running && !g.DryRun {
					run(name, playbooks.InstanceMigrateOp.With(playbooks.MigrateArgs{Name: name, NonLive: nonLive}))
					continue
				}
			}
			run(name, playbooks.InstanceFailoverOp.With(playbooks.FailoverArgs{Name: name, ShutdownTimeout: 2 * time.Minute}))
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
					a.pr.Note("  %s: %v", name, err)
					failed = append(failed, name)
					continue
				}
			}
			run(name, playbooks.InstanceReplaceDisksOp.With(playbooks.ReplaceDisksArgs{Name: name, Mode: "new", NewNode: target, Timestamp: time.Now().Unix(),
				EarlyRelease: earlyRelease}))
		}
	}
	if len(failed) > 0 {
		return &job.PartialError{Err: fmt.Errorf("could not move %d instance(s): %s", len(failed), strings.Join(failed, ", "))}
	}
	return nil
}

// pickSecondary chooses a new secondary for inst: the vm-capable online
// node of its primary's group with the most free VG space that is neither
// its primary nor leaving.
func (a *app) pickSecondary(ctx context.Context, st *statefile.State, inst *statefile.Instance, leaving string) (string, error) {
	var cands []string
	group := ""
	if p := st.Nodes[inst.PrimaryNode]; p != nil {
		group = p.Group
	}
	for _, n := range st.NodeNames() {
		node := st.Nodes[n]
		if n == leaving || n == inst.PrimaryNode || node.Offline || node.Drained || !node.VMCapable || node.Group != group {
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
		return "", fmt.Errorf("no node of group '%s' can take the mirror of %s (pass -n NODE, or move it with instance change-group)", group, inst.Name)
	}
	return best, nil
}
