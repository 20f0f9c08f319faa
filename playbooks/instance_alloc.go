package playbooks

import (
	"slices"

	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/statefile"
)

// allocateAdd chooses instance add's nodes with the built-in allocator
// (instance add without -n, or -I hail): the placement of the lowest
// cluster score in the best allowed group (a.Group, if set), honouring
// group policies, instance policies, N+1, exclusion tags and free space.
// It returns the arguments with the nodes and a note for the plan.
func allocateAdd(env Env, a InstanceAddArgs) (InstanceAddArgs, string, error) {
	st := env.State
	if a.Group != "" {
		if _, ok := st.NodeGroups[a.Group]; !ok {
			return a, "", prereq(ErrUnknownEntity, "Node group '%s' not found", a.Group)
		}
	}
	c, _, err := AllocCluster(st, env.Facts)
	if err != nil {
		return a, "", err
	}
	ni, err := AllocNewInstance(st, a)
	if err != nil {
		return a, "", err
	}
	p, err := c.Allocate(ni, a.Group, alloc.AllocOptions{PreferRedundant: true})
	if err != nil {
		return a, "", err
	}
	note := placement(p)
	for _, w := range p.Warnings {
		note += "; " + w
	}
	a.Primary = p.Nodes[0]
	if len(p.Nodes) > 1 {
		a.Secondary = p.Nodes[1]
	}
	return a, note, nil
}

// allocCandidates adds to n, for a shared-storage instance given no
// target, the nodes of its group the allocator may choose from.
func allocCandidates(st *statefile.State, name, target string, n Needs) Needs {
	i := st.Instances[name]
	if target != "" || i == nil || !slices.Contains(sharedTemplates, i.DiskTemplate) {
		return n
	}
	group := ""
	if p := st.Nodes[i.PrimaryNode]; p != nil {
		group = allocGroupOf(p)
	}
	for _, c := range AllocNeeds(st, group).Nodes {
		if !slices.Contains(n.Nodes, c) {
			n.Nodes = append(n.Nodes, c)
		}
	}
	if !slices.Contains(n.Parts, PartVGs) {
		n.Parts = append(n.Parts, PartVGs)
	}
	return n
}

// pickTarget sets *target, for a shared-storage instance given none
// (failover or migrate without -n), to the node of its group the
// allocator prefers; it returns a note saying so.
func pickTarget(env Env, inst *statefile.Instance, target *string) ([]string, error) {
	if *target != "" || !slices.Contains(sharedTemplates, inst.DiskTemplate) {
		return nil, nil
	}
	c, _, err := AllocCluster(env.State, env.Facts)
	if err != nil {
		return nil, err
	}
	nodes, _, err := c.Relocate(inst.Name, []string{inst.PrimaryNode}, alloc.AllocOptions{})
	if err != nil {
		return nil, prereq("insufficient_resources", "No node can take %s from %s: %v", inst.Name, inst.PrimaryNode, err)
	}
	*target = nodes[0]
	return []string{"the allocator chose " + nodes[0] + " as the new primary"}, nil
}
