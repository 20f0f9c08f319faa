package lvdev

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// LV is one logical volume as the LVM metadata describes it.
type LV struct {
	VG, Name, UUID string
	Size           int64 // bytes
	Segs           []Seg // in LV order
}

// Seg is one PV segment of an LV.
type Seg struct {
	PV     string // PV device, e.g. /dev/loop3
	Offset int64  // byte offset of the segment in the PV
	Size   int64  // bytes
}

// FullName is "vg/lv", the form LVM commands take.
func (l LV) FullName() string { return l.VG + "/" + l.Name }

// Extent returns the single byte range of the LV in its PV. Linear LVs
// whose segments are adjacent on one PV qualify; anything else cannot be
// shown as one loop device.
func (l LV) Extent() (pv string, off, size int64, err error) {
	if len(l.Segs) == 0 {
		return "", 0, 0, fmt.Errorf("%s: no segments", l.FullName())
	}
	pv, off = l.Segs[0].PV, l.Segs[0].Offset
	end := off
	for _, s := range l.Segs {
		if s.PV != pv || s.Offset != end {
			return "", 0, 0, fmt.Errorf("%s: extents are not contiguous on one PV; the test bed can only give linear contiguous LVs a device", l.FullName())
		}
		end += s.Size
	}
	return pv, off, end - off, nil
}

// reportArgs asks pvs for every PV segment with its LV, which gives PV
// offsets and LV layout in one LVM call.
var reportArgs = []string{"--segments", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|",
	"-o", "pv_name,pe_start,pvseg_start,pvseg_size,vg_name,vg_extent_size,lv_name,lv_uuid,lv_size,seg_start"}

// List returns all LVs known to LVM on this node, sorted by VG and name.
func List(ctx context.Context) ([]LV, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "/usr/sbin/pvs", reportArgs...)
	cmd.Args[0] = "pvs"
	cmd.Env = lvmEnv()
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pvs: %w: %s", err, strings.TrimSpace(filterStderr(errb.String())))
	}
	return parseReport(out.String())
}

func parseReport(s string) ([]LV, error) {
	byUUID := map[string]*LV{}
	type segAt struct {
		start int64 // byte offset within the LV
		seg   Seg
	}
	segs := map[string][]segAt{}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 10 {
			return nil, fmt.Errorf("pvs: unexpected line %q", line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if f[6] == "" {
			continue // free space
		}
		n, err := ints(f[1], f[2], f[3], f[5], f[8], f[9])
		if err != nil {
			return nil, fmt.Errorf("pvs: line %q: %w", line, err)
		}
		peStart, pvSeg, segLen, extent, lvSize, lvOff := n[0], n[1], n[2], n[3], n[4], n[5]
		lv := byUUID[f[7]]
		if lv == nil {
			lv = &LV{VG: f[4], Name: f[6], UUID: f[7], Size: lvSize}
			byUUID[f[7]] = lv
		}
		segs[f[7]] = append(segs[f[7]], segAt{lvOff, Seg{PV: f[0], Offset: peStart + pvSeg*extent, Size: segLen * extent}})
	}
	var out []LV
	for uuid, lv := range byUUID {
		ss := segs[uuid]
		sort.Slice(ss, func(i, j int) bool { return ss[i].start < ss[j].start }) // LV order
		for _, s := range ss {
			lv.Segs = append(lv.Segs, s.seg)
		}
		out = append(out, *lv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName() < out[j].FullName() })
	return out, nil
}

func ints(ss ...string) ([]int64, error) {
	out := make([]int64, len(ss))
	for i, s := range ss {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
