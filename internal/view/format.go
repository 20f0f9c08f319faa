package view

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Missing marks a value a field could not produce, as Ganeti's query result
// statuses do. Text renders it as Ganeti's short marker; JSON as null.
type Missing int

const (
	Unavail Missing = iota + 1 // "-": not available (e.g. memory of a stopped instance)
	NoData                     // "?": the node did not answer
	Offline                    // "*": the node is offline
	Unknown                    // "??": unknown field
)

func (m Missing) String() string {
	switch m {
	case Unavail:
		return "-"
	case NoData:
		return "?"
	case Offline:
		return "*"
	}
	return "??"
}

// MarshalJSON renders a Missing value as null.
func (Missing) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// FormatValue formats a scalar the way Ganeti's Python prints it with str():
// nil as "None", booleans as "True"/"False", floats in shortest form
// (integral ones without ".0", see formatFloat),
// times as "2006-01-02 15:04:05", lists as comma-joined, and anything else
// with fmt's %v.
func FormatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case Missing:
		return v.String()
	case float64:
		return formatFloat(v)
	case float32:
		return formatFloat(float64(v))
	case time.Time:
		return v.Format(time.DateTime)
	case fmt.Stringer:
		return v.String()
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
		return joinList(rv)
	}
	return fmt.Sprint(v)
}

func joinList(rv reflect.Value) string {
	parts := make([]string, rv.Len())
	for i := range parts {
		parts[i] = FormatValue(rv.Index(i).Interface())
	}
	return strings.Join(parts, ",")
}

// formatFloat prints the shortest decimal form, integral values without a
// fraction: parameters decoded from JSON are float64 even when they are
// Ganeti integers (maxmem 128 must print "128", not Python's "128.0").
// Exponent form is used below 1e-4 and from 1e16, as Python does.
func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) || math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// stamp is a time as Ganeti's info and list commands show it, in local
// time: "2006-01-02 15:04:05"; "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.DateTime)
}
