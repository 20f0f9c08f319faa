package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// BurninCmd is Ganeti's burnin: it exercises the cluster with a whole
// life of the named (new) instances, each operation a job, and removes
// them at the end, whatever happened.
type BurninCmd struct {
	OS            string   `short:"o" name:"os" required:"" help:"OS to use during burnin."`
	Template      string   `short:"t" name:"disk-template" default:"drbd" enum:"diskless,file,sharedfile,plain,drbd,rbd" help:"Disk template."`
	Nodes         string   `short:"n" name:"nodes" help:"Comma separated list of nodes to perform the burnin on (default: all nodes)."`
	IAllocator    string   `short:"I" name:"iallocator" help:"Accepted for compatibility: nodes are spread as with -n."`
	DiskSize      string   `name:"disk-size" default:"1G" help:"Disk size (determines disk count): size,size,..."`
	DiskGrowth    string   `name:"disk-growth" default:"128m" help:"Disk growth, one per disk (0: no growth)."`
	MemSize       string   `name:"mem-size" help:"Memory size (sets min and max memory)."`
	MaxMemSize    string   `name:"maxmem-size" default:"256" help:"Max memory size."`
	MinMemSize    string   `name:"minmem-size" default:"128" help:"Min memory size."`
	VCPUs         int      `name:"vcpu-count" default:"3" help:"VCPU count."`
	Hypervisor    string   `short:"H" name:"hypervisor" help:"HV[:k=v,...] for the instances."`
	OSParams      string   `short:"O" name:"os-parameters" help:"OS parameters key=value,..."`
	NoNameCheck   bool     `name:"no-name-check"`
	NoIPCheck     bool     `name:"no-ip-check"`
	EarlyRelease  bool     `name:"early-release" help:"Replace disks with --early-release."`
	NoReplace1    bool     `name:"no-replace1" help:"Skip disk replacement with the same secondary."`
	NoReplace2    bool     `name:"no-replace2" help:"Skip disk replacement with a different secondary."`
	NoFailover    bool     `name:"no-failover" help:"Skip instance failovers."`
	NoMigrate     bool     `name:"no-migrate" help:"Skip instance live migration."`
	NoMove        bool     `name:"no-move" help:"Skip instance moves."`
	NoImpExp      bool     `name:"no-importexport" help:"Skip instance export/import."`
	NoStartStop   bool     `name:"no-startstop" help:"Skip instance stop/start."`
	NoReinstall   bool     `name:"no-reinstall" help:"Skip instance reinstall."`
	NoReboot      bool     `name:"no-reboot" help:"Skip instance reboot."`
	NoRenameSame  bool     `name:"no-renamesame" help:"Accepted for compatibility (a rename to the same name is refused, so never run)."`
	RebootTypes   string   `name:"reboot-types" default:"soft,hard,full" help:"The reboot types to run."`
	NoActivate    bool     `name:"no-activate-disks" help:"Skip disk activation/deactivation."`
	NoAddDisks    bool     `name:"no-add-disks" help:"Skip disk addition/removal."`
	NoAddNICs     bool     `name:"no-add-nics" help:"Skip NIC addition/removal."`
	NoNICs        bool     `name:"no-nics" help:"No network interfaces."`
	NoConfd       bool     `name:"no-confd" help:"Accepted for compatibility (there is no confd)."`
	Rename        string   `name:"rename" help:"One unused instance name, taken to start the renaming sequence."`
	Parallel      bool     `short:"p" name:"parallel-ops" help:"Run the instances' operations at once (Ganeti's -p/--parallel)."`
	NetTimeout    int      `name:"net-timeout" default:"15" help:"Accepted for compatibility."`
	HTTPCheck     bool     `short:"C" name:"http-check" help:"Not supported: instances are checked through their hypervisor."`
	KeepInstances bool     `short:"K" name:"keep-instances" help:"Leave the instances on the cluster after burnin."`
	Instances     []string `arg:"" name:"instance" help:"Names of new instances (existing ones are refused)."`
}

