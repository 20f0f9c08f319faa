package statefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// upgraders is the upgrade chain: upgraders[v] turns the raw JSON of format v
// into format v+1. Read applies them in order until FormatVersion is reached.
// Only the newest format is ever written.
//
// When format 2 is introduced: add upgraders[1] = upgradeV1toV2, bump
// FormatVersion, and add a roundtrip fixture with a v1 .in.json and a v2
// .out.json.
var upgraders = map[int]func(raw map[string]json.RawMessage) (map[string]json.RawMessage, error){}

// VersionError reports a state written in a format this build cannot read.
type VersionError struct {
	Path    string // file the state came from, "" when unknown
	Version int    // format_version found in the file
}

func (e *VersionError) Error() string {
	if e.Version > FormatVersion {
		return fmt.Sprintf("%s: state format %d is newer than this ganetictl understands (%d); upgrade ganetictl",
			pathOr(e.Path), e.Version, FormatVersion)
	}
	return fmt.Sprintf("%s: state format %d is not supported (this ganetictl reads formats 1..%d)",
		pathOr(e.Path), e.Version, FormatVersion)
}

// CorruptError reports a state file that cannot be decoded. Its message points
// the user at the history kept beside the state.
type CorruptError struct {
	Path string // file the state came from, "" when unknown
	Err  error  // what the decoder said
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s is corrupt: %v; the previous versions are in history/: "+
		"list them with `ganetictl state history` and copy history/<serial>.json over state.json to restore one",
		pathOr(e.Path), e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

func pathOr(p string) string {
	if p == "" {
		return "state"
	}
	return p
}

// Read decodes a state in any format version this build understands,
// upgrading older formats to [FormatVersion]. It never returns a partial
// state: on failure the error is a [*CorruptError] (bad JSON, missing or
// inconsistent fields) or a [*VersionError] (a format it cannot read). The
// errors carry no path; [DirStore] fills it in.
//
// Unknown fields are rejected: a field this build does not know means the file
// was written by a newer ganetictl or edited by hand, and writing it back would
// silently drop data.
func Read(r io.Reader) (*State, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return decode(data)
}

func decode(data []byte) (*State, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &CorruptError{Err: err}
	}
	if raw == nil {
		return nil, &CorruptError{Err: errors.New("not a JSON object")}
	}
	fv, ok := raw["format_version"]
	if !ok {
		return nil, &CorruptError{Err: errors.New("no format_version field")}
	}
	var v int
	if err := json.Unmarshal(fv, &v); err != nil {
		return nil, &CorruptError{Err: fmt.Errorf("format_version: %w", err)}
	}
	if v < 1 || v > FormatVersion {
		return nil, &VersionError{Version: v}
	}
	var err error
	for ; v < FormatVersion; v++ {
		up, ok := upgraders[v]
		if !ok {
			return nil, &VersionError{Version: v}
		}
		if raw, err = up(raw); err != nil {
			return nil, &CorruptError{Err: fmt.Errorf("upgrade from format %d: %w", v, err)}
		}
	}
	if v != FormatVersion {
		return nil, &VersionError{Version: v}
	}
	if len(upgraders) > 0 {
		raw["format_version"] = json.RawMessage(fmt.Sprint(FormatVersion))
		if data, err = json.Marshal(raw); err != nil {
			return nil, &CorruptError{Err: err}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	st := new(State)
	if err := dec.Decode(st); err != nil {
		return nil, &CorruptError{Err: err}
	}
	if dec.More() {
		return nil, &CorruptError{Err: errors.New("trailing data after the state object")}
	}
	if err := st.check(); err != nil {
		return nil, &CorruptError{Err: err}
	}
	st.fillMaps()
	return st, nil
}

// check rejects states whose structure would make callers panic or
// misbehave: nil objects, and objects filed under a name other than their own.
func (st *State) check() error {
	if st.Serial < 0 {
		return fmt.Errorf("negative serial %d", st.Serial)
	}
	if err := checkMap("nodegroups", st.NodeGroups, func(g *NodeGroup) string { return g.Name }); err != nil {
		return err
	}
	if err := checkMap("nodes", st.Nodes, func(n *Node) string { return n.Name }); err != nil {
		return err
	}
	if err := checkMap("instances", st.Instances, func(i *Instance) string { return i.Name }); err != nil {
		return err
	}
	if err := checkMap("networks", st.Networks, func(n *Network) string { return n.Name }); err != nil {
		return err
	}
	for name, inst := range st.Instances {
		for i, d := range inst.Disks {
			if err := checkDisk(d); err != nil {
				return fmt.Errorf("instances[%q].disks[%d]: %w", name, i, err)
			}
		}
		for i, n := range inst.NICs {
			if n == nil {
				return fmt.Errorf("instances[%q].nics[%d] is null", name, i)
			}
		}
	}
	return nil
}

func checkDisk(d *Disk) error {
	if d == nil {
		return errors.New("disk is null")
	}
	for i, c := range d.Children {
		if err := checkDisk(c); err != nil {
			return fmt.Errorf("children[%d]: %w", i, err)
		}
	}
	return nil
}

func checkMap[T any](what string, m map[string]*T, name func(*T) string) error {
	for k, v := range m {
		if v == nil {
			return fmt.Errorf("%s[%q] is null", what, k)
		}
		if n := name(v); n != k {
			return fmt.Errorf("%s[%q] has name %q; the key must be the object's name", what, k, n)
		}
	}
	return nil
}

// Write encodes st in the current format as canonical JSON: map keys sorted,
// tags and port pools sorted, nil lists written as [], two-space indent and a
// trailing newline, so that equal states give equal bytes. It writes
// FormatVersion whatever st.FormatVersion says and does not modify st.
func Write(w io.Writer, st *State) error {
	b, err := Marshal(st)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// Marshal returns the canonical encoding that [Write] writes.
func Marshal(st *State) ([]byte, error) {
	c := st.Clone()
	c.FormatVersion = FormatVersion
	c.canonicalize()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return buf.Bytes(), nil
}

func sortedTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	slices.Sort(t)
	return slices.Compact(t)
}

func (st *State) canonicalize() {
	st.fillMaps()
	st.Cluster.Tags = sortedTags(st.Cluster.Tags)
	slices.Sort(st.Cluster.TCPUDPPortPool)
	if st.Cluster.EnabledHypervisors == nil {
		st.Cluster.EnabledHypervisors = []string{}
	}
	if st.Cluster.EnabledDiskTemplates == nil {
		st.Cluster.EnabledDiskTemplates = []string{}
	}
	for _, g := range st.NodeGroups {
		g.Tags = sortedTags(g.Tags)
	}
	for _, n := range st.Nodes {
		n.Tags = sortedTags(n.Tags)
	}
	for _, n := range st.Networks {
		n.Tags = sortedTags(n.Tags)
	}
	for _, i := range st.Instances {
		i.Tags = sortedTags(i.Tags)
		if i.Disks == nil {
			i.Disks = []*Disk{}
		}
		if i.NICs == nil {
			i.NICs = []*NIC{}
		}
		for _, d := range i.Disks {
			canonDisk(d)
		}
	}
}

func canonDisk(d *Disk) {
	if d.LogicalID == nil {
		d.LogicalID = []any{}
	}
	if d.Nodes == nil {
		d.Nodes = []string{}
	}
	for _, c := range d.Children {
		canonDisk(c)
	}
}
