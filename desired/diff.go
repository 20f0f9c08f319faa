package desired

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/ippool"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// Options tune the diff.
type Options struct {
	// AllowDestroy permits removing instances that are in the state but not
	// in the file, and recreating (-/+) instances whose template changes.
	AllowDestroy bool
	// ShutdownTimeout is given to the shutdown and remove planners.
	ShutdownTimeout time.Duration
}

// Op is one operation of the diff: a call of one playbooks planner. It is
// planned again, against the state the previous operation left, when it is
// applied; Plan must therefore name its object, never capture state.
type Op struct {
	Desc      string // e.g. "instance add web1", the job's name
	Object    string // "instance web1", "node node2", "cluster"
	Line      int    // of the declaration in the file (0: not declared)
	Instances []string
	Plan      func(env playbooks.Env) (*plan.Plan, error)
}

// Change is what one object undergoes, for display: Terraform's
// "+ instance web1" with its attribute lines.
type Change struct {
	Symbol  string   `json:"symbol"` // "+", "~", "-", "-/+"
	Kind    string   `json:"kind"`   // instance, node, cluster
	Name    string   `json:"name"`
	Details []string `json:"details,omitempty"`
}

// Result is the diff: the changes to show and the operations to run, in
// execution order.
type Result struct {
	Changes  []*Change
	Ops      []*Op
	Warnings []string
}

// Counts are the summary numbers: objects to add, change and destroy
// (a -/+ counts as one add and one destroy).
func (r *Result) Counts() (add, change, destroy int) {
	for _, c := range r.Changes {
		switch c.Symbol {
		case "+":
			add++
		case "~":
			change++
		case "-":
			destroy++
		case "-/+":
			add++
			destroy++
		}
	}
	return
}

// Empty reports whether the cluster already matches the file.
func (r *Result) Empty() bool { return len(r.Ops) == 0 }

// phases order the operations safely: removals free space, names and
// addresses before creations; roles, cluster parameters and networks are
// set before instances are placed; stopped instances move cheaply (failover) before running ones are
// started.
const (
	phRemove = iota
	phGroup
	phNode
	phCluster
	phNetwork
	phCreate
	phModify
	phShutdown
	phMove
	phStartup
	phases
)

// Diff computes the operations that take the cluster from env.State (and
// what env.Facts say runs where) to the declared state. Every operation is
// planned on a simulated state as it is computed, so that an impossible
// declaration (unknown node, no space or memory) fails here, naming its
// line, before anything is touched. env.Facts should hold the facts (all
// parts) of every online node.
func Diff(env playbooks.Env, f *File, opt Options) (*Result, error) {
	if opt.ShutdownTimeout == 0 {
		opt.ShutdownTimeout = playbooks.DefaultShutdownTimeout
	}
	d := &differ{f: f, opt: opt, env: env}
	d.sim = simulate(env)
	d.run()
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, d.errs
	}
	res := &Result{Warnings: d.warnings}
	for _, c := range d.order {
		res.Changes = append(res.Changes, c)
	}
	for _, ph := range d.ops {
		res.Ops = append(res.Ops, ph...)
	}
	return res, nil
}

type differ struct {
	f        *File
	opt      Options
	env      playbooks.Env
	sim      playbooks.Env
	ops      [phases][]*Op
	order    []*Change
	byObj    map[string]*Change
	errs     Errors
	warnings []string
}

func (d *differ) bad(line int, format string, a ...any) {
	d.errs = append(d.errs, &Error{Path: d.f.Path, Line: line, Msg: fmt.Sprintf(format, a...)})
}

// change returns (creating) the displayed change of an object.
func (d *differ) change(symbol, kind, name string) *Change {
	if d.byObj == nil {
		d.byObj = map[string]*Change{}
	}
	key := kind + " " + name
	if c, ok := d.byObj[key]; ok {
		if symbol != "~" {
			c.Symbol = symbol
		}
		return c
	}
	c := &Change{Symbol: symbol, Kind: kind, Name: name}
	d.byObj[key] = c
	d.order = append(d.order, c)
	return c
}

// add records an operation after checking it plans on the simulated state;
// the simulated state and facts then move on as if it had been applied.
func (d *differ) add(phase int, line int, op *Op) bool {
	p, err := op.Plan(d.sim)
	if err != nil {
		d.bad(line, "%s: %v", op.Object, err)
		return false
	}
	if p.Empty() {
		return false
	}
	if err := p.ApplyChanges(d.sim.State, time.Unix(0, 0)); err != nil {
		d.bad(line, "%s: %v", op.Object, err)
		return false
	}
	d.sim.State.Serial++
	account(d.sim, p)
	op.Line = line
	d.ops[phase] = append(d.ops[phase], op)
	return true
}

