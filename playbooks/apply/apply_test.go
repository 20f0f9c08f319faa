package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
	"github.com/ganetictl/ganetictl/statefile"
)

// fakes is a Runners of remotetest.Fake nodes.
type fakes map[string]*remotetest.Fake

func (f fakes) Get(ctx context.Context, node string) (remote.Runner, error) {
	r, ok := f[node]
	if !ok {
		return nil, fmt.Errorf("%s: connect: %w", node, remote.ErrUnreachable)
	}
	return r, nil
}

func newFakes(names ...string) fakes {
	f := fakes{}
	for _, n := range names {
		fake := remotetest.NewFake(n)
		fake.Unmatched = remotetest.Reply("")
		f[n] = fake
	}
	return f
}

func argvs(f *remotetest.Fake) []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, strings.Join(c.Argv, " "))
	}
	return out
}

func state(t *testing.T) *statefile.State {
	st := statefile.New("lin")
	st.Cluster.Name = "c"
	st.Nodes["node1"] = &statefile.Node{Name: "node1", Tags: []string{}}
	return st
}

func TestRunCommitsAfterStages(t *testing.T) {
	rs := newFakes("node1", "node2")
	st := state(t)
	p := plan.New(plan.Op{ID: "TEST"}, st.Lineage, st.Serial)
	p.Add("one", plan.Abort, plan.Step{Node: "node1", Action: plan.Create, Argv: []string{"touch", "/a"}},
		plan.Step{Node: "node2", Action: plan.Create, Argv: []string{"touch", "/b"}})
	p.Add("two", plan.Abort, plan.Step{Node: "node2", Action: plan.Upload, Path: "/etc/x", Mode: 0o600, Content: []byte("hi")})
	after := *st.Nodes["node1"]
	after.Tags = []string{"t"}
	if err := p.Set(plan.KindNode, "node1", st.Nodes["node1"], &after); err != nil {
		t.Fatal(err)
	}
	committed := st.Clone()
	res, err := Run(t.Context(), p, rs, func(ctx context.Context, p *plan.Plan) (int64, error) {
		return 7, p.ApplyChanges(committed, time.Now())
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed || res.Serial != 7 || committed.Nodes["node1"].Tags[0] != "t" {
		t.Fatalf("result %+v, committed %+v", res, committed)
	}
	if b, ok := rs["node2"].File("/etc/x"); !ok || string(b) != "hi" {
		t.Errorf("upload: %q %v", b, ok)
	}
	if got := argvs(rs["node1"]); len(got) != 1 || got[0] != "touch /a" {
		t.Errorf("node1 ran %v", got)
	}
}

func TestAbortUndoesNewestFirst(t *testing.T) {
	rs := newFakes("node1", "node2")
	rs["node2"].Handle(remotetest.Exact("lvcreate", "disk1"), remotetest.Fail(5, "  Insufficient free space"))
	st := state(t)
	p := plan.New(plan.Op{ID: "TEST"}, st.Lineage, st.Serial)
	undo := func(node, what string) *plan.Step {
		return &plan.Step{Node: node, Action: plan.Remove, Desc: "undo " + what, Argv: []string{"lvremove", what}}
	}
	p.Add("disk0", plan.Abort, plan.Step{Node: "node1", Action: plan.Create, Argv: []string{"lvcreate", "disk0"}, Undo: undo("node1", "disk0")})
	p.Add("disk1", plan.Abort,
		plan.Step{Node: "node1", Action: plan.Create, Argv: []string{"lvcreate", "meta"}, Undo: undo("node1", "meta")},
		plan.Step{Node: "node2", Action: plan.Create, Argv: []string{"lvcreate", "disk1"}, Undo: undo("node2", "disk1")})
	p.Add("never", plan.Abort, plan.Step{Node: "node1", Action: plan.Exec, Argv: []string{"start"}})
	if err := p.Set(plan.KindNode, "node9", nil, &statefile.Node{Name: "node9"}); err != nil {
		t.Fatal(err)
	}
	committed := false
	res, err := Run(t.Context(), p, rs, func(context.Context, *plan.Plan) (int64, error) { committed = true; return 1, nil }, Options{})
	if err == nil || !strings.Contains(err.Error(), "node2: lvcreate disk1: exit 5: Insufficient free space") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("Run error = %v", err)
	}
	if committed || !res.RolledBack {
		t.Errorf("committed=%v rolledBack=%v", committed, res.RolledBack)
	}
	got := strings.Join(argvs(rs["node1"]), "; ")
	if got != "lvcreate disk0; lvcreate meta; lvremove meta; lvremove disk0" {
		t.Errorf("node1 ran: %s", got)
	}
	if got := argvs(rs["node2"]); len(got) != 1 {
		t.Errorf("node2 must not undo its failed step: %v", got)
	}
}

func TestContinueRunsAll(t *testing.T) {
	rs := newFakes("node1", "node2")
	rs["node1"].Handle(remotetest.Prefix("false"), remotetest.Fail(1, ""))
	p := plan.New(plan.Op{ID: "CMD"}, "", 0)
	p.Add("cmd", plan.Continue, plan.Step{Node: "node1", Argv: []string{"false"}}, plan.Step{Node: "node2", Argv: []string{"true"}},
		plan.Step{Node: "node3", Argv: []string{"true"}})
	res, err := Run(t.Context(), p, rs, nil, Options{})
	if err == nil || res.Failed != 2 {
		t.Fatalf("err=%v failed=%d", err, res.Failed)
	}
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("unreachable node3 should surface: %v", err)
	}
	if len(argvs(rs["node2"])) != 1 {
		t.Error("node2 did not run")
	}
}

