package ganeticonfig

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/ippool"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// converter collects problems and warnings while it builds the state, so
// that one run reports everything wrong with a config.
type converter struct {
	cfg  *config
	opts Options
	res  *Result
	st   *statefile.State

	problems []string
	// unmapped counts, per kind of object, the keys with a value that the
	// state has no place for.
	unmapped map[string]map[string]int
	seen     map[string]int // objects per kind

	nodeNames  map[string]string                      // uuid or name -> name
	groupNames map[string]string                      // uuid or name -> name
	netNames   map[string]string                      // uuid or name -> name
	groupNets  map[string]map[string]statefile.Params // group name -> its networks by uuid, until networks are read
}

func (c *converter) problem(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

func (c *converter) warn(format string, a ...any) {
	c.res.Warnings = append(c.res.Warnings, fmt.Sprintf(format, a...))
}

// decode fills dst from raw and records raw's keys that dst has no field for.
func (c *converter) decode(kind, what string, raw json.RawMessage, dst any) bool {
	if err := json.Unmarshal(raw, dst); err != nil {
		c.problem("%s: %v", what, err)
		return false
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys) // an object, since dst (a struct) decoded
	known := knownKeys(reflect.TypeOf(dst).Elem())
	if c.unmapped[kind] == nil {
		c.unmapped[kind] = map[string]int{}
	}
	c.seen[kind]++
	for k, v := range keys {
		if !known[k] && !isZero(v) {
			c.unmapped[kind][k]++
		}
	}
	return true
}

func (c *converter) convert() {
	c.st = statefile.New(c.opts.Lineage)
	c.res.State = c.st
	c.unmapped = map[string]map[string]int{}
	c.seen = map[string]int{}
	c.nodeNames, c.groupNames, c.netNames = map[string]string{}, map[string]string{}, map[string]string{}
	c.groupNets = map[string]map[string]statefile.Params{}

	var cl gCluster
	if !c.decode("cluster", "cluster", c.cfg.Cluster, &cl) {
		return
	}
	c.groups()
	c.nodes()
	c.networks()
	c.connections()
	c.cluster(&cl)
	c.instances()
	c.roles()
	if n := len(c.cfg.Filters); n > 0 {
		c.warn("%d job filter rule(s) not imported: ganetictl has no job queue to filter", n)
	}
	c.reportUnmapped()
}

// sortedKeys gives a map's keys in order, so problems come out in a stable order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func stamp(f *float64) time.Time {
	if f == nil || *f <= 0 {
		return time.Time{}
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
}

func (m meta) toMeta(id string) statefile.Meta {
	return statefile.Meta{UUID: id, Serial: m.Serial, Ctime: stamp(m.Ctime), Mtime: stamp(m.Mtime)}
}

// register records an object's name under its key, its uuid and its name,
// the three ways configs of different versions refer to it.
func (c *converter) register(names map[string]string, kind, key, uuid, name string) bool {
	if name == "" {
		c.problem("%s %s has no name", kind, key)
		return false
	}
	if prev, ok := names[name]; ok && prev == name {
		c.problem("two %ss are named %s; names must be unique", kind, name)
		return false
	}
	for _, ref := range []string{key, uuid, name} {
		if ref != "" {
			names[ref] = name
		}
	}
	return true
}

func (c *converter) groups() {
	for _, key := range sortedKeys(c.cfg.NodeGroups) {
		var g gNodeGroup
		if !c.decode("nodegroups", "node group "+key, c.cfg.NodeGroups[key], &g) {
			continue
		}
		id := pick(g.UUID, key)
		if !c.register(c.groupNames, "node group", key, id, g.Name) {
			continue
		}
		policy := pick(g.AllocPolicy, "preferred")
		if !slices.Contains([]string{"preferred", "last_resort", "unallocable"}, policy) {
			c.problem("node group %s: unknown alloc_policy %q (preferred, last_resort or unallocable)", g.Name, policy)
		}
		c.st.NodeGroups[g.Name] = &statefile.NodeGroup{Meta: g.toMeta(id), Name: g.Name, AllocPolicy: policy,
			NDParams: g.NDParams, Tags: g.Tags}
		if len(g.Networks) > 0 {
			c.groupNets[g.Name] = g.Networks
		}
	}
}

func (c *converter) nodes() {
	for _, key := range sortedKeys(c.cfg.Nodes) {
		var n gNode
		if !c.decode("nodes", "node "+key, c.cfg.Nodes[key], &n) {
			continue
		}
		id := n.UUID
		if id == "" && key != n.Name {
			id = key
		}
		if !c.register(c.nodeNames, "node", key, id, n.Name) {
			continue
		}
		group, ok := c.groupNames[n.Group]
		if !ok {
			c.problem("node %s: its node group %q does not exist in the config", n.Name, n.Group)
		}
		if n.PrimaryIP == "" {
			c.problem("node %s has no primary_ip", n.Name)
		}
		node := &statefile.Node{Meta: n.toMeta(id), Name: n.Name, PrimaryIP: n.PrimaryIP, SecondaryIP: pick(n.SecondaryIP, n.PrimaryIP),
			Group: group, MasterCandidate: n.MasterCandidate, Drained: n.Drained, Offline: n.Offline,
			MasterCapable: n.MasterCapable == nil || *n.MasterCapable, VMCapable: n.VMCapable == nil || *n.VMCapable,
			NDParams: n.NDParams, Tags: n.Tags}
		c.st.Nodes[n.Name] = node
	}
	if len(c.st.Nodes) == 0 && len(c.problems) == 0 {
		c.problem("the config has no nodes")
	}
}

func (c *converter) networks() {
	for _, key := range sortedKeys(c.cfg.Networks) {
		var n gNetwork
		if !c.decode("networks", "network "+key, c.cfg.Networks[key], &n) {
			continue
		}
		id := pick(n.UUID, key)
		if !c.register(c.netNames, "network", key, id, n.Name) {
			continue
		}
		net := &statefile.Network{Meta: n.toMeta(id), Name: n.Name, Network: n.Network,
			Gateway: deref(n.Gateway), Network6: deref(n.Network6), Gateway6: deref(n.Gateway6), MACPrefix: deref(n.MACPrefix),
			Reservations: deref(n.Reservations), ExtReserved: deref(n.ExtReservations), Tags: n.Tags}
		if net.Network == "" && net.Network6 == "" {
			c.problem("network %s has neither an IPv4 nor an IPv6 subnet", n.Name)
		}
		if net.Network != "" {
			if _, err := ippool.New(net.Network, net.Reservations, net.ExtReserved); err != nil {
				c.problem("network %s: %v", n.Name, err)
			}
		}
		c.st.Networks[n.Name] = net
	}
}

// connections record the groups' networks by name, once networks are known.
func (c *converter) connections() {
	for _, group := range sortedKeys(c.groupNets) {
		g := c.st.NodeGroups[group]
		for _, ref := range sortedKeys(c.groupNets[group]) {
			name, ok := c.netNames[ref]
			if !ok {
				c.problem("node group %s is connected to network %q, which is not among the config's networks", group, ref)
				continue
			}
			if g.Networks == nil {
				g.Networks = map[string]statefile.Params{}
			}
			params := statefile.Params{}
			for k, v := range c.groupNets[group][ref] {
				params[k] = v
			}
			g.Networks[name] = params
		}
	}
}

func (c *converter) cluster(g *gCluster) {
	cl := &c.st.Cluster
	*cl = statefile.Cluster{Meta: g.toMeta(g.UUID), Name: g.Name, MasterNetdev: g.MasterNetdev, MasterNetmask: g.MasterNetmask,
		VolumeGroup: g.VolumeGroup, ReservedLVs: g.ReservedLVs, DRBDHelper: g.DRBDHelper, MACPrefix: g.MACPrefix,
		EnabledHypervisors: g.EnabledHypervisors, FileStorageDir: g.FileStorageDir, SharedFileStorageDir: g.SharedFileStorageDir,
		CandidatePoolSize: g.CandidatePoolSize, HVParams: g.HVParams, BEParams: g.BEParams["default"],
		NICParams: g.NICParams["default"], NDParams: g.NDParams, DiskParams: g.DiskParams, OSParams: g.OSParams,
		HighestUsedPort: g.HighestUsedPort, TCPUDPPortPool: g.TCPUDPPortPool, Tags: g.Tags}
	if g.Name == "" {
		c.problem("the cluster has no cluster_name")
	}
	if master, ok := c.nodeNames[g.MasterNode]; ok {
		cl.MasterNode = master
	} else {
		c.problem("the master node %q is not among the config's nodes", g.MasterNode)
	}
	if pool, ok := g.DiskParams[storage.RBD]["pool"].(string); ok {
		cl.RBDPool = pool
	}
	if g.MasterIP != "" {
		c.warn("master IP %s (on %s) not imported: ganetictl has no master daemon and does not move a master IP; keep it configured by other means if clients use it",
			g.MasterIP, pick(g.MasterNetdev, "the master netdev"))
	}
	for k := range g.BEParams {
		if k != "default" {
			c.warn("cluster beparams group %q not imported: only \"default\" is", k)
		}
	}
	for k := range g.NICParams {
		if k != "default" {
			c.warn("cluster nicparams group %q not imported: only \"default\" is", k)
		}
	}
	for _, t := range cl.EnabledHypervisors {
		if !slices.Contains(hypervisors, t) {
			c.problem("enabled hypervisor %q is not one ganetictl knows (%s)", t, strings.Join(hypervisors, ", "))
		}
	}
	if g.EnabledDiskTemplates != nil {
		cl.EnabledDiskTemplates = *g.EnabledDiskTemplates
		for _, t := range cl.EnabledDiskTemplates {
			if !slices.Contains(diskTemplates, t) {
				c.problem("enabled disk template %q is not one ganetictl knows (%s)", t, strings.Join(diskTemplates, ", "))
			}
		}
	}
}

// Names Ganeti uses; the supported subset is what playbooks/storage handles.
var (
	hypervisors        = []string{"kvm", "xen-pvm", "xen-hvm", "fake", "lxc", "chroot"}
	diskTemplates      = []string{"diskless", "file", "sharedfile", "plain", "drbd", "rbd", "blockdev", "ext", "gluster"}
	supportedTemplates = []string{"diskless", "file", "sharedfile", "plain", "drbd", "rbd", "blockdev"}
)

// devType maps dev types of old configs to today's names.
func devType(t string) string {
	switch t {
	case "lvm":
		return storage.Plain
	case "drbd8":
		return storage.DRBD
	}
	return t
}

func (c *converter) instances() {
	used := map[string]bool{}
	for _, key := range sortedKeys(c.cfg.Instances) {
		var gi gInstance
		if !c.decode("instances", "instance "+key, c.cfg.Instances[key], &gi) {
			continue
		}
		inst := c.instance(key, &gi)
		if inst == nil {
			continue
		}
		if _, dup := c.st.Instances[inst.Name]; dup {
			c.problem("two instances are named %s; names must be unique", inst.Name)
			continue
		}
		c.st.Instances[inst.Name] = inst
		used[inst.DiskTemplate] = true
	}
	cl := &c.st.Cluster
	if cl.EnabledDiskTemplates == nil { // before 2.8: what is in use, and LVM's if there is a VG
		if cl.VolumeGroup != "" {
			used[storage.Plain], used[storage.DRBD] = true, true
		}
		for _, t := range diskTemplates {
			if used[t] {
				cl.EnabledDiskTemplates = append(cl.EnabledDiskTemplates, t)
			}
		}
		c.warn("the config predates enabled_disk_templates (Ganeti 2.8): enabled %s from the disks in use and the volume group; change with `ganetictl cluster modify`",
			strings.Join(cl.EnabledDiskTemplates, ", "))
	}
	for _, name := range c.st.InstanceNames() {
		inst := c.st.Instances[name]
		if !slices.Contains(cl.EnabledDiskTemplates, inst.DiskTemplate) {
			c.warn("instance %s uses disk template %s, which the cluster does not enable", name, inst.DiskTemplate)
		}
		if inst.Hypervisor != "" && !slices.Contains(cl.EnabledHypervisors, inst.Hypervisor) {
			c.warn("instance %s uses hypervisor %s, which the cluster does not enable", name, inst.Hypervisor)
		}
	}
}

func (c *converter) instance(key string, gi *gInstance) *statefile.Instance {
	name := gi.Name
	if name == "" {
		c.problem("instance %s has no name", key)
		return nil
	}
	nProblems := len(c.problems)
	if err := storage.ValidateInstanceName(name); err != nil {
		c.problem("instance %s: %v", name, err)
	}
	primary, ok := c.nodeNames[gi.PrimaryNode]
	if !ok {
		c.problem("instance %s: primary node %q is not among the config's nodes", name, gi.PrimaryNode)
	}
	id := gi.UUID
	if id == "" && key != name {
		id = key
	}
	inst := &statefile.Instance{Meta: gi.toMeta(c.id(id)), Name: name, PrimaryNode: primary, OS: gi.OS,
		Hypervisor: gi.Hypervisor, HVParams: gi.HVParams, BEParams: gi.BEParams, OSParams: gi.OSParams,
		DisksActive: gi.DisksActive, Tags: gi.Tags}
	if gi.NetworkPort != nil {
		inst.NetworkPort = *gi.NetworkPort
	}
	switch {
	case gi.AdminState != "":
		inst.AdminState = gi.AdminState
		if !slices.Contains([]string{"up", "down", "offline"}, gi.AdminState) {
			c.problem("instance %s: unknown admin_state %q (up, down or offline)", name, gi.AdminState)
		}
	case gi.AdminUp != nil && *gi.AdminUp:
		inst.AdminState = "up"
	default:
		inst.AdminState = "down"
	}
	if gi.Forthcoming {
		c.problem("instance %s is forthcoming (reserved by an unfinished creation); finish or remove it in Ganeti first", name)
	}
	if gi.Hypervisor != "" && !slices.Contains(hypervisors, gi.Hypervisor) {
		c.problem("instance %s: unknown hypervisor %q", name, gi.Hypervisor)
	}

	for i, raw := range c.instanceDisks(name, gi.Disks) {
		var gd gDisk
		if !c.decode("disks", fmt.Sprintf("instance %s disk %d", name, i), raw, &gd) {
			continue
		}
		if d := c.disk(name, i, primary, &gd, nil); d != nil {
			inst.Disks = append(inst.Disks, d)
		}
	}
	inst.DiskTemplate = c.template(name, gi.DiskTemplate, inst.Disks)
	if inst.DiskTemplate == storage.DRBD && primary != "" {
		for i, d := range inst.Disks {
			if !slices.Contains(d.Nodes, primary) {
				c.problem("instance %s disk %d: drbd disk is on %s, not on the primary node %s", name, i, strings.Join(d.Nodes, " and "), primary)
			}
		}
	}
	for i, raw := range gi.NICs {
		var gn gNIC
		if !c.decode("nics", fmt.Sprintf("instance %s NIC %d", name, i), raw, &gn) {
			continue
		}
		nic := &statefile.NIC{UUID: c.id(gn.UUID), Name: deref(gn.Name), MAC: gn.MAC, IP: deref(gn.IP), NICParams: gn.NICParams}
		if gn.MAC == "" {
			c.problem("instance %s NIC %d has no MAC address", name, i)
		}
		if ref := deref(gn.Network); ref != "" {
			if nic.Network, ok = c.netNames[ref]; !ok {
				c.problem("instance %s NIC %d: network %q is not among the config's networks", name, i, ref)
			}
		}
		inst.NICs = append(inst.NICs, nic)
	}
	if len(c.problems) > nProblems {
		return nil
	}
	return inst
}

// instanceDisks returns the instance's disk objects: embedded (old configs)
// or looked up in the top-level disks by uuid.
func (c *converter) instanceDisks(inst string, raw json.RawMessage) []json.RawMessage {
	if isZero(raw) {
		return nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err == nil {
		var out []json.RawMessage
		for i, id := range ids {
			d, ok := c.cfg.Disks[id]
			if !ok {
				c.problem("instance %s disk %d: disk %s is not among the config's disks", inst, i, id)
				continue
			}
			out = append(out, d)
		}
		return out
	}
	var objs []json.RawMessage
	if err := json.Unmarshal(raw, &objs); err != nil {
		c.problem("instance %s: disks is neither a list of disk uuids nor of disk objects: %v", inst, err)
		return nil
	}
	return objs
}

// template is the instance's disk template: given (old configs) or that of
// its disks, which must all agree.
func (c *converter) template(inst, given string, disks []*statefile.Disk) string {
	var found []string
	for _, d := range disks {
		if !slices.Contains(found, d.DevType) {
			found = append(found, d.DevType)
		}
	}
	switch {
	case len(found) > 1:
		c.problem("instance %s mixes disk templates %s; ganetictl keeps one template per instance: convert its disks to one template in Ganeti first",
			inst, strings.Join(found, " and "))
		return found[0]
	case given != "" && len(found) == 1 && devType(given) != found[0]:
		c.problem("instance %s: disk_template %s does not match its disks (%s)", inst, given, found[0])
	case given != "":
		return devType(given)
	case len(found) == 0:
		return storage.Diskless
	}
	return found[0]
}

// disk converts one disk; parent is the drbd disk of a child, else nil.
func (c *converter) disk(inst string, idx int, primary string, g *gDisk, parent *statefile.Disk) *statefile.Disk {
	what := fmt.Sprintf("instance %s disk %d", inst, idx)
	if parent != nil {
		what += " (drbd child)"
	}
	d := &statefile.Disk{UUID: c.id(g.UUID), Name: g.Name, DevType: devType(g.DevType), IVName: g.IVName,
		Size: g.Size, Mode: pick(g.Mode, "rw"), Params: g.Params}
	if d.Params == nil {
		d.Params = statefile.Params{}
	}
	if d.IVName == "" && parent == nil {
		d.IVName = "disk/" + strconv.Itoa(idx)
	}
	if parent != nil && g.Mode == "" {
		d.Mode = parent.Mode // children of old configs have none
	}
	if g.Forthcoming {
		c.problem("%s is forthcoming (reserved by an unfinished operation); finish it in Ganeti first", what)
	}
	if d.Mode != "rw" && d.Mode != "ro" {
		c.problem("%s: mode %q is neither rw nor ro", what, d.Mode)
	}
	if parent == nil && d.Size <= 0 {
		c.problem("%s: size %d is not a positive number of MiB", what, d.Size)
	}
	for _, ref := range g.Nodes {
		n, ok := c.nodeNames[ref]
		if !ok {
			c.problem("%s: node %q is not among the config's nodes", what, ref)
			continue
		}
		d.Nodes = append(d.Nodes, n)
	}
	str := func(i int) string {
		if i < len(g.LogicalID) {
			s, _ := g.LogicalID[i].(string)
			return s
		}
		return ""
	}
	if !slices.Contains(supportedTemplates, d.DevType) {
		if slices.Contains(diskTemplates, d.DevType) {
			c.problem("%s: disk template %s is not supported by ganetictl (it handles %s); convert the instance in Ganeti first (gnt-instance modify -t) or remove it",
				what, d.DevType, strings.Join(supportedTemplates, ", "))
		} else {
			c.problem("%s: unknown dev_type %q", what, g.DevType)
		}
		return nil
	}
	if d.DevType != storage.DRBD && d.DevType != storage.Diskless && (len(g.LogicalID) != 2 || str(0) == "" || str(1) == "") {
		c.problem("%s: %s logical_id must be two strings", what, d.DevType)
		return nil
	}
	switch d.DevType {
	case storage.Plain:
		d.SetPlainLV(str(0), str(1))
		for _, err := range []error{storage.ValidateLVMName("VG", str(0)), storage.ValidateLVMName("LV", str(1))} {
			if err != nil {
				c.problem("%s: %v", what, err)
			}
		}
	case storage.File, storage.SharedFile:
		d.SetFile(str(0), str(1))
		if err := storage.ValidateFilePath(str(1), path.Dir(path.Dir(str(1)))); err != nil {
			c.problem("%s: %v", what, err)
		}
	case storage.BlockDev:
		d.SetBlockDev(str(0), str(1))
		if err := storage.ValidateBlockDevPath(str(1)); err != nil {
			c.problem("%s: %v", what, err)
		}
	case storage.RBD:
		d.SetRBD(str(0), str(1))
		if _, ok := d.Params["pool"]; !ok && c.st.Cluster.RBDPool != "" {
			d.Params["pool"] = c.st.Cluster.RBDPool // Ganeti takes it from the diskparams
		}
		if err := storage.ValidateRBDName("image", str(1)); err != nil {
			c.problem("%s: %v", what, err)
		}
	case storage.DRBD:
		c.drbd(what, d, g, primary)
	}
	if d.Nodes == nil {
		switch {
		case parent != nil:
			d.Nodes = slices.Clone(parent.Nodes)
		case d.DevType == storage.DRBD && len(d.LogicalID) == 6:
			id, _ := d.DRBD()
			d.Nodes = []string{id.NodeA, id.NodeB}
		case primary != "":
			d.Nodes = []string{primary}
		}
	}
	if d.DevType == storage.DRBD {
		if len(g.Children) != 2 {
			c.problem("%s: a drbd disk needs 2 children (data and metadata), has %d", what, len(g.Children))
		}
		for i, raw := range g.Children {
			var gc gDisk
			if !c.decode("disks", fmt.Sprintf("%s child %d", what, i), raw, &gc) {
				continue
			}
			if ch := c.disk(inst, idx, primary, &gc, d); ch != nil {
				if ch.DevType != storage.Plain {
					c.problem("%s: drbd child %d is %s, not plain", what, i, ch.DevType)
				}
				d.Children = append(d.Children, ch)
			}
		}
	}
	return d
}

// drbd converts a drbd logical_id [nodeA, nodeB, port, minorA, minorB,
// secret], node references becoming names. The secret never appears in a
// message.
func (c *converter) drbd(what string, d *statefile.Disk, g *gDisk, primary string) {
	if len(g.LogicalID) != 6 {
		c.problem("%s: drbd logical_id must have 6 elements (nodeA, nodeB, port, minorA, minorB, secret), has %d", what, len(g.LogicalID))
		return
	}
	var nodes [2]string
	for i := range nodes {
		ref, _ := g.LogicalID[i].(string)
		n, ok := c.nodeNames[ref]
		if !ok {
			c.problem("%s: drbd node %q is not among the config's nodes", what, ref)
		}
		nodes[i] = n
	}
	if nodes[0] == nodes[1] {
		c.problem("%s: drbd needs two different nodes", what)
	}
	var nums [3]int // port, minor A, minor B
	for i := range nums {
		name := [...]string{"port", "minor A", "minor B"}[i]
		n, ok := statefile.Int(g.LogicalID[2+i])
		if !ok || n < 0 || n > 65535 {
			c.problem("%s: drbd %s %v is not an integer in 0-65535", what, name, g.LogicalID[2+i])
		}
		nums[i] = int(n)
	}
	for _, m := range nums[1:] {
		if m > storage.MaxDRBDMinor {
			c.warn("%s: drbd minor %d is above ganetictl's highest minor %d: operations on this disk will be refused", what, m, storage.MaxDRBDMinor)
		}
	}
	secret, _ := g.LogicalID[5].(string)
	if err := storage.ValidateDRBDSecret(secret); err != nil {
		c.problem("%s: %v", what, err)
	}
	d.SetDRBD(statefile.DRBDLogicalID{NodeA: nodes[0], NodeB: nodes[1], Port: nums[0], MinorA: nums[1], MinorB: nums[2], Secret: secret})
}

// roles warns about role flags Ganeti itself would refuse.
func (c *converter) roles() {
	for _, name := range c.st.NodeNames() {
		n := c.st.Nodes[name]
		set := 0
		for _, b := range []bool{n.MasterCandidate, n.Drained, n.Offline} {
			if b {
				set++
			}
		}
		if set > 1 {
			c.warn("node %s has more than one of master_candidate, drained, offline set; its role is %s", name, n.Role(c.st.Cluster.MasterNode))
		}
	}
}

// reportUnmapped lists, per kind of object, the settings the state has no
// place for: one line each, naming keys but never values (they may be keys
// or certificates).
func (c *converter) reportUnmapped() {
	for _, kind := range []string{"cluster", "nodegroups", "nodes", "instances", "disks", "nics", "networks"} {
		keys := c.unmapped[kind]
		if len(keys) == 0 {
			continue
		}
		var parts []string
		for _, k := range sortedKeys(keys) {
			if kind == "cluster" {
				parts = append(parts, k)
			} else {
				parts = append(parts, fmt.Sprintf("%s (%d of %d)", k, keys[k], c.seen[kind]))
			}
		}
		c.warn("%s: not imported (no place in ganetictl's state): %s", kind, strings.Join(parts, ", "))
	}
}

func pick(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// id is the object's uuid, or a new one for objects old configs keep without.
func (c *converter) id(uuid string) string {
	if uuid != "" {
		return uuid
	}
	return c.opts.NewID()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
