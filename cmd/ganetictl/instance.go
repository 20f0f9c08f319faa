package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/storage"
)

// InstanceCmd is gnt-instance.
type InstanceCmd struct {
	Add             InstanceAddCmd          `cmd:"" help:"Create an instance."`
	BatchCreate     InstanceBatchCmd        `cmd:"" name:"batch-create" help:"Create instances from a JSON specification file."`
	Remove          InstanceRemoveCmd       `cmd:"" help:"Remove an instance and its disks."`
	Startup         InstanceStartupCmd      `cmd:"" aliases:"start" help:"Start an instance."`
	Shutdown        InstanceShutdownCmd     `cmd:"" aliases:"stop" help:"Stop an instance."`
	Reboot          InstanceRebootCmd       `cmd:"" help:"Reboot an instance."`
	List            InstanceListCmd         `cmd:"" help:"List instances."`
	ListFields      InstanceFieldsCmd       `cmd:"" name:"list-fields" help:"List the fields instance list knows."`
	Info            InstanceInfoCmd         `cmd:"" help:"Show instance details."`
	Modify          InstanceModifyCmd       `cmd:"" help:"Change an instance's parameters, disks and NICs."`
	Rename          InstanceRenameCmd       `cmd:"" help:"Rename a stopped instance."`
	Reinstall       InstanceReinstallCmd    `cmd:"" help:"Reinstall a stopped instance's OS."`
	GrowDisk        InstanceGrowDiskCmd     `cmd:"" name:"grow-disk" help:"Grow a disk of an instance."`
	ActivateDisks   InstanceActivateCmd     `cmd:"" name:"activate-disks" help:"Activate an instance's disks and print their paths."`
	DeactivateDisks InstanceDeactivateCmd   `cmd:"" name:"deactivate-disks" help:"Deactivate an instance's disks."`
	RecreateDisks   InstanceRecreateCmd     `cmd:"" name:"recreate-disks" help:"Recreate an instance's (lost) disks, empty."`
	Console         InstanceConsoleCmd      `cmd:"" help:"Connect to an instance's serial console."`
	Failover        InstanceFailoverCmd     `cmd:"" help:"Move an instance to its secondary (or -n for shared storage) by restarting it there."`
	Migrate         InstanceMigrateCmd      `cmd:"" help:"Live-migrate an instance to its secondary (or -n for shared storage)."`
	Move            InstanceMoveCmd         `cmd:"" help:"Move a plain or file instance to another node by copying its disks."`
	ReplaceDisks    InstanceReplaceDisksCmd `cmd:"" name:"replace-disks" help:"Replace a drbd instance's disks (-p, -s, -n NODE, -a)."`
	ChangeGroup     InstanceChangeGroupCmd  `cmd:"" name:"change-group" help:"Move instances to another node group (instance_alloc.go)."`
	AddTags         TagsAddCmd              `cmd:"" name:"add-tags" help:"Add tags to an instance."`
	RemoveTags      TagsRemoveCmd           `cmd:"" name:"remove-tags" help:"Remove tags from an instance."`
	ListTags        TagsListCmd             `cmd:"" name:"list-tags" help:"List an instance's tags."`
}

