package main

import (
	"context"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/statefile"
)

// openStore is open without the SSH pool, for the commands that never
// reach a node (state import and rollback, the journal, the queue): they
// work without SSH credentials, e.g. on a workstation preparing a takeover.
func (g *Globals) openStore() (*app, error) {
	inv, err := inventory.Load(g.Inventory) // also validates
	if err != nil {
		return nil, &invalidError{err}
	}
	a := &app{g: g, s: g.streams, pr: view.Printer{Streams: g.streams, JSON: g.JSON}, inv: inv}
	// The backend the inventory names ([state] backend; see backend.go).
	store, err := a.openBackend(context.Background(), "", g.stateDir(inv))
	if err != nil {
		a.close()
		return nil, err
	}
	a.store = store
	a.engine()
	return a, nil
}

// openJournal is openStore and the state directory's journal.
func (g *Globals) openJournal() (*app, *statefile.Journal, error) {
	a, err := g.openStore()
	if err != nil {
		return nil, nil, err
	}
	j, err := a.store.Journal()
	if err != nil {
		a.close()
		return nil, nil, err
	}
	return a, j, nil
}

// openStateOnly is openStore and the state, for the commands that only
// read the state (no node is asked).
func (g *Globals) openStateOnly(ctx context.Context) (*app, *statefile.State, error) {
	a, err := g.openStore()
	if err != nil {
		return nil, nil, err
	}
	st, err := a.readState(ctx)
	return a, st, err
}
