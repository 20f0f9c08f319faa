package main

import (
	"strconv"
	"strings"

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
