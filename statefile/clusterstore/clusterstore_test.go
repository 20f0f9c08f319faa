package clusterstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/clusterstore"
	"github.com/ganetictl/ganetictl/statefile/storetest"
)

func dial(t *testing.T, srv *remotetest.Server, name string) *remote.SSH {
	t.Helper()
	s, err := remote.Dial(t.Context(), srv.Config(), srv.Target(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var roots atomic.Int64

// TestConformance runs the backend suite against the in-process SSH
// server: each client has its own SSH connection and lock session.
func TestConformance(t *testing.T) {
	srv := remotetest.NewServer(t)
	storetest.TestStore(t, func(t *testing.T) storetest.Opener {
		root := filepath.Join(srv.Dir(), fmt.Sprintf("store-%d", roots.Add(1)))
		return func() statefile.Backend {
			s, err := clusterstore.Open(t.Context(), clusterstore.Config{Node: "node1", Runner: dial(t, srv, "node1"), Root: root, TTL: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestSessionEndReleasesLocks: a workstation whose lock session ends (its
// process killed, its link cut) loses its locks at once; its holder
// record stays.
func TestSessionEndReleasesLocks(t *testing.T) {
	srv := remotetest.NewServer(t)
	root := filepath.Join(srv.Dir(), "store")
	open := func() *clusterstore.Store {
		s, err := clusterstore.Open(t.Context(), clusterstore.Config{Node: "node1", Runner: dial(t, srv, "node1"), Root: root, TTL: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	req := []statefile.LockReq{{Level: statefile.LevelInstance, Name: "web1", Exclusive: true}}
	if _, err := a.LockObjects(t.Context(), statefile.NewLockInfo("holder", "test"), req, statefile.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LockObjects(t.Context(), statefile.NewLockInfo("other", "test"), req, statefile.LockOptions{}); err == nil {
		t.Fatal("a held lock was given twice")
	}
	a.Abandon()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ol, err := b.LockObjects(ctx, statefile.NewLockInfo("other", "test"), req, statefile.LockOptions{})
	if err != nil {
		t.Fatalf("the lock of an ended session was not released: %v", err)
	}
	ol.Unlock()
	if ents, _ := os.ReadDir(filepath.Join(root, "locks", "holders")); len(ents) != 1 {
		t.Errorf("holder records: %d, want the dead holder's", len(ents))
	}
}

// TestFailoverMovesStore: the commit that makes node2 the master moves
// the store there; the old copy redirects and refuses commits.
func TestFailoverMovesStore(t *testing.T) {
	n1, n2 := remotetest.NewServer(t), remotetest.NewServer(t)
	root1, root2 := filepath.Join(n1.Dir(), "store"), filepath.Join(n2.Dir(), "store")
	r1, r2 := dial(t, n1, "node1"), dial(t, n2, "node2")
	runners := func(_ context.Context, node string) (remote.Runner, error) {
		if node == "node2" {
			return r2, nil
		}
		return r1, nil
	}
	// A relative root is below each server's own directory: the same
	// path on two nodes, as on a cluster.
	s, err := clusterstore.Open(t.Context(), clusterstore.Config{Node: "node1", Runner: r1, Runners: runners, Root: "store"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := storetest.Sample(statefile.NewLineage())
	l, err := s.Lock(t.Context(), statefile.NewLockInfo("cluster init", "test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	st.Cluster.MasterNode = "node2"
	_, err = s.Write(t.Context(), l, st)
	l.Unlock()
	if err != nil {
		t.Fatalf("failover commit: %v", err)
	}
	if s.Node() != "node2" {
		t.Fatalf("store on %s after failover, want node2", s.Node())
	}
	moved, err := os.ReadFile(filepath.Join(root1, "moved"))
	if err != nil || strings.TrimSpace(string(moved)) != "node2" {
		t.Fatalf("moved marker: %q %v", moved, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root2, "history", "1.json")); len(b) == 0 {
		t.Error("history did not move")
	}
	// A client still on node1 cannot commit there.
	old, err := clusterstore.Open(t.Context(), clusterstore.Config{Node: "node1", Runner: dial(t, n1, "node1"), Root: "store"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	l2, err := old.Lock(t.Context(), statefile.NewLockInfo("late", "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock()
	cur, _ := old.Read(t.Context())
	cur.Cluster.Tags = append(cur.Cluster.Tags, "late")
	if _, err := old.Write(t.Context(), l2, cur); err == nil || !errors.Is(err, statefile.ErrStateMoved) && !strings.Contains(err.Error(), "moved to node2") {
		t.Errorf("commit on the old master: err = %v, want a refusal naming node2", err)
	}
	// The new master's copy is the current state, with the history.
	ns, err := clusterstore.Open(t.Context(), clusterstore.Config{Node: "node2", Runner: r2, Root: "store"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if cur, err := ns.Read(t.Context()); err != nil || cur.Serial != 2 || cur.Cluster.MasterNode != "node2" {
		t.Errorf("state on node2: %v %v", cur, err)
	}
	if h, err := ns.History(t.Context()); err != nil || len(h) != 2 || h[0].Operation != "cluster init" {
		t.Errorf("history on node2: %+v %v", h, err)
	}
}
