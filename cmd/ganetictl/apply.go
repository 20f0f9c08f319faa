package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ganetictl/ganetictl/desired"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/statefile"
)

// savePlan writes a plan and the facts it was made from to --plan-out,
// shows it, and changes nothing.
func (a *app) savePlan(pl *job.Planned) error {
	sp := a.eng.NewSaved(pl, os.Args[1:])
	if err := sp.WriteFile(a.g.PlanOut); err != nil {
		return err
	}
	if err := a.pr.Result(view.PlanView{Plan: pl.Plan}); err != nil {
		return err
	}
	a.pr.Note("Saved the plan to %s (id %s); carry it out with `ganetictl apply %s`.", a.g.PlanOut, sp.ID, a.g.PlanOut)
	return nil
}

// silentError is an error already reported (as a JSON event): main exits
// with its code and prints nothing more.
type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }
func (e *silentError) Silent() bool  { return true }

// changesError is --detailed-exitcode's "changes pending" (exit 2).
type changesError struct{}

func (changesError) Error() string { return "changes pending" }
func (changesError) ExitCode() int { return exitChanges }
func (changesError) Silent() bool  { return true }

// ApplyCmd carries out a saved plan, or makes the cluster match a desired-state file.
type ApplyCmd struct {
	File             string        `short:"f" name:"file" type:"path" help:"Desired-state TOML file (see examples/desired.toml)."`
	AllowDestroy     bool          `name:"allow-destroy" help:"Allow removing (and recreating) instances."`
	DetailedExitcode bool          `name:"detailed-exitcode" help:"Exit 0 when nothing changed, 2 when changes were applied."`
	ShutdownTimeout  time.Duration `name:"shutdown-timeout" default:"2m" help:"Wait this long for instances to stop cleanly."`
	PlanFile         string        `arg:"" optional:"" type:"path" help:"A plan saved with --plan-out."`
}

func (c *ApplyCmd) Run(ctx context.Context, g *Globals) error {
	if (c.File == "") == (c.PlanFile == "") {
		return invalid("apply takes either a saved plan FILE or -f DESIRED.toml")
	}
	if g.DryRun || g.PlanOut != "" {
		return invalid("apply does not take --dry-run or --plan-out: use `ganetictl plan -f FILE`")
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	a.rep.Events = a.pr.EventStream(time.Now)
	changed := false
	if c.PlanFile != "" {
		err = a.applySaved(ctx, c.PlanFile)
		changed = err == nil
	} else {
		changed, err = a.applyDesired(ctx, c.File, desired.Options{AllowDestroy: c.AllowDestroy, ShutdownTimeout: c.ShutdownTimeout})
	}
	if err != nil {
		if a.rep.Events != nil {
			a.rep.Events.Error(err, exitCode(err))
			return &silentError{err}
		}
		return err
	}
	if c.DetailedExitcode && changed {
		return changesError{}
	}
	return nil
}

// applySaved carries out a saved plan once.
func (a *app) applySaved(ctx context.Context, path string) error {
	sp, err := job.LoadSaved(path)
	if err != nil {
		return err
	}
	out, err := a.eng.ApplySaved(ctx, sp)
	if err != nil {
		return err
	}
	return a.finished(out)
}

// PlanCmd shows what apply -f would do.
type PlanCmd struct {
	File             string        `short:"f" name:"file" type:"path" required:"" help:"Desired-state TOML file (see examples/desired.toml)."`
	AllowDestroy     bool          `name:"allow-destroy" help:"Allow removing (and recreating) instances."`
	DetailedExitcode bool          `name:"detailed-exitcode" help:"Exit 0 when there are no changes, 2 when there are, 1 on error."`
	ShutdownTimeout  time.Duration `name:"shutdown-timeout" default:"2m" help:"Wait this long for instances to stop cleanly."`
}

func (c *PlanCmd) Run(ctx context.Context, g *Globals) error {
	if g.PlanOut != "" {
		return invalid("plan -f does not save plans: each operation is planned again when applied; save single operations with --plan-out")
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	res, _, err := a.planDesired(ctx, c.File, desired.Options{AllowDestroy: c.AllowDestroy, ShutdownTimeout: c.ShutdownTimeout})
	if err != nil {
		return err
	}
	if err := a.pr.Result(view.DesiredPlan{Result: res}); err != nil {
		return err
	}
	if c.DetailedExitcode && !res.Empty() {
		return changesError{}
	}
	return nil
}

// planDesired loads a desired-state file and diffs it against the state
// and the facts of every online node. Nothing is locked or touched.
func (a *app) planDesired(ctx context.Context, path string, opt desired.Options) (*desired.Result, *statefile.State, error) {
	f, err := desired.Load(path)
	if err != nil {
		return nil, nil, &invalidError{err}
	}
	st, err := a.readState(ctx)
	if err != nil {
		return nil, nil, err
	}
	nodes, _ := onlineNodes(st, nil)
	env := a.eng.Env
	env.State, env.Facts = st, a.gather(ctx, st, nodes)
	res, err := desired.Diff(env, f, opt)
	if err != nil {
		return nil, nil, &invalidError{err}
	}
	return res, st, nil
}

// applyDesired plans, shows, confirms, then runs the operations one by
// one, each its own job, planned again against the state the previous one
// left.
func (a *app) applyDesired(ctx context.Context, path string, opt desired.Options) (bool, error) {
	res, _, err := a.planDesired(ctx, path, opt)
	if err != nil {
		return false, err
	}
	ev := a.rep.Events
	if ev == nil {
		if err := view.RenderDesired(a.s.Err, res); err != nil {
			return false, err
		}
	}
	if res.Empty() {
		if ev != nil {
			ev.Done(map[string]int{"add": 0, "change": 0, "destroy": 0, "operations": 0})
		}
		return false, nil
	}
	if err := a.confirm("Apply these operations?"); err != nil {
		return false, err
	}
	all := func(st *statefile.State) playbooks.Needs {
		n, _ := onlineNodes(st, nil)
		return playbooks.Needs{Nodes: n}
	}
	for i, op := range res.Ops {
		if ev == nil {
			a.pr.Note("\n[%d/%d] %s", i+1, len(res.Ops), op.Desc)
		}
		out, err := a.eng.Run(ctx, playbooks.Request{Label: op.Desc, Needs: all, Plan: op.Plan})
		if err == nil {
			err = a.finished(out)
		}
		if err != nil {
			return i > 0, fmt.Errorf("operation %d/%d (%s): %w", i+1, len(res.Ops), op.Desc, err)
		}
	}
	add, change, destroy := res.Counts()
	if ev != nil {
		ev.Done(map[string]int{"add": add, "change": change, "destroy": destroy, "operations": len(res.Ops)})
	} else {
		a.pr.Note("\nApply complete: %d added, %d changed, %d destroyed.", add, change, destroy)
	}
	return true, nil
}
