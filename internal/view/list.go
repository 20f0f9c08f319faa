package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/ganetictl/ganetictl/internal/qfilter"
	"github.com/ganetictl/ganetictl/statefile"
)

// Kind says how a list field's value is printed in a table, after Ganeti's
// query field types.
type Kind int

const (
	KindText   Kind = iota // FormatValue, left-aligned
	KindNumber             // FormatValue, right-aligned
	KindUnit               // a size in MiB: FormatUnit with --units, right-aligned
	KindBool               // "Y" / "N", left-aligned
	KindList               // elements joined by ",", left-aligned
)

var kindNames = [...]string{"Text", "Number", "Unit", "Bool", "List"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field is one selectable column of a list command (a Ganeti query field).
//
// Get returns the typed value: int/int64/float64 for numbers and sizes (in
// MiB), bool, string, a slice for lists, or a Missing marker. JSON output
// uses the value as is; text output formats it by Kind, or by Format when set.
type Field[T any] struct {
	Name   string // what -o takes: "pnode", "disk.sizes"
	Title  string // the column header: "Primary_node"
	Kind   Kind
	Doc    string // one line for list-fields
	Get    func(T) any
	Format func(v any) string // optional text formatter replacing the Kind's
}

// ListSpec describes a noun's list command: every field it knows and the
// fields shown without -o. Declare one per noun as a package variable.
type ListSpec[T any] struct {
	Fields  []Field[T]
	Default []string // field names shown when -o is not given
}

// Selection is the ordered list of fields chosen by an -o argument.
type Selection[T any] []Field[T]

// UnknownFieldError reports an -o field the list does not know. Ganeti exits
// with code 14 (EXIT_UNKNOWN_FIELD) in this case.
type UnknownFieldError struct {
	Field string
	Valid []string // all field names, in spec order
}

func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("unknown field %q (valid fields: %s)", e.Field, strings.Join(e.Valid, ", "))
}

// Select resolves an -o argument: "" gives the default fields, "a,b" gives
// exactly those, "+a,b" appends them to the defaults (Ganeti's rule).
func (s ListSpec[T]) Select(arg string) (Selection[T], error) {
	names := s.Default
	switch {
	case arg == "":
	case strings.HasPrefix(arg, "+"):
		names = append(append([]string(nil), s.Default...), strings.Split(arg[1:], ",")...)
	default:
		names = strings.Split(arg, ",")
	}
	sel := make(Selection[T], 0, len(names))
	for _, n := range names {
		f, ok := s.field(n)
		if !ok {
			return nil, &UnknownFieldError{Field: n, Valid: s.names()}
		}
		sel = append(sel, f)
	}
	return sel, nil
}

// Build selects the fields named by arg (see Select) and makes the table of
// items with Ganeti's default units ("h").
//
//	t, err := nodeSpec.Build(nodes, opts.Output)
//	view.RenderTable(s.Out, t, view.TableOpts{NoHeaders: opts.NoHeaders})
func (s ListSpec[T]) Build(items []T, arg string) (Table, error) {
	sel, err := s.Select(arg)
	if err != nil {
		return Table{}, err
	}
	return sel.Table(items, "h"), nil
}

// Records selects the fields named by arg and returns one ordered JSON object
// per item, keyed by field name with the typed values.
//
//	recs, err := nodeSpec.Records(nodes, opts.Output)
//	view.JSON(s.Out, recs)
func (s ListSpec[T]) Records(items []T, arg string) ([]Info, error) {
	sel, err := s.Select(arg)
	if err != nil {
		return nil, err
	}
	return sel.Records(items), nil
}

// Table formats items into a Table; units as for FormatUnit ("" = "h").
func (sel Selection[T]) Table(items []T, units string) Table {
	t := Table{Columns: make([]Column, len(sel)), Rows: make([][]string, 0, len(items))}
	for i, f := range sel {
		t.Columns[i] = Column{Title: f.Title, Numeric: f.Kind == KindNumber || f.Kind == KindUnit}
	}
	for _, it := range items {
		row := make([]string, len(sel))
		for i, f := range sel {
			row[i] = f.text(f.Get(it), units)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Records returns one ordered object per item, keyed by field name.
func (sel Selection[T]) Records(items []T) []Info {
	out := make([]Info, 0, len(items))
	for _, it := range items {
		rec := make(Info, len(sel))
		for i, f := range sel {
			rec[i] = Item{Key: f.Name, Value: f.Get(it)}
		}
		out = append(out, rec)
	}
	return out
}

// FieldsTable is the list-fields table: Name, Type, Title, Description.
func (s ListSpec[T]) FieldsTable() Table {
	t := Table{Columns: []Column{{Title: "Name"}, {Title: "Type"}, {Title: "Title"}, {Title: "Description"}}}
	for _, f := range s.Fields {
		t.Rows = append(t.Rows, []string{f.Name, f.Kind.String(), f.Title, f.Doc})
	}
	return t
}

func (f Field[T]) text(v any, units string) string {
	if m, ok := v.(Missing); ok {
		return m.String()
	}
	if f.Format != nil {
		return f.Format(v)
	}
	switch f.Kind {
	case KindBool:
		if b, ok := v.(bool); ok {
			if b {
				return "Y"
			}
			return "N"
		}
	case KindUnit:
		if n, ok := statefile.Int(v); ok {
			return FormatUnit(n, units)
		}
	}
	return FormatValue(v)
}

func (s ListSpec[T]) field(name string) (Field[T], bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field[T]{}, false
}

func (s ListSpec[T]) names() []string {
	n := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		n[i] = f.Name
	}
	return n
}

// ListOpts are the flags of a list command.
type ListOpts struct {
	Fields    string // -o: "" defaults, "a,b" exactly, "+a,b" defaults plus
	Units     string // --units h|m|g|t; "" = Ganeti's default (DefaultUnits)
	Separator string // --separator
	NoHeaders bool   // --no-headers
	JSON      bool   // --json: an array of objects keyed by field name
}

// RenderList is a whole list command's output: it selects the fields, then
// writes either the Ganeti table or, with JSON, the records.
//
//	return view.RenderList(s.Out, nodeSpec, nodes, view.ListOpts{Fields: c.Output, JSON: g.JSON})
func RenderList[T any](w io.Writer, spec ListSpec[T], items []T, o ListOpts) error {
	sel, err := spec.Select(o.Fields)
	if err != nil {
		return err
	}
	if o.JSON {
		return JSON(w, sel.Records(items))
	}
	units := o.Units
	if units == "" {
		units = DefaultUnits(o.Separator)
	}
	if err := CheckUnits(units); err != nil {
		return err
	}
	return RenderTable(w, sel.Table(items, units), TableOpts{NoHeaders: o.NoHeaders, Separator: o.Separator})
}

// Filter keeps the rows a query filter accepts (-F; nil keeps all). A
// field the spec does not know is refused before any row is looked at.
func (s ListSpec[T]) Filter(rows []T, e qfilter.Expr) ([]T, error) {
	if e == nil {
		return rows, nil
	}
	for _, name := range qfilter.Fields(e) {
		if _, ok := s.field(name); !ok {
			return nil, fmt.Errorf("unknown field %q in the filter (list-fields shows them)", name)
		}
	}
	var out []T
	for _, r := range rows {
		ok, err := e.Eval(func(name string) (any, bool) {
			f, ok := s.field(name)
			if !ok {
				return nil, false
			}
			v := f.Get(r)
			if _, missing := v.(Missing); missing {
				return nil, true
			}
			return v, true
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}
