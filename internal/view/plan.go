package view

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// RenderPlan writes a plan for people: every node command in stage order,
// then the state changes attribute by attribute, then a one-line summary.
// Secrets show as <masked>. The JSON form is the plan.Plan itself (PlanJSON).
//
//   - node2: mkdir -p -m 0750 /var/lib/ganeti/ganetictl
//     ~ node node3
//     master_candidate: false -> true
//     Plan: 1 node command (1 create), 0 to add, 1 to change, 0 to remove.
func RenderPlan(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for %s (state serial %d):\n", p.Operation, p.StateSerial)
	for _, warn := range p.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", warn)
	}
	for i, st := range p.Stages {
		if len(st.Steps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nStage %d: %s", i+1, st.Name)
		switch {
		case st.AfterCommit:
			b.WriteString(" (after the commit)")
		case st.OnError == plan.Continue:
			b.WriteString(" (continue on error)")
		}
		b.WriteString("\n")
		for _, s := range st.Steps {
			writeStep(&b, "  ", &s)
			if s.Undo != nil {
				writeStep(&b, "      undo: ", s.Undo)
			}
		}
	}
	if len(p.Changes) > 0 {
		b.WriteString("\nState changes:\n")
		for _, c := range p.Changes {
			fmt.Fprintf(&b, "  %c %s %s\n", rune(c.Action), c.Kind, c.Name)
			for _, line := range diffLines(c) {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	b.WriteString("\n" + PlanSummary(p) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// PlanJSON writes the plan as JSON (format_version first), secrets masked.
func PlanJSON(w io.Writer, p *plan.Plan) error {
	return JSON(w, maskedPlan(p))
}

func writeStep(b *strings.Builder, indent string, s *plan.Step) {
	var what string
	switch {
	case len(s.Argv) > 3 && s.Argv[0] == "sh" && s.Argv[1] == "-c":
		// A fixed script with positional parameters: show the script's name
		// ($0) and its arguments, which are what varies.
		what = "sh -c <" + s.Argv[3] + " script>"
		if len(s.Argv) > 4 {
			what += " " + quoteMasked(s.Argv[4:])
		}
	case len(s.Argv) > 0:
		what = quoteMasked(s.Argv)
	case s.Source != "":
		what = fmt.Sprintf("upload %s from <%s> (mode %04o)", s.Path, s.Source, s.Mode)
	default:
		what = fmt.Sprintf("upload %s (%d bytes, mode %04o)", s.Path, len(s.Content), s.Mode)
	}
	fmt.Fprintf(b, "%s%c %s: %s\n", indent, rune(s.Action), s.Node, oneLine(what))
	if s.Desc != "" && indent == "  " {
		fmt.Fprintf(b, "%s    # %s\n", indent, s.Desc)
	}
}

// oneLine keeps long inline scripts from flooding the plan.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		lines := strings.Count(s, "\n") + 1
		return s[:i] + fmt.Sprintf(" ...(%d more lines)", lines-1)
	}
	return s
}

// quoteMasked quotes argv for display, one shell word per argument, with
// secret placeholders shown as <masked>.
func quoteMasked(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		// Generated documents (runtime files, configs) passed as arguments
		// would drown the plan; --json shows them whole.
		if len(a) > 160 {
			a = fmt.Sprintf("%s...(%d bytes)", a[:60], len(a))
		}
		switch {
		case plan.IsSecret(a):
			parts[i] = plan.Masked
		case a == "":
			parts[i] = "''"
		case strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]{}!#~"):
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		default:
			parts[i] = a
		}
	}
	return strings.Join(parts, " ")
}

// diffLines lists changed top-level attributes: "key: old -> new", or for a
// created object "key: value" of each non-empty attribute.
func diffLines(c plan.Change) []string {
	var before, after map[string]json.RawMessage
	_ = json.Unmarshal(c.Before, &before)
	_ = json.Unmarshal(c.After, &after)
	skip := map[string]bool{"serial_no": true, "ctime": true, "mtime": true, "uuid": true}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		if !skip[k] {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		o, n := maskJSON(k, before[k]), maskJSON(k, after[k])
		switch c.Action {
		case plan.Create:
			if n != "" && n != `""` && n != "[]" && n != "{}" && n != "null" && n != "false" && n != "0" {
				out = append(out, fmt.Sprintf("%s: %s", k, n))
			}
		case plan.Modify:
			if o != n {
				out = append(out, fmt.Sprintf("%s: %s -> %s", k, orNone(o), orNone(n)))
			}
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// maskJSON hides DRBD secrets: the sixth element of a drbd logical_id.
func maskJSON(key string, raw json.RawMessage) string {
	s := string(raw)
	if key == "disks" && strings.Contains(s, `"drbd"`) {
		var disks []map[string]any
		if json.Unmarshal(raw, &disks) == nil {
			for _, d := range disks {
				maskDisk(d)
			}
			b, _ := marshalRaw(disks)
			return string(b)
		}
	}
	return s
}

func maskDisk(d map[string]any) {
	if d["dev_type"] == "drbd" {
		if id, ok := d["logical_id"].([]any); ok && len(id) > 5 {
			id[5] = plan.Masked
		}
	}
}

func maskedPlan(p *plan.Plan) *plan.Plan {
	c := *p
	c.Stages = make([]plan.Stage, len(p.Stages))
	for i, st := range p.Stages {
		c.Stages[i] = st
		c.Stages[i].Steps = make([]plan.Step, len(st.Steps))
		for j, s := range st.Steps {
			s.Argv = maskArgv(s.Argv)
			if s.Stdin != "" {
				s.Stdin = plan.Masked // never shown, secret or not
			}
			if s.Undo != nil {
				u := *s.Undo
				u.Argv = maskArgv(u.Argv)
				s.Undo = &u
			}
			c.Stages[i].Steps[j] = s
		}
	}
	c.Changes = make([]plan.Change, len(p.Changes))
	for i, ch := range p.Changes {
		ch.Before = maskObject(ch.Before)
		ch.After = maskObject(ch.After)
		c.Changes[i] = ch
	}
	return &c
}

func maskArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if plan.IsSecret(a) {
			a = plan.Masked
		}
		out[i] = a
	}
	return out
}

func maskObject(raw json.RawMessage) json.RawMessage {
	if !strings.Contains(string(raw), `"drbd"`) {
		return raw
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return raw
	}
	if d, ok := obj["disks"]; ok {
		obj["disks"] = json.RawMessage(maskJSON("disks", d))
	}
	b, err := marshalRaw(obj)
	if err != nil {
		return raw
	}
	return b
}

// PlanSummary is the plan's last line.
func PlanSummary(p *plan.Plan) string {
	steps, changes := p.Counts()
	n := 0
	var kinds []string
	for _, a := range []plan.Action{plan.Create, plan.Modify, plan.Remove, plan.Exec, plan.Upload, plan.Read} {
		if steps[a] > 0 {
			n += steps[a]
			kinds = append(kinds, fmt.Sprintf("%d %s", steps[a], a))
		}
	}
	cmds := fmt.Sprintf("%d node command(s)", n)
	if len(kinds) > 0 {
		cmds += " (" + strings.Join(kinds, ", ") + ")"
	}
	return fmt.Sprintf("Plan: %s; state: %d to add, %d to change, %d to remove.",
		cmds, changes[plan.Create], changes[plan.Modify], changes[plan.Remove])
}

// PlanView is a plan as a command's result (--dry-run, --plan-out): the
// text of RenderPlan, or the plan as JSON, secrets masked.
type PlanView struct{ Plan *plan.Plan }

// Text renders the plan for people.
func (v PlanView) Text(w io.Writer) error { return RenderPlan(w, v.Plan) }

// MarshalJSON is the masked plan.
func (v PlanView) MarshalJSON() ([]byte, error) { return marshalRaw(maskedPlan(v.Plan)) }
