package storage

// DRBD 8.4 disks (reference §2, §11.1-11.6, §12.3).
//
// A drbd disk is a tree: the drbd device with children [data LV, meta LV],
// present on two nodes (nodeA, nodeB of its logical_id). Its logical_id is
// [nodeA, nodeB, port, minorA, minorB, secret] with node *names*; the
// secret (40 lowercase hex characters in Ganeti) lives in the state only:
// every step that needs it carries plan.SecretRef(SecretName(d)) in its
// argv, and the planner registers the value (DRBDSecrets) on its plan.
//
// Allocation (ports, minors) reads the state; secrets and UUIDs are the
// planner's (it owns the randomness). Replication runs over the nodes'
// secondary IPs, which DRBDEnv carries, together with the drbd disk
// parameters and the node's /proc/drbd (or stand-in status file) path.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// DRBD limits and defaults.
const (
	// FirstDRBDPort and LastDRBDPort bound the cluster's TCP port pool
	// (Ganeti's FIRST_DRBD_PORT, LAST_DRBD_PORT).
	FirstDRBDPort = 11000
	LastDRBDPort  = 14999
	// MaxDRBDMinor is the highest minor Ganeti uses on a node.
	MaxDRBDMinor = 255
	// DRBDMetaSize is the meta LV size in MiB (DRBD_META_SIZE).
	DRBDMetaSize = 128
	// DefaultDRBDStatusFile is the kernel's status file; the test bed's
	// stand-in writes the same format elsewhere (inventory drbd_status_file).
	DefaultDRBDStatusFile = "/proc/drbd"
)

// DRBDIDs are the numbers one new drbd disk needs: its port (both ends use
// the same) and its minor on each node.
type DRBDIDs struct {
	Port   int `json:"port"`
	MinorA int `json:"minor_a"`
	MinorB int `json:"minor_b"`
}

// usedDRBD collects the ports and per-node minors of every drbd disk in the
// state (and instances' network ports, which share the port allocator).
func usedDRBD(st *statefile.State) (ports map[int]bool, minors map[string]map[int]bool) {
	ports, minors = map[int]bool{}, map[string]map[int]bool{}
	mark := func(node string, m int) {
		if minors[node] == nil {
			minors[node] = map[int]bool{}
		}
		minors[node][m] = true
	}
	var walk func(d *statefile.Disk)
	walk = func(d *statefile.Disk) {
		if d == nil {
			return
		}
		if id, ok := d.DRBD(); ok {
			ports[id.Port] = true
			mark(id.NodeA, id.MinorA)
			mark(id.NodeB, id.MinorB)
		}
		for _, c := range d.Children {
			walk(c)
		}
	}
	if st == nil {
		return
	}
	for _, inst := range st.Instances {
		if inst.NetworkPort > 0 {
			ports[inst.NetworkPort] = true
		}
		for _, d := range inst.Disks {
			walk(d)
		}
	}
	return
}

// AllocDRBD gives n disks between nodeA and nodeB their port and minors
// (reference §2.3), distinct from every drbd disk in st and from each
// other. Ports: first the cluster's tcpudp_port_pool entries (in order),
// then highest_used_port+1 upwards, then any free port of 11000-14999.
// Minors: per node the lowest ones no drbd disk of st uses there. The
// state is not changed: the planner records the ports with PortsAfterAlloc.
func AllocDRBD(st *statefile.State, nodeA, nodeB string, n int) ([]DRBDIDs, error) {
	if nodeA == "" || nodeB == "" || nodeA == nodeB {
		return nil, fmt.Errorf("drbd needs two different nodes (got %q and %q)", nodeA, nodeB)
	}
	if n < 0 {
		return nil, fmt.Errorf("drbd allocation of %d disks", n)
	}
	ports, minors := usedDRBD(st)
	var cl *statefile.Cluster
	if st != nil {
		cl = &st.Cluster
	}
	ps, err := allocPorts(cl, ports, n)
	if err != nil {
		return nil, err
	}
	ma, err := allocMinors(minors[nodeA], n)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", nodeA, err)
	}
	mb, err := allocMinors(minors[nodeB], n)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", nodeB, err)
	}
	out := make([]DRBDIDs, n)
	for i := range out {
		out[i] = DRBDIDs{Port: ps[i], MinorA: ma[i], MinorB: mb[i]}
	}
	return out, nil
}

