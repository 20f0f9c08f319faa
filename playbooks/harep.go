package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// harep, Ganeti's auto-repair tool: tags on the cluster, a node group or
// an instance allow repairs up to a kind; each run moves every instance
// one step through Ganeti's state machine (healthy -> pending repair ->
// healthy with a result, or failed), and the state lives only in the
// instances' tags. These are its pure parts: tags, policies, the states
// and what a broken instance needs. cmd/ganetictl runs the repairs as jobs.

// The auto-repair tags (Ganeti.HTools.Tags.Constants).
const (
	RepairTagPrefix  = "ganeti:watcher:autorepair:"
	RepairTagPending = RepairTagPrefix + "pending:"
	RepairTagResult  = RepairTagPrefix + "result:"
	RepairTagSuspend = RepairTagPrefix + "suspend"
)

// RepairType is a kind of repair, from the least destructive to the most:
// each allows the ones before it.
type RepairType int

// The repair kinds, in Ganeti's order.
const (
	RepairFixStorage RepairType = iota // replace-disks: a new secondary
	RepairMigrate                      // a migration (nothing detects it yet, as in Ganeti)
	RepairFailover                     // the instance restarts on its secondary
	RepairReinstall                    // disks recreated and the OS reinstalled: data lost
)

var repairTypeNames = []string{"fix-storage", "migrate", "failover", "reinstall"}

func (t RepairType) String() string {
	if t >= 0 && int(t) < len(repairTypeNames) {
		return repairTypeNames[t]
	}
	return "repair(" + strconv.Itoa(int(t)) + ")"
}

// ParseRepairType reads a repair kind's tag name.
func ParseRepairType(s string) (RepairType, bool) {
	i := slices.Index(repairTypeNames, s)
	return RepairType(i), i >= 0
}

// RepairResult is how a repair ended; a higher one wins when an instance
// has several results of one repair.
type RepairResult int

// The results, in Ganeti's order of precedence.
const (
	RepairEnoperm RepairResult = iota // the tags do not allow it
	RepairSuccess
	RepairFailure
)

var repairResultNames = []string{"enoperm", "success", "failure"}

func (r RepairResult) String() string {
	if r >= 0 && int(r) < len(repairResultNames) {
		return repairResultNames[r]
	}
	return "result(" + strconv.Itoa(int(r)) + ")"
}

// RepairPolicy is what the tags allow for an instance.
type RepairPolicy struct {
	Enabled bool
	Max     RepairType // with Enabled: the most destructive repair allowed
	// Suspended is set for a suspension: forever when Until is zero.
	Suspended bool
	Until     time.Time
}

func (p RepairPolicy) String() string {
	switch {
	case p.Suspended && p.Until.IsZero():
		return "suspended"
	case p.Suspended:
		return "suspended until " + p.Until.UTC().Format(time.RFC3339)
	case p.Enabled:
		return "enabled up to " + p.Max.String()
	}
	return "not enabled"
}

// tagPolicy is the policy one object's tags set (Ganeti's getArPolicy),
// false when they set none. A suspension without a time wins, then the
// latest one still in the future, then the least destructive repair
// allowed. The bare "suspend" is accepted beside "suspend:".
func tagPolicy(tags []string, now time.Time) (RepairPolicy, bool) {
	var enabled []RepairType
	forever := false
	var until time.Time
	for _, t := range tags {
		rest, ok := strings.CutPrefix(t, RepairTagPrefix)
		if !ok {
			continue
		}
		if rest == "suspend" || rest == "suspend:" {
			forever = true
			continue
		}
		if ts, ok := strings.CutPrefix(rest, "suspend:"); ok {
			if sec, err := strconv.ParseInt(ts, 10, 64); err == nil {
				if at := time.Unix(sec, 0); at.After(now) && at.After(until) {
					until = at
				}
			}
			continue
		}
		if rt, ok := ParseRepairType(rest); ok {
			enabled = append(enabled, rt)
		}
	}
	switch {
	case forever:
		return RepairPolicy{Suspended: true}, true
	case !until.IsZero():
		return RepairPolicy{Suspended: true, Until: until}, true
	case len(enabled) > 0:
		return RepairPolicy{Enabled: true, Max: slices.Min(enabled)}, true
	}
	return RepairPolicy{}, false
}

