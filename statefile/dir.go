package statefile

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names inside a state directory.
const (
	StateFile    = "state.json"      // the current state, mode 0600
	LockFile     = "state.lock"      // flock(2) target; never removed except by ForceUnlock
	LockInfoFile = "state.lock.info" // JSON LockInfo of the holder; removed on unlock
	HistoryDir   = "history"         // <serial>.json: replaced versions, never rewritten
	HistoryIndex = "index.jsonl"     // in HistoryDir: one HistoryEntry per commit, append-only
	JournalDir   = "journal"         // <id>.json: one Job per operation
)

const tempInfix = ".tmp-"

// DirStore is a [Store] in a local directory:
//
//	state.json            current state (0600)
//	state.lock            flock(2) lock file
//	state.lock.info       LockInfo of the holder, while held
//	history/<serial>.json the versions replaced, exactly as they were
//	history/index.jsonl   who committed which serial, when, with what operation
//	journal/<id>.json     the job journal, see Journal
//	queue.drained         the job queue's drain flag, see SetDrained
//	applied-plans         the saved plans applied, see MarkApplied
//
// Directories are created 0700 and files 0600 since the state holds secrets.
// The lock is an flock on state.lock, so the kernel releases it when its holder
// dies; state.lock.info left behind then tells the next holder that the
// previous one died mid-operation.
type DirStore struct {
	// Dir is the state directory.
	Dir string
	// Now gives the time for lock info and history; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex // serialises Write within the process (flock does across processes)
}

var _ Store = (*DirStore)(nil)

// OpenDir opens the state directory dir, creating it (0700) and its history
// directory when missing. It takes no lock and reads no state.
func OpenDir(dir string) (*DirStore, error) {
	if dir == "" {
		return nil, errors.New("open state dir: empty path")
	}
	if err := os.MkdirAll(filepath.Join(dir, HistoryDir), 0o700); err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	return &DirStore{Dir: dir}, nil
}

// String names the store in logs and errors.
func (s *DirStore) String() string { return s.Dir }

func (s *DirStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *DirStore) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// Journal returns the job journal kept in this state directory.
func (s *DirStore) Journal() (*Journal, error) {
	j, err := OpenJournal(s.path(JournalDir))
	if err == nil {
		j.Now = s.Now
	}
	return j, err
}

// readFile decodes the state file at p, giving its raw bytes too.
func readFile(p string) (*State, []byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	st, err := decode(b)
	if err != nil {
		var ce *CorruptError
		var ve *VersionError
		switch {
		case errors.As(err, &ce):
			ce.Path = p
		case errors.As(err, &ve):
			ve.Path = p
		}
		return nil, nil, err
	}
	return st, b, nil
}

// Read implements [Store].
func (s *DirStore) Read(ctx context.Context) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, _, err := s.read()
	return st, err
}

func (s *DirStore) read() (*State, []byte, error) {
	p := s.path(StateFile)
	st, b, err := readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read %s: %w", p, ErrNoState)
	}
	if err != nil && !isDecodeErr(err) {
		err = fmt.Errorf("read state: %w", err)
	}
	return st, b, err
}

func isDecodeErr(err error) bool {
	var ce *CorruptError
	var ve *VersionError
	return errors.As(err, &ce) || errors.As(err, &ve)
}

// Write implements [Store]. The sequence is: check the lock is still ours,
// check serial and lineage, copy the outgoing version to
// history/<serial>.json (which must not exist with other content), replace
// state.json atomically, then append to history/index.jsonl.
func (s *DirStore) Write(ctx context.Context, l *Lock, st *State) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !l.heldBy(s) {
		return 0, fmt.Errorf("write state: %w", ErrNotLocked)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stillOurs(l); err != nil {
		return 0, err
	}
	cur, curBytes, err := s.read()
	if err != nil && !errors.Is(err, ErrNoState) {
		return 0, err
	}
	if err := checkWrite(s.path(StateFile), cur, st); err != nil {
		return 0, err
	}
	if cur != nil && Equal(cur, st) {
		return cur.Serial, nil
	}
	return s.commitAs(l, st, cur, curBytes, st.Serial+1)
}

