package storage

import (
	"fmt"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// Storage types of gnt-node list-storage / modify-storage / repair-storage.
const (
	StorageLVMPV = "lvm-pv"
	StorageLVMVG = "lvm-vg"
	StorageFile  = "file"
)

// NodeVolumesArgv is the per-node LV listing of "node volumes" (reference
// §1.4): one row per PV an LV spans. "-o" is split from its list for the
// test bed's lvs wrapper; LVM reads both forms alike.
func NodeVolumesArgv() []string {
	return []string{"lvs", "--noheadings", "--units=m", "--nosuffix", "--separator=|", "-o", "lv_name,lv_size,devices,vg_name"}
}

// NodeVolume is one row of "node volumes": Ganeti's columns PhysDev VG
// Name Size (the Node and Instance columns are the caller's: the node it
// ran on, and the instance the state maps vg/name to).
type NodeVolume struct {
	PhysDev string  `json:"phys_dev"`
	VG      string  `json:"vg"`
	Name    string  `json:"name"`
	SizeMiB float64 `json:"size_mib"`
}

// ParseNodeVolumes reads NodeVolumesArgv's output as Ganeti's
// backend.NodeVolumes does: lines with at least three "|" are split,
// fields stripped, the devices field split on "," with each PV the text
// before "(", one row per PV. Other lines are reported as an error.
func ParseNodeVolumes(out []byte) ([]NodeVolume, error) {
	var rows []NodeVolume
	for n, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) < 4 {
			return nil, fmt.Errorf("lvs line %d: strange line %q", n+1, line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		size, err := parseMiB(f[1])
		if err != nil {
			return nil, fmt.Errorf("lvs line %d: %w", n+1, err)
		}
		for _, dev := range strings.Split(f[2], ",") {
			pv, _, _ := strings.Cut(dev, "(")
			rows = append(rows, NodeVolume{PhysDev: pv, VG: f[3], Name: f[0], SizeMiB: size})
		}
	}
	return rows, nil
}

// StorageRow is one row of "node list-storage", Ganeti's columns Node Type
// Name Size Used Free Allocatable (sizes in MiB).
type StorageRow struct {
	Node        string  `json:"node"`
	Type        string  `json:"type"`
	Name        string  `json:"name"`
	Size        float64 `json:"size"`
	Used        float64 `json:"used"`
	Free        float64 `json:"free"`
	Allocatable bool    `json:"allocatable"`
}

// listFileScript: $1 dir. Prints "dir|size|used|free" in MiB: size and
// free of its file system (statvfs, as Ganeti), used = what the directory
// holds (du, as Ganeti's CalculateDirectorySize).
const listFileScript = `dir=$1
[ -d "$dir" ] || { echo "$dir: no such directory" >&2; exit 1; }
used=$(du -sm -- "$dir" | cut -f1) || exit 1
line=$(df -P -m -- "$dir" | tail -n 1) || exit 1
set -- $line
printf '%s|%s|%s|%s\n' "$dir" "$2" "$used" "$4"
`

// ListStorageStep is the read-only step for "node list-storage -t TYPE":
//   - lvm-pv: pvs --noheadings --nosuffix --units=m --unbuffered --separator=| -o pv_name,pv_size,pv_used,pv_free,pv_attr
//   - lvm-vg: vgs ... -o vg_name,vg_size,vg_free
//   - file: name is the storage dir (required); df and du of it.
//
// A non-empty name limits pvs/vgs to that PV or VG.
func ListStorageStep(node, typ, name string) (plan.Step, error) {
	s := plan.Step{Node: node, Action: plan.Read, Desc: "list storage " + typ}
	common := []string{"--noheadings", "--nosuffix", "--units=m", "--unbuffered", "--separator=|", "-o"}
	switch typ {
	case StorageLVMPV:
		s.Argv = append(append([]string{"pvs"}, common...), "pv_name,pv_size,pv_used,pv_free,pv_attr")
		if name != "" {
			if err := ValidateBlockDevPath(name); err != nil {
				return s, err
			}
			s.Argv = append(s.Argv, name)
		}
	case StorageLVMVG:
		s.Argv = append(append([]string{"vgs"}, common...), "vg_name,vg_size,vg_free")
		if name != "" {
			if err := ValidateLVMName("VG", name); err != nil {
				return s, err
			}
			s.Argv = append(s.Argv, name)
		}
	case StorageFile:
		if err := ValidateStorageDir(name); err != nil {
			return s, err
		}
		s.Argv = sh("list-file-storage", listFileScript, name)
	default:
		return s, fmt.Errorf("unknown storage type %q (want lvm-pv, lvm-vg or file)", typ)
	}
	return s, nil
}

// ParseStorage reads ListStorageStep's output. lvm-pv: allocatable iff
// pv_attr starts with 'a'; lvm-vg: used = size - free, always allocatable;
// file: always allocatable.
func ParseStorage(node, typ string, out []byte) ([]StorageRow, error) {
	want := map[string]int{StorageLVMPV: 5, StorageLVMVG: 3, StorageFile: 4}[typ]
	if want == 0 {
		return nil, fmt.Errorf("unknown storage type %q", typ)
	}
	var rows []StorageRow
	for n, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != want {
			return nil, fmt.Errorf("%s listing line %d: %d fields, want %d: %q", typ, n+1, len(f), want, line)
		}
		nums := make([]float64, 0, 3)
		for _, v := range f[1:min(len(f), 4)] {
			x, err := parseMiB(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%s listing line %d: %w", typ, n+1, err)
			}
			nums = append(nums, x)
		}
		r := StorageRow{Node: node, Type: typ, Name: strings.TrimSpace(f[0]), Allocatable: true}
		switch typ {
		case StorageLVMPV:
			r.Size, r.Used, r.Free = nums[0], nums[1], nums[2]
			r.Allocatable = strings.HasPrefix(strings.TrimSpace(f[4]), "a")
		case StorageLVMVG:
			r.Size, r.Free = nums[0], nums[1]
			r.Used = r.Size - r.Free
		case StorageFile:
			r.Size, r.Used, r.Free = nums[0], nums[1], nums[2]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// ModifyStorageStep is "node modify-storage --allocatable yes|no NODE
// lvm-pv PV": pvchange --allocatable y|n PV. Only lvm-pv can be modified
// (as in Ganeti).
func ModifyStorageStep(node, typ, name string, allocatable bool) (plan.Step, error) {
	if typ != StorageLVMPV {
		return plan.Step{}, fmt.Errorf("storage type %s cannot be modified (only lvm-pv: --allocatable)", typ)
	}
	if err := ValidateBlockDevPath(name); err != nil {
		return plan.Step{}, err
	}
	yn := yesNo(allocatable)
	return plan.Step{Node: node, Action: plan.Modify, Desc: "set PV " + name + " allocatable=" + yn,
		Argv: []string{"pvchange", "--allocatable", yn, name}}, nil
}

func yesNo(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

// WroteConsistent and ForceHint are the vgreduce messages Ganeti decides
// the --force rerun on.
const (
	WroteConsistent = "Wrote out consistent volume group"
	ForceHint       = "vgreduce --removemissing --force"
	missingPV       = "Couldn't find device with uuid"
)

// repairVGScript: $1 VG. Ganeti's LvmVgStorage._RemoveMissing: run
// vgreduce --removemissing, ignoring its exit code (old LVM fails on an
// already consistent VG); rerun with --force if the output lacks
// WroteConsistent or mentions ForceHint; then the VG is repaired only if
// vgs succeeds and no longer reports a missing PV.
const repairVGScript = `vg=$1
out=$(vgreduce --removemissing -- "$vg" 2>&1)
printf '%s\n' "$out"
force=
case $out in *"Wrote out consistent volume group"*) ;; *) force=1 ;; esac
case $out in *"vgreduce --removemissing --force"*) force=1 ;; esac
if [ -n "$force" ]; then vgreduce --removemissing --force -- "$vg" 2>&1; fi
out=$(vgs --noheadings --nosuffix -- "$vg" 2>&1)
rc=$?
printf '%s\n' "$out"
case $out in *"Couldn't find device with uuid"*) rc=1 ;; esac
[ "$rc" -eq 0 ] || { echo "Volume group '$vg' still not consistent" >&2; exit 1; }
`

// RepairStorageStep is "node repair-storage NODE lvm-vg VG" as one script
// (see repairVGScript). Only lvm-vg can be repaired (as in Ganeti).
func RepairStorageStep(node, typ, name string) (plan.Step, error) {
	if typ != StorageLVMVG {
		return plan.Step{}, fmt.Errorf("storage type %s cannot be repaired (only lvm-vg)", typ)
	}
	if err := ValidateLVMName("VG", name); err != nil {
		return plan.Step{}, err
	}
	return plan.Step{Node: node, Action: plan.Modify, Desc: "repair volume group " + name + " (vgreduce --removemissing)",
		Argv: sh("repair-vg", repairVGScript, name)}, nil
}

// VGReduceNeedsForce is repairVGScript's rule in Go, for tests and
// reports: vgreduce output that asks for the --force rerun.
func VGReduceNeedsForce(out []byte) bool {
	s := string(out)
	return !strings.Contains(s, WroteConsistent) || strings.Contains(s, ForceHint)
}

// VGConsistent is repairVGScript's final check in Go: vgs output that no
// longer reports a missing PV and names the VG.
func VGConsistent(vgsOut []byte, vg string) bool {
	s := string(vgsOut)
	if strings.Contains(s, missingPV) {
		return false
	}
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == vg {
			return true
		}
	}
	return false
}
