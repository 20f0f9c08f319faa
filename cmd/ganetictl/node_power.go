package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/statefile"
)

// NodeFailoverCmd is gnt-node failover: every primary instance of the
// node fails over to its secondary (drbd only), one job each.
type NodeFailoverCmd struct {
	Force             bool          `short:"f" name:"force" help:"Do not ask."`
	IgnoreConsistency bool          `name:"ignore-consistency" help:"Fail over even if the secondaries' disks are degraded (the node is dead)."`
	ShutdownTimeout   time.Duration `name:"shutdown-timeout" default:"2m" help:"How long an instance may take to shut down before it is killed."`
	Node              string        `arg:""`
}

func (c *NodeFailoverCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if _, ok := st.Nodes[c.Node]; !ok {
		return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", c.Node)}
	}
	pri, _ := playbooks.InstancesOn(st, c.Node)
	var names []string
	for _, i := range pri {
		if i.DiskTemplate != "drbd" {
			a.pr.Warning("instance %s has disk template %s: only drbd instances fail over to their secondary; skipped", i.Name, i.DiskTemplate)
			continue
		}
		names = append(names, i.Name)
	}
	if len(names) == 0 {
		a.pr.Note("No primary instances on node %s, exiting.", c.Node)
		return nil
	}
	if !c.Force {
		if err := a.confirm(fmt.Sprintf("Fail over instance(s) %s?", "'"+strings.Join(names, "', '")+"'")); err != nil {
			return err
		}
	}
	var failed []string
	for _, name := range names {
		a.pr.Note("* instance failover %s", name)
		if err := a.run(ctx, playbooks.InstanceFailoverOp.With(playbooks.FailoverArgs{Name: name, IgnoreConsistency: c.IgnoreConsistency, ShutdownTimeout: c.ShutdownTimeout})); err != nil {
			a.pr.Note("  instance failover %s failed: %v", name, err)
			failed = append(failed, name)
		}
	}
	if len(failed) > 0 {
		return &job.PartialError{Err: fmt.Errorf("could not fail over %d instance(s): %s", len(failed), strings.Join(failed, ", "))}
	}
	return nil
}

// NodePowercycleCmd is gnt-node powercycle: a forced reboot through the
// node's own OS.
type NodePowercycleCmd struct {
	Force bool   `name:"force" help:"Needed for the master node."`
	Node  string `arg:""`
}

func (c *NodePowercycleCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if c.Node == st.Cluster.MasterNode && !c.Force {
		return invalid("node %s is the master node: powercycling it needs --force", c.Node)
	}
	if err := a.confirm(fmt.Sprintf("Are you sure you want to hard powercycle node %s?", c.Node)); err != nil {
		return err
	}
	return a.run(ctx, playbooks.NodePowercycleOp.With(c.Node))
}

// NodePowerCmd is gnt-node power: out-of-band power control through the
// nodes' oob_program (run on the master node).
type NodePowerCmd struct {
	Force        bool     `name:"force" help:"Do not ask."`
	IgnoreStatus bool     `name:"ignore-status" help:"Power off nodes without marking them offline first."`
	All          bool     `name:"all" help:"Every node (off and cycle need it to act on all)."`
	PowerDelay   float64  `name:"power-delay" default:"2" help:"Seconds to wait between powering on two nodes."`
	Command      string   `arg:"" enum:"on,off,cycle,status" help:"on, off, cycle or status."`
	Nodes        []string `arg:"" optional:""`
}

func (c *NodePowerCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes := c.Nodes
	oobCmd := "power-" + c.Command
	if len(nodes) == 0 {
		if (c.Command == "off" || c.Command == "cycle") && !c.All {
			return invalid("Please provide at least one node for this command (or --all)")
		}
		for _, n := range st.NodeNames() {
			if playbooks.OOBProgram(st, n) == "" || (oobCmd != playbooks.OOBPowerStatus && n == st.Cluster.MasterNode) {
				continue
			}
			nodes = append(nodes, n)
		}
	}
	if c.Command == "status" {
		return a.powerStatus(ctx, st, nodes)
	}
	if !c.Force {
		if err := a.confirm(fmt.Sprintf("The following nodes will be powered %s:\n  %s\nDo you want to continue?", c.Command, strings.Join(nodes, "\n  "))); err != nil {
			return err
		}
	}
	if oobCmd == playbooks.OOBPowerOff && !c.IgnoreStatus {
		// As Ganeti: the nodes are marked offline first.
		for _, n := range nodes {
			if node := st.Nodes[n]; node != nil && !node.Offline && n != st.Cluster.MasterNode {
				yes := true
				if err := a.run(ctx, playbooks.NodeModifyOp.With(playbooks.NodeModifyArgs{Name: n, Offline: &yes, AutoPromote: true, Force: true})); err != nil {
					return err
				}
			}
		}
	}
	if err := a.run(ctx, playbooks.OOBCommandOp.With(playbooks.OOBArgs{Nodes: nodes, Command: oobCmd, IgnoreStatus: c.IgnoreStatus,
		PowerDelay: time.Duration(c.PowerDelay * float64(time.Second))})); err != nil {
		return err
	}
	var out view.NodePowers
	for _, n := range nodes {
		out = append(out, view.NodePower{Node: n, Status: "invoked"})
		if node := st.Nodes[n]; oobCmd == playbooks.OOBPowerOn && node != nil && node.Offline {
			a.pr.Note("Node %s is still marked offline: `ganetictl node modify -O no %s` once it is up", n, n)
		}
	}
	return a.pr.Result(out)
}