// AllocMinors gives n minors on node that no drbd disk of st uses there
// (replace-disks -n: the new secondary's minors).
func AllocMinors(st *statefile.State, node string, n int) ([]int, error) {
	_, minors := usedDRBD(st)
	ms, err := allocMinors(minors[node], n)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	return ms, nil
}

func allocMinors(used map[int]bool, n int) ([]int, error) {
	var out []int
	for m := 0; len(out) < n; m++ {
		if m > MaxDRBDMinor {
			return nil, fmt.Errorf("no free drbd minor (all of 0-%d are used)", MaxDRBDMinor)
		}
		if !used[m] {
			out = append(out, m)
		}
	}
	return out, nil
}

func allocPorts(cl *statefile.Cluster, used map[int]bool, n int) ([]int, error) {
	taken := map[int]bool{}
	var out []int
	ok := func(p int) bool { return p >= FirstDRBDPort && p <= LastDRBDPort && !used[p] && !taken[p] }
	take := func(p int) {
		taken[p] = true
		out = append(out, p)
	}
	if cl != nil {
		for _, p := range cl.TCPUDPPortPool {
			if len(out) < n && ok(p) {
				take(p)
			}
		}
	}
	start := FirstDRBDPort
	if cl != nil && cl.HighestUsedPort >= FirstDRBDPort {
		start = cl.HighestUsedPort + 1
	}
	for p := start; p <= LastDRBDPort && len(out) < n; p++ {
		if ok(p) {
			take(p)
		}
	}
	for p := FirstDRBDPort; p <= LastDRBDPort && len(out) < n; p++ {
		if ok(p) {
			take(p)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("no free drbd port in %d-%d for %d disks", FirstDRBDPort, LastDRBDPort, n)
	}
	return out, nil
}

// PortsAfterAlloc is the cluster's port bookkeeping once ids are used:
// the pool without the ports taken from it, and highest_used_port raised
// to the largest port allocated above it. The planner writes both back.
func PortsAfterAlloc(cl *statefile.Cluster, ids []DRBDIDs) (highest int, pool []int) {
	taken := map[int]bool{}
	highest = max(cl.HighestUsedPort, FirstDRBDPort-1)
	for _, id := range ids {
		taken[id.Port] = true
	}
	for _, p := range cl.TCPUDPPortPool {
		if taken[p] {
			delete(taken, p)
			continue
		}
		pool = append(pool, p)
	}
	for p := range taken {
		highest = max(highest, p)
	}
	return highest, pool
}

// PortsAfterRelease returns the pool with the ports of the removed drbd
// disks added back (instance remove, drbd→plain), as Ganeti does.
func PortsAfterRelease(cl *statefile.Cluster, removed []*statefile.Disk) []int {
	pool := append([]int(nil), cl.TCPUDPPortPool...)
	have := map[int]bool{}
	for _, p := range pool {
		have[p] = true
	}
	for _, d := range removed {
		if v, err := parseDRBD(d); err == nil && !have[v.port] {
			have[v.port] = true
			pool = append(pool, v.port)
		}
	}
	return pool
}

// NewDRBD builds the state objects of new drbd disks (Ganeti's
// _GenerateDRBD8Branch): per spec i, disk index firstIndex+i, one fresh
// UUID u from newID names the children "<u>.disk<N>_data" (spec size, VG
// spec.VG or the cluster VG) and "<u>.disk<N>_meta" (128 MiB, VG
// spec.MetaVG, else the drbd disk param metavg, else the data VG); a second
// UUID is the drbd disk's own. logical_id is [primary, secondary, port,
// minorA, minorB, secret] with ids[i] and secrets[i] (hex); nodes
// [primary, secondary] on the disk and both children.
func NewDRBD(cl *statefile.Cluster, instance, primary, secondary string, firstIndex int, specs []Spec, ids []DRBDIDs, secrets []string, newID func() string) ([]*statefile.Disk, error) {
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	if primary == "" || secondary == "" || primary == secondary {
		return nil, fmt.Errorf("drbd needs a primary and a different secondary node (got %q and %q)", primary, secondary)
	}
	if len(ids) != len(specs) || len(secrets) != len(specs) {
		return nil, fmt.Errorf("drbd: %d disks but %d id sets and %d secrets", len(specs), len(ids), len(secrets))
	}
	var out []*statefile.Disk
	for i, s := range specs {
		n := firstIndex + i
		if s.Adopt != "" {
			return nil, fmt.Errorf("disk %d: adoption is only supported for templates plain and blockdev, not drbd", n)
		}
		mode := s.Mode
		if mode == "" {
			mode = "rw"
		}
		if mode != "rw" && mode != "ro" {
			return nil, fmt.Errorf("disk %d: mode %q must be rw or ro", n, s.Mode)
		}
		if s.Size <= 0 {
			return nil, fmt.Errorf("disk %d: size must be a positive number of MiB (got %d)", n, s.Size)
		}
		vg := firstNonEmpty(s.VG, cl.VolumeGroup, DefaultVG)
		metaVG := firstNonEmpty(s.MetaVG, paramString(cl.DiskParams[DRBD], "metavg"), vg)
		if err := validateIDs(ids[i]); err != nil {
			return nil, fmt.Errorf("disk %d: %w", n, err)
		}
		if err := ValidateDRBDSecret(secrets[i]); err != nil {
			return nil, fmt.Errorf("disk %d: %w", n, err)
		}
		prefix := newID() + ".disk" + strconv.Itoa(n)
		for _, c := range [][2]string{{"VG", vg}, {"VG", metaVG}, {"LV", prefix + "_data"}, {"LV", prefix + "_meta"}} {
			if err := ValidateLVMName(c[0], c[1]); err != nil {
				return nil, fmt.Errorf("disk %d: %w", n, err)
			}
		}
		nodes := []string{primary, secondary}
		data := &statefile.Disk{UUID: newID(), DevType: Plain,
			Nodes: append([]string(nil), nodes...), Size: s.Size, Mode: mode, Params: statefile.Params{}}
		data.SetPlainLV(vg, prefix+"_data")
		meta := &statefile.Disk{UUID: newID(), DevType: Plain,
			Nodes: append([]string(nil), nodes...), Size: DRBDMetaSize, Mode: mode, Params: statefile.Params{}}
		meta.SetPlainLV(metaVG, prefix+"_meta")
		d := &statefile.Disk{UUID: newID(), Name: s.Name, DevType: DRBD,
			Children: []*statefile.Disk{data, meta}, Nodes: nodes,
			IVName: "disk/" + strconv.Itoa(n), Size: s.Size, Mode: mode, Params: statefile.Params{}}
		d.SetDRBD(statefile.DRBDLogicalID{NodeA: primary, NodeB: secondary,
			Port: ids[i].Port, MinorA: ids[i].MinorA, MinorB: ids[i].MinorB, Secret: secrets[i]})
		out = append(out, d)
	}
	return out, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func validateIDs(id DRBDIDs) error {
	// New disks get ports from FirstDRBDPort-LastDRBDPort, but Ganeti's
	// range is a build option: an imported disk may use any TCP port.
	if id.Port < 1 || id.Port > 65535 {
		return fmt.Errorf("drbd port %d is not a TCP port", id.Port)
	}
	for _, m := range []int{id.MinorA, id.MinorB} {
		if err := validMinor(m); err != nil {
			return err
		}
	}
	return nil
}

func validMinor(m int) error {
	if m < 0 || m > MaxDRBDMinor {
		return fmt.Errorf("drbd minor %d is outside 0-%d", m, MaxDRBDMinor)
	}
	return nil
}

// ValidateDRBDSecret accepts a shared secret of 1-128 hex digits (Ganeti
// makes 40 lowercase ones); anything else could be read as an option or
// be mangled on the way to drbdsetup.
func ValidateDRBDSecret(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("drbd shared secret must be 1-128 hex digits (has %d characters)", len(s))
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("drbd shared secret must be hex digits only")
		}
	}
	return nil
}