// InstanceAddCmd is gnt-instance add.
type InstanceAddCmd struct {
	Node        string   `short:"n" name:"node" help:"Primary node (PNODE[:SNODE]); without it the allocator chooses."`
	IAllocator  string   `short:"I" name:"iallocator" help:"Choose the nodes with this iallocator (hail, default, .: ganetictl's own)."`
	NodeGroup   string   `short:"g" name:"node-group" help:"The allocator places the instance in this group."`
	OS          string   `short:"o" name:"os-type" help:"OS[+variant] (see os list)."`
	Template    string   `short:"t" name:"disk-template" help:"diskless, file, sharedfile, plain, drbd, rbd (default: the cluster's first enabled)."`
	Size        string   `short:"s" name:"os-size" help:"Size of the single disk (e.g. 10G)."`
	Disks       []string `name:"disk" sep:"none" help:"N:size=S[,vg=V][,mode=rw|ro] or N:adopt=LV (repeatable)."`
	Backend     string   `short:"B" name:"backend-parameters" help:"maxmem=,minmem=,memory=,vcpus=,auto_balance=..."`
	Hypervisor  string   `short:"H" name:"hypervisor-parameters" help:"HV[:k=v,...]"`
	OSParams    string   `name:"os-parameters" short:"O"`
	NICs        []string `name:"net" sep:"none" help:"N:ip=IP|pool|none,network=NET,mac=,link=,mode=,vlan=,name= (repeatable); default one NIC."`
	NoNICs      bool     `name:"no-nics"`
	NoStart     bool     `name:"no-start"`
	Tags        string   `name:"tags" help:"Comma-separated tags of the new instance."`
	NoInstall   bool     `name:"no-install"`
	NoNameCheck bool     `name:"no-name-check"`
	NoIPCheck   bool     `name:"no-ip-check"`
	// NoWaitForSync and IgnoreIPolicy are Ganeti's options of the same names.
	NoWaitForSync bool `name:"no-wait-for-sync" help:"Do not wait for a new mirror to sync."`
	IgnoreIPolicy bool `name:"ignore-ipolicy" help:"Create the instance even where it breaks the instance policy."`
	// NoConflictsCheck lets a NIC take an externally reserved address of
	// its network, or an address of a network it is not in.
	NoConflictsCheck bool   `name:"no-conflicts-check" help:"Do not check NIC addresses against the networks' reservations and subnets."`
	Name             string `arg:""`
}

func (c *InstanceAddCmd) Run(ctx context.Context, g *Globals) error {
	// The inventory first: a broken one is the error to see, not a name
	// that does not resolve.
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	args, err := c.args()
	if err != nil {
		return err
	}
	if c.Node != "" && (c.IAllocator != "" || c.NodeGroup != "") {
		return invalid("give either -n or -I/-g, not both")
	}
	args.Group = c.NodeGroup
	if c.Node == "" && !builtinIAllocator(c.IAllocator) { // instance_alloc.go
		if err := a.pickForAdd(ctx, &args, c.IAllocator); err != nil {
			return err
		}
	}
	return a.run(ctx, playbooks.InstanceAddOp.With(args))
}

// args checks everything that needs no state: names, sizes, syntax.
func (c *InstanceAddCmd) args() (playbooks.InstanceAddArgs, error) {
	var a playbooks.InstanceAddArgs
	if err := inventory.ValidHostname(c.Name); err != nil {
		return a, invalid("instance name: %v", err)
	}
	if !c.NoNameCheck {
		if err := checkResolvable(c.Name); err != nil {
			return a, err
		}
	}
	primary, secondary, _ := strings.Cut(c.Node, ":")
	a = playbooks.InstanceAddArgs{Name: c.Name, Template: c.Template, Primary: primary, Secondary: secondary, OS: c.OS, NoStart: c.NoStart, NoInstall: c.NoInstall,
		NoWaitForSync: c.NoWaitForSync, IgnoreIPolicy: c.IgnoreIPolicy, NoConflictsCheck: c.NoConflictsCheck}
	if c.OS == "" {
		return a, invalid("no OS given: pass -o OS[+variant] (see `ganetictl os list`)")
	}
	var err error
	if a.Disks, err = parseDiskSpecs(c.Size, c.Disks); err != nil {
		return a, err
	}
	if a.BEParams, err = parseBE(c.Backend); err != nil {
		return a, err
	}
	if a.OSParams, err = parseKV(c.OSParams); err != nil {
		return a, err
	}
	if c.Hypervisor != "" {
		hvName, kvs, _ := strings.Cut(c.Hypervisor, ":")
		a.Hypervisor = hvName
		if a.HVParams, err = parseKV(kvs); err != nil {
			return a, err
		}
	}
	if a.NICs, err = parseNICSpecs(c.NICs); err != nil {
		return a, err
	}
	if len(a.NICs) == 0 && !c.NoNICs {
		a.NICs = []playbooks.NICSpec{{}}
	}
	a.Tags = splitList(c.Tags)
	for _, t := range a.Tags {
		if err := inventory.ValidTag(t); err != nil {
			return a, invalid("--tags: %v", err)
		}
	}
	return a, nil
}

