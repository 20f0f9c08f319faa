package view

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// OSList is `os list`: the OS definitions (with their variants, as
// "name+variant") valid on every node that answered.
type OSList struct {
	Names     []string
	NoHeaders bool
}

// Text writes gnt-os list's one-column table.
func (l OSList) Text(w io.Writer) error {
	t := Table{Columns: []Column{{Title: "Name"}}, PadLastTitle: true}
	for _, n := range l.Names {
		t.Rows = append(t.Rows, []string{n})
	}
	return RenderTable(w, t, TableOpts{NoHeaders: l.NoHeaders})
}

// MarshalJSON is the names, [] when there are none.
func (l OSList) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil(l.Names)) }

// OSDef is an OS definition as a node reports it (playbooks.OSDef).
type OSDef struct {
	Name       string   `json:"name"`
	Path       string   `json:"path"`
	APIs       []int    `json:"api_versions"`
	Variants   []string `json:"variants"`
	Parameters []string `json:"parameters"`
	Missing    []string `json:"missing_scripts,omitempty"`
	Invalid    string   `json:"invalid,omitempty"`
}

// OSNodeStatus is an OS definition's status on one node.
type OSNodeStatus struct {
	Node   string `json:"node"`
	Status string `json:"status"`       // "valid", "invalid - <why>", "OS not found", "node unreachable: ..."
	OS     *OSDef `json:"os,omitempty"` // as the node has it, when it has it
}

// OSStatus is one OS definition across the nodes.
type OSStatus struct {
	Name   string
	Global string // "valid", "invalid", "invalid - not present on all nodes"
	Nodes  []OSNodeStatus
}

// OSDiagnosis is `os diagnose`: every OS definition found, in name order.
type OSDiagnosis []OSStatus

// Text writes gnt-os diagnose's blocks:
//
//	OS: debootstrap [global status: valid]
//	  Node: node1, status: valid (path: /srv/ganeti/os/debootstrap) [API versions: 20]
func (d OSDiagnosis) Text(w io.Writer) error {
	var b strings.Builder
	for _, o := range d {
		lines := make([]string, len(o.Nodes))
		for i, ns := range o.Nodes {
			line := fmt.Sprintf("  Node: %s, status: %s", ns.Node, ns.Status)
			if ns.OS != nil {
				line += fmt.Sprintf(" (path: %s)", ns.OS.Path)
				if len(ns.OS.Variants) > 0 {
					line += " [variants: " + strings.Join(ns.OS.Variants, ", ") + "]"
				}
				if len(ns.OS.Parameters) > 0 {
					line += " [parameters: " + strings.Join(ns.OS.Parameters, ", ") + "]"
				}
				line += fmt.Sprintf(" [API versions: %s]", strings.Trim(fmt.Sprint(ns.OS.APIs), "[]"))
			}
			lines[i] = line
		}
		fmt.Fprintf(&b, "OS: %s [global status: %s]\n%s\n\n", o.Name, o.Global, strings.Join(lines, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON is an object: OS name -> its status on each node.
func (d OSDiagnosis) MarshalJSON() ([]byte, error) {
	m := make(map[string][]OSNodeStatus, len(d))
	for _, o := range d {
		m[o.Name] = o.Nodes
	}
	return marshalRaw(m)
}

// OSInfo is one OS for gnt-os info.
type OSInfo struct {
	Name        string                      `json:"name"`
	Valid       bool                        `json:"valid"`
	Hidden      bool                        `json:"hidden"`
	Blacklisted bool                        `json:"blacklisted"`
	APIs        []int                       `json:"api_versions"`
	Variants    []string                    `json:"variants"`
	Parameters  []string                    `json:"parameters"`
	HVParams    map[string]statefile.Params `json:"os_hvp,omitempty"`
	OSParams    statefile.Params            `json:"osparams,omitempty"`
}

// OSInfos are gnt-os info's result.
type OSInfos []OSInfo

// Text writes Ganeti's shape: "name:" then "  - key: value" lines.
func (l OSInfos) Text(w io.Writer) error {
	var b strings.Builder
	for _, o := range l {
		fmt.Fprintf(&b, "%s:\n  - valid: %s\n  - hidden: %s\n  - blacklisted: %s\n", o.Name, FormatValue(o.Valid), FormatValue(o.Hidden), FormatValue(o.Blacklisted))
		if o.Valid {
			b.WriteString("  - API versions:\n")
			for _, v := range o.APIs {
				fmt.Fprintf(&b, "    - %d\n", v)
			}
			b.WriteString("  - variants:\n")
			for _, v := range o.Variants {
				fmt.Fprintf(&b, "    - %s\n", v)
			}
			b.WriteString("  - parameters:\n")
			for _, p := range o.Parameters {
				fmt.Fprintf(&b, "    - %s\n", p)
			}
		}
		if len(o.HVParams) > 0 || len(o.OSParams) > 0 {
			b.WriteString("  - OS-specific hypervisor parameters:\n")
			for _, hv := range slices.Sorted(maps.Keys(o.HVParams)) {
				fmt.Fprintf(&b, "    - %s: %s\n", hv, PyRepr(o.HVParams[hv]))
			}
			fmt.Fprintf(&b, "  - OS parameters: %s\n", PyRepr(o.OSParams))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON is the list, [] when empty.
func (l OSInfos) MarshalJSON() ([]byte, error) { return marshalRaw(nonNil([]OSInfo(l))) }
