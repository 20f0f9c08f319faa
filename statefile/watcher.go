package statefile

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"time"
)

// Watcher is what the watcher remembers between passes, as Ganeti's
// watcher.data: the restart attempts of instances that are down and the
// boot ID each node had when last seen. It lives in the state, so that it
// is copied to the master candidates with the rest and a watcher run from
// another machine sees it.
type Watcher struct {
	// Instances are the restart records of instances found down, by name.
	Instances map[string]*RestartRecord `json:"instances,omitempty"`
	// BootIDs are the nodes' boot IDs (/proc/sys/kernel/random/boot_id)
	// when the watcher last saw them, by node name.
	BootIDs map[string]string `json:"boot_ids,omitempty"`
}

// RestartRecord counts the watcher's attempts to restart an instance
// found down, and when the last one was.
type RestartRecord struct {
	Count int       `json:"restart_count"`
	When  time.Time `json:"restart_when"`
}

// Clone is a deep copy of w; a nil w gives an empty Watcher.
func (w *Watcher) Clone() *Watcher {
	c := &Watcher{Instances: map[string]*RestartRecord{}, BootIDs: map[string]string{}}
	if w == nil {
		return c
	}
	for k, v := range w.Instances {
		r := *v
		c.Instances[k] = &r
	}
	for k, v := range w.BootIDs {
		c.BootIDs[k] = v
	}
	return c
}

// watcherPauseFile holds the watcher's pause (gnt-cluster watcher pause):
// until its time passes, a watcher pass does nothing.
const watcherPauseFile = "watcher.paused"

// WatcherPause says until when the watcher is paused, and who paused it.
type WatcherPause struct {
	Until time.Time `json:"until"`
	Who   string    `json:"who"`
	Host  string    `json:"host"`
	Time  time.Time `json:"time"` // when it was set
}

// SetWatcherPause pauses the watcher until p.Until. Empty fields are
// filled in for this process (user, host, the store's clock in UTC). The
// flag is written atomically.
func (s *DirStore) SetWatcherPause(p WatcherPause) error {
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
	return writeAtomic(s.path(watcherPauseFile), b, 0o600)
}

// ClearWatcherPause lets the watcher run again; clearing a pause that is
// not set does nothing.
func (s *DirStore) ClearWatcherPause() error {
	err := os.Remove(s.path(watcherPauseFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(s.Dir)
}

// WatcherPaused reports whether the watcher is paused at now, and the
// pause. A pause whose time has passed is no pause (and is left for the
// next SetWatcherPause or ClearWatcherPause); an unreadable flag pauses
// forever, so that a damaged flag errs on the side of doing nothing.
func (s *DirStore) WatcherPaused(now time.Time) (WatcherPause, bool, error) {
	var p WatcherPause
	b, err := os.ReadFile(s.path(watcherPauseFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, false, nil
	case err != nil:
		return p, false, err
	}
	if json.Unmarshal(b, &p) != nil || p.Until.IsZero() {
		return WatcherPause{}, true, nil
	}
	return p, now.Before(p.Until), nil
}
