package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks"
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

// TagMatches are search-tags' findings: "PATH TAG" lines.
type TagMatches []playbooks.TagMatch

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
func (m TagMatches) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil([]playbooks.TagMatch(m))) }
