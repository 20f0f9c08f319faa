package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// VolumesFunc defines the shell function ganetictl_volumes VG FILEDIR
// SHAREDDIR RBDPOOL, which lists a node's volumes in sections that
// ParseVolumes reads: @@lvs (lvs rows, VolumeFields), @@files ("<bytes>
// <path>" for every <dir>/<instance>/<file>), @@rbd (image names of the
// pool) and @@rbdmapped (rbd showmapped). Empty arguments skip their
// section's listing. Tool errors appear in their section as lines "! msg".
// The facts script includes it and calls it once, so one SSH round trip
// lists every volume of a node (Ganeti asked once per disk).
//
// lvs gets "-o FIELDS" as two words (LVM takes -oFIELDS alike); the test
// bed's lvs wrapper only fixes lv_attr in that form.
const VolumesFunc = `ganetictl_volumes() {
  echo @@lvs
  if [ -n "$1" ]; then
    { lvs --noheadings --units=m --nosuffix --separator='|' -o vg_name,lv_name,lv_size,lv_attr,lv_tags "$1" 2>&1 1>&3 | sed 's/^/! /'; } 3>&1
  fi
  echo @@files
  for d in "$2" "$3"; do
    if [ -n "$d" ] && [ -d "$d" ]; then
      for f in "$d"/*/*; do
        if [ -f "$f" ]; then stat -c '%s %n' -- "$f"; fi
      done
    fi
  done
  echo @@rbd
  if [ -n "$4" ]; then
    { rbd ls -p "$4" 2>&1 1>&3 | sed 's/^/! /'; } 3>&1
  fi
  echo @@rbdmapped
  if [ -n "$4" ]; then rbd showmapped 2>/dev/null; fi
  echo @@volumes-end
}
`

// VolumesScript runs VolumesFunc on its own: $1 VG, $2 file dir, $3 shared
// file dir, $4 rbd pool (each may be empty).
const VolumesScript = VolumesFunc + `ganetictl_volumes "$1" "$2" "$3" "$4"
`

// VolumeFields are the lvs fields of VolumesFunc's @@lvs section, in order.
var VolumeFields = []string{"vg_name", "lv_name", "lv_size", "lv_attr", "lv_tags"}

// VolumesStep is the read-only step that lists node's volumes by itself
// (verify-disks, or when facts are not gathered).
func VolumesStep(node, vg, fileDir, sharedDir, rbdPool string) plan.Step {
	return plan.Step{Node: node, Action: plan.Read, Desc: "list volumes",
		Argv: sh("volumes", VolumesScript, vg, fileDir, sharedDir, rbdPool)}
}

// LV is one logical volume as lvs reports it. Active, Open and Virtual
// follow Ganeti (reference §1.4): inactive iff lv_attr[4] is '-', open iff
// lv_attr[5] is 'o', virtual iff lv_attr[0] is 'v' (its PV is gone: the
// disk is faulty). Ganeti's verify omits virtual LVs; callers decide.
type LV struct {
	VG      string   `json:"vg"`
	Name    string   `json:"name"`
	SizeMiB float64  `json:"size_mib"`
	Attr    string   `json:"attr"`
	Tags    []string `json:"tags,omitempty"`
	PVs     []string `json:"pvs,omitempty"` // from the devices field, when asked for
	Active  bool     `json:"active"`
	Open    bool     `json:"open"`
	Virtual bool     `json:"virtual"`
}

// FullName is "vg/lv", the key Ganeti's verify uses.
func (l LV) FullName() string { return l.VG + "/" + l.Name }

// Instance returns the instance named by the LV's originstname+ tag, if any.
func (l LV) Instance() string {
	for _, t := range l.Tags {
		if s, ok := strings.CutPrefix(t, "originstname+"); ok {
			return s
		}
	}
	return ""
}

// ParseLVs reads the output of lvs with VolumeFields and separator "|"
// (VolumesFunc's @@lvs section without its "! " error lines).
func ParseLVs(out []byte) ([]LV, error) { return ParseLVReport(out, "|", VolumeFields) }

var devRE = regexp.MustCompile(`^([^ ()]+)\([0-9]+\)$`)

