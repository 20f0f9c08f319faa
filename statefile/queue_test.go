package statefile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestDrainFlag(t *testing.T) {
	s := openDir(t)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return at }
	if _, ok, err := s.Drained(); ok || err != nil {
		t.Fatalf("new store: drained %v, %v", ok, err)
	}
	if err := s.Undrain(); err != nil {
		t.Errorf("undrain an undrained queue: %v", err)
	}

	if err := s.SetDrained(statefile.DrainInfo{Who: "alice", Host: "ws"}); err != nil {
		t.Fatal(err)
	}
	d, ok, err := s.Drained()
	if !ok || err != nil || d.Who != "alice" || d.Host != "ws" || !d.Time.Equal(at) {
		t.Fatalf("after SetDrained: %+v %v %v", d, ok, err)
	}
	fi, err := os.Stat(filepath.Join(s.Dir, "queue.drained"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("flag file: %v, mode %v", err, fi.Mode())
	}
	// The same format as older ganetictl wrote: one JSON object.
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "queue.drained")); string(b) != `{"who":"alice","host":"ws","time":"2026-12-02T10:00:00Z"}` {
		t.Errorf("flag file holds %s", b)
	}
	assertNoTemps(t, s.Dir)

	// Empty fields are this process's.
	if err := s.SetDrained(statefile.DrainInfo{}); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := s.Drained(); d.Who == "" || d.Host == "" || !d.Time.Equal(at) {
		t.Errorf("filled in: %+v", d)
	}

	if err := s.Undrain(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Drained(); ok || err != nil {
		t.Errorf("after Undrain: drained %v, %v", ok, err)
	}
}

func TestDrainFlagUnreadableDetails(t *testing.T) {
	s := openDir(t)
	if err := os.WriteFile(filepath.Join(s.Dir, "queue.drained"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, ok, err := s.Drained(); !ok || err != nil || d != (statefile.DrainInfo{}) {
		t.Errorf("a flag without details: %+v %v %v (want drained)", d, ok, err)
	}
}

func TestAppliedPlans(t *testing.T) {
	s := openDir(t)
	if _, ok, err := s.AppliedAt("p1"); ok || err != nil {
		t.Fatalf("new store: applied %v, %v", ok, err)
	}
	t1 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	if err := s.MarkApplied("p1", t1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkApplied("p2", t2.In(time.FixedZone("X", 3600))); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]time.Time{"p1": t1, "p2": t2} {
		if at, ok, err := s.AppliedAt(id); !ok || err != nil || !at.Equal(want) {
			t.Errorf("AppliedAt(%s) = %v %v %v, want %v", id, at, ok, err, want)
		}
	}
	if _, ok, _ := s.AppliedAt("p3"); ok {
		t.Error("p3 applied")
	}
	// The record keeps its line format, one "ID RFC3339-time" a line.
	b, err := os.ReadFile(filepath.Join(s.Dir, "applied-plans"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "p1 2026-12-02T10:00:00Z\np2 2026-12-02T11:00:00Z\n"; string(b) != want {
		t.Errorf("record:\n%s\nwant:\n%s", b, want)
	}
	fi, _ := os.Stat(filepath.Join(s.Dir, "applied-plans"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v", fi.Mode())
	}
	assertNoTemps(t, s.Dir)

	for _, bad := range []string{"", "a b", "a\nb"} {
		if err := s.MarkApplied(bad, t1); err == nil {
			t.Errorf("MarkApplied(%q) accepted", bad)
		}
	}
	if b2, _ := os.ReadFile(filepath.Join(s.Dir, "applied-plans")); string(b2) != string(b) {
		t.Errorf("refused ids changed the record:\n%s", b2)
	}
}

// A record written by an older ganetictl (appended to in place) is read.
func TestAppliedPlansOlderRecord(t *testing.T) {
	s := openDir(t)
	old := "p1 2026-12-01T08:00:00Z\np2 not-a-time\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "applied-plans"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if at, ok, err := s.AppliedAt("p1"); !ok || err != nil || at.Format(time.RFC3339) != "2026-12-01T08:00:00Z" {
		t.Errorf("p1: %v %v %v", at, ok, err)
	}
	if at, ok, err := s.AppliedAt("p2"); !ok || err != nil || !at.IsZero() {
		t.Errorf("p2 without a readable time: %v %v %v (want applied, zero time)", at, ok, err)
	}
	if err := s.MarkApplied("p3", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "applied-plans")); string(b) != old+"p3 2026-12-02T00:00:00Z\n" {
		t.Errorf("record after MarkApplied:\n%s", b)
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
