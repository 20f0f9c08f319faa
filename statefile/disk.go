package statefile

// A disk's LogicalID keeps Ganeti's array form, because state files, the
// Ganeti config import and golden files all carry it. Its layout depends on
// the dev type:
//
//	plain             [vg, lv]
//	file, sharedfile  [driver, path]   driver loop, blktap or blktap2
//	blockdev          [driver, path]   driver manual
//	rbd               [driver, image]  driver rbd; the pool is Params["pool"]
//	drbd              [nodeA, nodeB, port, minorA, minorB, secret]
//	diskless          []
//
// Code outside this package reads and writes it only through the methods
// below: a number read back from JSON is a float64, one set in Go an int,
// and only the accessors know both.

// Dev types of disks (Ganeti's dev_type), which decide the LogicalID layout.
const (
	DevPlain      = "plain"
	DevDRBD       = "drbd"
	DevFile       = "file"
	DevSharedFile = "sharedfile"
	DevBlockDev   = "blockdev"
	DevRBD        = "rbd"
	DevDiskless   = "diskless"
)

// drbdSecretIndex is the position of the shared secret in a DRBD logical_id.
const drbdSecretIndex = 5

// DRBDLogicalID is the logical_id of a drbd disk. It is positional, not
// role-based: A is the node that was primary when the disk was created,
// and failover or migration never swap the two.
type DRBDLogicalID struct {
	NodeA, NodeB   string // node names (Ganeti's config has UUIDs)
	Port           int    // TCP port, the same on both ends
	MinorA, MinorB int    // the device minor on NodeA and on NodeB
	Secret         string // shared secret; MaskedSecret in a masked copy
}

// DRBD returns a drbd disk's logical_id. ok is false unless d is a drbd
// disk whose logical_id has six elements of the right kinds (two strings,
// three integers, a string). Values are not checked further: storage
// validates them before they reach a command.
func (d *Disk) DRBD() (id DRBDLogicalID, ok bool) {
	if d == nil || d.DevType != DevDRBD || len(d.LogicalID) != 6 {
		return id, false
	}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	id.NodeA, ok1 = d.LogicalID[0].(string)
	id.NodeB, ok2 = d.LogicalID[1].(string)
	id.Port, ok3 = smallInt(d.LogicalID[2])
	id.MinorA, ok4 = smallInt(d.LogicalID[3])
	id.MinorB, ok5 = smallInt(d.LogicalID[4])
	id.Secret, ok6 = d.LogicalID[drbdSecretIndex].(string)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return DRBDLogicalID{}, false
	}
	return id, true
}

// SetDRBD sets d's logical_id to id; d is a drbd disk.
func (d *Disk) SetDRBD(id DRBDLogicalID) {
	d.LogicalID = []any{id.NodeA, id.NodeB, id.Port, id.MinorA, id.MinorB, id.Secret}
}

// PlainLV returns a plain disk's volume group and logical volume.
func (d *Disk) PlainLV() (vg, lv string, ok bool) { return d.pair(DevPlain) }

// SetPlainLV sets a plain disk's logical_id to [vg, lv].
func (d *Disk) SetPlainLV(vg, lv string) { d.setPair(vg, lv) }

// File returns a file or sharedfile disk's driver and path.
func (d *Disk) File() (driver, path string, ok bool) {
	if d != nil && d.DevType == DevSharedFile {
		return d.pair(DevSharedFile)
	}
	return d.pair(DevFile)
}

// SetFile sets a file or sharedfile disk's logical_id to [driver, path].
func (d *Disk) SetFile(driver, path string) { d.setPair(driver, path) }

// BlockDev returns an adopted block device's driver and device path.
func (d *Disk) BlockDev() (driver, path string, ok bool) { return d.pair(DevBlockDev) }

// SetBlockDev sets a blockdev disk's logical_id to [driver, path].
func (d *Disk) SetBlockDev(driver, path string) { d.setPair(driver, path) }

// RBD returns an rbd disk's driver and image name. The pool is not part of
// the logical_id (see Params["pool"]).
func (d *Disk) RBD() (driver, image string, ok bool) { return d.pair(DevRBD) }

// SetRBD sets an rbd disk's logical_id to [driver, image].
func (d *Disk) SetRBD(driver, image string) { d.setPair(driver, image) }

// pair reads the two strings of a leaf logical_id of dev type typ.
func (d *Disk) pair(typ string) (a, b string, ok bool) {
	if d == nil || d.DevType != typ || len(d.LogicalID) != 2 {
		return "", "", false
	}
	a, ok1 := d.LogicalID[0].(string)
	b, ok2 := d.LogicalID[1].(string)
	if !ok1 || !ok2 {
		return "", "", false
	}
	return a, b, true
}

func (d *Disk) setPair(a, b string) { d.LogicalID = []any{a, b} }

// smallInt is Int for values that must fit an int (ports, minors).
func smallInt(v any) (int, bool) {
	n, ok := Int(v)
	if !ok || int64(int(n)) != n {
		return 0, false
	}
	return int(n), true
}