// ParseLVReport reads "lvs --noheadings --separator=SEP -o FIELDS" output
// by Ganeti's rules: each line stripped and split on sep; one extra empty
// trailing field is dropped; the count must match. Known fields: vg_name,
// lv_name, lv_size (MiB, or bytes with a "B" suffix), lv_attr (at least 6
// characters), lv_tags, devices; others are ignored.
func ParseLVReport(out []byte, sep string, fields []string) ([]LV, error) {
	var lvs []LV
	for n, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cols := strings.Split(line, sep)
		if len(cols) == len(fields)+1 && cols[len(cols)-1] == "" {
			cols = cols[:len(fields)]
		}
		if len(cols) != len(fields) {
			return nil, fmt.Errorf("lvs line %d: %d fields, want %d: %q", n+1, len(cols), len(fields), line)
		}
		var lv LV
		for i, f := range fields {
			v := strings.TrimSpace(cols[i])
			switch f {
			case "vg_name":
				lv.VG = v
			case "lv_name":
				lv.Name = v
			case "lv_size":
				s, err := parseMiB(v)
				if err != nil {
					return nil, fmt.Errorf("lvs line %d: lv_size: %w", n+1, err)
				}
				lv.SizeMiB = s
			case "lv_attr":
				if len(v) < 6 {
					return nil, fmt.Errorf("lvs line %d: lv_attr %q is shorter than 6 characters", n+1, v)
				}
				lv.Attr = v
				lv.Virtual = v[0] == 'v'
				lv.Active = v[4] != '-'
				lv.Open = v[5] == 'o'
			case "lv_tags":
				if v != "" {
					lv.Tags = strings.Split(v, ",")
				}
			case "devices":
				pvs, err := parseDevices(v)
				if err != nil {
					return nil, fmt.Errorf("lvs line %d: %w", n+1, err)
				}
				lv.PVs = pvs
			}
		}
		lvs = append(lvs, lv)
	}
	return lvs, nil
}

// parseDevices reads lvs' devices field "pv(extent),pv(extent)" into PV
// names; empty for thin LVs.
func parseDevices(v string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(v, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		m := devRE.FindStringSubmatch(d)
		if m == nil {
			return nil, fmt.Errorf("devices entry %q is not pv(extent)", d)
		}
		out = append(out, m[1])
	}
	return out, nil
}

// parseMiB reads an LVM size: a number in MiB (--units=m --nosuffix), or
// with a unit suffix (B, k, m, g, t; either case); a leading "<" (LVM's
// "rounded") is ignored.
func parseMiB(v string) (float64, error) {
	s := strings.TrimPrefix(v, "<")
	mul := 1.0
	if s != "" {
		switch s[len(s)-1] {
		case 'B', 'b':
			mul = 1.0 / (1 << 20)
		case 'k', 'K':
			mul = 1.0 / 1024
		case 'm', 'M':
		case 'g', 'G':
			mul = 1024
		case 't', 'T':
			mul = 1 << 20
		default:
			s += "m"
		}
		s = s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q is not a number", v)
	}
	return f * mul, nil
}

// FileVolume is one disk file found by VolumesFunc.
type FileVolume struct {
	Path string `json:"path"`
	Size int64  `json:"size_bytes"`
}

// ParseFiles reads "<bytes> <path>" lines (stat -c '%s %n').
func ParseFiles(out []byte) ([]FileVolume, error) {
	var fs []FileVolume
	for n, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		sz, p, ok := strings.Cut(line, " ")
		size, err := strconv.ParseInt(sz, 10, 64)
		if !ok || err != nil || size < 0 || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("file listing line %d: want \"<bytes> <path>\", got %q", n+1, line)
		}
		fs = append(fs, FileVolume{Path: p, Size: size})
	}
	return fs, nil
}

// Volumes is what VolumesFunc found on a node.
type Volumes struct {
	LVs       []LV         `json:"lvs"`
	Files     []FileVolume `json:"files"`
	RBD       []string     `json:"rbd,omitempty"`        // images of the pool
	RBDMapped []Mapped     `json:"rbd_mapped,omitempty"` // mappings on this node
	Errors    []string     `json:"errors,omitempty"`     // what lvs or rbd said on stderr
}

// ParseVolumes reads VolumesFunc's sections out of out (which may hold
// other sections too, as the facts output does).
func ParseVolumes(out []byte) (*Volumes, error) {
	sec := sections(out)
	if _, ok := sec["volumes-end"]; !ok {
		return nil, fmt.Errorf("volume listing is truncated (no @@volumes-end marker)")
	}
	v := &Volumes{}
	strip := func(name string) []byte {
		var b bytes.Buffer
		for _, l := range sec[name] {
			if e, ok := strings.CutPrefix(l, "! "); ok {
				v.Errors = append(v.Errors, name+": "+strings.TrimSpace(e))
				continue
			}
			b.WriteString(l + "\n")
		}
		return b.Bytes()
	}
	var err error
	if v.LVs, err = ParseLVs(strip("lvs")); err != nil {
		return nil, err
	}
	if v.Files, err = ParseFiles(strip("files")); err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(strip("rbd")), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			v.RBD = append(v.RBD, l)
		}
	}
	if v.RBDMapped, err = ParseShowmapped(strip("rbdmapped")); err != nil {
		return nil, err
	}
	return v, nil
}

