package main

import (
	"reflect"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestParseBE(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want statefile.Params
		bad  bool
	}{
		{in: "maxmem=1G,minmem=512", want: statefile.Params{"maxmem": int64(1024), "minmem": int64(512)}},
		{in: "memory=128m,vcpus=2", want: statefile.Params{"memory": int64(128), "vcpus": int64(2)}},
		{in: "maxmem=default", want: statefile.Params{"maxmem": "default"}},
		{in: "auto_balance=no", want: statefile.Params{"auto_balance": false}},
		{in: "maxmem=lots", bad: true},
		{in: "maxmem", bad: true},
	} {
		got, err := parseBE(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("parseBE(%q) error = %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseBE(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
