package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// ClusterCmd is gnt-cluster.
type ClusterCmd struct {
	Init            ClusterInitCmd            `cmd:"" help:"Create the cluster: check the master node and write a new state."`
	Info            ClusterInfoCmd            `cmd:"" help:"Show the cluster configuration."`
	Verify          ClusterVerifyCmd          `cmd:"" help:"Check the cluster's health on every node."`
	Getmaster       ClusterGetmasterCmd       `cmd:"" help:"Print the master node's name."`
	Version         ClusterVersionCmd         `cmd:"" help:"Print version information."`
	Command         ClusterCommandCmd         `cmd:"" help:"Run a command on all (or some) nodes."`
	Copyfile        ClusterCopyfileCmd        `cmd:"" help:"Copy a file to all (or some) nodes."`
	Rename          ClusterRenameCmd          `cmd:"" help:"Rename the cluster."`
	Modify          ClusterModifyCmd          `cmd:"" help:"Change cluster parameters."`
	Destroy         ClusterDestroyCmd         `cmd:"" help:"Remove the cluster (only the master left, no instances)."`
	RedistConf      ClusterRedistConfCmd      `cmd:"" name:"redist-conf" help:"Copy the state to every master candidate."`
	Recover         ClusterRecoverCmd         `cmd:"" help:"Rebuild a lost or stale state from the nodes' copies and what they really hold."`
	MasterFailover  ClusterMasterFailoverCmd  `cmd:"" name:"master-failover" help:"Make a master candidate the master (refused if its state copy is stale)."`
	Queue           ClusterQueueCmd           `cmd:"" help:"Drain or undrain the job queue (no new jobs start while drained)."`
	VerifyDisks     ClusterVerifyDisksCmd     `cmd:"" name:"verify-disks" help:"Activate disks that should be active; list missing volumes."`
	RepairDiskSizes ClusterRepairDiskSizesCmd `cmd:"" name:"repair-disk-sizes" help:"Correct recorded disk sizes from the nodes."`
	AddTags         TagsAddCmd                `cmd:"" name:"add-tags" help:"Add tags to the cluster."`
	RemoveTags      TagsRemoveCmd             `cmd:"" name:"remove-tags" help:"Remove tags from the cluster."`
	ListTags        TagsListCmd               `cmd:"" name:"list-tags" help:"List the cluster's tags."`
	SearchTags      ClusterSearchTagsCmd      `cmd:"" name:"search-tags" help:"Find the tags matching a regular expression on every object."`
}

// ClusterInitCmd is gnt-cluster init.
type ClusterInitCmd struct {
	Name                 string   `arg:"" optional:"" help:"Cluster name (default: the inventory's)."`
	Master               string   `help:"Master node (default: the inventory's cluster.master)."`
	SecondaryIP          string   `short:"s" name:"secondary-ip" help:"The master's replication address."`
	VGName               string   `name:"vg-name" help:"LVM volume group."`
	MasterNetdev         string   `name:"master-netdev" help:"Master network device."`
	EnabledHypervisors   string   `name:"enabled-hypervisors" help:"Comma-separated hypervisors; the first is the default."`
	EnabledDiskTemplates string   `name:"enabled-disk-templates" help:"Comma-separated disk templates."`
	FileStorageDir       string   `name:"file-storage-dir"`
	SharedFileStorageDir string   `name:"shared-file-storage-dir"`
	MACPrefix            string   `name:"mac-prefix"`
	CandidatePoolSize    int      `name:"candidate-pool-size" short:"C"`
	BackendParameters    string   `short:"B" name:"backend-parameters" help:"Default instance parameters k=v,..."`
	NICParameters        string   `short:"N" name:"nic-parameters" help:"Default NIC parameters k=v,..."`
	HypervisorParameters []string `short:"H" name:"hypervisor-parameters" sep:"none" help:"HV:k=v,... (repeatable)."`
}

func (c *ClusterInitCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	args, err := c.initArgs(a.inv)
	if err != nil {
		return err
	}
	return a.run(ctx, playbooks.ClusterInitOp.With(args))
}

