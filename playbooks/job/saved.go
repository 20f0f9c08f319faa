package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// SavedFormatVersion versions the saved-plan file around the plan itself.
const SavedFormatVersion = 1

// Saved is the file --plan-out writes: the plan (its fields at the top
// level: format_version, state_lineage, state_serial, stages, changes), a
// random id by which ApplySaved refuses to carry it out twice, and the
// facts the planner relied on, checked again before applying. DRBD
// secrets are not in it as values: they are resolved from the state and
// the plan's changes when it is applied.
type Saved struct {
	*plan.Plan
	SavedVersion int       `json:"saved_plan_version"`
	ID           string    `json:"id"`
	Created      time.Time `json:"created"`
	Command      []string  `json:"command,omitempty"`
	Ganetictl    string    `json:"ganetictl_version"`
	// FactParts are the fact parts gathered (nil: all); Facts what they said.
	FactParts []string    `json:"fact_parts"`
	Facts     []FactCheck `json:"facts"`
}

// FactCheck is what a saved plan records of one node's facts, to compare
// with the node when the plan is applied:
//   - reachable: the node must still answer;
//   - running (when the running part was gathered): exactly the same
//     instances must run there (instance status);
//   - vg_free_mib (when the VG was gathered): must not have shrunk (the
//     capacity checks of disk creation and growth used it);
//   - mem_free_mib: must not have dropped by more than the tolerance
//     (max(256 MiB, 10 %)), as it moves by itself (the memory check of
//     instance start used it);
//   - file_free_mib: free space of the file storage directory, same rule
//     as memory.
type FactCheck struct {
	Node           string   `json:"node"`
	Reachable      bool     `json:"reachable"`
	RunningChecked bool     `json:"running_checked"`
	Running        []string `json:"running,omitempty"`
	VGFree         *int64   `json:"vg_free_mib,omitempty"`
	MemFree        int64    `json:"mem_free_mib"`
	FileFree       *int64   `json:"file_free_mib,omitempty"`
}

// NewSaved is the saved form of pl, made by command.
func (e *Engine) NewSaved(pl *Planned, command []string) *Saved {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return &Saved{Plan: pl.Plan, SavedVersion: SavedFormatVersion, ID: hex.EncodeToString(b), Created: e.now().UTC(),
		Command: command, Ganetictl: e.Version, FactParts: pl.Parts, Facts: recordFacts(pl.Parts, pl.Facts)}
}

