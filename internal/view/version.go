package view

import (
	"fmt"
	"io"
)

// Version is `ganetictl version`: "ganetictl 0.1.0".
type Version struct {
	Version string `json:"ganetictl_version"`
}

// Text writes "ganetictl <version>".
func (v Version) Text(w io.Writer) error {
	_, err := fmt.Fprintf(w, "ganetictl %s\n", v.Version)
	return err
}
