package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/etcdstore"
	"github.com/ganetictl/ganetictl/statefile/etcdstore/etcdtest"
	"github.com/ganetictl/ganetictl/statefile/storetest"
)

var prefixes atomic.Int64

func opener(t *testing.T, c *etcdtest.Cluster, ttl time.Duration) storetest.Opener {
	prefix := fmt.Sprintf("/ganetictl-test/%d/", prefixes.Add(1))
	return func() statefile.Backend {
		s, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: c.Endpoints(), Prefix: prefix, LeaseTTL: ttl, LocalDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestConformance runs the backend suite against a 3-member etcd cluster
// on loopback.
func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storetest.TestStore(t, func(t *testing.T) storetest.Opener { return opener(t, c, 0) })
}

// TestLeaderKilledMidCommit kills the leading member while clients
// commit: every commit either happened whole (state, history version and
// entry) or not at all, none is lost once acknowledged, and the serials
// stay gapless.
func TestLeaderKilledMidCommit(t *testing.T) {
	c := etcdtest.Start(t, 3)
	open := opener(t, c, 5*time.Second)
	first := open()
	defer first.Close()
	l, err := first.Lock(t.Context(), statefile.NewLockInfo("init", "test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Write(t.Context(), l, storetest.Sample(statefile.NewLineage())); err != nil {
		t.Fatal(err)
	}
	l.Unlock()

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		s := open()
		defer s.Close()
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tag := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				l, err := s.Lock(ctx, statefile.NewLockInfo("tag "+tag, "test"))
				if err == nil {
					var st *statefile.State
					if st, err = s.Read(ctx); err == nil {
						st.Cluster.Tags = append(st.Cluster.Tags, tag)
						_, err = s.Write(ctx, l, st)
					}
					l.Unlock()
				}
				cancel()
				if err == nil {
					mu.Lock()
					acked[tag] = true
					mu.Unlock()
				}
			}
		})
	}
	for range 2 {
		time.Sleep(300 * time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		leader, err := c.Leader(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.Kill(leader)
		time.Sleep(1500 * time.Millisecond)
		c.Restart(leader)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	st, err := first.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tag := range st.Cluster.Tags {
		have[tag] = true
	}
	for tag := range acked {
		if !have[tag] {
			t.Errorf("acknowledged commit %s is not in the state", tag)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no commit went through")
	}
	// Whole or nothing: serials gapless, each in history with its entry,
	// each one tag more than the one before.
	hist, err := first.History(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(hist)) != st.Serial {
		t.Fatalf("history has %d versions, the state is serial %d", len(hist), st.Serial)
	}
	prev := -1
	for i, e := range hist {
		v, err := first.ReadSerial(t.Context(), e.Serial)
		if err != nil || e.Serial != int64(i+1) || e.Operation == "unknown" {
			t.Fatalf("serial %d: %+v %v", i+1, e, err)
		}
		if prev >= 0 && len(v.Cluster.Tags) != prev+1 {
			t.Fatalf("serial %d has %d tags after %d: a half commit", e.Serial, len(v.Cluster.Tags), prev)
		}
		prev = len(v.Cluster.Tags)
	}
	t.Logf("%d commits acknowledged, state serial %d", len(acked), st.Serial)
}

// TestLeaseExpires: a holder that stops keeping its lease alive (as a
// killed process) loses its locks within the TTL; its holder record, and
// with it a crashed job's claim, stays.
func TestLeaseExpires(t *testing.T) {
	c := etcdtest.Start(t, 3)
	const ttl = 2 * time.Second
	open := opener(t, c, ttl)
	a, b := open(), open()
	defer b.Close()
	req := []statefile.LockReq{{Level: statefile.LevelInstance, Name: "web1", Exclusive: true}}
	if _, err := a.LockObjects(t.Context(), statefile.NewLockInfo("holder", "test"), req, statefile.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	// The holder "dies": its client goes away without revoking the lease.
	cli := c.Client()
	leases, err := cli.Leases(t.Context())
	if err != nil || len(leases.Leases) == 0 {
		t.Fatalf("leases: %v %v", leases, err)
	}
	aStore := a.(*etcdstore.Store)
	aStore.Abandon()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 3*ttl)
	defer cancel()
	ol, err := b.LockObjects(ctx, statefile.NewLockInfo("next", "test"), req, statefile.LockOptions{})
	if err != nil {
		t.Fatalf("the lock of a dead holder did not expire: %v", err)
	}
	ol.Unlock()
	if d := time.Since(start); d > 2*ttl {
		t.Errorf("took %v, TTL %v", d, ttl)
	}
	var oe *statefile.ObjectLockedError
	if errors.As(err, &oe) {
		t.Fatal(err)
	}
}

// TestTLSAndAuth: TLS with a client certificate and a user with a
// password; a wrong password is refused without the password in the error.
func TestTLSAndAuth(t *testing.T) {
	c := etcdtest.StartTLS(t, 1)
	c.EnableAuth(t.Context(), "right-password")
	cfg := etcdstore.Config{Endpoints: c.Endpoints(), Prefix: "/tls/", CAFile: c.TLS.CA, CertFile: c.TLS.ClientCert, KeyFile: c.TLS.ClientKey,
		User: "root", Password: "right-password", LocalDir: t.TempDir()}
	s, err := etcdstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Lock(t.Context(), statefile.NewLockInfo("init", "test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(t.Context(), l, storetest.Sample(statefile.NewLineage())); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	cfg.Password = "wrong-password-xyz"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	bad, err := etcdstore.Open(ctx, cfg)
	if err == nil {
		_, err = bad.Read(ctx)
		bad.Close()
	}
	if err == nil || strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Errorf("wrong password: err = %v, want a refusal without the password", err)
	}
	cfg.Password, cfg.CertFile, cfg.KeyFile = "right-password", "", ""
	nocert, err := etcdstore.Open(ctx, cfg)
	if err == nil {
		_, err = nocert.Read(ctx)
		nocert.Close()
	}
	if err == nil {
		t.Errorf("a client without certificate was served")
	}
}
