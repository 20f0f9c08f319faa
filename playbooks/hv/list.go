package hv

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseList reads ListScript's output: the instances running on a node by
// name. Xen rows follow Ganeti's rules (reference §6.4): six fields, the
// header and Domain-0 skipped, "p" ignored, crashed ("c") rows dropped,
// "---s--"/"---s-d" reported as State "shutdown", any other unknown
// state an error.
func ParseList(out []byte) (map[string]Running, error) {
	res := map[string]Running{}
	add := func(r Running) error {
		if old, ok := res[r.Name]; ok {
			return fmt.Errorf("instance %s reported twice (%s and %s)", r.Name, old.Hypervisor, r.Hypervisor)
		}
		res[r.Name] = r
		return nil
	}
	xlHeader := true
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		tag, rest, _ := strings.Cut(line, " ")
		switch tag {
		case "kvm":
			r, err := parseKVMLine(rest)
			if err != nil {
				return nil, err
			}
			if err := add(r); err != nil {
				return nil, err
			}
		case "xl":
			if xlHeader {
				xlHeader = false
				if strings.HasPrefix(rest, "Name") {
					continue
				}
			}
			r, ok, err := parseXLRow(rest)
			if err != nil {
				return nil, err
			}
			if ok {
				if err := add(r); err != nil {
					return nil, err
				}
			}
		case "xlerr":
			return nil, fmt.Errorf("xl list failed (exit %s) after retries", strings.TrimSpace(rest))
		default:
			return nil, fmt.Errorf("instance list: unexpected line %q", line)
		}
	}
	return res, nil
}

// parseKVMLine reads "NAME PID MEM VCPUS"; MEM is qemu's -m value (MiB,
// or with a size suffix).
func parseKVMLine(s string) (Running, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return Running{}, fmt.Errorf("kvm list: bad line %q", s)
	}
	pid, err1 := strconv.Atoi(f[1])
	mem, err2 := parseQemuMem(f[2])
	vcpus, err3 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || err3 != nil {
		return Running{}, fmt.Errorf("kvm list: bad line %q", s)
	}
	return Running{Name: f[0], Hypervisor: KVM, ID: pid, MemMiB: mem, VCPUs: vcpus, State: "running"}, nil
}

// parseQemuMem parses a -m value: "128", "128M", "1G", "size=128M[,...]".
func parseQemuMem(v string) (int64, error) {
	v = strings.TrimPrefix(v, "size=")
	v, _, _ = strings.Cut(v, ",")
	mult := int64(1)
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'M', 'm':
			v = v[:n-1]
		case 'G', 'g':
			mult, v = 1024, v[:n-1]
		case 'T', 't':
			mult, v = 1024*1024, v[:n-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad qemu memory size %q", v)
	}
	return n * mult, nil
}

// parseXLRow reads one "xl list" row. ok is false for rows that are not a
// running instance (Domain-0, crashed domains).
func parseXLRow(s string) (r Running, ok bool, err error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return r, false, fmt.Errorf("can't parse output of xl list, line: %s", s)
	}
	id, err1 := strconv.Atoi(f[1])
	mem, err2 := strconv.ParseInt(f[2], 10, 64)
	vcpus, err3 := strconv.Atoi(f[3])
	_, err4 := strconv.ParseFloat(f[5], 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return r, false, fmt.Errorf("can't parse output of xl list, line: %s", s)
	}
	if f[0] == "Domain-0" {
		return r, false, nil
	}
	state, err := xenState(f[4])
	if err != nil {
		return r, false, fmt.Errorf("xl list, domain %s: %w", f[0], err)
	}
	if state == "" {
		return r, false, nil
	}
	return Running{Name: f[0], Hypervisor: "xen", ID: id, MemMiB: mem, VCPUs: vcpus, State: state}, true, nil
}

// xenState maps an xl state string to "running", "shutdown" or "" (crashed,
// treated as not running), per Ganeti's _GetInstanceState rules.
func xenState(st string) (string, error) {
	if len(st) != 6 {
		return "", fmt.Errorf("invalid state %q", st)
	}
	st = strings.ReplaceAll(st, "p", "-")
	if strings.Contains(st, "c") {
		return "", nil
	}
	switch st {
	case "r-----", "rb----", "-b----", "------",
		"r--ss-", "rb-ss-", "-b-ss-", "---ss-",
		"r--sr-", "rb-sr-", "-b-sr-", "---sr-",
		"-----d":
		return "running", nil
	case "---s--", "---s-d":
		return "shutdown", nil
	}
	return "", fmt.Errorf("unknown state %q", st)
}
