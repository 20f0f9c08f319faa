package playbooks

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// Recovery without a copy: nodes, instances and disks rebuilt from what
// the nodes show.

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
		out.UUID, out.Nodes = d.id, nodes
		out.SetPlainLV(d.vg, d.id+".disk"+strconv.Itoa(idx))
	case storage.File, storage.SharedFile:
		p := d.paths[nodes[0]]
		out.UUID = d.id
		out.SetFile(storage.FileDriver, p)
		out.Nodes = []string{primary}
		if d.template == storage.File && len(nodes) > 1 {
			r.note(NoteAmbiguous, obj, "%s: file %s exists on %s; took the primary's", iv, p, strings.Join(nodes, ", "))
		}
	case storage.RBD:
		pool := st.Cluster.RBDPool
		if pool == "" {
			pool = storage.DefaultRBDPool
		}
		out.UUID, out.Nodes = d.id, []string{primary}
		out.SetRBD(storage.RBD, d.paths[primary])
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
		data := &statefile.Disk{UUID: in.NewID(), DevType: storage.Plain,
			Nodes: []string{primary, secondary}, Size: size, Mode: mode}
		data.SetPlainLV(d.vg, prefix+"_data")
		mvg := d.metaVG
		if mvg == "" {
			mvg = d.vg
		}
		meta := &statefile.Disk{UUID: in.NewID(), DevType: storage.Plain,
			Nodes: []string{primary, secondary}, Size: storage.DRBDMetaSize, Mode: mode}
		meta.SetPlainLV(mvg, prefix+"_meta")
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
		out.SetDRBD(statefile.DRBDLogicalID{NodeA: primary, NodeB: secondary, Port: port, MinorA: mp, MinorB: ms, Secret: secret})
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
