// Package etcdstore keeps ganetictl's state in an etcd cluster, for teams
// and CI fleets that run one: every workstation and runner that can reach
// etcd works against the same state, history, journal and locks.
//
// Everything lives under one key prefix, in the layout of
// statefile.KVStore (state.json, history/<serial>.json, journal/<id>.json,
// ...). A commit is one transaction that compares the current state's
// bytes (so its serial) and the writer lock, then puts the outgoing
// version into history, the new state and its history entry; it happens
// whole or not at all, whichever member leads. The journal's keys keep
// their revision history in etcd.
//
// Locks are keys attached to the process's lease, kept alive while it
// runs: a holder that dies (kill -9, power loss, lost network) loses them
// when its lease expires, after LeaseTTL. The writer lock is the key
// state.lock; an object lock is a key locks/<object>/x/<holder>
// (exclusive: taken only when no key is below locks/<object>/) or
// locks/<object>/s/<holder> (shared: when none is below
// locks/<object>/x/). Holder records (locks/holders/<id>.json) have no
// lease, so the claim of a job cut off by a crash stays until it is
// resumed or aborted; whether a holder lives is whether its session key
// (sessions/<host>/<pid>/<lease>) is still there.
//
// The password is given in Config, read by the caller from the
// environment or a file; it is never logged (the client's logger is
// off) nor stored.
package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Config says how to reach etcd and where the state is.
type Config struct {
	Endpoints []string // e.g. https://10.0.0.1:2379
	// Prefix is the key prefix of this cluster's state, e.g.
	// "/ganetictl/cluster.example.test/"; a trailing slash is added.
	Prefix string
	// TLS: a CA to verify the members, and a client certificate and key
	// when the members ask for one. Empty: plain connections (unless an
	// endpoint says https, then the system's roots are used).
	CAFile, CertFile, KeyFile string
	// User and Password authenticate to etcd when auth is enabled.
	User, Password string
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
	// LeaseTTL is how long a dead holder's locks outlive it (default 10s).
	LeaseTTL time.Duration
	// LocalDir keeps the output of jobs this machine submits.
	LocalDir string
}

// DefaultLeaseTTL is the lease of a process's locks unless Config says.
const DefaultLeaseTTL = 10 * time.Second

// Store is the etcd backend: a statefile.KVStore over etcd keys.
type Store struct {
	*statefile.KVStore
	b *backend
}

// Open connects to etcd. It takes no lock and reads nothing; the first
// lock starts the process's lease.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd backend: no endpoints")
	}
	cc := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Username:    cfg.User,
		Password:    cfg.Password,
		Logger:      zap.NewNop(), // never log: requests carry the password and DRBD secrets
		Context:     context.WithoutCancel(ctx),
		// Fail over between members quickly when one dies.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	}
	if cc.DialTimeout == 0 {
		cc.DialTimeout = 5 * time.Second
	}
	if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		ti := transport.TLSInfo{TrustedCAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile}
		tc, err := ti.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd backend: TLS: %w", err)
		}
		cc.TLS = tc
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcd backend: %w", err)
	}
	prefix := cfg.Prefix
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ttl := cfg.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	b := &backend{cli: cli, prefix: prefix, ttl: ttl, lost: make(chan struct{}), lockVals: map[string]string{}}
	name := "etcd " + strings.Join(cfg.Endpoints, ",") + " " + prefix
	return &Store{KVStore: statefile.NewKVStore(name, b, b, cfg.LocalDir), b: b}, nil
}

// LeaseTTL is the lease of this store's locks.
func (s *Store) LeaseTTL() time.Duration { return s.b.ttl }

// backend is the KV and the locks over one etcd client.
type backend struct {
	cli    *clientv3.Client
	prefix string
	ttl    time.Duration

	mu       sync.Mutex
	lease    clientv3.LeaseID // 0 until the first lock
	stop     context.CancelFunc
	lost     chan struct{} // closed when the lease is gone
	lostOnce sync.Once
	lockVals map[string]string // writer lock ID -> the lock key's value
	closed   bool
}

func (b *backend) k(key string) string { return b.prefix + key }

func notFound(key string) error { return &fs.PathError{Op: "get", Path: key, Err: fs.ErrNotExist} }

func (b *backend) Get(ctx context.Context, key string) ([]byte, error) {
	r, err := b.cli.Get(ctx, b.k(key))
	if err != nil {
		return nil, err
	}
	if len(r.Kvs) == 0 {
		return nil, notFound(key)
	}
	return r.Kvs[0].Value, nil
}