// InstanceRepairPolicy is an instance's policy: its own tags', else its
// primary's node group's, else the cluster's (the nearest wins).
func InstanceRepairPolicy(st *statefile.State, inst *statefile.Instance, now time.Time) RepairPolicy {
	if p, ok := tagPolicy(inst.Tags, now); ok {
		return p
	}
	if n := st.Nodes[inst.PrimaryNode]; n != nil {
		if g := st.NodeGroups[n.Group]; g != nil {
			if p, ok := tagPolicy(g.Tags, now); ok {
				return p
			}
		}
	}
	p, _ := tagPolicy(st.Cluster.Tags, now)
	return p
}

// ExpiredSuspensions are the suspension tags of tags whose time has
// passed: the guide has them removed.
func ExpiredSuspensions(tags []string, now time.Time) []string {
	var out []string
	for _, t := range tags {
		ts, ok := strings.CutPrefix(t, RepairTagSuspend+":")
		if !ok || ts == "" {
			continue
		}
		if sec, err := strconv.ParseInt(ts, 10, 64); err == nil && !time.Unix(sec, 0).After(now) {
			out = append(out, t)
		}
	}
	return out
}

// RepairData is one repair as its tag records it.
type RepairData struct {
	Type   RepairType
	ID     string
	Time   int64   // seconds since the epoch
	Jobs   []int64 // the repair's jobs
	Result *RepairResult
	Read   string // the tag it was read from ("" for a new repair)
}

// Tag is the data's tag: pending:<type>:<id>:<ts>:<jobs>, or
// result:<type>:<id>:<ts>:<result>:<jobs> (Ganeti's updateTag).
func (d RepairData) Tag() string {
	jobs := make([]string, len(d.Jobs))
	for i, j := range d.Jobs {
		jobs[i] = strconv.FormatInt(j, 10)
	}
	parts := []string{d.Type.String(), d.ID, strconv.FormatInt(d.Time, 10)}
	if d.Result == nil {
		return RepairTagPending + strings.Join(append(parts, strings.Join(jobs, "+")), ":")
	}
	return RepairTagResult + strings.Join(append(parts, d.Result.String(), strings.Join(jobs, "+")), ":")
}

// ParseRepairTag reads a pending or result tag; ok is false for other
// tags, err set for a malformed one of those kinds.
func ParseRepairTag(tag string) (d RepairData, ok bool, err error) {
	var fields []string
	pending := false
	if rest, found := strings.CutPrefix(tag, RepairTagPending); found {
		fields, pending = strings.Split(rest, ":"), true
		if len(fields) != 4 {
			return d, true, fmt.Errorf("invalid tag: %q", tag)
		}
	} else if rest, found := strings.CutPrefix(tag, RepairTagResult); found {
		fields = strings.Split(rest, ":")
		if len(fields) != 5 {
			return d, true, fmt.Errorf("invalid tag: %q", tag)
		}
	} else {
		return d, false, nil
	}
	rt, okType := ParseRepairType(fields[0])
	if !okType {
		return d, true, fmt.Errorf("invalid tag: %q: unknown repair type %q", tag, fields[0])
	}
	ts, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		return d, true, fmt.Errorf("invalid tag: %q: auto-repair time %q", tag, fields[2])
	}
	d = RepairData{Type: rt, ID: fields[1], Time: ts, Read: tag}
	jobs := fields[len(fields)-1]
	if jobs != "" {
		for _, j := range strings.Split(jobs, "+") {
			id, err := strconv.ParseInt(j, 10, 64)
			if err != nil {
				return d, true, fmt.Errorf("invalid tag: %q: job id %q", tag, j)
			}
			d.Jobs = append(d.Jobs, id)
		}
	}
	if !pending {
		i := slices.Index(repairResultNames, fields[3])
		if i < 0 {
			return d, true, fmt.Errorf("invalid tag: %q: unknown result %q", tag, fields[3])
		}
		r := RepairResult(i)
		d.Result = &r
	}
	return d, true, nil
}

