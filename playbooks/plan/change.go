package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

// Kinds of state objects a Change names.
const (
	KindCluster   = "cluster"
	KindNodeGroup = "nodegroup"
	KindNode      = "node"
	KindInstance  = "instance"
	KindNetwork   = "network"
	// KindWatcher is the watcher's section of the state (one object,
	// named "watcher"); it has no serial or timestamps of its own.
	KindWatcher = "watcher"
)

// Change is one object of the state created, modified or removed. Before and
// After are the object's JSON (as in the state file); After is what the
// object becomes, Before what it was (for showing the difference and for
// checking that nobody changed it in between).
type Change struct {
	Action Action          `json:"action"` // Create, Modify or Remove
	Kind   string          `json:"kind"`
	Name   string          `json:"name"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Set records obj (a *statefile.Node, *statefile.Instance, ...) as the new
// value of kind/name; before is its current value or nil when it is new.
func (p *Plan) Set(kind, name string, before, after any) error {
	c := Change{Action: Modify, Kind: kind, Name: name}
	var err error
	if isNil(before) {
		c.Action = Create
	} else if c.Before, err = json.Marshal(before); err != nil {
		return fmt.Errorf("plan: encode %s %s: %w", kind, name, err)
	}
	if c.After, err = json.Marshal(after); err != nil {
		return fmt.Errorf("plan: encode %s %s: %w", kind, name, err)
	}
	if c.Action == Modify && string(c.Before) == string(c.After) {
		return nil // nothing changes
	}
	p.Changes = append(p.Changes, c)
	return nil
}

// Delete records the removal of kind/name, whose current value is before.
func (p *Plan) Delete(kind, name string, before any) error {
	b, err := json.Marshal(before)
	if err != nil {
		return fmt.Errorf("plan: encode %s %s: %w", kind, name, err)
	}
	p.Changes = append(p.Changes, Change{Action: Remove, Kind: kind, Name: name, Before: b})
	return nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	b, _ := json.Marshal(v)
	return string(b) == "null"
}

// ApplyChanges applies the plan's changes to st in order, stamping changed
// objects with now (serial bumped, mtime set, ctime set on creation). It
// fails, changing nothing, if an object to modify or remove is missing or an
// object to create exists.
func (p *Plan) ApplyChanges(st *statefile.State, now time.Time) error {
	work, err := clone(st)
	if err != nil {
		return err
	}
	for _, c := range p.Changes {
		if err := applyOne(work, c, now); err != nil {
			return fmt.Errorf("apply change %s %s %s: %w", c.Action, c.Kind, c.Name, err)
		}
	}
	*st = *work
	return nil
}

func applyOne(st *statefile.State, c Change, now time.Time) error {
	switch c.Kind {
	case KindCluster:
		switch {
		case c.Action == Create && st.Cluster.Name != "":
			return fmt.Errorf("the cluster is already initialised as %s", st.Cluster.Name)
		case c.Action == Modify && st.Cluster.Name == "":
			return fmt.Errorf("the cluster is not initialised")
		case c.Action == Remove:
			return fmt.Errorf("the cluster object cannot be removed, only destroyed with its state")
		}
		var cl statefile.Cluster
		if err := json.Unmarshal(c.After, &cl); err != nil {
			return err
		}
		var prev *statefile.Meta
		if c.Action == Modify {
			if err := unchanged(c, &st.Cluster); err != nil {
				return err
			}
			prev = &st.Cluster.Meta
		}
		stamp(&cl.Meta, prev, now)
		st.Cluster = cl
		return nil
	case KindNode:
		return applyMap(st.Nodes, c, now, func(n *statefile.Node) *statefile.Meta { return &n.Meta })
	case KindNodeGroup:
		return applyMap(st.NodeGroups, c, now, func(g *statefile.NodeGroup) *statefile.Meta { return &g.Meta })
	case KindInstance:
		return applyMap(st.Instances, c, now, func(i *statefile.Instance) *statefile.Meta { return &i.Meta })
	case KindNetwork:
		return applyMap(st.Networks, c, now, func(n *statefile.Network) *statefile.Meta { return &n.Meta })
	case KindWatcher:
		if c.Action != Remove && c.Action != Create && c.Action != Modify {
			return fmt.Errorf("action %s is not a state change", c.Action)
		}
		switch {
		case (c.Action == Create) != (st.Watcher == nil):
			return &ChangedError{Kind: c.Kind, Name: c.Name}
		case c.Action != Create:
			if err := unchanged(c, st.Watcher); err != nil {
				return err
			}
		}
		if c.Action == Remove {
			st.Watcher = nil
			return nil
		}
		var w statefile.Watcher
		if err := json.Unmarshal(c.After, &w); err != nil {
			return err
		}
		st.Watcher = &w
		return nil
	}
	return fmt.Errorf("unknown kind %q", c.Kind)
}

func applyMap[T any](m map[string]*T, c Change, now time.Time, meta func(*T) *statefile.Meta) error {
	old, exists := m[c.Name]
	if exists && (c.Action == Remove || c.Action == Modify) {
		if err := unchanged(c, old); err != nil {
			return err
		}
	}
	switch c.Action {
	case Remove:
		if !exists {
			return fmt.Errorf("not in the state")
		}
		delete(m, c.Name)
		return nil
	case Create:
		if exists {
			return fmt.Errorf("already in the state")
		}
	case Modify:
		if !exists {
			return fmt.Errorf("not in the state")
		}
	default:
		return fmt.Errorf("action %s is not a state change", c.Action)
	}
	v := new(T)
	if err := json.Unmarshal(c.After, v); err != nil {
		return err
	}
	var prev *statefile.Meta
	if exists {
		prev = meta(old)
	}
	stamp(meta(v), prev, now)
	m[c.Name] = v
	return nil
}

// ChangedError reports an object that changed since the plan was made
// from it: another operation got there first.
type ChangedError struct{ Kind, Name string }

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s %s was changed by another operation since this plan was made; run the command again", e.Kind, e.Name)
}

// unchanged checks that cur is still what the change was planned from, so
// that a commit on top of other writers' commits never undoes theirs.
func unchanged(c Change, cur any) error {
	if len(c.Before) == 0 {
		return nil
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	// Before may come from a saved plan file, indented.
	var before bytes.Buffer
	if err := json.Compact(&before, c.Before); err != nil {
		return err
	}
	if !bytes.Equal(b, before.Bytes()) {
		return &ChangedError{Kind: c.Kind, Name: c.Name}
	}
	return nil
}

// stamp carries identity over from the previous version and marks the change.
func stamp(m, prev *statefile.Meta, now time.Time) {
	if prev != nil {
		m.UUID, m.Ctime, m.Serial = prev.UUID, prev.Ctime, prev.Serial
	}
	if m.Ctime.IsZero() {
		m.Ctime = now
	}
	m.Touch(now)
}

func clone(st *statefile.State) (*statefile.State, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var out statefile.State
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	// Objects may be added to any collection, so none may be nil.
	if out.NodeGroups == nil {
		out.NodeGroups = map[string]*statefile.NodeGroup{}
	}
	if out.Nodes == nil {
		out.Nodes = map[string]*statefile.Node{}
	}
	if out.Instances == nil {
		out.Instances = map[string]*statefile.Instance{}
	}
	if out.Networks == nil {
		out.Networks = map[string]*statefile.Network{}
	}
	return &out, nil
}

// AppliedTo reports whether st already holds every change of p (a commit
// that completed although its job did not record it). Objects are compared
// without their serial and timestamps, which the commit stamps.
func (p *Plan) AppliedTo(st *statefile.State) bool {
	for _, c := range p.Changes {
		var cur any
		switch c.Kind {
		case KindCluster:
			cur = &st.Cluster
		case KindNode:
			cur = lookup(st.Nodes, c.Name)
		case KindNodeGroup:
			cur = lookup(st.NodeGroups, c.Name)
		case KindInstance:
			cur = lookup(st.Instances, c.Name)
		case KindNetwork:
			cur = lookup(st.Networks, c.Name)
		case KindWatcher:
			if st.Watcher != nil {
				cur = st.Watcher
			}
		}
		if c.Action == Remove {
			if cur != nil {
				return false
			}
			continue
		}
		if cur == nil {
			return false
		}
		b, err := json.Marshal(cur)
		if err != nil || !sameContent(b, c.After) {
			return false
		}
	}
	return true
}

func lookup[T any](m map[string]*T, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	return nil
}

// sameContent compares two objects' JSON without their Meta stamps.
func sameContent(a, b []byte) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	for _, k := range []string{"serial_no", "ctime", "mtime"} {
		delete(x, k)
		delete(y, k)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
