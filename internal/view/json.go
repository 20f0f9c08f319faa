package view

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// marshalRaw is json.Marshal without HTML escaping, for MarshalJSON
// methods: an encoder does not undo the escaping of what they return.
func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// CompactJSON is v as one line of JSON, for structured values in a list
// column.
func CompactJSON(v any) string {
	b, err := marshalRaw(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// nonNil is s, or an empty list for JSON's [] instead of null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
