package playbooks

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestRepairTags(t *testing.T) {
	for _, tag := range []string{
		"ganeti:watcher:autorepair:pending:fix-storage:abc:1700000000:12+13",
		"ganeti:watcher:autorepair:result:reinstall:abc:1700000000:failure:12",
		"ganeti:watcher:autorepair:result:failover:abc:1700000000:enoperm:",
	} {
		d, ok, err := ParseRepairTag(tag)
		if !ok || err != nil {
			t.Fatalf("ParseRepairTag(%q) = %v, %v", tag, ok, err)
		}
		if got := d.Tag(); got != tag {
			t.Errorf("ParseRepairTag(%q).Tag() = %q", tag, got)
		}
	}
	for _, bad := range []string{
		"ganeti:watcher:autorepair:pending:fix-storage:abc:1700000000",
		"ganeti:watcher:autorepair:result:repaint:abc:1700000000:success:1",
		"ganeti:watcher:autorepair:result:failover:abc:soon:success:1",
		"ganeti:watcher:autorepair:result:failover:abc:1:maybe:1",
		"ganeti:watcher:autorepair:pending:failover:abc:1:x+y",
	} {
		if _, ok, err := ParseRepairTag(bad); !ok || err == nil {
			t.Errorf("ParseRepairTag(%q): want an error, got ok=%v err=%v", bad, ok, err)
		}
	}
	if _, ok, _ := ParseRepairTag("ganeti:watcher:autorepair:failover"); ok {
		t.Error("a permission tag read as a repair")
	}
}

// TestRepairPolicy: the guide's example (I1 has failover, the cluster
// fix-storage and reinstall: I1 gets failover, I2 fix-storage), groups in
// between, and suspensions.
func TestRepairPolicy(t *testing.T) {
	now := time.Unix(1700000000, 0)
	st := initState(t, "node2")
	st.Cluster.Tags = []string{RepairTagPrefix + "fix-storage", RepairTagPrefix + "reinstall"}
	i1 := &statefile.Instance{Name: "i1", PrimaryNode: "node1", Tags: []string{RepairTagPrefix + "failover"}}
	i2 := &statefile.Instance{Name: "i2", PrimaryNode: "node1"}
	if p := InstanceRepairPolicy(st, i1, now); !p.Enabled || p.Max != RepairFailover {
		t.Errorf("I1: %v", p)
	}
	if p := InstanceRepairPolicy(st, i2, now); !p.Enabled || p.Max != RepairFixStorage {
		t.Errorf("I2: %v", p)
	}
	// A group's suspension covers its instances, not those with their own tags.
	st.NodeGroups["default"].Tags = []string{RepairTagSuspend + ":1700000100"}
	if p := InstanceRepairPolicy(st, i2, now); !p.Suspended || p.Until.Unix() != 1700000100 {
		t.Errorf("I2 in a suspended group: %v", p)
	}
	if p := InstanceRepairPolicy(st, i2, now.Add(time.Hour)); !p.Enabled {
		t.Errorf("I2 after the suspension: %v", p)
	}
	if p := InstanceRepairPolicy(st, i1, now); !p.Enabled || p.Max != RepairFailover {
		t.Errorf("I1 in a suspended group: %v", p)
	}
	// Forever wins over a time; both forms of the tag.
	for _, tag := range []string{RepairTagSuspend, RepairTagSuspend + ":"} {
		i1.Tags = []string{RepairTagPrefix + "failover", RepairTagSuspend + ":1800000000", tag}
		if p := InstanceRepairPolicy(st, i1, now); !p.Suspended || !p.Until.IsZero() {
			t.Errorf("%q: %v", tag, p)
		}
	}
	if got := ExpiredSuspensions([]string{RepairTagSuspend + ":1600000000", RepairTagSuspend + ":1800000000", RepairTagSuspend}, now); !slices.Equal(got, []string{RepairTagSuspend + ":1600000000"}) {
		t.Errorf("expired: %v", got)
	}
	st.Cluster.Tags = nil
	st.NodeGroups["default"].Tags = nil
	if p := InstanceRepairPolicy(st, i2, now); p.Enabled || p.Suspended {
		t.Errorf("no tags: %v", p)
	}
}

// TestRepairStatus: Ganeti's initial states from the tags.
func TestRepairStatus(t *testing.T) {
	inst := func(tags ...string) *statefile.Instance { return &statefile.Instance{Name: "i", Tags: tags} }
	s, err := InitialRepairStatus(inst())
	if err != nil || s.State != RepairHealthy || s.Data != nil {
		t.Fatalf("no tags: %+v %v", s, err)
	}
	s, _ = InitialRepairStatus(inst(RepairTagPending + "fix-storage:a:10:3"))
	if s.State != RepairPending || s.Data.Jobs[0] != 3 {
		t.Errorf("pending: %+v", s)
	}
	// A success, then a later failure: the failure is the state, the
	// success's tag is to go.
	s, _ = InitialRepairStatus(inst(RepairTagResult+"fix-storage:a:10:success:3", RepairTagResult+"failover:b:20:failure:4"))
	if s.State != RepairFailed || s.Data.ID != "b" || !slices.Equal(s.Remove, []string{RepairTagResult + "fix-storage:a:10:success:3"}) {
		t.Errorf("success then failure: %+v", s)
	}
	// The earliest failure stays.
	s, _ = InitialRepairStatus(inst(RepairTagResult+"fix-storage:a:10:failure:3", RepairTagResult+"failover:b:20:success:4"))
	if s.State != RepairFailed || s.Data.ID != "a" {
		t.Errorf("failure then success: %+v", s)
	}
	// One repair's pending and result tags: the result wins.
	s, _ = InitialRepairStatus(inst(RepairTagPending+"fix-storage:a:10:3", RepairTagResult+"fix-storage:a:12:success:3"))
	if s.State != RepairHealthy || s.Data.Result == nil {
		t.Errorf("pending and result: %+v", s)
	}
	if _, err := InitialRepairStatus(inst(RepairTagPending+"fix-storage:a:10:3", RepairTagPending+"failover:b:20:4")); err == nil || !strings.Contains(err.Error(), "unfinished repair") {
		t.Errorf("two pending repairs: %v", err)
	}
}

