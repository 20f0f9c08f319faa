package statefile

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
)

// MemStore is a [Backend] that keeps everything in memory, for tests of
// other packages: a [KVStore] over a map, with in-process locks. It passes
// the same conformance suite as [DirStore]. The zero value is not usable;
// call NewMem.
type MemStore struct {
	*KVStore
}

// NewMem returns an empty in-memory store.
func NewMem() *MemStore {
	m := &memBackend{kv: map[string][]byte{}, shared: map[string]map[string]bool{}, excl: map[string]string{}}
	return &MemStore{NewKVStore("mem.Store", m, m, "")}
}

// memBackend is MemStore's KV and locks.
type memBackend struct {
	mu     sync.Mutex
	kv     map[string][]byte
	lock   *LockInfo                  // the writer lock's holder
	excl   map[string]string          // object lock -> exclusive holder
	shared map[string]map[string]bool // object lock -> shared holders
}

func (m *memBackend) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.kv[key]
	if !ok {
		return nil, &fs.PathError{Op: "get", Path: key, Err: fs.ErrNotExist}
	}
	return slices.Clone(b), nil
}

func (m *memBackend) List(_ context.Context, dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m.kv)) {
		if rest, ok := strings.CutPrefix(k, dir); ok && rest != "" && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	return out, nil
}

func (m *memBackend) Put(_ context.Context, key string, val []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[key] = slices.Clone(val)
	return nil
}

func (m *memBackend) Create(_ context.Context, key string, val []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kv[key]; ok {
		return fs.ErrExist
	}
	m.kv[key] = slices.Clone(val)
	return nil
}

func (m *memBackend) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kv, key)
	return nil
}

func (m *memBackend) TryLockState(_ context.Context, info LockInfo) (func() error, *LockInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lock != nil {
		return nil, nil, &LockedError{Info: *m.lock}
	}
	m.lock = &info
	return func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.lock != nil && m.lock.ID == info.ID {
			m.lock = nil
		}
		return nil
	}, nil, nil
}

func (m *memBackend) ForceUnlockState(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lock == nil {
		return fmt.Errorf("unlock: %w", ErrNotLocked)
	}
	if m.lock.ID != id {
		return fmt.Errorf("unlock: lock ID %q does not match the holder's ID %q", id, m.lock.ID)
	}
	m.lock = nil
	return nil
}

func (m *memBackend) Commit(_ context.Context, lockID string, prev []byte, ops []KVOp) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.kv[kvState]
	if m.lock == nil || m.lock.ID != lockID || ok != (prev != nil) || ok && string(cur) != string(prev) {
		return ErrStateMoved
	}
	for _, op := range ops {
		if op.Delete {
			delete(m.kv, op.Key)
		} else {
			m.kv[op.Key] = slices.Clone(op.Value)
		}
	}
	return nil
}

func (m *memBackend) TryLock(_ context.Context, holder string, r LockReq) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name := LockName(r)
	if h, ok := m.excl[name]; ok && h != holder || r.Exclusive && len(m.shared[name]) > 0 {
		return nil, ErrLockBusy
	}
	if r.Exclusive {
		m.excl[name] = holder
	} else {
		if m.shared[name] == nil {
			m.shared[name] = map[string]bool{}
		}
		m.shared[name][holder] = true
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if r.Exclusive {
			delete(m.excl, name)
		} else {
			delete(m.shared[name], holder)
		}
	}, nil
}

func (m *memBackend) Alive(context.Context) (func(string, int) bool, error) { return LocalAlive, nil }
func (m *memBackend) Lost() <-chan struct{}                                 { return nil }
func (m *memBackend) Close() error                                          { return nil }