// SecretName is the plan secret name of d's shared secret: "drbd-<uuid>".
// Steps carry plan.SecretRef(SecretName(d)).
func SecretName(d *statefile.Disk) string { return "drbd-" + d.UUID }

// DRBDSecrets maps SecretName to the secret of every drbd disk among
// disks; the planner registers each with plan.Plan.Secret.
func DRBDSecrets(disks []*statefile.Disk) map[string]string {
	out := map[string]string{}
	for _, d := range disks {
		if v, err := parseDRBD(d); err == nil {
			out[SecretName(d)] = v.secret
		}
	}
	return out
}

// drbdView is a validated drbd disk.
type drbdView struct {
	d              *statefile.Disk
	nodeA, nodeB   string
	port           int
	minorA, minorB int
	secret         string
	data, meta     leaf
}

func parseDRBD(d *statefile.Disk) (drbdView, error) {
	var v drbdView
	if d == nil {
		return v, fmt.Errorf("no disk")
	}
	v.d = d
	if d.DevType != DRBD {
		return v, fmt.Errorf("disk %s is %s, not drbd", d.UUID, d.DevType)
	}
	id, ok := d.DRBD()
	if !ok {
		// Not shown: it may hold the secret.
		return v, fmt.Errorf("drbd disk %s: logical_id is not [nodeA, nodeB, port, minorA, minorB, secret] (two names, three integers, a string)", d.UUID)
	}
	v.nodeA, v.nodeB, v.port, v.minorA, v.minorB, v.secret = id.NodeA, id.NodeB, id.Port, id.MinorA, id.MinorB, id.Secret
	if v.nodeA == "" {
		return v, fmt.Errorf("drbd disk %s: logical_id[0] is not a node name", d.UUID)
	}
	if v.nodeB == "" || v.nodeB == v.nodeA {
		return v, fmt.Errorf("drbd disk %s: logical_id[1] is not a second node name", d.UUID)
	}
	for _, n := range []string{v.nodeA, v.nodeB} {
		if strings.HasPrefix(n, "-") || strings.ContainsAny(n, " \t\n/") {
			return v, fmt.Errorf("drbd disk %s: bad node name %q", d.UUID, n)
		}
	}
	if err := validateIDs(DRBDIDs{v.port, v.minorA, v.minorB}); err != nil {
		return v, fmt.Errorf("drbd disk %s: %w", d.UUID, err)
	}
	if err := ValidateDRBDSecret(v.secret); err != nil {
		return v, fmt.Errorf("drbd disk %s: %w", d.UUID, err)
	}
	if len(d.Children) != 2 {
		return v, fmt.Errorf("drbd disk %s: must have 2 children (data, meta), has %d", d.UUID, len(d.Children))
	}
	var err error
	for i, p := range []*leaf{&v.data, &v.meta} {
		c := d.Children[i]
		if c == nil || c.DevType != Plain {
			return v, fmt.Errorf("drbd disk %s: child %d must be a plain LV", d.UUID, i)
		}
		if *p, err = parse(c); err != nil {
			return v, fmt.Errorf("drbd disk %s: child %d: %w", d.UUID, i, err)
		}
	}
	return v, nil
}

