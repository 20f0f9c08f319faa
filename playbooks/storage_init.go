package playbooks

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// node storage-init is Ganeti's lvmstrap: diskinfo shows a node's disks
// and whether they are in use; create makes the volume group from the
// free ones, which wipes them.

// OpNodeStorageInit is lvmstrap create.
const OpNodeStorageInit plan.OpID = "NODE_STORAGE_INIT"

// DiskInfoScript lists a node's disks (the kinds lvmstrap knows, and
// virtio, Xen and NVMe disks) and partitions, then what uses them: mounts,
// swap, LVM physical volumes, volume groups. Read-only.
const DiskInfoScript = `for d in /sys/block/*; do
  n=${d##*/}
  case $n in hd*|sd*|md*|ubd*|vd*|xvd*|nvme*) ;; *) continue;; esac
  [ -r "$d/size" ] || continue
  rem=$(cat "$d/removable" 2>/dev/null || echo 0)
  echo "disk $n $(( $(cat "$d/size") * 512 )) $rem $(ls "$d/holders" 2>/dev/null | wc -l) -"
  for p in "$d/$n"*; do
    [ -r "$p/size" ] || continue
    echo "part ${p##*/} $(( $(cat "$p/size") * 512 )) $rem $(ls "$p/holders" 2>/dev/null | wc -l) $n"
  done
done
echo @@mounts
awk '{print $1, $2}' /proc/mounts
echo @@swaps
tail -n +2 /proc/swaps 2>/dev/null | awk '{print $1}'
echo @@pvs
pvs --noheadings --separator '|' -o pv_name,vg_name 2>/dev/null | tr -d ' '
echo @@vgs
vgs --noheadings -o vg_name 2>/dev/null | tr -d ' '
`

// DiskInfo is one disk or partition of a node.
type DiskInfo struct {
	Name      string `json:"name"`
	Parent    string `json:"parent,omitempty"` // the disk of a partition
	Size      int64  `json:"size"`             // bytes
	Removable bool   `json:"removable"`
	InUse     bool   `json:"in_use"`
	Mount     string `json:"mount,omitempty"`
	// LVM is the volume group of a physical volume, "free" for a PV in
	// none, "" when it is no PV.
	LVM string `json:"lvm,omitempty"`
}

// NodeDisks is what DiskInfoScript says of a node.
type NodeDisks struct {
	Disks []DiskInfo `json:"disks"`
	VGs   []string   `json:"vgs"`
}

// ParseDiskInfo reads DiskInfoScript's output.
func ParseDiskInfo(out []byte) (NodeDisks, error) {
	var nd NodeDisks
	section := ""
	holders := map[string]int{}
	mounts := map[string]string{}
	swaps := map[string]bool{}
	pvs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "@@") {
			section = line[2:]
			continue
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		switch section {
		case "":
			if len(f) != 6 || f[0] != "disk" && f[0] != "part" {
				return nd, fmt.Errorf("disk info: unexpected line %q", line)
			}
			size, err1 := strconv.ParseInt(f[2], 10, 64)
			h, err2 := strconv.Atoi(f[4])
			if err1 != nil || err2 != nil {
				return nd, fmt.Errorf("disk info: unexpected line %q", line)
			}
			d := DiskInfo{Name: f[1], Size: size, Removable: f[3] == "1"}
			if f[0] == "part" {
				d.Parent = f[5]
			}
			holders[d.Name] = h
			nd.Disks = append(nd.Disks, d)
		case "mounts":
			if dev := strings.TrimPrefix(f[0], "/dev/"); len(f) >= 2 && mounts[dev] == "" {
				mounts[dev] = f[1]
			}
		case "swaps":
			swaps[strings.TrimPrefix(f[0], "/dev/")] = true
		case "pvs":
			name, vg, _ := strings.Cut(line, "|")
			if vg == "" {
				vg = "free"
			}
			pvs[strings.TrimPrefix(name, "/dev/")] = vg
		case "vgs":
			nd.VGs = append(nd.VGs, line)
		}
	}
	used := map[string]bool{}
	for i := range nd.Disks {
		d := &nd.Disks[i]
		d.Mount, d.LVM = mounts[d.Name], pvs[d.Name]
		d.InUse = holders[d.Name] > 0 || d.Mount != "" || swaps[d.Name] || d.LVM != "" && d.LVM != "free"
		if d.InUse && d.Parent != "" {
			used[d.Parent] = true
		}
	}
	for i := range nd.Disks {
		if used[nd.Disks[i].Name] {
			nd.Disks[i].InUse = true // a disk with a partition in use is in use
		}
	}
	sort.Strings(nd.VGs)
	return nd, sc.Err()
}

