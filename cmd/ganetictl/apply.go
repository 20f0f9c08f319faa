package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/desired"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// SavedFormatVersion versions the saved-plan file around the plan itself.
const SavedFormatVersion = 1

// savedPlan is the file --plan-out writes: the plan (its fields at the top
// level: format_version, state_lineage, state_serial, stages, changes), a
// random id by which `apply FILE` refuses to carry it out twice, and the
// facts the planner relied on, re-checked before applying. DRBD secrets are
// not in it as values: they are resolved from the state and the plan's
// changes when it is applied.
type savedPlan struct {
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

// usedFacts are the facts a plan was made from.
type usedFacts struct {
	parts []string
	facts map[string]*playbooks.NodeFacts
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

// savePlan writes p (made from a.used's facts) to --plan-out and changes nothing.
func (a *app) savePlan(p *plan.Plan) error {
	sp := &savedPlan{Plan: p, SavedVersion: SavedFormatVersion, ID: hex.EncodeToString(randomBytes(16)), Created: time.Now().UTC(),
		Command: os.Args[1:], Ganetictl: a.g.version, Facts: []FactCheck{}}
	if a.used != nil {
		sp.FactParts, sp.Facts = a.used.parts, recordFacts(a.used.parts, a.used.facts)
	}
	data, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	path := a.g.PlanOut
	tmp := path + ".tmp"
	// The plan's state changes hold what the state will hold (DRBD secrets
	// of new disks included): the file is private, like the state.
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if a.g.JSON {
		return view.PlanJSON(a.s.Out, p)
	}
	if err := view.RenderPlan(a.s.Out, p); err != nil {
		return err
	}
	fmt.Fprintf(a.s.Err, "Saved the plan to %s (id %s); carry it out with `ganetictl apply %s`.\n", path, sp.ID, path)
	return nil
}

func loadSavedPlan(path string) (*savedPlan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sp := &savedPlan{}
	if err := json.Unmarshal(data, sp); err != nil {
		return nil, invalid("%s: not a saved plan: %v", path, err)
	}
	switch {
	case sp.Plan == nil || sp.ID == "":
		return nil, invalid("%s: not a saved plan (no id or plan)", path)
	case sp.FormatVersion != plan.FormatVersion || sp.SavedVersion != SavedFormatVersion:
		return nil, invalid("%s: plan format %d/%d, this ganetictl reads %d/%d", path, sp.FormatVersion, sp.SavedVersion, plan.FormatVersion, SavedFormatVersion)
	case sp.StateLineage == "":
		return nil, invalid("%s: the plan names no state lineage", path)
	}
	return sp, nil
}

// refusedError refuses a saved plan that no longer applies (exit 12, like
// a stale plan).
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) ExitCode() int { return exitStale }

// appliedFile lists, one per line, the ids of the saved plans applied with
// this state directory: "ID RFC3339-time".
const appliedFile = "applied-plans"

func (a *app) appliedAt(id string) (string, bool) {
	f, err := os.Open(filepath.Join(a.store.Dir, appliedFile))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fid, when, _ := strings.Cut(sc.Text(), " "); fid == id {
			return when, true
		}
	}
	return "", false
}

