package playbooks

import "github.com/ganetictl/ganetictl/statefile"

// setClusterIPolicy sets o over the cluster's instance policy (gnt-cluster
// modify --ipolicy-*): bounds, disk templates and ratios replace what the
// cluster had, standard specs change key by key. The result must hold
// together (CheckIPolicy), and every group's policy over it too.
func setClusterIPolicy(cl *statefile.Cluster, o *statefile.IPolicy) error {
	merged := CloneIPolicy(cl.IPolicy)
	if merged == nil {
		merged = &statefile.IPolicy{}
	}
	overlayPartial(merged, o)
	full := DefaultIPolicy()
	overlay(&full, merged)
	if err := CheckIPolicy(full); err != nil {
		return err
	}
	cl.IPolicy = merged
	return nil
}