// initArgs are cluster init's arguments: the flags over the inventory's
// values. cluster recover uses them (without flags) to rebuild the cluster
// object when no state copy is left.
func (c *ClusterInitCmd) initArgs(inv *inventory.Inventory) (playbooks.InitArgs, error) {
	args := playbooks.InitArgs{
		Name:                 pick(c.Name, inv.Cluster.Name),
		Master:               pick(c.Master, inv.Cluster.Master),
		Group:                "default",
		VolumeGroup:          pick(c.VGName, inv.Cluster.VolumeGroup),
		EnabledHypervisors:   pickList(c.EnabledHypervisors, inv.Cluster.EnabledHypervisors),
		EnabledDiskTemplates: pickList(c.EnabledDiskTemplates, inv.Cluster.EnabledDiskTemplates),
		FileStorageDir:       pick(c.FileStorageDir, inv.Cluster.FileStorageDir),
		SharedFileStorageDir: pick(c.SharedFileStorageDir, inv.Cluster.SharedFileStorageDir),
		RBDPool:              inv.Cluster.RBDPool,
		MACPrefix:            pick(c.MACPrefix, inv.Cluster.MACPrefix),
		MasterNetdev:         pick(c.MasterNetdev, inv.Cluster.MasterNetdev),
		CandidatePoolSize:    inv.Cluster.CandidatePoolSize,
		BEParams:             statefile.Params(inv.Defaults.BEParams),
		NICParams:            statefile.Params(inv.Defaults.NICParams),
		HVParams:             map[string]statefile.Params{},
	}
	if len(inv.Groups) > 0 {
		args.Group = inv.Groups[0].Name
	}
	if c.CandidatePoolSize > 0 {
		args.CandidatePoolSize = c.CandidatePoolSize
	}
	if err := inventory.ValidHostname(args.Name); err != nil {
		return args, invalid("cluster name: %v", err)
	}
	for hv, ps := range inv.Hypervisors {
		args.HVParams[hv] = statefile.Params(ps)
	}
	if err := mergeFlags(&args.BEParams, c.BackendParameters); err != nil {
		return args, err
	}
	if err := mergeFlags(&args.NICParams, c.NICParameters); err != nil {
		return args, err
	}
	hv, err := parseHV(c.HypervisorParameters)
	if err != nil {
		return args, err
	}
	for h, ps := range hv {
		if args.HVParams[h] == nil {
			args.HVParams[h] = statefile.Params{}
		}
		for k, v := range ps {
			args.HVParams[h][k] = v
		}
	}
	mn, ok := inv.Node(args.Master)
	if !ok {
		return args, invalid("master node %q is not in the inventory %s; add it under [[nodes]] or pass --master", args.Master, inv.Path)
	}
	args.Master = mn.Name
	args.MasterIP = mn.Address
	args.MasterSecondaryIP = pick(c.SecondaryIP, mn.SecondaryAddress)

	return args, nil
}

func mergeFlags(dst *statefile.Params, flag string) error {
	ps, err := parseKV(flag)
	if err != nil {
		return err
	}
	if len(ps) > 0 && *dst == nil {
		*dst = statefile.Params{}
	}
	for k, v := range ps {
		(*dst)[k] = v
	}
	return nil
}

func pick(flag, def string) string {
	if flag != "" {
		return flag
	}
	return def
}

func pickList(flag string, def []string) []string {
	if flag != "" {
		return splitList(flag)
	}
	return def
}

// ClusterInfoCmd is gnt-cluster info.
type ClusterInfoCmd struct{}

func (c *ClusterInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	return a.pr.Result(clusterInfo(st))
}

