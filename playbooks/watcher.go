package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// The watcher (ganeti-watcher) is one pass, run from cron, a timer or CI:
// Watch decides from the state and the nodes' facts what the pass does,
// and every action is an existing opcode run as a job (a restart is
// INSTANCE_STARTUP, a disk activation INSTANCE_ACTIVATE_DISKS). What the
// watcher remembers between passes (restart attempts, boot IDs) is the
// state's watcher section, written by WATCHER_RECORD at the end of a pass.

// Ganeti's watcher limits (lib/watcher: MAXTRIES, RETRY_EXPIRATION).
const (
	WatcherMaxTries    = 5
	WatcherRetryExpiry = 8 * time.Hour
)

// The watcher's own opcodes.
const (
	OpWatcherRecord          plan.OpID = "WATCHER_RECORD"
	OpWatcherNodeMaintenance plan.OpID = "WATCHER_NODE_MAINTENANCE"
)

// WatchParts are the facts a watcher pass reads of every node.
var WatchParts = []string{PartRunning, PartDRBD, PartVolumes, PartBootID}

// WatchNodes are the nodes a pass asks: the online nodes of the group
// (all groups when ""), and the offline ones too when the cluster
// maintains node health (the watcher stops what still runs there).
func WatchNodes(st *statefile.State, group string) []string {
	var out []string
	for _, n := range sortedNodes(st) {
		node := st.Nodes[n]
		if group != "" && node.Group != group {
			continue
		}
		if node.Offline && !st.Cluster.MaintainNodeHealth {
			continue
		}
		out = append(out, n)
	}
	return out
}

// WatchInput is what a pass decides from.
type WatchInput struct {
	State *statefile.State
	Facts map[string]*NodeFacts // of WatchNodes, with WatchParts
	Now   time.Time
	Group string // only this node group ("": every group)
	// NoVerifyDisks skips the verify-disks step (--no-verify-disks).
	NoVerifyDisks bool
}

// Restart is one instance the pass restarts, with the attempt it is.
type Restart struct {
	Instance string `json:"instance"`
	Attempt  int    `json:"attempt"`
}