// WriteFile writes s to path, atomically. The plan's state changes hold
// what the state will hold (DRBD secrets of new disks included): the file
// is private, like the state.
func (s *Saved) WriteFile(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadSaved reads a saved plan.
func LoadSaved(path string) (*Saved, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sp := &Saved{}
	if err := json.Unmarshal(data, sp); err != nil {
		return nil, inputf("%s: not a saved plan: %v", path, err)
	}
	switch {
	case sp.Plan == nil || sp.ID == "":
		return nil, inputf("%s: not a saved plan (no id or plan)", path)
	case sp.FormatVersion != plan.FormatVersion || sp.SavedVersion != SavedFormatVersion:
		return nil, inputf("%s: plan format %d/%d, this ganetictl reads %d/%d: make the plan again", path, sp.FormatVersion, sp.SavedVersion, plan.FormatVersion, SavedFormatVersion)
	case sp.StateLineage == "":
		return nil, inputf("%s: the plan names no state lineage", path)
	}
	return sp, nil
}

// RefusedError refuses a saved plan that no longer applies (as stale).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// ApplySaved carries out a saved plan once, under its locks, after
// checking that it was not applied before, that the state is the one it
// was made from, and that the facts it relied on still hold.
func (e *Engine) ApplySaved(ctx context.Context, sp *Saved) (*Outcome, error) {
	if err := e.Admit(); err != nil {
		return nil, err
	}
	label := "apply " + sp.Operation
	ol, _, err := e.Lock(ctx, label, Locks(sp.Plan), 0)
	if err != nil {
		return nil, err
	}
	defer ol.Unlock()
	// The state lock makes "not applied yet" and "now applied" one step.
	lctx, cancel := context.WithTimeout(ctx, stateLockWait)
	defer cancel()
	lk, err := e.Store.Lock(lctx, statefile.NewLockInfo(label, e.Version))
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	when, done, err := e.Store.AppliedAt(sp.ID)
	if err != nil {
		return nil, err
	}
	if done {
		return nil, &RefusedError{fmt.Sprintf("plan %s (%s) was already applied at %s: a saved plan is carried out once; make a new plan",
			sp.ID, sp.Operation, when.Format(time.RFC3339))}
	}
	st, err := e.Store.Read(ctx)
	switch {
	case errors.Is(err, statefile.ErrNoState):
		if sp.StateSerial != 0 {
			return nil, &RefusedError{fmt.Sprintf("plan was made for state lineage %s serial %d, but there is no state in %s", sp.StateLineage, sp.StateSerial, e.Store)}
		}
		st = statefile.New(sp.StateLineage) // a plan made with no state (cluster init) names the new lineage
	case err != nil:
		return nil, err
	}
	if err := sp.CheckFresh(st.Lineage, st.Serial); err != nil {
		return nil, err
	}
	if len(sp.Facts) > 0 {
		var nodes []string
		for _, fc := range sp.Facts {
			nodes = append(nodes, fc.Node)
		}
		if why := compareFacts(sp.Facts, e.Gather(ctx, st, nodes, sp.FactParts...)); len(why) > 0 {
			return nil, &RefusedError{fmt.Sprintf("plan %s is stale: the facts it was made from no longer hold: %s; make the plan again", sp.ID, strings.Join(why, "; "))}
		}
	}
	secrets, err := PlanSecrets(sp.Plan, st)
	if err != nil {
		return nil, err
	}
	sp.SetSecrets(secrets)
	if err := e.Store.MarkApplied(sp.ID, e.now()); err != nil {
		return nil, fmt.Errorf("record the plan as applied: %w", err)
	}
	lk.Unlock() // the commit takes it again
	return e.execute(ctx, label, sp.Plan, ol)
}

// recordFacts makes the fact checks of a plan made from facts gathered with parts.
func recordFacts(parts []string, facts map[string]*playbooks.NodeFacts) []FactCheck {
	running := parts == nil || slices.Contains(parts, playbooks.PartRunning)
	vg := parts == nil || slices.Contains(parts, playbooks.PartVGs)
	out := []FactCheck{}
	for _, n := range sortedNames(facts) {
		f := facts[n]
		fc := FactCheck{Node: n, Reachable: f.Reachable}
		if f.Reachable {
			fc.MemFree = f.MemFree
			if running {
				fc.RunningChecked = true
				fc.Running = sortedNames(f.Running)
			}
			if vg && f.VG != nil {
				v := int64(f.VG.Free)
				fc.VGFree = &v
			}
			if f.DiskTotal > 0 {
				v := f.DiskFree
				fc.FileFree = &v
			}
		}
		out = append(out, fc)
	}
	return out
}

// compareFacts lists the facts that no longer hold, one sentence each.
func compareFacts(saved []FactCheck, now map[string]*playbooks.NodeFacts) []string {
	var out []string
	drop := func(was, is int64) bool { return is < was-max(256, was/10) }
	for _, fc := range saved {
		f := now[fc.Node]
		if f == nil || !f.Reachable {
			if fc.Reachable {
				out = append(out, fmt.Sprintf("node %s no longer answers", fc.Node))
			}
			continue
		}
		if !fc.Reachable {
			out = append(out, fmt.Sprintf("node %s answers now but did not when the plan was made", fc.Node))
			continue
		}
		if fc.RunningChecked {
			if is := sortedNames(f.Running); !slices.Equal(is, fc.Running) && !(len(is) == 0 && len(fc.Running) == 0) {
				out = append(out, fmt.Sprintf("instances running on %s changed: [%s] then, [%s] now", fc.Node, strings.Join(fc.Running, " "), strings.Join(is, " ")))
			}
		}
		if fc.VGFree != nil && f.VG != nil && int64(f.VG.Free) < *fc.VGFree {
			out = append(out, fmt.Sprintf("free space of volume group on %s shrank: %d MiB then, %d MiB now", fc.Node, *fc.VGFree, int64(f.VG.Free)))
		}
		if drop(fc.MemFree, f.MemFree) {
			out = append(out, fmt.Sprintf("free memory on %s dropped: %d MiB then, %d MiB now", fc.Node, fc.MemFree, f.MemFree))
		}
		if fc.FileFree != nil && drop(*fc.FileFree, f.DiskFree) {
			out = append(out, fmt.Sprintf("free file storage on %s dropped: %d MiB then, %d MiB now", fc.Node, *fc.FileFree, f.DiskFree))
		}
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
