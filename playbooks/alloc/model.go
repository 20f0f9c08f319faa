// Package alloc is ganetictl's cluster brain: a model of a cluster's
// groups, nodes and instances, Ganeti's htools score over it, and the
// searches that use the score: placing new instances (hail), balancing
// (hbal), evacuating and relocating, and capacity planning (hspace).
//
// It is pure: no I/O, no clock, no randomness. A Cluster comes from
// ganetictl's state and node facts (playbooks builds it), from Ganeti's
// text backend (LoadText) or from an iallocator request (ParseRequest);
// everything it answers is a value, with refusals in words.
//
// The model follows Ganeti's htools (src/Ganeti/HTools/Node.hs,
// Instance.hs, Cluster/Metrics.hs) closely enough that a score computed
// here can be compared with hbal's: same resources, same accounting of
// memory reserved for failovers (N+1), same weights.
package alloc

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Template is a disk template, as Ganeti names it.
type Template string

// The disk templates.
const (
	Diskless   Template = "diskless"
	File       Template = "file"
	SharedFile Template = "sharedfile"
	Plain      Template = "plain"
	BlockDev   Template = "blockdev"
	DRBD       Template = "drbd"
	RBD        Template = "rbd"
	Ext        Template = "ext"
	Gluster    Template = "gluster"
)

// AllTemplates are the disk templates in Ganeti's order (the default
// policy's list).
var AllTemplates = []Template{Diskless, File, SharedFile, Plain, BlockDev, DRBD, RBD, Ext, Gluster}

// ParseTemplate reads a disk template name.
func ParseTemplate(s string) (Template, error) {
	for _, t := range AllTemplates {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown disk template %q", s)
}

// Mirror is how a template keeps an instance's disks reachable from
// another node.
type Mirror int

const (
	MirrorNone     Mirror = iota // local disks only (plain, file)
	MirrorInternal               // a DRBD secondary
	MirrorExternal               // shared storage every node can open
)

// Mirror is the template's mirroring.
func (t Template) Mirror() Mirror {
	switch t {
	case DRBD:
		return MirrorInternal
	case Plain, File:
		return MirrorNone
	}
	return MirrorExternal
}

// LocalStorage says whether the template's disks take node volume group
// space (Ganeti counts only these against a node's disk).
func (t Template) LocalStorage() bool { return t == DRBD || t == Plain }

// RequiredNodes is how many nodes an instance of the template needs.
func (t Template) RequiredNodes() int {
	if t == DRBD {
		return 2
	}
	return 1
}

// migratable templates can change nodes without a disk copy.
func (t Template) migratable() bool {
	switch t {
	case DRBD, BlockDev, SharedFile, Gluster, RBD, Ext:
		return true
	}
	return false
}

// AllocPolicy is a node group's allocation policy; lower is preferred.
type AllocPolicy int

const (
	Preferred AllocPolicy = iota
	LastResort
	Unallocable
)

func (p AllocPolicy) String() string {
	switch p {
	case LastResort:
		return "last_resort"
	case Unallocable:
		return "unallocable"
	}
	return "preferred"
}

// ParseAllocPolicy reads preferred, last_resort or unallocable.
func ParseAllocPolicy(s string) (AllocPolicy, error) {
	switch s {
	case "preferred", "":
		return Preferred, nil
	case "last_resort":
		return LastResort, nil
	case "unallocable":
		return Unallocable, nil
	}
	return 0, fmt.Errorf("unknown allocation policy %q", s)
}

// Spec is an instance spec of a policy (Ganeti's ISpec), sizes in MiB.
type Spec struct {
	MemorySize int `json:"memory-size"`
	CPUCount   int `json:"cpu-count"`
	DiskSize   int `json:"disk-size"`
	DiskCount  int `json:"disk-count"`
	NICCount   int `json:"nic-count"`
	SpindleUse int `json:"spindle-use"`
}

// MinMax is one pair of bounds of a policy.
type MinMax struct {
	Min Spec `json:"min"`
	Max Spec `json:"max"`
}

// Policy is an instance policy (Ganeti's IPolicy).
type Policy struct {
	MinMax        []MinMax   `json:"minmax"`
	Std           Spec       `json:"std"`
	DiskTemplates []Template `json:"disk-templates"`
	VCPURatio     float64    `json:"vcpu-ratio"`
	SpindleRatio  float64    `json:"spindle-ratio"`
}

// DefaultPolicy is Ganeti's default instance policy.
func DefaultPolicy() Policy {
	std := Spec{MemorySize: 128, CPUCount: 1, DiskSize: 1024, DiskCount: 1, NICCount: 1, SpindleUse: 1}
	return Policy{
		MinMax:        []MinMax{{Min: std, Max: Spec{MemorySize: 32768, CPUCount: 8, DiskSize: 1024 * 1024, DiskCount: 16, NICCount: 8, SpindleUse: 12}}},
		Std:           std,
		DiskTemplates: slices.Clone(AllTemplates),
		VCPURatio:     4,
		SpindleRatio:  32,
	}
}

// Group is a node group.
type Group struct {
	Name        string
	UUID        string
	AllocPolicy AllocPolicy
	Policy      Policy
	Networks    []string // connected networks
	Tags        []string
}

// Status is an instance's run status (Ganeti's InstanceStatus).
type Status string

// The run statuses, with Ganeti's raw names.
const (
	StatusDown        Status = "ADMIN_down"
	StatusOffline     Status = "ADMIN_offline"
	StatusErrorDown   Status = "ERROR_down"
	StatusErrorUp     Status = "ERROR_up"
	StatusNodeDown    Status = "ERROR_nodedown"
	StatusNodeOffline Status = "ERROR_nodeoffline"
	StatusRunning     Status = "running"
	StatusUserDown    Status = "USER_down"
	StatusWrongNode   Status = "ERROR_wrongnode"
)

// ParseStatus reads a raw run status.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusDown, StatusOffline, StatusErrorDown, StatusErrorUp, StatusNodeDown, StatusNodeOffline, StatusRunning, StatusUserDown, StatusWrongNode:
		return st, nil
	}
	return "", fmt.Errorf("unknown instance status %q", s)
}