func (d *differ) run() {
	st := d.env.State
	declared := map[string]*Instance{}
	for _, in := range d.f.Instances {
		declared[in.Name] = in
	}
	// Removals (and the removal half of recreations).
	var doomed []string
	for _, name := range sortedKeys(st.Instances) {
		if _, ok := declared[name]; !ok {
			doomed = append(doomed, name)
		}
	}
	recreate := map[string]bool{}
	for _, in := range d.f.Instances {
		if cur, ok := st.Instances[in.Name]; ok && cur.DiskTemplate != in.Template && !plainDRBD(cur.DiskTemplate, in.Template) && slices.Contains(Templates, in.Template) {
			recreate[in.Name] = true
			if !d.opt.AllowDestroy {
				d.bad(in.KeyLine("template"), "instance %s: changing the template from %s to %s recreates the instance and destroys its data: pass --allow-destroy", in.Name, cur.DiskTemplate, in.Template)
			}
		}
	}
	if len(doomed) > 0 && !d.opt.AllowDestroy {
		d.bad(0, "instance(s) %s are in the cluster but not in the file and would be destroyed: declare them, or pass --allow-destroy", strings.Join(doomed, ", "))
	}
	if len(d.errs) > 0 {
		return
	}
	for _, name := range append(doomed, sortedKeys(recreate)...) {
		sym := "-"
		if recreate[name] {
			sym = "-/+"
		}
		d.removeInstance(name, sym)
	}
	for _, n := range d.f.Nodes {
		d.node(n)
	}
	if d.f.Cluster != nil {
		d.cluster(d.f.Cluster)
	}
	for _, g := range d.f.Groups {
		d.group(g)
	}
	for _, nw := range d.f.Networks {
		d.network(nw)
	}
	for _, in := range d.f.Instances {
		if _, ok := d.sim.State.Instances[in.Name]; !ok {
			d.create(in, recreate[in.Name])
			continue
		}
		d.modify(in)
	}
}

func plainDRBD(a, b string) bool {
	return (a == "plain" && b == "drbd") || (a == "drbd" && b == "plain")
}

func (d *differ) removeInstance(name, sym string) {
	timeout := d.opt.ShutdownTimeout
	op := &Op{Desc: "instance remove " + name, Object: "instance " + name, Instances: []string{name},
		Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.InstanceRemove(env, name, timeout, false)
		}}
	if d.add(phRemove, 0, op) {
		d.change(sym, "instance", name)
		d.forget(name)
	}
}

func (d *differ) node(n *Node) {
	cur, ok := d.sim.State.Nodes[n.Name]
	if !ok {
		d.bad(n.Line, "node %s is not in the cluster (add it with `ganetictl node add`)", n.Name)
		return
	}
	name := n.Name
	if n.Role != "" && n.Role != nodeRole(cur, d.sim.State.Cluster.MasterNode) {
		args := playbooks.NodeModifyArgs{Name: name, AutoPromote: true}
		t, f := true, false
		switch n.Role {
		case "master_candidate":
			args.MasterCandidate = &t
		case "drained":
			args.Drained = &t
		case "offline":
			args.Offline = &t
		case "regular":
			args.MasterCandidate, args.Drained, args.Offline = &f, &f, &f
		}
		op := &Op{Desc: "node modify " + name, Object: "node " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			p, _, err := playbooks.NodeModify(env, args)
			return p, err
		}}
		if d.add(phNode, n.Line, op) {
			c := d.change("~", "node", name)
			c.Details = append(c.Details, fmt.Sprintf("role: %s -> %s", nodeRole(cur, d.sim.State.Cluster.MasterNode), n.Role))
		}
	}
	if n.Tags != nil {
		d.tags(phNode, n.Line, "node", name, cur.Tags, n.Tags)
	}
}

func nodeRole(n *statefile.Node, master string) string {
	switch {
	case n.Offline:
		return "offline"
	case n.Drained:
		return "drained"
	case n.MasterCandidate || n.Name == master:
		return "master_candidate"
	}
	return "regular"
}

func (d *differ) tags(phase, line int, kind, name string, cur, want []string) {
	var add, remove []string
	for _, t := range want {
		if !slices.Contains(cur, t) {
			add = append(add, t)
		}
	}
	for _, t := range cur {
		if !slices.Contains(want, t) {
			remove = append(remove, t)
		}
	}
	if len(add)+len(remove) == 0 {
		return
	}
	obj := kind + " " + name
	if kind == plan.KindCluster {
		obj = "cluster"
	}
	op := &Op{Desc: kind + " tags " + name, Object: obj, Plan: func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Tags(env, kind, name, add, remove)
	}}
	if kind == plan.KindInstance {
		op.Instances = []string{name}
	}
	if d.add(phase, line, op) {
		c := d.change("~", kind, name)
		var parts []string
		for _, t := range add {
			parts = append(parts, "+"+t)
		}
		for _, t := range remove {
			parts = append(parts, "-"+t)
		}
		c.Details = append(c.Details, "tags: "+strings.Join(parts, " "))
	}
}

