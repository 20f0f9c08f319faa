package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// probed is what recovery read from the nodes: their probes, the state
// copies among them (with the bytes as stored) and who did not answer.
type probed struct {
	probes      map[string]*playbooks.NodeProbe
	copies      []playbooks.StateCopy
	raw         map[string][]byte // node -> its copy as stored
	unreachable map[string]string // node -> why
	bad         map[string]string // node -> why its copy is unreadable
}

// probe reads the state copy, runtime files and DRBD setup of the nodes,
// one round trip each, all in parallel.
func (a *app) probe(ctx context.Context, nodes []string) *probed {
	steps := make([]plan.Step, len(nodes))
	for i, n := range nodes {
		steps[i] = playbooks.RecoverProbeStep(n)
	}
	res := &probed{probes: map[string]*playbooks.NodeProbe{}, raw: map[string][]byte{},
		unreachable: map[string]string{}, bad: map[string]string{}}
	for _, r := range apply.Gather(ctx, steps, a.pool, apply.Options{Parallel: a.parallel()}) {
		n := r.Step.Node
		if r.Err != nil {
			res.unreachable[n] = r.Err.Error()
			continue
		}
		p, err := playbooks.ParseProbe(n, r.Stdout)
		if err != nil {
			res.unreachable[n] = err.Error()
			continue
		}
		res.probes[n] = p
		if p.Copy == nil {
			continue
		}
		c, err := playbooks.ParseCopy(n, p.Copy)
		if err != nil {
			res.bad[n] = err.Error()
			continue
		}
		res.copies = append(res.copies, c)
		res.raw[n] = p.Copy
	}
	return res
}

