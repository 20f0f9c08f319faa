package job

import (
	"context"
	"errors"
	"fmt"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/apply"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Planned is a plan and what it was made from.
type Planned struct {
	State *statefile.State
	Plan  *plan.Plan
	// Parts and Facts are the facts the plan was made from (Parts nil:
	// all), which a saved plan records to check them again when applied.
	Parts []string
	Facts map[string]*playbooks.NodeFacts
}

// Plan reads the state, gathers the facts and runs the probes the request
// needs (one round trip per node, all nodes at once) and makes the plan.
// Nothing is locked or changed.
func (e *Engine) Plan(ctx context.Context, req playbooks.Request) (*Planned, error) {
	st, err := e.Store.Read(ctx)
	if req.Init {
		switch {
		case errors.Is(err, statefile.ErrNoState):
			st, err = statefile.New(statefile.NewLineage()), nil
		case err == nil:
			return nil, &playbooks.PrereqError{Type: playbooks.ErrExists, Msg: fmt.Sprintf(
				"Cluster is already initialised as %s (state in %s); destroy it first, or use another --state-dir", st.Cluster.Name, e.Store)}
		}
	}
	if err != nil {
		return nil, e.noState(err)
	}
	env := e.Env
	env.State = st
	out := &Planned{State: st}
	if req.Needs != nil {
		need := req.Needs(st)
		env.Facts, env.Probes = e.gather(ctx, st, need)
		out.Parts, out.Facts = need.Parts, env.Facts
		// Cancelled while asking the nodes (job cancel, Ctrl-C): that is
		// the outcome, not the nodes that could not answer in time.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if out.Plan, err = req.Plan(env); err != nil {
		return nil, err
	}
	return out, nil
}

// gather runs the facts script on need's nodes and need's probes, all in
// one parallel round, and parses what they said. Unreachable nodes get
// facts with Reachable false; failed probes carry their error.
func (e *Engine) gather(ctx context.Context, st *statefile.State, need playbooks.Needs) (map[string]*playbooks.NodeFacts, []playbooks.Probe) {
	fa := playbooks.FactsArgsFor(e.Facts, st)
	fa.Parts = need.Parts
	steps := make([]plan.Step, 0, len(need.Nodes)+len(need.Probes))
	for _, n := range need.Nodes {
		steps = append(steps, playbooks.FactsStep(n, fa))
	}
	steps = append(steps, need.Probes...)
	start := e.now()
	results := apply.Gather(ctx, steps, e.Runners, apply.Options{Parallel: e.Parallel})
	end := e.now()
	facts := make(map[string]*playbooks.NodeFacts, len(need.Nodes))
	for _, r := range results[:len(need.Nodes)] {
		name := r.Step.Node
		if r.Err != nil && len(r.Stdout) == 0 {
			facts[name] = &playbooks.NodeFacts{Name: name, Err: r.Err.Error()}
			continue
		}
		f, err := playbooks.ParseFacts(name, r.Stdout)
		if err != nil {
			facts[name] = &playbooks.NodeFacts{Name: name, Err: err.Error()}
			continue
		}
		f.WindowStart, f.WindowEnd = start, end
		facts[name] = f
	}
	var probes []playbooks.Probe
	for _, r := range results[len(need.Nodes):] {
		probes = append(probes, playbooks.Probe{Node: r.Step.Node, Stdout: r.Stdout, Err: r.Err})
	}
	return facts, probes
}

// Gather is the facts of nodes (parts nil: all), outside of any job.
func (e *Engine) Gather(ctx context.Context, st *statefile.State, nodes []string, parts ...string) map[string]*playbooks.NodeFacts {
	f, _ := e.gather(ctx, st, playbooks.Needs{Nodes: nodes, Parts: parts})
	return f
}

// Read runs read-only steps on their nodes at once, outside of any job,
// and returns every result in order.
func (e *Engine) Read(ctx context.Context, steps []plan.Step) []apply.StepResult {
	return apply.Gather(ctx, steps, e.Runners, apply.Options{Parallel: e.Parallel})
}
