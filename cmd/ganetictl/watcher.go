package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Exit codes of the maintenance passes (watcher, harep), beside main's:
// 0 nothing to do (or paused, or another pass runs), 2 acted and every
// action succeeded, 3 an action failed or an instance was given up on.
const (
	exitActed  = exitChanges
	exitFailed = exitPartial
)

const watcherExitHelp = `Exit status: 0 nothing to do (also when paused or another pass is running), 2 acted
and every action succeeded, 3 an action failed or an instance was given up on, 1 the
pass itself failed. (systemd: SuccessExitStatus=2.)`

// WatcherCmd is ganeti-watcher: one maintenance pass, safe to run from
// cron, a systemd timer or CI, on the workstation or any machine with the
// inventory and the state directory, by several at once.
type WatcherCmd struct {
	JobAge        string `short:"A" name:"job-age" default:"6h" help:"Archive finished jobs older than this (30m, 6h, 2d, 1w; all)."`
	IgnorePause   bool   `name:"ignore-pause" help:"Run even though the watcher is paused (cluster watcher pause)."`
	NoVerifyDisks bool   `name:"no-verify-disks" help:"Do not verify and activate disks."`
	NodeGroup     string `short:"g" name:"node-group" help:"Only this node group."`
	NoStrict      bool   `name:"no-strict" help:"Accepted for compatibility (verify-disks never waits for node locks)."`
	WaitChildren  bool   `name:"wait-children" hidden:""`
	NoWait        bool   `name:"no-wait-children" hidden:""`
	RapiIP        string `name:"rapi-ip" hidden:"" help:"Accepted for compatibility (no RAPI daemon)."`
}

// Help is shown by --help: the exit codes.
func (c *WatcherCmd) Help() string { return watcherExitHelp }

func (c *WatcherCmd) Run(ctx context.Context, g *Globals) error {
	age, err := parseAge(c.JobAge)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	now := time.Now()
	rep := view.WatcherReport{Actions: []view.WatcherAction{}}
	if !c.IgnorePause {
		p, paused, err := a.store.WatcherPaused(now)
		if err != nil {
			return err
		}
		if paused {
			rep.Skipped = "The watcher is paused"
			if !p.Until.IsZero() {
				u := p.Until
				rep.PausedUntil = &u
				rep.Skipped = fmt.Sprintf("The watcher is paused until %s (by %s@%s); nothing done (--ignore-pause runs it anyway).",
					u.Local().Format("Mon Jan _2 15:04:05 2006"), p.Who, p.Host)
			}
			return a.pr.Result(rep)
		}
	}
	// One pass at a time: a pass that finds another one running exits.
	ol, err := a.store.LockObjects(ctx, statefile.NewLockInfo("watcher", g.version),
		[]statefile.LockReq{{Level: statefile.LevelWatcher, Name: "pass", Exclusive: true}}, statefile.LockOptions{})
	var held *statefile.ObjectLockedError
	if errors.As(err, &held) {
		rep.Skipped, rep.Quiet = "Another watcher pass is running: "+held.Error(), true
		if g.Verbose {
			a.pr.Note("%s; exiting", rep.Skipped)
		}
		return a.pr.Result(rep)
	}
	if err != nil {
		return err
	}
	defer ol.Unlock()
	if err := a.eng.Admit(); err != nil {
		rep.Skipped = "The job queue is drained, can't maintain cluster state: " + err.Error()
		return a.pr.Result(rep)
	}
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	if c.NodeGroup != "" {
		if _, ok := st.NodeGroups[c.NodeGroup]; !ok {
			return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Group '%s' not found", c.NodeGroup)}
		}
	}
	if !g.DryRun {
		if rep.Archived, err = archiveJobs(ctx, a, age, now); err != nil {
			a.pr.Warning("archiving jobs: %v", err)
		}
	}
	facts := a.gather(ctx, st, playbooks.WatchNodes(st, c.NodeGroup), playbooks.WatchParts...)
	d := playbooks.Watch(playbooks.WatchInput{State: st, Facts: facts, Now: now, Group: c.NodeGroup, NoVerifyDisks: c.NoVerifyDisks})
	if g.DryRun {
		return a.pr.Result(plannedPass(d))
	}
	jr := a.jobs("watcher")
	var mu sync.Mutex
	add := func(act view.WatcherAction) {
		mu.Lock()
		defer mu.Unlock()
		rep.Actions = append(rep.Actions, act)
	}
	// Restarts, then cleanups, then disk activations, then the offline
	// nodes: each a job; those of one kind run at once (their locks keep
	// jobs on the same objects apart).
	jr.each(ctx, len(d.Restarts), func(i int) {
		r := d.Restarts[i]
		act := view.WatcherAction{Kind: "restart", Subject: r.Instance, Detail: fmt.Sprintf("attempt #%d", r.Attempt)}
		out, err := jr.run(ctx, "Restarting instance "+r.Instance, playbooks.InstanceStartupOp.With(r.Instance))
		result(&act, out, err)
		if act.Result == "done" || act.Result == "failed" {
			mu.Lock()
			d.Attempted(r.Instance, now)
			mu.Unlock()
		}
		add(act)
	})
	jr.each(ctx, len(d.Cleanups), func(i int) {
		name := d.Cleanups[i]
		act := view.WatcherAction{Kind: "cleanup", Subject: name}
		out, err := jr.run(ctx, "Cleaning up instance "+name, playbooks.InstanceShutdownOp.With(playbooks.ShutdownArgs{Name: name, Timeout: time.Minute}))
		result(&act, out, err)
		add(act)
	})
	jr.each(ctx, len(d.Activations), func(i int) {
		x := d.Activations[i]
		act := view.WatcherAction{Kind: "activate-disks", Subject: x.Instance, Detail: x.Reason}
		out, err := jr.run(ctx, "Activating disks for instance "+x.Instance, playbooks.ActivateDisksOp.With(playbooks.ActivateArgs{Name: x.Instance}))
		result(&act, out, err)
		add(act)
	})
	jr.each(ctx, len(d.Maintenance), func(i int) {
		m := d.Maintenance[i]
		act := view.WatcherAction{Kind: "node-maintenance", Subject: m.Node, Detail: maintenanceDetail(m)}
		out, err := jr.run(ctx, "Node maintenance of "+m.Node, playbooks.NodeMaintenanceOp.With(m.Node))
		result(&act, out, err)
		add(act)
	})
	// What the watcher remembers, written once at the end of the pass.
	if changedRecord(st.Watcher, d.Record) {
		if _, err := jr.run(ctx, "Saving the watcher's records", playbooks.WatcherRecordOp.With(d.Record)); err != nil {
			rep.Actions = append(rep.Actions, view.WatcherAction{Kind: "record", Subject: "watcher", Result: "failed", Error: err.Error()})
			rep.Failed++
		}
	}
	for _, n := range d.Notes {
		rep.Notes = append(rep.Notes, view.WatcherNote{Kind: n.Kind, Name: n.Name, Reason: n.Reason, Error: n.Error})
		if n.Error {
			rep.Failed++
		}
	}
	for _, act := range rep.Actions {
		switch act.Result {
		case "done":
			rep.Acted = true
		case "failed":
			rep.Acted = true
			rep.Failed++
		}
	}
	sortActions(rep.Actions)
	if err := a.pr.Result(rep); err != nil {
		return err
	}
	return passExit(rep.Acted, rep.Failed)
}

