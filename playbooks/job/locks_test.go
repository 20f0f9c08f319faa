package job

import (
	"slices"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

func TestPlanLocks(t *testing.T) {
	cl := statefile.LockReq{Level: statefile.LevelCluster}
	clX := statefile.LockReq{Level: statefile.LevelCluster, Exclusive: true}
	inst := func(n string) statefile.LockReq {
		return statefile.LockReq{Level: statefile.LevelInstance, Name: n, Exclusive: true}
	}
	node := func(n string, x bool) statefile.LockReq {
		return statefile.LockReq{Level: statefile.LevelNode, Name: n, Exclusive: x}
	}
	res := func(n string, x bool) statefile.LockReq {
		return statefile.LockReq{Level: statefile.LevelNodeRes, Name: n, Exclusive: x}
	}
	for _, tc := range []struct {
		name string
		mk   func(p *plan.Plan)
		want []statefile.LockReq
	}{
		{"instance create: its nodes' resources exclusively", func(p *plan.Plan) {
			p.Op = plan.InstanceOp("INSTANCE_CREATE", "web1")
			p.Add("disks", plan.Abort, plan.Step{Node: "node1", Action: plan.Create}, plan.Step{Node: "node2", Action: plan.Create})
			p.Set(plan.KindInstance, "web1", nil, &statefile.Instance{Name: "web1"})
		}, []statefile.LockReq{cl, inst("web1"), node("node1", false), node("node2", false), res("node1", true), res("node2", true)}},
		{"reboot changes nothing in the state but locks its instance", func(p *plan.Plan) {
			p.Op = plan.InstanceOp("INSTANCE_REBOOT", "web1")
			p.Add("stop", plan.Abort, plan.Step{Node: "node1", Action: plan.Remove}, plan.Step{Node: "node1", Action: plan.Create})
		}, []statefile.LockReq{cl, inst("web1"), node("node1", false), res("node1", true)}},
		{"shutdown shares the node's resources", func(p *plan.Plan) {
			p.Op = plan.InstanceOp("INSTANCE_SHUTDOWN", "web1")
			p.Add("stop", plan.Abort, plan.Step{Node: "node1", Action: plan.Remove})
		}, []statefile.LockReq{cl, inst("web1"), node("node1", false), res("node1", false)}},
		{"node modify locks the node exclusively", func(p *plan.Plan) {
			p.Op = plan.NodeOp("NODE_MODIFY", "node3")
			p.Set(plan.KindNode, "node3", &statefile.Node{Name: "node3"}, &statefile.Node{Name: "node3", Drained: true})
		}, []statefile.LockReq{cl, node("node3", true)}},
		{"network connect locks the network it names and the groups it changes", func(p *plan.Plan) {
			p.Op = plan.Op{ID: "NETWORK_CONNECT", Kind: plan.KindNetwork, Name: "test"}
			p.Set(plan.KindNodeGroup, "default", &statefile.NodeGroup{Name: "default"},
				&statefile.NodeGroup{Name: "default", Networks: map[string]statefile.Params{"test": {"link": "br0"}}})
		}, []statefile.LockReq{cl, {Level: statefile.LevelNodeGroup, Name: "default", Exclusive: true}, {Level: statefile.LevelNetwork, Name: "test", Exclusive: true}}},
		{"an address from a pool locks the network", func(p *plan.Plan) {
			p.Op = plan.InstanceOp("INSTANCE_CREATE", "web1")
			p.Set(plan.KindInstance, "web1", nil, &statefile.Instance{Name: "web1"})
			p.Set(plan.KindNetwork, "test", &statefile.Network{Name: "test"}, &statefile.Network{Name: "test", Reservations: "0100"})
		}, []statefile.LockReq{cl, inst("web1"), {Level: statefile.LevelNetwork, Name: "test", Exclusive: true}}},
		{"a cluster change takes the cluster exclusively", func(p *plan.Plan) {
			p.Op = plan.ClusterOp("CLUSTER_MODIFY")
			p.Set(plan.KindCluster, "c", &statefile.Cluster{Name: "c"}, &statefile.Cluster{Name: "c", Tags: []string{"x"}})
		}, []statefile.LockReq{clX}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan.New(plan.Op{ID: ""}, "l", 1)
			tc.mk(p)
			if got := Locks(p); !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestIrreversible(t *testing.T) {
	rm := func(d string) plan.Step { return plan.Step{Node: "n1", Action: plan.Remove, Desc: d} }
	mk := plan.Step{Node: "n2", Action: plan.Create, Desc: "create", Undo: &plan.Step{Node: "n2", Action: plan.Remove}}
	p := plan.New(plan.InstanceOp("INSTANCE_MOVE", "x"), "l", 1)
	p.Add("leftovers", plan.Continue, rm("remove leftovers"))
	p.Add("create", plan.Abort, mk)
	p.Add("remove source", plan.Continue, rm("remove the source disk"))
	id := func(s, i int) apply.StepID { return apply.StepID{Stage: s, Index: i} }
	if why := irreversible(p, map[apply.StepID]bool{id(0, 0): true, id(1, 0): true}, nil); why != "" {
		t.Errorf("before the source is removed, abort is fine: %s", why)
	}
	if why := irreversible(p, map[apply.StepID]bool{id(0, 0): true, id(1, 0): true}, map[apply.StepID]bool{id(2, 0): true}); why == "" {
		t.Error("once the source removal started, abort must refuse")
	}
	only := plan.New(plan.InstanceOp("INSTANCE_REMOVE", "x"), "l", 1)
	only.Add("remove", plan.Abort, rm("remove the disk"))
	if why := irreversible(only, map[apply.StepID]bool{id(0, 0): true}, nil); why == "" {
		t.Error("a plan that only removes cannot be rolled back")
	}
}

func TestCutOffRun(t *testing.T) {
	rec := func(stage, idx int, st statefile.JobStatus, undo bool) statefile.StepRecord {
		return statefile.StepRecord{StageIndex: stage, Index: idx, Status: st, Undo: undo}
	}
	ok, run, can, bad := statefile.JobSuccess, statefile.JobRunning, statefile.JobCanceled, statefile.JobError
	id := func(s, i int) apply.StepID { return apply.StepID{Stage: s, Index: i} }
	for _, tc := range []struct {
		name      string
		steps     []statefile.StepRecord
		done, cut []apply.StepID
		failed    bool
	}{
		{"cut in stage 2", []statefile.StepRecord{rec(0, 0, ok, false), rec(1, 0, run, false)}, []apply.StepID{id(0, 0)}, []apply.StepID{id(1, 0)}, false},
		{"resumed, cut again in the redo's undo", []statefile.StepRecord{rec(0, 0, ok, false), rec(1, 0, can, false), rec(1, 0, run, true)},
			[]apply.StepID{id(0, 0)}, []apply.StepID{id(1, 0)}, false},
		{"resumed, redone, cut later", []statefile.StepRecord{rec(0, 0, ok, false), rec(1, 0, can, false), rec(1, 0, ok, true), rec(1, 0, ok, false), rec(2, 0, run, false)},
			[]apply.StepID{id(0, 0), id(1, 0)}, []apply.StepID{id(2, 0)}, false},
		{"died rolling back", []statefile.StepRecord{rec(0, 0, ok, false), rec(1, 0, bad, false), rec(0, 0, run, true)},
			[]apply.StepID{id(0, 0)}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, cut, failed := cutOffRun(tc.steps)
			if failed != tc.failed || len(done) != len(tc.done) || len(cut) != len(tc.cut) {
				t.Fatalf("done %v cut %v failed %v", done, cut, failed)
			}
			for _, k := range tc.done {
				if !done[k] {
					t.Errorf("%v not done", k)
				}
			}
			for _, k := range tc.cut {
				if !cut[k] {
					t.Errorf("%v not cut", k)
				}
			}
		})
	}
}

func TestLeftToDo(t *testing.T) {
	u := func(d string) *plan.Step { return &plan.Step{Node: "n1", Action: plan.Remove, Desc: "undo " + d} }
	p := plan.New(plan.Op{ID: "X"}, "l", 1)
	p.Add("a", plan.Abort, plan.Step{Node: "n1", Desc: "a", Undo: u("a")})
	p.Add("b", plan.Abort, plan.Step{Node: "n1", Desc: "b", Undo: u("b")}, plan.Step{Node: "n2", Desc: "b2"})
	p.Add("c", plan.Abort, plan.Step{Node: "n1", Desc: "c"})
	done := map[apply.StepID]bool{{Stage: 0, Index: 0}: true, {Stage: 1, Index: 1}: true}
	cut := map[apply.StepID]bool{{Stage: 1, Index: 0}: true}
	descs := func(p *plan.Plan) (out []string) {
		for _, st := range p.Stages {
			for _, s := range st.Steps {
				out = append(out, s.Desc)
			}
		}
		return out
	}
	if got := descs(leftToDo(p, done, cut, true)); !slices.Equal(got, []string{"undo b", "b", "c"}) {
		t.Errorf("resume: %v", got)
	}
	if got := descs(leftToDo(p, done, cut, false)); !slices.Equal(got, []string{"undo b", "undo a"}) {
		t.Errorf("abort: %v", got)
	}
}
