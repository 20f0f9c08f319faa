package statefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAtomicRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	for _, p := range []string{link, sub} {
		err := writeAtomic(p, []byte("new"), 0o600)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("writeAtomic(%s) = %v, want refusal", filepath.Base(p), err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("symlink target changed to %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("temp files left behind: %v", ents)
	}
	p := filepath.Join(dir, "file")
	if err := writeAtomic(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode())
	}
}
