package playbooks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/statefile"
)

// DefaultIPolicy is Ganeti's default instance policy (IPOLICY_DEFAULTS):
// what a cluster without one of its own has.
func DefaultIPolicy() statefile.IPolicy {
	return statefile.IPolicy{
		MinMax: []statefile.MinMax{{
			Min: statefile.ISpec{statefile.SpecMemorySize: 128, statefile.SpecCPUCount: 1, statefile.SpecDiskCount: 1,
				statefile.SpecDiskSize: 1024, statefile.SpecNICCount: 1, statefile.SpecSpindleUse: 1},
			Max: statefile.ISpec{statefile.SpecMemorySize: 32768, statefile.SpecCPUCount: 8, statefile.SpecDiskCount: 16,
				statefile.SpecDiskSize: 1024 * 1024, statefile.SpecNICCount: 8, statefile.SpecSpindleUse: 12},
		}},
		Std: statefile.ISpec{statefile.SpecMemorySize: 128, statefile.SpecCPUCount: 1, statefile.SpecDiskCount: 1,
			statefile.SpecDiskSize: 1024, statefile.SpecNICCount: 1, statefile.SpecSpindleUse: 1},
		DiskTemplates: slices.Clone(inventory.DiskTemplates),
		VCPURatio:     4,
		SpindleRatio:  32,
	}
}

// ISpecKeys are an instance spec's keys, in Ganeti's display order.
var ISpecKeys = []string{statefile.SpecCPUCount, statefile.SpecDiskCount, statefile.SpecDiskSize,
	statefile.SpecMemorySize, statefile.SpecNICCount, statefile.SpecSpindleUse}

// EffectiveIPolicy is the instance policy that holds in group (""
// for the cluster's): the cluster's, else Ganeti's default, with what the
// group sets over it.
func EffectiveIPolicy(st *statefile.State, group string) statefile.IPolicy {
	pol := DefaultIPolicy()
	overlay(&pol, st.Cluster.IPolicy)
	if g := st.NodeGroups[group]; g != nil {
		overlay(&pol, g.IPolicy)
	}
	return pol
}

// overlay sets in pol what o sets.
func overlay(pol *statefile.IPolicy, o *statefile.IPolicy) {
	if o == nil {
		return
	}
	if len(o.MinMax) > 0 {
		pol.MinMax = cloneMinMax(o.MinMax)
	}
	for k, v := range o.Std {
		pol.Std[k] = v
	}
	if len(o.DiskTemplates) > 0 {
		pol.DiskTemplates = slices.Clone(o.DiskTemplates)
	}
	if o.VCPURatio > 0 {
		pol.VCPURatio = o.VCPURatio
	}
	if o.SpindleRatio > 0 {
		pol.SpindleRatio = o.SpindleRatio
	}
}

func cloneMinMax(mm []statefile.MinMax) []statefile.MinMax {
	out := make([]statefile.MinMax, len(mm))
	for i, m := range mm {
		out[i] = statefile.MinMax{Min: cloneSpec(m.Min), Max: cloneSpec(m.Max)}
	}
	return out
}

func cloneSpec(s statefile.ISpec) statefile.ISpec {
	out := statefile.ISpec{}
	for k, v := range s {
		out[k] = v
	}
	return out
}

// CloneIPolicy is a deep copy of p (nil for nil).
func CloneIPolicy(p *statefile.IPolicy) *statefile.IPolicy {
	if p == nil {
		return nil
	}
	c := *p
	c.MinMax = cloneMinMax(p.MinMax)
	if p.Std != nil {
		c.Std = cloneSpec(p.Std)
	}
	c.DiskTemplates = slices.Clone(p.DiskTemplates)
	return &c
}

