// Package storage gives the node commands for instance disks of every
// template (plain, drbd, file, sharedfile, rbd, blockdev, diskless) and
// parses the node listings (and /proc/drbd) that facts and verify read.
//
// Everything here is a pure function: a disk (statefile.Disk) in, plan
// steps out. Steps are argv; where shell logic is needed the script is a
// Go constant and every value is a positional parameter. Each function
// returns, per node, a short sequence of steps that must run in order;
// Stages zips the sequences of several disks into plan stages so that
// disks proceed concurrently. Every creating step carries its Undo.
//
// A disk is a tree: a drbd disk has children [data LV, meta LV] on both
// its nodes. Create, Remove, Shutdown, Grow and Check handle drbd too;
// its activation and the replication dances have their own functions
// (drbd.go, drbd_steps.go, with the intended step orders).
package storage

import (
	"fmt"
	"path"
	"strconv"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Disk templates (instance disk_template) and leaf dev types.
const (
	Plain      = statefile.DevPlain
	File       = statefile.DevFile
	SharedFile = statefile.DevSharedFile
	RBD        = statefile.DevRBD
	BlockDev   = statefile.DevBlockDev
	Diskless   = statefile.DevDiskless
	DRBD       = statefile.DevDRBD // see NewDRBD and drbd_steps.go
)

// Defaults from Ganeti's build and disk parameters.
const (
	DefaultVG        = "xenvg"
	DefaultFileDir   = "/srv/ganeti/file-storage"
	DefaultSharedDir = "/srv/ganeti/shared-file-storage"
	DefaultRBDPool   = "rbd"
	// FileDriver is the logical_id driver of file disks (Ganeti's default).
	FileDriver = "loop"
	// BlockDevDriver is the logical_id driver of adopted block devices.
	BlockDevDriver = "manual"
)

// LinkDir is Ganeti's ${RUN_DIR}/instance-disks (RUN_DIR /var/run is /run
// on every current distribution). Hypervisors and OS scripts only see the
// links in it, never the devices themselves.
const LinkDir = "/run/ganeti/instance-disks"

// LinkPath is the instance-disk link of disk idx: "<LinkDir>/<inst>:<idx>".
func LinkPath(instance string, idx int) string {
	return LinkDir + "/" + instance + ":" + strconv.Itoa(idx)
}

// Spec is one disk the admin asks for (--disk N:size=...,vg=...,adopt=...).
type Spec struct {
	Size  int64  // MiB; for adoption the size found on the node
	VG    string // plain: the disk's vg= parameter; default the cluster VG
	Mode  string // rw (default) | ro
	Adopt string // plain: name of an existing LV in VG; blockdev: the /dev path
	Name  string // optional disk name
	// MetaVG is drbd's meta LV VG (default: drbd disk param metavg, else VG).
	MetaVG string
}

// New builds the state objects of an instance's new disks, Ganeti's way:
// LV "<uuid>.disk<N>" in the disk's VG, file "<dir>/<instance>/<uuid>.file.disk<N>",
// sharedfile ".../<uuid>.sharedfile.disk<N>" under the shared dir, rbd image
// "<uuid>.rbd.disk<N>" (pool kept in Params["pool"], so a disk describes
// itself). N counts from firstIndex; nodes are [primary]; iv_name "disk/N".
// newID gives one fresh UUID per disk, which names its volume.
//
// For plain adoption the disk gets the standard name too: Adopt renames the
// existing LV to it, as Ganeti does. diskless returns no disks.
func New(template string, cl *statefile.Cluster, instance, primary string, firstIndex int, specs []Spec, newID func() string) ([]*statefile.Disk, error) {
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	if template == Diskless {
		if len(specs) > 0 {
			return nil, fmt.Errorf("disk template diskless takes no disks (got %d)", len(specs))
		}
		return nil, nil
	}
	var out []*statefile.Disk
	for i, s := range specs {
		n := firstIndex + i
		id := newID()
		mode := s.Mode
		if mode == "" {
			mode = "rw"
		}
		if mode != "rw" && mode != "ro" {
			return nil, fmt.Errorf("disk %d: mode %q must be rw or ro", n, s.Mode)
		}
		if s.Size <= 0 && template != BlockDev {
			return nil, fmt.Errorf("disk %d: size must be a positive number of MiB (got %d)", n, s.Size)
		}
		if s.Adopt != "" && template != Plain && template != BlockDev {
			return nil, fmt.Errorf("disk %d: adoption is only supported for templates plain and blockdev, not %s", n, template)
		}
		d := &statefile.Disk{UUID: id, Name: s.Name, DevType: template, Nodes: []string{primary},
			IVName: "disk/" + strconv.Itoa(n), Size: s.Size, Mode: mode, Params: statefile.Params{}}
		switch template {
		case Plain:
			vg := s.VG
			if vg == "" {
				vg = cl.VolumeGroup
			}
			if vg == "" {
				vg = DefaultVG
			}
			lv := id + ".disk" + strconv.Itoa(n)
			if err := ValidateLVMName("VG", vg); err != nil {
				return nil, fmt.Errorf("disk %d: %w", n, err)
			}
			if err := ValidateLVMName("LV", lv); err != nil {
				return nil, fmt.Errorf("disk %d: %w", n, err)
			}
			if s.Adopt != "" {
				if err := ValidateLVMName("LV", s.Adopt); err != nil {
					return nil, fmt.Errorf("disk %d: adopt: %w", n, err)
				}
			}
			d.SetPlainLV(vg, lv)
		case File, SharedFile:
			base := cl.FileStorageDir
			if base == "" {
				base = DefaultFileDir
			}
			if template == SharedFile {
				base = cl.SharedFileStorageDir
				if base == "" {
					base = DefaultSharedDir
				}
			}
			p := path.Join(base, instance, id+"."+template+".disk"+strconv.Itoa(n))
			if err := ValidateFilePath(p, base); err != nil {
				return nil, fmt.Errorf("disk %d: %w", n, err)
			}
			d.SetFile(FileDriver, p)
		case RBD:
			pool := cl.RBDPool
			if pool == "" {
				pool = paramString(cl.DiskParams[RBD], "pool")
			}
			if pool == "" {
				pool = DefaultRBDPool
			}
			img := id + ".rbd.disk" + strconv.Itoa(n)
			if err := ValidateRBDName("pool", pool); err != nil {
				return nil, fmt.Errorf("disk %d: %w", n, err)
			}
			if err := ValidateRBDName("image", img); err != nil {
				return nil, fmt.Errorf("disk %d: %w", n, err)
			}
			d.SetRBD(RBD, img)
			d.Params["pool"] = pool
			if u := paramString(cl.DiskParams[RBD], "user-id"); u != "" {
				if err := ValidateRBDName("user-id", u); err != nil {
					return nil, fmt.Errorf("disk %d: %w", n, err)
				}
				d.Params["user-id"] = u
			}
		case BlockDev:
			if err := ValidateBlockDevPath(s.Adopt); err != nil {
				return nil, fmt.Errorf("disk %d: blockdev needs adopt=<device>: %w", n, err)
			}
			d.SetBlockDev(BlockDevDriver, s.Adopt)
		case DRBD:
			return nil, fmt.Errorf("disk template drbd: use NewDRBD (it needs ports, minors and secrets)")
		default:
			return nil, fmt.Errorf("unknown disk template %q", template)
		}
		out = append(out, d)
	}
	return out, nil
}

func paramString(p statefile.Params, k string) string {
	s, _ := p[k].(string)
	return s
}

// leaf is a validated view of a leaf disk's logical_id.
type leaf struct {
	typ      string
	vg, lv   string // plain
	path     string // file, sharedfile, blockdev
	pool     string // rbd
	image    string // rbd
	rbdExtra []string
}

// lvPath is /dev/<vg>/<lv>, the form lvchange and the hypervisor take.
func (l leaf) lvPath() string { return "/dev/" + l.vg + "/" + l.lv }

// parse checks d's logical_id for its dev type, validating every name that
// will reach a command. Disks come from the state file, which a person may
// have edited, so nothing is trusted.
func parse(d *statefile.Disk) (leaf, error) {
	if d == nil {
		return leaf{}, fmt.Errorf("no disk")
	}
	l := leaf{typ: d.DevType}
	// Leaf logical_ids hold no secret, so the message may show them.
	badID := func(layout string) error {
		return fmt.Errorf("disk %s (%s): logical_id %v is not %s (two strings)", d.UUID, d.DevType, d.LogicalID, layout)
	}
	var ok bool
	switch d.DevType {
	case Plain:
		if l.vg, l.lv, ok = d.PlainLV(); !ok {
			return l, badID("[vg, lv]")
		}
		if err := ValidateLVMName("VG", l.vg); err != nil {
			return l, err
		}
		return l, ValidateLVMName("LV", l.lv)
	case File, SharedFile:
		if _, l.path, ok = d.File(); !ok {
			return l, badID("[driver, path]")
		}
		// The base is whatever holds <instance>/<file>: the path's
		// grandparent. It must itself be an acceptable storage dir.
		return l, ValidateFilePath(l.path, path.Dir(path.Dir(l.path)))
	case BlockDev:
		if _, l.path, ok = d.BlockDev(); !ok {
			return l, badID("[driver, path]")
		}
		return l, ValidateBlockDevPath(l.path)
	case RBD:
		if _, l.image, ok = d.RBD(); !ok {
			return l, badID("[driver, image]")
		}
		l.pool = paramString(d.Params, "pool")
		if l.pool == "" {
			l.pool = DefaultRBDPool
		}
		if err := ValidateRBDName("pool", l.pool); err != nil {
			return l, err
		}
		if u := paramString(d.Params, "user-id"); u != "" {
			if err := ValidateRBDName("user-id", u); err != nil {
				return l, err
			}
			l.rbdExtra = []string{"--id", u} // Ganeti appends it at the end
		}
		return l, ValidateRBDName("image", l.image)
	case DRBD:
		return l, fmt.Errorf("disk %s: dev type drbd is not supported by this build yet", d.UUID)
	}
	return l, fmt.Errorf("disk %s: unknown dev type %q", d.UUID, d.DevType)
}

// DevicePath is where the disk's data is on a node that has it assembled:
// /dev/<vg>/<lv>, the file, the adopted device. "" for rbd (the device is
// known only after "rbd map") and for anything invalid.
func DevicePath(d *statefile.Disk) string {
	l, err := parse(d)
	if err != nil {
		return ""
	}
	switch l.typ {
	case Plain:
		return l.lvPath()
	case File, SharedFile, BlockDev:
		return l.path
	}
	return ""
}

// VolumeName is how listings name the disk's volume: "vg/lv" (as lvs and
// Ganeti's verify do), the file path, the device, or "pool/image" for rbd.
func VolumeName(d *statefile.Disk) string {
	l, err := parse(d)
	if err != nil {
		return ""
	}
	switch l.typ {
	case Plain:
		return l.vg + "/" + l.lv
	case RBD:
		return l.pool + "/" + l.image
	}
	return l.path
}

// Stages zips per-disk step sequences into stages: stage k holds the k-th
// step of every sequence, so different disks run concurrently while each
// disk's own steps stay in order. Stages are named "<name> (k/n)" when
// there is more than one.
func Stages(name string, onErr plan.OnError, seqs ...[]plan.Step) []plan.Stage {
	n := 0
	for _, s := range seqs {
		n = max(n, len(s))
	}
	out := make([]plan.Stage, 0, n)
	for k := range n {
		st := plan.Stage{Name: name, OnError: onErr}
		if n > 1 {
			st.Name = fmt.Sprintf("%s (%d/%d)", name, k+1, n)
		}
		for _, s := range seqs {
			if k < len(s) {
				st.Steps = append(st.Steps, s[k])
			}
		}
		out = append(out, st)
	}
	return out
}