func sections(out []byte) map[string][]string {
	sec := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "@@"); ok {
			cur = name
			sec[cur] = []string{}
			continue
		}
		if cur != "" {
			sec[cur] = append(sec[cur], line)
		}
	}
	return sec
}

// Mapped is one rbd mapping on a node.
type Mapped struct {
	Pool   string `json:"pool"`
	Image  string `json:"image"`
	Snap   string `json:"snap"`
	Device string `json:"device"`
}

// ParseShowmapped reads "rbd showmapped" in any of its forms (reference
// §3): JSON as a dict keyed by id (before Mimic) or a list (Mimic and
// later), or the plain table (tab-separated without namespace, or aligned
// with a namespace column that is blank for the default namespace). In the
// table the image is third from the end and the device last.
func ParseShowmapped(out []byte) ([]Mapped, error) {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil, nil
	}
	type entry struct{ Pool, Name, Snap, Device string }
	conv := func(es []entry) []Mapped {
		ms := make([]Mapped, 0, len(es))
		for _, e := range es {
			ms = append(ms, Mapped{Pool: e.Pool, Image: e.Name, Snap: e.Snap, Device: e.Device})
		}
		return ms
	}
	switch s[0] {
	case '[':
		var es []entry
		if err := json.Unmarshal([]byte(s), &es); err != nil {
			return nil, fmt.Errorf("rbd showmapped: %w", err)
		}
		return conv(es), nil
	case '{':
		var m map[string]entry
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("rbd showmapped: %w", err)
		}
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return atoi(ids[i]) < atoi(ids[j]) })
		es := make([]entry, 0, len(m))
		for _, id := range ids {
			es = append(es, m[id])
		}
		return conv(es), nil
	}
	var ms []Mapped
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "id" {
			continue
		}
		if len(f) < 5 || len(f) > 6 {
			return nil, fmt.Errorf("rbd showmapped: unexpected line %q", line)
		}
		if _, err := strconv.Atoi(f[0]); err != nil {
			return nil, fmt.Errorf("rbd showmapped: unexpected line %q", line)
		}
		ms = append(ms, Mapped{Pool: f[1], Image: f[len(f)-3], Snap: f[len(f)-2], Device: f[len(f)-1]})
	}
	return ms, nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// MappedDevice finds the device of pool/image among ms: "" when not
// mapped, an error when mapped more than once (Ganeti refuses that too).
func MappedDevice(ms []Mapped, pool, image string) (string, error) {
	var devs []string
	for _, m := range ms {
		if m.Pool == pool && m.Image == image && (m.Snap == "" || m.Snap == "-") {
			devs = append(devs, m.Device)
		}
	}
	switch len(devs) {
	case 0:
		return "", nil
	case 1:
		return devs[0], nil
	}
	return "", fmt.Errorf("rbd image %s/%s is mapped more than once: %s", pool, image, strings.Join(devs, ", "))
}

// ClusterWide is the key of Expected for volumes that live on no node in
// particular (rbd images).
const ClusterWide = ""

// Expected lists, per node, the volumes the state says exist there, named
// as VolumeName does ("vg/lv", file paths, "pool/image" under
// ClusterWide), sorted. Children of a disk (drbd's data and meta LVs) are
// listed on their own nodes. Verify compares it with ParseVolumes to find
// missing and orphan volumes. Disks it cannot read are skipped (Check
// reports them).
func Expected(st *statefile.State) map[string][]string {
	out := map[string][]string{}
	var walk func(d *statefile.Disk, parentNodes []string)
	walk = func(d *statefile.Disk, parentNodes []string) {
		if d == nil {
			return
		}
		nodes := d.Nodes
		if len(nodes) == 0 {
			nodes = parentNodes // children inherit their parent's nodes
		}
		for _, c := range d.Children {
			walk(c, nodes)
		}
		if len(d.Children) > 0 || d.DevType == Diskless || d.DevType == BlockDev {
			return
		}
		name := VolumeName(d)
		if name == "" {
			return
		}
		if d.DevType == RBD {
			out[ClusterWide] = append(out[ClusterWide], name)
			return
		}
		for _, n := range nodes {
			out[n] = append(out[n], name)
		}
	}
	for _, inst := range st.Instances {
		for _, d := range inst.Disks {
			walk(d, nil)
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}