// plannedPass is what a pass would do (--dry-run): its actions, not run.
func plannedPass(d *playbooks.WatchDecision) view.WatcherReport {
	rep := view.WatcherReport{Actions: []view.WatcherAction{}}
	for _, r := range d.Restarts {
		rep.Actions = append(rep.Actions, view.WatcherAction{Kind: "restart", Subject: r.Instance, Detail: fmt.Sprintf("attempt #%d", r.Attempt), Result: "would run"})
	}
	for _, n := range d.Cleanups {
		rep.Actions = append(rep.Actions, view.WatcherAction{Kind: "cleanup", Subject: n, Result: "would run"})
	}
	for _, x := range d.Activations {
		rep.Actions = append(rep.Actions, view.WatcherAction{Kind: "activate-disks", Subject: x.Instance, Detail: x.Reason, Result: "would run"})
	}
	for _, m := range d.Maintenance {
		rep.Actions = append(rep.Actions, view.WatcherAction{Kind: "node-maintenance", Subject: m.Node, Detail: maintenanceDetail(m), Result: "would run"})
	}
	for _, n := range d.Notes {
		rep.Notes = append(rep.Notes, view.WatcherNote{Kind: n.Kind, Name: n.Name, Reason: n.Reason, Error: n.Error})
	}
	return rep
}

// passExit is a maintenance pass's exit: nil when nothing was done and
// nothing failed, else the code that says which.
func passExit(acted bool, failed int) error {
	switch {
	case failed > 0:
		return silentExit(exitFailed)
	case acted:
		return silentExit(exitActed)
	}
	return nil
}

// sortActions keeps the pass's order of kinds; within a kind, by subject
// (jobs of one kind ended in any order).
func sortActions(acts []view.WatcherAction) {
	order := map[string]int{"restart": 0, "cleanup": 1, "activate-disks": 2, "node-maintenance": 3, "record": 4}
	sort.SliceStable(acts, func(i, j int) bool {
		if order[acts[i].Kind] != order[acts[j].Kind] {
			return order[acts[i].Kind] < order[acts[j].Kind]
		}
		return acts[i].Subject < acts[j].Subject
	})
}

func maintenanceDetail(m playbooks.Maintenance) string {
	var parts []string
	if len(m.Instances) > 0 {
		parts = append(parts, "instances "+strings.Join(m.Instances, ", "))
	}
	if len(m.Minors) > 0 {
		var ms []string
		for _, x := range m.Minors {
			ms = append(ms, fmt.Sprint(x))
		}
		parts = append(parts, "DRBD minors "+strings.Join(ms, ", "))
	}
	return strings.Join(parts, "; ")
}

