package desired

import (
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/playbooks/storage"
)

// autoPlace chooses the nodes of an instance declared with primary (or
// secondary) "auto", with the allocator over the simulated cluster (the
// state and facts after the operations planned before it): the placement
// of the lowest score that honours policies, N+1 and free space. primary
// is "auto" or a fixed node; secondary is "", "auto" or a node.
func (d *differ) autoPlace(in *Instance, primary, secondary string) (string, string, error) {
	c, _, err := playbooks.AllocCluster(d.sim.State, d.sim.Facts)
	if err != nil {
		return "", "", err
	}
	a := playbooks.InstanceAddArgs{Name: in.Name, Template: in.Template, BEParams: params(in.BEParams), NoStart: in.State == "stopped"}
	for _, mib := range in.DiskMiB {
		a.Disks = append(a.Disks, storage.Spec{Size: mib, Mode: "rw"})
	}
	a.NICs = make([]playbooks.NICSpec, max(1, len(in.NICs)))
	ni, err := playbooks.AllocNewInstance(d.sim.State, a)
	if err != nil {
		return "", "", err
	}
	ni.Tags = in.Tags
	o := alloc.AllocOptions{PreferRedundant: true}
	if primary == "auto" && (secondary == "" || secondary == "auto") {
		p, err := c.Allocate(ni, "", o)
		if err != nil {
			return "", "", err
		}
		if len(p.Nodes) > 1 {
			return p.Nodes[0], p.Nodes[1], nil
		}
		return p.Nodes[0], "", nil
	}
	// One end fixed: the best partner for it.
	var best *alloc.Placed
	var firstErr error
	for _, n := range c.Nodes {
		pair := []string{primary, n.Name}
		if primary == "auto" {
			pair = []string{n.Name, secondary}
		}
		if pair[0] == pair[1] {
			continue
		}
		o.RestrictToNodes = pair
		p, err := c.Allocate(ni, "", o)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if (primary == "auto" || p.Nodes[0] == primary) && (secondary == "auto" || len(p.Nodes) < 2 || p.Nodes[1] == secondary) {
			if best == nil || p.Score < best.Score {
				best = p
			}
		}
	}
	if best == nil {
		return "", "", firstErr
	}
	if len(best.Nodes) > 1 {
		return best.Nodes[0], best.Nodes[1], nil
	}
	return best.Nodes[0], "", nil
}