// TestBrokenRepair: what each loss needs.
func TestBrokenRepair(t *testing.T) {
	st := initState(t, "node2", "node3", "node4")
	drbd := &statefile.Instance{Name: "d", PrimaryNode: "node1", DiskTemplate: "drbd", Disks: []*statefile.Disk{{Nodes: []string{"node1", "node2"}}}}
	plain := &statefile.Instance{Name: "p", PrimaryNode: "node1", DiskTemplate: "plain", Disks: []*statefile.Disk{{Nodes: []string{"node1"}}}}
	pick := func(exclude ...string) (string, error) {
		for _, n := range []string{"node3", "node4"} {
			if !slices.Contains(exclude, n) {
				return n, nil
			}
		}
		return "", prereq(ErrWrongState, "none")
	}
	check := func(inst *statefile.Instance, offline []string, want RepairType, ops ...string) {
		t.Helper()
		for _, n := range st.NodeNames() {
			st.Nodes[n].Offline = slices.Contains(offline, n)
		}
		typ, acts, ok, err := BrokenRepair(st, inst, pick)
		var got []string
		for _, a := range acts {
			got = append(got, a.Op+":"+a.Primary+":"+a.Secondary)
		}
		if len(ops) == 0 {
			if ok {
				t.Errorf("%s with %v offline: %v %v", inst.Name, offline, typ, got)
			}
			return
		}
		if !ok || err != nil || typ != want || !slices.Equal(got, ops) {
			t.Errorf("%s with %v offline: %v %v %v %v, want %v %v", inst.Name, offline, ok, err, typ, got, want, ops)
		}
	}
	check(drbd, nil, 0)
	check(drbd, []string{"node2"}, RepairFixStorage, "replace-disks::node3")
	check(drbd, []string{"node1"}, RepairFailover, "failover::")
	check(drbd, []string{"node1", "node2"}, RepairReinstall, "recreate-disks:node3:node4", "reinstall::")
	check(plain, []string{"node1"}, RepairReinstall, "recreate-disks:node3:", "reinstall::")
	check(plain, []string{"node2"}, 0)
}

func TestOOBRefusals(t *testing.T) {
	st := initState(t, "node2", "node3")
	env := Env{State: st}
	if _, err := OOBCommand(env, OOBArgs{Nodes: []string{"node2"}, Command: OOBPowerOn}); err == nil || !strings.Contains(err.Error(), "does not support out-of-band") {
		t.Errorf("no program: %v", err)
	}
	st.Cluster.NDParams = statefile.Params{"oob_program": "/usr/bin/oob"}
	st.NodeGroups["default"].NDParams = nil
	st.Nodes["node3"].NDParams = statefile.Params{"oob_program": "!"}
	for _, c := range []struct {
		a    OOBArgs
		want string
	}{
		{OOBArgs{Nodes: []string{"node1"}, Command: OOBPowerOff}, "Operating on the master node node1 is not allowed for power-off; run '/usr/bin/oob power-off node1'"},
		{OOBArgs{Nodes: []string{"node2"}, Command: OOBPowerOff}, "Cannot power off node node2 because it is not marked offline"},
		{OOBArgs{Nodes: []string{"node3"}, Command: OOBPowerOn}, "Node node3 does not support out-of-band handling"},
		{OOBArgs{Command: OOBPowerOn}, "at least one node"},
		{OOBArgs{Nodes: []string{"node2"}, Command: "power-dance"}, "Unknown out-of-band command"},
	} {
		if _, err := OOBCommand(env, c.a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OOBCommand(%+v) = %v, want %q", c.a, err, c.want)
		}
	}
	if _, err := OOBCommand(env, OOBArgs{Nodes: []string{"node2"}, Command: OOBPowerOff, IgnoreStatus: true}); err != nil {
		t.Errorf("--ignore-status: %v", err)
	}
	for in, want := range map[string]bool{`{"powered": true}`: true, `{"powered":false}`: false} {
		if got, err := ParsePowerStatus([]byte(in)); err != nil || got != want {
			t.Errorf("ParsePowerStatus(%s) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePowerStatus([]byte(`{}`)); err == nil {
		t.Error("ParsePowerStatus({}) gave no error")
	}
	if err := checkNDParams(statefile.Params{"oob_program": "relative/oob"}); err == nil {
		t.Error("a relative oob_program was accepted")
	}
	if err := checkNDParams(statefile.Params{"colour": "red"}); err == nil {
		t.Error("an unknown node parameter was accepted")
	}
}
