package playbooks_test

import (
	"slices"
	"testing"
	"time"

	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/statefile"
)

var watchNow = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func (w *world) watch() *pb.WatchDecision {
	return pb.Watch(pb.WatchInput{State: w.st, Facts: w.facts, Now: watchNow})
}

// TestWatchRestarts: an instance configured up and not running is
// restarted five times, the sixth failure is reported once and then left;
// records expire after 8 h; a stopped instance and one on an offline node
// are left alone.
func TestWatchRestarts(t *testing.T) {
	w := newWorld(t, 3)
	w.add(plainInst("web1", "node2", 256)) // up, not running: ERROR_down
	w.add(stopped(plainInst("off1", "node2", 256)))
	w.add(plainInst("lost1", "node3", 256))
	w.st.Nodes["node3"].Offline = true
	d := w.watch()
	if !slices.Equal(d.Restarts, []pb.Restart{{Instance: "web1", Attempt: 1}}) {
		t.Fatalf("restarts: %+v", d.Restarts)
	}
	if !d.Acted() {
		t.Error("a restart is an action")
	}
	for try := 1; try <= pb.WatcherMaxTries; try++ {
		w.st.Watcher = recordOf(w, "web1", try, watchNow.Add(-time.Minute))
		d = w.watch()
		switch {
		case try < pb.WatcherMaxTries && !slices.Equal(d.Restarts, []pb.Restart{{Instance: "web1", Attempt: try + 1}}):
			t.Fatalf("after %d tries: %+v", try, d.Restarts)
		case try == pb.WatcherMaxTries:
			if len(d.Restarts) != 0 || !slices.Equal(d.GivenUp, []string{"web1"}) || d.Record.Instances["web1"].Count != 6 {
				t.Fatalf("after %d tries: restarts %+v, given up %v, record %+v", try, d.Restarts, d.GivenUp, d.Record.Instances["web1"])
			}
			if !hasNote(d, "web1", "Could not restart instance 'web1' after 5 attempts, giving up", true) {
				t.Errorf("notes: %+v", d.Notes)
			}
		}
	}
	w.st.Watcher = recordOf(w, "web1", 6, watchNow.Add(-time.Hour))
	d = w.watch()
	if len(d.Restarts)+len(d.GivenUp) != 0 || !hasNote(d, "web1", "Not restarting instance 'web1', retries exhausted", false) || d.Acted() {
		t.Fatalf("exhausted: %+v", d)
	}
	// Eight hours after the last attempt the record expires: it starts over.
	w.st.Watcher = recordOf(w, "web1", 6, watchNow.Add(-pb.WatcherRetryExpiry-time.Second))
	if d = w.watch(); !slices.Equal(d.Restarts, []pb.Restart{{Instance: "web1", Attempt: 1}}) {
		t.Fatalf("expired record: %+v", d.Restarts)
	}
	// It runs again: its record goes.
	w.runs("web1")
	w.st.Watcher = recordOf(w, "web1", 2, watchNow)
	if d = w.watch(); len(d.Restarts) != 0 || !slices.Equal(d.Recovered, []string{"web1"}) || d.Record.Instances["web1"] != nil {
		t.Fatalf("recovered: %+v", d)
	}
	if !hasNote(d, "lost1", "primary node node3 is offline or not answering", false) {
		t.Errorf("an instance on an offline node: %+v", d.Notes)
	}
	// An instance that is gone is forgotten.
	w.st.Watcher = recordOf(w, "gone", 3, watchNow)
	if d = w.watch(); d.Record.Instances["gone"] != nil {
		t.Error("the record of a removed instance stays")
	}
	d.Attempted("web1", watchNow)
	if d.Record.Instances["web1"].Count != 1 {
		t.Errorf("Attempted: %+v", d.Record.Instances["web1"])
	}
}

// TestWatchRebootedSecondary: a secondary whose boot ID changed and whose
// DRBD devices are gone gets the instance's disks back; a node seen for
// the first time is only recorded.
func TestWatchRebootedSecondary(t *testing.T) {
	w := newWorld(t, 3)
	w.add(drbdInst("db1", "node1", "node2", 1024))
	w.runs("db1")
	w.drbdSynced("db1")
	for n, id := range map[string]string{"node1": "b1", "node2": "b2", "node3": "b3"} {
		w.facts[n].BootID = id
	}
	d := w.watch()
	if d.Acted() || len(d.Rebooted) != 0 || d.Record.BootIDs["node2"] != "b2" {
		t.Fatalf("first pass: %+v %+v", d, d.Record)
	}
	w.st.Watcher = d.Record
	// node2 rebooted: new boot ID, no DRBD minor.
	w.facts["node2"].BootID = "b2-new"
	w.facts["node2"].DRBDStatus = []byte(w.facts["node2"].DRBD + "\n")
	d = w.watch()
	if !slices.Equal(d.Rebooted, []string{"node2"}) || !slices.Equal(d.Activations, []pb.Activation{{Instance: "db1", Reason: "secondary node node2 rebooted"}}) {
		t.Fatalf("after the reboot: rebooted %v, activations %+v", d.Rebooted, d.Activations)
	}
	if d.Record.BootIDs["node2"] != "b2-new" {
		t.Errorf("record: %+v", d.Record.BootIDs)
	}
}

// TestWatchNodeHealth: with maintain_node_health, what runs on an offline
// node that answers is to be stopped.
func TestWatchNodeHealth(t *testing.T) {
	w := newWorld(t, 3)
	w.add(drbdInst("db1", "node2", "node3", 1024))
	w.runs("db1")
	w.drbdSynced("db1")
	w.st.Nodes["node2"].Offline = true
	if d := w.watch(); len(d.Maintenance) != 0 {
		t.Fatalf("without maintain_node_health: %+v", d.Maintenance)
	}
	w.st.Cluster.MaintainNodeHealth = true
	d := w.watch()
	if len(d.Maintenance) != 1 || d.Maintenance[0].Node != "node2" || !slices.Equal(d.Maintenance[0].Instances, []string{"db1"}) || len(d.Maintenance[0].Minors) != 1 {
		t.Fatalf("maintenance: %+v", d.Maintenance)
	}
}

func recordOf(w *world, name string, count int, when time.Time) *statefile.Watcher {
	rec := w.st.Watcher.Clone()
	rec.Instances[name] = &statefile.RestartRecord{Count: count, When: when}
	return rec
}

func hasNote(d *pb.WatchDecision, name, reason string, isErr bool) bool {
	for _, n := range d.Notes {
		if n.Name == name && n.Reason == reason && n.Error == isErr {
			return true
		}
	}
	return false
}
