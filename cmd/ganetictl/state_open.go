package main

import (
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/statefile"
)

// openStore is open without the SSH pool, for the state commands that never
// reach a node (import, rollback): they work without SSH credentials, e.g.
// on a workstation preparing a takeover.
func (g *Globals) openStore() (*app, error) {
	inv, err := inventory.Load(g.Inventory)
	if err != nil {
		return nil, &invalidError{err}
	}
	dir := g.StateDir
	if dir == "" {
		dir = inv.State.Dir
	}
	store, err := statefile.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	return &app{g: g, s: g.streams, inv: inv, store: store}, nil
}
