package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
	"github.com/ganetictl/ganetictl/statefile"
)

// fakeNodes are the test cluster's nodes, each a scripted runner.
type fakeNodes map[string]*remotetest.Fake

func (f fakeNodes) Get(ctx context.Context, node string) (remote.Runner, error) {
	r, ok := f[node]
	if !ok {
		return nil, fmt.Errorf("%s: %w", node, remote.ErrUnreachable)
	}
	return r, nil
}

// reporter records what the engine tells people.
type reporter struct {
	mu       sync.Mutex
	waits    []string
	warnings []string
	notes    []string
	jobs     []int64
}

func (r *reporter) Waiting(req statefile.LockReq, holders []statefile.LockInfo, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, req.String())
}
func (r *reporter) Warning(msg string) {
	r.mu.Lock()
	r.warnings = append(r.warnings, msg)
	r.mu.Unlock()
}
func (r *reporter) Note(msg string)              { r.mu.Lock(); r.notes = append(r.notes, msg); r.mu.Unlock() }
func (r *reporter) Run(p *plan.Plan) apply.Hooks { return apply.NoHooks{} }
func (r *reporter) JobStarted(id int64)          { r.mu.Lock(); r.jobs = append(r.jobs, id); r.mu.Unlock() }

// bed is an engine over a state directory in a temporary folder and two
// fake nodes, node1 (the master and only candidate) and node2.
type bed struct {
	t     *testing.T
	e     *Engine
	store *statefile.DirStore
	nodes fakeNodes
	rep   *reporter
}

func newBed(t *testing.T) *bed {
	t.Helper()
	store, err := statefile.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := statefile.New("lineage-1")
	st.Cluster.Name = "cluster.test"
	st.Cluster.MasterNode = "node1"
	for i, n := range []string{"node1", "node2"} {
		st.Nodes[n] = &statefile.Node{Name: n, PrimaryIP: fmt.Sprintf("198.18.0.%d", i+1), MasterCandidate: i == 0, VMCapable: true, Tags: []string{}}
	}
	ctx := context.Background()
	lk, err := store.Lock(ctx, statefile.NewLockInfo("test", "test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Write(ctx, lk, st); err != nil {
		t.Fatal(err)
	}
	lk.Unlock()
	b := &bed{t: t, store: store, rep: &reporter{}, nodes: fakeNodes{"node1": remotetest.NewFake("node1"), "node2": remotetest.NewFake("node2")}}
	for _, f := range b.nodes {
		f.Unmatched = remotetest.Reply("")
	}
	b.e = &Engine{Store: store, Runners: b.nodes, Report: b.rep, Version: "test", Command: "test command"}
	return b
}

func (b *bed) state() *statefile.State {
	b.t.Helper()
	st, err := b.store.Read(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

func (b *bed) job(id int64) *statefile.Job {
	b.t.Helper()
	j, err := b.store.Journal()
	if err != nil {
		b.t.Fatal(err)
	}
	job, err := j.Get(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return job
}

// tagNode is an operation that runs one command per step given on node2
// and tags node2: it changes the state, runs on a node and copies the
// state to the candidate.
func tagNode(tag string, steps ...plan.Step) playbooks.Request {
	return playbooks.Request{ID: "TEST_TAG", Label: "test tag " + tag, Plan: func(env playbooks.Env) (*plan.Plan, error) {
		st := env.State
		n := st.Nodes["node2"]
		c := *n
		c.Tags = append(append([]string{}, n.Tags...), tag)
		p := plan.New(plan.NodeOp("TEST_TAG", "node2"), st.Lineage, st.Serial)
		if len(steps) > 0 {
			p.Add("work", plan.Abort, steps...)
		}
		playbooks.ReplicateTo(p, "node1")
		return p, p.Set(plan.KindNode, "node2", n, &c)
	}}
}

func TestRunCommitsAndReplicates(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	out, err := b.e.Run(ctx, tagNode("a", plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"true"}}))
	if err != nil {
		t.Fatal(err)
	}
	st := b.state()
	if !out.Committed || out.Serial != st.Serial || st.Serial != 2 || strings.Join(st.Nodes["node2"].Tags, ",") != "a" {
		t.Fatalf("outcome %+v, state serial %d, tags %v", out, st.Serial, st.Nodes["node2"].Tags)
	}
	raw, _ := b.store.ReadRaw(ctx)
	if got, ok := b.nodes["node1"].File(playbooks.StateReplicaPath); !ok || string(got) != string(raw) {
		t.Errorf("node1's copy of the state is not the committed state")
	}
	job := b.job(out.JobID)
	if job.Status != statefile.JobSuccess || job.Commit != statefile.CommitDone || job.Operation != "test command" || len(job.Steps) != 2 {
		t.Errorf("job %+v", job)
	}
	for _, r := range job.Steps {
		if r.Status != statefile.JobSuccess {
			t.Errorf("step %+v", r)
		}
	}
	if len(job.Locks) == 0 {
		t.Error("the job records no locks")
	}
}

func TestRunRollsBackAFailedStage(t *testing.T) {
	b := newBed(t)
	b.nodes["node2"].Handle(remotetest.Exact("false"), remotetest.Fail(1, "no"))
	mk := plan.Step{Node: "node2", Action: plan.Create, Desc: "make", Argv: []string{"make"}, Undo: &plan.Step{Node: "node2", Action: plan.Remove, Argv: []string{"unmake"}}}
	_, err := b.e.Run(context.Background(), tagNode("a", mk, plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"false"}}))
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("err = %v", err)
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		t.Error("nothing was committed: not a partial failure")
	}
	if st := b.state(); st.Serial != 1 || len(st.Nodes["node2"].Tags) != 0 {
		t.Errorf("state changed: serial %d", st.Serial)
	}
	var undone bool
	for _, c := range b.nodes["node2"].Calls() {
		undone = undone || c.Argv[0] == "unmake"
	}
	if !undone {
		t.Error("the created step was not undone")
	}
	if job := b.job(1); job.Status != statefile.JobError {
		t.Errorf("job status %s", job.Status)
	}
}