// parseDiskSpecs reads -s and --disk into storage specs, in index order.
func parseDiskSpecs(size string, disks []string) ([]storage.Spec, error) {
	if size != "" && len(disks) > 0 {
		return nil, invalid("use either -s or --disk, not both")
	}
	if size != "" {
		mib, err := inventory.ParseSize(size)
		if err != nil {
			return nil, invalid("-s %s: %v", size, err)
		}
		return []storage.Spec{{Size: mib, Mode: "rw"}}, nil
	}
	specs := make([]storage.Spec, len(disks))
	seen := make([]bool, len(disks))
	for _, d := range disks {
		idxS, rest, ok := strings.Cut(d, ":")
		idx, err := strconv.Atoi(idxS)
		if !ok || err != nil || idx < 0 || idx >= len(disks) {
			return nil, invalid("--disk %q: expected N:size=SIZE[,vg=VG][,mode=rw|ro] with N from 0 to %d", d, len(disks)-1)
		}
		if seen[idx] {
			return nil, invalid("--disk %d given twice", idx)
		}
		seen[idx] = true
		spec, err := parseDiskKV(rest)
		if err != nil {
			return nil, invalid("--disk %q: %v", d, err)
		}
		if spec.Size == 0 && spec.Adopt == "" {
			return nil, invalid("--disk %q: missing size= (or adopt=)", d)
		}
		specs[idx] = spec
	}
	return specs, nil
}

func parseDiskKV(s string) (storage.Spec, error) {
	spec := storage.Spec{Mode: "rw"}
	for _, kv := range splitList(s) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "size":
			mib, err := inventory.ParseSize(v)
			if err != nil {
				return spec, err
			}
			spec.Size = mib
		case "vg":
			spec.VG = v
		case "mode":
			if v != "rw" && v != "ro" {
				return spec, fmt.Errorf("mode must be rw or ro")
			}
			spec.Mode = v
		case "adopt":
			spec.Adopt = v
		case "name":
			spec.Name = v
		default:
			return spec, fmt.Errorf("unknown disk parameter %q (size, vg, mode, adopt, name)", k)
		}
	}
	return spec, nil
}

func parseNICSpecs(nets []string) ([]playbooks.NICSpec, error) {
	out := make([]playbooks.NICSpec, len(nets))
	for _, n := range nets {
		idxS, rest, _ := strings.Cut(n, ":")
		idx, err := strconv.Atoi(idxS)
		if err != nil || idx < 0 || idx >= len(nets) {
			return nil, invalid("--net %q: expected N:ip=,network=,mac=,link=,mode= with N from 0 to %d", n, len(nets)-1)
		}
		spec, err := parseNICKV(rest)
		if err != nil {
			return nil, invalid("--net %q: %v", n, err)
		}
		out[idx] = spec
	}
	return out, nil
}

func parseNICKV(s string) (playbooks.NICSpec, error) {
	var spec playbooks.NICSpec
	for _, kv := range splitList(s) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ip":
			spec.IP = v
		case "mac":
			spec.MAC = v
		case "link":
			spec.Link = v
		case "mode":
			spec.Mode = v
		case "network":
			spec.Network = v
		case "vlan":
			spec.VLAN = v
		case "name":
			spec.Name = v
		default:
			return spec, fmt.Errorf("unknown NIC parameter %q (ip, mac, link, mode, vlan, network, name)", k)
		}
	}
	return spec, nil
}

// InstanceRemoveCmd is gnt-instance remove.
type InstanceRemoveCmd struct {
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m"`
	IgnoreFailures  bool          `name:"ignore-failures"`
	Force           bool          `short:"f" name:"force" help:"Do not ask for confirmation."`
	Name            string        `arg:""`
}

func (c *InstanceRemoveCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if !c.Force {
		if err := a.confirm(fmt.Sprintf("This will remove the volumes of the instance %s (including mirrors), thus removing all the data of the instance. Continue?", c.Name)); err != nil {
			return err
		}
	}
	return a.run(ctx, playbooks.InstanceRemoveOp.With(playbooks.RemoveArgs{Name: c.Name, ShutdownTimeout: c.ShutdownTimeout, IgnoreFailures: c.IgnoreFailures}))
}

// InstanceStartupCmd is gnt-instance startup.
type InstanceStartupCmd struct {
	selectFlags
	Names []string `arg:"" optional:"" name:"name"`
}

