package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// NodeStorageInitCmd is Ganeti's lvmstrap: `diskinfo` shows the nodes'
// disks and whether they are in use; `create` makes the volume group of
// a node's free disks (--alldisks, or --disks), wiping them.
type NodeStorageInitCmd struct {
	AllDisks       bool     `name:"alldisks" help:"create: use (and erase) every disk not in use."`
	Disks          string   `name:"disks" help:"create: these disks (e.g. sdb,sdc)."`
	AllowRemovable bool     `short:"r" name:"allow-removable" help:"Allow and use removable devices too."`
	VGName         string   `short:"g" name:"vg-name" help:"The volume group to create (default: the cluster's, else xenvg)."`
	UseSfdisk      bool     `name:"use-sfdisk" hidden:"" help:"Accepted for compatibility (whole disks become physical volumes)."`
	YesDoIt        bool     `name:"yes-do-it" help:"Required by create: the disks are erased."`
	Mode           string   `arg:"" enum:"diskinfo,create" help:"diskinfo or create."`
	Nodes          []string `arg:"" optional:"" help:"Nodes (diskinfo: default all; create: required)."`
}

func (c *NodeStorageInitCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if c.Mode == "diskinfo" {
		nodes, err := onlineNodes(st, c.Nodes)
		if err != nil {
			return err
		}
		var steps []plan.Step
		for _, n := range nodes {
			steps = append(steps, playbooks.DiskInfoStep(n))
		}
		var out view.DiskInfos
		for _, r := range a.readOnly(ctx, steps) {
			ni := view.NodeDiskInfo{Node: r.Step.Node, Disks: []view.DiskLine{}}
			nd, perr := playbooks.ParseDiskInfo(r.Stdout)
			switch {
			case r.Err != nil:
				ni.Error = r.Err.Error()
			case perr != nil:
				ni.Error = perr.Error()
			}
			for _, d := range nd.Disks {
				lvm := ""
				switch d.LVM {
				case "":
				case "free":
					lvm = "yes,free"
				default:
					lvm = "in " + d.LVM
				}
				ni.Disks = append(ni.Disks, view.DiskLine{Name: d.Name, Partition: d.Parent != "", SizeMiB: float64(d.Size) / (1 << 20),
					InUse: d.InUse, Mount: d.Mount, LVM: lvm})
			}
			out = append(out, ni)
		}
		return a.pr.Result(out)
	}
	if len(c.Nodes) == 0 {
		return invalid("create needs the node(s) whose disks make the volume group")
	}
	if !c.YesDoIt && !g.DryRun {
		return invalid("create erases the disks it takes; if you really want that, supply the --yes-do-it option (or look first with --dry-run)")
	}
	vg := c.VGName
	if vg == "" {
		vg = st.Cluster.VolumeGroup
	}
	var errs []error
	for _, n := range c.Nodes {
		args := playbooks.StorageInitArgs{Node: n, VG: vg, All: c.AllDisks, AllowRemovable: c.AllowRemovable}
		if c.Disks != "" {
			args.Disks = splitList(c.Disks)
		}
		if err := a.run(ctx, playbooks.StorageInitOp.With(args)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	if len(errs) == 1 && len(c.Nodes) == 1 {
		return errors.Unwrap(errs[0])
	}
	if len(errs) > 0 {
		return &job.PartialError{Err: fmt.Errorf("storage-init failed on %d node(s): %v", len(errs), strings.TrimSpace(errors.Join(errs...).Error()))}
	}
	return nil
}
