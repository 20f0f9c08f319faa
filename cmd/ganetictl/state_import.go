package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ganetictl/ganetictl/ganeticonfig"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

// StateImportCmd takes over a Ganeti cluster from its config.data.
type StateImportCmd struct {
	File  string `arg:"" type:"path" help:"Ganeti's config.data, copied from the master node (/var/lib/ganeti/config.data)."`
	Force bool   `help:"Import although a state exists: the import becomes the new current version, of a new lineage (another cluster); the old versions stay in history."`
}

func (c *StateImportCmd) Run(ctx context.Context, g *Globals) error {
	if g.PlanOut != "" {
		return invalid("state import makes no plan to save; use --dry-run to see what it would import")
	}
	data, err := os.ReadFile(c.File)
	if err != nil {
		return invalid("read Ganeti config: %v", err)
	}
	res, err := ganeticonfig.Convert(data, ganeticonfig.Options{})
	if err != nil {
		return invalid("%s: %w", c.File, err)
	}
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	st := res.State
	st.GanetictlVersion = g.version
	warnings := append(res.Warnings, inventoryMismatches(a, st)...)

	lk, unlock, err := a.lockWhole(ctx, "state import "+c.File)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := a.store.Read(ctx)
	switch {
	case errors.Is(err, statefile.ErrNoState):
		cur = nil
	case err != nil:
		return err
	case !c.Force:
		return invalid("%s already holds the state of cluster %s (serial %d, lineage %s). An import starts a new lineage: "+
			"to ganetictl it is another cluster, and saved plans and rollbacks of the old state no longer apply to it. "+
			"Re-run with --force to import on top (the old versions stay in history), or use an empty --state-dir",
			a.store, cur.Cluster.Name, cur.Serial, cur.Lineage)
	default:
		warnings = append(warnings, fmt.Sprintf("replacing the state of cluster %s (serial %d, lineage %s) with a new lineage: "+
			"its versions stay in history (`ganetictl state history`), but `state rollback` cannot go back across lineages",
			cur.Cluster.Name, cur.Serial, cur.Lineage))
	}

	if !g.DryRun {
		if _, err := a.store.WriteNewLineage(ctx, lk, st); err != nil {
			return err
		}
	}
	for _, w := range warnings {
		a.pr.Warning("%s", w)
	}
	out := view.StateImport{DryRun: g.DryRun, GanetiVersion: res.Version, GanetiSerial: res.Serial,
		Summary: view.StateSummary(st), Warnings: warnings}
	if !g.DryRun {
		out.Serial, out.Lineage = st.Serial, st.Lineage
	}
	return a.pr.Result(out)
}

// inventoryMismatches names the imported nodes ganetictl cannot reach, since
// SSH addresses come from the inventory, and a differing cluster name.
func inventoryMismatches(a *app, st *statefile.State) []string {
	var out []string
	if a.inv.Cluster.Name != "" && a.inv.Cluster.Name != st.Cluster.Name {
		out = append(out, fmt.Sprintf("the inventory %s names the cluster %s, the Ganeti config %s", a.inv.Path, a.inv.Cluster.Name, st.Cluster.Name))
	}
	for _, name := range st.NodeNames() {
		if _, ok := a.inv.Node(name); !ok {
			out = append(out, fmt.Sprintf("node %s is not in the inventory %s: add it under [[nodes]] so ganetictl can reach it", name, a.inv.Path))
		}
	}
	return out
}
