package job

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// crashed is a job whose ganetictl died mid-run, read back: its plan, the
// steps done and cut off, and how its opcode is settled.
type crashed struct {
	j      *statefile.Journal
	job    *statefile.Job
	p      *plan.Plan
	info   playbooks.OpInfo
	done   map[apply.StepID]bool
	cut    map[apply.StepID]bool
	failed bool
}

// committed reports whether the job's commit happened: only the state's
// copies can be left to do.
func (c *crashed) committed() bool { return c.job.Commit == statefile.CommitDone }

// settled reports whether the job is settled by its opcode (a migration)
// rather than step by step.
func (c *crashed) settled() bool { return c.info.Undo == playbooks.Settle && !c.committed() }

// loadCrashed reads crashed job id and decides, before anything is
// touched, whether it can be resumed (or aborted): a refusal leaves the
// job as it was.
func (e *Engine) loadCrashed(ctx context.Context, id int64, resume bool) (*crashed, error) {
	j, err := e.Store.Journal()
	if err != nil {
		return nil, err
	}
	job, err := j.Get(ctx, id)
	if err != nil {
		return nil, inputf("job %d: %v", id, err)
	}
	verb := map[bool]string{true: "resume", false: "abort"}[resume]
	if job.Status != statefile.JobCrashed {
		return nil, inputf("job %d is %s: only a crashed job (its process died mid-run) can be resumed or aborted", id, job.Status)
	}
	if len(job.Plan) == 0 {
		return nil, inputf("job %d has no plan recorded (it was cut off before it started, or by an older ganetictl): nothing to %s; check `ganetictl cluster verify`", id, verb)
	}
	c := &crashed{j: j, job: job, p: new(plan.Plan)}
	if err := json.Unmarshal(job.Plan, c.p); err != nil {
		return nil, fmt.Errorf("job %d: its plan is unreadable: %w", id, err)
	}
	c.info = e.lookup(c.p.Op.ID)
	c.done, c.cut, c.failed = cutOffRun(job.Steps)
	if c.committed() || c.settled() {
		return c, nil
	}
	if resume && c.failed {
		return nil, inputf("job %d was already failing and rolling back when it was cut off: it cannot be resumed; roll it back with `ganetictl job abort %d`", id, id)
	}
	if !resume {
		why := irreversible(c.p, c.done, c.cut)
		if why == "" && c.info.Undo == playbooks.Irreversible && len(c.done)+len(c.cut) > 0 {
			why = c.p.Operation + " removes what it touches"
		}
		if why != "" {
			return nil, inputf("job %d cannot be rolled back: %s; finish it with `ganetictl job resume %d`", id, why, id)
		}
	}
	return c, nil
}

// LeftToDo is what resuming (or aborting) crashed job id would run, as a
// plan to show (--dry-run): the steps not done, a cut-off one after its
// undo; or the undos of the steps done, newest first; for a job settled
// by its opcode, the plan of its settling.
func (e *Engine) LeftToDo(ctx context.Context, id int64, resume bool) (*plan.Plan, error) {
	c, err := e.loadCrashed(ctx, id, resume)
	if err != nil {
		return nil, err
	}
	if c.settled() {
		pl, err := e.Plan(ctx, c.info.Settle(c.p))
		if err != nil {
			return nil, err
		}
		return pl.Plan, nil
	}
	left := leftToDo(c.p, c.done, c.cut, resume || c.committed())
	if c.committed() {
		left.Changes = nil // only the state's copies are left
	}
	return left, nil
}

// Resume finishes crashed job id: it takes the job's locks over, then
// runs the steps it had not finished (the one it was cut off in after that
// step's undo) and commits; a job settled by its opcode (a migration) is
// settled from what the nodes say, then finished.
func (e *Engine) Resume(ctx context.Context, id int64) (*Outcome, error) {
	return e.recover(ctx, id, true)
}

// Abort rolls crashed job id back: the undo of every step it did, newest
// first; a job settled by its opcode is settled (and not done again).
func (e *Engine) Abort(ctx context.Context, id int64) (*Outcome, error) {
	return e.recover(ctx, id, false)
}

