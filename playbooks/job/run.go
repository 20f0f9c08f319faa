package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Run plans req and runs the plan as a job: it takes the locks the plan
// needs, plans again under them if it had to wait or the state moved
// meanwhile (retrying with more locks if the new plan needs more), runs
// it, commits its changes and copies the state to the master candidates.
func (e *Engine) Run(ctx context.Context, req playbooks.Request) (*Outcome, error) {
	cur, err := e.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	if e.held != nil { // job resume: under the crashed job's locks
		if need := Locks(cur.Plan); !covered(e.held.Held, need) {
			return nil, fmt.Errorf("%s needs locks the job did not hold (%v); run it as a command of its own", req.Label, need)
		}
		return e.execute(ctx, req.Label, cur.Plan, e.held)
	}
	if err := e.Admit(); err != nil {
		return nil, err
	}
	want := Locks(cur.Plan)
	for round := 0; ; round++ {
		ol, waited, err := e.Lock(ctx, req.Label, want, 0)
		if err != nil {
			return nil, err
		}
		moved, err := e.moved(ctx, cur.State)
		if err != nil {
			ol.Unlock()
			return nil, err
		}
		if !waited && !moved {
			defer ol.Unlock()
			return e.execute(ctx, req.Label, cur.Plan, ol)
		}
		// Another job ran on our objects or committed meanwhile: its
		// changes may change our plan, so plan again under the locks.
		if cur, err = e.Plan(ctx, req); err != nil {
			ol.Unlock()
			return nil, err
		}
		need := Locks(cur.Plan)
		if covered(ol.Held, need) {
			defer ol.Unlock()
			return e.execute(ctx, req.Label, cur.Plan, ol)
		}
		ol.Unlock()
		if round == 2 {
			return nil, fmt.Errorf("%s: the objects it needs kept changing while it waited for their locks; run it again", req.Label)
		}
		want = append(want, need...)
	}
}

// moved reports whether the state is no longer the one a plan was made
// from (a plan made before cluster init expects none).
func (e *Engine) moved(ctx context.Context, from *statefile.State) (bool, error) {
	now, err := e.Store.Read(ctx)
	if errors.Is(err, statefile.ErrNoState) && from.Serial == 0 {
		return false, nil
	}
	if err != nil {
		return false, e.noState(err)
	}
	return now.Serial != from.Serial || now.Lineage != from.Lineage, nil
}

// Execute runs a plan made elsewhere (a saved plan) as a job, under locks
// the caller took (at least Locks(p)).
func (e *Engine) Execute(ctx context.Context, label string, p *plan.Plan, ol *statefile.ObjectLocks) (*Outcome, error) {
	return e.execute(ctx, label, p, ol)
}

func (e *Engine) execute(ctx context.Context, label string, p *plan.Plan, ol *statefile.ObjectLocks) (*Outcome, error) {
	for _, w := range p.Warnings {
		e.Report.Warning(w)
	}
	jr, err := e.startJob(ctx, p, ol)
	if err != nil {
		return nil, err
	}
	// What the planner had to say (the allocator's choice) goes into the
	// job's log as well, as Ganeti's execution log has it.
	for _, w := range p.Warnings {
		jr.logf("WARNING: %s", w)
	}
	for _, n := range p.Notes {
		jr.logf("%s", n)
	}
	ctx, stop := guard(ctx, ol)
	defer stop()
	res, err := apply.Run(ctx, p, e.Runners, e.commit(label, jr), e.options(jr, p))
	// The job ends after the state's copies: cut off before that, it is
	// resumed to make them.
	out, err := e.finish(p, res, err)
	jr.finish(err)
	if out != nil {
		out.JobID = jr.job.ID
	}
	return out, err
}

// options are apply's options for running p as job jr: progress to the
// Reporter and the journal.
func (e *Engine) options(jr *recorder, p *plan.Plan) apply.Options {
	return apply.Options{Parallel: e.Parallel, Hooks: teeHooks{e.Report.Run(p), jr}, Content: e.content}
}

// content gives upload steps their named content: the committed state,
// else what the caller provides (the helper binaries).
func (e *Engine) content(ctx context.Context, source string) ([]byte, error) {
	if source == plan.SourceState {
		return e.Store.ReadRaw(ctx)
	}
	if e.Content == nil {
		return nil, fmt.Errorf("no content for %q", source)
	}
	return e.Content(ctx, source)
}

// finish reports a run's result: a failure after the commit is partial;
// the after-commit failures (state copies not made) are warnings.
func (e *Engine) finish(p *plan.Plan, res *apply.Result, err error) (*Outcome, error) {
	if err != nil {
		if res != nil && res.Committed {
			err = &PartialError{err}
		}
		return nil, err
	}
	for _, late := range res.Late {
		e.Report.Warning(lateError(late).Error())
	}
	for _, n := range p.Notes {
		e.Report.Note(n)
	}
	out := &Outcome{Plan: p, Operation: p.Operation, Committed: res.Committed, Serial: res.Serial, Failed: res.Failed}
	return out, nil
}

// commit commits a plan's changes on top of the state as it is at commit
// time: other jobs may have committed meanwhile, on other objects
// (plan.ApplyChanges refuses if one of ours changed). The state lock is
// held only for this read-modify-write.
func (e *Engine) commit(label string, jr *recorder) apply.Commit {
	return func(ctx context.Context, p *plan.Plan) (int64, error) {
		jr.commitPhase(statefile.CommitStarted, 0)
		lctx, cancel := context.WithTimeout(ctx, stateLockWait)
		defer cancel()
		lk, err := e.Store.Lock(lctx, statefile.NewLockInfo(label, e.Version))
		if err != nil {
			return 0, err
		}
		defer lk.Unlock()
		cur, err := e.Store.Read(ctx)
		switch {
		case errors.Is(err, statefile.ErrNoState) && p.StateSerial == 0:
			cur = statefile.New(p.StateLineage) // cluster init
		case err != nil:
			return 0, err
		case cur.Lineage != p.StateLineage:
			return 0, &plan.StaleError{PlanLineage: p.StateLineage, StateLineage: cur.Lineage, PlanSerial: p.StateSerial, StateSerial: cur.Serial}
		}
		next := cur.Clone()
		if err := p.ApplyChanges(next, e.now()); err != nil {
			return 0, err
		}
		next.GanetictlVersion = e.Version
		serial, err := e.Store.Write(ctx, lk, next)
		if err == nil {
			jr.commitPhase(statefile.CommitDone, serial)
		}
		return serial, err
	}
}

// Replicate copies the state as stored to nodes, outside of a job: for the
// commands that write the whole state themselves (recover, pull). A
// failed copy does not undo anything; verify names it.
func (e *Engine) Replicate(ctx context.Context, nodes []string) error {
	p := plan.New(plan.ClusterOp(playbooks.OpClusterRedistConf), "", 0)
	playbooks.ReplicateTo(p, nodes...)
	res, err := apply.Run(ctx, p, e.Runners, nil, apply.Options{Parallel: e.Parallel, Content: e.content})
	if err != nil {
		return err
	}
	var errs []error
	for _, late := range res.Late {
		errs = append(errs, lateError(late))
	}
	return errors.Join(errs...)
}

// lateError says which after-commit step failed where: "copy the state
// to node1: ...".
func lateError(r apply.StepResult) error {
	return fmt.Errorf("%s to %s: %w", r.Step.Desc, r.Step.Node, r.Err)
}
