package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// copyFlags are the transfer flags of the commands that copy disks.
type copyFlags struct {
	Compress          string        `name:"compress" enum:"none,zstd" default:"none" help:"Compress the stream: none or zstd."`
	InsecureTransport bool          `name:"insecure-transport" help:"Copy over plain TCP, unauthenticated and unencrypted (trusted replication networks only)."`
	IdleTimeout       time.Duration `name:"transfer-idle-timeout" default:"30s" help:"Fail a copy that moves no byte for this long."`
	RateLimit         string        `name:"rate-limit" placeholder:"RATE" help:"Cap each copy at RATE bytes a second, e.g. 100M (K, M, G: powers of 1024)."`
}

func (f copyFlags) options(helpers map[string]playbooks.Helper) (playbooks.CopyOptions, error) {
	o := playbooks.CopyOptions{Helpers: helpers, NewIdentity: transfer.NewIdentity, Compress: f.Compress,
		InsecureTransport: f.InsecureTransport, IdleTimeout: f.IdleTimeout}
	if f.RateLimit != "" {
		n, err := parseRate(f.RateLimit)
		if err != nil {
			return o, invalid("--rate-limit %q: %v", f.RateLimit, err)
		}
		o.RateLimit = n
	}
	return o, nil
}

// parseRate reads a byte rate: a number with an optional K, M, G or T
// (powers of 1024, as Ganeti's sizes) and an optional "/s" or "B/s".
func parseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "/s"), "B")
	mult := int64(1)
	if t != "" {
		switch strings.ToUpper(t[len(t)-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) < 1024 {
		return 0, errors.New("want a rate of at least 1K, e.g. 100M")
	}
	return int64(f * float64(mult)), nil
}

// instanceCopy uploads (or checks) the copy helpers on instance name's
// primary and on target, and gives the copy options of f with them.
func (a *app) instanceCopy(ctx context.Context, st *statefile.State, name, target string, f copyFlags) (playbooks.CopyOptions, error) {
	inst, ok := st.Instances[name]
	if !ok {
		return playbooks.CopyOptions{}, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", name)}
	}
	helpers, err := a.ensureHelpers(ctx, []string{inst.PrimaryNode, target})
	if err != nil {
		return playbooks.CopyOptions{}, err
	}
	return f.options(helpers)
}

// InstanceMoveCmd is gnt-instance move.
type InstanceMoveCmd struct {
	Force           bool          `short:"f" name:"force"`
	Target          string        `short:"n" name:"target-node" required:"" help:"Node to move the instance to."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m"`
	copyFlags
	Name string `arg:""`
}

func (c *InstanceMoveCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	copts, err := a.instanceCopy(ctx, st, c.Name, c.Target, c.copyFlags)
	if err != nil {
		return err
	}
	facts := moveFacts(c.Name, c.Target)
	facts.parts = nil // all: the target's free space too
	end := a.streamEvents()
	return end(a.mutate(ctx, "instance move "+c.Name, facts, func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Move(env, playbooks.MoveArgs{Name: c.Name, Target: c.Target, ShutdownTimeout: c.ShutdownTimeout, Copy: copts})
	}))
}

// streamEvents makes a copying command's --json output the event stream
// of `apply --json` (version, plan, steps, "transfer" progress, result,
// then done or error) instead of one result object, so a pipeline can
// follow a long copy. A dry run or --plan-out keeps its plan output. The
// returned function ends the stream with the command's error.
func (a *app) streamEvents() func(error) error {
	if !a.g.JSON || a.g.DryRun || a.g.PlanOut != "" {
		return func(err error) error { return err }
	}
	a.events = view.NewEvents(a.s.Out, time.Now)
	return func(err error) error {
		if err != nil {
			a.events.Error(err, exitCode(err))
			return &silentError{err}
		}
		a.events.Done(nil)
		return nil
	}
}

// StepStderr streams a disk copy's progress (the sending helper's JSON
// lines on stderr) to a progress bar on a terminal, else to a plain line
// every two seconds (apply.StderrHooks).
func (h *progressHooks) StepStderr(s *plan.Step) io.Writer {
	if !playbooks.IsCopySend(s) {
		return nil
	}
	return &copyProgress{t: h.p.Transfer(s.Node, s.Desc)}
}

// StepStderr streams a disk copy's progress as "transfer" events
// (apply.StderrHooks).
func (h *eventHooks) StepStderr(s *plan.Step) io.Writer {
	if !playbooks.IsCopySend(s) {
		return nil
	}
	return &copyProgress{t: h.Events.Transfer(s.Node, s.Desc)}
}

