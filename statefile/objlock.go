package statefile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Level is a lock level. Locks are always taken in level order, and by name
// within a level, as Ganeti does, so two writers can never wait on each
// other in a cycle.
type Level int

// Lock levels, in Ganeti's order (locking.LEVELS).
const (
	LevelCluster   Level = iota // Ganeti's "big ganeti lock": shared by all but cluster-wide operations
	LevelInstance               // an instance
	LevelNodeGroup              // a node group
	LevelNode                   // a node: its role and configuration
	LevelNodeRes                // a node's resources: memory, disk space, DRBD minors
	LevelNetwork                // a network
	// LevelWatcher is the watcher's own, last in the order: "pass" is
	// held for a whole watcher pass (a second pass finding it held exits;
	// it is taken alone, before the pass runs its jobs), "record" by a
	// job that changes the watcher's section of the state.
	LevelWatcher
)

var levelNames = [...]string{"cluster", "instance", "nodegroup", "node", "node-res", "network", "watcher"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText encodes a level by name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes a level name.
func (l *Level) UnmarshalText(b []byte) error {
	i := slices.Index(levelNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown lock level %q", b)
	}
	*l = Level(i)
	return nil
}

// LockReq asks for one object lock.
type LockReq struct {
	Level     Level  `json:"level"`
	Name      string `json:"name,omitempty"` // empty for the cluster
	Exclusive bool   `json:"exclusive,omitempty"`
}

func (r LockReq) String() string {
	mode := "shared"
	if r.Exclusive {
		mode = "exclusive"
	}
	if r.Level == LevelCluster {
		return "cluster (" + mode + ")"
	}
	return fmt.Sprintf("%s %s (%s)", r.Level, r.Name, mode)
}

// Conflicts reports whether r and o cannot be held at the same time.
func (r LockReq) Conflicts(o LockReq) bool {
	return r.Level == o.Level && r.Name == o.Name && (r.Exclusive || o.Exclusive)
}

// NormalizeLocks sorts reqs into acquisition order and merges duplicates
// (exclusive wins).
func NormalizeLocks(reqs []LockReq) []LockReq {
	out := slices.Clone(reqs)
	slices.SortFunc(out, func(a, b LockReq) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Name, b.Name))
	})
	var merged []LockReq
	for _, r := range out {
		if n := len(merged); n > 0 && merged[n-1].Level == r.Level && merged[n-1].Name == r.Name {
			merged[n-1].Exclusive = merged[n-1].Exclusive || r.Exclusive
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// Covers reports whether held (normalized or not) includes r at r's mode or
// stronger.
func Covers(held []LockReq, r LockReq) bool {
	for _, h := range held {
		if h.Level == r.Level && h.Name == r.Name && (h.Exclusive || !r.Exclusive) {
			return true
		}
	}
	return false
}

// ObjectLocks is a set of held object locks; Unlock releases them.
type ObjectLocks struct {
	Info LockInfo
	Held []LockReq

	space    LockSpace
	releases []func()
	recorded bool // the holder record is stored
	job      int64
}

// Unlock releases every lock and removes the holder record. Calling it
// again does nothing.
func (o *ObjectLocks) Unlock() {
	o.Abandon()
	if o.recorded {
		ctx, cancel := context.WithTimeout(context.Background(), unlockWait)
		defer cancel()
		_ = o.space.RemoveRecord(ctx, o.Info.ID)
		o.recorded = false
	}
}

// Abandon releases the locks but leaves the holder record, as the death
// of the holder does: a job it recorded then claims its objects. Tests use
// it to play a crash.
func (o *ObjectLocks) Abandon() {
	for i := len(o.releases) - 1; i >= 0; i-- {
		o.releases[i]()
	}
	o.releases = nil
}

// Lost is closed when the backend can no longer vouch for these locks
// (the session holding them on a remote backend died); nil when that
// cannot happen (a local directory).
func (o *ObjectLocks) Lost() <-chan struct{} {
	if o.space == nil {
		return nil
	}
	return o.space.Lost()
}

// unlockWait bounds releasing locks on a remote backend.
const unlockWait = 30 * time.Second

// ObjectLockedError says which object is held and by whom.
type ObjectLockedError struct {
	Req     LockReq
	Holders []LockInfo // who holds it, when known
}

func (e *ObjectLockedError) Error() string {
	what := e.Req.Level.String() + " " + e.Req.Name
	if e.Req.Level == LevelCluster {
		what = "the cluster"
	}
	if len(e.Holders) == 0 {
		return what + " is locked by another ganetictl"
	}
	var hs []string
	for _, h := range e.Holders {
		hs = append(hs, fmt.Sprintf("%s@%s (pid %d) since %s for %q", h.Who, h.Host, h.PID, h.Created.Format(time.RFC3339), h.Operation))
	}
	return what + " is locked by " + strings.Join(hs, ", ")
}

const locksDir = "locks"

// HolderRecord is what a lock holder leaves beside the locks (a file
// locks/holders/<id>.json in a state directory) so that a blocked writer
// can name it, and so that a job cut off by a crash keeps claiming its
// objects after its locks went with its process.
type HolderRecord struct {
	Info LockInfo  `json:"info"`
	Held []LockReq `json:"held"`
	Job  int64     `json:"job,omitempty"` // the journal entry, once created
}

// ErrLockBusy is returned by [LockSpace.TryLock] for a lock someone else
// holds.
var ErrLockBusy = errors.New("lock busy")

// LockSpace is what a backend provides for [LockObjectsIn], which holds
// the locking rules common to all backends (level order, waiting, holder
// records, crashed-job claims and their takeover).
type LockSpace interface {
	// TryLock takes r for the holder without waiting; ErrLockBusy when
	// another holder has it. release gives it back.
	TryLock(ctx context.Context, holder string, r LockReq) (release func(), err error)
	// Records lists the holder records, those of dead holders included.
	Records(ctx context.Context) ([]HolderRecord, error)
	PutRecord(ctx context.Context, h HolderRecord) error
	RemoveRecord(ctx context.Context, id string) error
	// Alive returns a snapshot of which holders (by host and process)
	// still live.
	Alive(ctx context.Context) (func(host string, pid int) bool, error)
	// Journal is the journal whose jobs the records name.
	Journal() (*Journal, error)
	// Lost is closed when the backend can no longer vouch for the locks it
	// gave (nil: never).
	Lost() <-chan struct{}
	Now() time.Time
}

// CrashedJobError says that a job cut off by a crash still claims an
// object: its work is half done, so it must be resumed or aborted before
// anything else touches that object.
type CrashedJobError struct {
	Req LockReq
	Job int64
	Op  string
}

func (e *CrashedJobError) Error() string {
	what := e.Req.Level.String() + " " + e.Req.Name
	if e.Req.Level == LevelCluster {
		what = "the cluster"
	}
	return fmt.Sprintf("%s is claimed by job %d (%q), which was cut off mid-run: finish it with `ganetictl job resume %d` or roll it back with `ganetictl job abort %d` (`ganetictl job info %d` shows where it stopped)",
		what, e.Job, e.Op, e.Job, e.Job, e.Job)
}

// LockOptions tune LockObjects.
type LockOptions struct {
	// Waiting is called once per blocked object with its current holders.
	Waiting func(LockReq, []LockInfo)
	// Takeover is the crashed job whose claims the new holder inherits
	// (job resume and abort).
	Takeover int64
}

// LockObjects takes the object locks reqs (in level order, whatever their
// order in reqs). While an object is held by another process it waits, with
// backoff, until ctx's deadline (without one it fails at once), telling
// opt.Waiting. On failure nothing stays locked and the error is
// *ObjectLockedError, *CrashedJobError when a crashed job still claims an
// object, or ctx's error when ctx was cancelled.
func (s *DirStore) LockObjects(ctx context.Context, info LockInfo, reqs []LockReq, opt LockOptions) (*ObjectLocks, error) {
	if err := os.MkdirAll(filepath.Join(s.path(locksDir), "holders"), 0o700); err != nil {
		return nil, fmt.Errorf("lock objects: %w", err)
	}
	return LockObjectsIn(ctx, dirLocks{s}, info, reqs, opt)
}

// CrashedClaims lists the jobs that claim objects after a crash, by ID.
func (s *DirStore) CrashedClaims() map[int64][]LockReq {
	return CrashedClaimsIn(context.Background(), dirLocks{s})
}

// ReleaseClaims forgets a crashed job's claims (state unlock --force of a job).
func (s *DirStore) ReleaseClaims(job int64) {
	ReleaseClaimsIn(context.Background(), dirLocks{s}, job)
}

// LockObjectsIn is LockObjects over any backend's lock space: the rules
// of [DirStore.LockObjects].
func LockObjectsIn(ctx context.Context, sp LockSpace, info LockInfo, reqs []LockReq, opt LockOptions) (*ObjectLocks, error) {
	info.fill(sp.Now().UTC())
	ol := &ObjectLocks{Info: info, Held: NormalizeLocks(reqs), job: opt.Takeover, space: sp}
	if err := checkCrashed(ctx, sp, ol.Held, opt.Takeover); err != nil {
		return nil, err
	}
	// The holder record goes first: a blocked writer scanning the records
	// then always finds whoever holds a lock (possibly also some waiters,
	// which it filters by lock mode, not by who got it first).
	if err := ol.writeRecord(ctx); err != nil {
		return nil, err
	}
	ol.recorded = true
	for _, r := range ol.Held {
		rel, err := lockOne(ctx, sp, info.ID, r, opt.Waiting)
		if err != nil {
			ol.Unlock()
			return nil, err
		}
		ol.releases = append(ol.releases, rel)
	}
	if opt.Takeover != 0 {
		dropClaims(ctx, sp, opt.Takeover, info.ID)
	}
	return ol, nil
}

func (o *ObjectLocks) writeRecord(ctx context.Context) error {
	if err := o.space.PutRecord(ctx, HolderRecord{Info: o.Info, Held: o.Held, Job: o.job}); err != nil {
		return fmt.Errorf("lock objects: %w", err)
	}
	return nil
}

// SetJob records the journal entry of the holder: from then on, if the
// holder dies, its objects stay claimed by that job.
func (o *ObjectLocks) SetJob(id int64) error {
	o.job = id
	ctx, cancel := context.WithTimeout(context.Background(), unlockWait)
	defer cancel()
	return o.writeRecord(ctx)
}

// checkCrashed refuses reqs that conflict with the claims of a crashed job
// (its holder record outlived its process). Records of dead holders whose
// job never started, or is finished, are stale and removed.
func checkCrashed(ctx context.Context, sp LockSpace, reqs []LockReq, takeover int64) error {
	recs, alive, err := deadOrAlive(ctx, sp)
	if err != nil {
		return err
	}
	for _, h := range recs {
		if alive(h.Info.Host, h.Info.PID) || h.Job == takeover && takeover != 0 {
			continue
		}
		if !claims(ctx, sp, h) {
			_ = sp.RemoveRecord(ctx, h.Info.ID)
			continue
		}
		for _, r := range reqs {
			if slices.ContainsFunc(h.Held, r.Conflicts) {
				return &CrashedJobError{Req: r, Job: h.Job, Op: h.Info.Operation}
			}
		}
	}
	return nil
}

func deadOrAlive(ctx context.Context, sp LockSpace) ([]HolderRecord, func(string, int) bool, error) {
	recs, err := sp.Records(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("lock objects: %w", err)
	}
	alive, err := sp.Alive(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("lock objects: %w", err)
	}
	return recs, alive, nil
}

// claims reports whether a dead holder's job was cut off after it started
// changing nodes.
func claims(ctx context.Context, sp LockSpace, h HolderRecord) bool {
	if h.Job == 0 {
		return false
	}
	j, err := sp.Journal()
	if err != nil {
		return true
	}
	job, err := j.Get(ctx, h.Job)
	if err != nil {
		return !errors.Is(err, ErrNoJob)
	}
	return job.Status == JobCrashed && (len(job.Steps) > 0 || job.Commit != "")
}

// CrashedClaimsIn lists the jobs that claim objects of sp after a crash.
func CrashedClaimsIn(ctx context.Context, sp LockSpace) map[int64][]LockReq {
	out := map[int64][]LockReq{}
	recs, alive, err := deadOrAlive(ctx, sp)
	if err != nil {
		return out
	}
	for _, h := range recs {
		if !alive(h.Info.Host, h.Info.PID) && claims(ctx, sp, h) {
			out[h.Job] = h.Held
		}
	}
	return out
}

// ReleaseClaimsIn forgets a crashed job's claims in sp.
func ReleaseClaimsIn(ctx context.Context, sp LockSpace, job int64) { dropClaims(ctx, sp, job, "") }

// dropClaims removes the records of job's dead holders (not self).
func dropClaims(ctx context.Context, sp LockSpace, job int64, self string) {
	recs, alive, err := deadOrAlive(ctx, sp)
	if err != nil {
		return
	}
	for _, h := range recs {
		if h.Job == job && h.Info.ID != self && !alive(h.Info.Host, h.Info.PID) {
			_ = sp.RemoveRecord(ctx, h.Info.ID)
		}
	}
}

func lockOne(ctx context.Context, sp LockSpace, self string, r LockReq, waiting func(LockReq, []LockInfo)) (func(), error) {
	delay, told, waited := 20*time.Millisecond, false, false
	for {
		rel, err := sp.TryLock(ctx, self, r)
		if err == nil {
			return rel, nil
		}
		if !errors.Is(err, ErrLockBusy) {
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded) && waited:
				// The deadline passed mid-try while waiting: still held.
				return nil, &ObjectLockedError{Req: r, Holders: holdersOf(ctx, sp, self, r)}
			case ctx.Err() != nil:
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("lock %s: %w", r, err)
		}
		holders := holdersOf(ctx, sp, self, r)
		if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			return nil, &ObjectLockedError{Req: r, Holders: holders}
		}
		if !told && waiting != nil {
			waiting(r, holders)
			told = true
		}
		waited = true
		t := time.NewTimer(delay + rand.N(delay/2))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// holdersOf lists the live holders whose locks conflict with r, except self.
func holdersOf(ctx context.Context, sp LockSpace, self string, r LockReq) []LockInfo {
	// Asked after the deadline too, to name the holder.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockWait)
	defer cancel()
	recs, alive, err := deadOrAlive(ctx, sp)
	if err != nil {
		return nil
	}
	var out []LockInfo
	for _, h := range recs {
		if h.Info.ID == self || !alive(h.Info.Host, h.Info.PID) {
			continue // a dead holder's locks are gone
		}
		if slices.ContainsFunc(h.Held, r.Conflicts) {
			out = append(out, h.Info)
		}
	}
	return out
}

// LockName is the name of r's lock in a backend's lock space: a file name
// or a key (no slash: names are escaped).
func LockName(r LockReq) string {
	if r.Level == LevelCluster {
		return "0-cluster"
	}
	return fmt.Sprintf("%d-%s-%s", int(r.Level), r.Level, url.PathEscape(r.Name))
}

// dirLocks is a state directory's lock space: flock(2) on
// locks/<LockName>, holder records in locks/holders/<id>.json, and a
// holder alive unless it ran on this host and its process is gone.
type dirLocks struct{ s *DirStore }

func (d dirLocks) dir(elem ...string) string {
	return filepath.Join(append([]string{d.s.path(locksDir)}, elem...)...)
}

func (d dirLocks) TryLock(ctx context.Context, _ string, r LockReq) (func(), error) {
	p := d.dir(LockName(r))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if r.Exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(f, how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLockBusy
		}
		return nil, fmt.Errorf("flock %s: %w", p, err)
	}
	return func() { _ = flock(f, syscall.LOCK_UN); f.Close() }, nil
}

func (d dirLocks) Records(context.Context) ([]HolderRecord, error) {
	ents, _ := os.ReadDir(d.dir("holders"))
	var out []HolderRecord
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.Contains(id, tempInfix) {
			continue
		}
		b, err := os.ReadFile(d.dir("holders", e.Name()))
		if err != nil {
			continue
		}
		var h HolderRecord
		if json.Unmarshal(b, &h) == nil && h.Info.ID == id {
			out = append(out, h)
		}
	}
	return out, nil
}

func (d dirLocks) PutRecord(_ context.Context, h HolderRecord) error {
	b, _ := json.Marshal(h)
	return writeFile(d.dir("holders", h.Info.ID+".json"), b, 0o600, false)
}

func (d dirLocks) RemoveRecord(_ context.Context, id string) error {
	err := os.Remove(d.dir("holders", id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (d dirLocks) Alive(context.Context) (func(string, int) bool, error) { return LocalAlive, nil }

// LocalAlive says whether a holder lives as far as this machine can tell:
// yes unless it ran on this host and its process is gone.
func LocalAlive(host string, pid int) bool { return host != hostname() || pidAlive(pid) }

// LocalProcessAlive reports whether host is this machine and pid runs on it.
func LocalProcessAlive(host string, pid int) bool { return host == hostname() && pidAlive(pid) }

func (d dirLocks) Journal() (*Journal, error) { return d.s.Journal() }
func (d dirLocks) Lost() <-chan struct{}      { return nil }
func (d dirLocks) Now() time.Time             { return d.s.now() }
