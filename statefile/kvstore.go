package statefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KV is a flat space of keys with atomic single-key writes: what a remote
// backend keeps the state in (files below a directory on the master node,
// keys below a prefix in etcd). Keys are slash-separated paths such as
// "history/12.json".
type KV interface {
	// Get returns the value of key; a missing key gives an error wrapping
	// fs.ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the names of the keys directly below dir ("journal/"
	// lists "journal/3.json" as "3.json" but not "journal/archive/1.json").
	List(ctx context.Context, dir string) ([]string, error)
	// Put replaces key's value atomically.
	Put(ctx context.Context, key string, val []byte) error
	// Create stores key only if it does not exist (fs.ErrExist otherwise).
	Create(ctx context.Context, key string, val []byte) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// KVOp is one change of a commit: a put, or a delete when Delete is set.
type KVOp struct {
	Key    string
	Value  []byte
	Delete bool
}

// ErrStateMoved is returned by a commit when the state changed under the
// writer lock's holder (another holder committed after a force-unlock)
// or the lock was lost.
var ErrStateMoved = errors.New("the state or its writer lock changed under the commit")

// KVLocks is what a remote backend plugs into a [KVStore] besides its KV:
// the writer lock, conditional commits and the object locks.
type KVLocks interface {
	// TryLockState takes the writer lock for info without waiting. When
	// another holder has it, it returns *LockedError. prev is the holder
	// info a dead holder left behind, if any.
	TryLockState(ctx context.Context, info LockInfo) (release func() error, prev *LockInfo, err error)
	// ForceUnlockState breaks the writer lock of the holder with that ID.
	ForceUnlockState(ctx context.Context, id string) error
	// Commit applies ops, in order, as one change, if the writer lock is
	// still the one with ID lockID and the current state is still prev
	// (nil: no state); otherwise it changes nothing and returns an error
	// wrapping ErrStateMoved. A backend with transactions makes it one
	// (etcd); one without relies on its writer lock, which excludes
	// every other writer.
	Commit(ctx context.Context, lockID string, prev []byte, ops []KVOp) error
	// TryLock, Alive and Lost are those of [LockSpace].
	TryLock(ctx context.Context, holder string, r LockReq) (func(), error)
	Alive(ctx context.Context) (func(host string, pid int) bool, error)
	Lost() <-chan struct{}
	// Close ends the sessions that hold locks.
	Close() error
}

// Keys of a KVStore.
const (
	kvState    = "state.json"
	kvHistory  = "history/"       // <serial>.json
	kvIndex    = "history/index/" // <serial>.json: a HistoryEntry
	kvJobs     = "journal/"       // <id>.json
	kvArchive  = "journal/archive/"
	kvDrain    = "queue.drained"
	kvPause    = "watcher.paused"
	kvApplied  = "applied/" // <id>: RFC3339 time
	kvHolders  = "locks/holders/"
	kvRetiredP = "state.json.destroyed-"
)

// KVStore is a [Backend] over a KV and a backend's locks: the layout and
// rules shared by the remote backends (clusterstore, etcdstore) and
// MemStore. Layout:
//
//	state.json                 the current state
//	history/<serial>.json      the versions replaced
//	history/index/<serial>.json who committed which serial (HistoryEntry)
//	journal/<id>.json          jobs; journal/archive/<id>.json archived
//	queue.drained              the drain flag (DrainInfo)
//	applied/<id>               saved plans applied (time)
//	locks/holders/<id>.json    object lock holder records
type KVStore struct {
	name  string
	kv    KV
	locks KVLocks
	// localDir is where this machine keeps the output of jobs it submits.
	localDir string
	// Now gives the time for lock info and history; nil means time.Now.
	Now func() time.Time
}

// NewKVStore returns the store named name (for messages) over kv and
// locks; localDir is a local directory for the output of submitted jobs
// ("" for none).
func NewKVStore(name string, kv KV, locks KVLocks, localDir string) *KVStore {
	return &KVStore{name: name, kv: kv, locks: locks, localDir: localDir}
}

var _ Backend = (*KVStore)(nil)

// String implements [Backend].
func (s *KVStore) String() string { return s.name }

// KV is the store's key space.
func (s *KVStore) KV() KV { return s.kv }

func (s *KVStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// bg is the context of the methods without one.
func bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), unlockWait)
}

func serialKey(dir string, n int64) string { return dir + strconv.FormatInt(n, 10) + ".json" }

