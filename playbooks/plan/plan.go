// Package plan is the plan as data: what an operation will do on which node,
// in which order, and how it changes the state. Planners (package playbooks)
// build plans as pure functions; package apply carries them out; package view
// renders them. A plan is marshalled to JSON with a format_version, and the
// human text is rendered from the same struct, so neither can show what the
// other lacks.
package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// FormatVersion is bumped on any change that needs a consumer's parser to change.
// Adding fields is not such a change.
const FormatVersion = 1

// Action says what a step does; its value is the symbol the text plan shows.
type Action rune

const (
	Read   Action = '<' // read-only fact gathering
	Create Action = '+' // creates something on a node
	Modify Action = '~' // changes something in place
	Remove Action = '-' // removes something
	Exec   Action = '>' // runs a command whose effect is not one of the above
	Upload Action = '^' // writes a file
)

// String is the word used in JSON and messages.
func (a Action) String() string {
	switch a {
	case Read:
		return "read"
	case Create:
		return "create"
	case Modify:
		return "modify"
	case Remove:
		return "remove"
	case Exec:
		return "run"
	case Upload:
		return "upload"
	}
	return fmt.Sprintf("action(%q)", rune(a))
}

// MarshalText makes JSON carry the word, not the rune.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses the word back.
func (a *Action) UnmarshalText(b []byte) error {
	for _, c := range []Action{Read, Create, Modify, Remove, Exec, Upload} {
		if c.String() == string(b) {
			*a = c
			return nil
		}
	}
	return fmt.Errorf("unknown plan action %q", b)
}

// OnError is a stage's failure policy.
type OnError string

const (
	// Abort stops the plan when a step fails and undoes the steps already
	// done, newest first.
	Abort OnError = "abort"
	// Continue runs the remaining steps and stages; failures are reported.
	Continue OnError = "continue"
)

// Plan is one operation (a Ganeti opcode) as data.
type Plan struct {
	FormatVersion int `json:"format_version"`
	// Op is the opcode and its subject; Operation is Op as people read it
	// (NODE_ADD(node2)), for display only.
	Op        Op     `json:"op"`
	Operation string `json:"operation"`
	// StateLineage and StateSerial name the state the plan was made from;
	// applying it to any other state is refused (StaleError).
	StateLineage string   `json:"state_lineage"`
	StateSerial  int64    `json:"state_serial"`
	Stages       []Stage  `json:"stages"`
	Changes      []Change `json:"changes"`            // committed to the state after the last stage
	Warnings     []string `json:"warnings,omitempty"` // shown before confirmation
	Notes        []string `json:"notes,omitempty"`    // information for people, shown after the run

	// secrets maps placeholder names (see Secret) to values. Never marshalled:
	// plans are printed and saved without them, and apply resolves them.
	secrets map[string]string
}

// New starts a plan for op made from a state with the given lineage and serial.
func New(op Op, lineage string, serial int64) *Plan {
	return &Plan{FormatVersion: FormatVersion, Op: op, Operation: op.String(), StateLineage: lineage, StateSerial: serial}
}

// Stage is a barrier: its steps run concurrently (at most one per node at a
// time is not required; the runner bounds total concurrency), and the next
// stage starts only when all of them finished.
type Stage struct {
	Name    string  `json:"name"`
	OnError OnError `json:"on_error"`
	// AfterCommit stages run once the state is committed (or would have
	// been: a plan may change nothing), such as the state's copy to the
	// master candidates. They have no undo; their failures are reported
	// without undoing the commit. Add keeps them last.
	AfterCommit bool   `json:"after_commit,omitempty"`
	Steps       []Step `json:"steps"`
}