func (v drbdView) minorOn(node string) (int, error) {
	switch node {
	case v.nodeA:
		return v.minorA, nil
	case v.nodeB:
		return v.minorB, nil
	}
	return 0, fmt.Errorf("drbd disk %s is not on node %s (its nodes are %s and %s)", v.d.UUID, node, v.nodeA, v.nodeB)
}

func (v drbdView) peerOf(node string) (string, error) {
	switch node {
	case v.nodeA:
		return v.nodeB, nil
	case v.nodeB:
		return v.nodeA, nil
	}
	return "", fmt.Errorf("drbd disk %s is not on node %s (its nodes are %s and %s)", v.d.UUID, node, v.nodeA, v.nodeB)
}

// DRBDInfo reads a drbd disk's logical_id back, validated (the disk's
// children too), unlike d.DRBD().
func DRBDInfo(d *statefile.Disk) (statefile.DRBDLogicalID, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return statefile.DRBDLogicalID{}, err
	}
	return statefile.DRBDLogicalID{NodeA: v.nodeA, NodeB: v.nodeB, Port: v.port, MinorA: v.minorA, MinorB: v.minorB, Secret: v.secret}, nil
}

// MinorOn is d's minor on node.
func MinorOn(d *statefile.Disk, node string) (int, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return 0, err
	}
	return v.minorOn(node)
}

// PeerOf is the other node of d.
func PeerOf(d *statefile.Disk, node string) (string, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return "", err
	}
	return v.peerOf(node)
}

// DRBDDevice is d's device on node, /dev/drbd<minor>.
func DRBDDevice(d *statefile.Disk, node string) (string, error) {
	m, err := MinorOn(d, node)
	if err != nil {
		return "", err
	}
	return "/dev/drbd" + strconv.Itoa(m), nil
}