func clusterInfo(st *statefile.State) view.Info {
	cl := st.Cluster
	tags := any("(none)")
	if len(cl.Tags) > 0 {
		tags = strings.Join(cl.Tags, ", ")
	}
	defHV := ""
	if len(cl.EnabledHypervisors) > 0 {
		defHV = cl.EnabledHypervisors[0]
	}
	hvp := view.Info{}
	for _, hv := range cl.EnabledHypervisors {
		hvp = hvp.Add(hv, map[string]any(cl.HVParams[hv]))
	}
	vg := any(cl.VolumeGroup)
	if cl.VolumeGroup == "" {
		vg = "None"
	}
	return view.Info{}.
		Add("Cluster name", cl.Name).
		Add("Cluster UUID", cl.UUID).
		Add("Creation time", fmtStamp(cl.Ctime)).
		Add("Modification time", fmtStamp(cl.Mtime)).
		Add("Master node", cl.MasterNode).
		Add("Architecture (this node)", fmt.Sprintf("64bits (%s)", goarchName())).
		Add("Tags", tags).
		Add("Default hypervisor", defHV).
		Add("Enabled hypervisors", strings.Join(cl.EnabledHypervisors, ", ")).
		Add("Hypervisor parameters", hvp).
		Add("Cluster parameters", view.Info{}.
			Add("candidate pool size", cl.CandidatePoolSize).
			Add("mac prefix", cl.MACPrefix).
			Add("master netdev", cl.MasterNetdev).
			Add("master netmask", cl.MasterNetmask).
			Add("lvm volume group", vg).
			Add("file storage path", cl.FileStorageDir).
			Add("shared file storage path", cl.SharedFileStorageDir).
			Add("rbd pool", cl.RBDPool).
			Add("enabled disk templates", strings.Join(cl.EnabledDiskTemplates, ", ")).
			Add("state serial", st.Serial).
			Add("state lineage", st.Lineage)).
		Add("Default instance parameters", view.Info{}.Add("default", map[string]any(cl.BEParams))).
		Add("Default nic parameters", view.Info{}.Add("default", map[string]any(cl.NICParams)))
}

func fmtStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func goarchName() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// ClusterVerifyCmd is gnt-cluster verify.
type ClusterVerifyCmd struct {
	ErrorCodes bool   `name:"error-codes" help:"Print findings as ERROR:CODE:kind:object:message."`
	Fix        bool   `name:"fix" help:"Remove stale copy helpers and what interrupted copies left on the nodes."`
	Group      string `short:"g" name:"node-group" help:"Verify only this group's nodes and instances."`
}

func (c *ClusterVerifyCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, err := onlineNodesIn(st, nil, c.Group)
	if err != nil {
		return err
	}
	in := playbooks.VerifyInput{State: st, Facts: a.gather(ctx, st, nodes), StateSum: a.stateSum(ctx), MinVGSize: 20480, Group: c.Group}
	in.CurrentHelpers = a.currentHelpers(ctx, in.Facts)
	if link, ok := st.Cluster.NICParams["link"].(string); ok && link != "" {
		in.Bridges = []string{link}
	}
	report := playbooks.Verify(in)
	if len(report.Sections) > 0 {
		report.Sections[0].Findings = append(report.Sections[0].Findings, a.eng.CrashedFindings(ctx, st.Cluster.Name)...)
	}
	v := view.NewVerify(s.Out, view.VerifyOpts{ErrorCodes: c.ErrorCodes, JSON: g.JSON})
	for _, sec := range report.Sections {
		v.Section(sec.Title)
		for _, f := range sec.Findings {
			switch f.Severity {
			case playbooks.SevError:
				v.Error(f.Code, f.Kind, f.Object, f.Message)
			case playbooks.SevWarning:
				v.Warning(f.Code, f.Kind, f.Object, f.Message)
			default:
				v.Notice(f.Message)
			}
		}
	}
	if err := v.Close(); err != nil {
		return err
	}
	if stale := playbooks.Stale(in.Facts, in.CurrentHelpers); c.Fix && len(stale) > 0 {
		if err := a.run(ctx, playbooks.VerifyFixOp.With(stale)); err != nil {
			return err
		}
	}
	if report.Errors() > 0 {
		return silentExit(exitError)
	}
	return nil
}

// silentExit ends the command with a code after its output already said why.
type silentExit int

func (e silentExit) Error() string { return fmt.Sprintf("exit %d", int(e)) }
func (e silentExit) ExitCode() int { return int(e) }
func (e silentExit) Silent() bool  { return true }

