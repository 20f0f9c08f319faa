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
	"sort"
	"strings"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
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
}

// Commit saves the new state; it is called once, after the stages, with the
// plan's changes applied, and returns the committed serial.
type Commit func(ctx context.Context, st *statefile.State) (int64, error)

// Run carries out p against current, the state read under the caller's lock.
// It refuses a stale plan. When every abort stage succeeded it applies the
// plan's changes to a copy of current and calls commit (skipped when the plan
// changes nothing). On an abort stage's failure it runs the Undo steps of all
// steps done so far, newest first, and returns the failure.
func Run(ctx context.Context, p *plan.Plan, current *statefile.State, rs Runners, commit Commit, opt Options) (*Result, error) {
	opt.defaults()
	if current != nil {
		if err := p.CheckFresh(current.Lineage, current.Serial); err != nil {
			return nil, err
		}
	}
	res := &Result{}
	var done []StepResult // succeeded steps that may need undoing
	var failures []error
	for si := range p.Stages {
		stage := &p.Stages[si]
		opt.Hooks.StageStarted(stage)
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
		// Abort: undo what was done, newest first, on a context that
		// survives the caller's cancellation (the undo must not be cut short).
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
	if len(p.Changes) > 0 && commit != nil {
		// ApplyChanges works on a deep copy, so current stays as it was.
		next := &statefile.State{}
		if current != nil {
			*next = *current
		}
		if err := p.ApplyChanges(next, opt.Now()); err != nil {
			return res, err
		}
		serial, err := commit(context.WithoutCancel(ctx), next)
		if err != nil {
			return res, fmt.Errorf("%s: commit state: %w", p.Operation, err)
		}
		res.Committed, res.Serial = true, serial
		opt.Hooks.StateSaved(serial)
	}
	if len(failures) > 0 {
		return res, fmt.Errorf("%s: %d step(s) failed: %w", p.Operation, len(failures), errors.Join(failures...))
	}
	return res, nil
}

// Gather runs read-only steps on their nodes concurrently and returns every
// result in input order; a failed step carries its error, the others proceed.
func Gather(ctx context.Context, steps []plan.Step, rs Runners, opt Options) []StepResult {
	opt.defaults()
	p := &plan.Plan{Stages: []plan.Stage{{Name: "gather facts", OnError: plan.Continue, Steps: steps}}}
	return runStage(ctx, p, 0, rs, opt)
}

func runStage(ctx context.Context, p *plan.Plan, si int, rs Runners, opt Options) []StepResult {
	stage := &p.Stages[si]
	wp := pool.NewWithResults[StepResult]().WithMaxGoroutines(opt.Parallel)
	for i := range stage.Steps {
		step := &stage.Steps[i]
		wp.Go(func() StepResult {
			opt.Hooks.StepStarted(step)
			var live io.Writer
			if sh, ok := opt.Hooks.(StderrHooks); ok {
				live = sh.StepStderr(step)
			}
			r := runStep(ctx, p, step, rs, live)
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
func runStep(ctx context.Context, p *plan.Plan, step *plan.Step, rs Runners, live io.Writer) (r StepResult) {
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
		err := remote.Upload(ctx, runner, step.Path, fs.FileMode(step.Mode), bytes.NewReader(step.Content))
		if err != nil {
			r.Err = fmt.Errorf("%s: upload %s: %w", step.Node, step.Path, err)
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
		r := runStep(ctx, p, u, rs, nil)
		opt.Hooks.StepFinished(r)
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}