// Help is shown by --help.
func (c *BurninCmd) Help() string {
	return `The sequence: create, stop/start, runtime memory, replace-disks (-p, -s; then -n, with
more than two nodes), grow-disk, failover, migrate (and --cleanup), move, export and import,
reinstall, reboot, add/remove NICs, activate/deactivate disks, add/remove disks, rename (with
--rename), and finally removal. Steps that do not apply to the template are skipped, as in
Ganeti. Ganeti's --parallel is -p here (--parallel N bounds node sessions).`
}

func (c *BurninCmd) Run(ctx context.Context, g *Globals) error {
	if c.HTTPCheck {
		return invalid("--http-check is not supported: instances are checked through their hypervisor")
	}
	if len(c.Instances) == 0 {
		return invalid("give the names of the instances to create")
	}
	for _, n := range append(slices.Clone(c.Instances), c.Rename) {
		if n == "" {
			continue
		}
		if err := inventory.ValidHostname(n); err != nil {
			return invalid("instance name: %v", err)
		}
	}
	sizes, err := parseSizes(c.DiskSize)
	if err != nil {
		return err
	}
	growth, err := parseSizes(c.DiskGrowth)
	if err != nil {
		return err
	}
	if c.Template == "diskless" {
		sizes, growth, c.NoAddDisks = nil, nil, true
	} else if len(growth) != len(sizes) {
		return invalid("Wrong disk sizes/growth combination")
	}
	maxmem, minmem := c.MaxMemSize, c.MinMemSize
	if c.MemSize != "" {
		maxmem, minmem = c.MemSize, c.MemSize
	}
	maxMiB, err := parseMiB(maxmem)
	if err != nil {
		return err
	}
	minMiB, err := parseMiB(minmem)
	if err != nil {
		return err
	}
	if minMiB > maxMiB {
		return invalid("Maximum memory lower than minimum memory")
	}
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	for _, n := range append(slices.Clone(c.Instances), c.Rename) {
		if _, exists := st.Instances[n]; exists && n != "" {
			return &playbooks.PrereqError{Type: playbooks.ErrExists, Msg: fmt.Sprintf("Instance '%s' already exists: burnin only takes new names (it removes its instances at the end)", n)}
		}
	}
	nodes := st.NodeNames()
	if c.Nodes != "" {
		nodes = splitList(c.Nodes)
	}
	var usable []string
	for _, n := range nodes {
		node, ok := st.Nodes[n]
		if !ok {
			return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Node '%s' not known", n)}
		}
		if !node.Offline && !node.Drained && node.VMCapable {
			usable = append(usable, n)
		}
	}
	if len(usable) == 0 {
		return &playbooks.PrereqError{Type: playbooks.ErrWrongState, Msg: "no usable node (online, not drained, vm-capable)"}
	}
	mirrored := c.Template == storage.DRBD
	if len(usable) == 1 && mirrored {
		return invalid("When one node is available/selected the disk template must be one of diskless, file, sharedfile, plain, rbd")
	}
	b := &burner{a: a, c: c, nodes: usable, sizes: sizes, growth: growth, maxmem: maxMiB, minmem: minMiB}
	b.note("- Testing global parameters")
	err = b.burn(ctx)
	if !c.KeepInstances {
		if rerr := b.removeAll(ctx); rerr != nil && err == nil {
			err = rerr
		}
	}
	res := view.BurninResult{Instances: c.Instances, Operations: int(b.ops.Load()), Passed: err == nil, Kept: c.KeepInstances}
	if err != nil {
		res.Error = err.Error()
		_ = a.pr.Result(res)
		return err
	}
	return a.pr.Result(res)
}

// burner runs one burnin.
type burner struct {
	a             *app
	c             *BurninCmd
	nodes         []string
	sizes, growth []int64
	maxmem        int64
	minmem        int64
	ops           atomic.Int64
	mu            sync.Mutex
	created       []string // instances that exist now (renamed ones by their current name)
}