func (d *differ) cluster(c *Cluster) {
	cl := &d.sim.State.Cluster
	changed := statefile.Params{}
	var details []string
	for _, k := range sortedKeys(c.BEParams) {
		if norm(cl.BEParams[k]) != norm(c.BEParams[k]) {
			changed[k] = c.BEParams[k]
			details = append(details, fmt.Sprintf("beparams.%s: %s -> %s", k, orNone(cl.BEParams[k]), norm(c.BEParams[k])))
		}
	}
	if len(changed) > 0 {
		op := &Op{Desc: "cluster modify", Object: "cluster", Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.ClusterModify(env, playbooks.ModifyArgs{BEParams: changed})
		}}
		if d.add(phCluster, c.Line, op) {
			ch := d.change("~", "cluster", cl.Name)
			ch.Details = append(ch.Details, details...)
		}
	}
	if c.Tags != nil {
		d.tags(phCluster, c.Line, plan.KindCluster, cl.Name, cl.Tags, c.Tags)
	}
}

// place resolves "auto" and checks the nodes an instance is declared on.
func (d *differ) place(in *Instance) (primary, secondary string, ok bool) {
	st := d.sim.State
	usable := func(key, n string) bool {
		node, exists := st.Nodes[n]
		switch {
		case !exists:
			d.bad(in.KeyLine(key), "instance %s: unknown node %q", in.Name, n)
		case node.Offline:
			d.bad(in.KeyLine(key), "instance %s: node %s is offline", in.Name, n)
		case node.Drained || !node.VMCapable:
			d.bad(in.KeyLine(key), "instance %s: node %s does not take instances (drained or not vm_capable)", in.Name, n)
		default:
			return true
		}
		return false
	}
	primary, secondary = in.Primary, in.Secondary
	if primary != "auto" && !usable("primary", primary) {
		return "", "", false
	}
	if secondary != "" && secondary != "auto" && !usable("secondary", secondary) {
		return "", "", false
	}
	if primary == "auto" || secondary == "auto" {
		// The allocator chooses (auto.go).
		var err error
		if primary, secondary, err = d.autoPlace(in, primary, secondary); err != nil {
			d.bad(in.KeyLine("primary"), "instance %s: %v", in.Name, err)
			return "", "", false
		}
	}
	if primary == "" || (in.Template == "drbd" && secondary == "") {
		d.bad(in.KeyLine("primary"), "instance %s: no node to place it on (the allocator found no online vm_capable node with facts)", in.Name)
		return "", "", false
	}
	return primary, secondary, true
}

func (d *differ) create(in *Instance, replacing bool) {
	primary, secondary, ok := d.place(in)
	if !ok {
		return
	}
	args := playbooks.InstanceAddArgs{Name: in.Name, Template: in.Template, Primary: primary, OS: in.OS, Hypervisor: in.Hypervisor,
		BEParams: params(in.BEParams), HVParams: params(in.HVParams), NoStart: in.State == "stopped", Tags: in.Tags}
	if in.Template == "drbd" {
		args.Secondary = secondary
	}
	for _, mib := range in.DiskMiB {
		args.Disks = append(args.Disks, storage.Spec{Size: mib, Mode: "rw"})
	}
	for _, n := range in.NICs {
		args.NICs = append(args.NICs, playbooks.NICSpec{Link: n.Link, Mode: n.Mode, IP: n.IP, MAC: n.MAC, Network: n.Network})
	}
	if len(args.NICs) == 0 {
		args.NICs = []playbooks.NICSpec{{}}
	}
	op := &Op{Desc: "instance add " + in.Name, Object: "instance " + in.Name, Instances: []string{in.Name},
		Plan: func(env playbooks.Env) (*plan.Plan, error) {
			a := args
			a.Disks = slices.Clone(args.Disks)
			a.NICs = slices.Clone(args.NICs)
			return playbooks.InstanceAdd(env, a)
		}}
	if !d.add(phCreate, in.Line, op) {
		return
	}
	sym := "+"
	if replacing {
		sym = "-/+"
	}
	c := d.change(sym, "instance", in.Name)
	where := primary
	if args.Secondary != "" {
		where += ":" + secondary
	}
	c.Details = append(c.Details, fmt.Sprintf("%s on %s, disks [%s], os %s, %s", in.Template, where, strings.Join(in.Disks, " "), in.OS, in.State))
	if in.State == "running" {
		d.runs(in.Name, primary)
	}
}

