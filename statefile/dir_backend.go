package statefile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// Close implements [Backend]: a directory holds no connection.
func (s *DirStore) Close() error { return nil }

// rawSerial is the version with that serial exactly as stored.
func (s *DirStore) rawSerial(serial int64) ([]byte, error) {
	if cur, b, err := s.read(); err == nil && cur.Serial == serial {
		return b, nil
	}
	b, err := os.ReadFile(s.path(HistoryDir, strconv.FormatInt(serial, 10)+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrUnknownSerial
	}
	return b, err
}

// Export implements [Backend].
func (s *DirStore) Export(ctx context.Context) (*Dump, error) {
	d := &Dump{}
	var err error
	if d.Versions, err = exportVersions(ctx, s, s.rawSerial); err != nil {
		return nil, err
	}
	j, err := s.Journal()
	if err != nil {
		return nil, err
	}
	if d.Jobs, d.Archived, err = j.export(ctx); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path(appliedFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	d.Applied = parseApplied(b)
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

// parseApplied reads the applied-plans record: "ID RFC3339-time" lines.
func parseApplied(b []byte) []Applied {
	var out []Applied
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		id, when, _ := strings.Cut(sc.Text(), " ")
		if id == "" {
			continue
		}
		t, _ := time.Parse(time.RFC3339, when)
		out = append(out, Applied{ID: id, At: t})
	}
	return out
}

// Import implements [Backend]: the versions become history files and the
// current state, with their index entries; then the journal, the applied
// plans and the drain flag.
func (s *DirStore) Import(ctx context.Context, l *Lock, d *Dump) error {
	if !l.heldBy(s) {
		return fmt.Errorf("import: %w", ErrNotLocked)
	}
	if err := checkDump(d); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.read(); !errors.Is(err, ErrNoState) {
		return fmt.Errorf("import into %s: %w", s.Dir, ErrNotEmpty)
	}
	for i, v := range d.Versions {
		if i == len(d.Versions)-1 {
			if err := writeAtomic(s.path(StateFile), v.Data, 0o600); err != nil {
				return err
			}
		} else if err := s.saveHistory(v.Entry.Serial, v.Data); err != nil {
			return err
		}
		if err := s.appendIndex(v.Entry); err != nil {
			return err
		}
	}
	j, err := s.Journal()
	if err != nil {
		return err
	}
	if err := j.load(ctx, d.Jobs, d.Archived); err != nil {
		return err
	}
	if len(d.Applied) > 0 {
		var b bytes.Buffer
		for _, a := range d.Applied {
			fmt.Fprintf(&b, "%s %s\n", a.ID, a.At.UTC().Format(time.RFC3339))
		}
		if err := writeAtomic(s.path(appliedFile), b.Bytes(), 0o600); err != nil {
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