// powerStatus asks the out-of-band programs for the nodes' power state.
func (a *app) powerStatus(ctx context.Context, st *statefile.State, nodes []string) error {
	steps, err := playbooks.OOBSteps(st, nodes, playbooks.OOBPowerStatus)
	if err != nil {
		return err
	}
	var out view.NodePowers
	failed := 0
	for i, r := range a.readOnly(ctx, steps) {
		np := view.NodePower{Node: nodes[i]}
		on, perr := playbooks.ParsePowerStatus(r.Stdout)
		switch {
		case r.Err != nil:
			np.Status, np.Error = "error", r.Err.Error()
		case perr != nil:
			np.Status, np.Error = "error", perr.Error()
		case on:
			np.Status, np.Powered = "powered", &on
		default:
			np.Status, np.Powered = "unpowered", &on
		}
		if np.Error != "" {
			failed++
		}
		out = append(out, np)
	}
	if err := a.pr.Result(out); err != nil {
		return err
	}
	if failed > 0 {
		return silentExit(exitError)
	}
	return nil
}

// ClusterEpoCmd is gnt-cluster epo: emergency power-off of nodes (the
// arguments, the nodes of the groups given with --groups, or every node
// with --all): their instances are stopped (their admin state kept, so
// that --on brings them back), then the nodes are powered off through
// their out-of-band programs. The master is never powered off.
type ClusterEpoCmd struct {
	On         bool    `name:"on" help:"Bring the nodes back: power them on, wait for them, start their instances."`
	Groups     bool    `name:"groups" help:"The arguments are node groups."`
	All        bool    `name:"all" help:"The whole cluster (the master is left on)."`
	PowerDelay float64 `name:"power-delay" default:"2" help:"Seconds to wait between powering on two nodes."`
	Force      bool    `name:"force" help:"Do not ask."`
	// ShutdownTimeout bounds each instance's soft shutdown.
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m" help:"How long an instance may take to shut down before it is killed."`
	Wait            string        `name:"wait" default:"15m" hidden:"" help:"With --on: how long to wait for the nodes."`
	Args            []string      `arg:"" optional:""`
}

