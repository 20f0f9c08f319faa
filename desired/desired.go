// Package desired is the declarative side of ganetictl: a TOML file that
// declares the instances, node roles and cluster parameters a cluster should
// have, and the diff planner that turns the difference between that file and
// the state (plus the nodes' facts) into an ordered list of operations, each
// one a call of an existing playbooks planner.
package desired

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/ganetictl/ganetictl/inventory"
)

// File is a parsed desired-state file.
type File struct {
	Path      string      `toml:"-"`
	Cluster   *Cluster    `toml:"cluster"`
	Nodes     []*Node     `toml:"node"`
	Groups    []*Group    `toml:"group"`
	Networks  []*Network  `toml:"network"`
	Instances []*Instance `toml:"instance"`
}

// Group declares a node group (gnt-group): its allocation policy, tags
// and, when given, exactly its nodes. Keys left out are left alone; groups
// not declared are kept.
type Group struct {
	Name        string   `toml:"name"`
	AllocPolicy string   `toml:"alloc_policy"` // preferred, last_resort, unallocable
	Nodes       []string `toml:"nodes"`
	Tags        []string `toml:"tags"`

	Line     int `toml:"-"`
	keyLines map[string]int
}

// KeyLine is the line of one of the group's keys, or of its header.
func (g *Group) KeyLine(key string) int {
	if l, ok := g.keyLines[key]; ok {
		return l
	}
	return g.Line
}

// Network declares an IP network (gnt-network). Its keys left out are left
// alone, except that a new network needs a subnet or subnet6.
type Network struct {
	Name      string   `toml:"name"`
	Subnet    string   `toml:"subnet"`  // IPv4 CIDR; cannot change once made
	Gateway   string   `toml:"gateway"` // "none" removes it
	Subnet6   string   `toml:"subnet6"`
	Gateway6  string   `toml:"gateway6"`
	MACPrefix string   `toml:"mac_prefix"`
	Reserved  []string `toml:"reserved"` // externally reserved addresses, exactly
	Tags      []string `toml:"tags"`
	// Connect are the groups the network is connected to, exactly, with
	// the NIC parameters its NICs get there.
	Connect []Connection `toml:"connect"`

	Line     int `toml:"-"`
	keyLines map[string]int
}

// Connection is a network's connection to a node group; mode, link and
// vlan left out are the cluster's NIC defaults.
type Connection struct {
	Group string `toml:"group"`
	Mode  string `toml:"mode"`
	Link  string `toml:"link"`
	VLAN  string `toml:"vlan"`
}

// Has reports whether the network's declaration has key.
func (n *Network) Has(key string) bool { _, ok := n.keyLines[key]; return ok }

// KeyLine is the line of one of the network's keys, or of its header.
func (n *Network) KeyLine(key string) int {
	if l, ok := n.keyLines[key]; ok {
		return l
	}
	return n.Line
}

// Cluster are the declared cluster parameters. Only what is declared is
// managed: an absent key leaves the state's value alone.
type Cluster struct {
	BEParams map[string]any `toml:"beparams"`
	Tags     []string       `toml:"tags"`
	Line     int            `toml:"-"`
}

// Node declares a node's role and tags.
type Node struct {
	Name string   `toml:"name"`
	Role string   `toml:"role"` // master_candidate | regular | drained | offline ("" leaves it)
	Tags []string `toml:"tags"`
	Line int      `toml:"-"`
}

// Instance declares one instance.
type Instance struct {
	Name       string         `toml:"name"`
	Template   string         `toml:"template"`
	Primary    string         `toml:"primary"`   // node name or "auto"
	Secondary  string         `toml:"secondary"` // drbd: node name or "auto"
	OS         string         `toml:"os"`
	Hypervisor string         `toml:"hypervisor"`
	Disks      []string       `toml:"disks"` // sizes: "64M", "10G"
	NICs       []NIC          `toml:"nic"`
	BEParams   map[string]any `toml:"beparams"`
	HVParams   map[string]any `toml:"hvparams"`
	Tags       []string       `toml:"tags"`
	State      string         `toml:"state"` // running (default) | stopped

	Line     int     `toml:"-"` // of its [[instance]] header
	DiskMiB  []int64 `toml:"-"`
	keyLines map[string]int
}

// NIC is one network interface of an instance. A NIC in a network takes
// its link and mode from the network's connection to the primary node's
// group; ip = "pool" gives it a free address of the network's pool.
type NIC struct {
	Link    string `toml:"link"`
	Mode    string `toml:"mode"`
	IP      string `toml:"ip"`
	MAC     string `toml:"mac"`
	Network string `toml:"network"`
}