func (b *backend) List(ctx context.Context, dir string) ([]string, error) {
	r, err := b.cli.Get(ctx, b.k(dir), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range r.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), b.k(dir))
		if rest != "" && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	return out, nil
}

func (b *backend) Put(ctx context.Context, key string, val []byte) error {
	_, err := b.cli.Put(ctx, b.k(key), string(val))
	return err
}

func (b *backend) Create(ctx context.Context, key string, val []byte) error {
	r, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(b.k(key)), "=", 0)).
		Then(clientv3.OpPut(b.k(key), string(val))).Commit()
	if err != nil {
		return err
	}
	if !r.Succeeded {
		return fs.ErrExist
	}
	return nil
}

func (b *backend) Delete(ctx context.Context, key string) error {
	_, err := b.cli.Delete(ctx, b.k(key))
	return err
}

// session returns the process's lease, granting it and starting its
// keep-alive on first use, with the session key that says this process
// lives.
func (b *backend) session(ctx context.Context) (clientv3.LeaseID, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lease != 0 {
		select {
		case <-b.lost:
			return 0, errors.New("etcd backend: this process's lease expired (etcd unreachable for longer than its TTL); its locks are gone")
		default:
		}
		return b.lease, nil
	}
	g, err := b.cli.Grant(ctx, int64((b.ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, fmt.Errorf("etcd backend: grant lease: %w", err)
	}
	kctx, stop := context.WithCancel(context.Background())
	ch, err := b.cli.KeepAlive(kctx, g.ID)
	if err != nil {
		stop()
		return 0, fmt.Errorf("etcd backend: keep lease alive: %w", err)
	}
	host, _ := os.Hostname()
	skey := b.k(fmt.Sprintf("sessions/%s/%d/%x", host, os.Getpid(), int64(g.ID)))
	if _, err := b.cli.Put(ctx, skey, "", clientv3.WithLease(g.ID)); err != nil {
		stop()
		return 0, fmt.Errorf("etcd backend: session: %w", err)
	}
	go func() { // owned by the backend: ends with Close or the lease
		for range ch {
		}
		b.lostOnce.Do(func() { close(b.lost) })
	}()
	b.lease, b.stop = g.ID, stop
	return g.ID, nil
}

func (b *backend) Lost() <-chan struct{} { return b.lost }

func (b *backend) Alive(ctx context.Context) (func(string, int) bool, error) {
	r, err := b.cli.Get(ctx, b.k("sessions/"), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, kv := range r.Kvs {
		parts := strings.Split(strings.TrimPrefix(string(kv.Key), b.k("sessions/")), "/")
		if len(parts) == 3 {
			live[parts[0]+"/"+parts[1]] = true
		}
	}
	return func(host string, pid int) bool {
		return live[host+"/"+strconv.Itoa(pid)] || statefile.LocalProcessAlive(host, pid)
	}, nil
}

const (
	lockKey     = "state.lock"
	lockInfoKey = "state.lock.info" // no lease: says a holder died holding the lock
)

func (b *backend) TryLockState(ctx context.Context, info statefile.LockInfo) (func() error, *statefile.LockInfo, error) {
	lease, err := b.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	val, _ := json.Marshal(info)
	lk, ik := b.k(lockKey), b.k(lockInfoKey)
	r, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(lk), "=", 0)).
		Then(clientv3.OpPut(lk, string(val), clientv3.WithLease(lease)), clientv3.OpGet(ik), clientv3.OpPut(ik, string(val))).
		Else(clientv3.OpGet(lk)).Commit()
	if err != nil {
		return nil, nil, fmt.Errorf("lock state: %w", err)
	}
	if !r.Succeeded {
		le := &statefile.LockedError{Path: b.prefix + lockKey}
		if kvs := r.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			_ = json.Unmarshal(kvs[0].Value, &le.Info)
		}
		return nil, nil, le
	}
	var prev *statefile.LockInfo
	if kvs := r.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		prev = new(statefile.LockInfo)
		if json.Unmarshal(kvs[0].Value, prev) != nil {
			prev = &statefile.LockInfo{Operation: "unknown (unreadable " + lockInfoKey + ")"}
		}
	}
	b.mu.Lock()
	b.lockVals[info.ID] = string(val)
	b.mu.Unlock()
	release := func() error {
		b.mu.Lock()
		delete(b.lockVals, info.ID)
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(lk), "=", string(val))).
			Then(clientv3.OpDelete(lk), clientv3.OpDelete(ik)).Commit()
		if err != nil {
			return fmt.Errorf("unlock state: %w", err)
		}
		return nil
	}
	return release, prev, nil
}