func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func (s *KVStore) read(ctx context.Context) (*State, []byte, error) {
	b, err := s.kv.Get(ctx, kvState)
	if notExist(err) {
		return nil, nil, fmt.Errorf("read %s: %w", s.name, ErrNoState)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state: %w", err)
	}
	st, err := decode(b)
	if err != nil {
		var ce *CorruptError
		var ve *VersionError
		switch {
		case errors.As(err, &ce):
			ce.Path = s.name + "/" + kvState
		case errors.As(err, &ve):
			ve.Path = s.name + "/" + kvState
		}
		return nil, nil, err
	}
	return st, b, nil
}

// Read implements [Store].
func (s *KVStore) Read(ctx context.Context) (*State, error) {
	st, _, err := s.read(ctx)
	return st, err
}

// ReadRaw implements [Backend].
func (s *KVStore) ReadRaw(ctx context.Context) ([]byte, error) {
	b, err := s.kv.Get(ctx, kvState)
	if notExist(err) {
		return nil, ErrNoState
	}
	return b, err
}

// Write implements [Store]: the outgoing version goes to history, the new
// one to state.json and its entry to the index, as one commit that
// compares and swaps the state it replaces.
func (s *KVStore) Write(ctx context.Context, l *Lock, st *State) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !l.heldBy(s) {
		return 0, fmt.Errorf("write state: %w", ErrNotLocked)
	}
	cur, curBytes, err := s.read(ctx)
	if err != nil && !errors.Is(err, ErrNoState) {
		return 0, err
	}
	if err := checkWrite(s.name, cur, st); err != nil {
		return 0, err
	}
	if cur != nil && Equal(cur, st) {
		return cur.Serial, nil
	}
	return s.commitAs(ctx, l, st, cur, curBytes, st.Serial+1)
}

func (s *KVStore) commitAs(ctx context.Context, l *Lock, st, cur *State, curBytes []byte, serial int64) (int64, error) {
	next := st.Clone()
	next.Serial = serial
	if l.Info.Version != "" {
		next.GanetictlVersion = l.Info.Version
	}
	b, err := Marshal(next)
	if err != nil {
		return 0, err
	}
	var ops []KVOp
	if cur != nil {
		op, err := s.historyOp(ctx, cur.Serial, curBytes)
		if err != nil {
			return 0, err
		}
		ops = append(ops, op...)
	}
	ops = append(ops, KVOp{Key: kvState, Value: b}, s.indexOp(l, next.Serial, l.Info.Operation))
	if err := s.commit(ctx, l, curBytes, ops); err != nil {
		return 0, err
	}
	st.Serial, st.FormatVersion, st.GanetictlVersion = next.Serial, FormatVersion, next.GanetictlVersion
	return next.Serial, nil
}

