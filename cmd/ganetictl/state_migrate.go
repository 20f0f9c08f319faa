package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/statefile"
)

// StateMigrateCmd moves the state to another backend: every version with
// its serial, lineage and history entry, the journal, the saved plans
// applied and the drain flag, as they are.
type StateMigrateCmd struct {
	To    string `help:"The backend to move the state to: dir, cluster or etcd (its settings come from the inventory's [state.cluster] or [state.etcd])." required:"" enum:"dir,cluster,etcd"`
	ToDir string `help:"With --to dir: the state directory to move it to (default: the state directory), which must hold no state." name:"to-dir" type:"path"`
}

func (c *StateMigrateCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	from := a.inv.State.Backend
	if c.To == from && (c.To != "dir" || c.ToDir == "") {
		return invalid("the state is already in the %s backend", c.To)
	}
	// The whole state: no job runs meanwhile, and none starts.
	lk, unlock, err := a.lockWhole(ctx, "state migrate --to "+c.To)
	if err != nil {
		return err
	}
	defer unlock()
	if err := noActiveJobs(ctx, a.store); err != nil {
		return err
	}
	d, err := a.store.Export(ctx)
	if err != nil {
		return err
	}
	if len(d.Versions) == 0 {
		return invalid("no state in %s to migrate", a.store)
	}
	cur, err := a.store.Read(ctx)
	if err != nil {
		return err
	}
	res := view.StateMigrate{Backend: c.To, From: a.store.String(), Serial: cur.Serial, Lineage: cur.Lineage, Versions: len(d.Versions), Jobs: len(d.Jobs) + len(d.Archived), DryRun: g.DryRun}
	dir := c.ToDir
	if dir == "" {
		dir = g.stateDir(a.inv)
	}
	dst, err := a.openBackend(ctx, c.To, dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	res.To = dst.String()
	if g.DryRun {
		return a.pr.Result(res)
	}
	dl, err := dst.Lock(ctx, statefile.NewLockInfo("state migrate from "+from, g.version))
	if err != nil {
		return err
	}
	err = dst.Import(ctx, dl, d)
	dl.Unlock()
	if err != nil {
		return fmt.Errorf("migrate to %s: %w", dst, err)
	}
	// The old backend stays as it was, drained, so that a machine still
	// configured for it starts nothing there.
	_ = lk
	if d.Drain == nil {
		if err := a.store.SetDrained(statefile.DrainInfo{Who: "state migrate to " + c.To, Time: time.Now().UTC()}); err != nil {
			a.pr.Warning("could not drain the old backend: %v", err)
		}
	}
	return a.pr.Result(res)
}

// noActiveJobs refuses while a job runs (or waits, or is queued), and
// while a crashed job still claims objects: its claims live in the
// backend it started in.
func noActiveJobs(ctx context.Context, s statefile.Backend) error {
	j, err := s.Journal()
	if err != nil {
		return err
	}
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	var ids []int64
	for _, job := range jobs {
		if job.Status.Active() || job.Status == statefile.JobCrashed && len(s.CrashedClaims()[job.ID]) > 0 {
			ids = append(ids, job.ID)
		}
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		return &job.BusyError{Msg: fmt.Sprintf("jobs %v are running or were cut off mid-run: finish them (`ganetictl job watch`, `job resume`, `job abort`) before migrating the state", ids)}
	}
	return nil
}
