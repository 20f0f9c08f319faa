package statefile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	files  []*os.File
	holder string // holder file
	job    int64
}

// Unlock releases every lock. Calling it again does nothing.
func (o *ObjectLocks) Unlock() {
	for _, f := range o.files {
		_ = flock(f, syscall.LOCK_UN)
		f.Close()
	}
	o.files = nil
	if o.holder != "" {
		os.Remove(o.holder)
		o.holder = ""
	}
}

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

// holderRecord is what a lock holder leaves in locks/holders/ so that a
// blocked writer can name it.
type holderRecord struct {
	Info LockInfo  `json:"info"`
	Held []LockReq `json:"held"`
	Job  int64     `json:"job,omitempty"` // the journal entry, once created
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
	dir := s.path(locksDir)
	if err := os.MkdirAll(filepath.Join(dir, "holders"), 0o700); err != nil {
		return nil, fmt.Errorf("lock objects: %w", err)
	}
	info.fill(s.now().UTC())
	ol := &ObjectLocks{Info: info, Held: NormalizeLocks(reqs), job: opt.Takeover}
	if err := s.checkCrashed(dir, ol.Held, opt.Takeover); err != nil {
		return nil, err
	}
	// The holder record goes first: a blocked writer scanning the records
	// then always finds whoever holds a lock (possibly also some waiters,
	// which it filters by lock mode, not by who got it first).
	ol.holder = filepath.Join(dir, "holders", info.ID+".json")
	if err := ol.writeRecord(); err != nil {
		return nil, err
	}
	for _, r := range ol.Held {
		f, err := s.lockOne(ctx, dir, info.ID, r, opt.Waiting)
		if err != nil {
			ol.Unlock()
			return nil, err
		}
		ol.files = append(ol.files, f)
	}
	if opt.Takeover != 0 {
		s.dropClaims(dir, opt.Takeover, info.ID)
	}
	return ol, nil
}

func (o *ObjectLocks) writeRecord() error {
	b, _ := json.Marshal(holderRecord{Info: o.Info, Held: o.Held, Job: o.job})
	if err := writeFile(o.holder, b, 0o600, false); err != nil {
		return fmt.Errorf("lock objects: %w", err)
	}
	return nil
}

// SetJob records the journal entry of the holder: from then on, if the
// holder dies, its objects stay claimed by that job.
func (o *ObjectLocks) SetJob(id int64) error {
	o.job = id
	return o.writeRecord()
}

// checkCrashed refuses reqs that conflict with the claims of a crashed job
// (its holder record outlived its process). Records of dead holders whose
// job never started, or is finished, are stale and removed.
func (s *DirStore) checkCrashed(dir string, reqs []LockReq, takeover int64) error {
	for _, h := range s.records(dir) {
		if h.Info.Host != hostname() || pidAlive(h.Info.PID) || h.Job == takeover && takeover != 0 {
			continue
		}
		if !s.claims(h) {
			os.Remove(filepath.Join(dir, "holders", h.Info.ID+".json"))
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

// claims reports whether a dead holder's job was cut off after it started
// changing nodes.
func (s *DirStore) claims(h holderRecord) bool {
	if h.Job == 0 {
		return false
	}
	j, err := s.Journal()
	if err != nil {
		return true
	}
	job, err := j.Get(context.Background(), h.Job)
	if err != nil {
		return !errors.Is(err, ErrNoJob)
	}
	return job.Status == JobCrashed && (len(job.Steps) > 0 || job.Commit != "")
}

// CrashedClaims lists the jobs that claim objects after a crash, by ID.
func (s *DirStore) CrashedClaims() map[int64][]LockReq {
	out := map[int64][]LockReq{}
	for _, h := range s.records(s.path(locksDir)) {
		if h.Info.Host == hostname() && !pidAlive(h.Info.PID) && s.claims(h) {
			out[h.Job] = h.Held
		}
	}
	return out
}

// dropClaims removes the records of job's dead holders (not self).
func (s *DirStore) dropClaims(dir string, job int64, self string) {
	for _, h := range s.records(dir) {
		if h.Job == job && h.Info.ID != self && !(h.Info.Host == hostname() && pidAlive(h.Info.PID)) {
			os.Remove(filepath.Join(dir, "holders", h.Info.ID+".json"))
		}
	}
}

// ReleaseClaims forgets a crashed job's claims (state unlock --force of a job).
func (s *DirStore) ReleaseClaims(job int64) { s.dropClaims(s.path(locksDir), job, "") }

func (s *DirStore) records(dir string) []holderRecord {
	ents, _ := os.ReadDir(filepath.Join(dir, "holders"))
	var out []holderRecord
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.Contains(id, tempInfix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "holders", e.Name()))
		if err != nil {
			continue
		}
		var h holderRecord
		if json.Unmarshal(b, &h) == nil && h.Info.ID == id {
			out = append(out, h)
		}
	}
	return out
}

func lockFileName(r LockReq) string {
	if r.Level == LevelCluster {
		return "0-cluster"
	}
	return fmt.Sprintf("%d-%s-%s", int(r.Level), r.Level, url.PathEscape(r.Name))
}

func (s *DirStore) lockOne(ctx context.Context, dir, self string, r LockReq, waiting func(LockReq, []LockInfo)) (*os.File, error) {
	p := filepath.Join(dir, lockFileName(r))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", r, err)
	}
	how := syscall.LOCK_SH
	if r.Exclusive {
		how = syscall.LOCK_EX
	}
	delay, told := 20*time.Millisecond, false
	for {
		err := flock(f, how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: flock %s: %w", r, p, err)
		}
		holders := s.holdersOf(dir, self, r)
		if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
			f.Close()
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			return nil, &ObjectLockedError{Req: r, Holders: holders}
		}
		if !told && waiting != nil {
			waiting(r, holders)
			told = true
		}
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
func (s *DirStore) holdersOf(dir, self string, r LockReq) []LockInfo {
	var out []LockInfo
	for _, h := range s.records(dir) {
		if h.Info.ID == self || h.Info.Host == hostname() && !pidAlive(h.Info.PID) {
			continue // a dead holder's flocks are gone
		}
		if slices.ContainsFunc(h.Held, r.Conflicts) {
			out = append(out, h.Info)
		}
	}
	return out
}
