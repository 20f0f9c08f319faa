package statefile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
)

// MaskedSecret replaces secrets in [State.Masked].
const MaskedSecret = "<masked>"

// New returns an empty state of the given lineage in the current format, with
// serial 0 (nothing committed yet) and empty, non-nil maps.
func New(lineage string) *State {
	st := &State{FormatVersion: FormatVersion, Lineage: lineage}
	st.fillMaps()
	return st
}

// NewUUID returns a random RFC 4122 UUID string for a new object.
func NewUUID() string { return uuid.NewString() }

// NewLineage returns a new random lineage, to be set once at cluster init.
func NewLineage() string { return uuid.NewString() }

func (st *State) fillMaps() {
	if st.NodeGroups == nil {
		st.NodeGroups = map[string]*NodeGroup{}
	}
	if st.Nodes == nil {
		st.Nodes = map[string]*Node{}
	}
	if st.Instances == nil {
		st.Instances = map[string]*Instance{}
	}
	if st.Networks == nil {
		st.Networks = map[string]*Network{}
	}
}

// Clone returns a deep copy of st. A nil st gives nil.
func (st *State) Clone() *State {
	if st == nil {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		// Only unsupported values in Params (channels, funcs) can fail; the
		// model never holds them.
		panic(fmt.Sprintf("statefile: clone: %v", err))
	}
	c := new(State)
	if err := json.Unmarshal(b, c); err != nil {
		panic(fmt.Sprintf("statefile: clone: %v", err))
	}
	c.fillMaps()
	return c
}

// Equal reports whether a and b hold the same content: the same lineage and
// model after canonical encoding. The envelope fields that describe the file
// rather than the cluster (serial, format_version, ganetictl_version) are
// ignored, so a store bumps the serial only when Equal is false.
func Equal(a, b *State) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(contentBytes(a), contentBytes(b))
}

func contentBytes(st *State) []byte {
	c := st.Clone()
	c.Serial, c.GanetictlVersion = 0, ""
	b, err := Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("statefile: marshal: %v", err))
	}
	return b
}

// Masked returns a deep copy of st with every DRBD shared secret (LogicalID[5]
// of each drbd disk, children included) replaced by [MaskedSecret]. Use it for
// everything shown to people or other programs: state show, --json, plans.
func (st *State) Masked() *State {
	c := st.Clone()
	if c == nil {
		return nil
	}
	for _, inst := range c.Instances {
		for _, d := range inst.Disks {
			maskDisk(d)
		}
	}
	return c
}

func maskDisk(d *Disk) {
	if d == nil {
		return
	}
	// By index, not through DRBD(): a malformed logical_id must not keep
	// its secret either.
	if d.DevType == DevDRBD && len(d.LogicalID) > drbdSecretIndex {
		d.LogicalID[drbdSecretIndex] = MaskedSecret
	}
	for _, c := range d.Children {
		maskDisk(c)
	}
}

// Node returns the node of that name.
func (st *State) Node(name string) (*Node, bool) {
	n, ok := st.Nodes[name]
	return n, ok
}

// Instance returns the instance of that name.
func (st *State) Instance(name string) (*Instance, bool) {
	i, ok := st.Instances[name]
	return i, ok
}

// NodeGroup returns the node group of that name.
func (st *State) NodeGroup(name string) (*NodeGroup, bool) {
	g, ok := st.NodeGroups[name]
	return g, ok
}

// Network returns the network of that name.
func (st *State) Network(name string) (*Network, bool) {
	n, ok := st.Networks[name]
	return n, ok
}

// NodeByUUID returns the node with that UUID (a linear scan).
func (st *State) NodeByUUID(id string) (*Node, bool) {
	for _, n := range st.Nodes {
		if n.UUID == id {
			return n, true
		}
	}
	return nil, false
}

// NodeNames returns the node names, sorted.
func (st *State) NodeNames() []string { return slices.Sorted(maps.Keys(st.Nodes)) }

// InstanceNames returns the instance names, sorted.
func (st *State) InstanceNames() []string { return slices.Sorted(maps.Keys(st.Instances)) }

// InstancesOnNode returns the instances that have node as primary or
// secondary, sorted by name.
func (st *State) InstancesOnNode(node string) []*Instance {
	var out []*Instance
	for _, name := range st.InstanceNames() {
		inst := st.Instances[name]
		if inst.PrimaryNode == node || slices.Contains(inst.SecondaryNodes(), node) {
			out = append(out, inst)
		}
	}
	return out
}