// DRBDResource is the 8.4 resource name of minor m: "resource<m>".
func DRBDResource(m int) string { return "resource" + strconv.Itoa(m) }

// WithSecondary returns a copy of d whose peer of primary is newNode with
// minor newMinor (replace-disks -n, reference §11.5 step 6): logical_id
// (primary, newNode, port, primary's minor, newMinor, secret), keeping
// primary's position, and nodes on the disk and children [primary, newNode].
// Port, secret and LV names stay.
func WithSecondary(d *statefile.Disk, primary, newNode string, newMinor int) (*statefile.Disk, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return nil, err
	}
	if _, err := v.minorOn(primary); err != nil {
		return nil, err
	}
	if newNode == "" || newNode == primary {
		return nil, fmt.Errorf("new secondary %q must differ from the primary %s", newNode, primary)
	}
	if err := validMinor(newMinor); err != nil {
		return nil, err
	}
	nd := cloneDisk(d)
	id, _ := d.DRBD() // parseDRBD checked it
	if id.NodeA == primary {
		id.NodeB, id.MinorB = newNode, newMinor
	} else {
		id.NodeA, id.MinorA = newNode, newMinor
	}
	nd.SetDRBD(id)
	nodes := []string{primary, newNode}
	nd.Nodes = nodes
	for _, c := range nd.Children {
		c.Nodes = append([]string(nil), nodes...)
	}
	return nd, nil
}

func cloneDisk(d *statefile.Disk) *statefile.Disk {
	if d == nil {
		return nil
	}
	nd := *d
	nd.LogicalID = append([]any(nil), d.LogicalID...)
	nd.Nodes = append([]string(nil), d.Nodes...)
	if d.Params != nil {
		nd.Params = statefile.Params{}
		for k, v := range d.Params {
			nd.Params[k] = v
		}
	}
	nd.Children = nil
	for _, c := range d.Children {
		nd.Children = append(nd.Children, cloneDisk(c))
	}
	return &nd
}

// DRBDParams are the drbd disk parameters that reach commands (§2.5).
type DRBDParams struct {
	ResyncRate    int    // KiB/s
	DynamicResync bool   // use the c-* options instead of resync-rate
	CPlanAhead    int    // 0.1 s
	CFillTarget   int    // sectors
	CDelayTarget  int    // 0.1 s
	CMaxRate      int    // KiB/s
	CMinRate      int    // KiB/s
	Protocol      string // A, B or C
	DiskBarriers  string // "n" or a subset of "bfd": what to disable
	MetaBarriers  bool   // true: --md-flushes=no
	DiskCustom    []string
	NetCustom     []string
}

// DefaultDRBDParams are Ganeti's defaults.
func DefaultDRBDParams() DRBDParams {
	return DRBDParams{ResyncRate: 61440, CPlanAhead: 20, CFillTarget: 0, CDelayTarget: 1,
		CMaxRate: 61440, CMinRate: 4096, Protocol: "C", DiskBarriers: "n"}
}

// ParseDRBDParams applies layers of drbd disk parameters (cluster
// diskparams["drbd"], then group, then the disk's own Params) over the
// defaults and validates them. Custom words (disk-custom, net-custom) are
// split on blanks and must each look like an option (--name or
// --name=value of safe characters).
func ParseDRBDParams(layers ...statefile.Params) (DRBDParams, error) {
	p := DefaultDRBDParams()
	for _, l := range layers {
		for k, val := range l {
			var err error
			switch k {
			case "resync-rate":
				p.ResyncRate, err = paramInt(k, val)
			case "c-plan-ahead":
				p.CPlanAhead, err = paramInt(k, val)
			case "c-fill-target":
				p.CFillTarget, err = paramInt(k, val)
			case "c-delay-target":
				p.CDelayTarget, err = paramInt(k, val)
			case "c-max-rate":
				p.CMaxRate, err = paramInt(k, val)
			case "c-min-rate":
				p.CMinRate, err = paramInt(k, val)
			case "dynamic-resync":
				p.DynamicResync, err = paramBool(k, val)
			case "meta-barriers":
				p.MetaBarriers, err = paramBool(k, val)
			case "protocol":
				s, _ := val.(string)
				p.Protocol = strings.ToUpper(s)
			case "disk-barriers":
				p.DiskBarriers, _ = val.(string)
			case "disk-custom":
				p.DiskCustom, err = customWords(k, val)
			case "net-custom":
				p.NetCustom, err = customWords(k, val)
			}
			if err != nil {
				return p, err
			}
		}
	}
	if p.Protocol != "A" && p.Protocol != "B" && p.Protocol != "C" {
		return p, fmt.Errorf("drbd parameter protocol %q must be A, B or C", p.Protocol)
	}
	if p.DiskBarriers != "n" {
		if p.DiskBarriers == "" || strings.Trim(p.DiskBarriers, "bfd") != "" {
			return p, fmt.Errorf("drbd parameter disk-barriers %q must be n or letters of bfd", p.DiskBarriers)
		}
	}
	if p.DynamicResync && p.CPlanAhead == 0 {
		return p, fmt.Errorf("drbd parameter c-plan-ahead must not be 0 with dynamic-resync")
	}
	return p, nil
}