func (c *InstanceStartupCmd) Run(ctx context.Context, g *Globals) error {
	return g.runSelected(ctx, "started", c.selectFlags, c.Names, func(name string) playbooks.Request {
		return playbooks.InstanceStartupOp.With(name)
	})
}

// InstanceShutdownCmd is gnt-instance shutdown.
type InstanceShutdownCmd struct {
	Timeout    time.Duration `name:"timeout" default:"2m" help:"Wait this long for a clean shutdown before killing."`
	NoRemember bool          `name:"no-remember" help:"Do not record the instance as stopped."`
	selectFlags
	Names []string `arg:"" optional:"" name:"name"`
}

func (c *InstanceShutdownCmd) Run(ctx context.Context, g *Globals) error {
	return g.runSelected(ctx, "stopped", c.selectFlags, c.Names, func(name string) playbooks.Request {
		return playbooks.InstanceShutdownOp.With(playbooks.ShutdownArgs{Name: name, Timeout: c.Timeout, NoRemember: c.NoRemember})
	})
}

// InstanceRebootCmd is gnt-instance reboot.
type InstanceRebootCmd struct {
	Type            string        `name:"type" default:"hard" enum:"soft,hard,full" help:"soft, hard or full."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m"`
	selectFlags
	Names []string `arg:"" optional:"" name:"name"`
}

func (c *InstanceRebootCmd) Run(ctx context.Context, g *Globals) error {
	return g.runSelected(ctx, "rebooted", c.selectFlags, c.Names, func(name string) playbooks.Request {
		return playbooks.InstanceRebootOp.With(playbooks.RebootArgs{Name: name, Type: c.Type, ShutdownTimeout: c.ShutdownTimeout})
	})
}

// InstanceActivateCmd is gnt-instance activate-disks.
type InstanceActivateCmd struct {
	WaitForSync bool   `name:"wait-for-sync" help:"Wait until a mirror's disks are in sync."`
	IgnoreSize  bool   `name:"ignore-size" help:"Accepted for compatibility (sizes come from the state)."`
	Name        string `arg:""`
}

func (c *InstanceActivateCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.run(ctx, playbooks.ActivateDisksOp.With(playbooks.ActivateArgs{Name: c.Name, WaitForSync: c.WaitForSync})); err != nil || g.DryRun || g.PlanOut != "" {
		return err
	}
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	inst := st.Instances[c.Name]
	var disks view.ActivatedDisks
	for i, d := range inst.Disks {
		disks = append(disks, view.DiskDevice{Node: inst.PrimaryNode, IVName: d.IVName, Device: storage.LinkPath(inst.Name, i)})
	}
	return a.pr.Result(disks)
}

// InstanceDeactivateCmd is gnt-instance deactivate-disks.
type InstanceDeactivateCmd struct {
	Force bool   `short:"f" name:"force"`
	Name  string `arg:""`
}

func (c *InstanceDeactivateCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.DeactivateDisksOp.With(playbooks.DeactivateArgs{Name: c.Name, Force: c.Force}))
}

// InstanceGrowDiskCmd is gnt-instance grow-disk.
type InstanceGrowDiskCmd struct {
	Absolute      bool   `name:"absolute" help:"AMOUNT is the new size, not the increase."`
	NoWaitForSync bool   `name:"no-wait-for-sync" help:"Accepted for compatibility: a grown mirror needs no resync here."`
	IgnoreIPolicy bool   `name:"ignore-ipolicy" help:"Grow past the instance policy's disk size."`
	Name          string `arg:""`
	Disk          int    `arg:"" help:"Disk index."`
	Amount        string `arg:"" help:"Size to add (or the new size with --absolute), e.g. 1G."`
}

func (c *InstanceGrowDiskCmd) Run(ctx context.Context, g *Globals) error {
	mib, err := inventory.ParseSize(c.Amount)
	if err != nil {
		return invalid("grow-disk amount %q: %v", c.Amount, err)
	}
	return g.run(ctx, playbooks.GrowDiskOp.With(playbooks.GrowDiskArgs{Name: c.Name, Disk: c.Disk, Amount: mib, Absolute: c.Absolute, IgnoreIPolicy: c.IgnoreIPolicy}))
}