func (d *differ) modify(in *Instance) {
	st := d.sim.State
	cur := st.Instances[in.Name]
	name := in.Name
	line := in.Line
	change := func(detail string) { c := d.change("~", "instance", name); c.Details = append(c.Details, detail) }
	// Template plain <-> drbd: a conversion of the stopped instance.
	if cur.DiskTemplate != in.Template {
		_, secondary, ok := d.place(&Instance{Name: in.Name, Template: in.Template, Primary: cur.PrimaryNode, Secondary: in.Secondary, keyLines: in.keyLines, Line: in.Line})
		if !ok {
			return
		}
		d.shutdownFor(in, cur, "convert the template")
		op := &Op{Desc: "instance modify -t " + in.Template + " " + name, Object: "instance " + name, Instances: []string{name},
			Plan: func(env playbooks.Env) (*plan.Plan, error) {
				return playbooks.Convert(env, playbooks.ConvertArgs{Name: name, Template: in.Template, Secondary: secondary})
			}}
		if d.add(phModify, in.KeyLine("template"), op) {
			change(fmt.Sprintf("template: %s -> %s", cur.DiskTemplate, in.Template))
		}
		cur = d.sim.State.Instances[name]
	}
	// Disks: grow, or add new ones at the end.
	for i, mib := range in.DiskMiB {
		if i >= len(cur.Disks) {
			spec := storage.Spec{Size: mib, Mode: "rw"}
			op := &Op{Desc: fmt.Sprintf("instance modify --disk add %s", name), Object: "instance " + name, Instances: []string{name},
				Plan: func(env playbooks.Env) (*plan.Plan, error) {
					return playbooks.InstanceModify(env, playbooks.ModifyInstanceArgs{Name: name, Disks: []playbooks.DiskMod{{Op: "add", Index: -1, Spec: spec}}})
				}}
			if d.add(phModify, in.KeyLine("disks"), op) {
				change(fmt.Sprintf("disk %d: (none) -> %d MiB", i, mib))
			}
			continue
		}
		size := cur.Disks[i].Size
		switch {
		case mib < size:
			d.bad(in.KeyLine("disks"), "instance %s: disk %d is %d MiB and cannot shrink to %d MiB", name, i, size, mib)
		case mib > size:
			idx := i
			op := &Op{Desc: fmt.Sprintf("instance grow-disk %s %d", name, idx), Object: "instance " + name, Instances: []string{name},
				Plan: func(env playbooks.Env) (*plan.Plan, error) {
					return playbooks.GrowDisk(env, name, idx, mib, true, false)
				}}
			if d.add(phModify, in.KeyLine("disks"), op) {
				change(fmt.Sprintf("disk %d: %d -> %d MiB", i, size, mib))
			}
		}
	}
	if len(in.DiskMiB) < len(cur.Disks) {
		d.bad(in.KeyLine("disks"), "instance %s has %d disks, the file declares %d: removing disks is not done declaratively (use `instance modify --disk N:remove`)", name, len(cur.Disks), len(in.DiskMiB))
	}
	// Parameters.
	be, hvp := statefile.Params{}, statefile.Params{}
	var details []string
	for _, k := range sortedKeys(in.BEParams) {
		if norm(cur.BEParams[k]) != norm(in.BEParams[k]) {
			be[k] = in.BEParams[k]
			details = append(details, fmt.Sprintf("beparams.%s: %s -> %s", k, orNone(cur.BEParams[k]), norm(in.BEParams[k])))
		}
	}
	for _, k := range sortedKeys(in.HVParams) {
		if norm(cur.HVParams[k]) != norm(in.HVParams[k]) {
			hvp[k] = in.HVParams[k]
			details = append(details, fmt.Sprintf("hvparams.%s: %s -> %s", k, orNone(cur.HVParams[k]), norm(in.HVParams[k])))
		}
	}
	if len(be)+len(hvp) > 0 {
		op := &Op{Desc: "instance modify " + name, Object: "instance " + name, Instances: []string{name},
			Plan: func(env playbooks.Env) (*plan.Plan, error) {
				return playbooks.InstanceModify(env, playbooks.ModifyInstanceArgs{Name: name, BEParams: be, HVParams: hvp})
			}}
		if d.add(phModify, in.KeyLine("beparams"), op) {
			for _, s := range details {
				change(s)
			}
		}
	}
	// "os" without a variant matches any variant of that OS (add picks
	// the OS's first variant).
	if in.OS != cur.OS && (strings.Contains(in.OS, "+") || !strings.HasPrefix(cur.OS, in.OS+"+")) {
		d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: instance %s runs OS %s, the file says %s: reinstalling is not done declaratively (use `instance reinstall -o`)", d.f.Path, in.KeyLine("os"), name, cur.OS, in.OS))
	}
	if len(in.NICs) > 0 && len(in.NICs) != len(cur.NICs) {
		d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: instance %s has %d NICs, the file declares %d: adding and removing NICs is not done declaratively yet", d.f.Path, in.KeyLine("nic"), name, len(cur.NICs), len(in.NICs)))
	}
	d.nicNetworks(in, cur)
	d.tags(phModify, in.KeyLine("tags"), plan.KindInstance, name, cur.Tags, in.Tags)

	// Power and placement.
	cur = d.sim.State.Instances[name]
	running := d.runningOn(name)
	if in.State == "stopped" && (cur.AdminState == "up" || len(running) > 0) {
		d.shutdownFor(in, cur, "")
	}
	if in.Primary != "auto" && in.Primary != cur.PrimaryNode {
		d.move(in, d.sim.State.Instances[name])
	}
	cur = d.sim.State.Instances[name]
	running = d.runningOn(name)
	if in.State == "running" && (cur.AdminState != "up" || !slices.Contains(running, cur.PrimaryNode)) {
		why := "state: stopped -> running"
		if cur.AdminState == "up" {
			why = fmt.Sprintf("not running on %s (drift found on the node): start it", cur.PrimaryNode)
		}
		op := &Op{Desc: "instance startup " + name, Object: "instance " + name, Instances: []string{name},
			Plan: func(env playbooks.Env) (*plan.Plan, error) { return playbooks.InstanceStartup(env, name) }}
		if d.add(phStartup, line, op) {
			change(why)
			d.runs(name, cur.PrimaryNode)
		}
	}
}