// CheckIPolicy refuses a policy whose bounds are inverted, whose standard
// specs are outside its bounds, or that allows a disk template ganetictl
// does not know.
func CheckIPolicy(p statefile.IPolicy) error {
	for i, mm := range p.MinMax {
		for _, side := range []struct {
			name string
			spec statefile.ISpec
		}{{"min", mm.Min}, {"max", mm.Max}} {
			side, spec := side.name, side.spec
			var missing []string
			for _, k := range ISpecKeys {
				if _, ok := spec[k]; !ok {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				return prereq(ErrWrongInput, "Invalid instance policy: minmax/%d: %s lacks %s (bounds need every spec)", i, side, strings.Join(missing, ", "))
			}
		}
		for _, k := range ISpecKeys {
			lo, hasLo := mm.Min[k]
			hi, hasHi := mm.Max[k]
			if hasLo && hasHi && lo > hi {
				return prereq(ErrWrongInput, "Invalid instance policy: minmax/%d: %s min %d is above its max %d", i, k, lo, hi)
			}
		}
	}
	for _, k := range ISpecKeys {
		v, ok := p.Std[k]
		if !ok {
			continue
		}
		fits := len(p.MinMax) == 0
		for _, mm := range p.MinMax {
			if lo, ok := mm.Min[k]; ok && v < lo {
				continue
			}
			if hi, ok := mm.Max[k]; ok && v > hi {
				continue
			}
			fits = true
		}
		if !fits {
			return prereq(ErrWrongInput, "Invalid instance policy: std %s %d is outside the bounds", k, v)
		}
	}
	for _, t := range p.DiskTemplates {
		if !slices.Contains(inventory.DiskTemplates, t) {
			return prereq(ErrWrongInput, "Invalid instance policy: unknown disk template %q (%s)", t, strings.Join(inventory.DiskTemplates, ", "))
		}
	}
	if p.VCPURatio < 0 || p.SpindleRatio < 0 {
		return prereq(ErrWrongInput, "Invalid instance policy: ratios must be positive")
	}
	return nil
}

// IPolicyViolations lists where an instance of these specs breaks pol, in
// Ganeti's words ("memory-size value 64 is not in range [128, 32768]");
// none means it complies.
func IPolicyViolations(pol statefile.IPolicy, spec statefile.ISpec, template string) []string {
	var out []string
	if len(pol.DiskTemplates) > 0 && template != "" && !slices.Contains(pol.DiskTemplates, template) {
		out = append(out, fmt.Sprintf("Disk template %s is not allowed (allowed templates %s)", template, strings.Join(pol.DiskTemplates, ", ")))
	}
	if len(pol.MinMax) == 0 {
		return out
	}
	var best []string
	for _, mm := range pol.MinMax {
		var bad []string
		for _, k := range ISpecKeys {
			v, ok := spec[k]
			if !ok {
				continue
			}
			lo, hi := mm.Min[k], mm.Max[k]
			if v < lo || v > hi {
				bad = append(bad, fmt.Sprintf("%s value %d is not in range [%d, %d]", k, v, lo, hi))
			}
		}
		if len(bad) == 0 {
			return out
		}
		if best == nil || len(bad) < len(best) {
			best = bad
		}
	}
	return append(out, best...)
}

// EnforcedIPolicy is the policy an instance of group must meet: what the
// cluster and the group set (cluster modify/group add --ipolicy-*).
// Ganeti's defaults are shown (EffectiveIPolicy) but not enforced until an
// admin sets a policy: a fresh cluster takes small test instances.
func EnforcedIPolicy(st *statefile.State, group string) statefile.IPolicy {
	var pol statefile.IPolicy
	pol.Std = statefile.ISpec{}
	overlay(&pol, st.Cluster.IPolicy)
	if g := st.NodeGroups[group]; g != nil {
		overlay(&pol, g.IPolicy)
	}
	return pol
}

// instanceSpecs are what the instance policy judges of inst: one spec
// of its counts, memory and cpus, and one per disk size.
func instanceSpecs(cl *statefile.Cluster, inst *statefile.Instance) []statefile.ISpec {
	be := EffectiveBE(cl, inst.BEParams)
	specs := []statefile.ISpec{{
		statefile.SpecMemorySize: intParam(be, "maxmem"), statefile.SpecCPUCount: intParam(be, "vcpus"),
		statefile.SpecDiskCount: int64(len(inst.Disks)), statefile.SpecNICCount: int64(len(inst.NICs)),
		statefile.SpecSpindleUse: max(1, intParam(be, "spindle_use")),
	}}
	for _, d := range inst.Disks {
		specs = append(specs, statefile.ISpec{statefile.SpecDiskSize: d.Size})
	}
	return specs
}

// checkIPolicy refuses inst (as it would be after the operation) where it
// breaks the policy enforced in its primary's group, unless ignored
// (--ignore-ipolicy), in Ganeti's words.
func checkIPolicy(st *statefile.State, inst *statefile.Instance, ignore bool) error {
	if ignore {
		return nil
	}
	group := ""
	if n := st.Nodes[inst.PrimaryNode]; n != nil {
		group = n.Group
	}
	pol := EnforcedIPolicy(st, group)
	var bad []string
	for i, spec := range instanceSpecs(&st.Cluster, inst) {
		tmpl := ""
		if i == 0 {
			tmpl = inst.DiskTemplate
		}
		bad = append(bad, IPolicyViolations(pol, spec, tmpl)...)
	}
	if len(bad) > 0 {
		return prereq(ErrWrongInput, "Instance %s violates the instance policy of group '%s': %s (--ignore-ipolicy overrides)", inst.Name, group, strings.Join(bad, "; "))
	}
	return nil
}
