package statefile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestWatcherPause(t *testing.T) {
	s := openDir(t)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return at }
	if _, ok, err := s.WatcherPaused(at); ok || err != nil {
		t.Fatalf("new store: paused %v, %v", ok, err)
	}
	if err := s.ClearWatcherPause(); err != nil {
		t.Errorf("continue an unpaused watcher: %v", err)
	}
	until := at.Add(time.Hour)
	if err := s.SetWatcherPause(statefile.WatcherPause{Until: until, Who: "alice", Host: "ws"}); err != nil {
		t.Fatal(err)
	}
	p, ok, err := s.WatcherPaused(at)
	if !ok || err != nil || !p.Until.Equal(until) || p.Who != "alice" || !p.Time.Equal(at) {
		t.Fatalf("after pause: %+v %v %v", p, ok, err)
	}
	if fi, err := os.Stat(filepath.Join(s.Dir, "watcher.paused")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("flag file: %v", err)
	}
	assertNoTemps(t, s.Dir)
	if _, ok, _ := s.WatcherPaused(until.Add(time.Second)); ok {
		t.Error("a pause whose time passed still pauses")
	}
	if err := s.ClearWatcherPause(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.WatcherPaused(at); ok {
		t.Error("paused after continue")
	}
	// A damaged flag pauses: doing nothing is the safe side.
	if err := os.WriteFile(filepath.Join(s.Dir, "watcher.paused"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WatcherPaused(at); !ok || err != nil {
		t.Errorf("damaged flag: paused %v, %v", ok, err)
	}
}

func TestWatcherLockLevel(t *testing.T) {
	s := openDir(t)
	ctx := context.Background()
	pass := []statefile.LockReq{{Level: statefile.LevelWatcher, Name: "pass", Exclusive: true}}
	first, err := s.LockObjects(ctx, statefile.NewLockInfo("watcher", "test"), pass, statefile.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var le *statefile.ObjectLockedError
	if _, err := s.LockObjects(ctx, statefile.NewLockInfo("watcher", "test"), pass, statefile.LockOptions{}); !errors.As(err, &le) || len(le.Holders) != 1 {
		t.Fatalf("second pass: %v", err)
	}
	// The watcher's lock does not get in other jobs' way.
	other, err := s.LockObjects(ctx, statefile.NewLockInfo("x", "test"), []statefile.LockReq{{Level: statefile.LevelCluster, Exclusive: true}}, statefile.LockOptions{})
	if err != nil {
		t.Fatalf("cluster lock beside a watcher pass: %v", err)
	}
	other.Unlock()
	first.Unlock()
	b, _ := statefile.LockReq{Level: statefile.LevelWatcher, Name: "pass"}.Level.MarshalText()
	if string(b) != "watcher" {
		t.Errorf("level name %q", b)
	}
}

func TestWatcherSectionRoundTrip(t *testing.T) {
	st := statefile.New("lin")
	st.Watcher = &statefile.Watcher{Instances: map[string]*statefile.RestartRecord{"web1": {Count: 2, When: time.Unix(100, 0).UTC()}},
		BootIDs: map[string]string{"node1": "b1"}}
	c := st.Clone()
	if c.Watcher.Instances["web1"].Count != 2 || c.Watcher.BootIDs["node1"] != "b1" {
		t.Fatalf("clone: %+v", c.Watcher)
	}
	w := c.Watcher.Clone()
	w.Instances["web1"].Count = 5
	if c.Watcher.Instances["web1"].Count != 2 {
		t.Error("Watcher.Clone shares records")
	}
	if (*statefile.Watcher)(nil).Clone().Instances == nil {
		t.Error("nil clone has no maps")
	}
}