// shutdownFor stops an instance that runs (or is marked up).
func (d *differ) shutdownFor(in *Instance, cur *statefile.Instance, why string) {
	if cur.AdminState != "up" && len(d.runningOn(cur.Name)) == 0 {
		return
	}
	name, timeout := cur.Name, d.opt.ShutdownTimeout
	noRemember := why != "" && in.State == "running" // a conversion restarts it afterwards
	op := &Op{Desc: "instance shutdown " + name, Object: "instance " + name, Instances: []string{name},
		Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.InstanceShutdown(env, name, timeout, noRemember)
		}}
	if d.add(phShutdown, in.KeyLine("state"), op) {
		c := d.change("~", "instance", name)
		if why != "" {
			c.Details = append(c.Details, "stopped to "+why)
		} else {
			c.Details = append(c.Details, "state: running -> stopped")
		}
		d.forget(name)
	}
}

// move changes the primary: migrate a running instance, fail over a
// stopped one; drbd to its secondary, shared storage to any node.
func (d *differ) move(in *Instance, cur *statefile.Instance) {
	name, target := in.Name, in.Primary
	if _, _, ok := d.place(&Instance{Name: name, Primary: target, keyLines: in.keyLines, Line: in.Line}); !ok {
		return
	}
	switch {
	case cur.DiskTemplate == "drbd":
		if sec := cur.SecondaryNodes(); len(sec) != 1 || sec[0] != target {
			d.bad(in.KeyLine("primary"), "instance %s: a drbd instance moves only to its secondary (%s); changing its nodes needs `instance replace-disks -n`", name, strings.Join(cur.SecondaryNodes(), ","))
			return
		}
		target = ""
	case slices.Contains([]string{"sharedfile", "rbd"}, cur.DiskTemplate):
	default:
		d.bad(in.KeyLine("primary"), "instance %s: a %s instance's disks are on its node: moving it needs `instance move`, not a primary change", name, cur.DiskTemplate)
		return
	}
	running := slices.Contains(d.runningOn(name), cur.PrimaryNode)
	how := "failover"
	op := &Op{Desc: "instance failover " + name, Object: "instance " + name, Instances: []string{name},
		Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.Failover(env, playbooks.FailoverArgs{Name: name, Target: target, ShutdownTimeout: d.opt.ShutdownTimeout})
		}}
	if running {
		how = "migrate"
		op = &Op{Desc: "instance migrate " + name, Object: "instance " + name, Instances: []string{name},
			Plan: func(env playbooks.Env) (*plan.Plan, error) {
				return playbooks.Migrate(env, playbooks.MigrateArgs{Name: name, Target: target})
			}}
	}
	if d.add(phMove, in.KeyLine("primary"), op) {
		c := d.change("~", "instance", name)
		c.Details = append(c.Details, fmt.Sprintf("primary: %s -> %s (%s)", cur.PrimaryNode, in.Primary, how))
		if running {
			d.forget(name)
			d.runs(name, in.Primary)
		}
	}
}

