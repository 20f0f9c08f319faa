// Package statefile holds the cluster model that ganetictl keeps, its versioned
// on-disk form, and the stores that read, write, lock and keep history of it.
//
// The model mirrors Ganeti's config.data (objects with uuid, serial_no, ctime,
// mtime) so that a Ganeti configuration can be imported, but objects are keyed
// by name, which is what admins type.
package statefile

import "time"

// FormatVersion is the on-disk envelope version this build writes.
const FormatVersion = 1

// State is the whole cluster model plus the envelope fields.
type State struct {
	FormatVersion    int    `json:"format_version"`
	Serial           int64  `json:"serial"`  // bumped on every committed change
	Lineage          string `json:"lineage"` // set at cluster init, never changed
	GanetictlVersion string `json:"ganetictl_version"`

	Cluster    Cluster               `json:"cluster"`
	NodeGroups map[string]*NodeGroup `json:"nodegroups"` // by name
	Nodes      map[string]*Node      `json:"nodes"`      // by name
	Instances  map[string]*Instance  `json:"instances"`  // by name
	Networks   map[string]*Network   `json:"networks"`   // by name
	// Watcher is what the watcher remembers between passes (watcher.go);
	// nil until a pass records something.
	Watcher *Watcher `json:"watcher,omitempty"`
}

// Meta is what every object carries, as in Ganeti's config.data.
type Meta struct {
	UUID   string    `json:"uuid"`
	Serial int64     `json:"serial_no"`
	Ctime  time.Time `json:"ctime"`
	Mtime  time.Time `json:"mtime"`
}

// Touch marks an object changed at t: bumps its serial and mtime.
func (m *Meta) Touch(t time.Time) {
	m.Serial++
	m.Mtime = t
}

// Params is a flat parameter dictionary (beparams, nicparams, hvparams for one
// hypervisor, ndparams, diskparams for one template). Values keep their JSON
// types (string, float64, bool).
type Params map[string]any

// Cluster is the cluster-wide object.
type Cluster struct {
	Meta
	Name                 string                       `json:"cluster_name"`
	MasterNode           string                       `json:"master_node"` // node name
	MasterNetdev         string                       `json:"master_netdev,omitempty"`
	MasterNetmask        int                          `json:"master_netmask,omitempty"`
	VolumeGroup          string                       `json:"volume_group_name,omitempty"`
	ReservedLVs          []string                     `json:"reserved_lvs,omitempty"`
	DRBDHelper           string                       `json:"drbd_usermode_helper,omitempty"`
	MACPrefix            string                       `json:"mac_prefix"`
	EnabledHypervisors   []string                     `json:"enabled_hypervisors"`
	EnabledDiskTemplates []string                     `json:"enabled_disk_templates"`
	FileStorageDir       string                       `json:"file_storage_dir,omitempty"`
	SharedFileStorageDir string                       `json:"shared_file_storage_dir,omitempty"`
	RBDPool              string                       `json:"rbd_pool,omitempty"`
	CandidatePoolSize    int                          `json:"candidate_pool_size"`
	HVParams             map[string]Params            `json:"hvparams,omitempty"`   // by hypervisor
	BEParams             Params                       `json:"beparams,omitempty"`   // cluster defaults
	NICParams            Params                       `json:"nicparams,omitempty"`  // cluster defaults
	NDParams             Params                       `json:"ndparams,omitempty"`   // cluster defaults
	DiskParams           map[string]Params            `json:"diskparams,omitempty"` // by template
	OSParams             map[string]Params            `json:"osparams,omitempty"`   // by OS
	OSHVP                map[string]map[string]Params `json:"os_hvp,omitempty"`     // by OS, then hypervisor
	HiddenOS             []string                     `json:"hidden_os,omitempty"`
	BlacklistedOS        []string                     `json:"blacklisted_os,omitempty"`
	IPolicy              *IPolicy                     `json:"ipolicy,omitempty"`
	// MaintainNodeHealth lets the watcher stop instances and DRBD devices
	// it finds on nodes marked offline (Ganeti's maintain_node_health).
	MaintainNodeHealth bool     `json:"maintain_node_health,omitempty"`
	HighestUsedPort    int      `json:"highest_used_port,omitempty"`
	TCPUDPPortPool     []int    `json:"tcpudp_port_pool,omitempty"`
	Tags               []string `json:"tags"`
}

// NodeGroup is a Ganeti node group.
type NodeGroup struct {
	Meta
	Name        string            `json:"name"`
	AllocPolicy string            `json:"alloc_policy"` // preferred | last_resort | unallocable
	NDParams    Params            `json:"ndparams,omitempty"`
	DiskParams  map[string]Params `json:"diskparams,omitempty"` // by template, over the cluster's
	IPolicy     *IPolicy          `json:"ipolicy,omitempty"`    // over the cluster's
	// Networks are the networks connected to the group, by name, with the
	// NIC parameters (mode, link, vlan) their NICs get in it.
	Networks map[string]Params `json:"networks,omitempty"`
	Tags     []string          `json:"tags"`
}

// Allocation policies of a node group.
const (
	AllocPreferred   = "preferred"
	AllocLastResort  = "last_resort"
	AllocUnallocable = "unallocable"
)

