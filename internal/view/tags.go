package view

import (
	"io"
	"strings"
)

// Tags is `list-tags` (cluster, node, instance): one tag a line, JSON an
// array ([] when there are none).
type Tags []string

// Text writes one tag a line.
func (t Tags) Text(w io.Writer) error {
	if len(t) == 0 {
		return nil
	}
	_, err := io.WriteString(w, strings.Join(t, "\n")+"\n")
	return err
}

// MarshalJSON is the tags as an array.
func (t Tags) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil([]string(t))) }
