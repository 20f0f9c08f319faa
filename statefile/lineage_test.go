package statefile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/storetest"
)

func TestWriteNewLineage(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "import")
	ctx := t.Context()

	old := storetest.Sample("lineage-old")
	for range 2 {
		if _, err := s.Write(ctx, l, old); err != nil {
			t.Fatal(err)
		}
		old.Cluster.Tags = append(old.Cluster.Tags, "t")
	}
	// Write refuses another lineage; WriteNewLineage is the way past it.
	imported := storetest.Sample("lineage-new")
	if _, err := s.Write(ctx, l, imported); err == nil {
		t.Fatal("Write accepted another lineage")
	}
	serial, err := s.WriteNewLineage(ctx, l, imported)
	if err != nil || serial != 3 || imported.Serial != 3 {
		t.Fatalf("WriteNewLineage: serial %d (st %d), %v", serial, imported.Serial, err)
	}
	cur, err := s.Read(ctx)
	if err != nil || cur.Lineage != "lineage-new" || cur.Serial != 3 {
		t.Fatalf("current %v %v", cur, err)
	}
	prev, err := s.ReadSerial(ctx, 2)
	if err != nil || prev.Lineage != "lineage-old" {
		t.Fatalf("serial 2 %v %v", prev, err)
	}
	hist, err := s.History(ctx)
	if err != nil || len(hist) != 3 || hist[2].Operation != "import" || !hist[2].Current {
		t.Fatalf("history %+v %v", hist, err)
	}
	// The new lineage goes on with ordinary writes.
	imported.Cluster.Tags = []string{"x"}
	if serial, err := s.Write(ctx, l, imported); err != nil || serial != 4 {
		t.Fatalf("Write after import: %d %v", serial, err)
	}
	if _, err := s.WriteNewLineage(ctx, l, imported); err == nil {
		t.Error("WriteNewLineage accepted the current lineage")
	}
}

// History left behind (a destroyed cluster's) is never overwritten: the
// new lineage starts above it.
func TestWriteNewLineageAboveLeftoverHistory(t *testing.T) {
	s := openDir(t)
	l := mustLock(t, s, "import")
	if err := os.WriteFile(filepath.Join(s.Dir, statefile.HistoryDir, "7.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	serial, err := s.WriteNewLineage(t.Context(), l, storetest.Sample("fresh"))
	if err != nil || serial != 8 {
		t.Fatalf("serial %d, %v", serial, err)
	}
	l.Unlock()
	if _, err := s.WriteNewLineage(t.Context(), l, storetest.Sample("other")); !errors.Is(err, statefile.ErrNotLocked) {
		t.Errorf("unlocked write: %v", err)
	}
}