func (e *Engine) recover(ctx context.Context, id int64, resume bool) (*Outcome, error) {
	c, err := e.loadCrashed(ctx, id, resume)
	if err != nil {
		return nil, err
	}
	verb := map[bool]string{true: "resume", false: "abort"}[resume]
	label := fmt.Sprintf("job %s %d", verb, id)
	ol, _, err := e.Lock(ctx, label, c.job.Locks, id)
	if err != nil {
		return nil, err
	}
	defer ol.Unlock()
	st, err := e.readState(ctx)
	if err != nil {
		return nil, err
	}
	secrets, err := PlanSecrets(c.p, st)
	if err != nil {
		return nil, err
	}
	p := c.p
	p.SetSecrets(secrets)
	c.job.PID, c.job.Status = os.Getpid(), statefile.JobRunning
	jr := e.recorder(c.j, c.job, p)
	if err := ol.SetJob(id); err != nil {
		return nil, err
	}
	jr.logf("%s by %s pid %d: %d step(s) done, %d cut off, commit %q", verb, c.job.Who, os.Getpid(), len(c.done), len(c.cut), c.job.Commit)

	switch {
	case c.committed() || c.job.Commit == statefile.CommitStarted && p.AppliedTo(st):
		// Nothing to roll back: only the state's copies were left.
		if !resume {
			e.Report.Note(fmt.Sprintf("Job %d had already committed its changes: it cannot be rolled back, only finished; finishing it", id))
		}
		opt := e.options(jr, p)
		opt.Committed, opt.Done = true, c.done
		res, err := apply.Run(ctx, p, e.Runners, nil, opt)
		out, err := e.finish(p, res, err)
		jr.finish(err)
		return withJob(out, id), err
	case c.settled():
		out, err := e.settle(ctx, c, ol, resume)
		jr.finishAs(err, map[bool]statefile.JobStatus{true: statefile.JobSuccess, false: statefile.JobCanceled}[resume])
		return out, err
	case !resume:
		err := apply.Undo(ctx, p, e.Runners, c.done, c.cut, apply.Options{Parallel: e.Parallel, Hooks: teeHooks{e.Report.Run(p), jr}})
		if err != nil {
			err = fmt.Errorf("job %d: rollback incomplete: %w; `ganetictl cluster verify` lists what is left", id, err)
		}
		jr.finishAs(err, statefile.JobCanceled)
		if err != nil {
			return nil, err
		}
		out := &Outcome{Plan: p, Operation: p.Operation, JobID: id, Aborted: true}
		return out, nil
	}
	opt := e.options(jr, p)
	opt.Done, opt.Redo = c.done, c.cut
	res, err := apply.Run(ctx, p, e.Runners, e.commit(label, jr), opt)
	out, err := e.finish(p, res, err)
	jr.finish(err)
	return withJob(out, id), err
}

func withJob(o *Outcome, id int64) *Outcome {
	if o != nil {
		o.JobID = id
	}
	return o
}

// settle runs the opcode's settling of a cut-off run under the job's
// locks, then, resuming, what is left of it.
func (e *Engine) settle(ctx context.Context, c *crashed, ol *statefile.ObjectLocks, resume bool) (*Outcome, error) {
	e.held = ol
	defer func() { e.held = nil }()
	out, err := e.Run(ctx, c.info.Settle(c.p))
	if err != nil {
		return nil, fmt.Errorf("settle %s: %w", c.p.Operation, err)
	}
	if !resume || c.info.Finish == nil {
		return out, nil
	}
	st, err := e.readState(ctx)
	if err != nil {
		return nil, err
	}
	if req, more := c.info.Finish(c.p, st); more {
		return e.Run(ctx, req)
	}
	return out, nil
}

// leftToDo is what resuming (the steps not done, a cut-off one after its
// undo) or aborting (the undos of the done and cut-off steps, newest
// first) a cut-off run of p would run, as a plan to show.
func leftToDo(p *plan.Plan, done, cut map[apply.StepID]bool, resume bool) *plan.Plan {
	out := plan.New(p.Op, p.StateLineage, p.StateSerial)
	out.Operation = p.Operation
	if !resume {
		var undos []plan.Step
		for si := len(p.Stages) - 1; si >= 0; si-- {
			for i := len(p.Stages[si].Steps) - 1; i >= 0; i-- {
				id := apply.StepID{Stage: si, Index: i}
				if u := p.Stages[si].Steps[i].Undo; u != nil && (done[id] || cut[id]) {
					undos = append(undos, *u)
				}
			}
		}
		if len(undos) > 0 {
			out.Add("roll back", plan.Continue, undos...)
		}
		return out
	}
	for si, st := range p.Stages {
		var steps []plan.Step
		for i, s := range st.Steps {
			id := apply.StepID{Stage: si, Index: i}
			if done[id] {
				continue
			}
			if cut[id] && s.Undo != nil {
				steps = append(steps, *s.Undo)
			}
			steps = append(steps, s)
		}
		if len(steps) == 0 {
			continue
		}
		if st.AfterCommit {
			out.AddAfterCommit(st.Name, steps...)
		} else {
			out.Add(st.Name, st.OnError, steps...)
		}
	}
	out.Changes = p.Changes
	return out
}

