package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

// StateRollbackCmd makes an older version's content current again, as a new
// version: history keeps everything, including what is rolled back.
type StateRollbackCmd struct {
	Serial int64 `arg:"" help:"The serial to go back to (see 'ganetictl state history')."`
}

// rollbackWarning is shown before every rollback, dry runs included.
const rollbackWarning = "a rollback changes the state file only: nothing on the nodes is changed. " +
	"Whatever was done on the nodes since that serial (instances created, moved or removed, disks replaced) stays, " +
	"and `ganetictl cluster verify` will show the differences between the rolled-back state and the nodes"

func (c *StateRollbackCmd) Run(ctx context.Context, g *Globals) error {
	if g.PlanOut != "" {
		return invalid("state rollback makes no plan to save; use --dry-run to see what it would change")
	}
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	lk, unlock, err := a.lockWhole(ctx, fmt.Sprintf("state rollback %d", c.Serial))
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := a.readState(ctx)
	if err != nil {
		return err
	}
	old, err := a.store.ReadSerial(ctx, c.Serial)
	if errors.Is(err, statefile.ErrUnknownSerial) {
		return invalid("serial %d is not in the history of %s; `ganetictl state history` lists the serials kept", c.Serial, a.store)
	}
	if err != nil {
		return err
	}
	switch {
	case old.Lineage != cur.Lineage:
		return invalid("serial %d belongs to lineage %s, the current state (serial %d) to lineage %s: "+
			"that is another cluster (an earlier `state import` or `cluster init`), and a rollback never crosses lineages",
			c.Serial, old.Lineage, cur.Serial, cur.Lineage)
	case c.Serial == cur.Serial:
		return invalid("serial %d is the current state; nothing to roll back", c.Serial)
	}

	next := old.Clone()
	next.Serial, next.GanetictlVersion = cur.Serial, g.version
	changes := objectChanges(cur, next)
	diff, err := stateLineDiff(cur, next)
	if err != nil {
		return err
	}
	if statefile.Equal(cur, next) {
		return a.pr.Outcome(view.RollbackNoop{DryRun: g.DryRun, Serial: cur.Serial, ToContentOf: c.Serial})
	}
	a.pr.Warning("%s.", rollbackWarning)
	rb := view.RollbackPlan{DryRun: g.DryRun, FromSerial: cur.Serial, ToContentOf: c.Serial, NewSerial: cur.Serial + 1,
		Changes: changes, Diff: diff}
	if g.DryRun {
		return a.pr.Result(rb)
	}
	if err := a.pr.Preview(rb); err != nil {
		return err
	}
	if err := a.confirm(fmt.Sprintf("Roll the state back to serial %d?", c.Serial)); err != nil {
		return err
	}
	serial, err := a.store.Write(ctx, lk, next)
	if err != nil {
		return err
	}
	return a.pr.Result(view.RolledBack{ToContentOf: c.Serial, Serial: serial, Changes: changes})
}

// stateLineDiff is `state diff` between two states, secrets masked.
func stateLineDiff(a, b *statefile.State) ([]string, error) {
	lines := func(st *statefile.State) ([]string, error) {
		var buf bytes.Buffer
		if err := statefile.Write(&buf, st.Masked()); err != nil {
			return nil, err
		}
		return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"), nil
	}
	left, err := lines(a)
	if err != nil {
		return nil, err
	}
	right, err := lines(b)
	if err != nil {
		return nil, err
	}
	return lineDiff(left, right), nil
}

// objectChanges lists, object by object, what turning from into to changes:
// "+ instance web2" (comes back), "- node n4" (goes), "~ instance web1"
// (differs), "~ cluster".
func objectChanges(from, to *statefile.State) []string {
	var out []string
	if !sameJSON(from.Cluster, to.Cluster) {
		out = append(out, "~ cluster")
	}
	out = append(out, mapChanges("node group", from.NodeGroups, to.NodeGroups)...)
	out = append(out, mapChanges("node", from.Nodes, to.Nodes)...)
	out = append(out, mapChanges("instance", from.Instances, to.Instances)...)
	return append(out, mapChanges("network", from.Networks, to.Networks)...)
}

func mapChanges[T any](kind string, from, to map[string]*T) []string {
	var out []string
	names := slices.Sorted(maps.Keys(from))
	for _, n := range slices.Sorted(maps.Keys(to)) {
		if _, ok := from[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		f, inFrom := from[n]
		t, inTo := to[n]
		switch {
		case !inFrom:
			out = append(out, "+ "+kind+" "+n)
		case !inTo:
			out = append(out, "- "+kind+" "+n)
		case !sameJSON(f, t):
			out = append(out, "~ "+kind+" "+n)
		}
	}
	return out
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
