package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// app is one command's wiring: the inventory, the state store, the SSH
// pool and the job engine over them, built once from the global flags.
type app struct {
	g     *Globals
	s     view.Streams
	pr    view.Printer
	inv   *inventory.Inventory
	store *statefile.DirStore
	pool  *remote.Pool
	eng   *job.Engine
	rep   *view.JobReporter
}

// openOpts are open's options for the few commands that need them.
type openOpts struct {
	trustNewHostKey bool // node add --accept-new-host-key
	// extra adds SSH targets that are not in the inventory.
	extra func(*inventory.Inventory) []remote.Target
}

// open loads the inventory and opens the state directory. SSH connections
// are made lazily, on first use of each node.
func (g *Globals) open(opts ...openOpts) (*app, error) {
	a, err := g.openStore()
	if err != nil {
		return nil, err
	}
	inv := a.inv
	cfg := a.sshConfig()
	targets := make([]remote.Target, 0, len(inv.Nodes))
	for _, n := range inv.Nodes {
		targets = append(targets, a.target(n.Name, n.Address, n.HostKey))
	}
	for _, o := range opts {
		cfg.TrustOnFirstUse = cfg.TrustOnFirstUse || o.trustNewHostKey
		if o.extra != nil {
			targets = append(targets, o.extra(inv)...)
		}
	}
	if a.pool, err = remote.NewPool(cfg, targets); err != nil {
		return nil, err
	}
	a.eng.Runners = a.pool
	return a, nil
}

// engine builds the job engine of a: the inventory's facts settings, the
// planners' sources of IDs, randomness and identities, the helper, and a
// reporter that prints through view.
func (a *app) engine() {
	c := a.inv.Cluster
	a.rep = &view.JobReporter{Printer: a.pr, Verbose: a.g.Verbose, Now: time.Now, PrintJobID: a.g.PrintJobID}
	a.eng = &job.Engine{
		Store:  a.store,
		Report: a.rep,
		Facts:  playbooks.FactsArgs{VG: c.VolumeGroup, FileDir: c.FileStorageDir, SharedFileDir: c.SharedFileStorageDir, DRBDStatus: c.DRBDStatusFile},
		Env: playbooks.Env{NewID: statefile.NewUUID, Random: randomBytes, DRBDStatusFile: c.DRBDStatusFile,
			Helper: helperFor, NewIdentity: transfer.NewIdentity},
		Content:     helperContent,
		Parallel:    a.parallel(),
		LockTimeout: a.g.LockTimeout,
		Version:     a.g.version,
		Command:     strings.Join(os.Args[1:], " "),
		Submitted:   submittedJob(),
		Reason:      a.g.Reason,
		Priority:    a.g.Priority,
	}
}

// openState is open followed by readState, for the commands that need the
// state from the start.
func (g *Globals) openState(ctx context.Context) (*app, *statefile.State, error) {
	a, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	st, err := a.readState(ctx)
	if err != nil {
		a.close()
		return nil, nil, err
	}
	return a, st, nil
}

func (a *app) close() {
	if a.pool != nil {
		_ = a.pool.Close()
	}
}

func (a *app) sshConfig() remote.Config {
	ssh := a.inv.SSH
	cfg := remote.Config{
		User:           ssh.User,
		UseAgent:       ssh.UseAgent,
		KnownHostsFile: ssh.KnownHosts,
		JumpHost:       ssh.JumpHost,
		ConnectTimeout: ssh.ConnectTimeout,
		CommandTimeout: ssh.CommandTimeout,
	}
	if ssh.IdentityFile != "" {
		cfg.KeyFiles = []string{ssh.IdentityFile}
	}
	if a.g.Verbose {
		cfg.Logf = a.pr.Note
	}
	return cfg
}

func (a *app) target(name, addr, hostKey string) remote.Target {
	t := remote.Target{Name: name, Addr: addr, Port: a.inv.SSH.Port}
	if hostKey != "" {
		t.HostKeys = []string{hostKey}
	}
	return t
}

