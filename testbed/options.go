package testbed

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultDir is where the default bed lives unless $TESTBED_DIR says
// otherwise.
const DefaultDir = "/tmp/ganetictl-testbed"

// MaxNodes bounds a bed; the supervisor is tested with 20.
const MaxNodes = 64

// Options describe a bed.
type Options struct {
	Nodes  int    // number of nodes, node1..nodeN
	Dir    string // bed directory; default $TESTBED_DIR or DefaultDir
	ID     int    // 0..255: names bridges gtb<ID>, netns gtb<ID>-n<N>, subnets 198.18.<ID>.0/24 and 198.19.<ID>.0/24; ForTest takes it from $TESTBED_ID
	VG     string // volume group on every node; default "xenvg"
	PVSize int64  // sparse PV image size in bytes; default 32 GiB (Ganeti verify wants a VG of at least 20 GiB)
	Reuse  bool   // attach to a healthy running bed in Dir with the same ID and at least Nodes nodes
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		o.Dir = os.Getenv("TESTBED_DIR")
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	d, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = d
	if o.VG == "" {
		o.VG = "xenvg"
	}
	if o.PVSize == 0 {
		o.PVSize = 32 << 30
	}
	if o.Nodes < 1 || o.Nodes > MaxNodes {
		return o, fmt.Errorf("testbed: nodes must be 1..%d, got %d", MaxNodes, o.Nodes)
	}
	if o.ID < 0 || o.ID > 255 {
		return o, fmt.Errorf("testbed: id must be 0..255, got %d", o.ID)
	}
	return o, nil
}

// Node is one node of a bed.
type Node struct {
	Name          string // node1..nodeN, resolvable on every node
	Addr          string // primary address, where ssh reaches the node
	SecondaryAddr string // replication network address
}

// naming derives every host-global name of a bed from its id, so beds
// with different ids never touch each other's objects.
type naming struct{ id int }

func (n naming) bridge() string        { return fmt.Sprintf("gtb%d", n.id) }
func (n naming) bridgeSec() string     { return fmt.Sprintf("gtb%ds", n.id) }
func (n naming) netns(i int) string    { return fmt.Sprintf("gtb%d-n%d", n.id, i) }
func (n naming) veth(i int) string     { return fmt.Sprintf("gtb%dn%d", n.id, i) }
func (n naming) vethSec(i int) string  { return fmt.Sprintf("gtb%ds%d", n.id, i) }
func (n naming) addr(i int) string     { return fmt.Sprintf("198.18.%d.%d", n.id, i) }
func (n naming) secAddr(i int) string  { return fmt.Sprintf("198.19.%d.%d", n.id, i) }
func (n naming) hostAddr() string      { return fmt.Sprintf("198.18.%d.254", n.id) }
func (n naming) netnsPrefix() string   { return fmt.Sprintf("gtb%d-n", n.id) }
func (n naming) nodeName(i int) string { return fmt.Sprintf("node%d", i) }
func (n naming) clusterName() string   { return fmt.Sprintf("cluster%d.testbed.test", n.id) }
func (n naming) node(i int) Node       { return Node{n.nodeName(i), n.addr(i), n.secAddr(i)} }
func (n naming) nodes(count int) []Node {
	out := make([]Node, count)
	for i := range out {
		out[i] = n.node(i + 1)
	}
	return out
}
