package view

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// IPolicyInfo is an instance policy as Ganeti's info commands show it
// (FormatPolicyInfo): the bounds specs, at cluster level the standard
// specs, the allowed disk templates and the ratios; below the cluster,
// what is not set at that level shows as "default (x)".
func IPolicyInfo(custom *statefile.IPolicy, eff statefile.IPolicy, cluster bool) Info {
	own := statefile.IPolicy{}
	if custom != nil {
		own = *custom
	}
	if cluster {
		eff = own
	}
	bounds := own.MinMax
	set := len(bounds) > 0
	if !set {
		bounds = eff.MinMax
	}
	var minmax List
	for i, mm := range bounds {
		one := func(s statefile.ISpec) Info {
			vals := specMap(s)
			if set {
				return ParamsInfo(vals, vals)
			}
			return ParamsInfo(nil, vals)
		}
		minmax = append(minmax, Info{}.Add(fmt.Sprintf("max/%d", i), one(mm.Max)).Add(fmt.Sprintf("min/%d", i), one(mm.Min)))
	}
	out := Info{}.Add("bounds specs", minmax)
	if cluster {
		out = out.Add("std", ParamsInfo(specMap(own.Std), specMap(own.Std)))
	}
	dts := "default (" + strings.Join(eff.DiskTemplates, ", ") + ")"
	if len(own.DiskTemplates) > 0 {
		dts = strings.Join(own.DiskTemplates, ", ")
	}
	out = out.Add("allowed disk templates", dts)
	for _, r := range []struct {
		key      string
		own, eff float64
	}{{"spindle-ratio", own.SpindleRatio, eff.SpindleRatio}, {"vcpu-ratio", own.VCPURatio, eff.VCPURatio}} {
		if r.own > 0 {
			out = out.Add(r.key, FormatValue(r.own))
		} else {
			out = out.Add(r.key, "default ("+FormatValue(r.eff)+")")
		}
	}
	return out
}

func specMap(s statefile.ISpec) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		out[k] = v
	}
	return out
}

// IPolicyCommand is the flags that recreate a policy's specs, as
// Ganeti's show-ispecs-cmd writes them: " --ipolicy-std-specs k=v,..."
// (cluster only) and " --ipolicy-bounds-specs min:k=v,.../max:k=v,...".
func IPolicyCommand(p statefile.IPolicy, group bool) string {
	var b strings.Builder
	if !group && len(p.Std) > 0 {
		b.WriteString(" --ipolicy-std-specs " + specArgs(p.Std))
	}
	for i, mm := range p.MinMax {
		if len(mm.Min) == 0 || len(mm.Max) == 0 {
			continue
		}
		if i == 0 {
			b.WriteString(" --ipolicy-bounds-specs ")
		} else {
			b.WriteString("//")
		}
		b.WriteString("min:" + specArgs(mm.Min) + "/max:" + specArgs(mm.Max))
	}
	return b.String()
}

func specArgs(s statefile.ISpec) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, s[k])
	}
	return strings.Join(parts, ",")
}

// PyRepr writes a value the way Ganeti's list commands show QFT_OTHER
// values (Python's str): dicts as {'key': value} in key order, strings
// quoted inside them, True/False/None.
func PyRepr(v any) string { return pyRepr(v, false) }

func pyRepr(v any, nested bool) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		if nested {
			return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
		}
		return v
	case statefile.Params:
		return pyRepr(map[string]any(v), nested)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "'" + k + "': " + pyRepr(v[k], true)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = pyRepr(s, true)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return FormatValue(v)
}