// copyProgress turns the helper's progress lines into a view.Transfer's
// updates.
type copyProgress struct {
	t       view.Transfer
	partial []byte
}

func (c *copyProgress) Write(b []byte) (int, error) {
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := c.partial[:i]
		c.partial = c.partial[i+1:]
		var ev struct {
			Event string `json:"event"`
			transfer.Progress
		}
		if json.Unmarshal(line, &ev) != nil || ev.Event != "progress" || ev.Total <= 0 {
			continue
		}
		c.t.Update(view.TransferStatus{Bytes: ev.Bytes, Total: ev.Total, Rate: ev.Rate, Done: ev.Done})
	}
}

// HelperDir is where nodes keep the helper, by content: helper-<sha256[:16]>.
const HelperDir = playbooks.HelperDir

// currentHelpers gives the paths this ganetictl's helpers have on nodes
// of the architectures that hold any helper, for verify to tell stale
// ones; nil (helpers not judged) when a helper binary cannot be found.
func (a *app) currentHelpers(ctx context.Context, facts map[string]*playbooks.NodeFacts) []string {
	arches := map[string]bool{}
	for _, f := range facts {
		if f == nil || !f.Reachable {
			continue
		}
		for _, l := range f.Leftovers {
			if l.Kind == "helper" {
				if fs := strings.Fields(f.Uname); len(fs) > 0 {
					if arch, err := goArch(fs[len(fs)-1]); err == nil {
						arches[arch] = true
					}
				}
			}
		}
	}
	out := []string{}
	for arch := range arches {
		bin, err := helperBinary(ctx, arch)
		if err != nil {
			fmt.Fprintf(a.s.Err, "WARNING: cannot tell stale copy helpers from current ones: %v\n", err)
			return nil
		}
		sum := sha256.Sum256(bin)
		out = append(out, HelperDir+"/helper-"+hex.EncodeToString(sum[:])[:16])
	}
	return out
}

// ensureHelpers puts the helper for each node's architecture on the
// nodes that lack it (SFTP, atomic, content-addressed: never re-sent when
// present) and returns where it is. A dry run only computes the paths.
func (a *app) ensureHelpers(ctx context.Context, nodes []string) (map[string]playbooks.Helper, error) {
	var mu sync.Mutex
	out := map[string]playbooks.Helper{}
	wp := pool.New().WithErrors().WithMaxGoroutines(a.parallel())
	seen := map[string]bool{}
	for _, n := range nodes {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		wp.Go(func() error {
			h, err := a.ensureHelper(ctx, n)
			if err != nil {
				return fmt.Errorf("node %s: helper: %w", n, err)
			}
			mu.Lock()
			out[n] = h
			mu.Unlock()
			return nil
		})
	}
	return out, wp.Wait()
}

func (a *app) ensureHelper(ctx context.Context, node string) (playbooks.Helper, error) {
	r, err := a.pool.Get(ctx, node)
	if err != nil {
		return playbooks.Helper{}, err
	}
	res, err := r.Run(ctx, remote.Command{Argv: []string{"uname", "-m"}})
	if err != nil {
		return playbooks.Helper{}, err
	}
	arch, err := goArch(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		return playbooks.Helper{}, err
	}
	bin, err := helperBinary(ctx, arch)
	if err != nil {
		return playbooks.Helper{}, err
	}
	sum := sha256.Sum256(bin)
	h := playbooks.Helper{SHA256: hex.EncodeToString(sum[:])}
	h.Path = HelperDir + "/helper-" + h.SHA256[:16]
	if a.g.DryRun {
		return h, nil
	}
	check, err := r.Run(ctx, remote.Command{Argv: []string{"sha256sum", "--", h.Path}})
	if err == nil && strings.HasPrefix(string(check.Stdout), h.SHA256+" ") {
		return h, nil // present and intact
	}
	if _, err := r.Run(ctx, remote.Command{Argv: []string{"mkdir", "-p", "-m", "0755", HelperDir}}); err != nil {
		return h, err
	}
	if err := remote.Upload(ctx, r, h.Path, 0o755, bytes.NewReader(bin)); err != nil {
		return h, err
	}
	return h, nil
}

