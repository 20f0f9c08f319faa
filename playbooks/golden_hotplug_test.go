package playbooks_test

import (
	pb "github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
)

// Hotplug: a disk and a NIC added to a running KVM instance with
// --hotplug, on the PCI slots after those its runtime file shows.
func init() {
	moreGoldenCases = append(moreGoldenCases,
		goldenCase{name: "instance_modify_hotplug",
			setup: func(w *world) { w.add(plainInst("web1", "node1", 1024)); w.runs("web1") },
			plan: func(w *world) (*plan.Plan, error) {
				env := w.env()
				env.Probes = []pb.Probe{{Node: "node1", Stdout: w.runtimeFile("web1")}}
				return pb.InstanceModify(env, pb.ModifyInstanceArgs{Name: "web1", Hotplug: true,
					Disks: []pb.DiskMod{{Op: "add", Index: -1, Spec: storage.Spec{Size: 512, Mode: "rw"}}},
					NICs:  []pb.NICMod{{Op: "add", Index: -1, Spec: pb.NICSpec{Link: "br1", MAC: "aa:00:00:12:34:56"}}}})
			}},
	)
}

// runtimeFile is the KVM runtime file inst's start wrote.
func (w *world) runtimeFile(name string) []byte {
	w.t.Helper()
	inst := w.st.Instances[name]
	hvp, err := hv.Params(hv.KVM, w.st.Cluster.HVParams[hv.KVM], inst.HVParams)
	if err != nil {
		w.t.Fatal(err)
	}
	a := hv.StartArgs{Instance: inst, Node: inst.PrimaryNode, HVParams: hvp, MaxMem: 256, VCPUs: 1}
	for i := range inst.Disks {
		a.Links = append(a.Links, storage.LinkPath(name, i))
	}
	for _, n := range inst.NICs {
		l, _ := n.NICParams["link"].(string)
		a.NICLinks = append(a.NICLinks, l)
	}
	rt, err := hv.KVMRuntime(a)
	if err != nil {
		w.t.Fatal(err)
	}
	return rt
}
