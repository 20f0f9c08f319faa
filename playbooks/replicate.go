package playbooks

import "github.com/ganetictl/ganetictl/playbooks/plan"

// StateReplicaPath is where a master candidate keeps its copy of the state.
const StateReplicaPath = "/var/lib/ganeti/ganetictl/state.json"

// replicaStage is the after-commit stage that copies the state out.
const replicaStage = "copy the state to the master candidates"

// ReplicateTo makes p copy the committed state to nodes once it is
// committed (each node once, in the order given): the master candidates
// of the resulting state keep it, so that a lost workstation loses
// nothing. A failed copy does not undo the commit; verify names it.
func ReplicateTo(p *plan.Plan, nodes ...string) {
	have := map[string]bool{}
	for _, n := range Replicas(p) {
		have[n] = true
	}
	var steps []plan.Step
	for _, n := range nodes {
		if have[n] {
			continue
		}
		have[n] = true
		steps = append(steps, plan.Step{Node: n, Action: plan.Upload, Desc: "copy the state",
			Path: StateReplicaPath, Mode: 0o600, DirMode: 0o700, Source: plan.SourceState})
	}
	if len(steps) > 0 {
		p.AddAfterCommit(replicaStage, steps...)
	}
}

// Replicas lists the nodes p copies the state to.
func Replicas(p *plan.Plan) []string {
	var out []string
	for _, st := range p.Stages {
		if st.AfterCommit && st.Name == replicaStage {
			for _, s := range st.Steps {
				out = append(out, s.Node)
			}
		}
	}
	return out
}