// commitAs stores st with the given serial over cur (whose file bytes are
// curBytes; nil when there is no state): the outgoing version goes to
// history first, then the new state, then its history index entry. st is
// updated as Write documents.
func (s *DirStore) commitAs(l *Lock, st, cur *State, curBytes []byte, serial int64) (int64, error) {
	next := st.Clone()
	next.Serial = serial
	if l.Info.Version != "" {
		next.GanetictlVersion = l.Info.Version
	}
	b, err := Marshal(next)
	if err != nil {
		return 0, err
	}
	if cur != nil {
		if err := s.saveHistory(cur.Serial, curBytes); err != nil {
			return 0, err
		}
	}
	if err := writeAtomic(s.path(StateFile), b, 0o600); err != nil {
		return 0, fmt.Errorf("write state: %w", err)
	}
	st.Serial, st.FormatVersion, st.GanetictlVersion = next.Serial, FormatVersion, next.GanetictlVersion
	e := HistoryEntry{Serial: next.Serial, Time: s.now().UTC(), Operation: l.Info.Operation,
		Who: l.Info.Who, Host: l.Info.Host, LockID: l.Info.ID}
	if err := s.appendIndex(e); err != nil {
		// The state is committed; only the description is missing, and
		// History copes with that. Report it all the same.
		return next.Serial, fmt.Errorf("state saved as serial %d, but recording it in the history index failed: %w", next.Serial, err)
	}
	return next.Serial, nil
}

// stillOurs checks that the lock info on disk is l's: a force-unlock by
// someone else means l no longer protects anything.
func (s *DirStore) stillOurs(l *Lock) error {
	info, err := readLockInfo(s.path(LockInfoFile))
	if err != nil || info.ID != l.Info.ID {
		return fmt.Errorf("write state: the lock %s was broken (force-unlocked) while held; refusing to write", l.Info.ID)
	}
	return nil
}

func (s *DirStore) saveHistory(serial int64, b []byte) error {
	p := s.path(HistoryDir, strconv.FormatInt(serial, 10)+".json")
	old, err := os.ReadFile(p)
	switch {
	case err == nil && bytes.Equal(old, b):
		return nil // saved by an earlier attempt that crashed before the rename
	case err == nil:
		return fmt.Errorf("save history: %s exists with different content; refusing to overwrite it", p)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("save history: %w", err)
	}
	if err := os.MkdirAll(s.path(HistoryDir), 0o700); err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	if err := writeAtomic(p, b, 0o600); err != nil {
		return fmt.Errorf("save history: %w", err)
	}
	return nil
}

func (s *DirStore) appendIndex(e HistoryEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.path(HistoryDir, HistoryIndex), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Lock implements [Store] with flock(2) on state.lock. On success any
// leftover temporary files of crashed writers are removed, and Previous is
// set when state.lock.info was left behind by a holder that died.
func (s *DirStore) Lock(ctx context.Context, info LockInfo) (*Lock, error) {
	return waitLock(ctx, func() (*Lock, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return s.tryLock(info)
	})
}

func (s *DirStore) tryLock(info LockInfo) (*Lock, error) {
	lp := s.path(LockFile)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Path: lp}
			if hi, err := readLockInfo(s.path(LockInfoFile)); err == nil {
				le.Info = *hi
				le.HolderGone = hi.Host == hostname() && !pidAlive(hi.PID)
			}
			return nil, le
		}
		return nil, fmt.Errorf("lock state: flock %s: %w", lp, err)
	}
	info.fill(s.now().UTC())
	l := &Lock{Info: info, owner: s}
	if prev, err := readLockInfo(s.path(LockInfoFile)); err == nil {
		l.Previous = prev
	} else if !errors.Is(err, fs.ErrNotExist) {
		// Unreadable leftovers still mean a holder died.
		l.Previous = &LockInfo{Operation: "unknown (unreadable " + LockInfoFile + ")"}
	}
	s.removeTemps()
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := writeAtomic(s.path(LockInfoFile), append(b, '\n'), 0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state: write lock info: %w", err)
	}
	l.release = func() error {
		var errs []error
		if cur, err := readLockInfo(s.path(LockInfoFile)); err == nil && cur.ID == info.ID {
			if err := os.Remove(s.path(LockInfoFile)); err != nil {
				errs = append(errs, err)
			}
		}
		if err := flock(f, syscall.LOCK_UN); err != nil {
			errs = append(errs, err)
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("unlock state: %w", err)
		}
		return nil
	}
	return l, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// removeTemps deletes temporary files left by writers that crashed between
// creating and renaming them. Only the lock holder calls it, so no live
// writer's temp file can be removed.
func (s *DirStore) removeTemps() {
	for _, d := range []string{s.Dir, s.path(HistoryDir)} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.Contains(e.Name(), tempInfix) && e.Type().IsRegular() {
				os.Remove(filepath.Join(d, e.Name()))
			}
		}
	}
}

