package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// Recovery rebuilds the controller's state from what the nodes hold (see
// Recover). It never runs a mutating node command: its plan only changes
// the state, and the caller writes and replicates it.

// WorkstationSource names the controller's own state among the copies.
const WorkstationSource = "(workstation)"

// StateCopy is one copy of the state: a node's replica or the workstation's.
type StateCopy struct {
	Node  string           `json:"node"`
	State *statefile.State `json:"-"`
	Sum   string           `json:"sha256"`
}

// Serial and Lineage of the copy, for display.
func (c StateCopy) Serial() int64   { return c.State.Serial }
func (c StateCopy) Lineage() string { return c.State.Lineage }

// ParseCopy reads a node's state copy.
func ParseCopy(node string, b []byte) (StateCopy, error) {
	st, err := statefile.Read(strings.NewReader(string(b)))
	if err != nil {
		return StateCopy{}, fmt.Errorf("node %s: state copy: %w", node, err)
	}
	sum := sha256.Sum256(b)
	return StateCopy{Node: node, State: st, Sum: hex.EncodeToString(sum[:])}, nil
}

// LineageError is a choice between copies of different lineages that the
// caller must make (--lineage).
type LineageError struct {
	Lineages map[string][]StateCopy // lineage -> its copies, newest first
}

func (e *LineageError) Error() string {
	var b strings.Builder
	b.WriteString("the state copies belong to different clusters (lineages); pick one with --lineage:")
	for _, l := range slices.Sorted(maps.Keys(e.Lineages)) {
		cs := e.Lineages[l]
		var where []string
		for _, c := range cs {
			where = append(where, fmt.Sprintf("%s serial %d", c.Node, c.State.Serial))
		}
		fmt.Fprintf(&b, "\n  %s (cluster %s): %s", l, cs[0].State.Cluster.Name, strings.Join(where, ", "))
	}
	return b.String()
}

// NewestCopy picks the copy with the highest serial. Copies of different
// lineages are refused unless lineage names one; a lineage that no copy has
// is an error. Among copies of the newest serial the workstation's wins,
// then the one most nodes hold; copies of one serial with different content
// are reported in the notes (a split brain). It returns nil without error
// when there is no copy at all.
func NewestCopy(copies []StateCopy, lineage string) (*StateCopy, []RecoverNote, error) {
	byLineage := map[string][]StateCopy{}
	for _, c := range copies {
		byLineage[c.State.Lineage] = append(byLineage[c.State.Lineage], c)
	}
	for _, cs := range byLineage {
		sortCopies(cs)
	}
	var cs []StateCopy
	switch {
	case lineage != "":
		cs = byLineage[lineage]
		if len(cs) == 0 {
			if len(copies) == 0 {
				return nil, nil, prereq(ErrWrongInput, "no state copy found, so lineage %s cannot be chosen", lineage)
			}
			return nil, nil, prereq(ErrWrongInput, "no state copy has lineage %s (%s)", lineage, (&LineageError{Lineages: byLineage}).Error())
		}
	case len(byLineage) > 1:
		return nil, nil, &LineageError{Lineages: byLineage}
	case len(byLineage) == 1:
		for _, v := range byLineage {
			cs = v
		}
	default:
		return nil, nil, nil
	}
	var notes []RecoverNote
	newest := cs[0].State.Serial
	count := map[string]int{}
	var tied []StateCopy
	for _, c := range cs {
		if c.State.Serial == newest {
			tied = append(tied, c)
			count[c.Sum]++
		}
	}
	best := tied[0]
	for _, c := range tied {
		if c.Node == WorkstationSource {
			best = c
			break
		}
		if count[c.Sum] > count[best.Sum] {
			best = c
		}
	}
	if len(count) > 1 {
		var diff []string
		for _, c := range tied {
			if c.Sum != best.Sum {
				diff = append(diff, c.Node)
			}
		}
		notes = append(notes, RecoverNote{Kind: NoteAmbiguous, Object: "state",
			Message: fmt.Sprintf("copies of serial %d differ: took %s's, %s hold(s) another version of the same serial", newest, best.Node, strings.Join(diff, ", "))})
	}
	for _, c := range cs {
		if c.State.Serial < newest {
			notes = append(notes, RecoverNote{Kind: NoteInfo, Object: "node " + c.Node,
				Message: fmt.Sprintf("holds an older copy (serial %d)", c.State.Serial)})
		}
	}
	for l, others := range byLineage {
		if l != best.State.Lineage {
			for _, c := range others {
				notes = append(notes, RecoverNote{Kind: NoteInfo, Object: "node " + c.Node,
					Message: fmt.Sprintf("holds a copy of another lineage %s (serial %d), ignored", l, c.State.Serial)})
			}
		}
	}
	return &best, notes, nil
}

// sortCopies orders copies newest first, the workstation first among equals,
// then by node name.
func sortCopies(cs []StateCopy) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.State.Serial != b.State.Serial {
			return a.State.Serial > b.State.Serial
		}
		if (a.Node == WorkstationSource) != (b.Node == WorkstationSource) {
			return a.Node == WorkstationSource
		}
		return a.Node < b.Node
	})
}

// Kinds of RecoverNote.
const (
	NoteSource    = "source"    // where the state (or a part) was taken from
	NoteFixed     = "fixed"     // the state was changed to match the nodes
	NoteGuessed   = "guessed"   // a value that reality does not show was chosen
	NoteAmbiguous = "ambiguous" // reality contradicts itself; nothing was changed
	NoteMissing   = "missing"   // the state has it, the nodes do not
	NoteUnknown   = "unknown"   // the nodes have it, the state does not and cannot
	NoteInfo      = "info"
)

// RecoverNote is one line of the reconciliation report.
type RecoverNote struct {
	Kind    string `json:"kind"`
	Object  string `json:"object"`
	Message string `json:"message"`
}

// InventoryNode is a node as the inventory describes it.
type InventoryNode struct {
	Name, Address, SecondaryAddress string
}