func (b *burner) note(format string, args ...any) { b.a.pr.Note(format, args...) }

// job runs one operation as a job, counting it.
func (b *burner) job(ctx context.Context, what string, req playbooks.Request) error {
	b.note("    %s", what)
	e := *b.a.eng
	e.Reason = "burnin: " + what
	if !b.a.g.Verbose {
		e.Report = quietReporter{e.Report}
	}
	b.ops.Add(1)
	if _, err := e.Run(ctx, req); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// batch runs fn for every instance: one after the other, or at once with -p.
func (b *burner) batch(ctx context.Context, title string, fn func(i int, name string) error) error {
	b.note("- %s", title)
	names := b.current()
	if !b.c.Parallel {
		for i, n := range names {
			b.note("  * instance %s", n)
			if err := fn(i, n); err != nil {
				return err
			}
		}
		return nil
	}
	wp := pool.New().WithErrors().WithMaxGoroutines(max(1, len(names)))
	for i, n := range names {
		wp.Go(func() error { return fn(i, n) })
	}
	return wp.Wait()
}

func (b *burner) current() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.created)
}

func (b *burner) state(ctx context.Context) (*statefile.State, error) { return b.a.readState(ctx) }

// checkRunning checks that the instances run where the state says (the
// hypervisors' view), as burnin checks instances are alive after a step.
func (b *burner) checkRunning(ctx context.Context) error {
	st, err := b.state(ctx)
	if err != nil {
		return err
	}
	var nodes []string
	for _, n := range b.current() {
		if i := st.Instances[n]; i != nil && !slices.Contains(nodes, i.PrimaryNode) {
			nodes = append(nodes, i.PrimaryNode)
		}
	}
	facts := b.a.gather(ctx, st, nodes, playbooks.PartRunning)
	var down []string
	for _, n := range b.current() {
		i := st.Instances[n]
		if i == nil || i.AdminState != "up" {
			continue
		}
		if f := facts[i.PrimaryNode]; f == nil || f.Running == nil {
			down = append(down, n+" (node "+i.PrimaryNode+" did not answer)")
		} else if _, ok := f.Running[n]; !ok {
			down = append(down, n)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("instance(s) not running: %s", strings.Join(down, ", "))
	}
	return nil
}

func (b *burner) burn(ctx context.Context) error {
	c := b.c
	t := c.Template
	mirrored := t == storage.DRBD
	steps := []struct {
		on    bool
		title string
		fn    func(ctx context.Context) error
		alive bool // check the instances run afterwards
	}{
		{true, "Creating instances", b.create, true},
		{!c.NoStartStop, "Stopping and starting instances", b.stopStart, true},
		{b.minmem < b.maxmem, "Setting instance runtime memory", b.runtimeMemory, true},
		{!c.NoReplace1 && mirrored, "Replacing disks on the same nodes", b.replace1, true},
		{!c.NoReplace2 && mirrored && len(b.nodes) > 2, "Changing the secondary node", b.replace2, true},
		{t != "diskless" && slices.ContainsFunc(b.growth, func(g int64) bool { return g > 0 }), "Growing disks", b.grow, true},
		{!c.NoFailover && (mirrored || t == storage.SharedFile || t == storage.RBD) && len(b.nodes) > 1, "Failing over instances", b.failover, true},
		{!c.NoMigrate && (mirrored || t == storage.SharedFile || t == storage.RBD) && len(b.nodes) > 1, "Migrating instances", b.migrate, true},
		{!c.NoMove && len(b.nodes) > 1 && (t == storage.Plain || t == storage.File), "Moving instances", b.move, true},
		{!c.NoImpExp && t != "diskless" && len(b.nodes) > 1, "Exporting and re-importing instances", b.importExport, true},
		{!c.NoReinstall, "Reinstalling instances", b.reinstall, true},
		{!c.NoReboot, "Rebooting instances", b.reboot, true},
		{!c.NoAddNICs && !c.NoNICs, "Adding and removing NICs", b.addRemoveNICs, true},
		{!c.NoActivate && t != "diskless", "Activating/deactivating disks", b.activateDisks, true},
		{!c.NoAddDisks, "Adding and removing disks", b.addRemoveDisks, true},
		{c.Rename != "", "Renaming instances", b.rename, true},
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		if err := s.fn(ctx); err != nil {
			b.note("Error detected: %v", err)
			return err
		}
		if s.alive {
			if err := b.checkRunning(ctx); err != nil {
				return fmt.Errorf("after %q: %w", s.title, err)
			}
		}
	}
	return nil
}

// nodeAt is the node i places after the first of the spread (Ganeti's
// cycle over the nodes).
func (b *burner) nodeAt(i int) string { return b.nodes[i%len(b.nodes)] }

// after is the node that follows n in the burnin's list.
func (b *burner) after(n string, k int) string {
	i := slices.Index(b.nodes, n)
	if i < 0 {
		i = 0
	}
	return b.nodes[(i+k)%len(b.nodes)]
}

func (b *burner) addCmd(name, nodes string) InstanceAddCmd {
	c := b.c
	add := InstanceAddCmd{Node: nodes, OS: c.OS, Template: c.Template, Backend: fmt.Sprintf("maxmem=%d,minmem=%d,vcpus=%d", b.maxmem, b.minmem, c.VCPUs),
		Hypervisor: c.Hypervisor, OSParams: c.OSParams, NoNICs: c.NoNICs, NoNameCheck: c.NoNameCheck, NoIPCheck: c.NoIPCheck, Name: name}
	for i, s := range b.sizes {
		add.Disks = append(add.Disks, fmt.Sprintf("%d:size=%dM", i, s))
	}
	return add
}

func (b *burner) create(ctx context.Context) error {
	b.note("- Creating instances")
	run := func(i int, name string) error {
		nodes := b.nodeAt(i)
		if b.c.Template == storage.DRBD {
			nodes += ":" + b.nodeAt(i+1)
		}
		b.note("  * instance %s on %s", name, strings.ReplaceAll(nodes, ":", ", "))
		add := b.addCmd(name, nodes)
		args, err := add.args()
		if err != nil {
			return err
		}
		if err := b.job(ctx, "create "+name, playbooks.InstanceAddOp.With(args)); err != nil {
			return err
		}
		b.mu.Lock()
		b.created = append(b.created, name)
		b.mu.Unlock()
		return nil
	}
	if !b.c.Parallel {
		for i, n := range b.c.Instances {
			if err := run(i, n); err != nil {
				return err
			}
		}
		return nil
	}
	wp := pool.New().WithErrors()
	for i, n := range b.c.Instances {
		wp.Go(func() error { return run(i, n) })
	}
	err := wp.Wait()
	b.mu.Lock()
	slices.Sort(b.created)
	b.mu.Unlock()
	return err
}

func (b *burner) shutdown(ctx context.Context, name string) error {
	return b.job(ctx, "shutdown "+name, playbooks.InstanceShutdownOp.With(playbooks.ShutdownArgs{Name: name, Timeout: 10 * time.Second}))
}

func (b *burner) startup(ctx context.Context, name string) error {
	return b.job(ctx, "startup "+name, playbooks.InstanceStartupOp.With(name))
}

func (b *burner) stopStart(ctx context.Context) error {
	return b.batch(ctx, "Stopping and starting instances", func(_ int, n string) error {
		if err := b.shutdown(ctx, n); err != nil {
			return err
		}
		return b.startup(ctx, n)
	})
}

func (b *burner) runtimeMemory(ctx context.Context) error {
	return b.batch(ctx, "Setting instance runtime memory", func(_ int, n string) error {
		return b.job(ctx, fmt.Sprintf("runtime memory of %s to %d MiB", n, b.minmem),
			playbooks.InstanceModifyOp.With(playbooks.ModifyInstanceArgs{Name: n, RuntimeMemory: b.minmem}))
	})
}

func (b *burner) replace1(ctx context.Context) error {
	return b.batch(ctx, "Replacing disks on the same nodes", func(_ int, n string) error {
		for _, mode := range []string{"primary", "secondary"} {
			if err := b.job(ctx, "replace-disks ("+mode+") of "+n, playbooks.InstanceReplaceDisksOp.With(playbooks.ReplaceDisksArgs{
				Name: n, Mode: mode, Timestamp: time.Now().Unix(), EarlyRelease: b.c.EarlyRelease})); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *burner) replace2(ctx context.Context) error {
	return b.batch(ctx, "Changing the secondary node", func(_ int, n string) error {
		st, err := b.state(ctx)
		if err != nil {
			return err
		}
		inst := st.Instances[n]
		sec := inst.SecondaryNodes()[0]
		target := ""
		for k := 1; k < len(b.nodes); k++ {
			if c := b.after(sec, k); c != inst.PrimaryNode && c != sec {
				target = c
				break
			}
		}
		return b.job(ctx, "replace-disks -n "+target+" of "+n, playbooks.InstanceReplaceDisksOp.With(playbooks.ReplaceDisksArgs{
			Name: n, Mode: "new", NewNode: target, Timestamp: time.Now().Unix(), EarlyRelease: b.c.EarlyRelease}))
	})
}

func (b *burner) grow(ctx context.Context) error {
	return b.batch(ctx, "Growing disks", func(_ int, n string) error {
		for idx, g := range b.growth {
			if g <= 0 {
				continue
			}
			if err := b.job(ctx, fmt.Sprintf("grow disk %d of %s by %d MiB", idx, n, g),
				playbooks.GrowDiskOp.With(playbooks.GrowDiskArgs{Name: n, Disk: idx, Amount: g})); err != nil {
				return err
			}
		}
		return nil
	})
}

// otherNode is a node for shared storage to move to: the next one.
func (b *burner) otherNode(ctx context.Context, name string) (string, error) {
	st, err := b.state(ctx)
	if err != nil {
		return "", err
	}
	return b.after(st.Instances[name].PrimaryNode, 1), nil
}

func (b *burner) failover(ctx context.Context) error {
	return b.batch(ctx, "Failing over instances", func(_ int, n string) error {
		target := ""
		if b.c.Template != storage.DRBD {
			var err error
			if target, err = b.otherNode(ctx, n); err != nil {
				return err
			}
		}
		return b.job(ctx, "failover "+n, playbooks.InstanceFailoverOp.With(playbooks.FailoverArgs{Name: n, Target: target, ShutdownTimeout: 10 * time.Second}))
	})
}

func (b *burner) migrate(ctx context.Context) error {
	return b.batch(ctx, "Migrating instances", func(_ int, n string) error {
		target := ""
		if b.c.Template != storage.DRBD {
			var err error
			if target, err = b.otherNode(ctx, n); err != nil {
				return err
			}
		}
		if err := b.job(ctx, "migrate "+n, playbooks.InstanceMigrateOp.With(playbooks.MigrateArgs{Name: n, Target: target})); err != nil {
			return err
		}
		return b.job(ctx, "migrate --cleanup "+n, playbooks.InstanceMigrateOp.With(playbooks.MigrateArgs{Name: n, Cleanup: true}))
	})
}

func (b *burner) move(ctx context.Context) error {
	return b.batch(ctx, "Moving instances", func(_ int, n string) error {
		target, err := b.otherNode(ctx, n)
		if err != nil {
			return err
		}
		return b.job(ctx, "move "+n+" to "+target, playbooks.InstanceMoveOp.With(playbooks.MoveArgs{Name: n, Target: target, ShutdownTimeout: 10 * time.Second}))
	})
}

func (b *burner) importExport(ctx context.Context) error {
	return b.batch(ctx, "Exporting and re-importing instances", func(_ int, n string) error {
		st, err := b.state(ctx)
		if err != nil {
			return err
		}
		inst := st.Instances[n]
		nodes := inst.PrimaryNode
		if s := inst.SecondaryNodes(); b.c.Template == storage.DRBD && len(s) > 0 {
			nodes += ":" + s[0]
		}
		enode := b.after(inst.PrimaryNode, 1)
		if err := b.job(ctx, "export "+n+" to "+enode, playbooks.ExportOp.With(playbooks.ExportArgs{Name: n, Target: enode,
			ShutdownTimeout: 10 * time.Second, Timestamp: time.Now().Unix(), RemoveInstance: true})); err != nil {
			return err
		}
		imp := BackupImportCmd{Node: nodes, SrcNode: enode, NoNameCheck: b.c.NoNameCheck, NoIPCheck: b.c.NoIPCheck, NoNICs: b.c.NoNICs, Name: n}
		req, err := imp.request(ctx, b.a)
		if err != nil {
			return err
		}
		if err := b.job(ctx, "import "+n+" from "+enode, req); err != nil {
			return err
		}
		b.ops.Add(1)
		dir := playbooks.ExportDir + "/" + n
		for _, r := range b.a.readOnly(ctx, []plan.Step{{Node: enode, Action: plan.Remove, Argv: []string{"rm", "-rf", "--", dir, dir + ".new"}}}) {
			if r.Err != nil {
				return fmt.Errorf("remove the export of %s on %s: %w", n, enode, r.Err)
			}
		}
		return nil
	})
}

func (b *burner) reinstall(ctx context.Context) error {
	return b.batch(ctx, "Reinstalling instances", func(_ int, n string) error {
		if err := b.shutdown(ctx, n); err != nil {
			return err
		}
		if err := b.job(ctx, "reinstall "+n, playbooks.ReinstallOp.With(playbooks.ReinstallArgs{Name: n})); err != nil {
			return err
		}
		if err := b.job(ctx, "reinstall "+n+" with OS "+b.c.OS, playbooks.ReinstallOp.With(playbooks.ReinstallArgs{Name: n, OS: b.c.OS})); err != nil {
			return err
		}
		return b.startup(ctx, n)
	})
}

func (b *burner) reboot(ctx context.Context) error {
	types := splitList(b.c.RebootTypes)
	for _, t := range types {
		if t != "soft" && t != "hard" && t != "full" {
			return invalid("--reboot-types: %q is not soft, hard or full", t)
		}
	}
	return b.batch(ctx, "Rebooting instances", func(_ int, n string) error {
		for _, t := range types {
			if err := b.job(ctx, "reboot ("+t+") "+n, playbooks.InstanceRebootOp.With(playbooks.RebootArgs{Name: n, Type: t, ShutdownTimeout: 10 * time.Second})); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *burner) addRemoveNICs(ctx context.Context) error {
	return b.batch(ctx, "Adding and removing NICs", func(_ int, n string) error {
		if err := b.job(ctx, "add a NIC to "+n, playbooks.InstanceModifyOp.With(playbooks.ModifyInstanceArgs{Name: n,
			NICs: []playbooks.NICMod{{Op: "add", Index: -1}}})); err != nil {
			return err
		}
		return b.job(ctx, "remove the last NIC of "+n, playbooks.InstanceModifyOp.With(playbooks.ModifyInstanceArgs{Name: n,
			NICs: []playbooks.NICMod{{Op: "remove", Index: -1}}}))
	})
}

func (b *burner) activateDisks(ctx context.Context) error {
	return b.batch(ctx, "Activating/deactivating disks", func(_ int, n string) error {
		act := playbooks.ActivateDisksOp.With(playbooks.ActivateArgs{Name: n})
		if err := b.job(ctx, "activate disks of "+n+" (online)", act); err != nil {
			return err
		}
		if err := b.shutdown(ctx, n); err != nil {
			return err
		}
		if err := b.job(ctx, "activate disks of "+n+" (offline)", act); err != nil {
			return err
		}
		if err := b.job(ctx, "deactivate disks of "+n, playbooks.DeactivateDisksOp.With(playbooks.DeactivateArgs{Name: n})); err != nil {
			return err
		}
		return b.startup(ctx, n)
	})
}

func (b *burner) addRemoveDisks(ctx context.Context) error {
	return b.batch(ctx, "Adding and removing disks", func(_ int, n string) error {
		if err := b.shutdown(ctx, n); err != nil {
			return err
		}
		spec := storage.Spec{Size: b.sizes[0], Mode: "rw"}
		if err := b.job(ctx, "add a disk to "+n, playbooks.InstanceModifyOp.With(playbooks.ModifyInstanceArgs{Name: n,
			Disks: []playbooks.DiskMod{{Op: "add", Index: -1, Spec: spec}}})); err != nil {
			return err
		}
		if err := b.job(ctx, "remove the last disk of "+n, playbooks.InstanceModifyOp.With(playbooks.ModifyInstanceArgs{Name: n,
			Disks: []playbooks.DiskMod{{Op: "remove", Index: -1}}})); err != nil {
			return err
		}
		return b.startup(ctx, n)
	})
}

// rename renames each instance to --rename and back; not in parallel: the
// new name is one.
func (b *burner) rename(ctx context.Context) error {
	b.note("- Renaming instances")
	to := b.c.Rename
	for _, n := range b.current() {
		b.note("  * instance %s", n)
		for _, pair := range [][2]string{{n, to}, {to, n}} {
			if err := b.shutdown(ctx, pair[0]); err != nil {
				return err
			}
			if err := b.job(ctx, "rename "+pair[0]+" to "+pair[1], playbooks.RenameOp.With(playbooks.RenameArgs{Name: pair[0], NewName: pair[1]})); err != nil {
				b.renamed(pair[0], pair[1], false)
				return err
			}
			b.renamed(pair[0], pair[1], true)
			if err := b.startup(ctx, pair[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *burner) renamed(from, to string, done bool) {
	if !done {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.created, from); i >= 0 {
		b.created[i] = to
	}
}

// removeAll removes the burnin's instances, whatever state they are in.
func (b *burner) removeAll(ctx context.Context) error {
	b.note("- Removing instances")
	ctx = context.WithoutCancel(ctx)
	st, err := b.state(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range b.current() {
		if _, ok := st.Instances[n]; !ok {
			continue
		}
		b.note("  * instance %s", n)
		errs = append(errs, b.job(ctx, "remove "+n, playbooks.InstanceRemoveOp.With(playbooks.RemoveArgs{Name: n, ShutdownTimeout: 10 * time.Second, IgnoreFailures: true})))
	}
	return errors.Join(errs...)
}

// parseSizes reads a comma-separated list of sizes (MiB without a unit).
func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, v := range splitList(s) {
		n, err := parseMiB(v)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// parseMiB reads a size as Ganeti does (512, 1G, 128m).
func parseMiB(s string) (int64, error) {
	n, err := inventory.ParseSize(s)
	if err != nil {
		return 0, invalid("%v", err)
	}
	return n, nil
}

// burninArgs reads Ganeti's burnin --parallel (a switch) as -p: ganetictl's
// own --parallel takes a number (the bound on node sessions).
func burninArgs(args []string) []string {
	if len(args) == 0 || args[0] != "burnin" {
		return args
	}
	out := slices.Clone(args)
	for i, a := range out {
		if a != "--parallel" {
			continue
		}
		if i+1 < len(out) {
			if _, err := strconv.Atoi(out[i+1]); err == nil {
				continue
			}
		}
		out[i] = "-p"
	}
	return out
}
