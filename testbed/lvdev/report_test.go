package lvdev

import "testing"

// Output of the real pvs (lvm2 2.03.16) after: create a, b, c (8 MiB
// each), remove a, extend b to 16 MiB.
const fragmented = `  /dev/loop0|1048576|0|2|tvg|4194304|||0|0
  /dev/loop0|1048576|2|2|tvg|4194304|b|xksASu|16777216|0
  /dev/loop0|1048576|4|2|tvg|4194304|c|q2byxU|8388608|0
  /dev/loop0|1048576|6|2|tvg|4194304|b|xksASu|16777216|8388608
  /dev/loop0|1048576|8|247|tvg|4194304|||0|0
`

func TestParseReport(t *testing.T) {
	lvs, err := parseReport(fragmented)
	if err != nil {
		t.Fatal(err)
	}
	if len(lvs) != 2 || lvs[0].Name != "b" || lvs[1].Name != "c" {
		t.Fatalf("lvs = %+v", lvs)
	}
	pv, off, size, err := lvs[1].Extent()
	if err != nil || pv != "/dev/loop0" || off != 1048576+4*4194304 || size != 8388608 {
		t.Fatalf("c extent = %s %d %d %v", pv, off, size, err)
	}
	if _, _, _, err := lvs[0].Extent(); err == nil {
		t.Fatal("b is split in two PV ranges; want an error")
	}
}

func TestExtentMergesAdjacent(t *testing.T) {
	lv := LV{VG: "v", Name: "x", Segs: []Seg{{"/dev/loop1", 100, 50}, {"/dev/loop1", 150, 25}}}
	if _, off, size, err := lv.Extent(); err != nil || off != 100 || size != 75 {
		t.Fatalf("got %d %d %v", off, size, err)
	}
	lv.Segs = []Seg{{"/dev/loop1", 150, 25}, {"/dev/loop1", 100, 50}} // adjacent but in reverse LV order
	if _, _, _, err := lv.Extent(); err == nil {
		t.Fatal("want error for reversed segments")
	}
}
