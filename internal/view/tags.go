package view

import (
	"fmt"
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

// TagMatch is one tag search-tags found: the object's path and the tag.
type TagMatch struct {
	Path string `json:"path"`
	Tag  string `json:"tag"`
}

// TagMatches are search-tags' findings: "PATH TAG" lines.
type TagMatches []TagMatch

// Text writes one match a line.
func (m TagMatches) Text(w io.Writer) error {
	for _, t := range m {
		if _, err := fmt.Fprintf(w, "%s %s\n", t.Path, t.Tag); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON is the list, [] when empty.
func (m TagMatches) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil([]TagMatch(m))) }
