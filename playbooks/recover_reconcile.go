package playbooks

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// Recovery from a copy: the copy corrected to what the nodes show.

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
			id, ok := d.DRBD()
			if !ok {
				continue
			}
			for n, m := range map[string]int{id.NodeA: id.MinorA, id.NodeB: id.MinorB} {
				if out[n] == nil {
					out[n] = map[int]bool{}
				}
				out[n][m] = true
			}
		}
	}
	return out
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
		id, ok := d.DRBD()
		if !ok || len(d.Children) == 0 {
			continue
		}
		dataPath := lvDevPath(d.Children[0])
		fixed := id
		for i, n := range []string{id.NodeA, id.NodeB} {
			sh := findShow(in.Probes[n], dataPath)
			if sh == nil {
				continue
			}
			minor := &fixed.MinorA
			if i == 1 {
				minor = &fixed.MinorB
			}
			if sh.Minor != *minor {
				r.note(NoteFixed, obj, "%s: drbd minor on %s %d -> %d (as configured there)", d.IVName, n, *minor, sh.Minor)
				*minor = sh.Minor
			}
			if sh.LocalPort != 0 && sh.LocalPort != fixed.Port {
				r.note(NoteFixed, obj, "%s: drbd port %d -> %d (as configured on %s)", d.IVName, fixed.Port, sh.LocalPort, n)
				fixed.Port = sh.LocalPort
			}
			if sh.Secret != "" && sh.Secret != fixed.Secret {
				r.note(NoteFixed, obj, "%s: drbd secret taken from %s's configuration", d.IVName, n)
				fixed.Secret = sh.Secret
			}
		}
		if fixed != id {
			d.SetDRBD(fixed)
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