// RepairState is where an instance is in harep's state machine.
type RepairState int

// The states (Ganeti's AutoRepairStatus).
const (
	RepairHealthy RepairState = iota
	RepairNeeded              // broken and not repaired (enoperm)
	RepairPending             // repair jobs under way
	RepairFailed              // a repair failed: left until its tag is removed
)

func (s RepairState) String() string {
	return [...]string{"Healthy", "Needs repair", "Pending repair", "Failure"}[s]
}

// RepairStatus is an instance's state, the repair it is about (nil for a
// healthy instance never repaired) and the older repair tags to remove
// when the next tag is written.
type RepairStatus struct {
	State  RepairState
	Data   *RepairData
	Remove []string
}

// InitialRepairStatus reads an instance's state from its tags (Ganeti's
// setInitialState): the repairs it records, oldest first, each by its
// newest tag; a failure stays, and a pending repair older than another
// one is an error.
func InitialRepairStatus(inst *statefile.Instance) (RepairStatus, error) {
	byID := map[string][]RepairData{}
	for _, t := range inst.Tags {
		d, ok, err := ParseRepairTag(t)
		if !ok {
			continue
		}
		if err != nil {
			return RepairStatus{}, fmt.Errorf("instance %s: %w", inst.Name, err)
		}
		byID[d.ID] = append(byID[d.ID], d)
	}
	groups := make([][]RepairData, 0, len(byID))
	for _, g := range byID {
		groups = append(groups, g)
	}
	minTime := func(g []RepairData) int64 {
		m := g[0].Time
		for _, d := range g {
			m = min(m, d.Time)
		}
		return m
	}
	sort.Slice(groups, func(i, j int) bool {
		if a, b := minTime(groups[i]), minTime(groups[j]); a != b {
			return a < b
		}
		return groups[i][0].ID < groups[j][0].ID
	})
	st := RepairStatus{State: RepairHealthy}
	for _, g := range groups {
		// The newest tag of the repair: by result (pending first), then time.
		sort.SliceStable(g, func(i, j int) bool {
			ri, rj := resultRank(g[i].Result), resultRank(g[j].Result)
			if ri != rj {
				return ri < rj
			}
			return g[i].Time < g[j].Time
		})
		newest := g[len(g)-1]
		next := RepairHealthy
		switch {
		case newest.Result == nil:
			next = RepairPending
		case *newest.Result == RepairFailure:
			next = RepairFailed
		}
		switch st.State {
		case RepairFailed:
			continue // the earliest failure stays
		case RepairPending:
			return RepairStatus{}, fmt.Errorf("an unfinished repair was found in instance %s: found tag %q, but older pending tag %q exists", inst.Name, newest.Read, st.Data.Read)
		}
		if st.Data != nil {
			st.Remove = append(st.Remove, st.Data.Read)
		}
		d := newest
		st.State, st.Data = next, &d
	}
	return st, nil
}

// resultRank orders results as Ganeti's Maybe does: none (pending) first.
func resultRank(r *RepairResult) int {
	if r == nil {
		return -1
	}
	return int(*r)
}

// RepairAction is one opcode of a repair.
type RepairAction struct {
	Op        string // replace-disks, failover, recreate-disks, reinstall
	Primary   string // recreate-disks: the new primary
	Secondary string // replace-disks: the new secondary; recreate-disks (drbd): the new secondary
}