// Activation is one instance whose disks the pass activates, and why.
type Activation struct {
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

// Maintenance is what a pass stops on a node marked offline.
type Maintenance struct {
	Node      string   `json:"node"`
	Instances []string `json:"instances,omitempty"`
	Minors    []int    `json:"drbd_minors,omitempty"`
}

// WatchNote is something the pass noticed and left: an instance given up
// on, one it cannot help, a node that did not answer.
type WatchNote struct {
	Kind   string `json:"kind"` // instance or node
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// Error marks what needs people (Ganeti logs it as an error): an
	// instance given up on after its last attempt.
	Error bool `json:"error,omitempty"`
}

// WatchDecision is what a pass does, in order: restarts, cleanups of
// instances their guests shut down, disk activations (rebooted nodes,
// then verify-disks), and the offline nodes' maintenance.
type WatchDecision struct {
	Restarts    []Restart     `json:"restarts,omitempty"`
	Cleanups    []string      `json:"cleanups,omitempty"` // shut down by their guest: admin state follows
	Rebooted    []string      `json:"rebooted_nodes,omitempty"`
	Activations []Activation  `json:"activations,omitempty"`
	Maintenance []Maintenance `json:"maintenance,omitempty"`
	Recovered   []string      `json:"recovered,omitempty"` // were restarted, run now
	Notes       []WatchNote   `json:"notes,omitempty"`
	// GivenUp are the instances whose restarts are exhausted as of this
	// pass (reported once, then left until their record expires).
	GivenUp []string `json:"given_up,omitempty"`
	// Record is the watcher's section before the actions' outcomes:
	// records expired or obsolete dropped, the recovered forgotten, the
	// given-up counted, the boot IDs updated. Attempted records the
	// restarts on top (Attempted).
	Record *statefile.Watcher `json:"-"`
}

// Watch decides a watcher pass (Ganeti's _CheckInstances, _CheckDisks and
// _VerifyDisks per group, and nodemaint for offline nodes).
func Watch(in WatchInput) *WatchDecision {
	st := in.State
	d := &WatchDecision{Record: st.Watcher.Clone()}
	rec := d.Record
	inGroup := func(node string) bool {
		n := st.Nodes[node]
		return in.Group == "" || n != nil && n.Group == in.Group
	}
	// Forget instances that are gone, and records older than the expiry.
	for name, r := range rec.Instances {
		if _, ok := st.Instances[name]; !ok || r.When.Before(in.Now.Add(-WatcherRetryExpiry)) {
			delete(rec.Instances, name)
		}
	}
	usable := func(node string) (*NodeFacts, bool) {
		n := st.Nodes[node]
		f := in.Facts[node]
		return f, n != nil && !n.Offline && f != nil && f.Reachable
	}
	started := map[string]bool{}
	for _, name := range st.InstanceNames() {
		inst := st.Instances[name]
		if !inGroup(inst.PrimaryNode) {
			continue
		}
		if split := splitGroups(st, inst); split != "" {
			d.Notes = append(d.Notes, WatchNote{Kind: "instance", Name: name, Reason: split})
			continue
		}
		f, ok := usable(inst.PrimaryNode)
		helpless := !ok
		var r hv.Running
		running := false
		if ok {
			r, running = f.Running[name]
		}
		switch {
		case inst.AdminState != "up" || helpless:
			// Not ours to start; a helpless instance's record stays.
			if helpless && inst.AdminState == "up" {
				d.Notes = append(d.Notes, WatchNote{Kind: "instance", Name: name, Reason: "primary node " + inst.PrimaryNode + " is offline or not answering"})
			} else if rec.Instances[name] != nil {
				delete(rec.Instances, name)
			}
		case running && r.State == "shutdown":
			// The guest shut itself down (Xen keeps the domain): the
			// admin state follows, as Ganeti's user-down cleanup.
			d.Cleanups = append(d.Cleanups, name)
		case running:
			if rec.Instances[name] != nil {
				delete(rec.Instances, name)
				d.Recovered = append(d.Recovered, name)
			}
		default: // ERROR_down: configured up, not running on its primary
			n := 0
			if r := rec.Instances[name]; r != nil {
				n = r.Count
			}
			switch {
			case n > WatcherMaxTries:
				d.Notes = append(d.Notes, WatchNote{Kind: "instance", Name: name,
					Reason: fmt.Sprintf("Not restarting instance '%s', retries exhausted", name)})
			case n == WatcherMaxTries:
				rec.Instances[name] = &statefile.RestartRecord{Count: n + 1, When: in.Now}
				d.GivenUp = append(d.GivenUp, name)
				d.Notes = append(d.Notes, WatchNote{Kind: "instance", Name: name, Error: true,
					Reason: fmt.Sprintf("Could not restart instance '%s' after %d attempts, giving up", name, WatcherMaxTries)})
			default:
				d.Restarts = append(d.Restarts, Restart{Instance: name, Attempt: n + 1})
				started[name] = true
			}
		}
	}
	// Rebooted nodes: the DRBD instances they are a secondary of get
	// their disks back (their devices went with the reboot).
	var rebooted []string
	for _, n := range sortedNodes(st) {
		f, ok := usable(n)
		if !ok || !inGroup(n) || f.BootID == "" {
			continue
		}
		if rec.BootIDs[n] != f.BootID {
			if _, seen := rec.BootIDs[n]; seen {
				rebooted = append(rebooted, n)
			}
			rec.BootIDs[n] = f.BootID
		}
	}
	// A node seen for the first time is checked too (as Ganeti does: no
	// record is a reboot), but only disks that are really down are
	// activated, so a first pass on a healthy cluster does nothing.
	activated := map[string]bool{}
	for _, n := range sortedNodes(st) {
		if _, ok := usable(n); !ok || !inGroup(n) {
			continue
		}
		_, secondary := InstancesOn(st, n)
		for _, inst := range secondary {
			if !isDRBD(inst) || !inst.DisksActive || started[inst.Name] || activated[inst.Name] || !inGroup(inst.PrimaryNode) {
				continue
			}
			if !drbdDownOn(st, inst, in.Facts, n) {
				continue
			}
			if _, ok := usable(inst.PrimaryNode); !ok {
				continue
			}
			reason := "secondary node " + n + " lost its DRBD devices"
			if slices.Contains(rebooted, n) {
				reason = "secondary node " + n + " rebooted"
			}
			d.Activations = append(d.Activations, Activation{Instance: inst.Name, Reason: reason})
			activated[inst.Name] = true
		}
	}
	d.Rebooted = rebooted
	// verify-disks per group: disks that should be active and are not.
	if !in.NoVerifyDisks {
		for _, g := range groupNames(st, in.Group) {
			res := VerifyDisks(st, in.Facts, g)
			for _, name := range res.NeedActivation {
				inst := st.Instances[name]
				if started[name] || activated[name] || inst == nil {
					continue
				}
				if _, ok := usable(inst.PrimaryNode); !ok || offlineSecondary(st, inst) {
					d.Notes = append(d.Notes, WatchNote{Kind: "instance", Name: name,
						Reason: "Skipping instance because it is in a helpless state or has offline secondaries"})
					continue
				}
				d.Activations = append(d.Activations, Activation{Instance: name, Reason: "verify-disks: disks not active"})
				activated[name] = true
			}
		}
	}
	// Node health: what runs on a node marked offline is stopped.
	if st.Cluster.MaintainNodeHealth {
		for _, n := range sortedNodes(st) {
			node := st.Nodes[n]
			f := in.Facts[n]
			if !node.Offline || !inGroup(n) || f == nil || !f.Reachable {
				continue
			}
			m := Maintenance{Node: n}
			for name := range f.Running {
				m.Instances = append(m.Instances, name)
			}
			sort.Strings(m.Instances)
			for minor, s := range drbdStatus(f) {
				if !s.Unconfigured {
					m.Minors = append(m.Minors, minor)
				}
			}
			sort.Ints(m.Minors)
			if len(m.Instances) > 0 || len(m.Minors) > 0 {
				d.Maintenance = append(d.Maintenance, m)
			}
		}
	}
	for _, n := range sortedNodes(st) {
		if node := st.Nodes[n]; inGroup(n) && !node.Offline {
			if f := in.Facts[n]; f == nil || !f.Reachable {
				d.Notes = append(d.Notes, WatchNote{Kind: "node", Name: n, Reason: "not answering: " + factsErr(f)})
			}
		}
	}
	return d
}

// Acted reports whether the pass has anything to do on the nodes.
func (d *WatchDecision) Acted() bool {
	return len(d.Restarts)+len(d.Cleanups)+len(d.Activations)+len(d.Maintenance) > 0
}

// Attempted records a restart attempt of name at now (whatever its
// outcome, as Ganeti counts them).
func (d *WatchDecision) Attempted(name string, now time.Time) {
	n := 0
	if r := d.Record.Instances[name]; r != nil {
		n = r.Count
	}
	d.Record.Instances[name] = &statefile.RestartRecord{Count: n + 1, When: now}
}

// splitGroups says why an instance whose mirror spans node groups is left
// alone ("" when it is not split), as Ganeti's watcher ignores it.
func splitGroups(st *statefile.State, inst *statefile.Instance) string {
	p := st.Nodes[inst.PrimaryNode]
	for _, s := range inst.SecondaryNodes() {
		if sn := st.Nodes[s]; p != nil && sn != nil && sn.Group != p.Group {
			return fmt.Sprintf("Ignoring split instance '%s', primary group %s, secondary group %s", inst.Name, p.Group, sn.Group)
		}
	}
	return ""
}

// offlineSecondary reports whether any of inst's secondaries is offline.
func offlineSecondary(st *statefile.State, inst *statefile.Instance) bool {
	for _, s := range inst.SecondaryNodes() {
		if n := st.Nodes[s]; n == nil || n.Offline {
			return true
		}
	}
	return false
}

// drbdDownOn reports whether one of inst's DRBD minors on node is not up
// (missing, StandAlone or diskless), from the node's facts.
func drbdDownOn(st *statefile.State, inst *statefile.Instance, facts map[string]*NodeFacts, node string) bool {
	status := drbdStatus(facts[node])
	for _, d := range inst.Disks {
		m, err := storage.MinorOn(d, node)
		if err != nil {
			continue
		}
		if storage.NeedsActivation(status, m) {
			return true
		}
	}
	return false
}

// groupNames are the node groups a pass covers, sorted.
func groupNames(st *statefile.State, only string) []string {
	if only != "" {
		return []string{only}
	}
	var out []string
	for g := range st.NodeGroups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// WatcherRecordOp writes the watcher's section of the state at the end of
// a pass.
var WatcherRecordOp = define(&Opcode[*statefile.Watcher]{
	ID: OpWatcherRecord, Command: "watcher",
	Plan: WatcherRecord,
})

// WatcherRecord plans replacing the watcher's section of the state with w.
func WatcherRecord(env Env, w *statefile.Watcher) (*plan.Plan, error) {
	st := env.State
	p := plan.New(plan.ClusterOp(OpWatcherRecord), st.Lineage, st.Serial)
	if err := p.Set(plan.KindWatcher, "watcher", st.Watcher, w); err != nil {
		return nil, err
	}
	if len(p.Changes) > 0 {
		ReplicateTo(p, masterCandidates(st)...)
	}
	return p, nil
}

// NodeMaintenanceOp stops what runs on a node marked offline: its
// instances (killed: the node is not to be trusted) and its DRBD devices
// (Ganeti's nodemaint, which each node ran for itself).
var NodeMaintenanceOp = define(&Opcode[string]{
	ID: OpWatcherNodeMaintenance, Command: "watcher node-maintenance", Subject: itself,
	Needs: func(st *statefile.State, node string) Needs {
		return Needs{Nodes: []string{node}, Parts: []string{PartRunning, PartDRBD}}
	},
	Plan: NodeMaintenance,
})

// NodeMaintenance plans stopping every instance and DRBD device on an
// offline node.
func NodeMaintenance(env Env, name string) (*plan.Plan, error) {
	st := env.State
	n, err := node(st, name)
	if err != nil {
		return nil, err
	}
	if !n.Offline {
		return nil, prereq(ErrWrongState, "Node %s is not marked offline: its instances and DRBD devices are the cluster's", name)
	}
	f := env.Facts[name]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", name, factsErr(f))
	}
	p := plan.New(plan.NodeOp(OpWatcherNodeMaintenance, name), st.Lineage, st.Serial)
	var stops []plan.Step
	for _, iname := range sortedKeys(f.Running) {
		kind := hv.KVM
		if f.Running[iname].Hypervisor != hv.KVM {
			kind = hv.XenPVM
		}
		s, err := hv.Stop(kind, iname, name, 0, true)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		stops = append(stops, s)
	}
	if len(stops) > 0 {
		p.Add("stop the instances on offline node "+name, plan.Continue, stops...)
	}
	var downs []plan.Step
	status := drbdStatus(f)
	minors := make([]int, 0, len(status))
	for m, s := range status {
		if !s.Unconfigured {
			minors = append(minors, m)
		}
	}
	sort.Ints(minors)
	for _, m := range minors {
		downs = append(downs, plan.Step{Node: name, Action: plan.Exec, Desc: fmt.Sprintf("stop drbd minor %d (%s)", m, storage.DRBDResource(m)),
			Argv: []string{"drbdsetup", "down", storage.DRBDResource(m)}})
	}
	if len(downs) > 0 {
		p.Add("stop the DRBD devices on offline node "+name, plan.Continue, downs...)
	}
	return p, nil
}
