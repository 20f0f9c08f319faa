package statefile

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemStore is a [Store] that keeps everything in memory, for tests of other
// packages. It passes the same conformance suite as [DirStore]. The zero value
// is not usable; call NewMem.
type MemStore struct {
	// Now gives the time for lock info and history; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	cur     []byte   // canonical encoding of the current state; nil when none
	history [][]byte // outgoing versions, by ascending serial
	entries []HistoryEntry
	lock    *Lock
}

var _ Store = (*MemStore)(nil)

// NewMem returns an empty in-memory store.
func NewMem() *MemStore { return &MemStore{} }

// String names the store in logs and errors.
func (m *MemStore) String() string { return "mem.Store" }

func (m *MemStore) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Read implements [Store].
func (m *MemStore) Read(ctx context.Context) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil {
		return nil, fmt.Errorf("read state: %w", ErrNoState)
	}
	return decode(m.cur)
}

// Write implements [Store].
func (m *MemStore) Write(ctx context.Context, l *Lock, st *State) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !l.heldBy(m) {
		return 0, fmt.Errorf("write state: %w", ErrNotLocked)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur *State
	if m.cur != nil {
		var err error
		if cur, err = decode(m.cur); err != nil {
			return 0, err
		}
	}
	if err := checkWrite("", cur, st); err != nil {
		return 0, err
	}
	if cur != nil && Equal(cur, st) {
		return cur.Serial, nil
	}
	next := st.Clone()
	next.Serial = st.Serial + 1
	if l.Info.Version != "" {
		next.GanetictlVersion = l.Info.Version
	}
	b, err := Marshal(next)
	if err != nil {
		return 0, err
	}
	if m.cur != nil {
		m.history = append(m.history, m.cur)
	}
	m.cur = b
	m.entries = append(m.entries, HistoryEntry{Serial: next.Serial, Time: m.now(),
		Operation: l.Info.Operation, Who: l.Info.Who, Host: l.Info.Host, LockID: l.Info.ID})
	st.Serial, st.FormatVersion, st.GanetictlVersion = next.Serial, FormatVersion, next.GanetictlVersion
	return next.Serial, nil
}

// Lock implements [Store].
func (m *MemStore) Lock(ctx context.Context, info LockInfo) (*Lock, error) {
	return waitLock(ctx, func() (*Lock, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.lock != nil {
			return nil, &LockedError{Info: m.lock.Info}
		}
		info.fill(m.now())
		l := &Lock{Info: info, owner: m}
		l.release = func() error {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.lock == l {
				m.lock = nil
			}
			return nil
		}
		m.lock = l
		return l, nil
	})
}

// ForceUnlock releases the lock with that ID whoever holds it; see
// [DirStore.ForceUnlock].
func (m *MemStore) ForceUnlock(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lock == nil {
		return fmt.Errorf("unlock: %w", ErrNotLocked)
	}
	if m.lock.Info.ID != id {
		return fmt.Errorf("unlock: lock ID %q does not match the holder's ID %q", id, m.lock.Info.ID)
	}
	m.lock = nil
	return nil
}

// History implements [Store].
func (m *MemStore) History(ctx context.Context) ([]HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]HistoryEntry, len(m.entries))
	copy(out, m.entries)
	if len(out) > 0 {
		out[len(out)-1].Current = true
	}
	return out, nil
}

// ReadSerial implements [Store].
func (m *MemStore) ReadSerial(ctx context.Context, serial int64) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range append(m.history, m.cur) {
		if b == nil {
			continue
		}
		st, err := decode(b)
		if err != nil {
			return nil, err
		}
		if st.Serial == serial {
			return st, nil
		}
	}
	return nil, fmt.Errorf("read serial %d: %w", serial, ErrUnknownSerial)
}