func goArch(machine string) (string, error) {
	switch machine {
	case "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("no helper for architecture %q (amd64 and arm64 only)", machine)
}

var helperBins sync.Map // arch -> []byte

// helperBinary finds the helper for linux/arch: in $GANETICTL_HELPER_DIR,
// else next to this executable (where `make build` puts them), else it is
// built with the Go toolchain when the working directory is inside
// ganetictl's module (development and tests), cached in the user's cache
// directory.
func helperBinary(ctx context.Context, arch string) ([]byte, error) {
	if b, ok := helperBins.Load(arch); ok {
		return b.([]byte), nil
	}
	name := "ganetictl-helper-linux-" + arch
	var dirs []string
	if d := os.Getenv("GANETICTL_HELPER_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, name)); err == nil {
			helperBins.Store(arch, b)
			return b, nil
		}
	}
	b, err := buildHelper(ctx, arch, name)
	if err != nil {
		return nil, fmt.Errorf("%s not found next to ganetictl or in $GANETICTL_HELPER_DIR (run `make build`), and building it failed: %w", name, err)
	}
	helperBins.Store(arch, b)
	return b, nil
}

const modulePath = "github.com/ganetictl/ganetictl"

func buildHelper(ctx context.Context, arch, name string) ([]byte, error) {
	mod, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m: %w", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(mod)), " ")
	if path != modulePath || dir == "" {
		return nil, errors.New("the working directory is not in ganetictl's module")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(cache, "ganetictl", name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/ganetictl-helper")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w: %s", err, b)
	}
	return os.ReadFile(out)
}

// BackupCmd is gnt-backup.
type BackupCmd struct {
	Export BackupExportCmd `cmd:"" help:"Export an instance's disks and configuration to a node."`
	Import BackupImportCmd `cmd:"" help:"Create an instance from an export."`
	List   BackupListCmd   `cmd:"" help:"List the exports on the nodes."`
	Remove BackupRemoveCmd `cmd:"" help:"Remove an instance's exports from all nodes."`
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
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	copts, err := a.instanceCopy(ctx, st, c.Name, c.Target, c.copyFlags)
	if err != nil {
		return err
	}
	// Every online node: older exports of the instance elsewhere are removed.
	facts := &factsOn{nodes: func(st *statefile.State) []string {
		var out []string
		for _, n := range st.NodeNames() {
			if !st.Nodes[n].Offline {
				out = append(out, n)
			}
		}
		return out
	}}
	now := time.Now().Unix()
	end := a.streamEvents()
	return end(a.mutate(ctx, "backup export "+c.Name, facts, func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Export(env, playbooks.ExportArgs{Name: c.Name, Target: c.Target, NoShutdown: c.NoShutdown,
			RemoveInstance: c.RemoveInstance, ShutdownTimeout: c.ShutdownTimeout, Timestamp: now, Copy: copts})
	}))
}

// BackupImportCmd is gnt-backup import: instance add from an export.
type BackupImportCmd struct {
	Node        string   `short:"n" name:"node" required:"" help:"Primary node of the new instance."`
	SrcNode     string   `name:"src-node" required:"" help:"Node holding the export."`
	SrcDir      string   `name:"src-dir" help:"Export directory on the source node (default: /srv/ganeti/export/NAME)."`
	Template    string   `short:"t" name:"disk-template" help:"Disk template (default: the export's)."`
	OS          string   `short:"o" name:"os-type" help:"OS (default: the export's)."`
	Size        string   `short:"s" name:"os-size" help:"Size of the single disk (default: the export's)."`
	Disks       []string `name:"disk" help:"N:size=S[,vg=V] (default: the export's sizes)."`
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
	helpers, err := a.ensureHelpers(ctx, []string{c.SrcNode, args.Primary})
	if err != nil {
		return err
	}
	copts, err := c.options(helpers)
	if err != nil {
		return err
	}
	nodes := []string{args.Primary, c.SrcNode}
	if args.Secondary != "" {
		nodes = append(nodes, args.Secondary)
	}
	end := a.streamEvents()
	return end(a.mutate(ctx, "backup import "+c.Name, &factsOn{nodes: func(*statefile.State) []string { return nodes }},
		func(env playbooks.Env) (*plan.Plan, error) {
			return playbooks.Import(env, playbooks.ImportArgs{Add: args, SrcNode: c.SrcNode, SrcDir: dir, Export: exp, Copy: copts})
		}))
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
	out := map[string][]string{}
	for _, r := range apply.Gather(ctx, steps, a.pool, apply.Options{Parallel: a.parallel()}) {
		if r.Err != nil {
			fmt.Fprintf(a.s.Err, "WARNING: %s: %v\n", r.Step.Node, r.Err)
			continue
		}
		out[r.Step.Node] = strings.Fields(string(r.Stdout))
	}
	if g.JSON {
		return view.JSON(a.s.Out, out)
	}
	for _, n := range nodes {
		if _, ok := out[n]; !ok {
			continue
		}
		fmt.Fprintf(a.s.Out, "Node: %s\nExports:\n", n)
		for _, e := range out[n] {
			fmt.Fprintf(a.s.Out, "  %s\n", e)
		}
	}
	return nil
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
