package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// HarepCmd is harep (also `cluster autorepair`): one pass of Ganeti's
// auto-repair state machine over every instance, driven by the
// ganeti:watcher:autorepair:* tags.
type HarepCmd struct {
	JobDelay float64 `name:"job-delay" help:"Accepted for compatibility (repairs run at once, in this process)."`
	Luxi     string  `short:"L" name:"luxi" hidden:"" help:"Accepted for compatibility."`
}

// Help is shown by --help: the tags and the exit codes.
func (c *HarepCmd) Help() string {
	return `Tags on the cluster, a node group or an instance allow repairs (the nearest object
wins; within one, the least destructive tag): ganeti:watcher:autorepair:<type> with
type fix-storage (a new secondary), migrate, failover (restart on the secondary) or
reinstall (disks recreated on new nodes and the OS reinstalled: data lost);
ganeti:watcher:autorepair:suspend[:<timestamp>] suspends them. Results are recorded as
ganeti:watcher:autorepair:result:<type>:<id>:<timestamp>:<result>:<jobs>; an instance
whose repair failed is left until that tag is removed.

Exit status: 0 nothing to do, 2 acted (tags written or repairs run) and nothing failed,
3 a repair failed, 1 the run itself failed.`
}

func (c *HarepCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.eng.Admit(); err != nil {
		return err
	}
	// One run at a time: a second one would repair the same instances.
	ol, err := a.store.LockObjects(ctx, statefile.NewLockInfo("harep", g.version),
		[]statefile.LockReq{{Level: statefile.LevelWatcher, Name: "harep", Exclusive: true}}, statefile.LockOptions{})
	if err != nil {
		return err
	}
	defer ol.Unlock()
	h := &harep{a: a, jr: a.jobs("harep"), now: time.Now(), dry: g.DryRun,
		rep: view.HarepReport{Instances: []view.HarepInstance{}, Counts: map[string]int{}}}
	if err := h.run(ctx); err != nil {
		return err
	}
	if err := a.pr.Result(h.rep); err != nil {
		return err
	}
	return passExit(h.rep.Acted, h.rep.Failed)
}

type harep struct {
	a   *app
	jr  *jobRunner
	now time.Time
	dry bool
	st  *statefile.State
	rep view.HarepReport
}

func (h *harep) run(ctx context.Context) error {
	st, err := h.a.readState(ctx)
	if err != nil {
		return err
	}
	if h.dropExpiredSuspensions(ctx, st) {
		if st, err = h.a.readState(ctx); err != nil {
			return err
		}
	}
	h.st = st
	type item struct {
		inst   *statefile.Instance
		status playbooks.RepairStatus
	}
	var items []item
	for _, name := range st.InstanceNames() {
		inst := st.Instances[name]
		s, err := playbooks.InitialRepairStatus(inst)
		if err != nil {
			return fmt.Errorf("when parsing auto-repair tags: %w", err)
		}
		items = append(items, item{inst, s})
	}
	online, _ := onlineNodes(st, nil)
	facts := h.a.gather(ctx, st, online, playbooks.PartVGs, playbooks.PartDRBD, playbooks.PartRunning)
	j, err := h.a.store.Journal()
	if err != nil {
		return err
	}
	for _, it := range items {
		out := view.HarepInstance{Name: it.inst.Name, Messages: []string{}}
		s := it.status
		// First: pending repairs whose jobs have ended get their result.
		if s.State == playbooks.RepairPending {
			s = h.settlePending(ctx, j, it.inst, s, &out)
		}
		// Then: broken instances that are healthy get repaired.
		group := ""
		if n := st.Nodes[it.inst.PrimaryNode]; n != nil {
			group = n.Group
		}
		pick := func(exclude ...string) (string, error) { return playbooks.PickNode(st, facts, group, exclude...) }
		rtype, actions, broken, perr := playbooks.BrokenRepair(st, it.inst, pick)
		switch {
		case !broken:
		case s.State == playbooks.RepairFailed:
			out.Messages = append(out.Messages, fmt.Sprintf("Not repairing %s: its repair failed (%s); remove that tag once it is fixed", it.inst.Name, s.Data.Read))
		case s.State != playbooks.RepairHealthy:
		default:
			s = h.repair(ctx, j, it.inst, s, rtype, actions, perr, facts, &out)
		}
		out.State = s.State.String()
		if s.Data != nil {
			out.Repair, out.Jobs, out.Tag = s.Data.Type.String(), s.Data.Jobs, s.Data.Tag()
			if s.Data.Result != nil {
				out.Result = s.Data.Result.String()
			}
		}
		h.rep.Counts[out.State]++
		if len(out.Messages) > 0 {
			h.rep.Instances = append(h.rep.Instances, out)
		}
	}
	return nil
}

