package alloc

import (
	"fmt"
	"slices"
	"strings"
)

// matchesPolicy checks an instance against a policy as Ganeti's htools
// do (Instance.hs instMatchesPolicy): each disk's size, the disk count,
// memory, vCPUs and spindles within one of the min/max pairs, and the
// disk template allowed. The failure names the first spec outside.
func matchesPolicy(in *Instance, p *Policy, excl bool) Failure {
	if len(p.MinMax) > 0 {
		var first Failure
		ok := false
		for i := range p.MinMax {
			f := matchesMinMax(in, &p.MinMax[i], excl)
			if f.OK() {
				ok = true
				break
			}
			if i == 0 {
				first = f
			}
		}
		if !ok {
			return first
		}
	}
	if !slices.Contains(p.DiskTemplates, in.Template) {
		names := make([]string, len(p.DiskTemplates))
		for i, t := range p.DiskTemplates {
			names[i] = string(t)
		}
		return Failure{Mode: FailDisk, why: rPolicy, Text: fmt.Sprintf("disk template %s is not allowed by the instance policy (%s)", in.Template, strings.Join(names, ", "))}
	}
	return Failure{}
}

func matchesMinMax(in *Instance, mm *MinMax, excl bool) Failure {
	if f := compareSpec(in, &mm.Min, excl, -1); !f.OK() {
		return f
	}
	return compareSpec(in, &mm.Max, excl, 1)
}

// compareSpec refuses an instance below (side -1) or above (side 1) spec.
func compareSpec(in *Instance, s *Spec, excl bool, side int) Failure {
	out := func(v int, limit int) bool { return (side < 0 && v < limit) || (side > 0 && v > limit) }
	word := "above the maximum"
	if side < 0 {
		word = "below the minimum"
	}
	policy := func(m FailMode, what string, v, limit int) Failure {
		return Failure{Mode: m, why: rPolicy, Text: fmt.Sprintf("%s %d is %s %d of the instance policy", what, v, word, limit)}
	}
	if out(in.Mem, s.MemorySize) {
		return policy(FailMem, "memory-size", in.Mem, s.MemorySize)
	}
	for _, d := range in.Disks {
		if out(d.Size, s.DiskSize) {
			return policy(FailDisk, "disk-size", d.Size, s.DiskSize)
		}
	}
	if out(in.VCPUs, s.CPUCount) {
		return policy(FailCPU, "cpu-count", in.VCPUs, s.CPUCount)
	}
	if excl {
		sp := in.spindles()
		if sp < 0 {
			return Failure{Mode: FailSpindles, why: rPolicy, Text: "the disks' spindles are unknown (exclusive storage needs them)"}
		}
		if out(sp, s.SpindleUse) {
			return policy(FailSpindles, "spindles", sp, s.SpindleUse)
		}
	} else if out(in.SpindleUse, s.SpindleUse) {
		return policy(FailSpindles, "spindle-use", in.SpindleUse, s.SpindleUse)
	}
	if in.Template != Diskless && out(len(in.Disks), s.DiskCount) {
		return policy(FailDiskCount, "disk-count", len(in.Disks), s.DiskCount)
	}
	return Failure{}
}

// PolicyViolation says why an instance breaks a policy, "" if it does not.
func PolicyViolation(in *Instance, p Policy, exclStorage bool) string {
	f := matchesPolicy(in, &p, exclStorage)
	if f.OK() {
		return ""
	}
	return f.Text
}

// words are a failure as people read it.
func (f Failure) words() string {
	switch f.why {
	case rMemFree:
		return fmt.Sprintf("%d MiB free memory, needs %d", int(f.Have), int(f.Need))
	case rMemN1:
		return fmt.Sprintf("%d MiB free memory after it, %d MiB must stay free for failovers (N+1)", int(f.Have), int(f.Need))
	case rSecMem:
		return fmt.Sprintf("%d MiB free memory, a failover to it needs %d", int(f.Have), int(f.Need))
	case rDiskFree:
		return fmt.Sprintf("%s free disk, needs %s", mib(int64(f.Have)), mib(int64(f.Need)))
	case rDiskLow:
		return fmt.Sprintf("%s free disk after it, below the reserve of %s", mib(int64(f.Have)), mib(int64(f.Need)))
	case rFileFree:
		return fmt.Sprintf("%s free file storage, needs %s", mib(int64(f.Have)), mib(int64(f.Need)))
	case rSpindlesFree:
		return fmt.Sprintf("%d free spindles, needs %d", int(f.Have), int(f.Need))
	case rSpindleRatio:
		return fmt.Sprintf("%.0f spindles in use after it, the limit is %.0f (spindle-ratio)", f.Have, f.Need)
	case rCPURatio:
		return fmt.Sprintf("%.2f vcpus per cpu after it, the limit is %.2f (vcpu-ratio)", f.Have, f.Need)
	case rTags:
		return fmt.Sprintf("already has an instance tagged %s (exclusion tag)", f.Text)
	case rMigration:
		return fmt.Sprintf("does not accept instances with migration tag %s", f.Text)
	case rNotMirrored:
		return "the template has no secondary"
	case rOffline:
		return "offline"
	case rDrained:
		return "drained"
	case rNoVM:
		return "not vm_capable"
	case rSame:
		return "cannot be its own secondary"
	}
	if f.Text != "" {
		return f.Text
	}
	return f.Mode.String()
}