// result fills an action's outcome from its job's: done, unneeded (its
// plan found nothing to do on the nodes), skipped (another job holds its
// objects: the next pass tries again) or failed.
func result(act *view.WatcherAction, out *job.Outcome, err error) {
	var (
		held    *statefile.ObjectLockedError
		crashed *statefile.CrashedJobError
		busy    *job.BusyError
	)
	switch {
	case errors.As(err, &held), errors.As(err, &crashed), errors.As(err, &busy):
		act.Result, act.Error = "skipped", err.Error()
	case err != nil:
		act.Result, act.Error = "failed", err.Error()
	case !hasNodeSteps(out.Plan):
		act.Result, act.JobID = "unneeded", out.JobID
	default:
		act.Result, act.JobID = "done", out.JobID
	}
}

// hasNodeSteps reports whether a plan does anything on a node before its
// commit (the state's copies do not count).
func hasNodeSteps(p *plan.Plan) bool {
	if p == nil {
		return false
	}
	for _, st := range p.Stages {
		if !st.AfterCommit && len(st.Steps) > 0 {
			return true
		}
	}
	return false
}

func changedRecord(before, after *statefile.Watcher) bool {
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	return string(b) != string(a)
}

// archiveJobs archives the finished jobs that ended longer than age ago
// (age < 0: all), as the watcher does with --job-age.
func archiveJobs(ctx context.Context, a *app, age time.Duration, now time.Time) (int, error) {
	j, err := a.store.Journal()
	if err != nil {
		return 0, err
	}
	jobs, err := j.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, jb := range jobs {
		if jb.Status.Finished() && (age < 0 || now.Sub(jb.Ended) > age) {
			if err := j.Archive(ctx, jb.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// jobRunner runs a maintenance pass's jobs: each through the engine, with
// the pass's reason in its journal entry, without the per-step progress
// (a pass run from cron prints its report only; -v shows the steps).
type jobRunner struct {
	a      *app
	source string // watcher, harep
}

func (a *app) jobs(source string) *jobRunner { return &jobRunner{a: a, source: source} }

// run runs req as a job whose reason says why the pass runs it.
func (r *jobRunner) run(ctx context.Context, why string, req playbooks.Request) (*job.Outcome, error) {
	e := *r.a.eng
	e.Reason = r.source + ": " + why
	if r.a.g.Reason != "" {
		e.Reason = r.a.g.Reason + "; " + e.Reason
	}
	if !r.a.g.Verbose {
		e.Report = quietReporter{e.Report}
	}
	return e.Run(ctx, req)
}

// each calls fn(0..n-1) at once, bounded by --parallel.
func (r *jobRunner) each(ctx context.Context, n int, fn func(i int)) {
	wp := pool.New().WithMaxGoroutines(max(1, r.a.parallel()))
	for i := range n {
		wp.Go(func() { fn(i) })
	}
	wp.Wait()
}

// quietReporter keeps the engine's warnings and lock waits and drops the
// progress and notes.
type quietReporter struct{ job.Reporter }

func (quietReporter) Run(*plan.Plan) apply.Hooks { return apply.NoHooks{} }
func (quietReporter) Note(string)                {}
func (quietReporter) JobStarted(int64)           {}

// ClusterWatcherCmd is gnt-cluster watcher.
type ClusterWatcherCmd struct {
	Pause    ClusterWatcherPauseCmd    `cmd:"" help:"Pause the watcher for DURATION (30m, 1h, 2d, 1w, or seconds)."`
	Continue ClusterWatcherContinueCmd `cmd:"" help:"Let the watcher run again."`
	Info     ClusterWatcherInfoCmd     `cmd:"" help:"Show whether the watcher is paused."`
}

// ClusterWatcherPauseCmd is gnt-cluster watcher pause DURATION.
type ClusterWatcherPauseCmd struct {
	Duration string `arg:""`
}

func (c *ClusterWatcherPauseCmd) Run(g *Globals) error {
	d, err := parseAge(c.Duration)
	if err != nil || d < 0 {
		return invalid("pause duration %q: a number with s, m, h, d or w", c.Duration)
	}
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	until := time.Now().Add(d).Truncate(time.Second)
	if !g.DryRun {
		if err := a.store.SetWatcherPause(statefile.WatcherPause{Until: until}); err != nil {
			return err
		}
	}
	return a.pr.Result(view.WatcherPauseInfo{Paused: true, Until: &until, DryRun: g.DryRun})
}

// ClusterWatcherContinueCmd is gnt-cluster watcher continue.
type ClusterWatcherContinueCmd struct{}

func (c *ClusterWatcherContinueCmd) Run(g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if !g.DryRun {
		if err := a.store.ClearWatcherPause(); err != nil {
			return err
		}
	}
	return a.pr.Result(view.WatcherPauseInfo{Continued: true, DryRun: g.DryRun})
}

// ClusterWatcherInfoCmd is gnt-cluster watcher info.
type ClusterWatcherInfoCmd struct{}

func (c *ClusterWatcherInfoCmd) Run(g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	p, paused, err := a.store.WatcherPaused(time.Now())
	if err != nil {
		return err
	}
	info := view.WatcherPauseInfo{Paused: paused}
	if paused && !p.Until.IsZero() {
		info.Until = &p.Until
	}
	return a.pr.Result(info)
}