func TestResumeAndUndoCutOffRun(t *testing.T) {
	rs := newFakes("node1")
	p := plan.New(plan.Op{ID: "TEST"}, "", 0)
	undo := func(what string) *plan.Step {
		return &plan.Step{Node: "node1", Action: plan.Remove, Argv: []string{"lvremove", what}}
	}
	p.Add("a", plan.Abort, plan.Step{Node: "node1", Action: plan.Create, Argv: []string{"lvcreate", "a"}, Undo: undo("a")})
	p.Add("b", plan.Abort, plan.Step{Node: "node1", Action: plan.Create, Argv: []string{"lvcreate", "b"}, Undo: undo("b")})
	p.Add("c", plan.Abort, plan.Step{Node: "node1", Action: plan.Exec, Argv: []string{"start"}})
	done := map[StepID]bool{{0, 0}: true}
	cut := map[StepID]bool{{1, 0}: true}
	if _, err := Run(t.Context(), p, rs, nil, Options{Done: done, Redo: cut}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(argvs(rs["node1"]), "; "); got != "lvremove b; lvcreate b; start" {
		t.Errorf("resume ran: %s", got)
	}
	rs = newFakes("node1")
	rs["node1"].Handle(remotetest.Exact("lvremove", "b"), remotetest.Fail(5, "not found"))
	if err := Undo(t.Context(), p, rs, done, cut, Options{}); err != nil {
		t.Fatalf("a cut-off step's failed undo is not an error: %v", err)
	}
	if got := strings.Join(argvs(rs["node1"]), "; "); got != "lvremove b; lvremove a" {
		t.Errorf("abort ran: %s", got)
	}
}

func TestSecretsResolvedButNeverReported(t *testing.T) {
	rs := newFakes("node1")
	rs["node1"].Handle(remotetest.Prefix("drbdsetup"), remotetest.Fail(10, "bad"))
	p := plan.New(plan.Op{ID: "X"}, "", 0)
	secret := p.Secret("disk0", "s3cr3t")
	p.Add("net", plan.Abort, plan.Step{Node: "node1", Argv: []string{"drbdsetup", secret, "net"}})
	_, err := Run(t.Context(), p, rs, nil, Options{})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error must not leak the secret: %v", err)
	}
	if c := rs["node1"].Calls(); len(c) != 1 || c[0].Argv[1] != "s3cr3t" {
		t.Errorf("the node must get the secret: %+v", c)
	}
}

func TestParallelBound(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	rs := fakes{}
	var steps []plan.Step
	for i := range 20 {
		n := fmt.Sprintf("node%d", i)
		f := remotetest.NewFake(n)
		f.Handle(remotetest.Prefix("sleep"), func(ctx context.Context, c remote.Command) (remote.Result, error) {
			mu.Lock()
			cur++
			peak = max(peak, cur)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			cur--
			mu.Unlock()
			return remote.Result{}, nil
		})
		rs[n] = f
		steps = append(steps, plan.Step{Node: n, Argv: []string{"sleep"}})
	}
	res := Gather(t.Context(), steps, rs, Options{Parallel: 4})
	if res[0].Duration < 10*time.Millisecond {
		t.Errorf("step duration %s, want at least the 10ms the step slept", res[0].Duration)
	}
	if len(res) != 20 || peak > 4 || peak < 2 {
		t.Errorf("results %d, peak concurrency %d (bound 4)", len(res), peak)
	}
	for i, r := range res {
		if r.Index != i {
			t.Fatalf("results out of order at %d", i)
		}
	}
}