func readLockInfo(p string) (*LockInfo, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	li := new(LockInfo)
	if err := json.Unmarshal(b, li); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return li, nil
}

// ForceUnlock breaks the lock whose holder has ID id, for
// `ganetictl state unlock --force ID`. The ID must match the holder's, so
// that a lock taken meanwhile by someone else is not broken by mistake.
//
// When the holder is dead, this only removes its stale lock info. When the
// holder still holds the flock (alive, or hung), the lock file itself is
// removed so that new writers lock a fresh one; the old holder keeps its
// flock on the removed file but its next Write fails, because it checks that
// the lock info is still its own. Make sure the holder is really stuck first.
func (s *DirStore) ForceUnlock(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := readLockInfo(s.path(LockInfoFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unlock %s: %w", s.Dir, ErrNotLocked)
	}
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if info.ID != id {
		return fmt.Errorf("unlock %s: lock ID %q does not match the holder's ID %q (held by %s@%s pid %d for %q)",
			s.Dir, id, info.ID, info.Who, info.Host, info.PID, info.Operation)
	}
	f, err := os.OpenFile(s.path(LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	defer f.Close()
	held := flock(f, syscall.LOCK_EX|syscall.LOCK_NB) != nil
	if err := os.Remove(s.path(LockInfoFile)); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if held {
		if err := os.Remove(s.path(LockFile)); err != nil {
			return fmt.Errorf("unlock: %w", err)
		}
	}
	return syncDir(s.Dir)
}

// History implements [Store]. Versions come from the history files and the
// current state; their descriptions from history/index.jsonl, or the file's
// modification time when the index lacks them (a crash between commit and
// index append, or history copied in by hand).
func (s *DirStore) History(ctx context.Context) ([]HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	meta := map[int64]HistoryEntry{}
	if f, err := os.Open(s.path(HistoryDir, HistoryIndex)); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e HistoryEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Serial > 0 {
				meta[e.Serial] = e // a torn last line is skipped
			}
		}
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read history: %w", err)
	}
	mtimes := map[int64]time.Time{}
	ents, err := os.ReadDir(s.path(HistoryDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read history: %w", err)
	}
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".json")
		serial, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			mtimes[serial] = fi.ModTime()
		}
	}
	head := int64(-1)
	if cur, _, err := s.read(); err == nil {
		head = cur.Serial
		if fi, err := os.Stat(s.path(StateFile)); err == nil {
			mtimes[head] = fi.ModTime()
		}
	} else if !errors.Is(err, ErrNoState) {
		return nil, err
	}
	out := make([]HistoryEntry, 0, len(mtimes))
	for serial, mt := range mtimes {
		e, ok := meta[serial]
		if !ok {
			e = HistoryEntry{Serial: serial, Time: mt, Operation: "unknown"}
		}
		e.Current = serial == head
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b HistoryEntry) int { return cmp.Compare(a.Serial, b.Serial) })
	return out, nil
}

// ReadSerial implements [Store].
func (s *DirStore) ReadSerial(ctx context.Context, serial int64) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cur, _, err := s.read()
	if err == nil && cur.Serial == serial {
		return cur, nil
	}
	p := s.path(HistoryDir, strconv.FormatInt(serial, 10)+".json")
	st, _, err := readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read serial %d: %w", serial, ErrUnknownSerial)
	}
	if err != nil && !isDecodeErr(err) {
		return nil, fmt.Errorf("read serial %d: %w", serial, err)
	}
	if err == nil && st.Serial != serial {
		return nil, &CorruptError{Path: p, Err: fmt.Errorf("holds serial %d", st.Serial)}
	}
	return st, err
}

// writeAtomic replaces path with data: a temporary file in the same
// directory is written, synced, closed and renamed over path, then the
// directory is synced. A reader sees the old or the new content, never a
// partial one. It refuses to replace anything but a regular file (a symlink,
// a directory, a socket).
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, true)
}

// writeFile is writeAtomic, with the fsyncs only when durable: without them
// the replacement is still atomic for readers and survives the writer being
// killed, but not a power loss.
func writeFile(path string, data []byte, perm os.FileMode, durable bool) (err error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s); refusing to replace it", path, fi.Mode().Type())
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if durable {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// pidAlive reports whether a process with that PID exists on this host.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
