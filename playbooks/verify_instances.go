package playbooks

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// volumeRef is one volume the state expects: whose disk it is and its size.
type volumeRef struct {
	instance string
	disk     string // iv_name
	size     int64  // MiB
}

// expectedVolumes maps node -> volume name (storage.VolumeName) -> owner.
func expectedVolumes(st *statefile.State) map[string]map[string]volumeRef {
	out := map[string]map[string]volumeRef{}
	var walk func(inst *statefile.Instance, iv string, d *statefile.Disk)
	walk = func(inst *statefile.Instance, iv string, d *statefile.Disk) {
		for _, c := range d.Children {
			walk(inst, iv, c)
		}
		name := storage.VolumeName(d)
		if len(d.Children) > 0 || name == "" || d.DevType == "rbd" || d.DevType == "diskless" || d.DevType == "blockdev" {
			return
		}
		for _, n := range d.Nodes {
			if out[n] == nil {
				out[n] = map[string]volumeRef{}
			}
			out[n][name] = volumeRef{instance: inst.Name, disk: iv, size: d.Size}
		}
	}
	for _, inst := range st.Instances {
		for _, d := range inst.Disks {
			walk(inst, d.IVName, d)
		}
	}
	return out
}

// nodeVolumes is what a node holds: volume name -> size in MiB.
func nodeVolumes(f *NodeFacts, vg string) map[string]float64 {
	out := map[string]float64{}
	if f.Volumes == nil {
		return out
	}
	for _, lv := range f.Volumes.LVs {
		if lv.VG == vg && !lv.Virtual {
			out[lv.VG+"/"+lv.Name] = lv.SizeMiB
		}
	}
	for _, fv := range f.Volumes.Files {
		out[fv.Path] = float64(fv.Size) / (1 << 20)
	}
	return out
}

// verifyInstances is Ganeti's instance status and volume checks: instances
// down that should run, running where they should not, unknown instances,
// missing and mis-sized disks; and, in its own section, orphan volumes.
func verifyInstances(st *statefile.State, in VerifyInput) (status, orphans []Finding) {
	names := make([]string, 0, len(st.Instances))
	for n := range st.Instances {
		names = append(names, n)
	}
	sort.Strings(names)
	usable := func(node string) (*NodeFacts, bool) {
		n := st.Nodes[node]
		f := in.Facts[node]
		return f, n != nil && !n.Offline && f != nil && f.Reachable
	}
	for _, name := range names {
		inst := st.Instances[name]
		bad := func(sev, code, msg string, a ...any) {
			status = append(status, Finding{sev, code, "instance", name, fmt.Sprintf(msg, a...)})
		}
		if n := st.Nodes[inst.PrimaryNode]; n != nil && n.Offline {
			bad(SevError, "EINSTANCEBADNODE", "instance is marked as running and lives on offline node %s", n.Name)
			continue
		}
		f, ok := usable(inst.PrimaryNode)
		if !ok {
			continue // the node's own error says why
		}
		_, running := f.Running[name]
		if inst.AdminState == "up" && !running {
			bad(SevError, "EINSTANCEDOWN", "instance not running on its primary node %s", inst.PrimaryNode)
		}
		for _, node := range sortedNodes(st) {
			if node == inst.PrimaryNode {
				continue
			}
			if of, ok := usable(node); ok {
				if _, there := of.Running[name]; there {
					bad(SevError, "EINSTANCEWRONGNODE", "instance should not run on node %s", node)
				}
			}
		}
	}
	expected := expectedVolumes(st)
	var reserved []*regexp.Regexp
	for _, r := range st.Cluster.ReservedLVs {
		if re, err := regexp.Compile("^" + r + "$"); err == nil {
			reserved = append(reserved, re)
		}
	}
	// Shared file storage is one directory seen by every node: its files are
	// checked once, on the first node that answered, against all sharedfile disks.
	shared := ""
	if d := st.Cluster.SharedFileStorageDir; d != "" {
		shared = d + "/"
	}
	sharedOwner := map[string]volumeRef{}
	for _, m := range expected {
		for vol, ref := range m {
			if shared != "" && strings.HasPrefix(vol, shared) {
				sharedOwner[vol] = ref
			}
		}
	}
	sharedChecked := false
	for _, node := range sortedNodes(st) {
		f, ok := usable(node)
		if !ok {
			continue
		}
		checkShared := !sharedChecked && f.Volumes != nil
		sharedChecked = sharedChecked || checkShared
		for name := range f.Running {
			if _, known := st.Instances[name]; !known {
				status = append(status, Finding{SevError, "ENODEORPHANINSTANCE", "node", node, fmt.Sprintf("instance %s is running but unknown to the cluster", name)})
			}
		}
		if f.Volumes == nil {
			continue
		}
		have := nodeVolumes(f, st.Cluster.VolumeGroup)
		want := expected[node]
		for _, vol := range sortedKeys(want) {
			ref := want[vol]
			size, ok := have[vol]
			switch {
			case !ok:
				status = append(status, Finding{SevError, "EINSTANCEMISSINGDISK", "instance", ref.instance,
					fmt.Sprintf("%s volume %s missing on node %s", ref.disk, vol, node)})
			case size+0.5 < float64(ref.size):
				status = append(status, Finding{SevError, "EINSTANCEFAULTYDISK", "instance", ref.instance,
					fmt.Sprintf("%s volume %s on node %s is %.0f MiB, smaller than the recorded %d MiB", ref.disk, vol, node, size, ref.size)})
			case size > float64(ref.size)+4:
				status = append(status, Finding{SevWarning, "EINSTANCEFAULTYDISK", "instance", ref.instance,
					fmt.Sprintf("%s volume %s on node %s is %.0f MiB but recorded as %d MiB; run `cluster repair-disk-sizes`", ref.disk, vol, node, size, ref.size)})
			}
		}
		for _, vol := range sortedKeys(have) {
			if _, ok := want[vol]; ok {
				continue
			}
			if shared != "" && strings.HasPrefix(vol, shared) {
				if _, known := sharedOwner[vol]; known || !checkShared {
					continue
				}
			}
			if isReserved(vol, reserved) {
				continue
			}
			// A copy's partial destination: reported as a leftover when stale.
			if strings.HasSuffix(vol, transfer.PartialSuffix) {
				continue
			}
			orphans = append(orphans, Finding{SevWarning, "ENODEORPHANLV", "node", node, fmt.Sprintf("volume %s is unknown", vol)})
		}
	}
	return status, orphans
}