// moving is a store that commits another job's change right after the
// first read, as a second admin would between planning and locking.
type moving struct {
	*statefile.DirStore
	once sync.Once
	t    *testing.T
}

func (m *moving) Read(ctx context.Context) (*statefile.State, error) {
	st, err := m.DirStore.Read(ctx)
	m.once.Do(func() {
		next := st.Clone()
		next.Nodes["node1"].Tags = []string{"other"}
		lk, err := m.DirStore.Lock(ctx, statefile.NewLockInfo("other", "test"))
		if err != nil {
			m.t.Fatal(err)
		}
		defer lk.Unlock()
		if _, err := m.DirStore.Write(ctx, lk, next); err != nil {
			m.t.Fatal(err)
		}
	})
	return st, err
}

func TestRunPlansAgainWhenTheStateMoved(t *testing.T) {
	b := newBed(t)
	b.e.Store = &moving{DirStore: b.store, t: t}
	plans := 0
	req := tagNode("a")
	inner := req.Plan
	req.Plan = func(env playbooks.Env) (*plan.Plan, error) { plans++; return inner(env) }
	if _, err := b.e.Run(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	st := b.state()
	if plans != 2 || st.Serial != 3 || st.Nodes["node1"].Tags[0] != "other" || st.Nodes["node2"].Tags[0] != "a" {
		t.Errorf("planned %d times; serial %d; node1 %v, node2 %v", plans, st.Serial, st.Nodes["node1"].Tags, st.Nodes["node2"].Tags)
	}
}

func TestRunRefusedWhenDrained(t *testing.T) {
	b := newBed(t)
	if err := b.store.SetDrained(statefile.DrainInfo{Who: "alice", Host: "ws"}); err != nil {
		t.Fatal(err)
	}
	_, err := b.e.Run(context.Background(), tagNode("a"))
	var busy *BusyError
	if !errors.As(err, &busy) || !strings.Contains(err.Error(), "alice@ws") {
		t.Fatalf("err = %v", err)
	}
	b.e.Submitted = 7 // a submitted job was admitted when queued
	if err := b.e.Admit(); err != nil {
		t.Error(err)
	}
}

func TestLockWaitsAndNamesTheHolder(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	held, _, err := b.e.Lock(ctx, "instance migrate web1", []statefile.LockReq{{Level: statefile.LevelNode, Name: "node2", Exclusive: true}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	other := *b.e
	other.LockTimeout = 300 * time.Millisecond
	_, err = other.Run(ctx, tagNode("a"))
	if err == nil {
		t.Fatal("ran while node2 was locked")
	}
	if len(b.rep.waits) == 0 || !strings.Contains(b.rep.waits[0], "node2") {
		t.Errorf("waits reported: %v", b.rep.waits)
	}
}

func TestPlanGathersFactsAndProbes(t *testing.T) {
	b := newBed(t)
	b.nodes["node2"].Handle(remotetest.Prefix("sh", "-c"), remotetest.Reply("@@hostname\nnode2\n@@end\n"))
	b.nodes["node1"].Handle(remotetest.Exact("probe"), remotetest.Reply("seen"))
	var env playbooks.Env
	pl, err := b.e.Plan(context.Background(), playbooks.Request{ID: "TEST", Label: "test",
		Needs: func(*statefile.State) playbooks.Needs {
			return playbooks.Needs{Nodes: []string{"node2"}, Parts: []string{playbooks.PartRunning},
				Probes: []plan.Step{{Node: "node1", Action: plan.Read, Argv: []string{"probe"}}}}
		},
		Plan: func(e playbooks.Env) (*plan.Plan, error) {
			env = e
			return plan.New(plan.ClusterOp("TEST"), e.State.Lineage, e.State.Serial), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if f := env.Facts["node2"]; f == nil || !f.Reachable || f.Hostname != "node2" {
		t.Errorf("facts %+v", f)
	}
	if len(env.Probes) != 1 || string(env.Probes[0].Stdout) != "seen" || env.Probes[0].Node != "node1" {
		t.Errorf("probes %+v", env.Probes)
	}
	if pl.Parts[0] != playbooks.PartRunning || pl.Facts["node2"] == nil {
		t.Errorf("planned from %v %v", pl.Parts, pl.Facts)
	}
	if calls := b.nodes["node2"].Calls(); len(calls) != 1 || calls[0].Argv[4] != playbooks.PartRunning {
		t.Errorf("facts script calls %v", calls)
	}
}

func TestPlanInitNeedsNoState(t *testing.T) {
	store, err := statefile.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Store: store, Runners: fakeNodes{}, Report: &reporter{}, Version: "test"}
	init := playbooks.Request{ID: "TEST_INIT", Label: "init", Init: true, Plan: func(env playbooks.Env) (*plan.Plan, error) {
		p := plan.New(plan.ClusterOp("TEST_INIT"), env.State.Lineage, env.State.Serial)
		cl := env.State.Cluster
		cl.Name = "c"
		return p, p.Set(plan.KindCluster, "c", nil, &cl)
	}}
	if _, err := e.Plan(context.Background(), playbooks.Request{ID: "X", Plan: init.Plan}); err == nil || !strings.Contains(err.Error(), "cluster init") {
		t.Errorf("an operation before cluster init: %v", err)
	}
	if _, err := e.Run(context.Background(), init); err != nil {
		t.Fatal(err)
	}
	st, err := store.Read(context.Background())
	if err != nil || st.Cluster.Name != "c" || st.Lineage == "" {
		t.Fatalf("state after init: %+v, %v", st, err)
	}
	if _, err := e.Plan(context.Background(), init); err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Errorf("a second init: %v", err)
	}
}

// crash records req's plan as a job whose ganetictl died in its step
// number cut (counting the steps of every stage, the state's copies
// last): the steps before it done, that one started, as a kill -9 leaves
// the journal. commit says whether the commit had happened.
func (b *bed) crash(req playbooks.Request, cut int, commit bool) int64 {
	b.t.Helper()
	ctx := context.Background()
	pl, err := b.e.Plan(ctx, req)
	if err != nil {
		b.t.Fatal(err)
	}
	p := pl.Plan
	pj, _ := json.Marshal(p)
	job := &statefile.Job{Operation: req.Label, Opcodes: []string{p.Operation}, Status: statefile.JobRunning,
		PID: deadPID(b.t), Plan: pj, Locks: Locks(p), Started: time.Now()}
	n := 0
	for si, st := range p.Stages {
		for i, s := range st.Steps {
			rec := statefile.StepRecord{Stage: st.Name, StageIndex: si, Index: i, Node: s.Node, Desc: s.Desc, Status: statefile.JobSuccess}
			switch {
			case n == cut:
				rec.Status = statefile.JobRunning
			case n > cut:
				continue
			}
			job.Steps = append(job.Steps, rec)
			n++
		}
	}
	if commit {
		if err := p.ApplyChanges(pl.State, time.Now()); err != nil {
			b.t.Fatal(err)
		}
		lk, _ := b.store.Lock(ctx, statefile.NewLockInfo("test", "test"))
		serial, err := b.store.Write(ctx, lk, pl.State)
		lk.Unlock()
		if err != nil {
			b.t.Fatal(err)
		}
		job.Commit, job.Serial = statefile.CommitDone, serial
	}
	j, err := b.store.Journal()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := j.Create(ctx, job); err != nil {
		b.t.Fatal(err)
	}
	return job.ID
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestResumeFinishesACutOffJob(t *testing.T) {
	b := newBed(t)
	mk := plan.Step{Node: "node2", Action: plan.Create, Argv: []string{"make"}, Undo: &plan.Step{Node: "node2", Action: plan.Remove, Argv: []string{"unmake"}}}
	id := b.crash(tagNode("a", mk, plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"cut"}}), 1, false)
	if job := b.job(id); job.Status != statefile.JobCrashed {
		t.Fatalf("job is %s, want crashed", job.Status)
	}
	left, err := b.e.LeftToDo(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := stepArgs(left); got != "cut,copy" { // "cut" has no undo to run first
		t.Errorf("left to do: %s", got)
	}
	before := len(b.nodes["node2"].Calls())
	out, err := b.e.Resume(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, c := range b.nodes["node2"].Calls()[before:] {
		ran = append(ran, c.Argv[0])
	}
	if strings.Join(ran, ",") != "cut" {
		t.Errorf("resume ran %v on node2, want only the cut-off step", ran)
	}
	if st := b.state(); !out.Committed || st.Nodes["node2"].Tags[0] != "a" {
		t.Errorf("resume did not commit: %+v", out)
	}
	if job := b.job(id); job.Status != statefile.JobSuccess {
		t.Errorf("job %s", job.Status)
	}
}

func TestAbortUndoesACutOffJob(t *testing.T) {
	b := newBed(t)
	mk := plan.Step{Node: "node2", Action: plan.Create, Argv: []string{"make"}, Undo: &plan.Step{Node: "node2", Action: plan.Remove, Argv: []string{"unmake"}}}
	id := b.crash(tagNode("a", mk, plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"cut"}}), 1, false)
	left, err := b.e.LeftToDo(context.Background(), id, false)
	if err != nil || stepArgs(left) != "unmake" {
		t.Fatalf("abort would run %s (%v)", stepArgs(left), err)
	}
	out, err := b.e.Abort(context.Background(), id)
	if err != nil || !out.Aborted {
		t.Fatalf("abort: %+v %v", out, err)
	}
	if calls := b.nodes["node2"].Calls(); len(calls) != 1 || calls[0].Argv[0] != "unmake" {
		t.Errorf("abort ran %v, want the undo of the done step only", calls)
	}
	if st := b.state(); len(st.Nodes["node2"].Tags) != 0 {
		t.Error("abort committed")
	}
	if job := b.job(id); job.Status != statefile.JobCanceled {
		t.Errorf("job %s", job.Status)
	}
	if _, err := b.e.Resume(context.Background(), id); err == nil {
		t.Error("an aborted job was resumed")
	}
}

func TestAbortRefusals(t *testing.T) {
	b := newBed(t)
	req := tagNode("a", plan.Step{Node: "node2", Action: plan.Remove, Desc: "wipe", Argv: []string{"wipe"}}, plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"cut"}})
	id := b.crash(req, 1, false)
	if _, err := b.e.Abort(context.Background(), id); err == nil || !strings.Contains(err.Error(), `"wipe"`) {
		t.Errorf("abort past a removal without undo: %v", err)
	}
	b.e.Lookup = func(plan.OpID) (playbooks.OpInfo, bool) { return playbooks.OpInfo{Undo: playbooks.Irreversible}, true }
	mk := plan.Step{Node: "node2", Action: plan.Create, Argv: []string{"make"}, Undo: &plan.Step{Node: "node2", Action: plan.Remove, Argv: []string{"unmake"}}}
	id = b.crash(tagNode("b", mk, plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"cut2"}}), 1, false)
	var in *InputError
	if _, err := b.e.Abort(context.Background(), id); !errors.As(err, &in) || !strings.Contains(err.Error(), "job resume") {
		t.Errorf("abort of an irreversible opcode: %v", err)
	}
	if _, err := b.e.Resume(context.Background(), 999); !errors.As(err, &in) {
		t.Errorf("resume of no job: %v", err)
	}
}

