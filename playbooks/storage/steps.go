package storage

import (
	"fmt"
	"path"
	"strconv"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Scripts. Each is a constant run as sh -c SCRIPT NAME ARGS...: $0 is the
// name ps shows, every value is a positional parameter.

// createFileScript: $1 file, $2 size MiB. Ganeti opens with O_CREAT|O_EXCL
// and truncates: a sparse file, refused if it exists. "set -C" makes ">"
// exclusive; a failed truncate removes what this step made, because a
// failed step's Undo is never run.
const createFileScript = `f=$1 size=$2 d=${1%/*}
mkdir -p -- "$d" || exit 1
set -C
: > "$f" || exit 1
truncate -s "${size}M" -- "$f" || { rm -f -- "$f"; rmdir -- "$d" 2>/dev/null; exit 1; }
`

// removeFileScript: $1 file. Missing is fine; the instance directory goes
// when its last disk goes (Ganeti's file_storage_dir_remove).
const removeFileScript = `rm -f -- "$1" || exit 1
rmdir -- "${1%/*}" 2>/dev/null
exit 0
`

// removeLVScript: $1 vg/lv. A missing LV is already removed; lvremove is
// retried every 3 s for 30 s, as Ganeti does, because a device that was
// just closed can still be busy for a moment.
const removeLVScript = `lvs -- "$1" >/dev/null 2>&1 || exit 0
i=0
until lvremove -f -- "$1"; do
  i=$((i+1)); [ "$i" -lt 10 ] || exit 1
  sleep 3
done
`

// linkScript: $1 device, $2 link, $3 test flag (-b block device, -f file).
// Run after activation; it checks the device is there and points the link
// at it (ln -sfn replaces an old link atomically enough for a stopped VM).
const linkScript = `[ "$3" "$1" ] || { echo "$1: no such device or file" >&2; exit 1; }
mkdir -p -- "${2%/*}" && ln -sfn -- "$1" "$2"
`

// assembleLVScript: $1 /dev/vg/lv, $2 link. Activation is always run,
// even when active (Ganeti does so); LVs are never deactivated.
const assembleLVScript = `lvchange -ay -- "$1" || exit 1
[ -b "$1" ] || { echo "$1: not a block device after activation" >&2; exit 1; }
mkdir -p -- "${2%/*}" && ln -sfn -- "$1" "$2"
`

// rbdMappedFn prints the devices mapping image $2 of pool $1 on this node,
// from "rbd showmapped" plain output. Both table layouts (id pool image
// snap device, and the newer one with a namespace column that is blank
// for the default namespace) have the image third from the end and the
// device last. Only the non-snapshot mapping (snap "-") counts.
const rbdMappedFn = `mapped() {
  rbd showmapped 2>/dev/null | awk -v p="$1" -v i="$2" '$1 ~ /^[0-9]+$/ && $2 == p && $(NF-2) == i && $(NF-1) == "-" { print $NF }'
}
`

// assembleRBDScript: $1 pool, $2 image, $3 link, then extra rbd args
// (--id USER). Maps only when not mapped yet ("attach" in Ganeti), so
// running it twice keeps one mapping; then points the link at the device.
const assembleRBDScript = rbdMappedFn + `pool=$1 img=$2 link=$3; shift 3
dev=$(mapped "$pool" "$img")
case $dev in *"
"*) echo "rbd image $pool/$img is mapped more than once: $dev" >&2; exit 1 ;; esac
if [ -z "$dev" ]; then dev=$(rbd map -p "$pool" "$img" "$@") || exit 1; fi
[ -b "$dev" ] || { echo "rbd map gave $dev, which is not a block device" >&2; exit 1; }
mkdir -p -- "${link%/*}" && ln -sfn -- "$dev" "$link"
`

// shutdownRBDScript: $1 pool, $2 image, $3 link. Removes the link, then
// unmaps every mapping of the image on this node.
const shutdownRBDScript = rbdMappedFn + `rm -f -- "$3" || exit 1
for dev in $(mapped "$1" "$2"); do rbd unmap "$dev" || exit 1; done
`

// removeRBDScript: $1 pool, $2 image, then extra rbd args. Unmaps on this
// node, then removes the image; a missing image (rbd exit 2, ENOENT) is
// already removed.
const removeRBDScript = rbdMappedFn + `pool=$1 img=$2; shift 2
for dev in $(mapped "$pool" "$img"); do rbd unmap "$dev" || exit 1; done
out=$(rbd rm -p "$pool" "$img" "$@" 2>&1) && exit 0
rc=$?
[ "$rc" -eq 2 ] && exit 0
printf '%s\n' "$out" >&2
exit "$rc"
`

// growLVScript: $1 /dev/vg/lv, $2 KiB. Ganeti's policy order: contiguous,
// then cling, then normal.
const growLVScript = `for p in contiguous cling normal; do
  lvextend -L "+$2k" --alloc "$p" -- "$1" && exit 0
done
exit 1
`

// renameDirScript: $1 old dir, $2 new dir. rename(2) of the instance
// directory; refused if the new one exists (mv would move into it).
const renameDirScript = `[ -e "$2" ] && { echo "$2 already exists" >&2; exit 1; }
mv -T -- "$1" "$2"
`

func sh(name, script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "ganetictl-" + name}, args...)
}

