package view

import (
	"encoding/json"
	"io"
)

// JSON writes v as indented JSON (two spaces) with a trailing newline and
// without HTML escaping. Key order is stable: struct fields in declaration
// order, map keys sorted, Info keys in order.
//
//	return view.JSON(s.Out, recs)
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// JSONLine writes v as one compact JSON line (for streamed events and errors).
func JSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
