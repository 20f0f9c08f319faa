package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
)

// app is one command's wiring: the inventory, the state store and the SSH
// pool, built once from the global flags.
type app struct {
	g     *Globals
	s     view.Streams
	inv   *inventory.Inventory
	store *statefile.DirStore
	pool  *remote.Pool

	// used are the facts the last plan was made from (for --plan-out).
	used *usedFacts
	// events, when set (apply --json), receives the run as a JSON stream.
	events *view.Events
	// held, when set, are locks taken over from a crashed job: mutate runs
	// under them instead of taking its own.
	held *statefile.ObjectLocks
	// op names the running operation for humans ("instance migrate web1"),
	// as the state history shows it.
	op string
}

// open loads the inventory and opens the state directory. SSH connections
// are made lazily, on first use of each node.
// openOpts are open's options for the few commands that need them.
type openOpts struct {
	trustNewHostKey bool // node add --accept-new-host-key
	// extra adds SSH targets that are not in the inventory.
	extra func(*inventory.Inventory) []remote.Target
}

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
	return a, nil
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
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(a.s.Err, format+"\n", args...) }
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

// factsArgs are the cluster-wide inputs of the facts script.
func (a *app) factsArgs(st *statefile.State) playbooks.FactsArgs {
	c := a.inv.Cluster
	fa := playbooks.FactsArgs{VG: c.VolumeGroup, FileDir: c.FileStorageDir, SharedFileDir: c.SharedFileStorageDir, DRBDStatus: c.DRBDStatusFile}
	if st != nil {
		fa.VG, fa.FileDir, fa.SharedFileDir = st.Cluster.VolumeGroup, st.Cluster.FileStorageDir, st.Cluster.SharedFileStorageDir
		if slices.Contains(st.Cluster.EnabledDiskTemplates, "rbd") {
			fa.RBDPool = st.Cluster.RBDPool
		}
		if link, ok := st.Cluster.NICParams["link"].(string); ok && link != "" {
			fa.Bridges = []string{link}
		}
	}
	return fa
}

// gather collects every named node's facts in one SSH round trip per node,
// all nodes in parallel. Unreachable nodes get facts with Reachable false.
// parts limits the optional facts (playbooks.Part*); none means all.
func (a *app) gather(ctx context.Context, st *statefile.State, nodes []string, parts ...string) map[string]*playbooks.NodeFacts {
	fa := a.factsArgs(st)
	fa.Parts = parts
	steps := make([]plan.Step, len(nodes))
	for i, n := range nodes {
		steps[i] = playbooks.FactsStep(n, fa)
	}
	start := time.Now()
	results := apply.Gather(ctx, steps, a.pool, apply.Options{Parallel: a.parallel()})
	end := time.Now()
	out := make(map[string]*playbooks.NodeFacts, len(nodes))
	for _, r := range results {
		name := r.Step.Node
		if r.Err != nil && len(r.Stdout) == 0 {
			out[name] = &playbooks.NodeFacts{Name: name, Err: r.Err.Error()}
			continue
		}
		f, err := playbooks.ParseFacts(name, r.Stdout)
		if err != nil {
			out[name] = &playbooks.NodeFacts{Name: name, Err: err.Error()}
			continue
		}
		f.WindowStart, f.WindowEnd = start, end
		out[name] = f
	}
	return out
}

// mutate is app.mutate for commands that need nothing else of the app.
func (g *Globals) mutate(ctx context.Context, op string, facts *factsOn, makePlan func(env playbooks.Env) (*plan.Plan, error)) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	return a.mutate(ctx, op, facts, makePlan)
}

// factsOn says whose facts an operation needs, and which parts of them.
type factsOn struct {
	nodes func(*statefile.State) []string
	parts []string // nil: all
}

// allFactsOf asks every part of the facts of the nodes fn names.
func allFactsOf(fn func(*statefile.State) []string) *factsOn { return &factsOn{nodes: fn} }

// mutate runs a mutating operation the standard way: read the state,
// gather facts from the given nodes and make the plan; then either print it
// (--dry-run, --plan-out) or take the objects' locks that plan needs, plan
// again under them if anything moved meanwhile, apply it, commit and
// replicate the state.
func (a *app) mutate(ctx context.Context, op string, facts *factsOn,
	makePlan func(env playbooks.Env) (*plan.Plan, error)) error {
	cur, err := a.planOnce(ctx, facts, makePlan)
	if err != nil {
		return err
	}
	if a.g.DryRun || a.g.PlanOut != "" {
		return a.execute(ctx, cur.p, cur.st, nil)
	}
	if a.held != nil { // job resume: the crashed job's locks, taken over
		if need := planLocks(cur.p); !covered(a.held.Held, need) {
			return fmt.Errorf("%s needs locks the job did not hold (%v); run it as a command of its own", op, need)
		}
		return a.execute(ctx, cur.p, cur.st, a.held)
	}
	if err := a.checkQueue(); err != nil {
		return err
	}
	want := planLocks(cur.p)
	for round := 0; ; round++ {
		ol, waited, err := a.lockObjects(ctx, op, want, 0)
		if err != nil {
			return err
		}
		now, err := a.readState(ctx)
		if err != nil {
			ol.Unlock()
			return err
		}
		if !waited && now.Serial == cur.st.Serial && now.Lineage == cur.st.Lineage {
			defer ol.Unlock()
			return a.execute(ctx, cur.p, cur.st, ol)
		}
		// Another job ran on our objects or committed meanwhile: its
		// changes may change our plan, so plan again under the locks.
		if cur, err = a.planOnce(ctx, facts, makePlan); err != nil {
			ol.Unlock()
			return err
		}
		need := planLocks(cur.p)
		if covered(ol.Held, need) {
			defer ol.Unlock()
			return a.execute(ctx, cur.p, cur.st, ol)
		}
		ol.Unlock()
		if round == 2 {
			return fmt.Errorf("%s: the objects it needs kept changing while it waited for their locks; run it again", op)
		}
		want = append(want, need...)
	}
}