// Step is one node command or file upload.
type Step struct {
	Node   string   `json:"node"`
	Action Action   `json:"action"`
	Desc   string   `json:"desc,omitempty"` // what it achieves, for humans
	Argv   []string `json:"argv,omitempty"` // the command; secrets as placeholders
	// Upload: Path receives Content (mode Mode) atomically; Argv is empty.
	Path    string `json:"path,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
	Content []byte `json:"content,omitempty"`
	// Source names content only the runner has, instead of Content: the
	// committed state (SourceState) or a helper binary (HelperSource), too
	// big or too new to be part of the plan.
	Source string `json:"source,omitempty"`
	// DirMode, when set, creates Path's directory with this mode if missing.
	DirMode uint32 `json:"dir_mode,omitempty"`
	// Stdin is fed to the command: how secrets (keys) reach a node without
	// showing in its process list. It may be a secret placeholder (Secret).
	Stdin string `json:"stdin,omitempty"`
	// Progress: the command reports its progress on stderr as JSON lines
	// (the copy helper's sender), which the view shows as it runs.
	Progress bool `json:"progress,omitempty"`
	// OKExit lists exit codes besides 0 that count as success.
	OKExit []int `json:"ok_exit,omitempty"`
	// Undo, if set, is run when a later step of an Abort stage (or a later
	// stage) fails, to roll this step back.
	Undo *Step `json:"undo,omitempty"`
}

// Add appends a stage, before the after-commit ones, and returns a pointer
// to it for adding steps.
func (p *Plan) Add(name string, onErr OnError, steps ...Step) *Stage {
	at := len(p.Stages)
	for at > 0 && p.Stages[at-1].AfterCommit {
		at--
	}
	p.Stages = slices.Insert(p.Stages, at, Stage{Name: name, OnError: onErr, Steps: steps})
	return &p.Stages[at]
}

// AddStages appends stages before the after-commit ones; those among
// them that run after the commit go last.
func (p *Plan) AddStages(stages ...Stage) {
	for _, st := range stages {
		if st.AfterCommit {
			p.AddAfterCommit(st.Name, st.Steps...)
		} else {
			p.Add(st.Name, st.OnError, st.Steps...)
		}
	}
}

// AddAfterCommit appends a stage that runs after the commit (see
// Stage.AfterCommit), or extends the after-commit stage of that name.
func (p *Plan) AddAfterCommit(name string, steps ...Step) *Stage {
	for i := range p.Stages {
		if st := &p.Stages[i]; st.AfterCommit && st.Name == name {
			st.Steps = append(st.Steps, steps...)
			return st
		}
	}
	p.Stages = append(p.Stages, Stage{Name: name, OnError: Continue, AfterCommit: true, Steps: steps})
	return &p.Stages[len(p.Stages)-1]
}

// Sources of Step.Source.
const SourceState = "state"

// HelperSource is the Step.Source of the copy helper for linux/arch.
func HelperSource(arch string) string { return "helper-linux-" + arch }

// Secret registers a secret value under name and returns the placeholder
// to put in a Step's Argv in its place.
func (p *Plan) Secret(name, value string) string {
	if p.secrets == nil {
		p.secrets = map[string]string{}
	}
	p.secrets[name] = value
	return SecretRef(name)
}

// SecretRef is the placeholder of the secret registered (with Secret) under
// name. Step builders that cannot see the plan (storage, hv) put it in argv;
// the planner registers the value.
func SecretRef(name string) string { return secretPrefix + name + secretSuffix }

const (
	secretPrefix = "{{secret:"
	secretSuffix = "}}"
	// Masked replaces secrets wherever a plan or state is shown.
	Masked = "<masked>"
)

// IsSecret reports whether arg is a secret placeholder.
func IsSecret(arg string) bool {
	return strings.HasPrefix(arg, secretPrefix) && strings.HasSuffix(arg, secretSuffix)
}

// Resolve returns argv with every placeholder replaced by its secret value.
// Only apply calls it, right before running the command.
func (p *Plan) Resolve(argv []string) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		if !IsSecret(a) {
			out[i] = a
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(a, secretPrefix), secretSuffix)
		v, ok := p.secrets[name]
		if !ok {
			return nil, fmt.Errorf("plan has no value for secret %q (a saved plan must be re-made, or the secret resolved from the state)", name)
		}
		out[i] = v
	}
	return out, nil
}

// SetSecrets gives a loaded plan its secret values (resolved from the state).
func (p *Plan) SetSecrets(s map[string]string) { p.secrets = s }

// Nodes lists every node the plan touches, sorted.
func (p *Plan) Nodes() []string {
	seen := map[string]bool{}
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			seen[s.Node] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Counts summarises the plan for its last line: node commands by action,
// and state changes by action.
func (p *Plan) Counts() (steps map[Action]int, changes map[Action]int) {
	steps, changes = map[Action]int{}, map[Action]int{}
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			steps[s.Action]++
		}
	}
	for _, c := range p.Changes {
		changes[c.Action]++
	}
	return steps, changes
}

// Empty reports whether the plan does nothing at all: no node command
// but after the commit (the state's copy) and no state change.
func (p *Plan) Empty() bool {
	for _, st := range p.Stages {
		if len(st.Steps) > 0 && !st.AfterCommit {
			return false
		}
	}
	return len(p.Changes) == 0
}

// StaleError refuses a plan made from another state than the current one.
type StaleError struct {
	PlanLineage, StateLineage string
	PlanSerial, StateSerial   int64
}

func (e *StaleError) Error() string {
	if e.PlanLineage != e.StateLineage {
		return fmt.Sprintf("plan was made for cluster state lineage %s, but the state is lineage %s: a plan never applies to another cluster", e.PlanLineage, e.StateLineage)
	}
	return fmt.Sprintf("plan is stale: it was made from state serial %d, but the state is now at serial %d (changed by another operation); make the plan again", e.PlanSerial, e.StateSerial)
}

// CheckFresh returns a *StaleError unless the plan was made from this lineage and serial.
func (p *Plan) CheckFresh(lineage string, serial int64) error {
	if p.StateLineage != lineage || p.StateSerial != serial {
		return &StaleError{PlanLineage: p.StateLineage, StateLineage: lineage, PlanSerial: p.StateSerial, StateSerial: serial}
	}
	return nil
}
