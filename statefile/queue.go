package statefile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Files of a state directory besides the state, its history, locks and
// journal. They are written atomically, like the state.
const (
	// drainFile marks the job queue as drained (gnt-cluster queue drain):
	// no new job starts; resume and abort of crashed jobs still run.
	drainFile = "queue.drained"
	// appliedFile lists the ids of the saved plans applied with this state,
	// one per line: "ID RFC3339-time".
	appliedFile = "applied-plans"
)

// DrainInfo says who drained the queue, and when.
type DrainInfo struct {
	Who  string    `json:"who"`
	Host string    `json:"host"`
	Time time.Time `json:"time"`
}

// SetDrained drains the job queue: no new job starts until Undrain. Empty
// fields of d are filled in for this process (user, host, the store's
// clock in UTC). The flag is written atomically.
func (s *DirStore) SetDrained(d DrainInfo) error {
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
	return writeAtomic(s.path(drainFile), b, 0o600)
}

// Undrain lets new jobs start again; undraining a queue that is not
// drained does nothing.
func (s *DirStore) Undrain() error {
	err := os.Remove(s.path(drainFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(s.Dir)
}

// Drained reports whether the queue is drained, and by whom. A flag whose
// details are unreadable still drains (with a zero DrainInfo); an error is
// returned only when the flag cannot be read at all.
func (s *DirStore) Drained() (DrainInfo, bool, error) {
	var d DrainInfo
	b, err := os.ReadFile(s.path(drainFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d, false, nil
	case err != nil:
		return d, false, err
	}
	_ = json.Unmarshal(b, &d) // a flag without details still drains
	return d, true, nil
}

// MarkApplied records that the saved plan id was applied at at, by
// rewriting the record atomically with one more line. The caller holds
// the state lock, which makes AppliedAt and MarkApplied one step.
func (s *DirStore) MarkApplied(id string, at time.Time) error {
	if strings.ContainsAny(id, " \n") || id == "" {
		return fmt.Errorf("saved plan id %q: not an id", id)
	}
	old, err := os.ReadFile(s.path(appliedFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	line := fmt.Sprintf("%s %s\n", id, at.UTC().Format(time.RFC3339))
	return writeAtomic(s.path(appliedFile), append(old, line...), 0o600)
}

// AppliedAt reports when the saved plan id was applied, if it was (the
// time is zero when the record has no readable time).
func (s *DirStore) AppliedAt(id string) (time.Time, bool, error) {
	b, err := os.ReadFile(s.path(appliedFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if fid, when, _ := strings.Cut(sc.Text(), " "); fid == id {
			t, _ := time.Parse(time.RFC3339, when)
			return t, true, nil
		}
	}
	return time.Time{}, false, sc.Err()
}

// ReadRaw is the current state file exactly as stored.
func (s *DirStore) ReadRaw(ctx context.Context) ([]byte, error) {
	b, err := os.ReadFile(s.path(StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoState
	}
	return b, err
}

// Retire moves the state aside after `cluster destroy`, kept beside its
// history for the record: the directory then holds no cluster.
func (s *DirStore) Retire(now time.Time) error {
	p := s.path(StateFile)
	if err := os.Rename(p, p+".destroyed-"+now.UTC().Format("20060102T150405Z")); err != nil {
		return err
	}
	return syncDir(s.Dir)
}