func (a *app) parallel() int {
	if a.g.Parallel > 0 {
		return a.g.Parallel
	}
	return a.inv.SSH.Parallel
}

// readState reads the current state; before `cluster init` it explains what to do.
func (a *app) readState(ctx context.Context) (*statefile.State, error) {
	st, err := a.store.Read(ctx)
	if errors.Is(err, statefile.ErrNoState) {
		return nil, fmt.Errorf("no cluster state in %s: run `ganetictl cluster init` first (or point --state-dir at the state)", a.store)
	}
	return st, err
}

// gather collects the named nodes' facts in one SSH round trip per node,
// all nodes in parallel (parts: playbooks.Part*; none means all).
func (a *app) gather(ctx context.Context, st *statefile.State, nodes []string, parts ...string) map[string]*playbooks.NodeFacts {
	return a.eng.Gather(ctx, st, nodes, parts...)
}

// readOnly runs read-only steps on their nodes in parallel.
func (a *app) readOnly(ctx context.Context, steps []plan.Step) []apply.StepResult {
	return a.eng.Read(ctx, steps)
}

// run carries out an operation: with --dry-run it prints the plan, with
// --plan-out it saves it; otherwise the engine runs it as a job and its
// result is shown.
func (a *app) run(ctx context.Context, req playbooks.Request) error {
	if a.g.DryRun || a.g.PlanOut != "" {
		pl, err := a.eng.Plan(ctx, req)
		if err != nil {
			return err
		}
		if a.g.PlanOut != "" {
			return a.savePlan(pl)
		}
		return a.pr.Result(view.PlanView{Plan: pl.Plan})
	}
	out, err := a.eng.Run(ctx, req)
	if err != nil {
		return err
	}
	return a.finished(out)
}

// finished shows a run's outcome (JSON, or an event of the stream).
func (a *app) finished(o *job.Outcome) error {
	return a.rep.Finished(view.RunResult{Operation: o.Operation, JobID: o.JobID, Committed: o.Committed,
		Serial: o.Serial, Failed: o.Failed, Aborted: o.Aborted})
}

// run is app.run for commands that need nothing else of the app.
func (g *Globals) run(ctx context.Context, req playbooks.Request) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx, req)
}

// onlineNodes are the state's nodes that are not offline, sorted; with
// names given, those (which must exist).
func onlineNodes(st *statefile.State, names []string) ([]string, error) {
	if len(names) == 0 {
		var out []string
		for n, node := range st.Nodes {
			if !node.Offline {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out, nil
	}
	for _, n := range names {
		if _, ok := st.Nodes[n]; !ok {
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: "Node '" + n + "' not known"}
		}
	}
	return names, nil
}

// confirm asks a yes/no question unless --yes or --dry-run (a dry run
// changes nothing to confirm); a non-terminal stdin without --yes is a
// refusal, so CI never hangs on a prompt.
func (a *app) confirm(question string) error {
	if a.g.Yes || a.g.DryRun {
		return nil
	}
	if !view.Confirm(a.s, stdin, question) {
		return errors.New("aborted: not confirmed (use --yes to skip the question)")
	}
	return nil
}

var stdin io.Reader = os.Stdin

// randomBytes is the planners' random source (MACs, secrets).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return b
}

// stateSum is the SHA-256 of the state file as stored ("" without one),
// which verify compares with the master candidates' copies.
func (a *app) stateSum(ctx context.Context) string {
	b, err := a.store.ReadRaw(ctx)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// lockWhole is the engine's LockWhole, for the commands that replace the
// whole state; a dry run takes nothing and gets a nil lock.
func (a *app) lockWhole(ctx context.Context, label string) (*statefile.Lock, func(), error) {
	if a.g.DryRun {
		return nil, func() {}, nil
	}
	return a.eng.LockWhole(ctx, label)
}

// replicate copies the current state to nodes.
func (a *app) replicate(ctx context.Context, nodes []string) error {
	return a.eng.Replicate(ctx, nodes)
}