func isReserved(vol string, res []*regexp.Regexp) bool {
	for _, r := range res {
		if r.MatchString(vol) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// verifyDRBD checks every node's DRBD minors against the state (Ganeti's
// ENODEDRBD): a minor an active instance needs must be in use, and a minor
// in use must belong to some instance; and a primary's disks should not be
// degraded (EINSTANCEFAULTYDISK).
func verifyDRBD(st *statefile.State, in VerifyInput) []Finding {
	var fs []Finding
	want := map[string]map[int]string{} // node -> minor -> instance
	for _, inst := range st.Instances {
		if !isDRBD(inst) {
			continue
		}
		for _, d := range inst.Disks {
			for _, n := range d.Nodes {
				m, err := storage.MinorOn(d, n)
				if err != nil {
					continue
				}
				if want[n] == nil {
					want[n] = map[int]string{}
				}
				want[n][m] = inst.Name
			}
		}
	}
	for _, node := range sortedNodes(st) {
		f := in.Facts[node]
		if st.Nodes[node].Offline || f == nil || !f.Reachable || len(f.DRBDStatus) == 0 {
			continue
		}
		status := drbdStatus(f)
		for _, m := range sortedInts(want[node]) {
			inst := st.Instances[want[node][m]]
			s, inUse := status[m]
			if inst.DisksActive && (!inUse || s.Unconfigured) {
				fs = append(fs, Finding{SevError, "ENODEDRBD", "node", node, fmt.Sprintf("drbd minor %d of instance %s is not active", m, inst.Name)})
				continue
			}
			if inUse && !s.Unconfigured && inst.PrimaryNode == node && s.Disk != "UpToDate" && !s.Syncing {
				fs = append(fs, Finding{SevError, "EINSTANCEFAULTYDISK", "instance", inst.Name, fmt.Sprintf("drbd minor %d on primary %s is %s (%s)", m, node, s.Disk, s.CState)})
			}
		}
		for m, s := range status {
			if s.Unconfigured {
				continue
			}
			if _, ok := want[node][m]; !ok {
				fs = append(fs, Finding{SevError, "ENODEDRBD", "node", node, fmt.Sprintf("unallocated drbd minor %d is in use", m)})
			}
		}
	}
	return fs
}

func sortedInts(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// verifyN1 is Ganeti's N+1 memory check: for each node N and each other
// node P, the minimum memory of P's auto-balanced instances that have N as
// secondary must fit N's free memory, so N can take them if P fails.
func verifyN1(st *statefile.State, in VerifyInput) []Finding {
	var fs []Finding
	for _, n := range sortedNodes(st) {
		f := in.Facts[n]
		if st.Nodes[n].Offline || f == nil || !f.Reachable {
			continue
		}
		need := map[string]int64{}
		for _, inst := range st.Instances {
			be := EffectiveBE(&st.Cluster, inst.BEParams)
			if !boolParam(be, "auto_balance") {
				continue
			}
			for _, s := range inst.SecondaryNodes() {
				if s == n {
					need[inst.PrimaryNode] += intParam(be, "minmem")
				}
			}
		}
		for _, p := range sortedKeys(need) {
			if need[p] > f.MemFree {
				fs = append(fs, Finding{SevError, "ENODEN1", "node", n, fmt.Sprintf("not enough memory to accommodate instance failovers should node %s fail (%d MiB needed, %d MiB free)", p, need[p], f.MemFree)})
			}
		}
	}
	return fs
}
