package statefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// WriteNewLineage commits st, a state of another lineage than the current one
// (an imported Ganeti configuration: another cluster as far as ganetictl can
// tell), under the lock l. Write refuses that on purpose; this is the one
// deliberate way past it.
//
// As with Write the current state, if any, is kept in history first. st is
// stored with a serial above every serial kept, current or in history, so
// the versions of both lineages stay in one history and no history file is
// ever overwritten (history left by a destroyed cluster included). On success
// st.Serial, st.FormatVersion and st.GanetictlVersion are what was stored.
func (s *DirStore) WriteNewLineage(ctx context.Context, l *Lock, st *State) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !l.heldBy(s) {
		return 0, fmt.Errorf("write state: %w", ErrNotLocked)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stillOurs(l); err != nil {
		return 0, err
	}
	cur, curBytes, err := s.read()
	if err != nil && !errors.Is(err, ErrNoState) {
		return 0, err
	}
	if st.Lineage == "" {
		return 0, fmt.Errorf("%s: refusing to write a state without lineage", s.path(StateFile))
	}
	top, err := s.highestSerial()
	if err != nil {
		return 0, err
	}
	if cur != nil {
		if cur.Lineage == st.Lineage {
			return 0, fmt.Errorf("%s: the state already has lineage %s; use Write", s.path(StateFile), st.Lineage)
		}
		top = max(top, cur.Serial)
	}
	return s.commitAs(l, st, cur, curBytes, top+1)
}

// highestSerial is the highest serial of a file in history/, 0 if none.
func (s *DirStore) highestSerial() (int64, error) {
	ents, err := os.ReadDir(s.path(HistoryDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("read history: %w", err)
	}
	var top int64
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".json")
		if serial, err := strconv.ParseInt(n, 10, 64); ok && err == nil {
			top = max(top, serial)
		}
	}
	return top, nil
}
