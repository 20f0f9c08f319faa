package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// NodeVolumesCmd is gnt-node volumes.
type NodeVolumesCmd struct {
	Output    string   `short:"o" name:"output" help:"Fields: node,phys,vg,name,size,instance"`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Units     string   `name:"units"`
	Nodes     []string `arg:"" optional:""`
}

type volumeRow struct {
	node     string
	v        storage.NodeVolume
	instance string
}

var volumeSpec = view.ListSpec[volumeRow]{
	Default: []string{"node", "phys", "vg", "name", "size", "instance"},
	Fields: []view.Field[volumeRow]{
		{Name: "node", Title: "Node", Kind: view.KindText, Get: func(r volumeRow) any { return r.node }},
		{Name: "phys", Title: "PhysDev", Kind: view.KindText, Get: func(r volumeRow) any { return r.v.PhysDev }},
		{Name: "vg", Title: "VG", Kind: view.KindText, Get: func(r volumeRow) any { return r.v.VG }},
		{Name: "name", Title: "Name", Kind: view.KindText, Get: func(r volumeRow) any { return r.v.Name }},
		{Name: "size", Title: "Size", Kind: view.KindUnit, Get: func(r volumeRow) any { return int64(r.v.SizeMiB) }},
		{Name: "instance", Title: "Instance", Kind: view.KindText, Get: func(r volumeRow) any { return r.instance }},
	},
}

