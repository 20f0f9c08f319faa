package playbooks

import (
	"fmt"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// RecreateDRBDOn plans recreating a drbd instance's disks, empty, on a new
// pair of nodes (recreate-disks -n PRIMARY:SECONDARY; harep's reinstall
// repair when both of its nodes are lost): new volumes, minors, port and
// secret there, the new primary forced to be the mirror's reference, then
// the disks deactivated again. The old nodes' volumes are left to them
// (they are offline; cluster verify shows them as orphans once back).
func RecreateDRBDOn(env Env, name, primary, secondary string) (*plan.Plan, error) {
	st := env.State
	inst, err := stoppedInstance(env, name)
	if err != nil {
		return nil, err
	}
	if !isDRBD(inst) {
		return nil, prereq(ErrWrongInput, "-n PRIMARY:SECONDARY is for drbd instances; instance %s is %s", name, inst.DiskTemplate)
	}
	if primary == "" || primary == secondary {
		return nil, prereq(ErrWrongInput, "The new primary and secondary must be two different nodes (got %q and %q)", primary, secondary)
	}
	for _, n := range []string{primary, secondary} {
		node, err := node(st, n)
		if err != nil {
			return nil, err
		}
		if err := usableNode(node); err != nil {
			return nil, err
		}
		if f := env.Facts[n]; f == nil || !f.Reachable {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(f))
		}
	}
	if err := sameGroup(st, primary, secondary, name); err != nil {
		return nil, err
	}
	ids, err := storage.AllocDRBD(st, primary, secondary, len(inst.Disks))
	if err != nil {
		return nil, prereq(ErrWrongState, "%v", err)
	}
	var specs []storage.Spec
	var secrets []string
	for _, d := range inst.Disks {
		spec := storage.Spec{Size: d.Size, Mode: d.Mode, Name: d.Name}
		if len(d.Children) > 0 {
			spec.VG, _, _ = d.Children[0].PlainLV()
		}
		specs = append(specs, spec)
		secrets = append(secrets, fmt.Sprintf("%x", env.Random(20)))
	}
	disks, err := storage.NewDRBD(&st.Cluster, name, primary, secondary, 0, specs, ids, secrets, env.NewID)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	c := cloneInstance(inst)
	c.PrimaryNode, c.Disks, c.DisksActive = primary, disks, false
	p := plan.New(plan.InstanceOp(OpInstanceRecreateDisks, name, primary+":"+secondary), st.Lineage, st.Serial)
	registerSecrets(p, disks)
	create, err := perNode(c, func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) { return storage.Create(d, n, name) })
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	p.AddStages(storage.Stages("create disks", plan.Abort, create...)...)
	if err := activate(env, p, "make the new primary the mirror's reference", c, true); err != nil {
		return nil, err
	}
	if err := deactivate(env, p, "deactivate disks", plan.Continue, c); err != nil {
		return nil, err
	}
	return setInstance(p, st, name, inst, c)
}
