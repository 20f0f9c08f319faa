package main

import "testing"

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"100M": 100 << 20, "1.5G": 3 << 29, "512K": 512 << 10, "100M/s": 100 << 20, "20MB/s": 20 << 20, "4096": 4096} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5M", "fast", "10", "M"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}