// ClusterGetmasterCmd is gnt-cluster getmaster.
type ClusterGetmasterCmd struct{}

func (c *ClusterGetmasterCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	return a.pr.Result(view.Master{Name: st.Cluster.MasterNode})
}

// ClusterVersionCmd is gnt-cluster version.
type ClusterVersionCmd struct{}

func (c *ClusterVersionCmd) Run(g *Globals) error {
	info := view.Info{}.
		Add("Software version", g.version).
		Add("Internode protocol", "ssh (no node daemon)").
		Add("Configuration format", statefile.FormatVersion).
		Add("OS api version", 20).
		Add("Export interface", 0)
	return g.printer().Result(info)
}

// argv is the remote command: what follows "--", or the first word that is
// not a flag. kong hands an unknown leading flag over as the command's
// start: it is refused, not run on every node.
func (c *ClusterCommandCmd) argv() ([]string, error) {
	argv := c.Command
	if len(argv) > 0 && argv[0] == "--" {
		return argv[1:], nil
	}
	if len(argv) > 0 && strings.HasPrefix(argv[0], "-") {
		return nil, invalid("unknown flag %s: cluster command takes -n, -g, -M and --failure-only before the command; put the command after --", argv[0])
	}
	return argv, nil
}

// ClusterCommandCmd is gnt-cluster command.
type ClusterCommandCmd struct {
	Nodes        string   `short:"n" name:"node" help:"Comma-separated nodes (default: all online nodes)."`
	Group        string   `short:"g" name:"node-group" help:"Only the nodes of this group."`
	FailureOnly  bool     `name:"failure-only" help:"Show only the nodes where the command failed."`
	MachineNames bool     `short:"M" name:"show-machine-names" help:"Prefix every output line with the node name."`
	Command      []string `arg:"" passthrough:"" help:"The command and its arguments (each one word; no shell)."`
}

func (c *ClusterCommandCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, err := onlineNodesIn(st, splitList(c.Nodes), c.Group)
	if err != nil {
		return err
	}
	argv, err := c.argv()
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		return invalid("cluster command needs a command to run, e.g. `ganetictl cluster command -- uptime`")
	}
	// Ganeti prints the master last.
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[j] == st.Cluster.MasterNode && nodes[i] != nodes[j] })
	steps := make([]plan.Step, len(nodes))
	for i, n := range nodes {
		steps[i] = plan.Step{Node: n, Action: plan.Exec, Argv: argv}
	}
	if g.DryRun {
		p := plan.New(plan.ClusterOp(playbooks.OpClusterCommand), st.Lineage, st.Serial)
		p.Add("run the command", plan.Continue, steps...)
		return a.pr.Result(view.PlanView{Plan: p})
	}
	results := a.readOnly(ctx, steps)
	failed := 0
	outs := view.CommandOutputs{FailureOnly: c.FailureOnly, MachineNames: c.MachineNames}
	for _, r := range results {
		o := view.NodeOutput{Node: r.Step.Node, Output: string(r.Stdout) + string(r.Stderr), ExitCode: r.ExitCode}
		if r.Err != nil {
			failed++
			if r.ExitCode <= 0 {
				o.Error = r.Err.Error()
				if o.ExitCode == 0 {
					o.ExitCode = -1
				}
			}
		}
		outs.Outputs = append(outs.Outputs, o)
	}
	if err := a.pr.Result(outs); err != nil {
		return err
	}
	if failed > 0 {
		return silentExit(exitPartial)
	}
	return nil
}

// ClusterCopyfileCmd is gnt-cluster copyfile.
type ClusterCopyfileCmd struct {
	Nodes string `short:"n" name:"node" help:"Comma-separated nodes (default: all online nodes)."`
	Group string `short:"g" name:"node-group" help:"Only the nodes of this group."`
	File  string `arg:"" type:"existingfile" help:"Local file; copied to the same absolute path on the nodes."`
}

