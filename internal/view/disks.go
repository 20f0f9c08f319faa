package view

import (
	"fmt"
	"io"
	"sync"
)

// DiskDevice is where an activated disk is: its node and device path.
type DiskDevice struct {
	Node   string `json:"node"`
	IVName string `json:"iv_name"` // "disk/0"
	Device string `json:"device"`
}

// ActivatedDisks is `instance activate-disks`: "node:disk/N:device" lines,
// as Ganeti prints them.
type ActivatedDisks []DiskDevice

// Text writes one disk a line.
func (d ActivatedDisks) Text(w io.Writer) error {
	for _, x := range d {
		if _, err := fmt.Fprintf(w, "%s:%s:%s\n", x.Node, x.IVName, x.Device); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON is the disks as an array.
func (d ActivatedDisks) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil([]DiskDevice(d))) }

// VerifyDisks prints `cluster verify-disks` as it goes, Ganeti's lines on
// Out: nodes that could not be asked, each instance whose disks it
// activates (before the activation runs, so that its progress follows),
// and the logical volumes missing. It prints nothing when all is well.
// With JSON it collects the report and Close writes it as one object.
//
//	v := view.NewVerifyDisks(p)
//	v.Activating("web1")
//	v.Activated("web1", err)
//	return v.Close()
type VerifyDisks struct {
	p   Printer
	mu  sync.Mutex
	rep verifyDisksReport
	err error
}

type verifyDisksReport struct {
	BadNodes    []DisksBadNode    `json:"bad_nodes"`
	Activations []DisksActivation `json:"activations"`
	Missing     []MissingVolumes  `json:"missing"`
}

// DisksBadNode is a node whose disks could not be checked.
type DisksBadNode struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

// DisksActivation is an instance whose disks should be active but were
// not. Activated is false in a dry run and when the activation failed.
type DisksActivation struct {
	Instance  string `json:"instance"`
	Activated bool   `json:"activated"`
	Error     string `json:"error,omitempty"`
}

// MissingVolumes are an instance's logical volumes absent from their nodes.
type MissingVolumes struct {
	Instance string          `json:"instance"`
	Volumes  []MissingVolume `json:"volumes"`
}

// MissingVolume is one absent logical volume, as "vg/lv".
type MissingVolume struct {
	Node   string `json:"node"`
	Volume string `json:"volume"`
}

// NewVerifyDisks returns a VerifyDisks printing through p.
func NewVerifyDisks(p Printer) *VerifyDisks {
	return &VerifyDisks{p: p, rep: verifyDisksReport{BadNodes: []DisksBadNode{}, Activations: []DisksActivation{}, Missing: []MissingVolumes{}}}
}

// BadNode reports a node that could not be asked.
func (v *VerifyDisks) BadNode(node, why string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rep.BadNodes = append(v.rep.BadNodes, DisksBadNode{node, why})
	v.line("Error gathering data on node %s: %s", node, why)
}

// Activating reports an instance whose disks are to be activated.
func (v *VerifyDisks) Activating(inst string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rep.Activations = append(v.rep.Activations, DisksActivation{Instance: inst})
	v.line("Activating disks for instance '%s'", inst)
}

// Activated reports how the activation of inst's disks ended.
func (v *VerifyDisks) Activated(inst string, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range v.rep.Activations {
		if a := &v.rep.Activations[i]; a.Instance == inst {
			a.Activated = err == nil
			if err != nil {
				a.Error = err.Error()
			}
		}
	}
	if err != nil {
		v.line("Error activating disks for instance %s: %v", inst, err)
	}
}

// Missing reports an instance's missing volumes: [node, "vg/lv"] pairs.
func (v *VerifyDisks) Missing(inst string, vols [][2]string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	mv := MissingVolumes{Instance: inst, Volumes: []MissingVolume{}}
	v.line("Instance %s has missing logical volumes:", inst)
	for _, nv := range vols {
		mv.Volumes = append(mv.Volumes, MissingVolume{nv[0], nv[1]})
		v.line("\t%s %s", nv[0], nv[1])
	}
	v.rep.Missing = append(v.rep.Missing, mv)
}

// Close ends the report: Ganeti's advice when volumes are missing, or the
// JSON object. It returns the first write error.
func (v *VerifyDisks) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.p.JSON {
		if v.err == nil {
			v.err = JSON(v.p.Out, v.rep)
		}
		return v.err
	}
	if len(v.rep.Missing) > 0 {
		v.line("You need to replace or recreate disks for all the above instances if this message persists after fixing broken nodes.")
	}
	return v.err
}

func (v *VerifyDisks) line(format string, a ...any) {
	if v.p.JSON || v.err != nil {
		return
	}
	_, v.err = fmt.Fprintf(v.p.Out, format+"\n", a...)
}