// RecoverInput is everything Recover works from.
type RecoverInput struct {
	// Copies are the readable state copies (nodes' and the workstation's).
	Copies []StateCopy
	// Lineage chooses between copies of different lineages (--lineage).
	Lineage string
	// Inventory lists the nodes to look at, in the inventory's order.
	Inventory []InventoryNode
	Facts     map[string]*NodeFacts // every inventory node's facts
	Probes    map[string]*NodeProbe // every reachable node's probe
	// Skeleton is what `cluster init` would write (cluster, node group,
	// master node): the base of a state rebuilt from the nodes alone.
	Skeleton *statefile.State
	NewID    func() string
	Random   func(n int) []byte
}

// Recovered is Recover's result.
type Recovered struct {
	// Source is "copy" (a node's replica or the workstation's state,
	// reconciled) or "nodes" (rebuilt from the nodes alone).
	Source string `json:"source"`
	// From is the copy's holder (a node or WorkstationSource).
	From    string `json:"from,omitempty"`
	Lineage string `json:"lineage"`
	// Serial is the serial of the copy taken (0 when rebuilt).
	Serial int64 `json:"serial"`
	// Base is the copy taken (nil when rebuilt), State the result.
	Base  *statefile.State `json:"-"`
	State *statefile.State `json:"-"`
	Notes []RecoverNote    `json:"notes"`
	Plan  *plan.Plan       `json:"-"` // holds secrets: show it through the view

}

// Ambiguous counts the notes a person should look at.
func (r *Recovered) Ambiguous() int {
	n := 0
	for _, x := range r.Notes {
		if x.Kind == NoteAmbiguous || x.Kind == NoteMissing || x.Kind == NoteUnknown {
			n++
		}
	}
	return n
}