// Util is a dynamic load vector (Ganeti's DynUtil).
type Util struct{ CPU, Mem, Disk, Net float64 }

func (u Util) add(o Util) Util {
	return Util{u.CPU + o.CPU, u.Mem + o.Mem, u.Disk + o.Disk, u.Net + o.Net}
}
func (u Util) sub(o Util) Util {
	return Util{u.CPU - o.CPU, u.Mem - o.Mem, u.Disk - o.Disk, u.Net - o.Net}
}

// BaseUtil is what an instance weighs without utilisation data, and a
// node's capacity.
var BaseUtil = Util{1, 1, 1, 1}

// Disk is one instance disk: size in MiB, spindles (-1: unknown).
type Disk struct {
	Size     int
	Spindles int
}

// Instance is one instance in the model.
type Instance struct {
	Name       string
	Mem        int // MiB (maxmem)
	Dsk        int // MiB, all disks (drbd: with the metadata)
	Disks      []Disk
	VCPUs      int
	Status     Status
	Pri, Sec   int // node indices; Sec is NoNode without a secondary
	Template   Template
	SpindleUse int
	Tags       []string
	// AutoBalance: the instance counts against its secondary's memory.
	AutoBalance bool
	// Movable: the balancer may migrate it (a migratable template,
	// not pinned).
	Movable bool
	// Pinned: the balancer leaves it where it is (not selected, or split
	// across groups).
	Pinned bool
	// ExclTags are the tags of the cluster's exclusion prefixes
	// (htools:iextags:PREFIX); two instances sharing one avoid a node.
	ExclTags []string
	// DesiredLoc are the tags of the desired-location prefixes.
	DesiredLoc []string
	// LocScore is how many location tags its two nodes share.
	LocScore int
	// Networks are the networks its NICs are connected to.
	Networks    []string
	NICs        int
	Forthcoming bool
	Util        Util
	OS          string
	Hypervisor  string
}

// NoNode is the node index of "none".
const NoNode = -1

func (i *Instance) running() bool {
	return i.Status == StatusRunning || i.Status == StatusErrorUp
}

func (i *Instance) offline() bool { return i.Status == StatusOffline }

// usesMemory: the instance holds memory on its primary now.
func (i *Instance) usesMemory() bool {
	if i.Forthcoming {
		return false
	}
	switch i.Status {
	case StatusDown, StatusOffline, StatusErrorDown, StatusUserDown:
		return false
	}
	return true
}

