package statefile_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

var update = flag.Bool("update", false, "rewrite testdata/roundtrip/*.out.json")

// TestRoundtrip reads every testdata/roundtrip/<name>.in.json, writes it and
// compares with <name>.out.json; the output must itself read back to the
// same bytes.
func TestRoundtrip(t *testing.T) {
	ins, _ := filepath.Glob("testdata/roundtrip/*.in.json")
	if len(ins) == 0 {
		t.Fatal("no roundtrip fixtures")
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := statefile.Read(f)
			if err != nil {
				t.Fatalf("Read(%s): %v", in, err)
			}
			var got bytes.Buffer
			if err := statefile.Write(&got, st); err != nil {
				t.Fatal(err)
			}
			outPath := filepath.Join("testdata/roundtrip", name+".out.json")
			if *update {
				os.WriteFile(outPath, got.Bytes(), 0o644)
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("Write(Read(%s)) differs from %s (go test -update rewrites it):\n%s", in, outPath, got.String())
			}
			again, err := statefile.Read(bytes.NewReader(want))
			if err != nil {
				t.Fatalf("Read(%s): %v", outPath, err)
			}
			var got2 bytes.Buffer
			statefile.Write(&got2, again)
			if !bytes.Equal(got2.Bytes(), want) {
				t.Errorf("%s is not a fixed point of Read/Write", outPath)
			}
			if !statefile.Equal(st, again) {
				t.Errorf("Equal(in, out) = false")
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		in      string
		corrupt bool
		want    string
	}{
		{`{"format_version": 7, "serial": 1}`, false, "state format 7 is newer than this ganetictl understands (1); upgrade ganetictl"},
		{`{"format_version": 0}`, false, "state format 0 is not supported"},
		{`{"serial": 1}`, true, "no format_version"},
		{`{"format_version": "1"}`, true, "format_version"},
		{`[]`, true, "cannot unmarshal"},
		{`null`, true, "not a JSON object"},
		{``, true, "unexpected end of JSON input"},
		{`{"format_version": 1, "serial": 1`, true, "unexpected end"},
		{`{"format_version": 1, "bogus": 1}`, true, `unknown field "bogus"`},
		{`{"format_version": 1, "nodes": {"a": null}}`, true, `nodes["a"] is null`},
		{`{"format_version": 1, "nodes": {"a": {"name": "b"}}}`, true, `has name "b"`},
		{`{"format_version": 1, "instances": {"i": {"name": "i", "disks": [null]}}}`, true, "disk is null"},
		{`{"format_version": 1, "serial": -4}`, true, "negative serial"},
		{`{"format_version": 1} {}`, true, "after top-level value"},
	}
	for _, tt := range tests {
		_, err := statefile.Read(strings.NewReader(tt.in))
		var ce *statefile.CorruptError
		var ve *statefile.VersionError
		switch {
		case err == nil:
			t.Errorf("Read(%q) succeeded", tt.in)
			continue
		case tt.corrupt && !errors.As(err, &ce):
			t.Errorf("Read(%q) = %v, want *CorruptError", tt.in, err)
		case !tt.corrupt && !errors.As(err, &ve):
			t.Errorf("Read(%q) = %v, want *VersionError", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Read(%q) = %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestCorruptErrorMessage(t *testing.T) {
	err := &statefile.CorruptError{Path: "state/state.json", Err: errors.New("unexpected end of JSON input")}
	want := "state/state.json is corrupt: unexpected end of JSON input; the previous versions are in history/: " +
		"list them with `ganetictl state history` and copy history/<serial>.json over state.json to restore one"
	if err.Error() != want {
		t.Errorf("CorruptError = %q\nwant %q", err, want)
	}
}

func FuzzRead(f *testing.F) {
	ins, _ := filepath.Glob("testdata/roundtrip/*.json")
	for _, in := range ins {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Add([]byte(`{"format_version": 2}`))
	f.Add([]byte(`{"format_version": 1, "instances": {"i": {"name": "i", "disks": [{"dev_type": "drbd", "logical_id": [1], "children": [null]}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := statefile.Read(bytes.NewReader(data))
		if err != nil {
			var ce *statefile.CorruptError
			var ve *statefile.VersionError
			if !errors.As(err, &ce) && !errors.As(err, &ve) {
				t.Fatalf("Read error %T %v is neither CorruptError nor VersionError", err, err)
			}
			return
		}
		// Whatever reads must write, read back, mask and compare.
		var buf bytes.Buffer
		if err := statefile.Write(&buf, st); err != nil {
			t.Fatalf("Write after Read: %v", err)
		}
		st2, err := statefile.Read(&buf)
		if err != nil {
			t.Fatalf("Read(Write(st)): %v\n%s", err, buf.String())
		}
		if !statefile.Equal(st, st2) {
			t.Fatalf("Read(Write(st)) differs from st")
		}
		st.Masked()
		st.InstancesOnNode("x")
	})
}
