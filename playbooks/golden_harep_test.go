package playbooks_test

import (
	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// harep's reinstall repair of a drbd instance whose two nodes are lost:
// its disks recreated on a new pair.
func init() {
	moreGoldenCases = append(moreGoldenCases,
		goldenCase{name: "instance_recreate_disks_drbd_new_pair", nodes: 4,
			setup: func(w *world) {
				w.add(stopped(drbdInst("db1", "node1", "node2", 1024)))
				w.st.Nodes["node1"].Offline = true
				w.st.Nodes["node2"].Offline = true
				w.down("node1", "offline")
				w.down("node2", "offline")
			},
			plan: func(w *world) (*plan.Plan, error) { return pb.RecreateDRBDOn(w.env(), "db1", "node3", "node4") }},
	)
}
