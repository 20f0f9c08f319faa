package main

import (
	"context"
	"sort"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
)

// OSCmd is gnt-os.
type OSCmd struct {
	List     OSListCmd     `cmd:"" help:"List the OS definitions valid on every node."`
	Diagnose OSDiagnoseCmd `cmd:"" help:"Show every OS definition's status on every node."`
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
	NoHeaders bool `name:"no-headers"`
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
	var names []string
	for name, c := range count {
		if c != answered {
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
