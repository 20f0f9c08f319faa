package statefile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

func marshalAt(t *testing.T, lineage string, serial int64, name string) []byte {
	t.Helper()
	st := statefile.New(lineage)
	st.Serial = serial
	st.Cluster.Name = name
	b, err := statefile.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Install keeps a copy byte for byte with its serial; the next Write
// continues from it; the replaced state goes to the history.
func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := statefile.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := mustLock(t, s, "install")
	defer l.Unlock()
	copy7 := marshalAt(t, "L", 7, "c7")
	if _, err := s.Install(t.Context(), l, copy7, "pull"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "state.json")); !bytes.Equal(b, copy7) {
		t.Fatalf("installed state differs from the copy:\n%s", b)
	}
	st, err := s.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.Cluster.Name = "c8"
	if serial, err := s.Write(t.Context(), l, st); err != nil || serial != 8 {
		t.Fatalf("write after install: serial %d, %v", serial, err)
	}
	// A newer copy replaces it; serial 8 is kept in the history.
	if _, err := s.Install(t.Context(), l, marshalAt(t, "L", 9, "c9"), "pull"); err != nil {
		t.Fatal(err)
	}
	old, err := s.ReadSerial(t.Context(), 8)
	if err != nil || old.Cluster.Name != "c8" {
		t.Fatalf("serial 8 in the history: %v %v", old, err)
	}
	// Going back to serial 7 with other content would clash with history/7.
	if _, err := s.Install(t.Context(), l, marshalAt(t, "L", 7, "other"), "pull"); err == nil || !strings.Contains(err.Error(), "another version of serial 7") {
		t.Fatalf("install over a different history entry: %v", err)
	}
	if _, err := s.Install(t.Context(), l, []byte("{"), "pull"); err == nil {
		t.Fatal("a broken copy was installed")
	}
}