func (c *ClusterCopyfileCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	path, err := filepath.Abs(c.File)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return invalid("%s is not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return a.run(ctx, playbooks.CopyfileOp.With(playbooks.CopyfileArgs{Path: path, Mode: uint32(fi.Mode().Perm()), Content: data, Nodes: splitList(c.Nodes), Group: c.Group}))
}

// ClusterRenameCmd is gnt-cluster rename.
type ClusterRenameCmd struct {
	Name string `arg:"" help:"New cluster name."`
}

func (c *ClusterRenameCmd) Run(ctx context.Context, g *Globals) error {
	if err := inventory.ValidHostname(c.Name); err != nil {
		return invalid("cluster name: %v", err)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.confirm(fmt.Sprintf("This will rename the cluster to '%s'. Continue?", c.Name)); err != nil {
		return err
	}
	return a.run(ctx, playbooks.ClusterRenameOp.With(c.Name))
}

// ClusterModifyCmd is gnt-cluster modify.
type ClusterModifyCmd struct {
	BackendParameters    string   `short:"B" name:"backend-parameters"`
	NICParameters        string   `short:"N" name:"nic-parameters"`
	HypervisorParameters []string `short:"H" name:"hypervisor-parameters" sep:"none"`
	CandidatePoolSize    int      `name:"candidate-pool-size" short:"C"`
	VGName               *string  `name:"vg-name"`
	EnabledHypervisors   string   `name:"enabled-hypervisors"`
	EnabledDiskTemplates string   `name:"enabled-disk-templates"`
	MACPrefix            string   `name:"mac-prefix"`
	MasterNetdev         string   `name:"master-netdev"`
}

func (c *ClusterModifyCmd) Run(ctx context.Context, g *Globals) error {
	args := playbooks.ModifyArgs{CandidatePoolSize: c.CandidatePoolSize, VolumeGroup: c.VGName, MACPrefix: c.MACPrefix, MasterNetdev: c.MasterNetdev,
		EnabledHypervisors: splitList(c.EnabledHypervisors), EnabledDiskTemplates: splitList(c.EnabledDiskTemplates)}
	var err error
	if args.BEParams, err = parseKV(c.BackendParameters); err != nil {
		return err
	}
	if args.NICParams, err = parseKV(c.NICParameters); err != nil {
		return err
	}
	if args.HVParams, err = parseHV(c.HypervisorParameters); err != nil {
		return err
	}
	return g.run(ctx, playbooks.ClusterModifyOp.With(args))
}

// ClusterDestroyCmd is gnt-cluster destroy.
type ClusterDestroyCmd struct {
	YesDoIt bool `name:"yes-do-it" help:"Required: confirms that the cluster is to be destroyed."`
}

func (c *ClusterDestroyCmd) Run(ctx context.Context, g *Globals) error {
	if !c.YesDoIt && !g.DryRun {
		return invalid("Destroying a cluster is irreversible. If you really want to destroy this cluster, supply the --yes-do-it option.")
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.run(ctx, playbooks.ClusterDestroyOp.With(struct{}{})); err != nil || g.DryRun || g.PlanOut != "" {
		return err
	}
	// The state itself goes last, kept beside its history for the record.
	return a.store.Retire(time.Now())
}

// ClusterRedistConfCmd is gnt-cluster redist-conf.
type ClusterRedistConfCmd struct{}

func (c *ClusterRedistConfCmd) Run(ctx context.Context, g *Globals) error {
	return g.run(ctx, playbooks.RedistConfOp.With(struct{}{}))
}

// ClusterSearchTagsCmd is gnt-cluster search-tags: "PATH TAG" for every
// tag the pattern (a regular expression) matches; exit 1 when none.
type ClusterSearchTagsCmd struct {
	Pattern string `arg:""`
}

func (c *ClusterSearchTagsCmd) Run(ctx context.Context, g *Globals) error {
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		return invalid("search-tags %q: %v", c.Pattern, err)
	}
	a, st, err := g.openStateOnly(ctx)
	if err != nil {
		return err
	}
	found := playbooks.SearchTags(st, re)
	if err := a.pr.Result(view.TagMatches(found)); err != nil {
		return err
	}
	if len(found) == 0 {
		return silentExit(exitError)
	}
	return nil
}
