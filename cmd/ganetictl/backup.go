package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
)

// arch -> []byte

// BackupCmd is gnt-backup.
type BackupCmd struct {
	Export     BackupExportCmd `cmd:"" help:"Export an instance's disks and configuration to a node."`
	Import     BackupImportCmd `cmd:"" help:"Create an instance from an export."`
	List       BackupListCmd   `cmd:"" help:"List the exports on the nodes."`
	Remove     BackupRemoveCmd `cmd:"" help:"Remove an instance's exports from all nodes."`
	ListFields BackupFieldsCmd `cmd:"" name:"list-fields" help:"List the fields of backup list."`
}

// exportSpec names the fields of an export, as Ganeti's gnt-backup list.
var exportSpec = view.ListSpec[[2]string]{
	Default: []string{"node", "export"},
	Fields: []view.Field[[2]string]{
		{Name: "node", Title: "Node", Kind: view.KindText, Doc: "Node name", Get: func(r [2]string) any { return r[0] }},
		{Name: "export", Title: "Export", Kind: view.KindText, Doc: "Export name", Get: func(r [2]string) any { return r[1] }},
	},
}

// BackupFieldsCmd is gnt-backup list-fields.
type BackupFieldsCmd struct{}

func (c *BackupFieldsCmd) Run(s view.Streams) error {
	return view.RenderTable(s.Out, exportSpec.FieldsTable(), view.TableOpts{})
}

// BackupExportCmd is gnt-backup export.
type BackupExportCmd struct {
	Target          string        `short:"n" name:"node" required:"" help:"Node that receives the export."`
	NoShutdown      bool          `name:"noshutdown" help:"Do not shut the instance down (only where a consistent snapshot is possible)."`
	RemoveInstance  bool          `name:"remove-instance" help:"Remove the instance after a successful export."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m"`
	copyFlags
	Name string `arg:""`
}

func (c *BackupExportCmd) Run(ctx context.Context, g *Globals) error {
	copts, err := c.options()
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	end := a.streamEvents()
	return end(a.run(ctx, playbooks.ExportOp.With(playbooks.ExportArgs{Name: c.Name, Target: c.Target, NoShutdown: c.NoShutdown,
		RemoveInstance: c.RemoveInstance, ShutdownTimeout: c.ShutdownTimeout, Timestamp: time.Now().Unix(), Copy: copts})))
}

// BackupImportCmd is gnt-backup import: instance add from an export.
type BackupImportCmd struct {
	Node        string   `short:"n" name:"node" required:"" help:"Primary node of the new instance."`
	SrcNode     string   `name:"src-node" required:"" help:"Node holding the export."`
	SrcDir      string   `name:"src-dir" help:"Export directory on the source node (default: /srv/ganeti/export/NAME)."`
	Template    string   `short:"t" name:"disk-template" help:"Disk template (default: the export's)."`
	OS          string   `short:"o" name:"os-type" help:"OS (default: the export's)."`
	Size        string   `short:"s" name:"os-size" help:"Size of the single disk (default: the export's)."`
	Disks       []string `name:"disk" sep:"none" help:"N:size=S[,vg=V] (default: the export's sizes)."`
	Backend     string   `short:"B" name:"backend-parameters" help:"Backend parameters (default: the export's memory and vcpus)."`
	NICs        []string `name:"net" help:"N:ip=,mac=,link=,mode= (repeatable); default one NIC."`
	NoNICs      bool     `name:"no-nics"`
	NoStart     bool     `name:"no-start"`
	NoNameCheck bool     `name:"no-name-check"`
	NoIPCheck   bool     `name:"no-ip-check"`
	copyFlags
	Name string `arg:""`
}