// runningOn is where the simulated facts say the instance runs.
func (d *differ) runningOn(name string) []string {
	var out []string
	for _, n := range sortedKeys(d.sim.Facts) {
		if f := d.sim.Facts[n]; f != nil && f.Running != nil {
			if _, ok := f.Running[name]; ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func (d *differ) forget(name string) {
	for _, f := range d.sim.Facts {
		if f != nil && f.Running != nil {
			delete(f.Running, name)
		}
	}
}

func (d *differ) runs(name, node string) {
	if f := d.sim.Facts[node]; f != nil {
		if f.Running == nil {
			f.Running = map[string]hv.Running{}
		}
		f.Running[name] = hv.Running{Name: name, State: "running"}
	}
}

// simulate copies the state and facts the diff plans against.
func simulate(env playbooks.Env) playbooks.Env {
	sim := env
	b, _ := json.Marshal(env.State)
	st := &statefile.State{}
	_ = json.Unmarshal(b, st)
	sim.State = st
	sim.Facts = map[string]*playbooks.NodeFacts{}
	for n, f := range env.Facts {
		if f == nil {
			continue
		}
		c := *f
		c.Running = map[string]hv.Running{}
		for k, v := range f.Running {
			c.Running[k] = v
		}
		if f.VG != nil {
			vg := *f.VG
			c.VG = &vg
		}
		sim.Facts[n] = &c
	}
	if sim.NewID == nil {
		sim.NewID = statefile.NewUUID
	}
	if sim.Random == nil {
		sim.Random = func(n int) []byte { return make([]byte, n) }
	}
	return sim
}

func params(m map[string]any) statefile.Params {
	if len(m) == 0 {
		return nil
	}
	out := statefile.Params{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// norm prints a parameter value the same whatever JSON or TOML made of it.
func norm(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		if n, ok := statefile.Int(x); ok {
			return fmt.Sprint(n)
		}
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func orNone(v any) string {
	if s := norm(v); s != "" {
		return s
	}
	return "(default)"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// account moves the simulated facts on as the plan's instance changes
// would: disk space and memory used or freed on each node, and where the
// instance runs, so that the next operation's capacity checks see what
// the earlier ones took (two creates that fit alone may not fit together).
func account(sim playbooks.Env, p *plan.Plan) {
	for _, c := range p.Changes {
		if c.Kind != plan.KindInstance {
			continue
		}
		var before, after *statefile.Instance
		if len(c.Before) > 0 {
			before = &statefile.Instance{}
			if json.Unmarshal(c.Before, before) != nil {
				continue
			}
		}
		if len(c.After) > 0 {
			after = &statefile.Instance{}
			if json.Unmarshal(c.After, after) != nil {
				continue
			}
		}
		use(sim, before, -1)
		use(sim, after, +1)
	}
}

// use adds (sign +1) or gives back (-1) what inst takes on its nodes.
func use(sim playbooks.Env, inst *statefile.Instance, sign int64) {
	if inst == nil {
		return
	}
	for _, d := range inst.Disks {
		size := d.Size
		if d.DevType == "drbd" {
			size += 128 // the meta LV
		}
		for _, n := range d.Nodes {
			f := sim.Facts[n]
			if f == nil {
				continue
			}
			switch d.DevType {
			case "plain", "drbd":
				if f.VG != nil {
					f.VG.Free -= float64(sign * size)
				}
			case "file":
				f.DiskFree -= sign * size
			}
		}
	}
	f := sim.Facts[inst.PrimaryNode]
	if f == nil || inst.AdminState != "up" {
		return
	}
	if _, runs := f.Running[inst.Name]; sign < 0 && !runs {
		return // it was not using any memory (stopped, or drift)
	}
	mem := playbooks.MaxMem(&sim.State.Cluster, inst)
	f.MemFree -= sign * mem
	if f.Running == nil {
		f.Running = map[string]hv.Running{}
	}
	if sign > 0 {
		f.Running[inst.Name] = hv.Running{Name: inst.Name, Hypervisor: inst.Hypervisor, MemMiB: mem}
	} else {
		delete(f.Running, inst.Name)
	}
}

// network converges a declared network: created (then connected) when
// missing; otherwise its gateway, MAC prefix, IPv6 settings, reserved
// addresses, tags and connections, each where declared.
func (d *differ) network(nw *Network) {
	st := d.sim.State
	name := nw.Name
	cur := st.Networks[name]
	if cur == nil {
		if nw.Subnet == "" && nw.Subnet6 == "" {
			d.bad(nw.Line, "network %s: a new network needs a subnet (or subnet6 alone, for an IPv6-only one)", name)
			return
		}
		args := playbooks.NetworkAddArgs{Name: name, Network: nw.Subnet, Gateway: noneToEmpty(nw.Gateway), Network6: noneToEmpty(nw.Subnet6),
			Gateway6: noneToEmpty(nw.Gateway6), MACPrefix: noneToEmpty(nw.MACPrefix), Reserved: nw.Reserved, Tags: nw.Tags}
		op := &Op{Desc: "network add " + name, Object: "network " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.NetworkAdd(env, args)
		}}
		if !d.add(phNetwork, nw.Line, op) {
			return
		}
		c := d.change("+", plan.KindNetwork, name)
		c.Details = append(c.Details, fmt.Sprintf("subnet %s, gateway %s", noneIfEmpty(nw.Subnet), noneIfEmpty(noneToEmpty(nw.Gateway))))
		d.connections(nw)
		return
	}
	change := func(detail string) { c := d.change("~", plan.KindNetwork, name); c.Details = append(c.Details, detail) }
	if nw.Has("subnet") {
		if p, err := ippool.ParseSubnet(nw.Subnet); err != nil {
			d.bad(nw.KeyLine("subnet"), "network %s: %v", name, err)
			return
		} else if p.String() != cur.Network {
			d.bad(nw.KeyLine("subnet"), "network %s: its subnet is %s and cannot change to %s (create another network)", name, noneIfEmpty(cur.Network), p)
			return
		}
	}
	// Settings, in one modify: "" leaves a setting, "none" clears it.
	var mod playbooks.NetworkModifyArgs
	var details []string
	set := func(key, want, have string, dst *string) {
		if !nw.Has(key) || noneToEmpty(want) == have {
			return
		}
		*dst = want
		if want == "" {
			*dst = playbooks.None
		}
		details = append(details, fmt.Sprintf("%s: %s -> %s", key, noneIfEmpty(have), noneIfEmpty(noneToEmpty(want))))
	}
	set("gateway", nw.Gateway, cur.Gateway, &mod.Gateway)
	set("mac_prefix", strings.ToLower(nw.MACPrefix), cur.MACPrefix, &mod.MACPrefix)
	set("subnet6", nw.Subnet6, cur.Network6, &mod.Network6)
	set("gateway6", nw.Gateway6, cur.Gateway6, &mod.Gateway6)
	if len(details) > 0 {
		mod.Name = name
		op := &Op{Desc: "network modify " + name, Object: "network " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.NetworkModify(env, mod)
		}}
		if d.add(phNetwork, nw.Line, op) {
			for _, s := range details {
				change(s)
			}
		}
	}
	if nw.Reserved != nil {
		d.reserved(nw)
	}
	if nw.Tags != nil {
		d.tags(phNetwork, nw.KeyLine("tags"), plan.KindNetwork, name, d.sim.State.Networks[name].Tags, nw.Tags)
	}
	d.connections(nw)
}

// reserved makes the network's external reservations the declared ones,
// besides those ganetictl makes itself (the network, broadcast and gateway
// addresses, and the nodes' addresses).
func (d *differ) reserved(nw *Network) {
	cur := d.sim.State.Networks[nw.Name]
	pool, err := playbooks.NetworkPool(cur)
	if err != nil || pool == nil {
		d.bad(nw.KeyLine("reserved"), "network %s: reserved addresses need an IPv4 subnet", nw.Name)
		return
	}
	own := map[string]bool{cur.Gateway: true}
	for _, n := range d.sim.State.Nodes {
		own[n.PrimaryIP], own[n.SecondaryIP] = true, true
	}
	want := map[string]bool{}
	var add, remove []string
	for _, ip := range nw.Reserved {
		want[ip] = true
		if ext, err := pool.IsReserved(ip, true); err != nil {
			d.bad(nw.KeyLine("reserved"), "network %s: reserved address %s: %v", nw.Name, ip, err)
			return
		} else if !ext {
			add = append(add, ip)
		}
	}
	for _, ip := range pool.ExternalAddrs() {
		if !want[ip] && !own[ip] && !pool.IsNetworkOrBroadcast(ip) {
			remove = append(remove, ip)
		}
	}
	if len(add)+len(remove) == 0 {
		return
	}
	name := nw.Name
	op := &Op{Desc: "network modify " + name, Object: "network " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.NetworkModify(env, playbooks.NetworkModifyArgs{Name: name, AddReserved: add, RemoveReserved: remove})
	}}
	if d.add(phNetwork, nw.KeyLine("reserved"), op) {
		c := d.change("~", plan.KindNetwork, name)
		var parts []string
		for _, ip := range add {
			parts = append(parts, "+"+ip)
		}
		for _, ip := range remove {
			parts = append(parts, "-"+ip)
		}
		c.Details = append(c.Details, "reserved: "+strings.Join(parts, " "))
	}
}

// connections makes the groups the network is connected to the declared
// ones (when declared): a connection whose NIC parameters differ is made
// again (refused while NICs use it, as Ganeti refuses the disconnect).
func (d *differ) connections(nw *Network) {
	if nw.Connect == nil {
		return
	}
	name, line := nw.Name, nw.KeyLine("connect")
	st := d.sim.State
	want := map[string]Connection{}
	for _, c := range nw.Connect {
		want[c.Group] = c
	}
	disconnect := func(group, why string) {
		op := &Op{Desc: "network disconnect " + name + " " + group, Object: "network " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.NetworkDisconnect(env, playbooks.NetworkDisconnectArgs{Network: name, Groups: []string{group}})
		}}
		if d.add(phNetwork, line, op) {
			c := d.change("~", plan.KindNetwork, name)
			c.Details = append(c.Details, fmt.Sprintf("disconnect from %s%s", group, why))
		}
	}
	for _, group := range playbooks.NetworkGroups(st, name) {
		if _, ok := want[group]; !ok {
			disconnect(group, "")
		}
	}
	for _, c := range nw.Connect {
		if _, ok := st.NodeGroups[c.Group]; !ok {
			d.bad(line, "network %s: unknown node group %q", name, c.Group)
			continue
		}
		args := playbooks.NetworkConnectArgs{Network: name, Groups: []string{c.Group}, Mode: c.Mode, Link: c.Link, VLAN: c.VLAN}
		wantParams, err := playbooks.ConnectParams(st, args)
		if err != nil {
			d.bad(line, "network %s, group %s: %v", name, c.Group, err)
			continue
		}
		have, connected := st.NodeGroups[c.Group].Networks[name]
		if connected && norm(have["mode"]) == norm(wantParams["mode"]) && norm(have["link"]) == norm(wantParams["link"]) && norm(have["vlan"]) == norm(wantParams["vlan"]) {
			continue
		}
		if connected {
			disconnect(c.Group, fmt.Sprintf(" (its NIC parameters change from %s/%s/%s)", norm(have["mode"]), norm(have["link"]), norm(have["vlan"])))
		}
		op := &Op{Desc: "network connect " + name + " " + c.Group, Object: "network " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.NetworkConnect(env, args)
		}}
		if d.add(phNetwork, line, op) {
			ch := d.change("~", plan.KindNetwork, name)
			ch.Details = append(ch.Details, fmt.Sprintf("connect to %s (%s, %s, %s)", c.Group, norm(wantParams["mode"]), norm(wantParams["link"]), norm(wantParams["vlan"])))
		}
	}
}

// nicNetworks moves declared NICs of an existing instance into the network
// the file names, and gives them the declared address (ip = "pool": any
// of the network's, so a NIC already holding one is left alone).
func (d *differ) nicNetworks(in *Instance, cur *statefile.Instance) {
	name := in.Name
	var mods []playbooks.NICMod
	var details []string
	for i, want := range in.NICs {
		if i >= len(cur.NICs) || want.Network == "" {
			continue
		}
		have := cur.NICs[i]
		spec := playbooks.NICSpec{}
		wantNet := noneToEmpty(want.Network)
		if wantNet != have.Network {
			spec.Network = want.Network
			spec.IP = want.IP
			if spec.IP == "" {
				spec.IP = playbooks.None
			}
		} else if want.IP != "" && !strings.EqualFold(want.IP, playbooks.IPPool) && noneToEmpty(want.IP) != have.IP {
			spec.IP = want.IP
		} else if strings.EqualFold(want.IP, playbooks.IPPool) && have.IP == "" {
			spec.IP = playbooks.IPPool
		} else {
			continue
		}
		mods = append(mods, playbooks.NICMod{Op: "modify", Index: i, Spec: spec})
		details = append(details, fmt.Sprintf("nic %d: network %s -> %s, ip %s -> %s", i, noneIfEmpty(have.Network), noneIfEmpty(wantNet), noneIfEmpty(have.IP), noneIfEmpty(noneToEmpty(want.IP))))
	}
	if len(mods) == 0 {
		return
	}
	op := &Op{Desc: "instance modify --net " + name, Object: "instance " + name, Instances: []string{name},
		Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.InstanceModify(env, playbooks.ModifyInstanceArgs{Name: name, NICs: mods})
		}}
	if d.add(phModify, in.KeyLine("nic"), op) {
		c := d.change("~", "instance", name)
		c.Details = append(c.Details, details...)
	}
}

func noneToEmpty(s string) string {
	if strings.EqualFold(s, playbooks.None) {
		return ""
	}
	return s
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// group makes a declared group exist with its policy and tags, then puts
// its declared nodes in it (one assign-nodes; split mirrors are refused,
// as the command refuses them without --force).
func (d *differ) group(g *Group) {
	st := d.sim.State
	name := g.Name
	cur := st.NodeGroups[name]
	if cur == nil {
		args := playbooks.GroupArgs{Name: name, AllocPolicy: g.AllocPolicy}
		op := &Op{Desc: "group add " + name, Object: "group " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.GroupAdd(env, args)
		}}
		if !d.add(phGroup, g.Line, op) {
			return
		}
		c := d.change("+", "group", name)
		c.Details = append(c.Details, "alloc_policy "+noneIfEmpty(pickStr(g.AllocPolicy, "preferred")))
	} else if g.AllocPolicy != "" && g.AllocPolicy != cur.AllocPolicy {
		args := playbooks.GroupArgs{Name: name, AllocPolicy: g.AllocPolicy}
		op := &Op{Desc: "group modify " + name, Object: "group " + name, Plan: func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.GroupModify(env, args)
		}}
		if d.add(phGroup, g.KeyLine("alloc_policy"), op) {
			c := d.change("~", "group", name)
			c.Details = append(c.Details, fmt.Sprintf("alloc_policy: %s -> %s", cur.AllocPolicy, g.AllocPolicy))
		}
	}
	if g.Tags != nil {
		d.tags(phGroup, g.KeyLine("tags"), plan.KindNodeGroup, name, d.sim.State.NodeGroups[name].Tags, g.Tags)
	}
	var move []string
	for _, n := range g.Nodes {
		node, ok := d.sim.State.Nodes[n]
		if !ok {
			d.bad(g.KeyLine("nodes"), "group %s: node %s is not in the cluster", name, n)
			return
		}
		if node.Group != name {
			move = append(move, n)
		}
	}
	if len(move) == 0 {
		return
	}
	args := playbooks.AssignArgs{Group: name, Nodes: move}
	op := &Op{Desc: "group assign-nodes " + name + " " + strings.Join(move, " "), Object: "group " + name,
		Plan: func(env playbooks.Env) (*plan.Plan, error) { return playbooks.GroupAssignNodes(env, args) }}
	if d.add(phGroup, g.KeyLine("nodes"), op) {
		c := d.change("~", "group", name)
		c.Details = append(c.Details, "nodes: +"+strings.Join(move, " +"))
	}
}

func pickStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
