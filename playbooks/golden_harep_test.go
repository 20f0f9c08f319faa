package playbooks_test

import (
	"time"

	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
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

// lvmstrap create on node2: sdb and sdc are free, sda holds the root.
const diskInfoSample = `disk sda 21474836480 0 0 -
part sda1 21473787904 0 0 sda
disk sdb 10737418240 0 0 -
disk sdc 10737418240 0 0 -
disk sdd 1073741824 1 0 -
@@mounts
/dev/sda1 /
proc /proc
@@swaps
@@pvs
@@vgs
`

func init() {
	moreGoldenCases = append(moreGoldenCases,
		goldenCase{name: "node_storage_init",
			plan: func(w *world) (*plan.Plan, error) {
				env := w.env()
				env.Probes = []pb.Probe{{Node: "node2", Stdout: []byte(diskInfoSample)}}
				return pb.StorageInit(env, pb.StorageInitArgs{Node: "node2", All: true})
			}},
	)
}

// Power: node3 marked offline is powered off through the out-of-band
// program (on the master); node2 and node3 powered on, 5 s apart; a
// powercycle.
func init() {
	oob := func(w *world) {
		w.st.Cluster.NDParams = statefile.Params{"oob_program": "/usr/local/sbin/oob"}
		w.st.Nodes["node3"].Offline = true
	}
	moreGoldenCases = append(moreGoldenCases,
		goldenCase{name: "oob_power_off", setup: oob,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.OOBCommand(w.env(), pb.OOBArgs{Nodes: []string{"node3"}, Command: pb.OOBPowerOff})
			}},
		goldenCase{name: "oob_power_on_delay", setup: oob,
			plan: func(w *world) (*plan.Plan, error) {
				return pb.OOBCommand(w.env(), pb.OOBArgs{Nodes: []string{"node2", "node3"}, Command: pb.OOBPowerOn, PowerDelay: 5 * time.Second})
			}},
		goldenCase{name: "node_powercycle",
			plan: func(w *world) (*plan.Plan, error) { return pb.NodePowercycle(w.env(), "node2") }},
	)
}
