// Package apply carries out a plan: stage by stage, the steps of a stage
// concurrently over the nodes' runners, undoing what was done when an abort
// stage fails, then committing the plan's state changes. It is the only
// package that joins plans, node runners and the state. It never prints:
// progress goes to Hooks.
package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
)

// Runners gives the runner of a node; *remote.Pool satisfies it.
type Runners interface {
	Get(ctx context.Context, node string) (remote.Runner, error)
}

// Hooks receive progress. Calls may come from several goroutines at once.
type Hooks interface {
	StageStarted(stage *plan.Stage)
	StepStarted(step *plan.Step)
	StepFinished(r StepResult)
	Undoing(step *plan.Step)
	StateSaved(serial int64)
}

// StderrHooks is an optional upgrade of Hooks: StepStderr may return a
// writer that receives a step's stderr while the step runs (for in-step
// progress, such as a disk copy's), or nil. The StepResult still carries
// the whole stderr. Undo steps and Gather are not streamed.
type StderrHooks interface {
	StepStderr(step *plan.Step) io.Writer
}

// NoHooks ignores all progress.
type NoHooks struct{}

func (NoHooks) StageStarted(*plan.Stage) {}
func (NoHooks) StepStarted(*plan.Step)   {}
func (NoHooks) StepFinished(StepResult)  {}
func (NoHooks) Undoing(*plan.Step)       {}
func (NoHooks) StateSaved(int64)         {}

// StepResult is what one step did.
type StepResult struct {
	Stage    int
	Index    int
	Step     *plan.Step
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
	Err      error // nil on success
}

// Options tune a run.
type Options struct {
	Parallel int   // bound on concurrent steps; default 32
	Hooks    Hooks // default NoHooks
	Now      func() time.Time
	// Done and Redo resume a cut-off run (see Run).
	Done, Redo map[StepID]bool
	// Committed skips the commit of a resumed run that had committed.
	Committed bool
	// Content gives the content of upload steps that name a Source.
	Content func(ctx context.Context, source string) ([]byte, error)
}

