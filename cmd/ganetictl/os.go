package main

import (
	"context"
	"slices"
	"sort"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
)

// OSCmd is gnt-os.
type OSCmd struct {
	List     OSListCmd     `cmd:"" help:"List the OS definitions valid on every node."`
	Diagnose OSDiagnoseCmd `cmd:"" help:"Show every OS definition's status on every node."`
	Info     OSInfoCmd     `cmd:"" help:"Show OS definitions in detail, with the cluster's settings for them."`
	Modify   OSModifyCmd   `cmd:"" help:"Change the cluster's settings for an OS (parameters, hidden, blacklisted)."`
}

// osFacts gathers the OS definitions of every online node.
func (a *app) osFacts(ctx context.Context) (map[string]*playbooks.NodeFacts, []string, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return nil, nil, err
	}
	nodes, _ := onlineNodes(st, nil)
	return a.gather(ctx, st, nodes, playbooks.PartOS), nodes, nil
}

// OSListCmd is gnt-os list.
type OSListCmd struct {
	NoHeaders   bool `name:"no-headers"`
	Hidden      bool `name:"hidden" help:"Also list hidden OSes."`
	Blacklisted bool `name:"blacklisted" help:"Also list blacklisted OSes."`
}

func (c *OSListCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	facts, nodes, err := a.osFacts(ctx)
	if err != nil {
		return err
	}
	// An OS is listed when it is valid on every node that answered.
	count := map[string]int{}
	variants := map[string][]string{}
	answered := 0
	for _, n := range nodes {
		f := facts[n]
		if f == nil || !f.Reachable {
			continue
		}
		answered++
		for name, def := range f.OS {
			if def.Valid() {
				count[name]++
				variants[name] = def.Variants
			}
		}
	}
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	var names []string
	for name, n := range count {
		if n != answered || !c.Hidden && slices.Contains(st.Cluster.HiddenOS, name) || !c.Blacklisted && slices.Contains(st.Cluster.BlacklistedOS, name) {
			continue
		}
		if len(variants[name]) == 0 {
			names = append(names, name)
		}
		for _, v := range variants[name] {
			names = append(names, name+"+"+v)
		}
	}
	sort.Strings(names)
	return a.pr.Result(view.OSList{Names: names, NoHeaders: c.NoHeaders})
}

// OSDiagnoseCmd is gnt-os diagnose.
type OSDiagnoseCmd struct{}

func (c *OSDiagnoseCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	facts, nodes, err := a.osFacts(ctx)
	if err != nil {
		return err
	}
	all := map[string]bool{}
	for _, f := range facts {
		for name := range f.OS {
			all[name] = true
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var report view.OSDiagnosis
	bad := false
	for _, name := range names {
		o := view.OSStatus{Name: name, Global: "valid"}
		for _, n := range nodes {
			f := facts[n]
			ns := view.OSNodeStatus{Node: n}
			switch {
			case f == nil || !f.Reachable:
				ns.Status = "node unreachable: " + factsErr(f)
			case f.OS[name] == nil:
				ns.Status = "OS not found"
				o.Global = "invalid - not present on all nodes"
			case !f.OS[name].Valid():
				ns.OS, ns.Status = osDef(f.OS[name]), "invalid - "+f.OS[name].Problem()
				o.Global = "invalid"
			default:
				ns.OS, ns.Status = osDef(f.OS[name]), "valid"
			}
			o.Nodes = append(o.Nodes, ns)
		}
		bad = bad || o.Global != "valid"
		report = append(report, o)
	}
	if err := a.pr.Result(report); err != nil {
		return err
	}
	if bad {
		return silentExit(exitError)
	}
	return nil
}

func osDef(d *playbooks.OSDef) *view.OSDef {
	v := view.OSDef(*d)
	return &v
}

func factsErr(f *playbooks.NodeFacts) string {
	if f == nil {
		return "not asked"
	}
	return f.Err
}

// OSInfoCmd is gnt-os info.
type OSInfoCmd struct {
	Names []string `arg:"" optional:""`
}

func (c *OSInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	facts, nodes, err := a.osFacts(ctx)
	if err != nil {
		return err
	}
	// An OS is valid when every node that answered has it valid.
	defs := map[string]*playbooks.OSDef{}
	valid := map[string]bool{}
	answered := 0
	for _, n := range nodes {
		f := facts[n]
		if f == nil || !f.Reachable {
			continue
		}
		answered++
		for name, def := range f.OS {
			if _, seen := defs[name]; !seen {
				defs[name], valid[name] = def, true
			}
			valid[name] = valid[name] && def.Valid()
		}
	}
	var out view.OSInfos
	for _, name := range sortedMapKeys(defs) {
		if len(c.Names) > 0 && !slices.Contains(c.Names, name) {
			continue
		}
		d := defs[name]
		out = append(out, view.OSInfo{Name: name, Valid: valid[name], Hidden: slices.Contains(st.Cluster.HiddenOS, name),
			Blacklisted: slices.Contains(st.Cluster.BlacklistedOS, name), APIs: d.APIs, Variants: d.Variants, Parameters: d.Parameters,
			HVParams: st.Cluster.OSHVP[name], OSParams: st.Cluster.OSParams[name]})
	}
	return a.pr.Result(out)
}

// OSModifyCmd is gnt-os modify.
type OSModifyCmd struct {
	Hypervisor  []string `short:"H" name:"hypervisor-parameters" sep:"none" help:"HV:key=value,... for this OS (repeatable)."`
	OSParams    string   `short:"O" name:"os-parameters" help:"key=value,... for this OS."`
	Hidden      yesNo    `name:"hidden" help:"yes|no: hide the OS from os list."`
	Blacklisted yesNo    `name:"blacklisted" help:"yes|no: refuse new instances of the OS."`
	OS          string   `arg:""`
}

func (c *OSModifyCmd) Run(ctx context.Context, g *Globals) error {
	args := playbooks.OSModifyArgs{OS: c.OS}
	var err error
	if args.HVParams, err = parseHV(c.Hypervisor); err != nil {
		return err
	}
	if c.OSParams != "" {
		if args.OSParams, err = parseKV(c.OSParams); err != nil {
			return err
		}
	}
	if args.Hidden, err = c.Hidden.ptr("--hidden"); err != nil {
		return err
	}
	if args.Blacklisted, err = c.Blacklisted.ptr("--blacklisted"); err != nil {
		return err
	}
	return g.run(ctx, playbooks.OSModifyOp.With(args))
}