func (b *backend) ForceUnlockState(ctx context.Context, id string) error {
	r, err := b.cli.Txn(ctx).Then(clientv3.OpGet(b.k(lockKey)), clientv3.OpGet(b.k(lockInfoKey))).Commit()
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	var held, left statefile.LockInfo
	var hasHeld, hasLeft bool
	if kvs := r.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		hasHeld = json.Unmarshal(kvs[0].Value, &held) == nil
	}
	if kvs := r.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		hasLeft = json.Unmarshal(kvs[0].Value, &left) == nil
	}
	switch {
	case hasHeld && held.ID != id:
		return fmt.Errorf("unlock %s: lock ID %q does not match the holder's ID %q (held by %s@%s pid %d for %q)",
			b.prefix, id, held.ID, held.Who, held.Host, held.PID, held.Operation)
	case !hasHeld && (!hasLeft || left.ID != id):
		return fmt.Errorf("unlock %s: %w", b.prefix, statefile.ErrNotLocked)
	}
	_, err = b.cli.Delete(ctx, b.k(lockKey))
	if err == nil {
		_, err = b.cli.Delete(ctx, b.k(lockInfoKey))
	}
	return err
}

// Commit is one transaction: if the writer lock is still lockID's and the
// state is still prev, apply ops. A transport error leaves it unknown
// whether the transaction happened: the state is read back to tell.
func (b *backend) Commit(ctx context.Context, lockID string, prev []byte, ops []statefile.KVOp) error {
	b.mu.Lock()
	lockVal, ok := b.lockVals[lockID]
	b.mu.Unlock()
	if !ok {
		return statefile.ErrStateMoved
	}
	conds := []clientv3.Cmp{clientv3.Compare(clientv3.Value(b.k(lockKey)), "=", lockVal)}
	if prev == nil {
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(b.k("state.json")), "=", 0))
	} else {
		conds = append(conds, clientv3.Compare(clientv3.Value(b.k("state.json")), "=", string(prev)))
	}
	var puts []clientv3.Op
	var next []byte
	for _, op := range ops {
		if op.Delete {
			puts = append(puts, clientv3.OpDelete(b.k(op.Key)))
			continue
		}
		puts = append(puts, clientv3.OpPut(b.k(op.Key), string(op.Value)))
		if op.Key == "state.json" {
			next = op.Value
		}
	}
	r, err := b.cli.Txn(ctx).If(conds...).Then(puts...).Commit()
	if err != nil {
		if next != nil {
			// Did it happen? The lock still held means nobody else could
			// have written what we wanted to write.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if cur, gerr := b.Get(rctx, "state.json"); gerr == nil && string(cur) == string(next) {
				return nil
			}
		}
		return err
	}
	if !r.Succeeded {
		return statefile.ErrStateMoved
	}
	return nil
}

func (b *backend) TryLock(ctx context.Context, holder string, r statefile.LockReq) (func(), error) {
	lease, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	base := b.k("locks/" + statefile.LockName(r) + "/")
	key, cond := base+"s/"+holder, clientv3.Compare(clientv3.CreateRevision(base+"x/"), "=", 0).WithPrefix()
	if r.Exclusive {
		key, cond = base+"x/"+holder, clientv3.Compare(clientv3.CreateRevision(base), "=", 0).WithPrefix()
	}
	resp, err := b.cli.Txn(ctx).If(cond).Then(clientv3.OpPut(key, "", clientv3.WithLease(lease))).Commit()
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return nil, statefile.ErrLockBusy
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = b.cli.Delete(ctx, key)
	}, nil
}

// Close revokes the lease, which releases every lock at once, and
// disconnects.
func (b *backend) Close() error {
	b.mu.Lock()
	lease, stop, closed := b.lease, b.stop, b.closed
	b.lease, b.closed = 0, true
	b.mu.Unlock()
	if closed {
		return nil
	}
	if lease != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = b.cli.Revoke(ctx, lease)
		cancel()
		stop()
	}
	return b.cli.Close()
}

// Abandon drops the connection without revoking the lease, as a killed
// process does: its locks go only when the lease expires. For tests.
func (s *Store) Abandon() {
	b := s.b
	b.mu.Lock()
	stop := b.stop
	b.lease, b.closed = 0, true
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
	_ = b.cli.Close()
}