func (c *ClusterEpoCmd) Run(ctx context.Context, g *Globals) error {
	if c.Groups && c.All {
		return invalid("Only one of --groups or --all are allowed")
	}
	if len(c.Args) > 0 && c.All {
		return invalid("Arguments in combination with --all are not allowed")
	}
	if len(c.Args) == 0 && !c.All {
		return invalid("give the nodes (or node groups with --groups), or --all")
	}
	wait, err := time.ParseDuration(c.Wait)
	if err != nil {
		return invalid("--wait: %v", err)
	}
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	var all []string
	switch {
	case c.All:
		all = st.NodeNames()
	case c.Groups:
		for _, grp := range c.Args {
			if _, ok := st.NodeGroups[grp]; !ok {
				return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Group '%s' not found", grp)}
			}
			for _, n := range st.NodeNames() {
				if st.Nodes[n].Group == grp {
					all = append(all, n)
				}
			}
		}
	default:
		for _, n := range c.Args {
			if _, ok := st.Nodes[n]; !ok {
				return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", n)}
			}
		}
		all = c.Args
	}
	master := st.Cluster.MasterNode
	// The instances on the nodes that are not offline, and the nodes each
	// needs up again.
	instNodes := map[string][]string{}
	var power []string
	for _, n := range all {
		node := st.Nodes[n]
		if !node.Offline {
			pri, sec := playbooks.InstancesOn(st, n)
			for _, i := range append(pri, sec...) {
				cur := instNodes[i.Name]
				if n != master && !slices.Contains(cur, n) {
					cur = append(cur, n) // the master is up: it is not waited for
				}
				instNodes[i.Name] = cur
			}
		}
		switch {
		case n == master && c.On:
			continue // we are operating from it
		case n == master && !c.All:
			return invalid("%s is the master node, please do a master-failover to another node not affected by the EPO or use --all if you intend to shutdown the whole cluster", n)
		case n == master:
			a.pr.Note("%s is the master node: it is left on; shut it down yourself once the rest is off", n)
		case playbooks.OOBProgram(st, n) == "":
			a.pr.Note("Node %s does not support out-of-band handling, it can not be handled in a fully automated manner", n)
		case node.Powered != nil && *node.Powered == c.On:
			a.pr.Note("Node %s is already in desired power state, skipping", n)
		default:
			power = append(power, n)
		}
	}
	if !c.Force {
		if err := a.confirm(fmt.Sprintf("The following nodes will be affected by the emergency power-%s:\n  %s\nDo you want to continue?", onOff(c.On), strings.Join(all, "\n  "))); err != nil {
			return err
		}
	}
	delay := time.Duration(c.PowerDelay * float64(time.Second))
	if c.On {
		return a.epoOn(ctx, all, power, instNodes, delay, wait)
	}
	return a.epoOff(ctx, power, instNodes, c.ShutdownTimeout)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// epoOff stops the instances (admin state kept) and powers the nodes off.
func (a *app) epoOff(ctx context.Context, power []string, instNodes map[string][]string, timeout time.Duration) error {
	names := sortedKeysOf(instNodes)
	if err := a.startStop(ctx, names, false, timeout); err != nil {
		a.pr.Note("Please investigate and stop instances manually before continuing")
		return err
	}
	if len(power) == 0 {
		return nil
	}
	return a.run(ctx, playbooks.OOBCommandOp.With(playbooks.OOBArgs{Nodes: power, Command: playbooks.OOBPowerOff, IgnoreStatus: true}))
}

// epoOn powers the nodes on, waits until they answer, and starts each
// instance once all its nodes are back (the ones configured up).
func (a *app) epoOn(ctx context.Context, all, power []string, instNodes map[string][]string, delay, wait time.Duration) error {
	if len(power) > 0 {
		if err := a.run(ctx, playbooks.OOBCommandOp.With(playbooks.OOBArgs{Nodes: power, Command: playbooks.OOBPowerOn, PowerDelay: delay})); err != nil {
			a.pr.Note("Not all nodes seem to get back up, investigate and start manually if needed")
		}
	}
	a.pr.Note("Waiting until all nodes are available again")
	up := map[string]bool{}
	pending := map[string][]string{}
	for k, v := range instNodes {
		pending[k] = v
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := a.readState(ctx)
		if err != nil {
			return err
		}
		var down []string
		for _, n := range all {
			if !up[n] {
				down = append(down, n)
			}
		}
		for n, f := range a.gather(ctx, st, down) {
			if f != nil && f.Reachable {
				a.pr.Note("Node %s became available", n)
				up[n] = true
			}
		}
		var ready []string
		for inst, nodes := range pending {
			if !slices.ContainsFunc(nodes, func(n string) bool { return !up[n] }) {
				if i := st.Instances[inst]; i != nil && i.AdminState == "up" {
					ready = append(ready, inst)
				}
				delete(pending, inst)
			}
		}
		slices.Sort(ready)
		if err := a.startStop(ctx, ready, true, 0); err != nil {
			return err
		}
		if len(pending) == 0 && len(up) == len(all) {
			return nil
		}
		if time.Now().After(deadline) {
			var left []string
			for _, n := range all {
				if !up[n] {
					left = append(left, n)
				}
			}
			a.pr.Note("Time exceeded while waiting for nodes to become reachable again:\n  - %s", strings.Join(left, "\n  - "))
			a.pr.Note("Please investigate and start stopped instances manually")
			return silentExit(exitError)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// startStop starts or stops instances, one job each, at once; a stop
// keeps the admin state (Ganeti's no_remember), so --on knows what ran.
func (a *app) startStop(ctx context.Context, names []string, start bool, timeout time.Duration) error {
	if len(names) == 0 {
		return nil
	}
	verb, done := "shutdown", "stopped"
	if start {
		verb, done = "startup", "started"
	}
	wp := pool.New().WithMaxGoroutines(max(1, a.parallel())).WithErrors()
	for _, n := range names {
		a.pr.Note("Submit %s of instance %s", verb, n)
		wp.Go(func() error {
			req := playbooks.InstanceShutdownOp.With(playbooks.ShutdownArgs{Name: n, Timeout: timeout, NoRemember: true})
			if start {
				req = playbooks.InstanceStartupOp.With(n)
			}
			_, err := a.eng.Run(ctx, req)
			if err != nil {
				return fmt.Errorf("%s %s: %w", verb, n, err)
			}
			return nil
		})
	}
	if err := wp.Wait(); err != nil {
		a.pr.Note("There were errors while %s instances", strings.TrimSuffix(verb, "up")+"ing")
		return &job.PartialError{Err: err}
	}
	a.pr.Note("All instances have been %s successfully", done)
	return nil
}