// inventoryNames are the inventory's node names, plus those of st.
func (a *app) inventoryNames(st *statefile.State) []string {
	var out []string
	for _, n := range a.inv.Nodes {
		out = append(out, n.Name)
	}
	if st != nil {
		for _, n := range st.NodeNames() {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// readLocal reads the workstation's state; none is not an error.
func (a *app) readLocal(ctx context.Context) (*statefile.State, []byte, error) {
	st, err := a.store.Read(ctx)
	if errors.Is(err, statefile.ErrNoState) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the workstation's state is unreadable (%w); move it aside and retry", err)
	}
	b, err := a.store.ReadRaw(ctx)
	return st, b, err
}

// ClusterRecoverCmd rebuilds the state from the nodes.
type ClusterRecoverCmd struct {
	Lineage string `help:"Take the copies of this lineage when nodes hold copies of different clusters."`
}

func (c *ClusterRecoverCmd) Run(ctx context.Context, g *Globals) error {
	if g.PlanOut != "" {
		return invalid("cluster recover cannot save its plan (it is made from the nodes at the moment); use --dry-run to see it")
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	lk, unlock, err := a.lockWhole(ctx, "cluster recover")
	if err != nil {
		return err
	}
	defer unlock()
	local, localBytes, err := a.readLocal(ctx)
	if err != nil {
		return err
	}
	names := a.inventoryNames(local)
	pr := a.probe(ctx, names)
	copies := slices.Clone(pr.copies)
	if local != nil {
		copies = append(copies, playbooks.StateCopy{Node: playbooks.WorkstationSource, State: local, Sum: sha(localBytes)})
	}
	// Facts are gathered with the storage settings of the copy recovery
	// starts from (or the inventory's, for a rebuild).
	best, _, err := playbooks.NewestCopy(copies, c.Lineage)
	if err != nil {
		return err
	}
	var base *statefile.State
	if best != nil {
		base = best.State
	}
	facts := a.gather(ctx, base, names)
	for n, why := range pr.unreachable {
		if f := facts[n]; f != nil && f.Reachable {
			f.Reachable, f.Err = false, why // the probe failing makes the node unusable here
		}
	}
	in := playbooks.RecoverInput{Copies: copies, Lineage: c.Lineage, Facts: facts, Probes: pr.probes,
		NewID: statefile.NewUUID, Random: randomBytes}
	for _, n := range a.inv.Nodes {
		in.Inventory = append(in.Inventory, playbooks.InventoryNode{Name: n.Name, Address: n.Address, SecondaryAddress: n.SecondaryAddress})
	}
	if best == nil {
		if in.Skeleton, err = a.skeleton(facts); err != nil {
			return err
		}
	}
	res, err := playbooks.Recover(in)
	if err != nil {
		return err
	}
	for n, why := range pr.bad {
		res.Notes = append(res.Notes, playbooks.RecoverNote{Kind: playbooks.NoteAmbiguous, Object: "node " + n, Message: "unreadable state copy: " + why})
	}
	rec := recoveryView(res)
	if g.DryRun {
		return a.pr.Result(rec)
	}
	if err := a.pr.Preview(rec); err != nil {
		return err
	}
	if err := a.confirm(fmt.Sprintf("Write this state (%d change(s), %d note(s) to look at)?", len(res.Plan.Changes), res.Ambiguous())); err != nil {
		return err
	}
	serial, err := a.writeRecovered(ctx, lk, res, local, pr.raw)
	if err != nil {
		return err
	}
	var repl []string
	for _, n := range playbooks.Replicas(res.Plan) {
		if f := facts[n]; f != nil && f.Reachable {
			repl = append(repl, n)
		}
	}
	if rerr := a.replicate(ctx, repl); rerr != nil {
		a.pr.Warning("%v", rerr)
	}
	return a.pr.Outcome(view.Recovered{Recovery: rec, Serial: serial, Replicated: repl, Ambiguous: res.Ambiguous()})
}

// writeRecovered writes the recovered state: the copy it came from is
// installed as it is (keeping its lineage and serial), then the
// reconciled state is written on top as the next serial. A state rebuilt
// from the nodes is written as serial 1 of its new lineage.
func (a *app) writeRecovered(ctx context.Context, lk *statefile.Lock, res *playbooks.Recovered, local *statefile.State, raw map[string][]byte) (int64, error) {
	st := res.State.Clone()
	st.GanetictlVersion = a.g.version
	if res.Base == nil {
		if local != nil {
			return 0, fmt.Errorf("the workstation has a state of lineage %s; move it aside to rebuild from the nodes", local.Lineage)
		}
		st.Serial = 0
		return a.store.Write(ctx, lk, st)
	}
	if res.From != playbooks.WorkstationSource {
		if _, err := a.store.Install(ctx, lk, raw[res.From], "cluster recover (copy of "+res.From+")"); err != nil {
			return 0, err
		}
	}
	st.Serial = res.Serial
	return a.store.Write(ctx, lk, st)
}

// skeleton is what cluster init would write from the inventory: the base
// of a state rebuilt from the nodes alone. An unreachable inventory master
// is replaced by the first reachable node.
func (a *app) skeleton(facts map[string]*playbooks.NodeFacts) (*statefile.State, error) {
	var ic ClusterInitCmd
	args, err := ic.initArgs(a.inv)
	if err != nil {
		return nil, err
	}
	if f := facts[args.Master]; f == nil || !f.Reachable {
		for _, n := range a.inv.Nodes {
			if f := facts[n.Name]; f != nil && f.Reachable {
				args.Master, args.MasterIP, args.MasterSecondaryIP = n.Name, n.Address, pick(n.SecondaryAddress, n.Address)
				break
			}
		}
	}
	st := statefile.New(statefile.NewLineage())
	p, err := playbooks.ClusterInit(playbooks.Env{State: st, NewID: statefile.NewUUID, Facts: facts}, args)
	if err != nil {
		return nil, fmt.Errorf("rebuilding the cluster object from the inventory: %w", err)
	}
	if err := p.ApplyChanges(st, time.Now().UTC()); err != nil {
		return nil, err
	}
	return st, nil
}

// recoveryView is the recovery as the view shows it.
func recoveryView(res *playbooks.Recovered) view.Recovery {
	r := view.Recovery{Source: res.Source, From: res.From, Serial: res.Serial, Lineage: res.Lineage, Plan: res.Plan}
	for _, n := range res.Notes {
		r.Notes = append(r.Notes, view.RecoveryNote{Kind: n.Kind, Object: n.Object, Message: n.Message})
	}
	return r
}

func sha(b []byte) string {
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// StatePullCmd fetches the newest master candidate's copy of the state.
type StatePullCmd struct {
	Force   bool   `help:"Take the newest copy even if it is older than the local state, of another lineage, or a different copy of the same serial."`
	Lineage string `help:"Take the copies of this lineage when nodes hold copies of different clusters."`
}

func (c *StatePullCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	lk, unlock, err := a.lockWhole(ctx, "state pull")
	if err != nil {
		return err
	}
	defer unlock()
	local, _, err := a.readLocal(ctx)
	if err != nil && !c.Force {
		return err
	}
	pr := a.probe(ctx, a.inventoryNames(local))
	best, _, err := playbooks.PullChoice(playbooks.PullArgs{Local: local, Copies: pr.copies, Lineage: c.Lineage, Force: c.Force})
	report := pullReport(local, pr, best)
	if err != nil {
		_ = a.pr.Status(report.Copies)
		return err
	}
	if best == nil {
		report.Result = fmt.Sprintf("already up to date (serial %d)", local.Serial)
	} else {
		report.Result = fmt.Sprintf("took serial %d (lineage %s) from %s", best.State.Serial, best.State.Lineage, best.Node)
		report.TakenFrom, report.Serial, report.Lineage = best.Node, best.State.Serial, best.State.Lineage
		if g.DryRun {
			report.Result = "would have " + report.Result
		} else if _, err := a.store.Install(ctx, lk, pr.raw[best.Node], "state pull (copy of "+best.Node+")"); err != nil {
			return err
		}
	}
	return a.pr.Result(report)
}

// pullReport is state pull's report on the copies it looked at.
func pullReport(local *statefile.State, pr *probed, best *playbooks.StateCopy) *view.StatePull {
	r := &view.StatePull{}
	if local != nil {
		r.Copies = append(r.Copies, view.StateCopyRow{Node: playbooks.WorkstationSource, Serial: local.Serial, Lineage: local.Lineage, Status: "local state"})
	}
	for _, c := range pr.copies {
		pc := view.StateCopyRow{Node: c.Node, Serial: c.State.Serial, Lineage: c.State.Lineage, SHA256: c.Sum[:12], Status: "copy"}
		switch {
		case best != nil && c.Node == best.Node:
			pc.Status = "taken"
		case best != nil && c.State.Lineage != best.State.Lineage:
			pc.Status = "other lineage"
		case best != nil && c.State.Serial < best.State.Serial:
			pc.Status = "older"
		case best != nil && c.Sum == best.Sum:
			pc.Status = "same"
		}
		r.Copies = append(r.Copies, pc)
	}
	for _, n := range slices.Sorted(mapsKeys(pr.probes)) {
		if pr.probes[n].Copy == nil {
			r.Copies = append(r.Copies, view.StateCopyRow{Node: n, Status: "no copy"})
		}
	}
	for _, n := range slices.Sorted(mapsKeys(pr.bad)) {
		r.Copies = append(r.Copies, view.StateCopyRow{Node: n, Status: "unreadable: " + pr.bad[n]})
	}
	for _, n := range slices.Sorted(mapsKeys(pr.unreachable)) {
		r.Copies = append(r.Copies, view.StateCopyRow{Node: n, Status: "unreachable: " + pr.unreachable[n]})
	}
	return r
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ClusterMasterFailoverCmd is gnt-cluster master-failover.
type ClusterMasterFailoverCmd struct {
	Node     string `arg:"" optional:"" help:"The master candidate that becomes the master (default: the candidate with the newest state copy)."`
	Target   string `name:"target" help:"As NODE."`
	NoVoting bool   `name:"no-voting" help:"Skip the check that most master candidates agree on the current master (when most of them are down)."`
}

func (c *ClusterMasterFailoverCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	target := c.Node
	if target == "" {
		target = c.Target
	}
	return a.run(ctx, playbooks.MasterFailoverOp.With(playbooks.MasterFailoverArgs{Target: target, NoVoting: c.NoVoting}))
}