// settlePending gives a pending repair its result once its jobs have all
// ended: success when every one succeeded, failure otherwise.
func (h *harep) settlePending(ctx context.Context, j *statefile.Journal, inst *statefile.Instance, s playbooks.RepairStatus, out *view.HarepInstance) playbooks.RepairStatus {
	ok := true
	for _, id := range s.Data.Jobs {
		jb, err := j.Get(ctx, id)
		switch {
		case errors.Is(err, statefile.ErrNoJob):
			ok = false // gone: it cannot be shown to have succeeded
		case err != nil:
			out.Messages = append(out.Messages, fmt.Sprintf("could not check job %d of %s: %v", id, inst.Name, err))
			h.rep.Failed++
			return s
		case !jb.Status.Finished():
			return s // still running (or cut off: job resume or abort settles it)
		case jb.Status != statefile.JobSuccess:
			ok = false
		}
	}
	res := playbooks.RepairSuccess
	if !ok {
		res = playbooks.RepairFailure
	}
	return h.finish(ctx, inst, s, res, out)
}

// finish writes a pending repair's result tag in place of its pending tag.
func (h *harep) finish(ctx context.Context, inst *statefile.Instance, s playbooks.RepairStatus, res playbooks.RepairResult, out *view.HarepInstance) playbooks.RepairStatus {
	d := *s.Data
	d.Result, d.Time = &res, h.now.Unix()
	next := playbooks.RepairStatus{State: playbooks.RepairHealthy, Data: &d}
	if res == playbooks.RepairFailure {
		next.State = playbooks.RepairFailed
		h.rep.Failed++
	}
	out.Messages = append(out.Messages, fmt.Sprintf("Moving %s from %q to %q", inst.Name, s.State.String(), next.State.String()))
	h.tags(ctx, inst.Name, d.Tag(), append([]string{s.Data.Tag()}, s.Remove...), out)
	return next
}

// repair handles a broken, healthy instance: enoperm when its tags do not
// allow the repair, else the repair's jobs, pending then settled.
func (h *harep) repair(ctx context.Context, j *statefile.Journal, inst *statefile.Instance, s playbooks.RepairStatus,
	rtype playbooks.RepairType, actions []playbooks.RepairAction, perr error, facts map[string]*playbooks.NodeFacts, out *view.HarepInstance) playbooks.RepairStatus {
	policy := playbooks.InstanceRepairPolicy(h.st, inst, h.now)
	name := inst.Name
	if !policy.Enabled {
		out.Messages = append(out.Messages, fmt.Sprintf("Not repairing %s because it's in state %s", name, policy))
		return s
	}
	old := s.Remove
	if s.Data != nil {
		old = append([]string{s.Data.Tag()}, old...)
	}
	d := playbooks.RepairData{Type: rtype, ID: statefile.NewUUID(), Time: h.now.Unix()}
	if rtype > policy.Max {
		res := playbooks.RepairEnoperm
		d.Result = &res
		out.Messages = append(out.Messages, fmt.Sprintf("Not performing a repair of type %s on %s because only repairs up to %s are allowed", rtype, name, policy.Max))
		h.tags(ctx, name, d.Tag(), old, out)
		return playbooks.RepairStatus{State: playbooks.RepairNeeded, Data: &d}
	}
	out.Messages = append(out.Messages, fmt.Sprintf("Executing %s repair on %s", rtype, name))
	if h.dry {
		for _, act := range actions {
			out.Messages = append(out.Messages, "  would run "+actionLabel(name, act))
		}
		return s
	}
	if perr != nil {
		// No node can take the disks: the repair fails before any job.
		res := playbooks.RepairFailure
		d.Result = &res
		h.rep.Failed++
		out.Messages = append(out.Messages, fmt.Sprintf("  %s: %v", name, perr))
		h.tags(ctx, name, d.Tag(), old, out)
		return playbooks.RepairStatus{State: playbooks.RepairFailed, Data: &d}
	}
	// The jobs are queued first, so the pending tag can name them.
	for _, act := range actions {
		jb := &statefile.Job{Operation: "harep: " + actionLabel(name, act), Status: statefile.JobQueued, Reason: "harep: " + rtype.String() + " repair of " + name}
		if err := j.Create(ctx, jb); err != nil {
			out.Messages = append(out.Messages, fmt.Sprintf("  could not queue the repair's jobs: %v", err))
			h.rep.Failed++
			return s
		}
		d.Jobs = append(d.Jobs, jb.ID)
	}
	pending := playbooks.RepairStatus{State: playbooks.RepairPending, Data: &d}
	if !h.tags(ctx, name, d.Tag(), old, out) {
		for _, id := range d.Jobs {
			h.endQueued(ctx, j, id, statefile.JobCanceled, "harep could not record the repair")
		}
		return s
	}
	failed := false
	for i, act := range actions {
		id := d.Jobs[i]
		if failed {
			h.endQueued(ctx, j, id, statefile.JobCanceled, "an earlier job of the repair failed")
			continue
		}
		req := h.request(name, act, facts)
		e := *h.a.eng
		e.Submitted, e.Reason = id, "harep: "+rtype.String()+" repair of "+name
		if !h.a.g.Verbose {
			e.Report = quietReporter{e.Report}
		}
		_, err := e.Run(ctx, req)
		if err != nil {
			failed = true
			h.endQueued(ctx, j, id, statefile.JobError, err.Error())
			out.Messages = append(out.Messages, fmt.Sprintf("  job %d (%s) failed: %v", id, actionLabel(name, act), err))
		}
	}
	res := playbooks.RepairSuccess
	if failed {
		res = playbooks.RepairFailure
	}
	h.rep.Acted = true
	return h.finish(ctx, inst, pending, res, out)
}

