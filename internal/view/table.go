package view

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Column is one column of a Table. Numeric columns are right-aligned, as
// Ganeti aligns number and unit fields.
type Column struct {
	Title   string
	Numeric bool
}

// Table is a list table (gnt-node list, gnt-instance list, gnt-job list, ...)
// with its cells already formatted. Build one with a ListSpec or by hand.
type Table struct {
	Columns []Column
	Rows    [][]string

	// PadLastTitle reproduces Ganeti's older table code (used by gnt-os
	// list), which pads the last title to the column width even though it
	// never pads the last cell: "Name   " above "trivial".
	PadLastTitle bool
}

// TableOpts are the list flags that change the table layout.
type TableOpts struct {
	NoHeaders bool   // --no-headers
	Separator string // --separator: cells joined by it, no padding; "" = aligned columns
}

// RenderTable writes t the way Ganeti does: columns joined by one space,
// text left-aligned and padded, numeric columns right-aligned, and no
// padding after a left-aligned last column. With a Separator the cells are
// joined by it without padding. A header-only table is printed when there
// are no rows (unless NoHeaders).
func RenderTable(w io.Writer, t Table, o TableOpts) error {
	var lines [][]string
	if !o.NoHeaders {
		titles := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			titles[i] = c.Title
		}
		lines = append(lines, titles)
	}
	lines = append(lines, t.Rows...)

	var b strings.Builder
	if o.Separator != "" {
		for _, l := range lines {
			b.WriteString(strings.Join(l, o.Separator))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	}

	width := make([]int, len(t.Columns))
	for _, l := range lines {
		for i := range width {
			width[i] = max(width[i], utf8.RuneCountInString(cell(l, i)))
		}
	}
	last := len(t.Columns) - 1
	for n, l := range lines {
		for i, c := range t.Columns {
			v := cell(l, i)
			if i > 0 {
				b.WriteByte(' ')
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(v))
			switch {
			case c.Numeric:
				b.WriteString(pad)
				b.WriteString(v)
			case i == last && !(t.PadLastTitle && n == 0 && !o.NoHeaders):
				b.WriteString(v)
			default:
				b.WriteString(v)
				b.WriteString(pad)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}