// Recover rebuilds the state: from the newest copy reconciled against the
// nodes' facts, or, with no copy, from the nodes alone.
func Recover(in RecoverInput) (*Recovered, error) {
	best, notes, err := NewestCopy(in.Copies, in.Lineage)
	if err != nil {
		return nil, err
	}
	r := &Recovered{Notes: notes}
	var st *statefile.State
	ev := collectEvidence(in)
	r.Notes = append(r.Notes, ev.problems...)
	if best != nil {
		r.Source, r.From, r.Serial, r.Lineage, r.Base = "copy", best.Node, best.State.Serial, best.State.Lineage, best.State
		r.note(NoteSource, "state", "taken from %s (lineage %s, serial %d)", best.Node, best.State.Lineage, best.State.Serial)
		st = best.State.Clone()
		reconcile(r, st, in, ev)
	} else {
		if in.Skeleton == nil {
			return nil, prereq(ErrWrongInput, "no state copy found on any node, and nothing to rebuild the cluster object from")
		}
		st = in.Skeleton.Clone()
		r.Source, r.Lineage = "nodes", st.Lineage
		r.note(NoteSource, "state", "no state copy found on any node: rebuilt from the nodes, new lineage %s", st.Lineage)
		r.note(NoteGuessed, "cluster", "cluster parameters from the inventory (as cluster init sets them); master %s", st.Cluster.MasterNode)
		rebuildNodes(r, st, in, ev)
		for _, name := range ev.names() {
			addEvidenced(r, st, in, ev, name)
		}
		enableUsed(r, st)
	}
	r.State = st
	base := r.Base
	if base == nil {
		base = statefile.New(st.Lineage)
	}
	p, err := statePlan(base, st)
	if err != nil {
		return nil, err
	}
	for _, n := range r.Notes {
		if n.Kind == NoteAmbiguous || n.Kind == NoteMissing || n.Kind == NoteUnknown {
			p.Warnings = append(p.Warnings, n.Object+": "+n.Message)
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	r.Plan = p
	return r, nil
}

func (r *Recovered) note(kind, object, format string, a ...any) {
	r.Notes = append(r.Notes, RecoverNote{Kind: kind, Object: object, Message: fmt.Sprintf(format, a...)})
}

// statePlan describes the difference between two states as plan changes.
func statePlan(base, st *statefile.State) (*plan.Plan, error) {
	p := plan.New(plan.ClusterOp(OpClusterRecover), base.Lineage, base.Serial)
	var before any
	if base.Cluster.Name != "" {
		before = &base.Cluster
	}
	if err := p.Set(plan.KindCluster, st.Cluster.Name, before, &st.Cluster); err != nil {
		return nil, err
	}
	if err := diffMap(p, plan.KindNodeGroup, base.NodeGroups, st.NodeGroups); err != nil {
		return nil, err
	}
	if err := diffMap(p, plan.KindNode, base.Nodes, st.Nodes); err != nil {
		return nil, err
	}
	if err := diffMap(p, plan.KindInstance, base.Instances, st.Instances); err != nil {
		return nil, err
	}
	return p, diffMap(p, plan.KindNetwork, base.Networks, st.Networks)
}

func diffMap[T any](p *plan.Plan, kind string, before, after map[string]*T) error {
	for _, name := range slices.Sorted(maps.Keys(after)) {
		var b any
		if old, ok := before[name]; ok {
			b = old
		}
		if err := p.Set(kind, name, b, after[name]); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[name]; !ok {
			if err := p.Delete(kind, name, before[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// enableUsed adds the hypervisors and disk templates that rebuilt
// instances use to the cluster's enabled lists (the inventory may not
// list them if they were enabled later with cluster modify).
func enableUsed(r *Recovered, st *statefile.State) {
	cl := &st.Cluster
	for _, name := range st.InstanceNames() {
		inst := st.Instances[name]
		if inst.Hypervisor != "" && !slices.Contains(cl.EnabledHypervisors, inst.Hypervisor) {
			cl.EnabledHypervisors = append(cl.EnabledHypervisors, inst.Hypervisor)
			r.note(NoteFixed, "cluster", "hypervisor %s enabled: instance %s uses it", inst.Hypervisor, name)
		}
		if inst.DiskTemplate != "" && !slices.Contains(cl.EnabledDiskTemplates, inst.DiskTemplate) {
			cl.EnabledDiskTemplates = append(cl.EnabledDiskTemplates, inst.DiskTemplate)
			r.note(NoteFixed, "cluster", "disk template %s enabled: instance %s uses it", inst.DiskTemplate, name)
		}
	}
}

// reachable are the inventory nodes (and state nodes) that answered.
func reachable(in RecoverInput, node string) bool {
	f := in.Facts[node]
	return f != nil && f.Reachable
}

// reconcile corrects a copy taken from a replica against node reality.
func reconcile(r *Recovered, st *statefile.State, in RecoverInput, ev *evidence) {
	// Nodes.
	invNames := map[string]bool{}
	for _, n := range in.Inventory {
		invNames[n.Name] = true
	}
	for _, name := range st.NodeNames() {
		n := st.Nodes[name]
		switch {
		case n.Offline:
		case !reachable(in, name):
			r.note(NoteAmbiguous, "node "+name, "unreachable (%s): its instances and volumes were not checked", factsErr(in.Facts[name]))
		}
	}
	for _, n := range in.Inventory {
		if _, ok := st.Nodes[n.Name]; ok {
			continue
		}
		if ev.nodeUsed[n.Name] {
			r.note(NoteAmbiguous, "node "+n.Name, "in the inventory and holding instance volumes, but not in the state: add it with `node add %s`", n.Name)
		}
	}
	// Instances the state knows.
	for _, name := range st.InstanceNames() {
		inst := st.Instances[name]
		reconcileInstance(r, st, in, ev, inst)
	}
	// Instances only the nodes know.
	for _, name := range ev.names() {
		if _, ok := st.Instances[name]; ok {
			continue
		}
		addEvidenced(r, st, in, ev, name)
	}
	// Volumes and DRBD minors that belong to nobody.
	known := map[string]map[string]bool{}
	for node, vols := range expectedVolumes(st) {
		known[node] = map[string]bool{}
		for v := range vols {
			known[node][v] = true
		}
	}
	for _, node := range slices.Sorted(maps.Keys(in.Facts)) {
		f := in.Facts[node]
		if f == nil || !f.Reachable || f.Volumes == nil {
			continue
		}
		for _, lv := range f.Volumes.LVs {
			if lv.VG == st.Cluster.VolumeGroup && !known[node][lv.FullName()] && !reservedLV(st, lv.Name) {
				r.note(NoteUnknown, "node "+node, "volume %s (tag %q) belongs to no instance of the state; left alone", lv.FullName(), lv.Instance())
			}
		}
		for _, fv := range f.Volumes.Files {
			if !known[node][fv.Path] {
				r.note(NoteUnknown, "node "+node, "disk file %s belongs to no instance of the state; left alone", fv.Path)
			}
		}
	}
	used := usedMinors(st)
	for _, node := range slices.Sorted(maps.Keys(in.Probes)) {
		for _, d := range in.Probes[node].DRBD {
			if !used[node][d.Minor] {
				r.note(NoteUnknown, "node "+node, "drbd minor %d (%s) belongs to no disk of the state", d.Minor, d.Disk)
			}
		}
	}
}

func reservedLV(st *statefile.State, lv string) bool {
	return slices.Contains(st.Cluster.ReservedLVs, lv) || slices.Contains(st.Cluster.ReservedLVs, st.Cluster.VolumeGroup+"/"+lv)
}

// usedMinors maps node -> drbd minors the state's disks use there.
func usedMinors(st *statefile.State) map[string]map[int]bool {
	out := map[string]map[int]bool{}
	for _, inst := range st.Instances {
		for _, d := range inst.Disks {
			a, b, _, ma, mb, ok := drbdIDs(d)
			if !ok {
				continue
			}
			for n, m := range map[string]int{a: ma, b: mb} {
				if out[n] == nil {
					out[n] = map[int]bool{}
				}
				out[n][m] = true
			}
		}
	}
	return out
}

// drbdIDs reads a drbd disk's logical_id.
func drbdIDs(d *statefile.Disk) (a, b string, port, ma, mb int, ok bool) {
	if d.DevType != storage.DRBD || len(d.LogicalID) < 5 {
		return
	}
	a, ok1 := d.LogicalID[0].(string)
	b, ok2 := d.LogicalID[1].(string)
	port, ok3 := toInt(d.LogicalID[2])
	ma, ok4 := toInt(d.LogicalID[3])
	mb, ok5 := toInt(d.LogicalID[4])
	return a, b, port, ma, mb, ok1 && ok2 && ok3 && ok4 && ok5
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), true
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// leafVolumes lists where each of the instance's volumes should be:
// node -> volume names (storage.VolumeName), rbd excluded.
func leafVolumes(inst *statefile.Instance) map[string][]string {
	out := map[string][]string{}
	var walk func(d *statefile.Disk)
	walk = func(d *statefile.Disk) {
		for _, c := range d.Children {
			walk(c)
		}
		name := storage.VolumeName(d)
		if len(d.Children) > 0 || name == "" || d.DevType == storage.RBD || d.DevType == storage.Diskless || d.DevType == storage.BlockDev {
			return
		}
		for _, n := range d.Nodes {
			out[n] = append(out[n], name)
		}
	}
	for _, d := range inst.Disks {
		walk(d)
	}
	return out
}

// hasVolume reports whether a node's facts list the volume (vg/lv or a file path).
func hasVolume(f *NodeFacts, vol string) bool {
	if f == nil || f.Volumes == nil {
		return false
	}
	for _, lv := range f.Volumes.LVs {
		if lv.FullName() == vol && !lv.Virtual {
			return true
		}
	}
	for _, fv := range f.Volumes.Files {
		if fv.Path == vol {
			return true
		}
	}
	return false
}

func reconcileInstance(r *Recovered, st *statefile.State, in RecoverInput, ev *evidence, inst *statefile.Instance) {
	obj := "instance " + inst.Name
	running := ev.running[inst.Name]
	runNodes := slices.Sorted(maps.Keys(running))
	vols := leafVolumes(inst)
	present, missing, unchecked := 0, map[string][]string{}, false
	for node, names := range vols {
		if !reachable(in, node) {
			unchecked = true
			continue
		}
		for _, v := range names {
			if hasVolume(in.Facts[node], v) {
				present++
			} else {
				missing[node] = append(missing[node], v)
			}
		}
	}
	total := 0
	for _, names := range vols {
		total += len(names)
	}
	// Gone: runs nowhere, none of its volumes exist, every node answered.
	if len(runNodes) == 0 && total > 0 && present == 0 && !unchecked {
		delete(st.Instances, inst.Name)
		r.note(NoteFixed, obj, "removed: it runs nowhere and none of its %d volume(s) exist (removed after the copy was made)", total)
		return
	}
	if len(runNodes) > 1 {
		r.note(NoteAmbiguous, obj, "runs on several nodes (%s); left as recorded", strings.Join(runNodes, ", "))
	}
	if len(runNodes) == 1 && runNodes[0] != inst.PrimaryNode {
		target := runNodes[0]
		switch {
		case slices.Contains(inst.SecondaryNodes(), target):
			r.note(NoteFixed, obj, "primary node %s -> %s: it runs there (failed over or migrated after the copy was made)", inst.PrimaryNode, target)
			inst.PrimaryNode = target
		case volumesOn(in.Facts[target], inst):
			r.note(NoteFixed, obj, "primary node %s -> %s: it runs there and its disks are there (moved after the copy was made)", inst.PrimaryNode, target)
			for _, d := range inst.Disks {
				for i, n := range d.Nodes {
					if n == inst.PrimaryNode {
						d.Nodes[i] = target
					}
				}
			}
			inst.PrimaryNode = target
			delete(missing, target)
		default:
			r.note(NoteAmbiguous, obj, "runs on %s, but its primary is %s and its disks are not on %s; left as recorded", target, inst.PrimaryNode, target)
		}
	}
	for _, node := range slices.Sorted(maps.Keys(missing)) {
		r.note(NoteMissing, obj, "volume(s) %s missing on node %s (data lost or never created); the state keeps them", strings.Join(missing[node], ", "), node)
	}
	if _, ok := running[inst.PrimaryNode]; ok {
		if inst.AdminState != "up" {
			r.note(NoteFixed, obj, "admin state %s -> up: it runs on %s", inst.AdminState, inst.PrimaryNode)
			inst.AdminState = "up"
		}
		inst.DisksActive = true
	} else if reachable(in, inst.PrimaryNode) && len(runNodes) == 0 {
		if inst.AdminState == "up" {
			r.note(NoteFixed, obj, "admin state up -> down: it does not run on %s (start it with `instance startup %s`)", inst.PrimaryNode, inst.Name)
			inst.AdminState = "down"
		}
		if active := disksLinked(in.Facts[inst.PrimaryNode], inst.Name, len(inst.Disks)); active != inst.DisksActive {
			r.note(NoteFixed, obj, "disks active %t -> %t: as the disk links on %s show", inst.DisksActive, active, inst.PrimaryNode)
			inst.DisksActive = active
		}
	}
	// DRBD minors, ports and secrets as the nodes have them set up.
	for _, d := range inst.Disks {
		a, b, port, ma, mb, ok := drbdIDs(d)
		if !ok || len(d.Children) == 0 {
			continue
		}
		dataPath := lvDevPath(d.Children[0])
		newIDs := []any{a, b, port, ma, mb}
		changed := false
		for i, n := range []string{a, b} {
			sh := findShow(in.Probes[n], dataPath)
			if sh == nil {
				continue
			}
			if sh.Minor != newIDs[3+i].(int) {
				r.note(NoteFixed, obj, "%s: drbd minor on %s %d -> %d (as configured there)", d.IVName, n, newIDs[3+i], sh.Minor)
				newIDs[3+i], changed = sh.Minor, true
			}
			if sh.LocalPort != 0 && sh.LocalPort != newIDs[2].(int) {
				r.note(NoteFixed, obj, "%s: drbd port %d -> %d (as configured on %s)", d.IVName, newIDs[2], sh.LocalPort, n)
				newIDs[2], changed = sh.LocalPort, true
			}
			if sh.Secret != "" && len(d.LogicalID) > 5 && sh.Secret != d.LogicalID[5] {
				r.note(NoteFixed, obj, "%s: drbd secret taken from %s's configuration", d.IVName, n)
				d.LogicalID[5] = sh.Secret
			}
		}
		if changed {
			copy(d.LogicalID, newIDs)
		}
	}
}

// disksLinked reports whether all n disks of the instance have their
// activation link on the node (/run/ganeti/instance-disks).
func disksLinked(f *NodeFacts, name string, n int) bool {
	if f == nil || n == 0 {
		return false
	}
	for i := range n {
		if !slices.Contains(f.Links, name+":"+strconv.Itoa(i)) {
			return false
		}
	}
	return true
}

// volumesOn reports whether every leaf volume of the instance is on the node.
func volumesOn(f *NodeFacts, inst *statefile.Instance) bool {
	n := 0
	for _, names := range leafVolumes(inst) {
		for _, v := range names {
			if !hasVolume(f, v) {
				return false
			}
			n++
		}
	}
	return n > 0
}

func lvDevPath(d *statefile.Disk) string {
	if v := storage.VolumeName(d); v != "" && d.DevType == storage.Plain {
		return "/dev/" + v
	}
	return ""
}

func findShow(p *NodeProbe, dataPath string) *DRBDShow {
	if p == nil || dataPath == "" {
		return nil
	}
	for i := range p.DRBD {
		if p.DRBD[i].Disk == dataPath {
			return &p.DRBD[i]
		}
	}
	return nil
}

// rebuildNodes adds the inventory's nodes to a rebuilt state: reachable
// members as the cluster would have them (candidates up to the pool size).
// A reachable node counts as a member when it holds the state directory,
// instances or volumes; unreachable and empty nodes are reported.
func rebuildNodes(r *Recovered, st *statefile.State, in RecoverInput, ev *evidence) {
	group := ""
	for g := range st.NodeGroups {
		group = g
	}
	master := st.Cluster.MasterNode
	if m, ok := st.Nodes[master]; ok && !reachable(in, master) {
		m.Offline, m.MasterCandidate = true, false
		r.note(NoteAmbiguous, "node "+master, "the inventory's master is unreachable; kept as master but offline: fail over the master with `cluster master-failover`")
	}
	for _, n := range in.Inventory {
		if n.Name == master {
			r.note(NoteSource, "node "+n.Name, "master (the inventory's cluster master), addresses from the inventory")
			continue
		}
		p := in.Probes[n.Name]
		switch {
		case !reachable(in, n.Name):
			r.note(NoteAmbiguous, "node "+n.Name, "unreachable (%s): left out; add it with `node add` when it is back", factsErr(in.Facts[n.Name]))
			continue
		case p == nil || !p.StateDir && !ev.nodeUsed[n.Name] && len(p.DRBD) == 0:
			r.note(NoteAmbiguous, "node "+n.Name, "reachable but holds nothing of the cluster (no state directory, instance or volume): left out; add it with `node add` if it is a member")
			continue
		}
		node := &statefile.Node{Meta: statefile.Meta{UUID: in.NewID()}, Name: n.Name, PrimaryIP: n.Address,
			SecondaryIP: n.SecondaryAddress, Group: group, MasterCapable: true, VMCapable: true, Tags: []string{}}
		if node.SecondaryIP == "" {
			node.SecondaryIP = node.PrimaryIP
		}
		node.MasterCandidate = len(masterCandidates(st)) < st.Cluster.CandidatePoolSize
		st.Nodes[n.Name] = node
		r.note(NoteSource, "node "+n.Name, "a member (it holds the cluster's state directory, instances or volumes); addresses from the inventory; role %s", node.Role(master))
	}
	r.note(NoteGuessed, "nodes", "node UUIDs, tags and parameters are new (nodes do not keep them)")
}

// evidence is what the nodes show about instances, by instance name.
type evidence struct {
	running  map[string]map[string]hv.Running // instance -> node -> running
	runtime  map[string]map[string]*KVMRuntime
	disks    map[string]map[int]*diskEvidence // instance -> disk index
	nodeUsed map[string]bool                  // nodes holding any instance volume
	problems []RecoverNote
}

// diskEvidence is one disk as found on nodes.
type diskEvidence struct {
	template string            // plain, drbd, file, sharedfile
	id       string            // plain/file: the disk UUID; drbd: the LV prefix's UUID
	vg       string            // plain, drbd data
	metaVG   string            // drbd meta
	nodes    map[string]bool   // where its (data) volume is
	meta     map[string]bool   // drbd: where its meta LV is
	sizeMiB  map[string]int64  // per node
	paths    map[string]string // file: per node
}

var (
	plainLVRE = regexp.MustCompile(`^(.+)\.disk([0-9]+)$`)
	drbdLVRE  = regexp.MustCompile(`^(.+)\.disk([0-9]+)_(data|meta)$`)
	fileRE    = regexp.MustCompile(`^(.+)\.(file|sharedfile)\.disk([0-9]+)$`)
)

func (e *evidence) names() []string {
	set := map[string]bool{}
	for n := range e.running {
		set[n] = true
	}
	for n := range e.disks {
		set[n] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func (e *evidence) disk(inst string, idx int, template string) *diskEvidence {
	if e.disks[inst] == nil {
		e.disks[inst] = map[int]*diskEvidence{}
	}
	d := e.disks[inst][idx]
	if d == nil {
		d = &diskEvidence{template: template, nodes: map[string]bool{}, meta: map[string]bool{}, sizeMiB: map[string]int64{}, paths: map[string]string{}}
		e.disks[inst][idx] = d
	}
	return d
}

// collectEvidence reads the facts and probes of every reachable node.
func collectEvidence(in RecoverInput) *evidence {
	e := &evidence{running: map[string]map[string]hv.Running{}, runtime: map[string]map[string]*KVMRuntime{},
		disks: map[string]map[int]*diskEvidence{}, nodeUsed: map[string]bool{}}
	// Names as instances know them, to map sanitized LV tags back.
	byTag := map[string]string{}
	for node, f := range in.Facts {
		if f == nil || !f.Reachable {
			continue
		}
		for name, run := range f.Running {
			if e.running[name] == nil {
				e.running[name] = map[string]hv.Running{}
			}
			e.running[name][node] = run
			e.nodeUsed[node] = true
			byTag[storage.InstanceTag(name)] = name
		}
		if p := in.Probes[node]; p != nil {
			for name, rt := range p.Xen {
				if run, ok := f.Running[name]; !ok || run.Hypervisor == hv.KVM {
					continue // a config file, but no such domain runs here
				}
				if e.runtime[name] == nil {
					e.runtime[name] = map[string]*KVMRuntime{}
				}
				e.runtime[name][node] = rt
			}
			for name, rt := range p.Runtime {
				if e.runtime[name] == nil {
					e.runtime[name] = map[string]*KVMRuntime{}
				}
				e.runtime[name][node] = rt
				byTag[storage.InstanceTag(name)] = name
			}
		}
	}
	// rbd images carry no tag; a running instance's runtime file names its
	// disks' UUIDs, which name the images (<uuid>.rbd.disk<N>).
	for name, byNode := range e.runtime {
		for node, rt := range byNode {
			f := in.Facts[node]
			if f == nil || f.Volumes == nil {
				continue
			}
			for i, d := range rt.Disks {
				img := d.UUID + ".rbd.disk" + strconv.Itoa(i)
				if d.DevType != storage.RBD || !slices.Contains(f.Volumes.RBD, img) {
					continue
				}
				de := e.disk(name, i, storage.RBD)
				de.id, de.nodes[node], de.sizeMiB[node], de.paths[node] = d.UUID, true, d.Size, img
				e.nodeUsed[node] = true
			}
		}
	}
	var fileDirs []string
	if in.Skeleton != nil {
		fileDirs = []string{in.Skeleton.Cluster.FileStorageDir, in.Skeleton.Cluster.SharedFileStorageDir}
	}
	for _, c := range in.Copies {
		fileDirs = append(fileDirs, c.State.Cluster.FileStorageDir, c.State.Cluster.SharedFileStorageDir)
		for name := range c.State.Instances {
			byTag[storage.InstanceTag(name)] = name
		}
	}
	for _, node := range slices.Sorted(maps.Keys(in.Facts)) {
		f := in.Facts[node]
		if f == nil || !f.Reachable || f.Volumes == nil {
			continue
		}
		for _, lv := range f.Volumes.LVs {
			tag := ""
			for _, t := range lv.Tags {
				if strings.HasPrefix(t, "originstname+") {
					tag = t
				}
			}
			if tag == "" || lv.Virtual {
				continue
			}
			inst := byTag[tag]
			if inst == "" {
				inst = strings.TrimPrefix(tag, "originstname+")
			}
			size := int64(lv.SizeMiB + 0.5)
			if m := drbdLVRE.FindStringSubmatch(lv.Name); m != nil {
				idx, _ := strconv.Atoi(m[2])
				d := e.disk(inst, idx, storage.DRBD)
				d.id = m[1]
				if m[3] == "data" {
					d.vg, d.nodes[node], d.sizeMiB[node] = lv.VG, true, size
				} else {
					d.metaVG, d.meta[node] = lv.VG, true
				}
				e.nodeUsed[node] = true
				continue
			}
			if m := plainLVRE.FindStringSubmatch(lv.Name); m != nil {
				idx, _ := strconv.Atoi(m[2])
				d := e.disk(inst, idx, storage.Plain)
				d.id, d.vg, d.nodes[node], d.sizeMiB[node] = m[1], lv.VG, true, size
				e.nodeUsed[node] = true
				continue
			}
			e.problems = append(e.problems, RecoverNote{Kind: NoteUnknown, Object: "node " + node,
				Message: fmt.Sprintf("volume %s is tagged for instance %s but not named like an instance disk; left alone", lv.FullName(), inst)})
		}
		for _, fv := range f.Volumes.Files {
			dir, file := path.Split(fv.Path)
			inst := path.Base(dir)
			base := path.Dir(path.Clean(dir))
			m := fileRE.FindStringSubmatch(file)
			if m == nil || !slices.Contains(fileDirs, base) {
				continue
			}
			idx, _ := strconv.Atoi(m[3])
			d := e.disk(inst, idx, m[2])
			d.id, d.nodes[node], d.sizeMiB[node], d.paths[node] = m[1], true, fv.Size>>20, fv.Path
			e.nodeUsed[node] = true
		}
	}
	return e
}

// addEvidenced adds an instance the nodes show but the state lacks.
func addEvidenced(r *Recovered, st *statefile.State, in RecoverInput, ev *evidence, name string) {
	obj := "instance " + name
	if err := storage.ValidateInstanceName(name); err != nil {
		r.note(NoteUnknown, obj, "found on nodes but not usable as a name: %v", err)
		return
	}
	inst, err := rebuildInstance(r, st, in, ev, name)
	if err != nil {
		r.note(NoteUnknown, obj, "found on nodes but could not be rebuilt: %v; left out", err)
		return
	}
	st.Instances[name] = inst
}

// rebuildInstance builds an instance from what the nodes show of it.
func rebuildInstance(r *Recovered, st *statefile.State, in RecoverInput, ev *evidence, name string) (*statefile.Instance, error) {
	obj := "instance " + name
	cl := &st.Cluster
	running := ev.running[name]
	runNodes := slices.Sorted(maps.Keys(running))
	disks := ev.disks[name]
	idxs := slices.Sorted(maps.Keys(disks))
	var from []string
	// The template: what its disks are.
	template := storage.Diskless
	for _, i := range idxs {
		t := disks[i].template
		if template != storage.Diskless && t != template {
			return nil, fmt.Errorf("its disks have different templates (%s and %s)", template, t)
		}
		template = t
	}
	for i, want := range idxs {
		if i != want {
			r.note(NoteAmbiguous, obj, "disk indices found: %v (some disk is missing)", idxs)
			break
		}
	}
	// The primary: where it runs; else DRBD's primary role; else where its disks are.
	holders := map[string]bool{}
	for _, d := range disks {
		for n := range d.nodes {
			holders[n] = true
		}
	}
	primary := ""
	switch {
	case len(runNodes) == 1:
		primary = runNodes[0]
		from = append(from, "runs on "+primary)
	case len(runNodes) > 1:
		primary = runNodes[0]
		r.note(NoteAmbiguous, obj, "runs on several nodes (%s); took %s as primary", strings.Join(runNodes, ", "), primary)
	}
	if primary == "" && template == storage.DRBD {
		primary = drbdPrimary(in, disks)
		if primary != "" {
			from = append(from, "drbd primary on "+primary)
		}
	}
	if primary == "" {
		hs := slices.Sorted(maps.Keys(holders))
		if len(hs) == 0 {
			return nil, fmt.Errorf("it runs nowhere and has no disks")
		}
		primary = hs[0]
		if len(hs) > 1 {
			r.note(NoteAmbiguous, obj, "not running and its disks are on %s: took %s as primary", strings.Join(hs, ", "), primary)
		}
	}
	if _, ok := st.Nodes[primary]; !ok {
		return nil, fmt.Errorf("its primary %s is not a node of the cluster", primary)
	}
	rt := ev.runtime[name][primary]
	inst := &statefile.Instance{Meta: statefile.Meta{UUID: in.NewID()}, Name: name, PrimaryNode: primary,
		AdminState: "down", DiskTemplate: template, Tags: []string{}, NICs: []*statefile.NIC{}}
	if run, ok := running[primary]; ok {
		inst.Hypervisor = run.Hypervisor
		if rt != nil {
			inst.Hypervisor = rt.Hypervisor
		} else if run.Hypervisor != hv.KVM {
			inst.Hypervisor = firstXen(cl.EnabledHypervisors)
			r.note(NoteGuessed, obj, "runs under xl without a config file: hypervisor %s", inst.Hypervisor)
		}
		inst.AdminState, inst.DisksActive = "up", true
	} else {
		inst.DisksActive = disksLinked(in.Facts[primary], name, len(disks))
	}
	if inst.Hypervisor == "" && len(cl.EnabledHypervisors) > 0 {
		inst.Hypervisor = cl.EnabledHypervisors[0]
		r.note(NoteGuessed, obj, "not running: hypervisor %s (the cluster default), admin state down", inst.Hypervisor)
	}
	if rt != nil {
		from = append(from, "runtime file on "+primary)
		if rt.Hypervisor != hv.KVM {
			from[len(from)-1] = "xen config on " + primary
		}
		applyRuntime(r, cl, inst, rt, in.NewID)
	} else if inst.AdminState == "up" {
		r.note(NoteUnknown, obj, "runs on %s but has no runtime file there: NICs and parameters unknown", primary)
	} else {
		r.note(NoteUnknown, obj, "not running: NICs, hvparams and beparams are unknown (defaults apply)")
	}
	inst.OS = guessOS(r, in, obj)
	for _, i := range idxs {
		d, err := rebuildDisk(r, st, in, obj, primary, i, disks[i], rt)
		if err != nil {
			return nil, fmt.Errorf("disk %d: %w", i, err)
		}
		inst.Disks = append(inst.Disks, d)
	}
	if inst.Disks == nil {
		inst.Disks = []*statefile.Disk{}
	}
	if len(ev.runtime[name]) > 0 || len(holders) > 0 {
		for n := range holders {
			if _, ok := st.Nodes[n]; !ok {
				return nil, fmt.Errorf("its disks are on %s, which is not a node of the cluster", n)
			}
		}
	}
	r.note(NoteFixed, obj, "added: %s disk(s) %s, primary %s (%s)", template, diskSummary(inst), primary, strings.Join(from, "; "))
	r.note(NoteGuessed, obj, "instance UUID and tags are new (nodes do not keep them)")
	return inst, nil
}

func diskSummary(inst *statefile.Instance) string {
	var out []string
	for _, d := range inst.Disks {
		out = append(out, fmt.Sprintf("%s=%dM", d.IVName, d.Size))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// drbdPrimary is the node where a disk's DRBD minor is Primary.
func drbdPrimary(in RecoverInput, disks map[int]*diskEvidence) string {
	for _, d := range disks {
		for n := range d.nodes {
			p := in.Probes[n]
			f := in.Facts[n]
			if p == nil || f == nil {
				continue
			}
			for _, s := range p.DRBD {
				if !strings.HasPrefix(path.Base(s.Disk), d.id+".disk") {
					continue
				}
				status, err := storage.ParseProcDRBD(f.DRBDStatus)
				if err == nil && status[s.Minor].Role == "Primary" {
					return n
				}
			}
		}
	}
	return ""
}

// applyRuntime takes an instance's NICs and parameters from its runtime
// file: what differs from the cluster defaults is the instance's own.
func applyRuntime(r *Recovered, cl *statefile.Cluster, inst *statefile.Instance, rt *KVMRuntime, newID func() string) {
	for i, n := range rt.NICs {
		nic := &statefile.NIC{UUID: n.UUID, MAC: n.MAC}
		if nic.UUID == "" {
			nic.UUID = newID()
			r.note(NoteGuessed, "instance "+inst.Name, "NIC %d: UUID is new (the domain config does not keep it)", i)
		}
		if n.IP != nil {
			nic.IP = *n.IP
		}
		if n.Name != nil {
			nic.Name = *n.Name
		}
		if len(n.NICParams) > 0 {
			nic.NICParams = statefile.Params(n.NICParams)
		}
		inst.NICs = append(inst.NICs, nic)
	}
	if inst.Hypervisor == "" {
		inst.Hypervisor = hv.KVM
	}
	if defs, err := hv.Params(inst.Hypervisor, cl.HVParams[inst.Hypervisor], nil); err == nil && rt.HVParams != nil {
		own := statefile.Params{}
		for k, v := range rt.HVParams {
			if d, ok := defs[k]; !ok || !sameJSON(d, v) {
				own[k] = v
			}
		}
		if len(own) > 0 {
			inst.HVParams = own
		}
	}
	be := EffectiveBE(cl, nil)
	own := statefile.Params{}
	if rt.MaxMem > 0 && !sameJSON(be["maxmem"], rt.MaxMem) {
		own["maxmem"] = float64(rt.MaxMem)
	}
	if rt.VCPUs > 0 && !sameJSON(be["vcpus"], rt.VCPUs) {
		own["vcpus"] = float64(rt.VCPUs)
	}
	if len(own) > 0 {
		inst.BEParams = own
		r.note(NoteGuessed, "instance "+inst.Name, "beparams from the running qemu: %s (minmem and other beparams are unknown)", fmtParams(own))
	}
}

// firstXen is the first enabled Xen hypervisor, else xen-pvm.
func firstXen(enabled []string) string {
	for _, h := range enabled {
		if h == hv.XenPVM || h == hv.XenHVM {
			return h
		}
	}
	return hv.XenPVM
}

func fmtParams(p statefile.Params) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		out = append(out, fmt.Sprintf("%s=%v", k, p[k]))
	}
	return strings.Join(out, ",")
}

func paramStr(p statefile.Params, k string) string {
	s, _ := p[k].(string)
	return s
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// guessOS is the only OS the nodes offer, else "unknown".
func guessOS(r *Recovered, in RecoverInput, obj string) string {
	names := map[string]string{}
	for _, f := range in.Facts {
		if f == nil || !f.Reachable {
			continue
		}
		for n, def := range f.OS {
			if def.Invalid == "" {
				names[n] = n
				if len(def.Variants) > 0 {
					names[n] = joinOS(n, def.Variants[0]) // the default variant, as instance add picks it
				}
			}
		}
	}
	if len(names) == 1 {
		for _, n := range names {
			r.note(NoteGuessed, obj, "OS %s: the only OS the nodes offer (nodes do not record an instance's OS)", n)
			return n
		}
	}
	r.note(NoteUnknown, obj, "OS unknown (the nodes offer %d OS definitions); set it with `instance modify -o`", len(names))
	return "unknown"
}

// rebuildDisk builds disk idx of an instance from its volumes and the
// runtime file.
func rebuildDisk(r *Recovered, st *statefile.State, in RecoverInput, obj, primary string, idx int, d *diskEvidence, rt *KVMRuntime) (*statefile.Disk, error) {
	iv := "disk/" + strconv.Itoa(idx)
	var rd *RuntimeDisk
	if rt != nil {
		for i := range rt.Disks {
			if rt.Disks[i].IVName == iv {
				rd = &rt.Disks[i]
			}
		}
	}
	nodes := slices.Sorted(maps.Keys(d.nodes))
	size := int64(0)
	for _, n := range nodes {
		size = max(size, d.sizeMiB[n])
	}
	mode := "rw"
	if rd != nil {
		size, mode = rd.Size, rd.Mode
	}
	if d.template == storage.File || d.template == storage.SharedFile {
		// Files round down to whole MiB only when they are not whole.
		if rd == nil {
			r.note(NoteGuessed, obj, "%s: size %d MiB from the file's size", iv, size)
		}
	}
	out := &statefile.Disk{DevType: d.template, IVName: iv, Size: size, Mode: mode}
	switch d.template {
	case storage.Plain:
		if len(nodes) != 1 {
			return nil, fmt.Errorf("plain volume %s.disk%d is on %d nodes (%s)", d.id, idx, len(nodes), strings.Join(nodes, ", "))
		}
		out.UUID, out.LogicalID, out.Nodes = d.id, []any{d.vg, d.id + ".disk" + strconv.Itoa(idx)}, nodes
	case storage.File, storage.SharedFile:
		p := d.paths[nodes[0]]
		out.UUID, out.LogicalID = d.id, []any{storage.FileDriver, p}
		out.Nodes = []string{primary}
		if d.template == storage.File && len(nodes) > 1 {
			r.note(NoteAmbiguous, obj, "%s: file %s exists on %s; took the primary's", iv, p, strings.Join(nodes, ", "))
		}
	case storage.RBD:
		pool := st.Cluster.RBDPool
		if pool == "" {
			pool = storage.DefaultRBDPool
		}
		out.UUID, out.LogicalID, out.Nodes = d.id, []any{storage.RBD, d.paths[primary]}, []string{primary}
		out.Params = statefile.Params{"pool": pool}
		r.note(NoteGuessed, obj, "%s: rbd image %s in pool %s, found through the runtime file (user-id unknown)", iv, d.paths[primary], pool)
	case storage.DRBD:
		if len(nodes) != 2 || !d.nodes[primary] {
			return nil, fmt.Errorf("drbd data volume %s.disk%d_data is on %s, want the primary and one secondary", d.id, idx, strings.Join(nodes, ", "))
		}
		secondary := nodes[0]
		if secondary == primary {
			secondary = nodes[1]
		}
		if !d.meta[primary] || !d.meta[secondary] {
			r.note(NoteMissing, obj, "%s: drbd meta volume %s.disk%d_meta missing on a node", iv, d.id, idx)
		}
		prefix := d.id + ".disk" + strconv.Itoa(idx)
		data := &statefile.Disk{UUID: in.NewID(), DevType: storage.Plain, LogicalID: []any{d.vg, prefix + "_data"},
			Nodes: []string{primary, secondary}, Size: size, Mode: mode}
		mvg := d.metaVG
		if mvg == "" {
			mvg = d.vg
		}
		meta := &statefile.Disk{UUID: in.NewID(), DevType: storage.Plain, LogicalID: []any{mvg, prefix + "_meta"},
			Nodes: []string{primary, secondary}, Size: storage.DRBDMetaSize, Mode: mode}
		dataPath := "/dev/" + d.vg + "/" + prefix + "_data"
		sp, ss := findShow(in.Probes[primary], dataPath), findShow(in.Probes[secondary], dataPath)
		var port, mp, ms int
		secret := ""
		if sp != nil && ss != nil {
			port, mp, ms, secret = sp.LocalPort, sp.Minor, ss.Minor, sp.Secret
			r.note(NoteSource, obj, "%s: drbd minors %d/%d, port %d and secret from drbdsetup show on %s and %s", iv, mp, ms, port, primary, secondary)
		} else {
			ids, err := storage.AllocDRBD(st, primary, secondary, 1)
			if err != nil {
				return nil, err
			}
			port, mp, ms = ids[0].Port, ids[0].MinorA, ids[0].MinorB
			secret = fmt.Sprintf("%x", in.Random(20))
			if sp != nil {
				mp, port, secret = sp.Minor, sp.LocalPort, sp.Secret
			}
			if ss != nil {
				ms, port, secret = ss.Minor, ss.LocalPort, ss.Secret
			}
			r.note(NoteGuessed, obj, "%s: drbd not set up on both nodes: minors %d/%d, port %d and a new secret allocated (activate-disks sets it up)", iv, mp, ms, port)
		}
		if port > st.Cluster.HighestUsedPort {
			st.Cluster.HighestUsedPort = port
		}
		out.UUID = in.NewID()
		if rd != nil && rd.DevType == storage.DRBD && rd.UUID != "" {
			out.UUID = rd.UUID
		} else {
			r.note(NoteGuessed, obj, "%s: drbd disk UUID is new (no runtime file)", iv)
		}
		out.LogicalID = []any{primary, secondary, port, mp, ms, secret}
		r.note(NoteGuessed, obj, "%s: drbd logical_id lists the current primary %s first (the order at creation is not on the nodes)", iv, primary)
		out.Children = []*statefile.Disk{data, meta}
		out.Nodes = []string{primary, secondary}
	default:
		return nil, fmt.Errorf("template %s cannot be rebuilt", d.template)
	}
	if rd != nil && rd.UUID != out.UUID && d.template != storage.DRBD {
		r.note(NoteAmbiguous, obj, "%s: the runtime file names disk %s, the volume names %s; took the volume's", iv, rd.UUID, out.UUID)
	}
	return out, nil
}
