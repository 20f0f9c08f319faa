package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/statefile"
)

// parseKV parses Ganeti's "k=v,k=v" parameter syntax (-B, -N, -H values).
// Digits become numbers and true/false/yes/no booleans, as Ganeti types them.
func parseKV(s string) (statefile.Params, error) {
	out := statefile.Params{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, invalid("parameter %q is not of the form key=value", kv)
		}
		out[k] = typed(v)
	}
	return out, nil
}

// parseBE parses -B: memory sizes take units as Ganeti's ParseUnit reads
// them (maxmem=1G is 1024 MiB); "default" (modify: reset) stays a string.
func parseBE(s string) (statefile.Params, error) {
	out, err := parseKV(s)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"maxmem", "minmem", "memory"} {
		v, ok := out[k].(string)
		if !ok || v == "default" {
			continue
		}
		n, err := inventory.ParseSize(v)
		if err != nil {
			return nil, invalid("-B %s: %v", k, err)
		}
		out[k] = n
	}
	return out, nil
}

func typed(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	switch strings.ToLower(v) {
	case "true", "yes":
		return true
	case "false", "no":
		return false
	}
	return v
}

// parseHV parses "-H hv:k=v,k=v" (repeatable) into parameters by hypervisor.
func parseHV(specs []string) (map[string]statefile.Params, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	out := map[string]statefile.Params{}
	for _, spec := range specs {
		hv, kvs, _ := strings.Cut(spec, ":")
		if hv == "" {
			return nil, invalid("hypervisor parameters %q must be of the form HV:key=value,...", spec)
		}
		ps, err := parseKV(kvs)
		if err != nil {
			return nil, err
		}
		if out[hv] == nil {
			out[hv] = statefile.Params{}
		}
		for k, v := range ps {
			out[hv][k] = v
		}
	}
	return out, nil
}

// yesNo parses Ganeti's yes|no flag values into a *bool (nil when unset).
type yesNo string

func (y yesNo) ptr(flag string) (*bool, error) {
	switch strings.ToLower(string(y)) {
	case "":
		return nil, nil
	case "yes", "true":
		t := true
		return &t, nil
	case "no", "false":
		f := false
		return &f, nil
	}
	return nil, invalid("%s takes yes or no, not %q", flag, string(y))
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func fmtBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// ipolicyFlags are the --ipolicy-* flags of cluster and group commands.
type ipolicyFlags struct {
	BoundsSpecs   string  `name:"ipolicy-bounds-specs" help:"min:k=v,.../max:k=v,...[//min:.../max:...] (cpu-count, disk-count, disk-size, memory-size, nic-count, spindle-use)."`
	DiskTemplates string  `name:"ipolicy-disk-templates" help:"Comma-separated disk templates instances may use."`
	SpindleRatio  float64 `name:"ipolicy-spindle-ratio" help:"Maximum ratio of instances to spindles."`
	VCPURatio     float64 `name:"ipolicy-vcpu-ratio" help:"Maximum ratio of virtual to physical CPUs."`
}

// policy is the instance policy the flags set, or nil when none is given.
func (f ipolicyFlags) policy(std string) (*statefile.IPolicy, error) {
	p := &statefile.IPolicy{VCPURatio: f.VCPURatio, SpindleRatio: f.SpindleRatio, DiskTemplates: splitList(f.DiskTemplates)}
	if f.VCPURatio < 0 || f.SpindleRatio < 0 {
		return nil, invalid("--ipolicy-vcpu-ratio and --ipolicy-spindle-ratio must be positive")
	}
	if f.BoundsSpecs != "" {
		for i, pair := range strings.Split(f.BoundsSpecs, "//") {
			var mm statefile.MinMax
			for _, part := range strings.Split(pair, "/") {
				side, kvs, ok := strings.Cut(part, ":")
				spec, err := parseSpec(kvs)
				if !ok || err != nil {
					return nil, invalid("--ipolicy-bounds-specs %q: %s is not min:k=v,... or max:k=v,... (%v)", f.BoundsSpecs, part, err)
				}
				switch side {
				case "min":
					mm.Min = spec
				case "max":
					mm.Max = spec
				default:
					return nil, invalid("--ipolicy-bounds-specs %q: bounds are min: and max:, not %s:", f.BoundsSpecs, side)
				}
			}
			if mm.Min == nil || mm.Max == nil {
				return nil, invalid("--ipolicy-bounds-specs %q: pair %d needs both min: and max:", f.BoundsSpecs, i)
			}
			p.MinMax = append(p.MinMax, mm)
		}
	}
	if std != "" {
		spec, err := parseSpec(std)
		if err != nil {
			return nil, invalid("--ipolicy-std-specs %q: %v", std, err)
		}
		p.Std = spec
	}
	if len(p.MinMax) == 0 && len(p.Std) == 0 && len(p.DiskTemplates) == 0 && p.VCPURatio == 0 && p.SpindleRatio == 0 {
		return nil, nil
	}
	return p, nil
}

// parseSpec reads "cpu-count=1,memory-size=128" (sizes may carry units).
func parseSpec(s string) (statefile.ISpec, error) {
	out := statefile.ISpec{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !slices.Contains(playbooks.ISpecKeys, k) {
			return nil, fmt.Errorf("%q is not one of %s=N", kv, strings.Join(playbooks.ISpecKeys, "|"))
		}
		var n int64
		var err error
		if k == statefile.SpecDiskSize || k == statefile.SpecMemorySize {
			n, err = inventory.ParseSize(v)
		} else {
			n, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s=%s: not a number", k, v)
		}
		out[k] = n
	}
	return out, nil
}

// parseDiskParams reads repeated "-D template:k=v,..." flags.
func parseDiskParams(specs []string) (map[string]statefile.Params, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	out := map[string]statefile.Params{}
	for _, spec := range specs {
		tmpl, kvs, ok := strings.Cut(spec, ":")
		if !ok || tmpl == "" {
			return nil, invalid("disk parameters %q must be of the form TEMPLATE:key=value,...", spec)
		}
		ps, err := parseKV(kvs)
		if err != nil {
			return nil, err
		}
		if out[tmpl] == nil {
			out[tmpl] = statefile.Params{}
		}
		for k, v := range ps {
			out[tmpl][k] = v
		}
	}
	return out, nil
}