// usesSecMem: a failover of the instance would need its memory on the
// secondary.
func (i *Instance) usesSecMem() bool { return !i.offline() && i.AutoBalance }

// spindles is the sum of the disks' spindles, or -1 if one is unknown.
func (i *Instance) spindles() int {
	s := 0
	for _, d := range i.Disks {
		if d.Spindles < 0 {
			return -1
		}
		s += d.Spindles
	}
	return s
}

// nodes are the instance's nodes, primary first.
func (i *Instance) nodes() []int {
	if i.Template == DRBD && i.Sec != NoNode {
		return []int{i.Pri, i.Sec}
	}
	return []int{i.Pri}
}

// Describe is the instance's size as people read it: "2048 MiB, 2 vcpus,
// 10 GiB plain".
func (i *Instance) Describe() string {
	return fmt.Sprintf("%d MiB, %d vcpus, %s %s", i.Mem, i.VCPUs, mib(int64(i.diskSize())), i.Template)
}

// diskSize is the disks' total without DRBD metadata.
func (i *Instance) diskSize() int {
	s := 0
	for _, d := range i.Disks {
		s += d.Size
	}
	if len(i.Disks) == 0 {
		return i.Dsk
	}
	return s
}

// mib writes a size in MiB as people read it.
func mib(v int64) string {
	switch {
	case v >= 1024 && v%1024 == 0:
		return fmt.Sprintf("%d GiB", v/1024)
	case v >= 10*1024:
		return fmt.Sprintf("%.1f GiB", float64(v)/1024)
	}
	return fmt.Sprintf("%d MiB", v)
}

// Cluster is the model: groups, nodes and instances, addressed by index.
type Cluster struct {
	Name      string
	Groups    []*Group
	Nodes     []*Node
	Instances []*Instance
	Tags      []string
	Policy    Policy // the cluster's own (hspace reads its specs)
	// Hypervisor is the cluster's first enabled hypervisor.
	Hypervisor string
}

// NodeIndex finds a node by name (or unique short name), -1 if none.
func (c *Cluster) NodeIndex(name string) int {
	hit := -1
	for i, n := range c.Nodes {
		if n.Name == name {
			return i
		}
		if strings.HasPrefix(n.Name, name+".") {
			if hit >= 0 {
				return -1
			}
			hit = i
		}
	}
	return hit
}

// InstanceIndex finds an instance by name, -1 if none.
func (c *Cluster) InstanceIndex(name string) int {
	for i, in := range c.Instances {
		if in.Name == name {
			return i
		}
	}
	return -1
}

// GroupIndex finds a group by name or UUID, -1 if none.
func (c *Cluster) GroupIndex(name string) int {
	for i, g := range c.Groups {
		if g.Name == name || (g.UUID != "" && g.UUID == name) {
			return i
		}
	}
	return -1
}

// Clone is a copy whose nodes and instances can change without touching c.
func (c *Cluster) Clone() *Cluster {
	out := *c
	out.Nodes = make([]*Node, len(c.Nodes))
	for i, n := range c.Nodes {
		out.Nodes[i] = n.clone()
	}
	out.Instances = make([]*Instance, len(c.Instances))
	for i, in := range c.Instances {
		cp := *in
		out.Instances[i] = &cp
	}
	return &out
}

// groupNodes are the indices of the nodes of group g.
func (c *Cluster) groupNodes(g int) []int {
	var out []int
	for i, n := range c.Nodes {
		if n.Group == g {
			out = append(out, i)
		}
	}
	return out
}

// instanceGroup is the group of an instance's primary, or -1 when its
// nodes are in two groups.
func (c *Cluster) instanceGroup(i *Instance) int {
	g := c.Nodes[i.Pri].Group
	if i.Sec != NoNode && c.Nodes[i.Sec].Group != g {
		return -1
	}
	return g
}

// SplitInstances are the instances whose nodes are in two groups.
func (c *Cluster) SplitInstances() []string {
	var out []string
	for _, in := range c.Instances {
		if c.instanceGroup(in) < 0 {
			out = append(out, in.Name)
		}
	}
	return out
}

// nodeNames are the names of node indices.
func (c *Cluster) nodeNames(idx []int) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = c.Nodes[n].Name
	}
	return out
}

// sortedStrings is a sorted copy.
func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
