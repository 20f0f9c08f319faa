package plan

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestApplyChangesOnTopOfOthers(t *testing.T) {
	st := statefile.New("l")
	st.Instances["a"] = &statefile.Instance{Name: "a", PrimaryNode: "node1"}
	st.Instances["b"] = &statefile.Instance{Name: "b", PrimaryNode: "node1"}

	p := New(InstanceOp("INSTANCE_MIGRATE", "a"), "l", 0)
	after := *st.Instances["a"]
	after.PrimaryNode = "node2"
	if err := p.Set(KindInstance, "a", st.Instances["a"], &after); err != nil {
		t.Fatal(err)
	}
	// Another job changed b meanwhile: a's change still applies, b's stays.
	other := st.Clone()
	other.Instances["b"].Tags = []string{"x"}
	if err := p.ApplyChanges(other, time.Now()); err != nil {
		t.Fatalf("change of a on top of a change of b: %v", err)
	}
	if other.Instances["a"].PrimaryNode != "node2" || len(other.Instances["b"].Tags) != 1 {
		t.Fatalf("merged state: %+v %+v", other.Instances["a"], other.Instances["b"])
	}
	if !p.AppliedTo(other) {
		t.Error("AppliedTo: the change is there")
	}
	if p.AppliedTo(st) {
		t.Error("AppliedTo: the change is not there")
	}
	// Another job changed a itself: refused, nothing applied.
	raced := st.Clone()
	raced.Instances["a"].Tags = []string{"y"}
	var ce *ChangedError
	if err := p.ApplyChanges(raced, time.Now()); !errors.As(err, &ce) || ce.Name != "a" {
		t.Fatalf("want ChangedError for a, got %v", err)
	}
	if raced.Instances["a"].PrimaryNode != "node1" {
		t.Error("a refused change was applied")
	}
	// A plan read back from an indented file compares equal.
	b, _ := json.MarshalIndent(p, "", "  ")
	var loaded Plan
	if err := json.Unmarshal(b, &loaded); err != nil {
		t.Fatal(err)
	}
	if err := loaded.ApplyChanges(st.Clone(), time.Now()); err != nil {
		t.Fatalf("saved plan: %v", err)
	}
}

func TestApplyWatcherChanges(t *testing.T) {
	st := statefile.New("l")
	w := &statefile.Watcher{BootIDs: map[string]string{"node1": "b1"}}
	p := New(ClusterOp("WATCHER_RECORD"), "l", 0)
	if err := p.Set(KindWatcher, "watcher", nil, w); err != nil {
		t.Fatal(err)
	}
	next := st.Clone()
	if err := p.ApplyChanges(next, time.Now()); err != nil {
		t.Fatal(err)
	}
	if next.Watcher == nil || next.Watcher.BootIDs["node1"] != "b1" || !p.AppliedTo(next) {
		t.Fatalf("created: %+v", next.Watcher)
	}
	// Created twice: refused.
	var ce *ChangedError
	if err := p.ApplyChanges(next.Clone(), time.Now()); !errors.As(err, &ce) {
		t.Fatalf("create over an existing section: %v", err)
	}
	w2 := w.Clone()
	w2.BootIDs["node1"] = "b2"
	p2 := New(ClusterOp("WATCHER_RECORD"), "l", 1)
	if err := p2.Set(KindWatcher, "watcher", next.Watcher, w2); err != nil {
		t.Fatal(err)
	}
	moved := next.Clone()
	moved.Watcher.BootIDs["node1"] = "other"
	if err := p2.ApplyChanges(moved, time.Now()); !errors.As(err, &ce) {
		t.Fatalf("modify a section changed meanwhile: %v", err)
	}
	if err := p2.ApplyChanges(next, time.Now()); err != nil || next.Watcher.BootIDs["node1"] != "b2" {
		t.Fatalf("modify: %v %+v", err, next.Watcher)
	}
}