// commit runs a commit through the backend, turning a lost race into the
// errors Write documents.
func (s *KVStore) commit(ctx context.Context, l *Lock, prev []byte, ops []KVOp) error {
	err := s.locks.Commit(ctx, l.Info.ID, prev, ops)
	if errors.Is(err, ErrStateMoved) {
		cur, _, rerr := s.read(ctx)
		if rerr == nil && prev != nil {
			if old, derr := decode(prev); derr == nil && (old.Serial != cur.Serial || old.Lineage != cur.Lineage) {
				return &ConflictError{Path: s.name, HaveSerial: cur.Serial, GotSerial: old.Serial, HaveLineage: cur.Lineage, GotLineage: old.Lineage}
			}
		}
		return fmt.Errorf("write state: the lock %s was broken (force-unlocked or lost) while held, or the state changed; refusing to write: %w", l.Info.ID, err)
	}
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// historyOp saves the outgoing version, unless history already has it
// (an earlier attempt); another version under that serial is refused.
func (s *KVStore) historyOp(ctx context.Context, serial int64, b []byte) ([]KVOp, error) {
	key := serialKey(kvHistory, serial)
	old, err := s.kv.Get(ctx, key)
	switch {
	case err == nil && bytes.Equal(old, b):
		return nil, nil
	case err == nil:
		return nil, fmt.Errorf("save history: %s/%s exists with different content; refusing to overwrite it", s.name, key)
	case !notExist(err):
		return nil, fmt.Errorf("save history: %w", err)
	}
	return []KVOp{{Key: key, Value: b}}, nil
}

func (s *KVStore) indexOp(l *Lock, serial int64, op string) KVOp {
	e := HistoryEntry{Serial: serial, Time: s.now().UTC(), Operation: op,
		Who: l.Info.Who, Host: l.Info.Host, LockID: l.Info.ID}
	b, _ := json.Marshal(e)
	return KVOp{Key: serialKey(kvIndex, serial), Value: b}
}

// Lock implements [Store].
func (s *KVStore) Lock(ctx context.Context, info LockInfo) (*Lock, error) {
	return waitLock(ctx, func() (*Lock, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info := info
		info.fill(s.now().UTC())
		release, prev, err := s.locks.TryLockState(ctx, info)
		if err != nil {
			return nil, err
		}
		return &Lock{Info: info, Previous: prev, owner: s, release: release}, nil
	})
}

// ForceUnlock implements [Backend].
func (s *KVStore) ForceUnlock(ctx context.Context, id string) error {
	return s.locks.ForceUnlockState(ctx, id)
}

func (s *KVStore) serials(ctx context.Context, dir string) ([]int64, error) {
	names, err := s.kv.List(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	var out []int64
	for _, n := range names {
		n, ok := strings.CutSuffix(n, ".json")
		if v, err := strconv.ParseInt(n, 10, 64); ok && err == nil && v > 0 {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// History implements [Store].
func (s *KVStore) History(ctx context.Context) ([]HistoryEntry, error) {
	serials, err := s.serials(ctx, kvHistory)
	if err != nil {
		return nil, err
	}
	cur, _, err := s.read(ctx)
	switch {
	case err == nil:
		serials = append(serials, cur.Serial)
	case !errors.Is(err, ErrNoState):
		return nil, err
	}
	slices.Sort(serials)
	serials = slices.Compact(serials)
	out := make([]HistoryEntry, 0, len(serials))
	for _, n := range serials {
		e := HistoryEntry{Serial: n, Operation: "unknown"}
		if b, err := s.kv.Get(ctx, serialKey(kvIndex, n)); err == nil {
			_ = json.Unmarshal(b, &e)
			e.Serial = n
		}
		e.Current = cur != nil && n == cur.Serial
		out = append(out, e)
	}
	return out, nil
}

// ReadSerial implements [Store].
func (s *KVStore) ReadSerial(ctx context.Context, serial int64) (*State, error) {
	b, err := s.rawSerial(ctx, serial)
	if err != nil {
		return nil, err
	}
	st, err := decode(b)
	if err == nil && st.Serial != serial {
		return nil, &CorruptError{Path: s.name + "/" + serialKey(kvHistory, serial), Err: fmt.Errorf("holds serial %d", st.Serial)}
	}
	return st, err
}

func (s *KVStore) rawSerial(ctx context.Context, serial int64) ([]byte, error) {
	if cur, b, err := s.read(ctx); err == nil && cur.Serial == serial {
		return b, nil
	}
	b, err := s.kv.Get(ctx, serialKey(kvHistory, serial))
	if notExist(err) {
		return nil, fmt.Errorf("read serial %d: %w", serial, ErrUnknownSerial)
	}
	return b, err
}

// WriteNewLineage implements [Backend]; see [DirStore.WriteNewLineage].
func (s *KVStore) WriteNewLineage(ctx context.Context, l *Lock, st *State) (int64, error) {
	if !l.heldBy(s) {
		return 0, fmt.Errorf("write state: %w", ErrNotLocked)
	}
	cur, curBytes, err := s.read(ctx)
	if err != nil && !errors.Is(err, ErrNoState) {
		return 0, err
	}
	if st.Lineage == "" {
		return 0, fmt.Errorf("%s: refusing to write a state without lineage", s.name)
	}
	serials, err := s.serials(ctx, kvHistory)
	if err != nil {
		return 0, err
	}
	var top int64
	if len(serials) > 0 {
		top = serials[len(serials)-1]
	}
	if cur != nil {
		if cur.Lineage == st.Lineage {
			return 0, fmt.Errorf("%s: the state already has lineage %s; use Write", s.name, st.Lineage)
		}
		top = max(top, cur.Serial)
	}
	return s.commitAs(ctx, l, st, cur, curBytes, top+1)
}

// Install implements [Backend]; see [DirStore.Install].
func (s *KVStore) Install(ctx context.Context, l *Lock, data []byte, operation string) (*State, error) {
	if !l.heldBy(s) {
		return nil, fmt.Errorf("install state: %w", ErrNotLocked)
	}
	st, err := decode(data)
	if err != nil {
		return nil, err
	}
	if st.Lineage == "" {
		return nil, fmt.Errorf("install state: the copy has no lineage")
	}
	hk := serialKey(kvHistory, st.Serial)
	if old, err := s.kv.Get(ctx, hk); err == nil && !bytes.Equal(old, data) {
		return nil, fmt.Errorf("install state: %s/%s holds another version of serial %d", s.name, hk, st.Serial)
	}
	var ops []KVOp
	curBytes, err := s.kv.Get(ctx, kvState)
	switch {
	case err == nil:
		if cur, derr := decode(curBytes); derr == nil && cur.Serial != st.Serial {
			op, err := s.historyOp(ctx, cur.Serial, curBytes)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op...)
		} else if derr == nil && !bytes.Equal(curBytes, data) {
			ops = append(ops, KVOp{Key: kvState + ".replaced-" + strconv.FormatInt(cur.Serial, 10), Value: curBytes})
		}
	case notExist(err):
		curBytes = nil
	default:
		return nil, err
	}
	ops = append(ops, KVOp{Key: kvState, Value: data}, s.indexOp(l, st.Serial, operation))
	if err := s.commit(ctx, l, curBytes, ops); err != nil {
		return nil, err
	}
	return st, nil
}

// Retire implements [Backend]: state.json is kept under another name.
func (s *KVStore) Retire(now time.Time) error {
	ctx, cancel := bg()
	defer cancel()
	b, err := s.kv.Get(ctx, kvState)
	if err != nil {
		return err
	}
	if err := s.kv.Put(ctx, kvRetiredP+now.UTC().Format("20060102T150405Z"), b); err != nil {
		return err
	}
	return s.kv.Delete(ctx, kvState)
}

// SetDrained implements [Backend]; see [DirStore.SetDrained].
func (s *KVStore) SetDrained(d DrainInfo) error {
	if d.Who == "" {
		d.Who = currentUser()
	}
	if d.Host == "" {
		d.Host = hostname()
	}
	if d.Time.IsZero() {
		d.Time = s.now().UTC()
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	ctx, cancel := bg()
	defer cancel()
	return s.kv.Put(ctx, kvDrain, b)
}

// Undrain implements [Backend].
func (s *KVStore) Undrain() error {
	ctx, cancel := bg()
	defer cancel()
	return s.kv.Delete(ctx, kvDrain)
}

// Drained implements [Backend].
func (s *KVStore) Drained() (DrainInfo, bool, error) {
	ctx, cancel := bg()
	defer cancel()
	var d DrainInfo
	b, err := s.kv.Get(ctx, kvDrain)
	switch {
	case notExist(err):
		return d, false, nil
	case err != nil:
		return d, false, err
	}
	_ = json.Unmarshal(b, &d)
	return d, true, nil
}

// MarkApplied implements [Backend].
func (s *KVStore) MarkApplied(id string, at time.Time) error {
	if strings.ContainsAny(id, " \n/") || id == "" || id == "." || id == ".." {
		return fmt.Errorf("saved plan id %q: not an id", id)
	}
	ctx, cancel := bg()
	defer cancel()
	return s.kv.Put(ctx, kvApplied+id, []byte(at.UTC().Format(time.RFC3339)))
}

// AppliedAt implements [Backend].
func (s *KVStore) AppliedAt(id string) (time.Time, bool, error) {
	if strings.ContainsAny(id, " \n/") || id == "" || id == "." || id == ".." {
		return time.Time{}, false, nil
	}
	ctx, cancel := bg()
	defer cancel()
	b, err := s.kv.Get(ctx, kvApplied+id)
	switch {
	case notExist(err):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, err
	}
	t, _ := time.Parse(time.RFC3339, string(b))
	return t, true, nil
}

// Journal implements [Backend].
func (s *KVStore) Journal() (*Journal, error) {
	return &Journal{Dir: s.localDir, Now: s.Now, be: kvJournalStore{s}, alive: s.locks.Alive}, nil
}

// LockObjects implements [Backend].
func (s *KVStore) LockObjects(ctx context.Context, info LockInfo, reqs []LockReq, opt LockOptions) (*ObjectLocks, error) {
	return LockObjectsIn(ctx, kvLockSpace{s}, info, reqs, opt)
}

// CrashedClaims implements [Backend].
func (s *KVStore) CrashedClaims() map[int64][]LockReq {
	ctx, cancel := bg()
	defer cancel()
	return CrashedClaimsIn(ctx, kvLockSpace{s})
}

// ReleaseClaims implements [Backend].
func (s *KVStore) ReleaseClaims(job int64) {
	ctx, cancel := bg()
	defer cancel()
	ReleaseClaimsIn(ctx, kvLockSpace{s}, job)
}

// Close implements [Backend].
func (s *KVStore) Close() error { return s.locks.Close() }

// Export implements [Backend].
func (s *KVStore) Export(ctx context.Context) (*Dump, error) {
	d := &Dump{}
	var err error
	if d.Versions, err = exportVersions(ctx, s, func(n int64) ([]byte, error) { return s.rawSerial(ctx, n) }); err != nil {
		return nil, err
	}
	j, _ := s.Journal()
	if d.Jobs, d.Archived, err = j.export(ctx); err != nil {
		return nil, err
	}
	ids, err := s.kv.List(ctx, kvApplied)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	for _, id := range ids {
		t, _, err := s.AppliedAt(id)
		if err != nil {
			return nil, err
		}
		d.Applied = append(d.Applied, Applied{ID: id, At: t})
	}
	if di, drained, err := s.Drained(); err != nil {
		return nil, err
	} else if drained {
		d.Drain = &di
	}
	if wp, paused, err := s.WatcherPaused(time.Time{}); err != nil {
		return nil, err
	} else if paused {
		d.Pause = &wp
	}
	return d, nil
}

// Import implements [Backend]: history and the current state go in one
// commit over no state.
func (s *KVStore) Import(ctx context.Context, l *Lock, d *Dump) error {
	if !l.heldBy(s) {
		return fmt.Errorf("import: %w", ErrNotLocked)
	}
	if err := checkDump(d); err != nil {
		return err
	}
	if _, err := s.kv.Get(ctx, kvState); !notExist(err) {
		if err == nil {
			err = ErrNotEmpty
		}
		return fmt.Errorf("import into %s: %w", s.name, err)
	}
	var ops []KVOp
	for i, v := range d.Versions {
		key := serialKey(kvHistory, v.Entry.Serial)
		if i == len(d.Versions)-1 {
			key = kvState
		}
		e, _ := json.Marshal(v.Entry)
		ops = append(ops, KVOp{Key: key, Value: v.Data}, KVOp{Key: serialKey(kvIndex, v.Entry.Serial), Value: e})
	}
	// History first, the current state last: a reader sees no state until
	// the whole history is in.
	slices.SortStableFunc(ops, func(a, b KVOp) int {
		return boolCmp(a.Key == kvState, b.Key == kvState)
	})
	const batch = 64 // etcd bounds the operations of one transaction
	for len(ops) > batch {
		if err := s.commit(ctx, l, nil, ops[:batch]); err != nil {
			return err
		}
		ops = ops[batch:]
	}
	if err := s.commit(ctx, l, nil, ops); err != nil {
		return err
	}
	j, _ := s.Journal()
	if err := j.load(ctx, d.Jobs, d.Archived); err != nil {
		return err
	}
	for _, a := range d.Applied {
		if err := s.MarkApplied(a.ID, a.At); err != nil {
			return err
		}
	}
	if d.Pause != nil {
		if err := s.SetWatcherPause(*d.Pause); err != nil {
			return err
		}
	}
	if d.Drain != nil {
		return s.SetDrained(*d.Drain)
	}
	return nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// kvJournalStore keeps jobs under journal/ and journal/archive/.
type kvJournalStore struct{ s *KVStore }

func (j kvJournalStore) key(id int64, archived bool) string {
	if archived {
		return serialKey(kvArchive, id)
	}
	return serialKey(kvJobs, id)
}

func (j kvJournalStore) where(id int64) string {
	if id == 0 {
		return j.s.name + "/" + kvJobs
	}
	return j.s.name + "/" + j.key(id, false)
}

func (j kvJournalStore) create(ctx context.Context, id int64, b []byte) error {
	if _, err := j.s.kv.Get(ctx, j.key(id, true)); err == nil {
		return fs.ErrExist
	}
	return j.s.kv.Create(ctx, j.key(id, false), b)
}

func (j kvJournalStore) put(ctx context.Context, id int64, b []byte, _ bool) error {
	return j.s.kv.Put(ctx, j.key(id, false), b)
}

func (j kvJournalStore) get(ctx context.Context, id int64) ([]byte, error) {
	b, err := j.s.kv.Get(ctx, j.key(id, false))
	if notExist(err) {
		b, err = j.s.kv.Get(ctx, j.key(id, true))
	}
	return b, err
}

func (j kvJournalStore) ids(ctx context.Context, archived bool) ([]int64, error) {
	dir := kvJobs
	if archived {
		dir = kvArchive
	}
	ids, err := j.s.serials(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return ids, nil
}

func (j kvJournalStore) remove(ctx context.Context, id int64, archived bool) error {
	return j.s.kv.Delete(ctx, j.key(id, archived))
}

func (j kvJournalStore) archive(ctx context.Context, id int64) error {
	b, err := j.s.kv.Get(ctx, j.key(id, false))
	if err != nil {
		return err
	}
	if err := j.s.kv.Put(ctx, j.key(id, true), b); err != nil {
		return err
	}
	return j.s.kv.Delete(ctx, j.key(id, false))
}

// kvLockSpace keeps holder records under locks/holders/ and the locks
// themselves in the backend.
type kvLockSpace struct{ s *KVStore }

func (k kvLockSpace) TryLock(ctx context.Context, holder string, r LockReq) (func(), error) {
	return k.s.locks.TryLock(ctx, holder, r)
}

func (k kvLockSpace) Records(ctx context.Context) ([]HolderRecord, error) {
	names, err := k.s.kv.List(ctx, kvHolders)
	if err != nil {
		return nil, err
	}
	var out []HolderRecord
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ".json")
		if !ok {
			continue
		}
		b, err := k.s.kv.Get(ctx, kvHolders+n)
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

func (k kvLockSpace) PutRecord(ctx context.Context, h HolderRecord) error {
	b, _ := json.Marshal(h)
	return k.s.kv.Put(ctx, kvHolders+h.Info.ID+".json", b)
}

func (k kvLockSpace) RemoveRecord(ctx context.Context, id string) error {
	return k.s.kv.Delete(ctx, kvHolders+id+".json")
}

func (k kvLockSpace) Alive(ctx context.Context) (func(string, int) bool, error) {
	return k.s.locks.Alive(ctx)
}

func (k kvLockSpace) Journal() (*Journal, error) { return k.s.Journal() }
func (k kvLockSpace) Lost() <-chan struct{}      { return k.s.locks.Lost() }
func (k kvLockSpace) Now() time.Time             { return k.s.now() }

// NewLock is a held writer lock, for backends outside this package that
// implement Store themselves; owner is the store that issues it.
func NewLock(owner any, info LockInfo, prev *LockInfo, release func() error) *Lock {
	return &Lock{Info: info, Previous: prev, owner: owner, release: release}
}

// HeldBy reports whether l is a live lock issued by owner.
func (l *Lock) HeldBy(owner any) bool { return l.heldBy(owner) }

// SetWatcherPause implements [Backend]; see [DirStore.SetWatcherPause].
func (s *KVStore) SetWatcherPause(p WatcherPause) error {
	if p.Who == "" {
		p.Who = currentUser()
	}
	if p.Host == "" {
		p.Host = hostname()
	}
	if p.Time.IsZero() {
		p.Time = s.now().UTC()
	}
	p.Until = p.Until.UTC()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ctx, cancel := bg()
	defer cancel()
	return s.kv.Put(ctx, kvPause, b)
}

// ClearWatcherPause implements [Backend].
func (s *KVStore) ClearWatcherPause() error {
	ctx, cancel := bg()
	defer cancel()
	return s.kv.Delete(ctx, kvPause)
}

// WatcherPaused implements [Backend]; see [DirStore.WatcherPaused].
func (s *KVStore) WatcherPaused(now time.Time) (WatcherPause, bool, error) {
	ctx, cancel := bg()
	defer cancel()
	var p WatcherPause
	b, err := s.kv.Get(ctx, kvPause)
	switch {
	case notExist(err):
		return p, false, nil
	case err != nil:
		return p, false, err
	}
	if json.Unmarshal(b, &p) != nil || p.Until.IsZero() {
		return WatcherPause{}, true, nil
	}
	return p, now.Before(p.Until), nil
}
