package playbooks

import (
	"sort"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// Helpers the instance planners share: finding an instance, copying it
// for a change, naming its links, ending the plan.

// instance finds an instance by name.
func instance(st *statefile.State, name string) (*statefile.Instance, error) {
	if i, ok := st.Instances[name]; ok {
		return i, nil
	}
	return nil, prereq(ErrUnknownEntity, "Instance '%s' not known", name)
}

// stoppedInstance finds an instance that must not be running for the
// operation (the facts of its nodes say where it runs).
func stoppedInstance(env Env, name string) (*statefile.Instance, error) {
	inst, err := instance(env.State, name)
	if err != nil {
		return nil, err
	}
	if on := runningOn(env, name); len(on) > 0 {
		return nil, prereq(ErrWrongState, "Instance '%s' is running on %v; shut it down first", name, on)
	}
	return inst, nil
}

// runningOn reports where the facts say the instance runs.
func runningOn(env Env, name string) []string {
	var out []string
	for n, f := range env.Facts {
		if f != nil && f.Running != nil {
			if _, ok := f.Running[name]; ok {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// instancesOn lists instances using the node as primary and as secondary.
func instancesOn(st *statefile.State, name string) (primary, secondary []string) {
	for _, i := range st.Instances {
		if i.PrimaryNode == name {
			primary = append(primary, i.Name)
		}
		for _, s := range i.SecondaryNodes() {
			if s == name {
				secondary = append(secondary, i.Name)
			}
		}
	}
	sort.Strings(primary)
	sort.Strings(secondary)
	return primary, secondary
}

// cloneInstance copies an instance for a planner to change, without a JSON
// round trip. Disks are copied one level deep: their children and params
// are shared, so a planner replaces those rather than editing them.
func cloneInstance(i *statefile.Instance) *statefile.Instance {
	c := *i
	c.Tags = cloneTags(i.Tags)
	c.BEParams = cloneParams(i.BEParams)
	c.HVParams = cloneParams(i.HVParams)
	c.OSParams = cloneParams(i.OSParams)
	c.Disks = make([]*statefile.Disk, len(i.Disks))
	for k, d := range i.Disks {
		dc := *d
		dc.LogicalID = append([]any(nil), d.LogicalID...)
		dc.Nodes = append([]string(nil), d.Nodes...)
		c.Disks[k] = &dc
	}
	c.NICs = make([]*statefile.NIC, len(i.NICs))
	for k, n := range i.NICs {
		nc := *n
		nc.NICParams = cloneParams(n.NICParams)
		c.NICs[k] = &nc
	}
	return &c
}

func cloneParams(p statefile.Params) statefile.Params {
	if p == nil {
		return nil
	}
	out := statefile.Params{}
	for k, v := range p {
		out[k] = v
	}
	return out
}

// cloneTags copies tags, never returning nil: the state shows [] for none.
func cloneTags(t []string) []string { return append([]string{}, t...) }

// links are the instance-disk symlinks hypervisors and OS scripts use.
func links(inst *statefile.Instance) []string {
	out := make([]string, len(inst.Disks))
	for i := range inst.Disks {
		out[i] = storage.LinkPath(inst.Name, i)
	}
	return out
}

// nicLinks are the bridges of the instance's NICs.
func nicLinks(inst *statefile.Instance) []string {
	out := make([]string, len(inst.NICs))
	for i, n := range inst.NICs {
		out[i], _ = n.NICParams["link"].(string)
	}
	return out
}

// setInstance ends an instance planner: the instance's new value as the
// plan's state change, the state copied to the master candidates after.
func setInstance(p *plan.Plan, st *statefile.State, name string, before, after *statefile.Instance) (*plan.Plan, error) {
	if err := p.Set(plan.KindInstance, name, before, after); err != nil {
		return nil, err
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}
