package qfilter

import (
	"strings"
	"testing"
)

func TestFilters(t *testing.T) {
	row := map[string]any{"name": "web1.example.com", "pnode": "node1", "status": "running", "mem": int64(512),
		"tags": []string{"prod", "dc1"}, "admin_up": true, "offline": false, "snodes": []string{}}
	get := func(f string) (any, bool) { v, ok := row[f]; return v, ok }
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`pnode == "node1" and status == "running"`, true},
		{`pnode == "node2" or status == "running"`, true},
		{`pnode = "node1"`, true},
		{`pnode != "node1"`, false},
		{`mem > 256 and mem <= 512`, true},
		{`mem < 512`, false},
		{`mem >= 1024`, false},
		{`"prod" in tags`, true},
		{`"test" in tags`, false},
		{`"test" not in tags`, true},
		{`name =~ m/^WEB/i`, true},
		{`name =~ /^db/`, false},
		{`name !~ #^db#`, true},
		{`name =* "web*"`, true},
		{`name =* "*.example.com"`, true},
		{`name =* "*.com"`, false}, // * stays inside a label
		{`name !* "db*"`, true},
		{`admin_up`, true},
		{`offline`, false},
		{`not offline and admin_up`, true},
		{`not (pnode == "node1" or mem > 1)`, false},
		{`snodes`, false},
		{`pnode == 'node1'`, true},
	} {
		e, err := Parse(tc.filter)
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.filter, err)
			continue
		}
		got, err := e.Eval(get)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v (%v), want %v", tc.filter, got, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for filter, want := range map[string]string{
		`pnode ==`:         "a number or a quoted string is wanted at the end",
		`pnode == "a`:      "unterminated string",
		`(pnode == "a"`:    "')' is wanted",
		`name =~ foo`:      "a regular expression",
		`name =~ /x/q`:     "unknown regular expression flags",
		`"x" tags`:         "'in' is wanted",
		`pnode == "a" "b"`: "unexpected",
		`pnode == "a" and`: "a condition is wanted",
		`name =~ /(/`:      "missing closing )",
		`pnode === "a"`:    "a number or a quoted string is wanted",
	} {
		if _, err := Parse(filter); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) = %v, want %q", filter, err, want)
		}
	}
}

func TestFieldsAndDetection(t *testing.T) {
	e, err := Parse(`pnode == "a" and ("x" in tags or not offline)`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(Fields(e), ","); got != "pnode,tags,offline" {
		t.Errorf("Fields = %s", got)
	}
	if _, err := e.Eval(func(string) (any, bool) { return nil, false }); err == nil || !strings.Contains(err.Error(), `unknown field "pnode"`) {
		t.Errorf("unknown field: %v", err)
	}
	for arg, want := range map[string]bool{"web1": false, "web1.example.com": false, `name == "x"`: true, "(a)": true} {
		if LooksLikeFilter(arg) != want {
			t.Errorf("LooksLikeFilter(%q) != %v", arg, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`a == "b"`, `not (x or y) and "z" in t`, `n =~ m/x/i`, `m < -3`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err == nil {
			_, _ = e.Eval(func(string) (any, bool) { return "v", true })
		}
	})
}
