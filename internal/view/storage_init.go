package view

import (
	"fmt"
	"io"
	"strings"
)

// NodeDiskInfo is one node's disks, as lvmstrap diskinfo shows them.
type NodeDiskInfo struct {
	Node  string     `json:"node"`
	Error string     `json:"error,omitempty"`
	Disks []DiskLine `json:"disks"`
}

// DiskLine is one disk or partition.
type DiskLine struct {
	Name      string  `json:"name"`
	Partition bool    `json:"partition"`
	SizeMiB   float64 `json:"size_mib"`
	InUse     bool    `json:"in_use"`
	Mount     string  `json:"mount,omitempty"`
	LVM       string  `json:"lvm,omitempty"` // "in VG", "yes,free" or ""
}

// DiskInfos is `node storage-init diskinfo` on some nodes.
type DiskInfos []NodeDiskInfo

// Text writes lvmstrap's table per node.
func (d DiskInfos) Text(w io.Writer) error {
	var b strings.Builder
	for _, n := range d {
		fmt.Fprintf(&b, "------- Disk information: %s -------\n", n.Node)
		if n.Error != "" {
			fmt.Fprintf(&b, "error: %s\n", n.Error)
			continue
		}
		t := Table{Columns: []Column{{Title: "Name"}, {Title: "Size[M]", Numeric: true}, {Title: "Used"}, {Title: "Mount"}, {Title: "LVM?"}}}
		for _, l := range n.Disks {
			name := l.Name
			if l.Partition {
				name = " " + name
			}
			used := "no"
			if l.InUse {
				used = "yes"
			}
			t.Rows = append(t.Rows, []string{name, fmt.Sprintf("%.2f", l.SizeMiB), used, dash(l.Mount), dash(l.LVM)})
		}
		if err := RenderTable(&b, t, TableOpts{}); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
