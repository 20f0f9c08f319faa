package ganeticonfig

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// config is the top level of config.data. Objects stay raw until converted,
// so that each can be checked for keys the state has no place for.
type config struct {
	Version    *int                       `json:"version"`
	Cluster    json.RawMessage            `json:"cluster"`
	Nodes      map[string]json.RawMessage `json:"nodes"`
	NodeGroups map[string]json.RawMessage `json:"nodegroups"`
	Instances  map[string]json.RawMessage `json:"instances"`
	Disks      map[string]json.RawMessage `json:"disks"` // newer configs
	Networks   map[string]json.RawMessage `json:"networks"`
	Filters    map[string]json.RawMessage `json:"filters"`
	Serial     int64                      `json:"serial_no"`
	Ctime      *float64                   `json:"ctime"`
	Mtime      *float64                   `json:"mtime"`
}

// meta is what every Ganeti object carries.
type meta struct {
	UUID   string   `json:"uuid"`
	Serial int64    `json:"serial_no"`
	Ctime  *float64 `json:"ctime"`
	Mtime  *float64 `json:"mtime"`
}

type gCluster struct {
	meta
	Name                 string                      `json:"cluster_name"`
	MasterNode           string                      `json:"master_node"` // uuid, a name until 2.8
	MasterIP             string                      `json:"master_ip"`
	MasterNetdev         string                      `json:"master_netdev"`
	MasterNetmask        int                         `json:"master_netmask"`
	VolumeGroup          string                      `json:"volume_group_name"`
	ReservedLVs          []string                    `json:"reserved_lvs"`
	DRBDHelper           string                      `json:"drbd_usermode_helper"`
	MACPrefix            string                      `json:"mac_prefix"`
	EnabledHypervisors   []string                    `json:"enabled_hypervisors"`
	EnabledDiskTemplates *[]string                   `json:"enabled_disk_templates"` // 2.8 and later
	FileStorageDir       string                      `json:"file_storage_dir"`
	SharedFileStorageDir string                      `json:"shared_file_storage_dir"`
	CandidatePoolSize    int                         `json:"candidate_pool_size"`
	HVParams             map[string]statefile.Params `json:"hvparams"`
	BEParams             map[string]statefile.Params `json:"beparams"`  // {"default": {...}}
	NICParams            map[string]statefile.Params `json:"nicparams"` // {"default": {...}}
	NDParams             statefile.Params            `json:"ndparams"`
	DiskParams           map[string]statefile.Params `json:"diskparams"`
	OSParams             map[string]statefile.Params `json:"osparams"`
	HighestUsedPort      int                         `json:"highest_used_port"`
	TCPUDPPortPool       []int                       `json:"tcpudp_port_pool"`
	Tags                 []string                    `json:"tags"`
}

type gNodeGroup struct {
	meta
	Name        string           `json:"name"`
	AllocPolicy string           `json:"alloc_policy"`
	NDParams    statefile.Params `json:"ndparams"`
	// Networks are the connected networks, by network uuid, with the NIC
	// parameters (mode, link, vlan) their NICs get in the group.
	Networks map[string]statefile.Params `json:"networks"`
	Tags     []string                    `json:"tags"`
}

type gNode struct {
	meta
	Name            string           `json:"name"`
	PrimaryIP       string           `json:"primary_ip"`
	SecondaryIP     string           `json:"secondary_ip"`
	Group           string           `json:"group"` // group uuid
	MasterCandidate bool             `json:"master_candidate"`
	Drained         bool             `json:"drained"`
	Offline         bool             `json:"offline"`
	MasterCapable   *bool            `json:"master_capable"`
	VMCapable       *bool            `json:"vm_capable"`
	NDParams        statefile.Params `json:"ndparams"`
	Tags            []string         `json:"tags"`
}

type gInstance struct {
	meta
	Name         string            `json:"name"`
	PrimaryNode  string            `json:"primary_node"`
	OS           string            `json:"os"`
	Hypervisor   string            `json:"hypervisor"`
	HVParams     statefile.Params  `json:"hvparams"`
	BEParams     statefile.Params  `json:"beparams"`
	OSParams     statefile.Params  `json:"osparams"`
	AdminState   string            `json:"admin_state"`
	AdminUp      *bool             `json:"admin_up"`      // before admin_state
	DiskTemplate string            `json:"disk_template"` // old configs; later derived from the disks
	Disks        json.RawMessage   `json:"disks"`         // disk objects (old), or disk uuids
	NICs         []json.RawMessage `json:"nics"`
	DisksActive  bool              `json:"disks_active"`
	NetworkPort  *int              `json:"network_port"`
	Forthcoming  bool              `json:"forthcoming"` // 2.17+: reserved, not yet created
	Tags         []string          `json:"tags"`
}

type gDisk struct {
	meta
	Name        string            `json:"name"`
	DevType     string            `json:"dev_type"`
	LogicalID   []any             `json:"logical_id"`
	PhysicalID  json.RawMessage   `json:"physical_id"` // before 2.11, derived from logical_id
	Children    []json.RawMessage `json:"children"`
	Nodes       []string          `json:"nodes"` // newer configs
	IVName      string            `json:"iv_name"`
	Size        int64             `json:"size"`
	Mode        string            `json:"mode"`
	Params      statefile.Params  `json:"params"`
	Forthcoming bool              `json:"forthcoming"`
}

type gNIC struct {
	UUID      string           `json:"uuid"`
	Name      *string          `json:"name"`
	MAC       string           `json:"mac"`
	IP        *string          `json:"ip"`
	Network   *string          `json:"network"` // network uuid
	NICParams statefile.Params `json:"nicparams"`
}

type gNetwork struct {
	meta
	Name            string   `json:"name"`
	Network         string   `json:"network"`
	Gateway         *string  `json:"gateway"`
	Network6        *string  `json:"network6"`
	Gateway6        *string  `json:"gateway6"`
	MACPrefix       *string  `json:"mac_prefix"`
	Reservations    *string  `json:"reservations"`
	ExtReservations *string  `json:"ext_reservations"`
	Tags            []string `json:"tags"`
}

// knownKeys are the JSON keys of a struct type, embedded structs included.
func knownKeys(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for k := range knownKeys(f.Type) {
				out[k] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
			out[name] = true
		}
	}
	return out
}

// isZero reports whether a raw JSON value carries nothing worth reporting.
func isZero(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "false", "0", "0.0", `""`, "[]", "{}":
		return true
	}
	return false
}