// InstanceRecreateCmd is gnt-instance recreate-disks.
type InstanceRecreateCmd struct {
	Nodes      string `short:"n" name:"node" help:"New primary node for the recreated disks."`
	IAllocator string `short:"I" name:"iallocator" help:"Choose the new primary with this iallocator (hail: ganetictl's own)."`
	Name       string `arg:""`
}

func (c *InstanceRecreateCmd) Run(ctx context.Context, g *Globals) error {
	if c.IAllocator != "" { // instance_alloc.go
		if c.Nodes != "" {
			return invalid("give either -n or -I, not both")
		}
		a, err := g.open()
		if err != nil {
			return err
		}
		defer a.close()
		if c.Nodes, err = a.recreateOn(ctx, c.Name, c.IAllocator); err != nil {
			return err
		}
		pri, sec, _ := strings.Cut(c.Nodes, ":")
		return a.run(ctx, playbooks.RecreateDisksOp.With(playbooks.RecreateArgs{Name: c.Name, Node: pri, Secondary: sec}))
	}
	pri, sec, _ := strings.Cut(c.Nodes, ":")
	return g.run(ctx, playbooks.RecreateDisksOp.With(playbooks.RecreateArgs{Name: c.Name, Node: pri, Secondary: sec}))
}

// InstanceReinstallCmd is gnt-instance reinstall.
type InstanceReinstallCmd struct {
	OS       string `short:"o" name:"os-type"`
	OSParams string `short:"O" name:"os-parameters" help:"key=value,... for the OS (recorded as the instance's)."`
	Force    bool   `short:"f" name:"force"`
	selectFlags
	Names []string `arg:"" optional:"" name:"name"`
}

func (c *InstanceReinstallCmd) Run(ctx context.Context, g *Globals) error {
	osp, err := parseKV(c.OSParams)
	if err != nil {
		return err
	}
	if !c.Force && len(c.Names) == 1 && !c.All {
		a, err := g.open()
		if err != nil {
			return err
		}
		err = a.confirm(fmt.Sprintf("This will reinstall the instance %s and remove all data. Continue?", c.Names[0]))
		a.close()
		if err != nil {
			return err
		}
	}
	return g.runSelected(ctx, "reinstalled (all their data removed)", c.selectFlags, c.Names, func(name string) playbooks.Request {
		return playbooks.ReinstallOp.With(playbooks.ReinstallArgs{Name: name, OS: c.OS, OSParams: osp})
	})
}

// InstanceRenameCmd is gnt-instance rename.
type InstanceRenameCmd struct {
	NoNameCheck bool   `name:"no-name-check"`
	NoIPCheck   bool   `name:"no-ip-check"`
	Name        string `arg:""`
	NewName     string `arg:""`
}

func (c *InstanceRenameCmd) Run(ctx context.Context, g *Globals) error {
	if err := inventory.ValidHostname(c.NewName); err != nil {
		return invalid("instance name: %v", err)
	}
	if !c.NoNameCheck {
		if err := checkResolvable(c.NewName); err != nil {
			return err
		}
	}
	return g.run(ctx, playbooks.RenameOp.With(playbooks.RenameArgs{Name: c.Name, NewName: c.NewName}))
}

// InstanceModifyCmd is gnt-instance modify.
type InstanceModifyCmd struct {
	Backend           string   `short:"B" name:"backend-parameters"`
	Hypervisor        string   `short:"H" name:"hypervisor-parameters"`
	RuntimeMemory     string   `short:"m" name:"runtime-memory"`
	Disks             []string `name:"disk" sep:"none" help:"add:size=S | N:remove | N:mode=ro | -1:add,size=S (repeatable)"`
	NICs              []string `name:"net" sep:"none" help:"add[:ip=,network=,mac=,link=,mode=] | N:remove | N:ip=pool,network=NET | N:ip=none,network=none (repeatable)"`
	NoConflictsCheck  bool     `name:"no-conflicts-check" help:"Do not check NIC addresses against the networks' reservations and subnets."`
	OSType            string   `short:"o" name:"os-type"`
	Offline           bool     `name:"offline"`
	Online            bool     `name:"online"`
	Template          string   `short:"t" name:"disk-template" help:"Convert a stopped instance: drbd (with -n SNODE) or plain."`
	Node              string   `short:"n" name:"node" help:"The new secondary for -t drbd."`
	NoWaitForSync     bool     `name:"no-wait-for-sync" help:"With -t drbd: do not wait for the new mirror to sync."`
	IgnoreIPolicy     bool     `name:"ignore-ipolicy" help:"Change the instance even where it breaks the instance policy."`
	Force             bool     `short:"f" name:"force" help:"With -m: allow a runtime memory below the minimum memory."`
	Hotplug           bool     `name:"hotplug" help:"Plug added disks and NICs into the running KVM instance at once (removals and NIC changes are refused: they need the guest's cooperation)."`
	HotplugIfPossible bool     `name:"hotplug-if-possible" help:"Hot-plug if possible (a running KVM instance, only additions), else apply the disk and NIC changes at the next start."`
	Name              string   `arg:""`
}

