package playbooks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// helperStage is the first stage of a plan that copies disks or carries a
// migration stream: the helper's upload to the nodes that lack it.
const helperStage = "install the copy helper"

// NodeArch is the Go architecture of a node's `uname -m` (the last field
// of NodeFacts.Uname): the helper is built for amd64 and arm64.
func NodeArch(machine string) (string, error) {
	switch machine {
	case "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("no helper for architecture %q (amd64 and arm64 only)", machine)
}

// helperFor is node's copy helper in plan p: this ganetictl's helper for
// the node's architecture (env.Helper), uploaded in the plan's first stage
// when the node's facts (PartHelpers) do not show it present and intact.
// The helper is content-addressed, so it is never sent twice.
func helperFor(env Env, p *plan.Plan, node string) (Helper, error) {
	f := env.Facts[node]
	if f == nil || !f.Reachable {
		return Helper{}, prereq(ErrEnvironment, "node %s did not answer: the copy helper cannot be put there", node)
	}
	if env.Helper == nil {
		return Helper{}, prereq(ErrEnvironment, "no copy helper available to this ganetictl")
	}
	fields := strings.Fields(f.Uname)
	if len(fields) == 0 {
		return Helper{}, prereq(ErrEnvironment, "node %s: unknown architecture", node)
	}
	arch, err := NodeArch(fields[len(fields)-1])
	if err != nil {
		return Helper{}, prereq(ErrEnvironment, "node %s: %v", node, err)
	}
	h, err := env.Helper(arch)
	if err != nil {
		return Helper{}, prereq(ErrEnvironment, "node %s: %v", node, err)
	}
	if f.Helpers[h.Path] == h.SHA256 {
		return h, nil
	}
	step := plan.Step{Node: node, Action: plan.Upload, Desc: "install the copy helper (linux/" + arch + ")",
		Path: h.Path, Mode: 0o755, DirMode: 0o755, Source: plan.HelperSource(arch)}
	if len(p.Stages) > 0 && p.Stages[0].Name == helperStage {
		if !slices.ContainsFunc(p.Stages[0].Steps, func(s plan.Step) bool { return s.Node == node }) {
			p.Stages[0].Steps = append(p.Stages[0].Steps, step)
		}
		return h, nil
	}
	p.Stages = slices.Insert(p.Stages, 0, plan.Stage{Name: helperStage, OnError: plan.Abort, Steps: []plan.Step{step}})
	return h, nil
}