func (o *Options) defaults() {
	if o.Parallel < 1 {
		o.Parallel = 32
	}
	if o.Hooks == nil {
		o.Hooks = NoHooks{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Result is the outcome of a plan's run.
type Result struct {
	Steps      []StepResult // in plan order
	Committed  bool
	Serial     int64 // state serial after commit
	Failed     int   // failed steps
	RolledBack bool
	// Late are the failed after-commit steps (a state copy not made):
	// reported, not undone; verify names what they left.
	Late []StepResult
}

// Commit saves the plan's changes to the state as it is at commit time
// (other writers may have committed meanwhile, on other objects), and
// returns the committed serial. It is called once, after the stages.
type Commit func(ctx context.Context, p *plan.Plan) (int64, error)

// StepID locates a step in its plan.
type StepID struct{ Stage, Index int }

// Run carries out p. When every abort stage succeeded it calls commit
// (skipped when the plan changes nothing, or opt.Committed), then runs the
// after-commit stages (the state's copies), whose failures are reported in
// Result.Late without failing the run: the commit stands. On an abort
// stage's failure it runs the Undo steps of all steps done so far, newest
// first, and returns the failure. Freshness of the plan is the caller's
// concern.
//
// opt.Done and opt.Redo resume a run that was cut off: Done steps are not
// run again (they count as done for undo), Redo steps were cut off mid-run:
// their undo runs first, errors ignored, and then the step itself.
func Run(ctx context.Context, p *plan.Plan, rs Runners, commit Commit, opt Options) (*Result, error) {
	opt.defaults()
	res := &Result{}
	var done []StepResult // succeeded steps that may need undoing
	var failures []error
	for si := range p.Stages {
		stage := &p.Stages[si]
		if stage.AfterCommit {
			continue
		}
		results := runStage(ctx, p, si, rs, opt)
		res.Steps = append(res.Steps, results...)
		var stageErrs []error
		for _, r := range results {
			if r.Err != nil {
				stageErrs = append(stageErrs, r.Err)
				continue
			}
			done = append(done, r)
		}
		res.Failed += len(stageErrs)
		if len(stageErrs) == 0 {
			continue
		}
		if stage.OnError == plan.Continue {
			failures = append(failures, stageErrs...)
			continue
		}
		// Undo even when ctx was cancelled (Ctrl-C): that is the point.
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		undoErr := undo(undoCtx, p, done, rs, opt)
		cancel()
		res.RolledBack = undoErr == nil
		err := fmt.Errorf("%s: stage %q failed: %w", p.Operation, stage.Name, errors.Join(stageErrs...))
		if undoErr != nil {
			err = fmt.Errorf("%w; rollback incomplete: %w", err, undoErr)
		} else if hasUndo(done) {
			err = fmt.Errorf("%w (rolled back)", err)
		}
		return res, err
	}
	if len(p.Changes) > 0 && commit != nil && !opt.Committed {
		// The nodes are changed: commit even if ctx was cancelled meanwhile.
		serial, err := commit(context.WithoutCancel(ctx), p)
		if err != nil {
			return res, fmt.Errorf("%s: commit state: %w", p.Operation, err)
		}
		res.Committed, res.Serial = true, serial
		opt.Hooks.StateSaved(serial)
	}
	if len(failures) > 0 {
		return res, fmt.Errorf("%s: %d step(s) failed: %w", p.Operation, len(failures), errors.Join(failures...))
	}
	for si := range p.Stages {
		if !p.Stages[si].AfterCommit {
			continue
		}
		results := runStage(ctx, p, si, rs, opt)
		res.Steps = append(res.Steps, results...)
		for _, r := range results {
			if r.Err != nil {
				res.Late = append(res.Late, r)
			}
		}
	}
	return res, nil
}

// runStage runs the steps of stage si that opt.Done does not count as
// done, after the undo of those opt.Redo names, and returns the results of
// all its steps in plan order.
func runStage(ctx context.Context, p *plan.Plan, si int, rs Runners, opt Options) []StepResult {
	stage := &p.Stages[si]
	results := make([]StepResult, 0, len(stage.Steps))
	var todo []int
	for i := range stage.Steps {
		id := StepID{si, i}
		if opt.Done[id] {
			results = append(results, StepResult{Stage: si, Index: i, Step: &stage.Steps[i]})
			continue
		}
		if opt.Redo[id] && stage.Steps[i].Undo != nil {
			u := stage.Steps[i].Undo
			opt.Hooks.Undoing(u)
			r := runStep(ctx, p, u, rs, nil, opt.Content)
			r.Stage, r.Index = si, i
			opt.Hooks.StepFinished(r)
		}
		todo = append(todo, i)
	}
	if len(todo) > 0 {
		opt.Hooks.StageStarted(stage)
		results = append(results, runSteps(ctx, p, si, todo, rs, opt)...)
		sort.Slice(results, func(a, b int) bool { return results[a].Index < results[b].Index })
	}
	return results
}

// Undo rolls back a run that was cut off: the undo steps of the done steps,
// newest first (by plan order), and of the steps cut off mid-run, whose
// undo errors are ignored (they may not have got far enough to leave
// anything). It returns the errors of the done steps' undos.
func Undo(ctx context.Context, p *plan.Plan, rs Runners, done, cutOff map[StepID]bool, opt Options) error {
	opt.defaults()
	var errs []error
	for si := len(p.Stages) - 1; si >= 0; si-- {
		st := &p.Stages[si]
		for i := len(st.Steps) - 1; i >= 0; i-- {
			id := StepID{si, i}
			u := st.Steps[i].Undo
			if u == nil || !done[id] && !cutOff[id] {
				continue
			}
			opt.Hooks.Undoing(u)
			r := runStep(ctx, p, u, rs, nil, opt.Content)
			r.Stage, r.Index = si, i
			opt.Hooks.StepFinished(r)
			if r.Err != nil && done[id] {
				errs = append(errs, r.Err)
			}
		}
	}
	return errors.Join(errs...)
}

// Gather runs read-only steps on their nodes concurrently and returns every
// result in input order; a failed step carries its error, the others proceed.
func Gather(ctx context.Context, steps []plan.Step, rs Runners, opt Options) []StepResult {
	opt.defaults()
	p := &plan.Plan{Stages: []plan.Stage{{Name: "gather facts", OnError: plan.Continue, Steps: steps}}}
	idx := make([]int, len(steps))
	for i := range idx {
		idx[i] = i
	}
	return runSteps(ctx, p, 0, idx, rs, opt)
}

func runSteps(ctx context.Context, p *plan.Plan, si int, idx []int, rs Runners, opt Options) []StepResult {
	stage := &p.Stages[si]
	wp := pool.NewWithResults[StepResult]().WithMaxGoroutines(opt.Parallel)
	for _, i := range idx {
		step := &stage.Steps[i]
		wp.Go(func() StepResult {
			opt.Hooks.StepStarted(step)
			var live io.Writer
			if sh, ok := opt.Hooks.(StderrHooks); ok {
				live = sh.StepStderr(step)
			}
			r := runStep(ctx, p, step, rs, live, opt.Content)
			r.Stage, r.Index = si, i
			opt.Hooks.StepFinished(r)
			return r
		})
	}
	results := wp.Wait()
	// conc v0.3.0 returns results in completion order.
	sort.Slice(results, func(a, b int) bool { return results[a].Index < results[b].Index })
	return results
}

// runStep runs one step; live, when not nil, also receives its stderr as it arrives.
func runStep(ctx context.Context, p *plan.Plan, step *plan.Step, rs Runners, live io.Writer, content func(context.Context, string) ([]byte, error)) (r StepResult) {
	start := time.Now()
	r.Step = step
	defer func() { r.Duration = time.Since(start) }() // r is the named result: the deferred write is returned
	runner, err := rs.Get(ctx, step.Node)
	if err != nil {
		r.Err, r.ExitCode = err, -1
		return r
	}
	if len(step.Argv) == 0 {
		if step.Path == "" {
			r.Err = fmt.Errorf("%s: plan step %q has neither a command nor a path", step.Node, step.Desc)
			return r
		}
		if r.Err = upload(ctx, runner, step, content); r.Err != nil {
			r.Err = fmt.Errorf("%s: upload %s: %w", step.Node, step.Path, r.Err)
		}
		return r
	}
	argv, err := p.Resolve(step.Argv)
	if err != nil {
		r.Err = fmt.Errorf("%s: %w", step.Node, err)
		return r
	}
	// Logs and errors show the placeholders, never the secrets.
	cmd := remote.Command{Argv: argv, Display: step.Argv}
	if step.Stdin != "" {
		in, err := p.Resolve([]string{step.Stdin})
		if err != nil {
			r.Err = fmt.Errorf("%s: %w", step.Node, err)
			return r
		}
		cmd.Stdin = strings.NewReader(in[0])
	}
	var stderr bytes.Buffer
	if live != nil {
		cmd.Stderr = io.MultiWriter(&stderr, live)
	}
	out, err := runner.Run(ctx, cmd)
	r.Stdout, r.Stderr, r.ExitCode = out.Stdout, out.Stderr, out.ExitCode
	if live != nil {
		r.Stderr = stderr.Bytes()
	}
	var xe *remote.ExitError
	if errors.As(err, &xe) {
		r.ExitCode = xe.Code
		for _, ok := range step.OKExit {
			if ok == xe.Code {
				return r
			}
		}
	}
	r.Err = err
	return r
}

// upload writes an upload step's content, creating its directory first
// when the step says how and it is missing (tried only after a failed
// upload: a session costs more than the upload).
func upload(ctx context.Context, r remote.Runner, step *plan.Step, content func(context.Context, string) ([]byte, error)) error {
	data := step.Content
	if step.Source != "" {
		if content == nil {
			return fmt.Errorf("no content for %q", step.Source)
		}
		var err error
		if data, err = content(ctx, step.Source); err != nil {
			return err
		}
	}
	err := remote.Upload(ctx, r, step.Path, fs.FileMode(step.Mode), bytes.NewReader(data))
	if err != nil && step.DirMode != 0 {
		mkdir := remote.Command{Argv: []string{"mkdir", "-p", "-m", fmt.Sprintf("%04o", step.DirMode), path.Dir(step.Path)}}
		if _, merr := r.Run(ctx, mkdir); merr == nil {
			err = remote.Upload(ctx, r, step.Path, fs.FileMode(step.Mode), bytes.NewReader(data))
		}
	}
	return err
}

func hasUndo(done []StepResult) bool {
	for _, r := range done {
		if r.Step.Undo != nil {
			return true
		}
	}
	return false
}

// undo runs the Undo steps of done in reverse order, one at a time: undoing is
// rare, and order matters more than speed (e.g. remove a DRBD device before
// its backing LV).
func undo(ctx context.Context, p *plan.Plan, done []StepResult, rs Runners, opt Options) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		u := done[i].Step.Undo
		if u == nil {
			continue
		}
		opt.Hooks.Undoing(u)
		r := runStep(ctx, p, u, rs, nil, opt.Content)
		opt.Hooks.StepFinished(r)
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}
