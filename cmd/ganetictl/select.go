package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/job"
)

// selectFlags are Ganeti's ways to name several instances at once, for
// startup, shutdown, reboot and reinstall (Ganeti's migrate and failover
// take one instance): by default the arguments are instance names.
type selectFlags struct {
	All           bool `name:"all" help:"Every instance (no arguments)."`
	Instance      bool `name:"instance" help:"The arguments are instances (the default)."`
	Node          bool `name:"node" help:"The arguments are nodes: their primary and secondary instances."`
	Primary       bool `name:"primary" help:"The arguments are nodes: their primary instances."`
	Secondary     bool `name:"secondary" help:"The arguments are nodes: their secondary instances."`
	Tags          bool `name:"tags" help:"The arguments are tags: the instances with any of them."`
	NodeTags      bool `name:"node-tags" help:"The arguments are tags: the instances on nodes with any of them."`
	PriNodeTags   bool `name:"pri-node-tags" help:"The arguments are tags: the instances whose primary has any of them."`
	SecNodeTags   bool `name:"sec-node-tags" help:"The arguments are tags: the instances with a secondary that has any of them."`
	ForceMultiple bool `name:"force-multiple" help:"Do not ask before acting on several instances."`
}

func (f selectFlags) mode() (string, error) {
	mode, n := "", 0
	for _, m := range []struct {
		on   bool
		name string
	}{{f.All, playbooks.SelectAll}, {f.Instance, playbooks.SelectNames}, {f.Node, playbooks.SelectNode}, {f.Primary, playbooks.SelectPrimary}, {f.Secondary, playbooks.SelectSecondary},
		{f.Tags, playbooks.SelectTags}, {f.NodeTags, playbooks.SelectNodeTags}, {f.PriNodeTags, playbooks.SelectPriNodeTags}, {f.SecNodeTags, playbooks.SelectSecNodeTags}} {
		if m.on {
			mode, n = m.name, n+1
		}
	}
	if n > 1 {
		return "", invalid("give at most one of --all, --instance, --node, --primary, --secondary, --tags, --node-tags, --pri-node-tags, --sec-node-tags")
	}
	return mode, nil
}

// runSelected runs verb's request for every instance the selection
// names: one job each, in parallel (jobs on the same objects wait for
// each other's locks). Several instances are confirmed first unless
// --force-multiple, as Ganeti asks.
func (g *Globals) runSelected(ctx context.Context, verb string, f selectFlags, args []string, mk func(name string) playbooks.Request) error {
	mode, err := f.mode()
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	names, err := playbooks.SelectInstances(st, mode, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return invalid("no instances selected")
	}
	if len(names) == 1 && mode == playbooks.SelectNames {
		return a.run(ctx, mk(names[0]))
	}
	if g.PlanOut != "" {
		return invalid("--plan-out saves one operation; name one instance")
	}
	if !f.ForceMultiple {
		if err := a.confirm(fmt.Sprintf("The following instances will be %s:\n  %s\nDo you want to continue?", verb, strings.Join(names, "\n  "))); err != nil {
			return err
		}
	}
	if g.DryRun {
		for _, n := range names {
			if err := a.run(ctx, mk(n)); err != nil {
				return err
			}
		}
		return nil
	}
	var mu sync.Mutex
	results := make([]view.RunResult, len(names))
	var failed []string
	wp := pool.New().WithMaxGoroutines(max(1, a.parallel()))
	for i, name := range names {
		wp.Go(func() {
			out, err := a.eng.Run(ctx, mk(name))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, name)
				a.pr.Warning("%s %s: %v", verb, name, err)
				results[i] = view.RunResult{Operation: name, Error: err.Error()}
				return
			}
			results[i] = view.RunResult{Operation: out.Operation, JobID: out.JobID, Committed: out.Committed, Serial: out.Serial, Failed: out.Failed}
		})
	}
	wp.Wait()
	if err := a.pr.Result(view.RunResults(results)); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &job.PartialError{Err: fmt.Errorf("%d of %d instance(s) failed: %s", len(failed), len(names), strings.Join(failed, ", "))}
	}
	return nil
}