// IPolicy is an instance policy, as Ganeti's ipolicy: the bounds an
// instance's specs must stay in, the standard specs, the disk templates
// allowed, and the over-commit ratios. In a group, unset parts inherit the
// cluster's.
type IPolicy struct {
	MinMax        []MinMax `json:"minmax,omitempty"`
	Std           ISpec    `json:"std,omitempty"`
	DiskTemplates []string `json:"disk-templates,omitempty"`
	VCPURatio     float64  `json:"vcpu-ratio,omitempty"`
	SpindleRatio  float64  `json:"spindle-ratio,omitempty"`
}

// MinMax is one pair of bounds of an instance policy.
type MinMax struct {
	Min ISpec `json:"min"`
	Max ISpec `json:"max"`
}

// ISpec is an instance spec: Ganeti's keys, a value per key set.
type ISpec map[string]int64

// The keys of an ISpec.
const (
	SpecCPUCount   = "cpu-count"
	SpecDiskCount  = "disk-count"
	SpecDiskSize   = "disk-size"
	SpecMemorySize = "memory-size"
	SpecNICCount   = "nic-count"
	SpecSpindleUse = "spindle-use"
)

// Node is one cluster node.
type Node struct {
	Meta
	Name            string `json:"name"`
	PrimaryIP       string `json:"primary_ip"`
	SecondaryIP     string `json:"secondary_ip"`
	Group           string `json:"group"` // node group name
	MasterCandidate bool   `json:"master_candidate"`
	Drained         bool   `json:"drained"`
	Offline         bool   `json:"offline"`
	MasterCapable   bool   `json:"master_capable"`
	VMCapable       bool   `json:"vm_capable"`
	NDParams        Params `json:"ndparams,omitempty"`
	// Powered is the recorded power state (Ganeti's state of record),
	// kept for nodes with an out-of-band program; nil when never set.
	Powered *bool    `json:"powered,omitempty"`
	Tags    []string `json:"tags"`
}

// Role is Ganeti's one-letter node role: M(aster), C(andidate), D(rained),
// O(ffline), R(egular).
func (n *Node) Role(master string) string {
	switch {
	case n.Name == master:
		return "M"
	case n.Offline:
		return "O"
	case n.Drained:
		return "D"
	case n.MasterCandidate:
		return "C"
	}
	return "R"
}

// Instance is one virtual machine.
type Instance struct {
	Meta
	Name         string   `json:"name"`
	PrimaryNode  string   `json:"primary_node"` // node name
	OS           string   `json:"os"`
	Hypervisor   string   `json:"hypervisor"`
	HVParams     Params   `json:"hvparams,omitempty"`
	BEParams     Params   `json:"beparams,omitempty"`
	OSParams     Params   `json:"osparams,omitempty"`
	AdminState   string   `json:"admin_state"` // up | down | offline
	DiskTemplate string   `json:"disk_template"`
	Disks        []*Disk  `json:"disks"`
	NICs         []*NIC   `json:"nics"`
	DisksActive  bool     `json:"disks_active"`
	NetworkPort  int      `json:"network_port,omitempty"`
	Tags         []string `json:"tags"`
}

// SecondaryNodes are the nodes other than the primary that hold the instance's disks.
func (i *Instance) SecondaryNodes() []string {
	seen := map[string]bool{i.PrimaryNode: true}
	var out []string
	for _, d := range i.Disks {
		for _, n := range d.Nodes {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Disk is one instance disk; a drbd disk has Children [data, meta].
// LogicalID is Ganeti's dev-type specific array: use the accessors
// (PlainLV, File, BlockDev, RBD, DRBD and their setters, disk.go).
type Disk struct {
	UUID      string   `json:"uuid"`
	Name      string   `json:"name,omitempty"`
	DevType   string   `json:"dev_type"`
	LogicalID []any    `json:"logical_id"`
	Children  []*Disk  `json:"children,omitempty"`
	Nodes     []string `json:"nodes"` // node names
	IVName    string   `json:"iv_name"`
	Size      int64    `json:"size"` // MiB
	Mode      string   `json:"mode"` // rw | ro
	Params    Params   `json:"params,omitempty"`
}

// NIC is one instance network interface.
type NIC struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name,omitempty"`
	MAC       string `json:"mac"`
	IP        string `json:"ip,omitempty"`
	Network   string `json:"network,omitempty"` // network name
	NICParams Params `json:"nicparams,omitempty"`
}

// Network is a Ganeti network with its IP pool: Reservations has one
// character per address of the IPv4 subnet, "1" where an instance holds
// it; ExtReserved likewise marks what is reserved outside ganetictl (the
// network and broadcast addresses, the gateway, --add-reserved-ips).
type Network struct {
	Meta
	Name         string   `json:"name"`
	Network      string   `json:"network,omitempty"` // IPv4 subnet, CIDR
	Gateway      string   `json:"gateway,omitempty"`
	Network6     string   `json:"network6,omitempty"`
	Gateway6     string   `json:"gateway6,omitempty"`
	MACPrefix    string   `json:"mac_prefix,omitempty"`
	Reservations string   `json:"reservations,omitempty"`
	ExtReserved  string   `json:"ext_reservations,omitempty"`
	Tags         []string `json:"tags"`
}
