package statefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Install makes data (a state file as another copy holds it: a master
// candidate's replica) the current state as it is, serial and lineage
// included, byte for byte. The state it replaces, if any, goes to the
// history first, as with Write. It is how `state pull` and `cluster
// recover` take a copy; the checks of lineage and serial are the
// caller's, because overriding them is the point of --force.
//
// It refuses when the history already holds another version under the
// copy's serial: the next Write would have to overwrite it.
func (s *DirStore) Install(ctx context.Context, l *Lock, data []byte, operation string) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !l.heldBy(s) {
		return nil, fmt.Errorf("install state: %w", ErrNotLocked)
	}
	st, err := decode(data)
	if err != nil {
		return nil, err
	}
	if st.Lineage == "" {
		return nil, fmt.Errorf("install state: the copy has no lineage")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stillOurs(l); err != nil {
		return nil, err
	}
	hp := s.path(HistoryDir, strconv.FormatInt(st.Serial, 10)+".json")
	if old, err := os.ReadFile(hp); err == nil && !bytes.Equal(old, data) {
		return nil, fmt.Errorf("install state: %s holds another version of serial %d; move the state directory aside first", hp, st.Serial)
	}
	_, curBytes, err := s.read()
	switch {
	case err == nil:
		cur, derr := decode(curBytes)
		if derr == nil && cur.Serial != st.Serial {
			if err := s.saveHistory(cur.Serial, curBytes); err != nil {
				return nil, err
			}
		} else if derr == nil && !bytes.Equal(curBytes, data) {
			if err := writeAtomic(s.path(StateFile+".replaced-"+strconv.FormatInt(cur.Serial, 10)), curBytes, 0o600); err != nil {
				return nil, err
			}
		}
	case !isNoState(err) && !isDecodeErr(err):
		return nil, err
	}
	if err := writeAtomic(s.path(StateFile), data, 0o600); err != nil {
		return nil, fmt.Errorf("install state: %w", err)
	}
	if err := os.MkdirAll(s.path(HistoryDir), 0o700); err != nil {
		return nil, err
	}
	e := HistoryEntry{Serial: st.Serial, Time: s.now().UTC(), Operation: operation,
		Who: l.Info.Who, Host: l.Info.Host, LockID: l.Info.ID}
	if err := s.appendIndex(e); err != nil {
		return st, fmt.Errorf("state installed as serial %d, but recording it in the history index failed: %w", st.Serial, err)
	}
	return st, nil
}

func isNoState(err error) bool { return errors.Is(err, ErrNoState) }