// execute prints or applies a plan made from st, as a job in the journal
// holding the object locks ol (nil for printing).
func (a *app) execute(ctx context.Context, p *plan.Plan, st *statefile.State, ol *statefile.ObjectLocks) error {
	if a.g.PlanOut != "" {
		return a.savePlan(p)
	}
	if a.g.DryRun {
		return a.renderPlan(p)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(a.s.Err, "WARNING: %s\n", w)
	}
	jr, err := a.startJob(ctx, p, ol)
	if err != nil {
		return err
	}
	res, err := apply.Run(ctx, p, a.pool, a.commitFunc(jr), a.runOptions(p, jr))
	// The job ends after the replication: cut off before that, it is
	// resumed to replicate.
	err = a.finishRun(ctx, p, res, err)
	jr.finish(err)
	return err
}

// renderPlan prints p (--dry-run), as text or JSON.
func (a *app) renderPlan(p *plan.Plan) error {
	if a.g.JSON {
		return view.PlanJSON(a.s.Out, p)
	}
	return view.RenderPlan(a.s.Out, p)
}

// hooks are the display hooks (text progress, or the JSON event stream)
// teed with the journal's.
func (a *app) hooks(p *plan.Plan, jr *jobRecorder) apply.Hooks {
	if a.events != nil {
		a.events.Plan(p)
		return teeHooks{&eventHooks{a.events}, jr}
	}
	return teeHooks{&progressHooks{p: view.NewProgress(a.s.Err, time.Now), verbose: a.g.Verbose}, jr}
}

// runOptions are apply's options for running p as job jr.
func (a *app) runOptions(p *plan.Plan, jr *jobRecorder) apply.Options {
	return apply.Options{Parallel: a.parallel(), Hooks: a.hooks(p, jr), Content: a.content}
}

// content gives upload steps their named content: the committed state,
// or a helper binary.
func (a *app) content(ctx context.Context, source string) ([]byte, error) {
	if source == plan.SourceState {
		return a.stateBytes()
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if source == plan.HelperSource(arch) {
			return helperBinary(ctx, arch)
		}
	}
	return nil, fmt.Errorf("unknown upload source %q", source)
}

// finishRun replicates the state after a run and reports its result.
func (a *app) finishRun(ctx context.Context, p *plan.Plan, res *apply.Result, err error) error {
	if err != nil {
		if res != nil && res.Committed {
			err = &partialError{err}
		}
		return err
	}
	for _, err := range res.Late {
		fmt.Fprintf(a.s.Err, "WARNING: %v\n", err)
	}
	if a.events != nil {
		a.events.Result(p.Operation, res.Committed, res.Serial, res.Failed)
		return nil
	}
	if a.g.JSON {
		return view.JSON(a.s.Out, map[string]any{"operation": p.Operation, "committed": res.Committed, "serial": res.Serial, "failed_steps": res.Failed})
	}
	return nil
}

// replicate copies the current state file to the given nodes, in parallel.
// A failed copy is reported but does not undo the commit: verify names the
// stale copy and redist-conf repairs it.
func (a *app) replicate(ctx context.Context, nodes []string) error {
	data, err := a.stateBytes()
	if err != nil {
		return err
	}
	wp := pool.New().WithErrors().WithMaxGoroutines(a.parallel())
	for _, n := range nodes {
		wp.Go(func() error {
			r, err := a.pool.Get(ctx, n)
			if err != nil {
				return fmt.Errorf("state copy to %s: %w", n, err)
			}
			// The directory exists on prepared nodes; make it only when missing
			// (a session costs more than the upload).
			err = remote.Upload(ctx, r, playbooks.StateReplicaPath, 0o600, bytes.NewReader(data))
			if err != nil {
				if _, merr := r.Run(ctx, remote.Command{Argv: []string{"mkdir", "-p", "-m", "0700", filepath.Dir(playbooks.StateReplicaPath)}}); merr == nil {
					err = remote.Upload(ctx, r, playbooks.StateReplicaPath, 0o600, bytes.NewReader(data))
				}
			}
			if err != nil {
				return fmt.Errorf("state copy to %s: %w", n, err)
			}
			return nil
		})
	}
	return wp.Wait()
}

// stateBytes is the state file exactly as stored.
func (a *app) stateBytes() ([]byte, error) {
	return os.ReadFile(filepath.Join(a.store.Dir, "state.json"))
}

func (a *app) stateSum() string {
	b, err := a.stateBytes()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", n)}
		}
	}
	return names, nil
}

// confirm asks a yes/no question on stderr unless --yes or --dry-run; a non-terminal
// stdin without --yes is a refusal, so CI never hangs on a prompt.
func (a *app) confirm(question string) error {
	if a.g.Yes || a.g.DryRun { // a dry run changes nothing to confirm
		return nil
	}
	fmt.Fprintf(a.s.Err, "%s\ny/[n]: ", question)
	var answer string
	if _, err := fmt.Fscanln(stdin, &answer); err != nil || (answer != "y" && answer != "yes") {
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
