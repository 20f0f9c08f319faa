package playbooks

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

func TestGroupRefusals(t *testing.T) {
	env := instanceEnv(t)
	env.State.Cluster.EnabledDiskTemplates = append(env.State.Cluster.EnabledDiskTemplates, "drbd")
	mustApply(t, must(GroupAdd(env, GroupArgs{Name: "rack2"})), env.State)
	// A drbd instance over node1 and node2 (its disks name both nodes).
	env.State.Instances["db1"] = &statefile.Instance{Name: "db1", PrimaryNode: "node1", DiskTemplate: storage.DRBD,
		Disks: []*statefile.Disk{{DevType: statefile.DevDRBD, Nodes: []string{"node1", "node2"}}}}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"add an existing group", errOf(GroupAdd(env, GroupArgs{Name: "rack2"})), "already exists as a node group"},
		{"a bad policy", errOf(GroupAdd(env, GroupArgs{Name: "x", AllocPolicy: "sometimes"})), "Invalid allocation policy 'sometimes'"},
		{"ratios", errOf(GroupAdd(env, GroupArgs{Name: "x", IPolicy: &statefile.IPolicy{DiskTemplates: []string{"floppy"}}})), `unknown disk template "floppy"`},
		{"partial bounds", errOf(GroupAdd(env, GroupArgs{Name: "x", IPolicy: &statefile.IPolicy{MinMax: []statefile.MinMax{{Min: statefile.ISpec{"memory-size": 1}, Max: statefile.ISpec{"memory-size": 2}}}}})), "min lacks cpu-count"},
		{"modify nothing", errOf(GroupModify(env, GroupArgs{Name: "rack2"})), "at least one modification"},
		{"unknown group", errOf(GroupRemove(env, "rack9")), "Node group 'rack9' not found"},
		{"remove a group with nodes", errOf(GroupRemove(env, "default")), "not empty, has the following nodes: node1, node2"},
		{"rename onto another", errOf(GroupRename(env, RenameArgs{Name: "default", NewName: "rack2"})), "clashes with existing node group"},
		{"split a mirror", errOf(GroupAssignNodes(env, AssignArgs{Group: "rack2", Nodes: []string{"node2"}})), "get split by this change and --force was not given: db1"},
		{"unknown node", errOf(GroupAssignNodes(env, AssignArgs{Group: "rack2", Nodes: []string{"node9"}})), "Node 'node9' not known"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	// Moving both nodes keeps the mirror whole: no split.
	p, err := GroupAssignNodes(env, AssignArgs{Group: "rack2", Nodes: []string{"node1", "node2"}})
	if err != nil || len(p.Warnings) > 0 {
		t.Fatalf("moving both nodes: %v %v", err, p.Warnings)
	}
	mustApply(t, p, env.State)
	if errOf(GroupRemove(env, "rack2")) == nil {
		t.Error("removed a group with nodes")
	}
	mustApply(t, must(GroupRemove(env, "default")), env.State)
	empty := Env{State: statefile.New("l")}
	empty.State.NodeGroups["only"] = &statefile.NodeGroup{Name: "only"}
	if err := errOf(GroupRemove(empty, "only")); err == nil || !strings.Contains(err.Error(), "only group") {
		t.Errorf("the last group: %v", err)
	}
}

func TestIPolicyViolations(t *testing.T) {
	pol := DefaultIPolicy()
	if v := IPolicyViolations(pol, statefile.ISpec{statefile.SpecMemorySize: 512, statefile.SpecCPUCount: 2}, "plain"); len(v) != 0 {
		t.Errorf("within bounds: %v", v)
	}
	pol.DiskTemplates = []string{"drbd"}
	v := IPolicyViolations(pol, statefile.ISpec{statefile.SpecMemorySize: 64, statefile.SpecCPUCount: 9}, "plain")
	got := strings.Join(v, "; ")
	for _, want := range []string{"Disk template plain is not allowed", "memory-size value 64 is not in range [128, 32768]", "cpu-count value 9 is not in range [1, 8]"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %s", want, got)
		}
	}
}

func must(p *plan.Plan, err error) *plan.Plan {
	if err != nil {
		panic(err)
	}
	return p
}

func errOf(_ *plan.Plan, err error) error { return err }

func TestSelectInstances(t *testing.T) {
	st := statefile.New("l")
	for _, n := range []struct {
		name string
		tags []string
	}{{"node1", []string{"rack1"}}, {"node2", nil}, {"node3", []string{"rack3"}}} {
		st.Nodes[n.name] = &statefile.Node{Name: n.name, Tags: n.tags}
	}
	add := func(name, pri, sec string, tags ...string) {
		i := &statefile.Instance{Name: name, PrimaryNode: pri, Tags: tags}
		if sec != "" {
			i.Disks = []*statefile.Disk{{Nodes: []string{pri, sec}}}
		}
		st.Instances[name] = i
	}
	add("a", "node1", "node2", "web")
	add("b", "node2", "node3")
	add("c", "node3", "", "web", "db")
	for _, tc := range []struct {
		mode string
		args []string
		want string
		err  string
	}{
		{SelectNames, []string{"b", "a"}, "b,a", ""},
		{SelectNames, []string{"z"}, "", "Instance 'z' not known"},
		{SelectNames, nil, "", "name at least one"},
		{SelectAll, nil, "a,b,c", ""},
		{SelectAll, []string{"x"}, "", "takes no arguments"},
		{SelectNode, []string{"node2"}, "a,b", ""},
		{SelectPrimary, []string{"node2"}, "b", ""},
		{SelectSecondary, []string{"node2"}, "a", ""},
		{SelectSecondary, []string{"node9"}, "", "Node 'node9' not known"},
		{SelectTags, []string{"web"}, "a,c", ""},
		{SelectNodeTags, []string{"rack3"}, "b,c", ""},
		{SelectPriNodeTags, []string{"rack1", "rack3"}, "a,c", ""},
		{SelectSecNodeTags, []string{"rack3"}, "b", ""},
	} {
		got, err := SelectInstances(st, tc.mode, tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %v: %v, want %q", tc.mode, tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%s %v = %v (%v), want %s", tc.mode, tc.args, got, err, tc.want)
		}
	}
}

func TestInstancePolicyEnforced(t *testing.T) {
	env := instanceEnv(t)
	add := InstanceAddArgs{Name: "web1", Template: "file", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}}
	// No policy set: Ganeti's defaults are shown, not enforced.
	if _, err := InstanceAdd(env, add); err != nil {
		t.Fatalf("without a policy: %v", err)
	}
	pol := DefaultIPolicy()
	env.State.Cluster.IPolicy = &pol
	_, err := InstanceAdd(env, add)
	if err == nil || !strings.Contains(err.Error(), "disk-size value 64 is not in range [1024, 1048576]") || !strings.Contains(err.Error(), "--ignore-ipolicy") {
		t.Errorf("a 64 MiB disk under Ganeti's default policy: %v", err)
	}
	add.IgnoreIPolicy = true
	if _, err := InstanceAdd(env, add); err != nil {
		t.Errorf("--ignore-ipolicy: %v", err)
	}
	// A group's stricter policy applies to its nodes.
	env.State.Cluster.IPolicy = nil
	env.State.NodeGroups["default"].IPolicy = &statefile.IPolicy{DiskTemplates: []string{"plain"}}
	add.IgnoreIPolicy = false
	if _, err := InstanceAdd(env, add); err == nil || !strings.Contains(err.Error(), "Disk template file is not allowed") {
		t.Errorf("the group's templates: %v", err)
	}
}