func (c *BackupImportCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	dir := c.SrcDir
	if dir == "" {
		dir = playbooks.ExportDir + "/" + c.Name
	}
	if !filepath.IsAbs(dir) || strings.ContainsAny(dir, "\n") {
		return invalid("--src-dir %q: an absolute path", dir)
	}
	r, err := a.pool.Get(ctx, c.SrcNode)
	if err != nil {
		return err
	}
	ini, err := remote.ReadFile(ctx, r, filepath.Join(dir, "config.ini"))
	if err != nil {
		return fmt.Errorf("read the export's config.ini: %w", err)
	}
	exp, err := playbooks.ParseExportConfig(string(ini))
	if err != nil {
		return fmt.Errorf("%s:%s: %w", c.SrcNode, dir, err)
	}
	add := InstanceAddCmd{Node: c.Node, OS: c.OS, Template: c.Template, Size: c.Size, Disks: c.Disks, Backend: c.Backend,
		NICs: c.NICs, NoNICs: c.NoNICs, NoStart: c.NoStart, NoNameCheck: c.NoNameCheck, NoIPCheck: c.NoIPCheck, Name: c.Name}
	if add.OS == "" {
		add.OS = exp.OS
	}
	if add.Template == "" {
		add.Template = exp.Template
	}
	if add.Size == "" && len(add.Disks) == 0 {
		for i, d := range exp.Disks {
			add.Disks = append(add.Disks, fmt.Sprintf("%d:size=%dM", i, d.Size))
		}
	}
	if add.Backend == "" && exp.MaxMem > 0 {
		add.Backend = fmt.Sprintf("maxmem=%d,minmem=%d,vcpus=%d", exp.MaxMem, max(exp.MinMem, 1), max(exp.VCPUs, 1))
	}
	args, err := add.args()
	if err != nil {
		return err
	}
	copts, err := c.options()
	if err != nil {
		return err
	}
	end := a.streamEvents()
	return end(a.run(ctx, playbooks.ImportOp.With(playbooks.ImportArgs{Add: args, SrcNode: c.SrcNode, SrcDir: dir, Export: exp, Copy: copts})))
}

// listExportsScript: $1 the export directory. Prints the exports (the
// directories holding a config.ini), one a line.
const listExportsScript = `cd -- "$1" 2>/dev/null || exit 0
for d in */; do [ -f "$d/config.ini" ] && printf '%s\n' "${d%/}"; done; exit 0`

// BackupListCmd is gnt-backup list.
type BackupListCmd struct {
	Nodes []string `name:"node" help:"Only these nodes (repeatable)."`
}

func (c *BackupListCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, err := onlineNodes(st, c.Nodes)
	if err != nil {
		return err
	}
	steps := make([]plan.Step, len(nodes))
	for i, n := range nodes {
		steps[i] = plan.Step{Node: n, Action: plan.Read, Argv: []string{"sh", "-c", listExportsScript, "ganetictl-list-exports", playbooks.ExportDir}}
	}
	got := map[string][]string{}
	for _, r := range apply.Gather(ctx, steps, a.pool, apply.Options{Parallel: a.parallel()}) {
		if r.Err != nil {
			a.pr.Warning("%s: %v", r.Step.Node, r.Err)
			continue
		}
		got[r.Step.Node] = strings.Fields(string(r.Stdout))
	}
	var out view.Exports
	for _, n := range nodes {
		if exps, ok := got[n]; ok {
			out = append(out, view.NodeExports{Node: n, Exports: exps})
		}
	}
	return a.pr.Result(out)
}

// BackupRemoveCmd is gnt-backup remove.
type BackupRemoveCmd struct {
	Name string `arg:""`
}

func (c *BackupRemoveCmd) Run(ctx context.Context, g *Globals) error {
	if err := inventory.ValidHostname(c.Name); err != nil {
		return invalid("export name: %v", err)
	}
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	nodes, _ := onlineNodes(st, nil)
	dir := playbooks.ExportDir + "/" + c.Name
	steps := make([]plan.Step, len(nodes))
	for i, n := range nodes {
		steps[i] = plan.Step{Node: n, Action: plan.Remove, Argv: []string{"rm", "-rf", "--", dir, dir + ".new"}}
	}
	var errs []error
	for _, r := range apply.Gather(ctx, steps, a.pool, apply.Options{Parallel: a.parallel()}) {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}