func TestSettledOpcode(t *testing.T) {
	b := newBed(t)
	settled, finished := 0, 0
	b.e.Lookup = func(plan.OpID) (playbooks.OpInfo, bool) {
		return playbooks.OpInfo{Undo: playbooks.Settle,
			Settle: func(p *plan.Plan) playbooks.Request { settled++; return tagNode("settled") },
			Finish: func(p *plan.Plan, st *statefile.State) (playbooks.Request, bool) {
				finished++
				return tagNode("finished"), true
			}}, true
	}
	id := b.crash(tagNode("a", plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"cut"}}), 0, false)
	if _, err := b.e.Resume(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if tags := strings.Join(b.state().Nodes["node2"].Tags, ","); settled != 1 || finished != 1 || tags != "finished,settled" { // tags are kept sorted
		t.Errorf("settled %d, finished %d, tags %s", settled, finished, tags)
	}
}

func TestResumeAfterTheCommitOnlyReplicates(t *testing.T) {
	b := newBed(t)
	id := b.crash(tagNode("a", plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"work"}}), 1, true)
	serial := b.state().Serial
	left, err := b.e.LeftToDo(context.Background(), id, false)
	if err != nil || stepArgs(left) != "copy" || len(left.Changes) != 0 {
		t.Fatalf("after the commit only the copy is left, got %q (%v)", stepArgs(left), err)
	}
	if _, err := b.e.Abort(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if len(b.rep.notes) == 0 || !strings.Contains(b.rep.notes[0], "already committed") {
		t.Errorf("notes %v", b.rep.notes)
	}
	if st := b.state(); st.Serial != serial {
		t.Errorf("committed again: serial %d -> %d", serial, st.Serial)
	}
	if calls := b.nodes["node2"].Calls(); len(calls) != 0 {
		t.Errorf("ran %v again", calls)
	}
	if _, ok := b.nodes["node1"].File(playbooks.StateReplicaPath); !ok {
		t.Error("the state was not copied")
	}
}

