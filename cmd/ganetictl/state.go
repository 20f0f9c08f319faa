package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

// StateCmd inspects the state file.
type StateCmd struct {
	Show    StateShowCmd    `cmd:"" help:"Print the state (secrets masked)."`
	History StateHistoryCmd `cmd:"" help:"List the state's versions."`
	Diff    StateDiffCmd    `cmd:"" help:"Show what changed between two serials."`
	Unlock  StateUnlockCmd  `cmd:"" help:"Break the lock of a dead ganetictl."`
	// In state_import.go and state_rollback.go.
	Import   StateImportCmd   `cmd:"" help:"Take over a Ganeti cluster: import its config.data as the state."`
	Rollback StateRollbackCmd `cmd:"" help:"Make an older serial's content current again (the state only, nodes are not changed)."`
	// In recover.go.
	Pull StatePullCmd `cmd:"" help:"Fetch the newest master candidate's copy of the state."`
	// In state_migrate.go.
	Migrate StateMigrateCmd `cmd:"" help:"Move the state, its history and the journal to another backend (dir, cluster, etcd)."`
	// In state_sanitize.go.
	Sanitize StateSanitizeCmd `cmd:"" help:"The state (or a Ganeti config.data) with secrets and, optionally, names randomised (sanitize-config)."`
}

// StateShowCmd prints the current state or an older serial.
type StateShowCmd struct {
	Serial int64 `help:"Show this serial from history instead of the current state."`
}

func (c *StateShowCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	var st *statefile.State
	if c.Serial > 0 {
		st, err = a.store.ReadSerial(ctx, c.Serial)
	} else {
		st, err = a.readState(ctx)
	}
	if err != nil {
		return err
	}
	return statefile.Write(s.Out, st.Masked())
}

// StateHistoryCmd lists versions.
type StateHistoryCmd struct{}

func (c *StateHistoryCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	hist, err := a.store.History(ctx)
	if err != nil {
		return err
	}
	return a.pr.Result(view.History(hist))
}

// StateDiffCmd compares two serials.
type StateDiffCmd struct {
	A int64 `arg:"" help:"Older serial."`
	B int64 `arg:"" optional:"" help:"Newer serial (default: current)."`
}

func (c *StateDiffCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	render := func(serial int64) ([]string, error) {
		var st *statefile.State
		var err error
		if serial == 0 {
			st, err = a.readState(ctx)
		} else {
			st, err = a.store.ReadSerial(ctx, serial)
		}
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := statefile.Write(&b, st.Masked()); err != nil {
			return nil, err
		}
		return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"), nil
	}
	left, err := render(c.A)
	if err != nil {
		return err
	}
	right, err := render(c.B)
	if err != nil {
		return err
	}
	bName := "current"
	if c.B > 0 {
		bName = strconv.FormatInt(c.B, 10)
	}
	return a.pr.Result(view.StateDiff{From: c.A, To: bName, Diff: lineDiff(left, right)})
}

// lineDiff is a plain LCS line diff: unchanged lines are left out except as
// "@@" markers between changed runs. State files are small enough for O(n*m).
func lineDiff(a, b []string) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	gap := false
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			gap = true
			i, j = i+1, j+1
			continue
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			if gap && len(out) > 0 {
				out = append(out, "@@")
			}
			out = append(out, "+"+b[j])
			j++
		default:
			if gap && len(out) > 0 {
				out = append(out, "@@")
			}
			out = append(out, "-"+a[i])
			i++
		}
		gap = false
	}
	return out
}

// StateUnlockCmd breaks a lock.
type StateUnlockCmd struct {
	Force string `help:"The lock ID to break (shown in the 'state is locked' error)." required:""`
}

func (c *StateUnlockCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.store.ForceUnlock(ctx, c.Force); err != nil {
		return err
	}
	return a.pr.Outcome(view.LockBroken{ID: c.Force})
}