// Create gives the commands that create disk d on node for instance (the
// RPC blockdev_create of a leaf; reference §1.2, §3, §4). One step per
// template, with an Undo that removes what it created:
//   - plain: lvcreate -Wn -L<size>m -n<lv> -i1 --addtag originstname+<inst> <vg>
//     (the tag is set in the same command, so no LV exists untagged; lvcreate
//     activates, so Ganeti's following "lvchange -ay" is left to Assemble);
//   - file/sharedfile: mkdir -p of the instance dir and an exclusive sparse file;
//   - rbd: rbd create -p <pool> <image> --size <MiB> [--id <user>];
//   - blockdev: a read-only check that the device exists; diskless: nothing.
//
// The PV list Ganeti appends to lvcreate (all PVs sorted by free space) is
// left out: with one stripe and no exclusive storage LVM's own allocator
// chooses the same way, and the list would need fresh pvs facts.
func Create(d *statefile.Disk, node, instance string) ([]plan.Step, error) {
	if d != nil && d.DevType == Diskless {
		return nil, nil
	}
	if d != nil && d.DevType == DRBD {
		return createDRBD(d, node, instance)
	}
	l, err := parse(d)
	if err != nil {
		return nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	if d.Size <= 0 && l.typ != BlockDev {
		return nil, fmt.Errorf("disk %s: size %d MiB is not positive", d.UUID, d.Size)
	}
	size := strconv.FormatInt(d.Size, 10)
	var s plan.Step
	switch l.typ {
	case Plain:
		s = plan.Step{Node: node, Action: plan.Create, Desc: fmt.Sprintf("create LV %s/%s (%s MiB) for %s", l.vg, l.lv, size, instance),
			Argv: []string{"lvcreate", "-Wn", "-L" + size + "m", "-n" + l.lv, "-i1", "--addtag", InstanceTag(instance), l.vg},
			Undo: removeLVStep(node, l)}
	case File, SharedFile:
		s = plan.Step{Node: node, Action: plan.Create, Desc: fmt.Sprintf("create %s disk file %s (%s MiB, sparse)", l.typ, l.path, size),
			Argv: sh("create-file", createFileScript, l.path, size),
			Undo: removeFileStep(node, l)}
	case RBD:
		s = plan.Step{Node: node, Action: plan.Create, Desc: fmt.Sprintf("create rbd image %s/%s (%s MiB)", l.pool, l.image, size),
			Argv: append([]string{"rbd", "create", "-p", l.pool, l.image, "--size", size}, l.rbdExtra...),
			Undo: removeRBDStep(node, l)}
	case BlockDev:
		s = plan.Step{Node: node, Action: plan.Read, Desc: "check adopted block device " + l.path,
			Argv: []string{"test", "-b", l.path}}
	}
	return []plan.Step{s}, nil
}

// Adopt takes over an existing LV (plain, --disk N:adopt=LV) for instance:
// it renames existingLV to the disk's standard name and tags it in one
// step each, as Ganeti renames adopted LVs. The Undo gives the LV back its
// old name and tags. Its size must be in d.Size already (from lvs facts).
func Adopt(d *statefile.Disk, node, instance, existingLV string) ([]plan.Step, error) {
	l, err := parse(d)
	if err != nil {
		return nil, err
	}
	if l.typ != Plain {
		return nil, fmt.Errorf("disk %s: only plain disks adopt LVs (use template blockdev for devices)", d.UUID)
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	if err := ValidateLVMName("LV", existingLV); err != nil {
		return nil, fmt.Errorf("adopt: %w", err)
	}
	tag := InstanceTag(instance)
	return []plan.Step{
		{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("adopt LV %s/%s as %s", l.vg, existingLV, l.lv),
			Argv: []string{"lvrename", l.vg, existingLV, l.lv},
			Undo: &plan.Step{Node: node, Action: plan.Modify, Desc: "give back adopted LV " + existingLV,
				Argv: []string{"lvrename", l.vg, l.lv, existingLV}}},
		{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("tag LV %s/%s for %s", l.vg, l.lv, instance),
			Argv: []string{"lvchange", "--addtag", tag, l.lvPath()},
			Undo: &plan.Step{Node: node, Action: plan.Modify, Desc: "untag LV " + l.lv,
				Argv: []string{"lvchange", "--deltag", tag, l.lvPath()}}},
	}, nil
}

func removeLVStep(node string, l leaf) *plan.Step {
	return &plan.Step{Node: node, Action: plan.Remove, Desc: fmt.Sprintf("remove LV %s/%s", l.vg, l.lv),
		Argv: sh("remove-lv", removeLVScript, l.vg+"/"+l.lv)}
}

func removeFileStep(node string, l leaf) *plan.Step {
	return &plan.Step{Node: node, Action: plan.Remove, Desc: "remove disk file " + l.path,
		Argv: sh("remove-file", removeFileScript, l.path)}
}

func removeRBDStep(node string, l leaf) *plan.Step {
	return &plan.Step{Node: node, Action: plan.Remove, Desc: fmt.Sprintf("remove rbd image %s/%s", l.pool, l.image),
		Argv: append(sh("remove-rbd", removeRBDScript, l.pool, l.image), l.rbdExtra...)}
}

// Remove gives the commands that delete disk d's data on node: lvremove -f
// (retried; a missing LV is fine), rm -f of the file and rmdir of the
// instance dir when empty, rbd unmap (on node) and rbd rm (a missing image
// is fine). Nothing for blockdev (adopted devices are never destroyed) and
// diskless. Remove steps are idempotent, so a resumed job can rerun them.
func Remove(d *statefile.Disk, node string) ([]plan.Step, error) {
	if d != nil && d.DevType == Diskless {
		return nil, nil
	}
	if d != nil && d.DevType == DRBD {
		return removeDRBD(d, node)
	}
	l, err := parse(d)
	if err != nil {
		return nil, err
	}
	switch l.typ {
	case Plain:
		return []plan.Step{*removeLVStep(node, l)}, nil
	case File, SharedFile:
		return []plan.Step{*removeFileStep(node, l)}, nil
	case RBD:
		return []plan.Step{*removeRBDStep(node, l)}, nil
	}
	return nil, nil
}

// Assemble activates disk d on node (the primary) and creates the
// instance-disk link LinkPath(instance, idx) to its device (RPC
// blockdev_assemble as primary): lvchange -ay then link; file: check it
// exists, then link; rbd: map unless mapped, then link to the device rbd
// printed; blockdev: check, link. Running it again is harmless.
func Assemble(d *statefile.Disk, node, instance string, idx int) ([]plan.Step, error) {
	if d != nil && d.DevType == Diskless {
		return nil, nil
	}
	if d != nil && d.DevType == DRBD {
		return nil, fmt.Errorf("disk %s is drbd: assemble it with AssembleDRBD on both nodes, then MakePrimary on the primary", d.UUID)
	}
	l, err := parse(d)
	if err != nil {
		return nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	link := LinkPath(instance, idx)
	desc := fmt.Sprintf("activate %s disk %d of %s (%s)", l.typ, idx, instance, link)
	var argv []string
	switch l.typ {
	case Plain:
		argv = sh("assemble-lv", assembleLVScript, l.lvPath(), link)
	case File, SharedFile:
		argv = sh("assemble", linkScript, l.path, link, "-f")
	case BlockDev:
		argv = sh("assemble", linkScript, l.path, link, "-b")
	case RBD:
		argv = append(sh("assemble-rbd", assembleRBDScript, l.pool, l.image, link), l.rbdExtra...)
	}
	return []plan.Step{{Node: node, Action: plan.Exec, Desc: desc, Argv: argv,
		Undo: shutdownStep(node, l, link)}}, nil
}

func shutdownStep(node string, l leaf, link string) *plan.Step {
	if l.typ == RBD {
		return &plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("unmap rbd %s/%s and remove %s", l.pool, l.image, link),
			Argv: sh("shutdown-rbd", shutdownRBDScript, l.pool, l.image, link)}
	}
	return &plan.Step{Node: node, Action: plan.Remove, Desc: "remove disk link " + link, Argv: []string{"rm", "-f", "--", link}}
}

// Shutdown undoes Assemble on node: removes the link; rbd also unmaps the
// image. LVs stay active (Ganeti never deactivates them).
func Shutdown(d *statefile.Disk, node, instance string, idx int) ([]plan.Step, error) {
	if d != nil && d.DevType == Diskless {
		return nil, nil
	}
	if d != nil && d.DevType == DRBD {
		return shutdownDRBD(d, node, instance, idx)
	}
	l, err := parse(d)
	if err != nil {
		return nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	return []plan.Step{*shutdownStep(node, l, LinkPath(instance, idx))}, nil
}

// Grow enlarges disk d on node by amountMiB (RPC blockdev_grow of a leaf;
// the caller records Size += amountMiB):
//   - plain: lvextend -L +<amount*1024>k --alloc contiguous|cling|normal,
//     tried in that order. Ganeti first rounds up to a multiple of
//     extent size × stripes; lvextend rounds up the same way by itself
//     ("Rounding size to boundary between physical extents"), so no extent
//     size fact is needed;
//   - file/sharedfile: truncate -s +<amount>M (Ganeti: current size + amount);
//   - rbd: rbd resize -p <pool> <image> --size <Size+amount>.
//
// Not undoable (nothing shrinks a disk safely), so no Undo.
func Grow(d *statefile.Disk, node string, amountMiB int64) ([]plan.Step, error) {
	if d != nil && d.DevType == DRBD {
		return growDRBD(d, node, amountMiB)
	}
	l, err := parse(d)
	if err != nil {
		return nil, err
	}
	if amountMiB <= 0 {
		return nil, fmt.Errorf("grow amount must be a positive number of MiB (got %d)", amountMiB)
	}
	amount := strconv.FormatInt(amountMiB, 10)
	desc := fmt.Sprintf("grow %s disk %s by %s MiB", l.typ, VolumeName(d), amount)
	var argv []string
	switch l.typ {
	case Plain:
		argv = sh("grow-lv", growLVScript, l.lvPath(), strconv.FormatInt(amountMiB*1024, 10))
	case File, SharedFile:
		argv = []string{"truncate", "-s", "+" + amount + "M", "--", l.path}
	case RBD:
		argv = append([]string{"rbd", "resize", "-p", l.pool, l.image, "--size", strconv.FormatInt(d.Size+amountMiB, 10)}, l.rbdExtra...)
	default:
		return nil, fmt.Errorf("disk %s: template %s cannot grow", d.UUID, l.typ)
	}
	return []plan.Step{{Node: node, Action: plan.Modify, Desc: desc, Argv: argv}}, nil
}

// Rename gives the commands for renaming instance oldName to newName on
// node, for all its disks at once (the file directory is shared by them),
// and returns copies of the disks as they are afterwards:
//   - file/sharedfile: mv -T of <dir>/<old> to <dir>/<new> (once per
//     directory), and each disk's logical_id path changed;
//   - plain: lvchange --deltag originstname+<old> --addtag originstname+<new>;
//   - rbd, blockdev, diskless: nothing.
//
// Each step's Undo renames back.
func Rename(disks []*statefile.Disk, node, oldName, newName string) ([]plan.Step, []*statefile.Disk, error) {
	if err := ValidateInstanceName(oldName); err != nil {
		return nil, nil, err
	}
	if err := ValidateInstanceName(newName); err != nil {
		return nil, nil, err
	}
	var steps []plan.Step
	out := make([]*statefile.Disk, len(disks))
	dirs := map[string]bool{}
	for i, d := range disks {
		nd := *d
		nd.LogicalID = append([]any(nil), d.LogicalID...)
		out[i] = &nd
		if d.DevType == Diskless {
			continue
		}
		l, err := parse(d)
		if err != nil {
			return nil, nil, err
		}
		switch l.typ {
		case Plain:
			oldT, newT := InstanceTag(oldName), InstanceTag(newName)
			steps = append(steps, plan.Step{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("retag LV %s/%s for %s", l.vg, l.lv, newName),
				Argv: []string{"lvchange", "--deltag", oldT, "--addtag", newT, l.lvPath()},
				Undo: &plan.Step{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("retag LV %s/%s for %s", l.vg, l.lv, oldName),
					Argv: []string{"lvchange", "--deltag", newT, "--addtag", oldT, l.lvPath()}}})
		case File, SharedFile:
			dir := path.Dir(l.path)
			if path.Base(dir) != oldName {
				return nil, nil, fmt.Errorf("disk %s: file %s is not in a directory named after instance %s", d.UUID, l.path, oldName)
			}
			ndir := path.Join(path.Dir(dir), newName)
			driver, _, _ := d.File()
			nd.SetFile(driver, path.Join(ndir, path.Base(l.path)))
			if dirs[dir] {
				continue
			}
			dirs[dir] = true
			steps = append(steps, plan.Step{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("rename instance directory %s to %s", dir, ndir),
				Argv: sh("rename-dir", renameDirScript, dir, ndir),
				Undo: &plan.Step{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("rename instance directory %s back to %s", ndir, dir),
					Argv: sh("rename-dir", renameDirScript, ndir, dir)}})
		}
	}
	return steps, out, nil
}

// Check validates a disk of the state against the cluster: names as in
// parse, and file disks under the cluster's (shared) file storage dir.
// Planners call it on disks they did not make with New.
func Check(d *statefile.Disk, cl *statefile.Cluster) error {
	if d.DevType == Diskless {
		return nil
	}
	if d.DevType == DRBD {
		_, err := parseDRBD(d)
		return err
	}
	l, err := parse(d)
	if err != nil {
		return err
	}
	switch l.typ {
	case File, SharedFile:
		base := cl.FileStorageDir
		if base == "" {
			base = DefaultFileDir
		}
		if l.typ == SharedFile {
			base = cl.SharedFileStorageDir
			if base == "" {
				base = DefaultSharedDir
			}
		}
		return ValidateFilePath(l.path, base)
	}
	return nil
}