// irreversible says why undoing a cut-off run would lose data, or "": it
// removed something without an undo after it had built something (a move
// that removed the source disk after the copy: undoing the copy would
// remove the only one left), or the plan only removes.
func irreversible(p *plan.Plan, done, cut map[apply.StepID]bool) string {
	hasUndo, built := false, false
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			hasUndo = hasUndo || s.Undo != nil
		}
	}
	for si, st := range p.Stages {
		for i, s := range st.Steps {
			id := apply.StepID{Stage: si, Index: i}
			if !done[id] && !cut[id] {
				continue
			}
			if s.Undo != nil {
				built = true
				continue
			}
			if s.Action == plan.Remove && (built || !hasUndo) {
				return fmt.Sprintf("it already ran %q on %s, which has no undo", s.Desc, s.Node)
			}
		}
	}
	return ""
}

// cutOffRun reads a crashed job's step records: the steps done, the steps
// cut off mid-run (marked canceled in steps), and whether the job was
// failing or rolling back when it died. The newest record of each step
// says where it is. An undo that no run of its step follows means a
// rollback; one that follows a cut-off run is the undo before re-running
// it (job resume).
func cutOffRun(steps []statefile.StepRecord) (done, cut map[apply.StepID]bool, failed bool) {
	done, cut = map[apply.StepID]bool{}, map[apply.StepID]bool{}
	rolling := map[apply.StepID]bool{}
	last := map[apply.StepID]statefile.JobStatus{} // of the step's newest run
	for i := range steps {
		r := &steps[i]
		k := apply.StepID{Stage: r.StageIndex, Index: r.Index}
		if r.Undo {
			if last[k] == statefile.JobCanceled {
				cut[k] = true
			} else {
				rolling[k] = true
			}
			continue
		}
		if r.Status == statefile.JobRunning {
			r.Status, r.Error = statefile.JobCanceled, "cut off (the process died)"
		}
		last[k] = r.Status
		delete(rolling, k)
		delete(done, k)
		delete(cut, k)
		switch r.Status {
		case statefile.JobError:
			failed = true
		case statefile.JobSuccess:
			done[k] = true
		case statefile.JobCanceled:
			cut[k] = true
		}
	}
	return done, cut, failed || len(rolling) > 0
}

// PlanSecrets resolves a loaded plan's DRBD secrets from the state and
// from the instances its changes create or modify: plans are saved and
// journaled without them.
func PlanSecrets(p *plan.Plan, st *statefile.State) (map[string]string, error) {
	var disks []*statefile.Disk
	for _, i := range st.Instances {
		disks = append(disks, i.Disks...)
	}
	for _, c := range p.Changes {
		if c.Kind != plan.KindInstance || len(c.After) == 0 {
			continue
		}
		var inst statefile.Instance
		if err := json.Unmarshal(c.After, &inst); err != nil {
			return nil, inputf("plan change %s: %v", c.Name, err)
		}
		disks = append(disks, inst.Disks...)
	}
	return storage.DRBDSecrets(disks), nil
}

// CrashedJobOn is the crashed job of opcode id on instance name that
// still claims it, or 0: `instance migrate --cleanup` settles it.
func (e *Engine) CrashedJobOn(ctx context.Context, id plan.OpID, name string) int64 {
	j, err := e.Store.Journal()
	if err != nil {
		return 0
	}
	for jid, held := range e.Store.CrashedClaims() {
		if !statefile.Covers(held, statefile.LockReq{Level: statefile.LevelInstance, Name: name, Exclusive: true}) {
			continue
		}
		job, err := j.Get(ctx, jid)
		if err != nil {
			continue
		}
		var p plan.Plan
		if json.Unmarshal(job.Plan, &p) == nil && p.Op.ID == id && p.Op.Name == name {
			return jid
		}
	}
	return 0
}

// CrashedFindings are cluster verify's warnings for jobs cut off mid-run:
// until resumed or aborted, what they did is half done and their objects
// are claimed.
func (e *Engine) CrashedFindings(ctx context.Context, cluster string) []playbooks.Finding {
	j, err := e.Store.Journal()
	if err != nil {
		return nil
	}
	var out []playbooks.Finding
	for id, held := range e.Store.CrashedClaims() {
		what := ""
		if job, err := j.Get(ctx, id); err == nil && len(job.Opcodes) > 0 {
			what = " (" + job.Opcodes[0] + ")"
		}
		var objs []string
		for _, r := range held {
			if r.Exclusive && r.Level != statefile.LevelNodeRes {
				objs = append(objs, strings.TrimSuffix(r.String(), " (exclusive)"))
			}
		}
		out = append(out, playbooks.Finding{Severity: playbooks.SevWarning, Code: "ECLUSTERJOB", Kind: "cluster", Object: cluster,
			Message: fmt.Sprintf("job %d%s was cut off mid-run and still claims %s: run `ganetictl job resume %d` or `ganetictl job abort %d`",
				id, what, strings.Join(objs, ", "), id, id)})
	}
	return out
}
