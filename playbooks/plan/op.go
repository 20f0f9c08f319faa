package plan

import "strings"

// OpID names an opcode as Ganeti does, without its OP_ prefix
// (INSTANCE_MIGRATE for OP_INSTANCE_MIGRATE).
type OpID string

// Op is what a plan does, as values: the opcode and its subject. Locks,
// resume and abort read these fields; nothing parses the text that
// String shows.
type Op struct {
	ID   OpID   `json:"id"`
	Kind string `json:"kind,omitempty"` // the subject's kind (KindInstance, KindNode, ...); "" for none
	Name string `json:"name,omitempty"` // the subject's name
	// Args are shown after the opcode for people: INSTANCE_GROW_DISK(web1, 0).
	Args []string `json:"args,omitempty"`
}

// String is the opcode as plans and the journal show it.
func (o Op) String() string {
	if len(o.Args) == 0 {
		return string(o.ID)
	}
	return string(o.ID) + "(" + strings.Join(o.Args, ", ") + ")"
}

// InstanceOp is an opcode on instance name; more are shown after the name.
func InstanceOp(id OpID, name string, more ...string) Op {
	return Op{ID: id, Kind: KindInstance, Name: name, Args: append([]string{name}, more...)}
}

// NodeOp is an opcode on node name.
func NodeOp(id OpID, name string, more ...string) Op {
	return Op{ID: id, Kind: KindNode, Name: name, Args: append([]string{name}, more...)}
}

// ClusterOp is an opcode on the cluster as a whole; args are shown.
func ClusterOp(id OpID, args ...string) Op {
	return Op{ID: id, Kind: KindCluster, Args: args}
}
