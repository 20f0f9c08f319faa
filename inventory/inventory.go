// Package inventory reads the cluster inventory: the TOML file, written by
// people and kept in git, that says how to reach the cluster (SSH settings,
// node addresses) and holds its defaults (volume group, enabled hypervisors
// and disk templates, default parameters). The schema is documented, as data,
// by examples/inventory.toml.
//
// Load reads and checks a file; Parse decodes without the semantic checks,
// which Validate makes, reporting every problem at once. The package also
// holds the name rules (ValidHostname, ValidTag, ParseSize) that the CLI
// applies to user input before anything reaches a node.
package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Defaults for fields the inventory leaves out.
const (
	DefaultUser              = "root"
	DefaultPort              = 22
	DefaultConnectTimeout    = 10 * time.Second
	DefaultCommandTimeout    = 30 * time.Minute
	DefaultParallel          = 32
	DefaultStateDir          = "state"
	DefaultClusterStoreRoot  = "/var/lib/ganeti/ganetictl/store"
	DefaultVolumeGroup       = "xenvg"
	DefaultMACPrefix         = "aa:00:00"
	DefaultCandidatePoolSize = 10
	DefaultDRBDStatusFile    = "/proc/drbd"
	DefaultGroup             = "default"
	DefaultAllocPolicy       = "preferred"
)

// DefaultHypervisors and DefaultDiskTemplates apply when the inventory
// enables none.
var (
	DefaultHypervisors   = []string{"kvm"}
	DefaultDiskTemplates = []string{"plain", "drbd", "file", "sharedfile", "diskless"}
)

// Hypervisors and DiskTemplates are the names Ganeti knows.
var (
	Hypervisors   = []string{"kvm", "xen-pvm", "xen-hvm", "fake", "lxc", "chroot"}
	DiskTemplates = []string{"diskless", "file", "sharedfile", "plain", "drbd", "rbd", "blockdev", "ext", "gluster"}
	AllocPolicies = []string{"preferred", "last_resort", "unallocable"}
)

// Inventory is a parsed inventory with defaults filled in and local paths
// (SSH.IdentityFile, SSH.KnownHosts, State.Dir) made absolute.
type Inventory struct {
	// Path is the file name as given to Load or Parse; errors name it.
	Path        string
	Cluster     Cluster
	SSH         SSH
	State       State
	Defaults    Defaults
	Hypervisors map[string]map[string]any // hvparams by hypervisor name
	Groups      []Group
	Nodes       []Node

	lines    *lineIndex
	problems []error // found while decoding; reported by Validate
}

// Cluster is the [cluster] table.
type Cluster struct {
	Name                 string   // cluster name (a hostname)
	Master               string   // node that `cluster init` makes master
	VolumeGroup          string   // LVM volume group for plain and drbd disks
	EnabledHypervisors   []string // first is the default
	EnabledDiskTemplates []string
	FileStorageDir       string // on the nodes; absolute
	SharedFileStorageDir string // on the nodes; absolute
	RBDPool              string
	MACPrefix            string // three hex octets, lower case
	CandidatePoolSize    int
	DRBDStatusFile       string // on the nodes; absolute
	MasterNetdev         string
}

// SSH is the [ssh] table: how every node is reached.
type SSH struct {
	User           string
	IdentityFile   string // absolute; "" when unset
	UseAgent       bool
	KnownHosts     string // absolute; "" when unset
	JumpHost       string // [user@]host[:port]; "" for none
	Port           int
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	Parallel       int // bound on concurrent node sessions
}

// State is the [state] table: where the state, its history, the journal
// and the locks are kept.
type State struct {
	// Dir is the absolute state directory: the state itself with the dir
	// backend; with the others, where this machine keeps the output of
	// the jobs it submits.
	Dir string
	// Backend is "dir" (the default), "cluster" or "etcd".
	Backend string
	Cluster ClusterBackend
	Etcd    EtcdBackend
}