// BrokenRepair says what an instance with lost nodes needs (Ganeti's
// detectBroken): drbd with its secondary offline a new secondary
// (fix-storage), with its primary offline a failover, with both offline
// its disks recreated on new nodes and the OS reinstalled; plain with its
// primary offline the same reinstall on a new node. The new nodes come
// from pick (PickNode: the most free space in the group). ok is false
// for a healthy instance, or templates harep does not repair.
func BrokenRepair(st *statefile.State, inst *statefile.Instance, pick func(exclude ...string) (string, error)) (t RepairType, actions []RepairAction, ok bool, err error) {
	off := func(n string) bool { node := st.Nodes[n]; return node == nil || node.Offline }
	offPri := off(inst.PrimaryNode)
	switch inst.DiskTemplate {
	case "drbd":
		sec := ""
		if s := inst.SecondaryNodes(); len(s) > 0 {
			sec = s[0]
		}
		offSec := off(sec)
		switch {
		case offPri && offSec:
			p, err := pick(inst.PrimaryNode, sec)
			if err != nil {
				return RepairReinstall, nil, true, err
			}
			s, err := pick(inst.PrimaryNode, sec, p)
			if err != nil {
				return RepairReinstall, nil, true, err
			}
			return RepairReinstall, []RepairAction{{Op: "recreate-disks", Primary: p, Secondary: s}, {Op: "reinstall"}}, true, nil
		case offPri:
			return RepairFailover, []RepairAction{{Op: "failover"}}, true, nil
		case offSec:
			s, err := pick(inst.PrimaryNode, sec)
			if err != nil {
				return RepairFixStorage, nil, true, err
			}
			return RepairFixStorage, []RepairAction{{Op: "replace-disks", Secondary: s}}, true, nil
		}
	case "plain":
		if offPri {
			p, err := pick(inst.PrimaryNode)
			if err != nil {
				return RepairReinstall, nil, true, err
			}
			return RepairReinstall, []RepairAction{{Op: "recreate-disks", Primary: p}, {Op: "reinstall"}}, true, nil
		}
	}
	return 0, nil, false, nil
}

// PickNode chooses a node for an instance's new disks: the vm-capable,
// online, undrained node of group with the most free space in the volume
// group (from facts), not among exclude. It is the one place that
// choice is made, until the allocator decides it.
func PickNode(st *statefile.State, facts map[string]*NodeFacts, group string, exclude ...string) (string, error) {
	best, free := "", -1.0
	for _, n := range sortedNodes(st) {
		node := st.Nodes[n]
		if slices.Contains(exclude, n) || node.Offline || node.Drained || !node.VMCapable || node.Group != group {
			continue
		}
		if f := facts[n]; f != nil && f.Reachable && f.VG != nil && f.VG.Free > free {
			best, free = n, f.VG.Free
		}
	}
	if best == "" {
		return "", prereq(ErrWrongState, "no node of group '%s' can take the disks (online, vm-capable, not drained, answering, with a volume group)", group)
	}
	return best, nil
}

// RepairTagsArgs are the tags harep adds to and removes from an instance
// in one job (Ganeti writes them with TAGS_SET then TAGS_DEL).
type RepairTagsArgs struct {
	Instance    string
	Add, Remove []string
}

// RepairTagsOp is harep's tag change on an instance: tags to remove that
// are already gone are skipped, so that a rerun after a crash converges.
var RepairTagsOp = define(&Opcode[RepairTagsArgs]{
	ID: OpTagsSet, Command: "harep",
	Subject: func(a RepairTagsArgs) string { return a.Instance },
	Plan: func(env Env, a RepairTagsArgs) (*plan.Plan, error) {
		inst, err := instance(env.State, a.Instance)
		if err != nil {
			return nil, err
		}
		var remove []string
		for _, t := range a.Remove {
			if slices.Contains(inst.Tags, t) && !slices.Contains(a.Add, t) && !slices.Contains(remove, t) {
				remove = append(remove, t)
			}
		}
		return Tags(env, plan.KindInstance, a.Instance, a.Add, remove)
	},
})

// DRBDUpToDate reports whether every disk of inst is UpToDate on node,
// from the node's DRBD status facts.
func DRBDUpToDate(f *NodeFacts, inst *statefile.Instance, node string) bool {
	for _, d := range inst.Disks {
		if ok, _ := drbdUpToDate(f, d, node); !ok {
			return false
		}
	}
	return len(inst.Disks) > 0
}
