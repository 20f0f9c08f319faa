package view

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"sort"
	"strings"
)

// Info is an ordered mapping printed as "key: value" lines, Ganeti's
// gnt-*-info shape. A value may be:
//   - a scalar (string, bool, number, nil, Missing): printed with FormatValue
//     after "key: ";
//   - a nested Info or a map with string keys (printed in sorted key order,
//     as Ganeti prints dicts): "key: " then the children indented two spaces;
//   - a slice (List, []string, []Info, ...): "key: " then "- item" lines;
//   - Inline: printed on the key's line as "[a, b]".
//
// Empty nested values print as "key: " with the trailing space, as Ganeti does.
// Info marshals to a JSON object with its keys in order.
type Info []Item

// Item is one key of an Info.
type Item struct {
	Key   string
	Value any
}

// List is a sequence of values printed as "- " items; use it for mixed lists.
type List []any

// Inline is a short list printed on one line as "[a, b]" (a Python tuple).
// It marshals to a JSON array.
type Inline []any

// Add appends a key and returns the Info, for building literals in order:
//
//	info := view.Info{}.Add("Cluster name", c.Name).Add("Tags", "(none)")
func (in Info) Add(key string, value any) Info { return append(in, Item{key, value}) }

// Text renders the Info as Ganeti's info commands print one object
// (gnt-cluster info): Info is a Result, its JSON the ordered object.
func (in Info) Text(w io.Writer) error { return RenderInfo(w, in) }

// Infos are the objects of an info command that shows several (gnt-node
// info, gnt-instance info): each printed as a "- " item, JSON an array.
type Infos []Info

// Text renders each Info as a "- " item.
func (in Infos) Text(w io.Writer) error { return RenderInfo(w, []Info(in)) }

// MarshalJSON writes the items as one JSON object, keys in order.
func (in Info) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, it := range in {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := marshalNoEscape(&b, it.Key); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := marshalNoEscape(&b, it.Value); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// RenderInfo writes data (an Info, a map, a slice of them, or a List) the way
// Ganeti's gnt-* info commands print it. gnt-cluster info passes one Info;
// gnt-node info and gnt-instance info pass a List (or []Info) with one Info
// per object, which prints each as "- Node name: ...".
//
//	view.RenderInfo(s.Out, []view.Info{nodeInfo(n)})
func RenderInfo(w io.Writer, data any) error {
	var b strings.Builder
	serialize(&b, data, 0, false)
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

const indentUnit = "  "

// serialize mirrors the layout rules of Ganeti's generic info printer:
// containers after a key start on a new line indented by level; the first
// entry of a container inside a list item stays on the "- " line.
func serialize(b *strings.Builder, data any, level int, afterKey bool) {
	switch d := data.(type) {
	case Info:
		if len(d) == 0 {
			b.WriteByte('\n')
			return
		}
		startBlock(b, afterKey)
		for i, it := range d {
			if i > 0 || afterKey {
				b.WriteString(strings.Repeat(indentUnit, level))
			}
			b.WriteString(it.Key)
			b.WriteString(": ")
			serialize(b, it.Value, level+1, true)
		}
		return
	case Inline:
		parts := make([]string, len(d))
		for i, v := range d {
			parts[i] = FormatValue(v)
		}
		b.WriteString("[" + strings.Join(parts, ", ") + "]\n")
		return
	case Missing, nil, string:
		b.WriteString(FormatValue(d) + "\n")
		return
	}
	rv := reflect.ValueOf(data)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			serialize(b, mapInfo(rv), level, afterKey)
			return
		}
	case reflect.Slice, reflect.Array:
		if rv.Len() == 0 {
			b.WriteByte('\n')
			return
		}
		startBlock(b, afterKey)
		for i := range rv.Len() {
			if i > 0 || afterKey {
				b.WriteString(strings.Repeat(indentUnit, level))
			}
			b.WriteString("- ")
			serialize(b, rv.Index(i).Interface(), level+1, false)
		}
		return
	}
	b.WriteString(FormatValue(data) + "\n")
}

func startBlock(b *strings.Builder, afterKey bool) {
	if afterKey {
		b.WriteByte('\n')
	}
}

func mapInfo(rv reflect.Value) Info {
	keys := make([]string, 0, rv.Len())
	vals := map[string]any{}
	for it := rv.MapRange(); it.Next(); {
		k := it.Key().String()
		keys = append(keys, k)
		vals[k] = it.Value().Interface()
	}
	sort.Strings(keys)
	in := make(Info, len(keys))
	for i, k := range keys {
		in[i] = Item{k, vals[k]}
	}
	return in
}

// ParamsInfo formats a parameter dictionary as Ganeti's info commands do:
// for each key of effective (sorted), the value set on the object itself
// (own), else "default (<effective value>)". Nested non-empty maps recurse.
//
//	info.Add("node parameters", view.ParamsInfo(n.NDParams, effectiveND))
func ParamsInfo(own, effective map[string]any) Info {
	keys := make([]string, 0, len(effective))
	for k := range effective {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(Info, 0, len(keys))
	for _, k := range keys {
		v := effective[k]
		if sub, ok := asMap(v); ok && len(sub) > 0 {
			ownSub, _ := asMap(own[k])
			out = append(out, Item{k, ParamsInfo(ownSub, sub)})
			continue
		}
		if o, ok := own[k]; ok {
			out = append(out, Item{k, FormatValue(o)})
		} else {
			out = append(out, Item{k, "default (" + FormatValue(v) + ")"})
		}
	}
	return out
}

// asMap converts any map with string keys (map[string]any, statefile.Params,
// map[string]string, ...) to map[string]any.
func asMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, true
}
