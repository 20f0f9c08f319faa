package playbooks

import (
	"fmt"
	"path"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Leftover is a file a node keeps that ganetictl put there and no longer
// needs (facts part PartLeftovers).
type Leftover struct {
	// Kind: "helper" (a copy helper), "helper-busy" (one a process runs),
	// "partial" (a copy's partial destination), "export-new" (an
	// unfinished export's directory).
	Kind string `json:"kind"`
	Path string `json:"path"`
}

// Stale lists the leftovers of each node that may go: partial copies and
// unfinished exports, and helpers other than current (paths of this
// ganetictl's helpers) that no process runs. With current nil, helpers
// are not judged (this ganetictl could not tell which one is its own).
func Stale(facts map[string]*NodeFacts, current []string) map[string][]Leftover {
	out := map[string][]Leftover{}
	for n, f := range facts {
		if f == nil || !f.Reachable {
			continue
		}
		for _, l := range f.Leftovers {
			switch l.Kind {
			case "partial", "export-new":
			case "helper":
				if current == nil || containsStr(current, l.Path) || path.Dir(l.Path) != HelperDir {
					continue
				}
			default:
				continue
			}
			out[n] = append(out[n], l)
		}
	}
	return out
}

// verifyLeftovers reports Stale's findings as warnings.
func verifyLeftovers(st *statefile.State, in VerifyInput) []Finding {
	stale := Stale(in.Facts, in.CurrentHelpers)
	var fs []Finding
	for _, n := range sortedNodes(st) {
		for _, l := range stale[n] {
			msg := ""
			switch l.Kind {
			case "helper":
				msg = "copy helper " + l.Path + " is not this ganetictl's (an older version's)"
			case "partial":
				msg = "partial copy " + l.Path + " left by an interrupted copy (never committed)"
			case "export-new":
				msg = "unfinished export " + l.Path + " left by an interrupted export"
			}
			fs = append(fs, Finding{SevWarning, "ENODELEFTOVER", "node", n, msg + "; `cluster verify --fix` removes it"})
		}
	}
	return fs
}

// VerifyFixOp is `cluster verify --fix`: the leftovers verify found.
var VerifyFixOp = define(&Opcode[map[string][]Leftover]{ID: OpClusterVerifyFix, Command: "cluster verify --fix",
	Plan: func(env Env, stale map[string][]Leftover) (*plan.Plan, error) {
		return RemoveLeftovers(env.State, stale)
	}})

// RemoveLeftovers plans removing what Stale found (`cluster verify
// --fix`). It changes no state.
func RemoveLeftovers(st *statefile.State, stale map[string][]Leftover) (*plan.Plan, error) {
	p := plan.New(plan.ClusterOp(OpClusterVerifyFix), st.Lineage, st.Serial)
	var steps []plan.Step
	for _, n := range sortedNodes(st) {
		for _, l := range stale[n] {
			argv := []string{"rm", "-f", "--", l.Path}
			if l.Kind == "export-new" {
				argv = []string{"rm", "-rf", "--", l.Path}
			}
			steps = append(steps, plan.Step{Node: n, Action: plan.Remove, Desc: fmt.Sprintf("remove %s %s", l.Kind, l.Path), Argv: argv})
		}
	}
	if len(steps) == 0 {
		return nil, prereq(ErrWrongState, "nothing to fix: no stale helpers or copy leftovers")
	}
	p.Add("remove stale helpers and copy leftovers", plan.Continue, steps...)
	return p, nil
}