func (c *NodeVolumesCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, err := onlineNodes(st, c.Nodes)
	if err != nil {
		return err
	}
	owner := map[string]string{}
	for _, inst := range st.Instances {
		for _, d := range allDisks(inst.Disks) {
			owner[storage.VolumeName(d)] = inst.Name
		}
	}
	steps := make([]plan.Step, len(nodes))
	for i, n := range nodes {
		steps[i] = plan.Step{Node: n, Action: plan.Read, Argv: storage.NodeVolumesArgv()}
	}
	var rows []volumeRow
	for _, r := range a.readOnly(ctx, steps) {
		if r.Err != nil {
			a.pr.Warning("%v", r.Err)
			continue
		}
		vols, err := storage.ParseNodeVolumes(r.Stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Step.Node, err)
		}
		for _, v := range vols {
			inst := owner[v.VG+"/"+v.Name]
			if inst == "" {
				inst = "-"
			}
			rows = append(rows, volumeRow{node: r.Step.Node, v: v, instance: inst})
		}
	}
	return view.RenderList(s.Out, volumeSpec, rows, view.ListOpts{Fields: c.Output, Units: c.Units, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

func allDisks(ds []*statefile.Disk) []*statefile.Disk {
	var out []*statefile.Disk
	for _, d := range ds {
		out = append(out, d)
		out = append(out, allDisks(d.Children)...)
	}
	return out
}

// NodeListStorageCmd is gnt-node list-storage.
type NodeListStorageCmd struct {
	Type      string   `short:"t" name:"storage-type" default:"lvm-vg" enum:"lvm-vg,lvm-pv,file" help:"lvm-vg, lvm-pv or file"`
	Output    string   `short:"o" name:"output"`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Units     string   `name:"units"`
	Nodes     []string `arg:"" optional:""`
}

var storageSpec = view.ListSpec[storage.StorageRow]{
	Default: []string{"node", "type", "name", "size", "used", "free", "allocatable"},
	Fields: []view.Field[storage.StorageRow]{
		{Name: "node", Title: "Node", Kind: view.KindText, Get: func(r storage.StorageRow) any { return r.Node }},
		{Name: "type", Title: "Type", Kind: view.KindText, Get: func(r storage.StorageRow) any { return r.Type }},
		{Name: "name", Title: "Name", Kind: view.KindText, Get: func(r storage.StorageRow) any { return r.Name }},
		{Name: "size", Title: "Size", Kind: view.KindUnit, Get: func(r storage.StorageRow) any { return int64(r.Size) }},
		{Name: "used", Title: "Used", Kind: view.KindUnit, Get: func(r storage.StorageRow) any { return int64(r.Used) }},
		{Name: "free", Title: "Free", Kind: view.KindUnit, Get: func(r storage.StorageRow) any { return int64(r.Free) }},
		{Name: "allocatable", Title: "Allocatable", Kind: view.KindBool, Get: func(r storage.StorageRow) any { return r.Allocatable }},
	},
}

func (c *NodeListStorageCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, err := onlineNodes(st, c.Nodes)
	if err != nil {
		return err
	}
	name := "" // every PV of the node
	switch c.Type {
	case storage.StorageLVMVG:
		name = st.Cluster.VolumeGroup
	case storage.StorageFile:
		name = st.Cluster.FileStorageDir
	}
	var steps []plan.Step
	for _, n := range nodes {
		step, err := storage.ListStorageStep(n, c.Type, name)
		if err != nil {
			return invalid("%v", err)
		}
		steps = append(steps, step)
	}
	var rows []storage.StorageRow
	for _, r := range a.readOnly(ctx, steps) {
		if r.Err != nil {
			a.pr.Warning("%v", r.Err)
			continue
		}
		got, err := storage.ParseStorage(r.Step.Node, c.Type, r.Stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Step.Node, err)
		}
		rows = append(rows, got...)
	}
	return view.RenderList(s.Out, storageSpec, rows, view.ListOpts{Fields: c.Output, Units: c.Units, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

// NodeModifyStorageCmd is gnt-node modify-storage.
type NodeModifyStorageCmd struct {
	Allocatable yesNo  `name:"allocatable" required:"" help:"yes|no"`
	Node        string `arg:""`
	Type        string `arg:"" help:"lvm-pv"`
	Name        string `arg:""`
}

func (c *NodeModifyStorageCmd) Run(ctx context.Context, g *Globals) error {
	alloc, err := c.Allocatable.ptr("--allocatable")
	if err != nil {
		return err
	}
	step, err := storage.ModifyStorageStep(c.Node, c.Type, c.Name, *alloc)
	if err != nil {
		return invalid("%v", err)
	}
	return g.run(ctx, playbooks.NodeModifyStorageOp.With(playbooks.NodeStorageArgs{Node: c.Node, Step: step}))
}

// NodeRepairStorageCmd is gnt-node repair-storage.
type NodeRepairStorageCmd struct {
	Node string `arg:""`
	Type string `arg:"" help:"lvm-vg"`
	Name string `arg:""`
}

func (c *NodeRepairStorageCmd) Run(ctx context.Context, g *Globals) error {
	step, err := storage.RepairStorageStep(c.Node, c.Type, c.Name)
	if err != nil {
		return invalid("%v", err)
	}
	return g.run(ctx, playbooks.NodeRepairStorageOp.With(playbooks.NodeStorageArgs{Node: c.Node, Step: step}))
}

// ClusterVerifyDisksCmd is gnt-cluster verify-disks: instances whose disks
// should be active but are not get them activated; missing volumes are
// listed. Silent when all is well.
type ClusterVerifyDisksCmd struct {
	Group    string `short:"g" name:"node-group" help:"Only this group's nodes and instances."`
	NoStrict bool   `name:"no-strict" help:"Accepted for compatibility."`
}

func (c *ClusterVerifyDisksCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, err := onlineNodesIn(st, nil, c.Group)
	if err != nil {
		return err
	}
	facts := a.gather(ctx, st, nodes, playbooks.PartVolumes, playbooks.PartDRBD)
	res := playbooks.VerifyDisks(st, facts, c.Group)
	v := view.NewVerifyDisks(a.pr)
	for _, n := range res.BadNodes {
		v.BadNode(n, factsErr(facts[n]))
	}
	for _, inst := range res.NeedActivation {
		v.Activating(inst)
		if g.DryRun {
			continue
		}
		v.Activated(inst, a.run(ctx, playbooks.ActivateDisksOp.With(playbooks.ActivateArgs{Name: inst})))
	}
	for _, inst := range sortedMapKeys(res.Missing) {
		v.Missing(inst, res.Missing[inst])
	}
	if err := v.Close(); err != nil {
		return err
	}
	if len(res.Missing) > 0 {
		return silentExit(exitError)
	}
	return nil
}

// ClusterRepairDiskSizesCmd is gnt-cluster repair-disk-sizes.
type ClusterRepairDiskSizesCmd struct {
	Instances []string `arg:"" optional:""`
}

func (c *ClusterRepairDiskSizesCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx, playbooks.RepairDiskSizesOp.With(c.Instances))
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
