package playbooks_test

import (
	"time"

	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// The watcher's planners: its record, and the maintenance of a node marked
// offline that still runs things.
func init() {
	moreGoldenCases = append(moreGoldenCases,
		goldenCase{name: "watcher_record",
			setup: func(w *world) {
				w.st.Watcher = &statefile.Watcher{BootIDs: map[string]string{"node1": "b1", "node2": "b2"}}
			},
			plan: func(w *world) (*plan.Plan, error) {
				rec := w.st.Watcher.Clone()
				rec.BootIDs["node2"] = "b2-rebooted"
				rec.Instances["web1"] = &statefile.RestartRecord{Count: 1, When: time.Unix(timestamp, 0).UTC()}
				return pb.WatcherRecord(w.env(), rec)
			}},
		goldenCase{name: "watcher_node_maintenance", // node2 is offline but still runs db1 and its mirror
			setup: func(w *world) {
				w.add(drbdInst("db1", "node2", "node3", 1024))
				w.runs("db1")
				w.drbdSynced("db1")
				w.facts["node2"].Running["stray"] = hv.Running{Name: "stray", Hypervisor: "xen", ID: 7, State: "running"}
				w.st.Nodes["node2"].Offline = true
			},
			plan: func(w *world) (*plan.Plan, error) { return pb.NodeMaintenance(w.env(), "node2") }},
	)
}