func (c *InstanceModifyCmd) Run(ctx context.Context, g *Globals) error {
	if c.Template != "" {
		if c.Backend != "" || c.Hypervisor != "" || c.RuntimeMemory != "" || len(c.Disks) > 0 || len(c.NICs) > 0 || c.OSType != "" || c.Offline || c.Online {
			return invalid("-t (disk template conversion) cannot be combined with other changes")
		}
		return g.run(ctx, playbooks.InstanceConvertOp.With(playbooks.ConvertArgs{Name: c.Name, Template: c.Template, Secondary: c.Node, NoWaitForSync: c.NoWaitForSync}))
	}
	if c.Node != "" {
		return invalid("-n goes with -t drbd")
	}
	args := playbooks.ModifyInstanceArgs{Name: c.Name, OSType: c.OSType, IgnoreIPolicy: c.IgnoreIPolicy, NoConflictsCheck: c.NoConflictsCheck, Force: c.Force,
		Hotplug: c.Hotplug, HotplugIfPossible: c.HotplugIfPossible}
	var err error
	if args.BEParams, err = parseBE(c.Backend); err != nil {
		return err
	}
	if args.HVParams, err = parseKV(c.Hypervisor); err != nil {
		return err
	}
	if c.RuntimeMemory != "" {
		if args.RuntimeMemory, err = inventory.ParseSize(c.RuntimeMemory); err != nil {
			return invalid("-m %s: %v", c.RuntimeMemory, err)
		}
	}
	if c.Offline && c.Online {
		return invalid("--offline and --online exclude each other")
	}
	if c.Offline || c.Online {
		off := c.Offline
		args.Offline = &off
	}
	for _, d := range c.Disks {
		op, idx, rest, err := parseModOp(d)
		if err != nil {
			return invalid("--disk %q: %v", d, err)
		}
		spec, err := parseDiskKV(rest)
		if err != nil {
			return invalid("--disk %q: %v", d, err)
		}
		if op == "add" && spec.Size == 0 && spec.Adopt == "" {
			return invalid("--disk %q: adding a disk needs size=", d)
		}
		args.Disks = append(args.Disks, playbooks.DiskMod{Op: op, Index: idx, Spec: spec})
	}
	for _, n := range c.NICs {
		op, idx, rest, err := parseModOp(n)
		if err != nil {
			return invalid("--net %q: %v", n, err)
		}
		spec, err := parseNICKV(rest)
		if err != nil {
			return invalid("--net %q: %v", n, err)
		}
		args.NICs = append(args.NICs, playbooks.NICMod{Op: op, Index: idx, Spec: spec})
	}
	return g.run(ctx, playbooks.InstanceModifyOp.With(args))
}

// parseModOp reads Ganeti's device modification syntaxes: "add[:k=v]",
// "remove", "N:remove", "N:k=v", "-1:add,k=v".
func parseModOp(s string) (op string, idx int, rest string, err error) {
	head, tail, _ := strings.Cut(s, ":")
	switch head {
	case "add", "remove":
		return head, -1, tail, nil
	}
	idx, err = strconv.Atoi(head)
	if err != nil {
		return "", 0, "", fmt.Errorf("expected add, remove or an index before ':'")
	}
	first, after, _ := strings.Cut(tail, ",")
	switch first {
	case "add", "remove", "modify":
		return first, idx, after, nil
	}
	return "modify", idx, tail, nil
}