// DiskInfoStep is the read-only step of diskinfo on node.
func DiskInfoStep(node string) plan.Step {
	return plan.Step{Node: node, Action: plan.Read, Desc: "list the disks", Argv: []string{"sh", "-c", DiskInfoScript, "ganetictl-diskinfo"}}
}

// StorageInitArgs are lvmstrap create's.
type StorageInitArgs struct {
	Node           string
	VG             string   // -g, default xenvg
	Disks          []string // -d
	All            bool     // --alldisks
	AllowRemovable bool     // -r
}

// StorageInitOp is lvmstrap create on a node.
var StorageInitOp = define(&Opcode[StorageInitArgs]{
	ID: OpNodeStorageInit, Command: "node storage-init create", Subject: func(a StorageInitArgs) string { return a.Node },
	Needs: func(st *statefile.State, a StorageInitArgs) Needs {
		return Needs{Nodes: onlineOf(st, a.Node), Parts: []string{}, Probes: []plan.Step{DiskInfoStep(a.Node)}}
	},
	Plan: StorageInit,
})

// StorageInit plans making volume group a.VG of the node's free disks:
// each disk wiped, made a physical volume, then the group created (64 MiB
// extents, as lvmstrap does). Disks in use, unknown disks and an existing
// group are refused. Whole disks become physical volumes (lvmstrap put
// one partition on each first).
func StorageInit(env Env, a StorageInitArgs) (*plan.Plan, error) {
	st := env.State
	n, err := node(st, a.Node)
	if err != nil {
		return nil, err
	}
	if a.VG == "" {
		a.VG = "xenvg"
	}
	if len(env.Probes) == 0 || env.Probes[0].Err != nil {
		why := "no answer"
		if len(env.Probes) > 0 {
			why = env.Probes[0].Err.Error()
		}
		return nil, prereq(ErrEnvironment, "Node %s: cannot list its disks: %s", n.Name, why)
	}
	nd, err := ParseDiskInfo(env.Probes[0].Stdout)
	if err != nil {
		return nil, prereq(ErrEnvironment, "Node %s: %v", n.Name, err)
	}
	if slices.Contains(nd.VGs, a.VG) {
		return nil, prereq(ErrExists, "It seems volume group '%s' already exists on node %s", a.VG, n.Name)
	}
	var free, inUse []string
	for _, d := range nd.Disks {
		if d.Removable && !a.AllowRemovable {
			continue
		}
		if d.InUse {
			inUse = append(inUse, d.Name)
		} else if d.Parent == "" || slices.ContainsFunc(nd.Disks, func(p DiskInfo) bool { return p.Name == d.Parent && p.InUse }) {
			free = append(free, d.Name) // a whole free disk, or a free partition of a disk in use
		}
	}
	var disks []string
	switch {
	case a.All && len(a.Disks) > 0:
		return nil, prereq(ErrWrongInput, "Please use either --alldisks or --disks, not both")
	case a.All:
		disks = free
		if len(disks) == 0 {
			return nil, prereq(ErrWrongState, "no free disks found! (%d in-use disks) on node %s", len(inUse), n.Name)
		}
	case len(a.Disks) > 0:
		for _, d := range a.Disks {
			switch {
			case slices.Contains(inUse, d):
				return nil, prereq(ErrWrongState, "disk %s is in use, cannot wipe!", d)
			case !slices.Contains(free, d):
				return nil, prereq(ErrWrongInput, "cannot find disk %s on node %s!", d, n.Name)
			}
		}
		disks = a.Disks
	default:
		return nil, prereq(ErrWrongInput, "Please use either --alldisks or --disks!")
	}
	p := plan.New(plan.NodeOp(OpNodeStorageInit, n.Name, a.VG), st.Lineage, st.Serial)
	var wipe, pv []plan.Step
	var devs []string
	for _, d := range disks {
		dev := "/dev/" + d
		devs = append(devs, dev)
		wipe = append(wipe, plan.Step{Node: n.Name, Action: plan.Modify, Desc: "wipe the signatures of " + dev, Argv: []string{"wipefs", "-a", dev}})
		pv = append(pv, plan.Step{Node: n.Name, Action: plan.Create, Desc: "make " + dev + " a physical volume", Argv: []string{"pvcreate", "-yff", dev},
			Undo: &plan.Step{Node: n.Name, Action: plan.Remove, Argv: []string{"pvremove", "-ff", "-y", dev}}})
	}
	p.Add("wipe the disks", plan.Abort, wipe...)
	p.Add("create the physical volumes", plan.Abort, pv...)
	p.Add("create volume group "+a.VG, plan.Abort, plan.Step{Node: n.Name, Action: plan.Create, Desc: "create volume group " + a.VG,
		Argv: append([]string{"vgcreate", "-s", "64M", a.VG}, devs...), Undo: &plan.Step{Node: n.Name, Action: plan.Remove, Argv: []string{"vgremove", "-f", a.VG}}})
	return p, nil
}
