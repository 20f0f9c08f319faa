package statefile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/user"
	"sync"
	"time"
)

// ErrNoState is returned by [Store.Read] when no state has been written yet.
var ErrNoState = errors.New("no state yet (run `ganetictl cluster init` first)")

// ErrUnknownSerial is returned by [Store.ReadSerial] for a serial that is
// neither the current state nor kept in history.
var ErrUnknownSerial = errors.New("no such serial in history")

// ErrNotLocked is returned by [Store.Write] when the given lock is not a live
// lock of that store, and by ForceUnlock when nothing is locked.
var ErrNotLocked = errors.New("state is not locked")

// Store keeps the cluster state: the current version, the history of the
// versions it replaced, and the lock that serialises writers.
//
// Reads need no lock: a reader sees either the old or the new state, never a
// mix. Writes need the lock, taken with Lock and passed to Write, so a writer
// cannot forget it. Implementations are safe for concurrent use.
type Store interface {
	// Read returns the current state. It returns an error wrapping
	// ErrNoState when none was written yet, *CorruptError when the stored
	// bytes cannot be decoded, and *VersionError for a format too new.
	Read(ctx context.Context) (*State, error)

	// Write commits st as the new current state under the lock l, and
	// returns the serial of the current state afterwards.
	//
	// st.Serial must equal the serial of the current state (0 when there is
	// none), else Write fails with *ConflictError and changes nothing (the
	// state changed since st was read); st.Lineage must equal the current
	// lineage, also else *ConflictError. When st's content is Equal to the
	// current state nothing is written and the current serial is returned.
	// Otherwise the outgoing version is saved to history first, then st is
	// stored with serial+1. On success st.Serial and st.FormatVersion are
	// updated to what was stored, so st can be modified and written again.
	Write(ctx context.Context, l *Lock, st *State) (int64, error)

	// Lock takes the writer lock. When another holder has it, Lock returns
	// *LockedError at once, unless ctx has a deadline: then it retries with
	// backoff until the deadline and returns *LockedError if still held.
	// info describes the new holder; empty ID, Created, Host, PID and Who are
	// filled in. The caller must Unlock the returned lock.
	Lock(ctx context.Context, info LockInfo) (*Lock, error)

	// History lists every known version, oldest first, the current one
	// last (with Current set). An empty store has an empty history.
	History(ctx context.Context) ([]HistoryEntry, error)

	// ReadSerial returns the version with that serial, from history or the
	// current state. An unknown serial gives an error wrapping
	// ErrUnknownSerial.
	ReadSerial(ctx context.Context, serial int64) (*State, error)
}

// LockInfo describes a lock holder. It is stored beside the lock so that a
// blocked writer can say who holds the lock, since when, and for what.
type LockInfo struct {
	ID        string    `json:"id"`        // random; needed to force-unlock
	Operation string    `json:"operation"` // e.g. "instance migrate web1"
	Who       string    `json:"who"`       // user name
	Host      string    `json:"host"`      // host name of the holder
	PID       int       `json:"pid"`       // process id on Host
	Version   string    `json:"version"`   // ganetictl version of the holder
	Created   time.Time `json:"created"`   // when the lock was taken
}

// NewLockInfo returns a LockInfo for this process: operation and version as
// given, Who, Host and PID from the environment. ID and Created are set by
// Lock.
func NewLockInfo(operation, version string) LockInfo {
	li := LockInfo{Operation: operation, Version: version, PID: os.Getpid()}
	li.Host, _ = os.Hostname()
	li.Who = currentUser()
	return li
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

func (li *LockInfo) fill(now time.Time) {
	if li.ID == "" {
		li.ID = NewUUID()
	}
	if li.Created.IsZero() {
		li.Created = now
	}
	if li.Host == "" {
		li.Host, _ = os.Hostname()
	}
	if li.PID == 0 {
		li.PID = os.Getpid()
	}
	if li.Who == "" {
		li.Who = currentUser()
	}
}

// Lock is a held writer lock. It is passed to [Store.Write] and released by
// Unlock.
type Lock struct {
	// Info describes this holder, as stored beside the lock.
	Info LockInfo
	// Previous is non-nil when the previous holder never released the lock:
	// it died (crash, kill -9, power loss) while holding it, possibly in the
	// middle of an operation. The caller should tell the user, and look at
	// the journal for a job to resume or roll back.
	Previous *LockInfo

	owner   any // the store that issued it
	mu      sync.Mutex
	release func() error // nil once released
}

// Unlock releases the lock. Calling it again does nothing and returns nil.
func (l *Lock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.release == nil {
		return nil
	}
	err := l.release()
	l.release = nil
	return err
}

// heldBy reports whether l is a live lock issued by owner.
func (l *Lock) heldBy(owner any) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.owner == owner && l.release != nil
}