func (a *app) markApplied(id string) error {
	f, err := os.OpenFile(filepath.Join(a.store.Dir, appliedFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", id, time.Now().UTC().Format(time.RFC3339)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// applySaved carries out a saved plan once, under the lock, after checking
// it was not applied before, that the state is the one it was made from,
// and that the facts it relied on still hold.
func (a *app) applySaved(ctx context.Context, path string) error {
	sp, err := loadSavedPlan(path)
	if err != nil {
		return err
	}
	if err := a.checkQueue(); err != nil {
		return err
	}
	ol, _, err := a.lockObjects(ctx, "apply "+sp.Operation, planLocks(sp.Plan), 0)
	if err != nil {
		return err
	}
	defer ol.Unlock()
	// The state lock makes "not applied yet" and "now applied" one step.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lk, err := a.store.Lock(lctx, statefile.NewLockInfo("apply "+sp.Operation, a.g.version))
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if when, done := a.appliedAt(sp.ID); done {
		return &refusedError{fmt.Sprintf("plan %s (%s) was already applied at %s: a saved plan is carried out once; make a new plan", sp.ID, sp.Operation, when)}
	}
	st, err := a.store.Read(ctx)
	switch {
	case errors.Is(err, statefile.ErrNoState):
		if sp.StateSerial != 0 {
			return &refusedError{fmt.Sprintf("plan was made for state lineage %s serial %d, but there is no state in %s", sp.StateLineage, sp.StateSerial, a.store)}
		}
		st = statefile.New(sp.StateLineage) // a plan made with no state (cluster init) names the new lineage
	case err != nil:
		return err
	}
	if err := sp.CheckFresh(st.Lineage, st.Serial); err != nil {
		return err
	}
	if len(sp.Facts) > 0 {
		var nodes []string
		for _, fc := range sp.Facts {
			nodes = append(nodes, fc.Node)
		}
		var gst *statefile.State
		if st.Cluster.Name != "" {
			gst = st
		}
		if why := compareFacts(sp.Facts, a.gather(ctx, gst, nodes, sp.FactParts...)); len(why) > 0 {
			return &refusedError{fmt.Sprintf("plan %s is stale: the facts it was made from no longer hold: %s; make the plan again", sp.ID, strings.Join(why, "; "))}
		}
	}
	secrets, err := planSecrets(sp.Plan, st)
	if err != nil {
		return err
	}
	sp.SetSecrets(secrets)
	if err := a.markApplied(sp.ID); err != nil {
		return fmt.Errorf("record the plan as applied: %w", err)
	}
	lk.Unlock() // the commit takes it again
	return a.execute(ctx, sp.Plan, st, ol)
}

// planSecrets resolves a loaded plan's DRBD secrets from the state and from
// the instances its changes create or modify.
func planSecrets(p *plan.Plan, st *statefile.State) (map[string]string, error) {
	var disks []*statefile.Disk
	for _, i := range st.Instances {
		disks = append(disks, i.Disks...)
	}
	for _, c := range p.Changes {
		if c.Kind != plan.KindInstance || len(c.After) == 0 {
			continue
		}
		var inst statefile.Instance
		if err := json.Unmarshal(c.After, &inst); err != nil {
			return nil, invalid("plan change %s: %v", c.Name, err)
		}
		disks = append(disks, inst.Disks...)
	}
	return storage.DRBDSecrets(disks), nil
}

// silentError is an error already reported (as a JSON event): main exits
// with its code and prints nothing more.
type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }
func (e *silentError) Silent() bool  { return true }

// changesError is --detailed-exitcode's "changes pending" (exit 2).
type changesError struct{}

func (changesError) Error() string { return "changes pending" }
func (changesError) ExitCode() int { return exitChanges }
func (changesError) Silent() bool  { return true }

// ApplyCmd carries out a saved plan, or makes the cluster match a desired-state file.
type ApplyCmd struct {
	File             string        `short:"f" name:"file" type:"path" help:"Desired-state TOML file (see examples/desired.toml)."`
	AllowDestroy     bool          `name:"allow-destroy" help:"Allow removing (and recreating) instances."`
	DetailedExitcode bool          `name:"detailed-exitcode" help:"Exit 0 when nothing changed, 2 when changes were applied."`
	ShutdownTimeout  time.Duration `name:"shutdown-timeout" default:"2m" help:"Wait this long for instances to stop cleanly."`
	PlanFile         string        `arg:"" optional:"" type:"path" help:"A plan saved with --plan-out."`
}

func (c *ApplyCmd) Run(ctx context.Context, g *Globals) error {
	if (c.File == "") == (c.PlanFile == "") {
		return invalid("apply takes either a saved plan FILE or -f DESIRED.toml")
	}
	if g.DryRun || g.PlanOut != "" {
		return invalid("apply does not take --dry-run or --plan-out: use `ganetictl plan -f FILE`")
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if g.JSON {
		a.events = view.NewEvents(a.s.Out, time.Now)
	}
	changed := false
	if c.PlanFile != "" {
		err = a.applySaved(ctx, c.PlanFile)
		changed = err == nil
	} else {
		changed, err = a.applyDesired(ctx, c.File, desired.Options{AllowDestroy: c.AllowDestroy, ShutdownTimeout: c.ShutdownTimeout})
	}
	if err != nil {
		if a.events != nil {
			a.events.Error(err, exitCode(err))
			return &silentError{err}
		}
		return err
	}
	if c.DetailedExitcode && changed {
		return changesError{}
	}
	return nil
}

// PlanCmd shows what apply -f would do.
type PlanCmd struct {
	File             string        `short:"f" name:"file" type:"path" required:"" help:"Desired-state TOML file (see examples/desired.toml)."`
	AllowDestroy     bool          `name:"allow-destroy" help:"Allow removing (and recreating) instances."`
	DetailedExitcode bool          `name:"detailed-exitcode" help:"Exit 0 when there are no changes, 2 when there are, 1 on error."`
	ShutdownTimeout  time.Duration `name:"shutdown-timeout" default:"2m" help:"Wait this long for instances to stop cleanly."`
}

func (c *PlanCmd) Run(ctx context.Context, g *Globals) error {
	if g.PlanOut != "" {
		return invalid("plan -f does not save plans: each operation is planned again when applied; save single operations with --plan-out")
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	res, _, err := a.planDesired(ctx, c.File, desired.Options{AllowDestroy: c.AllowDestroy, ShutdownTimeout: c.ShutdownTimeout})
	if err != nil {
		return err
	}
	if g.JSON {
		err = view.DesiredPlanJSON(a.s.Out, res)
	} else {
		err = view.RenderDesired(a.s.Out, res)
	}
	if err != nil {
		return err
	}
	if c.DetailedExitcode && !res.Empty() {
		return changesError{}
	}
	return nil
}

// planDesired loads a desired-state file and diffs it against the state
// and the facts of every online node. Nothing is locked or touched.
func (a *app) planDesired(ctx context.Context, path string, opt desired.Options) (*desired.Result, *statefile.State, error) {
	f, err := desired.Load(path)
	if err != nil {
		return nil, nil, &invalidError{err}
	}
	st, err := a.readState(ctx)
	if err != nil {
		return nil, nil, err
	}
	nodes, _ := onlineNodes(st, nil)
	env := playbooks.Env{State: st, NewID: statefile.NewUUID, Random: randomBytes, DRBDStatusFile: a.inv.Cluster.DRBDStatusFile,
		Facts: a.gather(ctx, st, nodes)}
	res, err := desired.Diff(env, f, opt)
	if err != nil {
		return nil, nil, &invalidError{err}
	}
	return res, st, nil
}

// applyDesired plans, shows, confirms, then runs the operations one by
// one, each its own job through mutate, planned again against the state
// the previous one left.
func (a *app) applyDesired(ctx context.Context, path string, opt desired.Options) (bool, error) {
	res, _, err := a.planDesired(ctx, path, opt)
	if err != nil {
		return false, err
	}
	if a.events == nil {
		if err := view.RenderDesired(a.s.Err, res); err != nil {
			return false, err
		}
	}
	if res.Empty() {
		if a.events != nil {
			a.events.Done(map[string]int{"add": 0, "change": 0, "destroy": 0, "operations": 0})
		}
		return false, nil
	}
	if err := a.confirm("Apply these operations?"); err != nil {
		return false, err
	}
	all := &factsOn{nodes: func(st *statefile.State) []string { n, _ := onlineNodes(st, nil); return n }}
	for i, op := range res.Ops {
		if a.events == nil {
			fmt.Fprintf(a.s.Err, "\n[%d/%d] %s\n", i+1, len(res.Ops), op.Desc)
		}
		if err := a.mutate(ctx, op.Desc, all, op.Plan); err != nil {
			return i > 0, fmt.Errorf("operation %d/%d (%s): %w", i+1, len(res.Ops), op.Desc, err)
		}
	}
	add, change, destroy := res.Counts()
	if a.events != nil {
		a.events.Done(map[string]int{"add": add, "change": change, "destroy": destroy, "operations": len(res.Ops)})
	} else {
		fmt.Fprintf(a.s.Err, "\nApply complete: %d added, %d changed, %d destroyed.\n", add, change, destroy)
	}
	return true, nil
}
