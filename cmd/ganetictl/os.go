package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

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

func (c *OSListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
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
	if g.JSON {
		if names == nil {
			names = []string{}
		}
		return view.JSON(s.Out, names)
	}
	t := view.Table{Columns: []view.Column{{Title: "Name"}}, PadLastTitle: true}
	for _, n := range names {
		t.Rows = append(t.Rows, []string{n})
	}
	return view.RenderTable(s.Out, t, view.TableOpts{NoHeaders: c.NoHeaders})
}

// OSDiagnoseCmd is gnt-os diagnose.
type OSDiagnoseCmd struct{}

func (c *OSDiagnoseCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
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
	type nodeStatus struct {
		Node   string           `json:"node"`
		Status string           `json:"status"`
		OS     *playbooks.OSDef `json:"os,omitempty"`
	}
	report := map[string][]nodeStatus{}
	bad := false
	for _, name := range names {
		global := "valid"
		var lines []string
		for _, n := range nodes {
			f := facts[n]
			ns := nodeStatus{Node: n}
			switch {
			case f == nil || !f.Reachable:
				ns.Status = "node unreachable: " + factsErr(f)
			case f.OS[name] == nil:
				ns.Status = "OS not found"
				global = "invalid - not present on all nodes"
			case !f.OS[name].Valid():
				ns.OS = f.OS[name]
				ns.Status = "invalid - " + f.OS[name].Problem()
				global = "invalid"
			default:
				ns.OS = f.OS[name]
				ns.Status = "valid"
			}
			report[name] = append(report[name], ns)
			line := fmt.Sprintf("  Node: %s, status: %s", n, ns.Status)
			if ns.OS != nil {
				line += fmt.Sprintf(" (path: %s)", ns.OS.Path)
				if len(ns.OS.Variants) > 0 {
					line += " [variants: " + strings.Join(ns.OS.Variants, ", ") + "]"
				}
				if len(ns.OS.Parameters) > 0 {
					line += " [parameters: " + strings.Join(ns.OS.Parameters, ", ") + "]"
				}
				line += fmt.Sprintf(" [API versions: %s]", strings.Trim(fmt.Sprint(ns.OS.APIs), "[]"))
			}
			lines = append(lines, line)
		}
		bad = bad || global != "valid"
		if !g.JSON {
			fmt.Fprintf(s.Out, "OS: %s [global status: %s]\n%s\n\n", name, global, strings.Join(lines, "\n"))
		}
	}
	if g.JSON {
		return view.JSON(s.Out, report)
	}
	if bad {
		return silentExit(exitError)
	}
	return nil
}

func factsErr(f *playbooks.NodeFacts) string {
	if f == nil {
		return "not asked"
	}
	return f.Err
}