func TestSavedPlanAppliesOnce(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	pl, err := b.e.Plan(ctx, tagNode("a"))
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/p.plan"
	if err := b.e.NewSaved(pl, []string{"x"}).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	sp, err := LoadSaved(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.ApplySaved(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if b.state().Nodes["node2"].Tags[0] != "a" {
		t.Error("not applied")
	}
	sp, _ = LoadSaved(path)
	var refused *RefusedError
	if _, err := b.e.ApplySaved(ctx, sp); !errors.As(err, &refused) || !strings.Contains(err.Error(), "already applied") {
		t.Errorf("second apply: %v", err)
	}
	// A plan made before another change is stale.
	pl, _ = b.e.Plan(ctx, tagNode("b"))
	if _, err := b.e.Run(ctx, tagNode("c")); err != nil {
		t.Fatal(err)
	}
	var stale *plan.StaleError
	if _, err := b.e.ApplySaved(ctx, b.e.NewSaved(pl, nil)); !errors.As(err, &stale) {
		t.Errorf("stale plan: %v", err)
	}
}

func TestCrashedFindingsWithoutClaims(t *testing.T) {
	b := newBed(t)
	b.crash(tagNode("a", plan.Step{Node: "node2", Action: plan.Exec, Argv: []string{"cut"}}), 0, false)
	// Its claims died with it before any lock was taken: nothing claimed.
	if fs := b.e.CrashedFindings(context.Background(), "cluster.test"); len(fs) != 0 {
		t.Errorf("findings %+v", fs)
	}
	if got := b.e.CrashedJobOn(context.Background(), "TEST_TAG", "node2"); got != 0 {
		t.Errorf("job on: %d", got)
	}
}

// stepArgs names a plan's steps by their argv[0], in order ("copy" for
// the state's copies).
func stepArgs(p *plan.Plan) string {
	var out []string
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			if s.Source == plan.SourceState {
				out = append(out, "copy")
				continue
			}
			out = append(out, s.Argv[0])
		}
	}
	return strings.Join(out, ",")
}

