package playbooks

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/storage"
)

// Recovery: what the nodes show of instances, read from their facts and probes.

// evidence is what the nodes show about instances, by instance name.
type evidence struct {
	running  map[string]map[string]hv.Running // instance -> node -> running
	runtime  map[string]map[string]*KVMRuntime
	disks    map[string]map[int]*diskEvidence // instance -> disk index
	nodeUsed map[string]bool                  // nodes holding any instance volume
	problems []RecoverNote
}

// diskEvidence is one disk as found on nodes.
type diskEvidence struct {
	template string            // plain, drbd, file, sharedfile
	id       string            // plain/file: the disk UUID; drbd: the LV prefix's UUID
	vg       string            // plain, drbd data
	metaVG   string            // drbd meta
	nodes    map[string]bool   // where its (data) volume is
	meta     map[string]bool   // drbd: where its meta LV is
	sizeMiB  map[string]int64  // per node
	paths    map[string]string // file: per node
}

var (
	plainLVRE = regexp.MustCompile(`^(.+)\.disk([0-9]+)$`)
	drbdLVRE  = regexp.MustCompile(`^(.+)\.disk([0-9]+)_(data|meta)$`)
	fileRE    = regexp.MustCompile(`^(.+)\.(file|sharedfile)\.disk([0-9]+)$`)
)

func (e *evidence) names() []string {
	set := map[string]bool{}
	for n := range e.running {
		set[n] = true
	}
	for n := range e.disks {
		set[n] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func (e *evidence) disk(inst string, idx int, template string) *diskEvidence {
	if e.disks[inst] == nil {
		e.disks[inst] = map[int]*diskEvidence{}
	}
	d := e.disks[inst][idx]
	if d == nil {
		d = &diskEvidence{template: template, nodes: map[string]bool{}, meta: map[string]bool{}, sizeMiB: map[string]int64{}, paths: map[string]string{}}
		e.disks[inst][idx] = d
	}
	return d
}

// collectEvidence reads the facts and probes of every reachable node.
func collectEvidence(in RecoverInput) *evidence {
	e := &evidence{running: map[string]map[string]hv.Running{}, runtime: map[string]map[string]*KVMRuntime{},
		disks: map[string]map[int]*diskEvidence{}, nodeUsed: map[string]bool{}}
	// Names as instances know them, to map sanitized LV tags back.
	byTag := map[string]string{}
	for node, f := range in.Facts {
		if f == nil || !f.Reachable {
			continue
		}
		for name, run := range f.Running {
			if e.running[name] == nil {
				e.running[name] = map[string]hv.Running{}
			}
			e.running[name][node] = run
			e.nodeUsed[node] = true
			byTag[storage.InstanceTag(name)] = name
		}
		if p := in.Probes[node]; p != nil {
			for name, rt := range p.Xen {
				if run, ok := f.Running[name]; !ok || run.Hypervisor == hv.KVM {
					continue // a config file, but no such domain runs here
				}
				if e.runtime[name] == nil {
					e.runtime[name] = map[string]*KVMRuntime{}
				}
				e.runtime[name][node] = rt
			}
			for name, rt := range p.Runtime {
				if e.runtime[name] == nil {
					e.runtime[name] = map[string]*KVMRuntime{}
				}
				e.runtime[name][node] = rt
				byTag[storage.InstanceTag(name)] = name
			}
		}
	}
	// rbd images carry no tag; a running instance's runtime file names its
	// disks' UUIDs, which name the images (<uuid>.rbd.disk<N>).
	for name, byNode := range e.runtime {
		for node, rt := range byNode {
			f := in.Facts[node]
			if f == nil || f.Volumes == nil {
				continue
			}
			for i, d := range rt.Disks {
				img := d.UUID + ".rbd.disk" + strconv.Itoa(i)
				if d.DevType != storage.RBD || !slices.Contains(f.Volumes.RBD, img) {
					continue
				}
				de := e.disk(name, i, storage.RBD)
				de.id, de.nodes[node], de.sizeMiB[node], de.paths[node] = d.UUID, true, d.Size, img
				e.nodeUsed[node] = true
			}
		}
	}
	var fileDirs []string
	if in.Skeleton != nil {
		fileDirs = []string{in.Skeleton.Cluster.FileStorageDir, in.Skeleton.Cluster.SharedFileStorageDir}
	}
	for _, c := range in.Copies {
		fileDirs = append(fileDirs, c.State.Cluster.FileStorageDir, c.State.Cluster.SharedFileStorageDir)
		for name := range c.State.Instances {
			byTag[storage.InstanceTag(name)] = name
		}
	}
	for _, node := range slices.Sorted(maps.Keys(in.Facts)) {
		f := in.Facts[node]
		if f == nil || !f.Reachable || f.Volumes == nil {
			continue
		}
		for _, lv := range f.Volumes.LVs {
			tag := ""
			for _, t := range lv.Tags {
				if strings.HasPrefix(t, "originstname+") {
					tag = t
				}
			}
			if tag == "" || lv.Virtual {
				continue
			}
			inst := byTag[tag]
			if inst == "" {
				inst = strings.TrimPrefix(tag, "originstname+")
			}
			size := int64(lv.SizeMiB + 0.5)
			if m := drbdLVRE.FindStringSubmatch(lv.Name); m != nil {
				idx, _ := strconv.Atoi(m[2])
				d := e.disk(inst, idx, storage.DRBD)
				d.id = m[1]
				if m[3] == "data" {
					d.vg, d.nodes[node], d.sizeMiB[node] = lv.VG, true, size
				} else {
					d.metaVG, d.meta[node] = lv.VG, true
				}
				e.nodeUsed[node] = true
				continue
			}
			if m := plainLVRE.FindStringSubmatch(lv.Name); m != nil {
				idx, _ := strconv.Atoi(m[2])
				d := e.disk(inst, idx, storage.Plain)
				d.id, d.vg, d.nodes[node], d.sizeMiB[node] = m[1], lv.VG, true, size
				e.nodeUsed[node] = true
				continue
			}
			e.problems = append(e.problems, RecoverNote{Kind: NoteUnknown, Object: "node " + node,
				Message: fmt.Sprintf("volume %s is tagged for instance %s but not named like an instance disk; left alone", lv.FullName(), inst)})
		}
		for _, fv := range f.Volumes.Files {
			dir, file := path.Split(fv.Path)
			inst := path.Base(dir)
			base := path.Dir(path.Clean(dir))
			m := fileRE.FindStringSubmatch(file)
			if m == nil || !slices.Contains(fileDirs, base) {
				continue
			}
			idx, _ := strconv.Atoi(m[3])
			d := e.disk(inst, idx, m[2])
			d.id, d.nodes[node], d.sizeMiB[node], d.paths[node] = m[1], true, fv.Size>>20, fv.Path
			e.nodeUsed[node] = true
		}
	}
	return e
}