// Templates are the disk templates a desired file may name.
var Templates = []string{"diskless", "file", "sharedfile", "plain", "drbd", "rbd"}

// Error is a problem in a desired-state file, at a line.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors are all the problems found in one file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Load reads and parses a desired-state file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

var (
	headerRE = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.]+)\s*\]\]?`)
	keyRE    = regexp.MustCompile(`^\s*([A-Za-z0-9_]+)\s*=`)
)

// section is a [[table]] of the file with the lines of its keys.
type section struct {
	name string
	line int
	keys map[string]int // first line of each key (sub-tables as "nic", "beparams", ...)
}

// scan finds the sections of the file and their keys' lines: the TOML
// decoder does not report positions, so the parser maps objects back to lines.
func scan(data []byte) []*section {
	var out []*section
	cur := &section{name: "", line: 1, keys: map[string]int{}}
	out = append(out, cur)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if m := headerRE.FindStringSubmatch(l); m != nil {
			name := m[1]
			if strings.HasPrefix(strings.TrimSpace(l), "[[") && !strings.Contains(name, ".") {
				cur = &section{name: name, line: n, keys: map[string]int{}}
				out = append(out, cur)
				continue
			}
			if i := strings.IndexByte(name, '.'); i >= 0 { // [instance.beparams], [[instance.nic]]
				sub := name[i+1:]
				if _, ok := cur.keys[sub]; !ok {
					cur.keys[sub] = n
				}
				continue
			}
			cur = &section{name: name, line: n, keys: map[string]int{}}
			out = append(out, cur)
			continue
		}
		if m := keyRE.FindStringSubmatch(l); m != nil {
			if _, ok := cur.keys[m[1]]; !ok {
				cur.keys[m[1]] = n
			}
		}
	}
	return out
}

// nth returns the i-th section named name.
func nth(secs []*section, name string, i int) *section {
	for _, s := range secs {
		if s.name == name {
			if i == 0 {
				return s
			}
			i--
		}
	}
	return &section{keys: map[string]int{}}
}

// Parse parses a desired-state file and checks everything that needs no
// cluster: syntax, unknown keys, names, templates, sizes, duplicates.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	md, err := toml.Decode(string(data), f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{Path: path, Line: pe.Position.Line, Msg: pe.Message}}
		}
		return nil, Errors{{Path: path, Msg: err.Error()}}
	}
	secs := scan(data)
	var errs Errors
	bad := func(line int, format string, a ...any) {
		errs = append(errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	for _, k := range md.Undecoded() {
		line := 0
		if len(k) > 0 {
			for _, s := range secs {
				if s.name == k[0] {
					if l, ok := s.keys[k[len(k)-1]]; ok {
						line = l
						break
					}
				}
			}
		}
		bad(line, "unknown key %q", k.String())
	}
	if f.Cluster != nil {
		f.Cluster.Line = nth(secs, "cluster", 0).line
	}
	seen := map[string]int{}
	for i, n := range f.Nodes {
		s := nth(secs, "node", i)
		n.Line = s.line
		if n.Name == "" {
			bad(n.Line, "node without a name")
		} else if l, dup := seen["node "+n.Name]; dup {
			bad(n.Line, "node %s declared twice (first at line %d)", n.Name, l)
		}
		seen["node "+n.Name] = n.Line
		if !slices.Contains([]string{"", "master_candidate", "regular", "drained", "offline"}, n.Role) {
			bad(lineOf(s, "role"), "node %s: unknown role %q (master_candidate, regular, drained, offline)", n.Name, n.Role)
		}
	}
	for i, g := range f.Groups {
		s := nth(secs, "group", i)
		g.Line, g.keyLines = s.line, s.keys
		switch {
		case g.Name == "":
			bad(g.Line, "group without a name")
			continue
		case !validNetworkName(g.Name):
			bad(g.KeyLine("name"), "group name %q: use 1 to 64 letters, digits and . _ + - (not starting with -)", g.Name)
		}
		if l, dup := seen["group "+g.Name]; dup {
			bad(g.KeyLine("name"), "group %s declared twice (first at line %d)", g.Name, l)
		}
		seen["group "+g.Name] = g.Line
		if !slices.Contains([]string{"", "preferred", "last_resort", "unallocable"}, g.AllocPolicy) {
			bad(g.KeyLine("alloc_policy"), "group %s: alloc_policy %q (preferred, last_resort or unallocable)", g.Name, g.AllocPolicy)
		}
		for _, n := range g.Nodes {
			if l, dup := seen["group node "+n]; dup {
				bad(g.KeyLine("nodes"), "node %s is in two groups (also at line %d)", n, l)
			}
			seen["group node "+n] = g.KeyLine("nodes")
		}
	}
	for i, nw := range f.Networks {
		s := nth(secs, "network", i)
		nw.Line, nw.keyLines = s.line, s.keys
		switch {
		case nw.Name == "":
			bad(nw.Line, "network without a name")
			continue
		case !validNetworkName(nw.Name):
			bad(nw.KeyLine("name"), "network name %q: use 1 to 64 letters, digits and . _ + - (not starting with -)", nw.Name)
		}
		if l, dup := seen["network "+nw.Name]; dup {
			bad(nw.KeyLine("name"), "network %s declared twice (first at line %d)", nw.Name, l)
		}
		seen["network "+nw.Name] = nw.Line
		for _, c := range nw.Connect {
			if c.Group == "" {
				bad(nw.KeyLine("connect"), "network %s: a connection without a group", nw.Name)
			}
		}
	}
	for i, in := range f.Instances {
		s := nth(secs, "instance", i)
		in.Line, in.keyLines = s.line, s.keys
		if in.Name == "" {
			bad(in.Line, "instance without a name")
			continue
		}
		if err := inventory.ValidHostname(in.Name); err != nil {
			bad(in.KeyLine("name"), "instance name: %v", err)
		}
		if l, dup := seen["instance "+in.Name]; dup {
			bad(in.KeyLine("name"), "instance %s declared twice (first at line %d)", in.Name, l)
		}
		seen["instance "+in.Name] = in.Line
		if !slices.Contains(Templates, in.Template) {
			bad(in.KeyLine("template"), "instance %s: unknown disk template %q (%s)", in.Name, in.Template, strings.Join(Templates, ", "))
		}
		if in.Primary == "" {
			bad(in.Line, "instance %s: no primary node (a node name, or \"auto\")", in.Name)
		}
		if in.Secondary != "" && in.Template != "drbd" {
			bad(in.KeyLine("secondary"), "instance %s: only the drbd template takes a secondary node", in.Name)
		}
		if in.Template == "drbd" && in.Secondary == "" {
			in.Secondary = "auto"
		}
		if in.OS == "" {
			bad(in.Line, "instance %s: no os", in.Name)
		}
		switch in.State {
		case "":
			in.State = "running"
		case "running", "stopped":
		default:
			bad(in.KeyLine("state"), "instance %s: state must be running or stopped, not %q", in.Name, in.State)
		}
		if in.Template == "diskless" && len(in.Disks) > 0 {
			bad(in.KeyLine("disks"), "instance %s: diskless instances take no disks", in.Name)
		}
		if in.Template != "diskless" && slices.Contains(Templates, in.Template) && len(in.Disks) == 0 {
			bad(in.Line, "instance %s: no disks (disks = [\"1G\"])", in.Name)
		}
		for _, d := range in.Disks {
			mib, err := inventory.ParseSize(d)
			if err != nil || mib <= 0 {
				bad(in.KeyLine("disks"), "instance %s: disk size %q: %v", in.Name, d, errOr(err, "must be positive"))
				continue
			}
			in.DiskMiB = append(in.DiskMiB, mib)
		}
		for k := range in.BEParams {
			if !slices.Contains([]string{"memory", "minmem", "maxmem", "vcpus", "auto_balance", "always_failover", "spindle_use"}, k) {
				bad(in.KeyLine("beparams"), "instance %s: unknown backend parameter %q", in.Name, k)
			}
		}
		if in.Tags == nil {
			in.Tags = []string{}
		}
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// validNetworkName is the CLI's rule for network names.
func validNetworkName(name string) bool {
	return len(name) <= 64 && !strings.HasPrefix(name, "-") && strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r))
	}) < 0
}

func errOr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

func lineOf(s *section, key string) int {
	if l, ok := s.keys[key]; ok {
		return l
	}
	return s.line
}

// KeyLine is the line of one of the instance's keys, or of its header.
func (in *Instance) KeyLine(key string) int {
	if l, ok := in.keyLines[key]; ok {
		return l
	}
	return in.Line
}