// Backends are the state backends.
var Backends = []string{"dir", "cluster", "etcd"}

// ClusterBackend is [state.cluster]: the state on the master node.
type ClusterBackend struct {
	Node    string        // node holding the store when none holds it yet; default cluster.master
	Root    string        // directory on the node; default /var/lib/ganeti/ganetictl/store
	LockTTL time.Duration // how long a silent workstation's locks last; default 15s
}

// EtcdBackend is [state.etcd]: the state in an etcd cluster. The password
// is never in the inventory: it comes from the environment variable
// PasswordEnv or the file PasswordFile.
type EtcdBackend struct {
	Endpoints                 []string
	Prefix                    string // default /ganetictl/<cluster.name>/
	CAFile, CertFile, KeyFile string // absolute; "" when unset
	User                      string
	PasswordEnv               string // name of the environment variable holding the password
	PasswordFile              string // absolute; a file holding the password (mode 0600)
	DialTimeout               time.Duration
	LeaseTTL                  time.Duration
}

// EtcdPassword reads the etcd password from the environment variable or
// the file the inventory names ("" when it names neither).
func (e EtcdBackend) EtcdPassword() (string, error) {
	if e.PasswordEnv != "" {
		if v, ok := os.LookupEnv(e.PasswordEnv); ok {
			return v, nil
		}
		if e.PasswordFile == "" {
			return "", fmt.Errorf("state.etcd.password_env: the environment variable %s is not set", e.PasswordEnv)
		}
	}
	if e.PasswordFile == "" {
		return "", nil
	}
	fi, err := os.Stat(e.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("state.etcd.password_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("state.etcd.password_file %s: readable by others (mode %04o); chmod 600 it", e.PasswordFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(e.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("state.etcd.password_file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Defaults is the [defaults] table: cluster-level parameter defaults. Values
// keep their TOML types (string, int64, float64, bool).
type Defaults struct {
	BEParams  map[string]any
	NICParams map[string]any
}

// Group is one [[groups]] entry.
type Group struct {
	Name        string
	AllocPolicy string // preferred | last_resort | unallocable
}

// Node is one [[nodes]] entry.
type Node struct {
	Name             string // what admins type (short or FQDN)
	Address          string // primary address: where SSH reaches the node
	SecondaryAddress string // replication address; defaults to Address
	Group            string // node group; defaults to "default"
	HostKey          string // pinned host key ("ssh-ed25519 AAAA..."); "" to use known_hosts
	Port             int    // SSH port for this node; defaults to SSH.Port
}

// file is the TOML schema as decoded.
type file struct {
	Cluster struct {
		Name                 string   `toml:"name"`
		Master               string   `toml:"master"`
		VolumeGroup          *string  `toml:"volume_group"`
		EnabledHypervisors   []string `toml:"enabled_hypervisors"`
		EnabledDiskTemplates []string `toml:"enabled_disk_templates"`
		FileStorageDir       string   `toml:"file_storage_dir"`
		SharedFileStorageDir string   `toml:"shared_file_storage_dir"`
		RBDPool              string   `toml:"rbd_pool"`
		MACPrefix            string   `toml:"mac_prefix"`
		CandidatePoolSize    *int     `toml:"candidate_pool_size"`
		DRBDStatusFile       string   `toml:"drbd_status_file"`
		MasterNetdev         string   `toml:"master_netdev"`
	} `toml:"cluster"`
	SSH struct {
		User           string `toml:"user"`
		IdentityFile   string `toml:"identity_file"`
		UseAgent       bool   `toml:"use_agent"`
		KnownHosts     string `toml:"known_hosts"`
		JumpHost       string `toml:"jump_host"`
		Port           *int   `toml:"port"`
		ConnectTimeout string `toml:"connect_timeout"`
		CommandTimeout string `toml:"command_timeout"`
		Parallel       *int   `toml:"parallel"`
	} `toml:"ssh"`
	State struct {
		Dir     string `toml:"dir"`
		Backend string `toml:"backend"`
		Cluster struct {
			Node    string `toml:"node"`
			Root    string `toml:"root"`
			LockTTL string `toml:"lock_ttl"`
		} `toml:"cluster"`
		Etcd struct {
			Endpoints    []string `toml:"endpoints"`
			Prefix       string   `toml:"prefix"`
			CAFile       string   `toml:"ca_file"`
			CertFile     string   `toml:"cert_file"`
			KeyFile      string   `toml:"key_file"`
			User         string   `toml:"user"`
			PasswordEnv  string   `toml:"password_env"`
			PasswordFile string   `toml:"password_file"`
			DialTimeout  string   `toml:"dial_timeout"`
			LeaseTTL     string   `toml:"lease_ttl"`
		} `toml:"etcd"`
	} `toml:"state"`
	Defaults struct {
		BEParams  map[string]any `toml:"beparams"`
		NICParams map[string]any `toml:"nicparams"`
	} `toml:"defaults"`
	Hypervisors map[string]map[string]any `toml:"hypervisors"`
	Groups      []struct {
		Name        string `toml:"name"`
		AllocPolicy string `toml:"alloc_policy"`
	} `toml:"groups"`
	Nodes []struct {
		Name             string `toml:"name"`
		Address          string `toml:"address"`
		SecondaryAddress string `toml:"secondary_address"`
		Group            string `toml:"group"`
		HostKey          string `toml:"host_key"`
		Port             int    `toml:"port"`
	} `toml:"nodes"`
}

// Load reads the inventory at path, fills defaults and validates it. On a
// validation failure it returns the inventory as well as the error (every
// problem, joined), so that tools can still show what was read; callers that
// act on nodes must stop on any error.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	inv, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	return inv, inv.Validate()
}

var decodeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "(.*?)"\): (.*)$`)

// Parse decodes inventory data; name is the file name used in errors and to
// resolve relative paths (against its directory). It fails on malformed TOML
// (file:line:column), on values of the wrong type and on unknown keys (all of
// them, each with its line and a suggestion). It fills defaults but does not
// validate: call Validate, or use Load.
func Parse(data []byte, name string) (*Inventory, error) {
	if name == "" {
		name = "inventory"
	}
	var f file
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" {
				msg = fmt.Sprintf("%s (after key %q)", msg, pe.LastKey)
			}
			return nil, fmt.Errorf("%s:%d:%d: invalid TOML: %s", name, pe.Position.Line, pe.Position.Col, msg)
		}
		if m := decodeErrRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s: %s", name, m[1], m[2], strings.TrimPrefix(m[3], "incompatible types: "))
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "toml: "))
	}
	lines := indexLines(data)
	if err := unknownKeys(name, md.Undecoded(), lines); err != nil {
		return nil, err
	}
	inv := &Inventory{Path: name, lines: lines}
	inv.fill(&f, md)
	return inv, nil
}

func (inv *Inventory) problem(key string, format string, args ...any) {
	inv.problems = append(inv.problems, inv.errAt(key, format, args...))
}

// errAt formats an error at the line of key (a dotted path, array elements
// as nodes.N.name).
func (inv *Inventory) errAt(key string, format string, args ...any) error {
	return &lineError{File: inv.Path, Line: inv.lines.line(key), Msg: fmt.Sprintf(format, args...)}
}

// lineError is a problem at a line of the inventory (0 when unknown).
type lineError struct {
	File string
	Line int
	Msg  string
}

func (e *lineError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (inv *Inventory) fill(f *file, md toml.MetaData) {
	base, err := filepath.Abs(filepath.Dir(inv.Path))
	if err != nil {
		base = filepath.Dir(inv.Path)
	}
	c := f.Cluster
	inv.Cluster = Cluster{
		Name: c.Name, Master: c.Master,
		VolumeGroup:          DefaultVolumeGroup,
		EnabledHypervisors:   c.EnabledHypervisors,
		EnabledDiskTemplates: c.EnabledDiskTemplates,
		FileStorageDir:       c.FileStorageDir, SharedFileStorageDir: c.SharedFileStorageDir,
		RBDPool: c.RBDPool, MACPrefix: strings.ToLower(c.MACPrefix),
		CandidatePoolSize: DefaultCandidatePoolSize,
		DRBDStatusFile:    c.DRBDStatusFile, MasterNetdev: c.MasterNetdev,
	}
	if c.VolumeGroup != nil {
		inv.Cluster.VolumeGroup = *c.VolumeGroup
	}
	if len(inv.Cluster.EnabledHypervisors) == 0 {
		inv.Cluster.EnabledHypervisors = slices.Clone(DefaultHypervisors)
	}
	if len(inv.Cluster.EnabledDiskTemplates) == 0 {
		inv.Cluster.EnabledDiskTemplates = slices.Clone(DefaultDiskTemplates)
	}
	if inv.Cluster.MACPrefix == "" {
		inv.Cluster.MACPrefix = DefaultMACPrefix
	}
	if c.CandidatePoolSize != nil {
		inv.Cluster.CandidatePoolSize = *c.CandidatePoolSize
	}
	if inv.Cluster.DRBDStatusFile == "" {
		inv.Cluster.DRBDStatusFile = DefaultDRBDStatusFile
	}

	s := f.SSH
	inv.SSH = SSH{User: s.User, UseAgent: s.UseAgent, JumpHost: s.JumpHost,
		Port: DefaultPort, Parallel: DefaultParallel,
		ConnectTimeout: DefaultConnectTimeout, CommandTimeout: DefaultCommandTimeout}
	if inv.SSH.User == "" {
		inv.SSH.User = DefaultUser
	}
	if s.Port != nil {
		inv.SSH.Port = *s.Port
	}
	if s.Parallel != nil {
		inv.SSH.Parallel = *s.Parallel
	}
	inv.SSH.IdentityFile = inv.localPath("ssh.identity_file", s.IdentityFile, base)
	inv.SSH.KnownHosts = inv.localPath("ssh.known_hosts", s.KnownHosts, base)
	inv.SSH.ConnectTimeout = inv.duration("ssh.connect_timeout", s.ConnectTimeout, DefaultConnectTimeout)
	inv.SSH.CommandTimeout = inv.duration("ssh.command_timeout", s.CommandTimeout, DefaultCommandTimeout)

	dir := f.State.Dir
	if dir == "" {
		dir = DefaultStateDir
	}
	inv.State.Dir = inv.localPath("state.dir", dir, base)
	fs := f.State
	inv.State.Backend = fs.Backend
	if inv.State.Backend == "" {
		inv.State.Backend = "dir"
	}
	inv.State.Cluster = ClusterBackend{Node: fs.Cluster.Node, Root: fs.Cluster.Root,
		LockTTL: inv.duration("state.cluster.lock_ttl", fs.Cluster.LockTTL, 0)}
	if inv.State.Cluster.Node == "" {
		inv.State.Cluster.Node = c.Master
	}
	if inv.State.Cluster.Root == "" {
		inv.State.Cluster.Root = DefaultClusterStoreRoot
	}
	e := fs.Etcd
	inv.State.Etcd = EtcdBackend{Endpoints: e.Endpoints, Prefix: e.Prefix, User: e.User, PasswordEnv: e.PasswordEnv,
		CAFile: inv.localPath("state.etcd.ca_file", e.CAFile, base), CertFile: inv.localPath("state.etcd.cert_file", e.CertFile, base),
		KeyFile: inv.localPath("state.etcd.key_file", e.KeyFile, base), PasswordFile: inv.localPath("state.etcd.password_file", e.PasswordFile, base),
		DialTimeout: inv.duration("state.etcd.dial_timeout", e.DialTimeout, 0), LeaseTTL: inv.duration("state.etcd.lease_ttl", e.LeaseTTL, 0)}
	if inv.State.Etcd.Prefix == "" {
		inv.State.Etcd.Prefix = "/ganetictl/" + c.Name + "/"
	}

	inv.Defaults = Defaults{BEParams: f.Defaults.BEParams, NICParams: f.Defaults.NICParams}
	if inv.Defaults.BEParams == nil {
		inv.Defaults.BEParams = map[string]any{}
	}
	if inv.Defaults.NICParams == nil {
		inv.Defaults.NICParams = map[string]any{}
	}
	inv.Hypervisors = f.Hypervisors
	if inv.Hypervisors == nil {
		inv.Hypervisors = map[string]map[string]any{}
	}
	for hv, p := range inv.Hypervisors {
		if p == nil {
			inv.Hypervisors[hv] = map[string]any{}
		}
	}

	for _, g := range f.Groups {
		if g.AllocPolicy == "" {
			g.AllocPolicy = DefaultAllocPolicy
		}
		inv.Groups = append(inv.Groups, Group{Name: g.Name, AllocPolicy: g.AllocPolicy})
	}
	if len(inv.Groups) == 0 {
		inv.Groups = []Group{{Name: DefaultGroup, AllocPolicy: DefaultAllocPolicy}}
	}
	for _, n := range f.Nodes {
		node := Node{Name: n.Name, Address: n.Address, SecondaryAddress: n.SecondaryAddress,
			Group: n.Group, HostKey: n.HostKey, Port: n.Port}
		if node.SecondaryAddress == "" {
			node.SecondaryAddress = node.Address
		}
		if node.Group == "" {
			node.Group = DefaultGroup
		}
		if node.Port == 0 {
			node.Port = inv.SSH.Port
		}
		inv.Nodes = append(inv.Nodes, node)
	}
}

func (inv *Inventory) duration(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		inv.problem(key, "%s: invalid duration %q (use a number with a unit, e.g. \"10s\", \"30m\")", key, s)
		return def
	}
	if d <= 0 {
		inv.problem(key, "%s: duration %q must be positive", key, s)
		return def
	}
	return d
}

// localPath expands ~ and makes p absolute against base.
func (inv *Inventory) localPath(key, p, base string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~") {
		name, rest, _ := strings.Cut(p[1:], "/")
		var home string
		if name == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				inv.problem(key, "%s: cannot expand %q: %v", key, p, err)
				return p
			}
			home = h
		} else {
			u, err := user.Lookup(name)
			if err != nil {
				inv.problem(key, "%s: cannot expand %q: %v", key, p, err)
				return p
			}
			home = u.HomeDir
		}
		return filepath.Join(home, rest)
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// Node returns the node called name. An exact match wins; otherwise a
// unique node whose name is name's short form or FQDN matches ("node1"
// finds "node1.example.test" and the reverse).
func (inv *Inventory) Node(name string) (*Node, bool) {
	for i := range inv.Nodes {
		if strings.EqualFold(inv.Nodes[i].Name, name) {
			return &inv.Nodes[i], true
		}
	}
	var found *Node
	lname := strings.ToLower(name)
	for i := range inv.Nodes {
		n := &inv.Nodes[i]
		ln := strings.ToLower(n.Name)
		if strings.HasPrefix(ln, lname+".") || strings.HasPrefix(lname, ln+".") {
			if found != nil {
				return nil, false // ambiguous
			}
			found = n
		}
	}
	return found, found != nil
}

// NodeNames returns the node names in inventory order.
func (inv *Inventory) NodeNames() []string {
	names := make([]string, len(inv.Nodes))
	for i, n := range inv.Nodes {
		names[i] = n.Name
	}
	return names
}

// Group returns the group called name.
func (inv *Inventory) Group(name string) (*Group, bool) {
	for i := range inv.Groups {
		if inv.Groups[i].Name == name {
			return &inv.Groups[i], true
		}
	}
	return nil, false
}