func TestOutcomeJSON(t *testing.T) {
	b, _ := json.Marshal(&Outcome{Operation: "X", Committed: true, Serial: 3})
	if string(b) != `{"operation":"X","committed":true,"serial":3,"failed_steps":0}` {
		t.Errorf("%s", b)
	}
}

func TestRunReportsLateFailuresNotesAndHelperContent(t *testing.T) {
	b := newBed(t)
	b.e.Content = func(ctx context.Context, source string) ([]byte, error) {
		if source != plan.HelperSource("amd64") {
			return nil, fmt.Errorf("unknown %s", source)
		}
		return []byte("helper"), nil
	}
	req := tagNode("a", plan.Step{Node: "node2", Action: plan.Upload, Path: "/var/lib/ganetictl/helper-x", Mode: 0o755, Source: plan.HelperSource("amd64")})
	inner := req.Plan
	req.Plan = func(env playbooks.Env) (*plan.Plan, error) {
		p, err := inner(env)
		playbooks.ReplicateTo(p, "node3") // not reachable: the copy fails after the commit
		p.Notes = []string{"look here"}
		return p, err
	}
	out, err := b.e.Run(context.Background(), req)
	if err != nil || !out.Committed {
		t.Fatalf("a failed copy after the commit fails nothing: %+v %v", out, err)
	}
	if got, _ := b.nodes["node2"].File("/var/lib/ganetictl/helper-x"); string(got) != "helper" {
		t.Errorf("helper uploaded as %q", got)
	}
	if len(b.rep.warnings) != 1 || !strings.Contains(b.rep.warnings[0], "node3") || len(b.rep.notes) != 1 || b.rep.notes[0] != "look here" {
		t.Errorf("warnings %v, notes %v", b.rep.warnings, b.rep.notes)
	} // The notes are in the job's log too (job info), as Ganeti's execution log.
	if log := b.job(out.JobID).Log; len(log) != 1 || !strings.HasSuffix(log[0], " look here") {
		t.Errorf("job log %q", log)
	}
}