func paramInt(k string, v any) (int, error) {
	switch x := v.(type) {
	case string:
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("drbd parameter %s %q is not a non-negative integer", k, x)
		}
		return n, nil
	default:
		// The bound keeps the value an int on 32-bit builds too.
		n, ok := statefile.Int(v)
		if !ok || n < 0 || n > math.MaxInt32 {
			return 0, fmt.Errorf("drbd parameter %s %v is not a non-negative integer", k, v)
		}
		return int(n), nil
	}
}

func paramBool(k string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("drbd parameter %s %v is not a boolean", k, v)
}

func customWords(k string, v any) ([]string, error) {
	s, _ := v.(string)
	words := strings.Fields(s)
	const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"
	for i, w := range words {
		name, val, _ := strings.Cut(w, "=")
		isOpt := strings.HasPrefix(name, "--") && len(name) > 2 && strings.Trim(name[2:], "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		if (i == 0 || strings.HasPrefix(w, "-")) && !isOpt || strings.Trim(val, safe) != "" || strings.Trim(w, safe+"=") != "" {
			return nil, fmt.Errorf("drbd parameter %s: word %q is not an option (--name[=value]) or a plain value", k, w)
		}
	}
	return words, nil
}

// DRBDEnv is what drbd steps need beyond the disk: the replication address
// of each node, the drbd disk parameters (cluster and group layers; a
// disk's own Params are applied on top per disk) and the status file.
type DRBDEnv struct {
	IPs        map[string]string // node name → secondary (replication) IP
	DiskParams []statefile.Params
	StatusFile string // "" means /proc/drbd
}

// DRBDEnvFrom builds a DRBDEnv from the state: every node's secondary IP
// (its primary IP when it has none, as Ganeti defaults it), the cluster's
// drbd disk parameters, and statusFile (the inventory's drbd_status_file).
func DRBDEnvFrom(st *statefile.State, statusFile string) DRBDEnv {
	env := DRBDEnv{IPs: map[string]string{}, StatusFile: statusFile}
	for name, n := range st.Nodes {
		env.IPs[name] = firstNonEmpty(n.SecondaryIP, n.PrimaryIP)
	}
	if p := st.Cluster.DiskParams[DRBD]; p != nil {
		env.DiskParams = []statefile.Params{p}
	}
	return env
}

func (e DRBDEnv) statusFile() string { return firstNonEmpty(e.StatusFile, DefaultDRBDStatusFile) }

func (e DRBDEnv) params(d *statefile.Disk) (DRBDParams, error) {
	return ParseDRBDParams(append(append([]statefile.Params(nil), e.DiskParams...), d.Params)...)
}

// addr is node's replication endpoint: family and the "fam:ip:port" form.
func (e DRBDEnv) addr(node string, port int) (fam, ip, full string, err error) {
	ip = e.IPs[node]
	if ip == "" {
		return "", "", "", fmt.Errorf("node %s has no secondary IP for drbd", node)
	}
	if strings.Trim(ip, "0123456789abcdefABCDEF.:") != "" || strings.HasPrefix(ip, ":") && !strings.HasPrefix(ip, "::") {
		return "", "", "", fmt.Errorf("node %s: %q is not an IP address", node, ip)
	}
	p := strconv.Itoa(port)
	if strings.Contains(ip, ":") {
		return "ipv6", "[" + ip + "]", "ipv6:[" + ip + "]:" + p, nil
	}
	return "ipv4", ip, "ipv4:" + ip + ":" + p, nil
}