// LockedError reports that another holder has the lock.
type LockedError struct {
	Path string   // lock file, "" for in-memory stores
	Info LockInfo // the holder, as far as known (zero if its info is unreadable)
	// HolderGone is set when the holder runs on this host and its PID is not
	// running, yet the lock is held: a child process inherited it.
	HolderGone bool
}

func (e *LockedError) Error() string {
	i := e.Info
	where := ""
	if e.Path != "" {
		where = " (" + e.Path + ")"
	}
	if i.ID == "" {
		return fmt.Sprintf("state is locked by another ganetictl%s; its lock info is unreadable", where)
	}
	msg := fmt.Sprintf("state is locked%s by %s@%s (pid %d, ganetictl %s) since %s for %q, lock ID %s",
		where, i.Who, i.Host, i.PID, orUnknown(i.Version), i.Created.Format(time.RFC3339), i.Operation, i.ID)
	if e.HolderGone {
		msg += fmt.Sprintf("; process %d is gone but a process it started still holds the lock: stop that process", i.PID)
	}
	return msg + fmt.Sprintf("; if that process is really dead or hung, break the lock with `ganetictl state unlock --force %s`", i.ID)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown version"
	}
	return s
}

// ConflictError reports a write based on a state that is no longer current.
type ConflictError struct {
	Path                    string
	HaveSerial, GotSerial   int64  // current serial; serial of the state given to Write
	HaveLineage, GotLineage string // set when the lineages differ
}

func (e *ConflictError) Error() string {
	if e.HaveLineage != e.GotLineage {
		return fmt.Sprintf("%s: refusing to write a state of lineage %s over a state of lineage %s: they belong to different clusters",
			pathOr(e.Path), e.GotLineage, e.HaveLineage)
	}
	return fmt.Sprintf("%s: state changed since it was read (serial is now %d, the change was based on %d); re-run the command",
		pathOr(e.Path), e.HaveSerial, e.GotSerial)
}

// HistoryEntry describes one version of the state.
type HistoryEntry struct {
	Serial    int64     `json:"serial"`
	Time      time.Time `json:"time"`      // when this version was committed
	Operation string    `json:"operation"` // what committed it, from the writer's LockInfo
	Who       string    `json:"who"`
	Host      string    `json:"host"`
	LockID    string    `json:"lock_id"`
	Current   bool      `json:"current,omitempty"` // the current state, not a history file
}

// checkWrite applies the serial and lineage rules of Store.Write. cur is nil
// when no state exists.
func checkWrite(path string, cur, st *State) error {
	var haveSerial int64
	haveLineage := st.Lineage
	if cur != nil {
		haveSerial, haveLineage = cur.Serial, cur.Lineage
	}
	if haveLineage != st.Lineage || haveSerial != st.Serial {
		return &ConflictError{Path: path, HaveSerial: haveSerial, GotSerial: st.Serial,
			HaveLineage: haveLineage, GotLineage: st.Lineage}
	}
	if st.Lineage == "" {
		return fmt.Errorf("%s: refusing to write a state without lineage (use statefile.New(statefile.NewLineage()))", pathOr(path))
	}
	return nil
}

// waitLock calls try until it succeeds, fails with something other than
// *LockedError, or ctx's deadline passes. Without a deadline it tries once.
func waitLock(ctx context.Context, try func() (*Lock, error)) (*Lock, error) {
	delay := 50 * time.Millisecond
	var last error // the holder seen on the previous try
	for {
		l, err := try()
		var le *LockedError
		if last != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, last // the deadline passed while waiting: say who holds it
		}
		if err == nil || !errors.As(err, &le) {
			return l, err
		}
		last = err
		if _, ok := ctx.Deadline(); !ok {
			return nil, err
		}
		t := time.NewTimer(delay + rand.N(delay/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}