func TestSubmittedJobIsTakenOver(t *testing.T) {
	b := newBed(t)
	j, _ := b.store.Journal()
	queued := &statefile.Job{Operation: "tag", Status: statefile.JobQueued}
	if err := j.Create(context.Background(), queued); err != nil {
		t.Fatal(err)
	}
	b.e.Submitted = queued.ID
	out, err := b.e.Run(context.Background(), tagNode("a"))
	if err != nil || out.JobID != queued.ID {
		t.Fatalf("ran as job %d (%v), want the queued %d", out.JobID, err, queued.ID)
	}
	if job := b.job(queued.ID); job.Status != statefile.JobSuccess {
		t.Errorf("job %s", job.Status)
	}
}

func TestLockWholeAndReplicate(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	lk, unlock, err := b.e.LockWhole(ctx, "state import")
	if err != nil || lk == nil {
		t.Fatal(err)
	}
	if _, _, err := b.e.LockWhole(ctx, "state rollback"); err == nil {
		t.Error("the whole state was locked twice")
	}
	unlock()
	if err := b.e.Replicate(ctx, []string{"node1", "node2"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := b.store.ReadRaw(ctx)
	for _, n := range []string{"node1", "node2"} {
		if got, _ := b.nodes[n].File(playbooks.StateReplicaPath); string(got) != string(raw) {
			t.Errorf("%s has no copy", n)
		}
	}
	if err := b.e.Replicate(ctx, []string{"node3"}); err == nil {
		t.Error("a copy to an unreachable node did not fail")
	}
}

func TestGatherAndRead(t *testing.T) {
	b := newBed(t)
	b.nodes["node1"].Handle(remotetest.Prefix("sh", "-c"), remotetest.Reply("@@hostname\nnode1\n@@end\n"))
	f := b.e.Gather(context.Background(), b.state(), []string{"node1", "node3"}, playbooks.PartVGs)
	if !f["node1"].Reachable || f["node3"].Reachable || f["node3"].Err == "" {
		t.Errorf("facts %+v %+v", f["node1"], f["node3"])
	}
	res := b.e.Read(context.Background(), []plan.Step{{Node: "node2", Action: plan.Read, Argv: []string{"uptime"}}})
	if len(res) != 1 || res[0].Err != nil {
		t.Errorf("read %+v", res)
	}
}

// TestPlanCancelledWhileGathering: a job cancelled while it asks the
// nodes for facts (job cancel of a queued job) ends cancelled, not with
// the planner's "node not reachable" for the connections the cancel cut.
func TestPlanCancelledWhileGathering(t *testing.T) {
	b := newBed(t)
	ctx, cancel := context.WithCancel(context.Background())
	b.nodes["node2"].Handle(remotetest.Prefix("sh", "-c"), func(context.Context, remote.Command) (remote.Result, error) {
		cancel()
		return remote.Result{}, context.Canceled
	})
	planned := false
	_, err := b.e.Plan(ctx, playbooks.Request{ID: "TEST", Label: "test",
		Needs: func(*statefile.State) playbooks.Needs { return playbooks.Needs{Nodes: []string{"node2"}} },
		Plan: func(e playbooks.Env) (*plan.Plan, error) {
			planned = true
			return nil, &playbooks.PrereqError{Type: playbooks.ErrEnvironment, Msg: "Node node2 is not reachable"}
		}})
	if !errors.Is(err, context.Canceled) || planned {
		t.Errorf("err %v (planned %v), want context.Canceled before planning", err, planned)
	}
}
