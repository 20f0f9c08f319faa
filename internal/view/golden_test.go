package view

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/internal/fixtures"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// ganetiGolden returns the output part of a file of the shared Ganeti 3.0.2
// transcripts: without the "$ command" first line and the "[exit N]" last line.
func ganetiGolden(t *testing.T, name string) string {
	t.Helper()
	b := fixtures.ReadReference(t, "ganeti-golden", name)
	s := string(b)
	if !strings.HasPrefix(s, "$ ") {
		t.Fatalf("%s: no command line", name)
	}
	s = s[strings.IndexByte(s, '\n')+1:]
	i := strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n[exit ")
	if i < 0 {
		t.Fatalf("%s: no [exit N] line", name)
	}
	return s[:i+1]
}

// checkGolden compares got with testdata/name, rewriting it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch:\n%s", name, diff(string(want), string(got)))
	}
}

// diff shows the first differing line, with visible line ends.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return "line " + itoa(i+1) + ":\nwant " + strquote(wl) + "\ngot  " + strquote(gl) + "\n--- full got:\n" + got
		}
	}
	return "(equal?)"
}

func itoa(i int) string        { return FormatValue(i) }
func strquote(s string) string { return "\"" + s + "$\"" }

func assertText(t *testing.T, what, want, got string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n%s", what, diff(want, got))
	}
}
