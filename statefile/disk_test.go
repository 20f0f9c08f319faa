package statefile_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

// roundTrip is d as it comes back from a state file: numbers as float64.
func roundTrip(t *testing.T, d *statefile.Disk) *statefile.Disk {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out statefile.Disk
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestDRBDLogicalID(t *testing.T) {
	want := statefile.DRBDLogicalID{NodeA: "n1", NodeB: "n2", Port: 11000, MinorA: 0, MinorB: 3, Secret: "ab"}
	d := &statefile.Disk{DevType: statefile.DevDRBD}
	d.SetDRBD(want)
	b, _ := json.Marshal(d.LogicalID)
	if string(b) != `["n1","n2",11000,0,3,"ab"]` {
		t.Errorf("SetDRBD wrote %s", b)
	}
	for name, d := range map[string]*statefile.Disk{"in memory": d, "decoded": roundTrip(t, d)} {
		if got, ok := d.DRBD(); !ok || got != want {
			t.Errorf("%s: DRBD() = %+v, %v", name, got, ok)
		}
	}
	for name, bad := range map[string]*statefile.Disk{
		"not drbd":       {DevType: statefile.DevPlain, LogicalID: d.LogicalID},
		"short":          {DevType: statefile.DevDRBD, LogicalID: []any{"n1", "n2", 1, 0, 0}},
		"fractional":     {DevType: statefile.DevDRBD, LogicalID: []any{"n1", "n2", 1.5, 0, 0, "s"}},
		"port string":    {DevType: statefile.DevDRBD, LogicalID: []any{"n1", "n2", "1", 0, 0, "s"}},
		"node number":    {DevType: statefile.DevDRBD, LogicalID: []any{1, "n2", 1, 0, 0, "s"}},
		"secret missing": {DevType: statefile.DevDRBD, LogicalID: []any{"n1", "n2", 1, 0, 0, nil}},
		"nil":            nil,
	} {
		if id, ok := bad.DRBD(); ok {
			t.Errorf("%s: DRBD() = %+v, ok", name, id)
		}
	}
}

func TestLeafLogicalIDs(t *testing.T) {
	type acc func(*statefile.Disk) (string, string, bool)
	for _, tc := range []struct {
		devType string
		set     func(d *statefile.Disk, a, b string)
		get     acc
	}{
		{statefile.DevPlain, (*statefile.Disk).SetPlainLV, (*statefile.Disk).PlainLV},
		{statefile.DevFile, (*statefile.Disk).SetFile, (*statefile.Disk).File},
		{statefile.DevSharedFile, (*statefile.Disk).SetFile, (*statefile.Disk).File},
		{statefile.DevBlockDev, (*statefile.Disk).SetBlockDev, (*statefile.Disk).BlockDev},
		{statefile.DevRBD, (*statefile.Disk).SetRBD, (*statefile.Disk).RBD},
	} {
		d := &statefile.Disk{DevType: tc.devType}
		tc.set(d, "a", "b")
		if a, b, ok := tc.get(roundTrip(t, d)); !ok || a != "a" || b != "b" {
			t.Errorf("%s: got %q, %q, %v", tc.devType, a, b, ok)
		}
		for _, bad := range []*statefile.Disk{
			{DevType: statefile.DevDiskless, LogicalID: d.LogicalID},
			{DevType: tc.devType, LogicalID: []any{"a"}},
			{DevType: tc.devType, LogicalID: []any{"a", 3.0}},
			nil,
		} {
			if a, b, ok := tc.get(bad); ok {
				t.Errorf("%s: accepted %v: %q, %q", tc.devType, bad, a, b)
			}
		}
	}
	if _, _, ok := (&statefile.Disk{DevType: statefile.DevPlain, LogicalID: []any{"vg", "lv"}}).File(); ok {
		t.Errorf("File() read a plain disk")
	}
}

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int64
		ok   bool
	}{
		{3, 3, true}, {int8(-3), -3, true}, {int32(7), 7, true}, {int64(math.MaxInt64), math.MaxInt64, true},
		{uint(5), 5, true}, {uint64(math.MaxUint64), 0, false},
		{128.0, 128, true}, {-2.0, -2, true}, {float32(4), 4, true}, {1.5, 0, false},
		{math.NaN(), 0, false}, {math.Inf(1), 0, false}, {1e19, 0, false}, {-9223372036854775808.0, math.MinInt64, true},
		{json.Number("42"), 42, true}, {json.Number("42.0"), 42, true}, {json.Number("4.2"), 0, false},
		{"42", 0, false}, {true, 0, false}, {nil, 0, false},
	} {
		if got, ok := statefile.Int(tc.v); got != tc.want || ok != tc.ok {
			t.Errorf("Int(%#v) = %d, %v; want %d, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}