// request is the opcode of one repair action.
func (h *harep) request(name string, act playbooks.RepairAction, facts map[string]*playbooks.NodeFacts) playbooks.Request {
	switch act.Op {
	case "replace-disks":
		return playbooks.InstanceReplaceDisksOp.With(playbooks.ReplaceDisksArgs{Name: name, Mode: "new", NewNode: act.Secondary, Timestamp: h.now.Unix()})
	case "failover":
		// The primary is offline: Ganeti still checks the target's disks
		// when they are active, so only an up-to-date secondary is forced.
		inst := h.st.Instances[name]
		ignore := !inst.DisksActive || secondaryUpToDate(inst, facts)
		return playbooks.InstanceFailoverOp.With(playbooks.FailoverArgs{Name: name, IgnoreConsistency: ignore, ShutdownTimeout: 2 * time.Minute})
	case "recreate-disks":
		return playbooks.RecreateDisksOp.With(playbooks.RecreateArgs{Name: name, Node: act.Primary, Secondary: act.Secondary})
	}
	return playbooks.ReinstallOp.With(playbooks.ReinstallArgs{Name: name})
}

func actionLabel(name string, act playbooks.RepairAction) string {
	switch act.Op {
	case "replace-disks":
		return "instance replace-disks -n " + act.Secondary + " " + name
	case "recreate-disks":
		n := act.Primary
		if act.Secondary != "" {
			n += ":" + act.Secondary
		}
		return "instance recreate-disks -n " + n + " " + name
	}
	return "instance " + act.Op + " " + name
}

// secondaryUpToDate reports whether every DRBD minor of inst is UpToDate
// on its secondary, from the facts.
func secondaryUpToDate(inst *statefile.Instance, facts map[string]*playbooks.NodeFacts) bool {
	sec := inst.SecondaryNodes()
	if len(sec) != 1 {
		return false
	}
	return playbooks.DRBDUpToDate(facts[sec[0]], inst, sec[0])
}

// tags writes a repair's tag (removing the older ones) as a job; it
// reports whether that worked.
func (h *harep) tags(ctx context.Context, name, add string, remove []string, out *view.HarepInstance) bool {
	out.Messages = append(out.Messages, fmt.Sprintf(">>> Adding the following tag to %s:\n%q", name, add))
	if h.dry {
		return true
	}
	if _, err := h.jr.run(ctx, "tags of "+name, playbooks.RepairTagsOp.With(playbooks.RepairTagsArgs{Instance: name, Add: []string{add}, Remove: remove})); err != nil {
		out.Messages = append(out.Messages, fmt.Sprintf("  could not write the tags of %s: %v", name, err))
		h.rep.Failed++
		return false
	}
	h.rep.Acted = true
	return true
}

// endQueued ends a queued job that never started (its plan was refused,
// or an earlier job of its repair failed), so it does not stay queued.
func (h *harep) endQueued(ctx context.Context, j *statefile.Journal, id int64, status statefile.JobStatus, why string) {
	jb, err := j.Get(ctx, id)
	if err != nil || len(jb.Steps) > 0 || jb.Status.Finished() && jb.Status != statefile.JobQueued {
		return
	}
	jb.Status, jb.Ended, jb.PID = status, time.Now(), os.Getpid()
	jb.Log = append(jb.Log, why)
	_ = j.Update(ctx, jb)
}

// dropExpiredSuspensions removes suspension tags whose time has passed
// (cluster, groups, instances), each as a job; it reports whether any went.
func (h *harep) dropExpiredSuspensions(ctx context.Context, st *statefile.State) bool {
	if h.dry {
		return false
	}
	type obj struct {
		kind, name string
		tags       []string
	}
	objs := []obj{{plan.KindCluster, "", st.Cluster.Tags}}
	for _, g := range sortedKeysOf(st.NodeGroups) {
		objs = append(objs, obj{plan.KindNodeGroup, g, st.NodeGroups[g].Tags})
	}
	for _, i := range st.InstanceNames() {
		objs = append(objs, obj{plan.KindInstance, i, st.Instances[i].Tags})
	}
	dropped := false
	for _, o := range objs {
		old := playbooks.ExpiredSuspensions(o.tags, h.now)
		if len(old) == 0 {
			continue
		}
		if _, err := h.jr.run(ctx, "expired suspension", playbooks.TagsDelOp.With(playbooks.TagsArgs{Kind: o.kind, Name: o.name, Tags: old})); err != nil {
			h.a.pr.Warning("removing the expired suspension tags of %s %s: %v", o.kind, o.name, err)
			continue
		}
		dropped, h.rep.Acted = true, true
	}
	return dropped
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
