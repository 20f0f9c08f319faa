// Package job runs operations as jobs: it plans a playbooks.Request from
// the state and the nodes' facts, takes the object locks that plan needs
// (planning again under them if anything moved meanwhile), runs it over
// the nodes' runners as a job in the journal, commits its state changes on
// top of whatever other jobs committed, and copies the state out. It also
// resumes and aborts jobs whose ganetictl died midway, and applies saved
// plans once.
//
// The engine never prints: it tells a Reporter (internal/view implements
// it) and returns values. Package cmd/ganetictl builds one Engine per
// command from the global flags and the inventory.
package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Store is what the engine needs of the state store: the state and its
// lock, the per-object locks, the journal, and the record of saved plans
// applied. statefile.DirStore is one.
type Store interface {
	String() string // where the state is, for messages
	Read(ctx context.Context) (*statefile.State, error)
	// ReadRaw is the current state exactly as stored (for the copies to
	// the master candidates).
	ReadRaw(ctx context.Context) ([]byte, error)
	Lock(ctx context.Context, info statefile.LockInfo) (*statefile.Lock, error)
	Write(ctx context.Context, l *statefile.Lock, st *statefile.State) (int64, error)
	LockObjects(ctx context.Context, info statefile.LockInfo, reqs []statefile.LockReq, opt statefile.LockOptions) (*statefile.ObjectLocks, error)
	CrashedClaims() map[int64][]statefile.LockReq
	Journal() (*statefile.Journal, error)
	// Drained reports whether the job queue is drained, and by whom.
	Drained() (statefile.DrainInfo, bool, error)
	MarkApplied(id string, at time.Time) error
	AppliedAt(id string) (time.Time, bool, error)
}

// Reporter hears what the engine does, to tell people. Calls may come from
// several goroutines at once.
type Reporter interface {
	// Waiting says, once per object, that the job waits for a lock another
	// ganetictl holds, and for how long it will.
	Waiting(r statefile.LockReq, holders []statefile.LockInfo, timeout time.Duration)
	// Warning is something people should know that does not stop the job.
	Warning(msg string)
	// Note is information about what the engine decided.
	Note(msg string)
	// Run gives the hooks that show a run of p as it happens.
	Run(p *plan.Plan) apply.Hooks
	// JobStarted is the journal's ID of a job that starts.
	JobStarted(id int64)
}

// Engine runs jobs. Its fields are set once by the caller.
type Engine struct {
	Store   Store
	Runners apply.Runners
	Report  Reporter
	// Facts are the facts script's settings from the inventory; a state
	// overrides what it records (playbooks.FactsArgsFor).
	Facts playbooks.FactsArgs
	// Env is what every planner gets besides the state, the facts and the
	// probes: ID and random sources, the helper, identities.
	Env playbooks.Env
	// Content gives upload steps the named content besides the committed
	// state (the helper binaries).
	Content func(ctx context.Context, source string) ([]byte, error)
	// Parallel bounds concurrent node sessions (0: apply's default).
	Parallel int
	// LockTimeout bounds the wait for another job's locks (0: fail at once).
	LockTimeout time.Duration
	Version     string // of ganetictl, recorded in the state and locks
	Command     string // the command line as typed, for the journal
	// Submitted is the queued job a --submit child runs (0: none).
	Submitted int64
	// Reason and Priority are recorded with each job (--reason, --priority).
	Reason, Priority string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Lookup tells how an opcode is undone (playbooks.Lookup when nil).
	Lookup func(plan.OpID) (playbooks.OpInfo, bool)

	// held are locks taken over from a crashed job: Run runs under them.
	held *statefile.ObjectLocks
}

// Outcome is what a run did.
type Outcome struct {
	Plan      *plan.Plan `json:"-"`
	Operation string     `json:"operation"`
	JobID     int64      `json:"job_id,omitempty"`
	Committed bool       `json:"committed"`
	Serial    int64      `json:"serial"`
	Failed    int        `json:"failed_steps"`
	Aborted   bool       `json:"aborted,omitempty"` // job abort rolled it back
}

func (e *Engine) lookup(id plan.OpID) playbooks.OpInfo {
	if e.Lookup != nil {
		info, _ := e.Lookup(id)
		return info
	}
	info, _ := playbooks.Lookup(id)
	return info
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// readState reads the current state; before `cluster init` it explains
// what to do.
func (e *Engine) readState(ctx context.Context) (*statefile.State, error) {
	st, err := e.Store.Read(ctx)
	return st, e.noState(err)
}

// noState explains a missing state.
func (e *Engine) noState(err error) error {
	if errors.Is(err, statefile.ErrNoState) {
		return fmt.Errorf("no cluster state in %s: run `ganetictl cluster init` first (or point --state-dir at the state)", e.Store)
	}
	return err
}

// InputError is a request refused as given before anything was touched
// (the CLI's exit code 10).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputf(format string, a ...any) error { return &InputError{fmt.Sprintf(format, a...)} }

// PartialError is a run in which some steps failed after the state was
// committed: what was done is recorded (exit code 3).
type PartialError struct{ Err error }

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// BusyError refuses a job for now: the queue is drained (exit code 11, as
// a lock held by someone else).
type BusyError struct{ Msg string }

func (e *BusyError) Error() string { return e.Msg }

// Admit refuses a new job while the queue is drained; a submitted job was
// admitted when it was queued.
func (e *Engine) Admit() error {
	d, drained, err := e.Store.Drained()
	if err != nil || !drained || e.Submitted != 0 {
		return err
	}
	return &BusyError{fmt.Sprintf("the job queue is drained (by %s@%s at %s): no new jobs start; `ganetictl cluster queue undrain` lifts it",
		d.Who, d.Host, d.Time.Format(time.RFC3339))}
}
