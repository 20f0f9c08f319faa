package lvdev

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// lvs with activation = 0 reports every LV's state as unknown (attr
// "-wi-XX----", kernel major/minor -1). reportFix makes lvs report what a
// real node would: active when the LV has a device, open when a process
// holds that device, and the device's numbers.

// reportFix rewrites lvs args so each row also names its LV, and returns
// the function that patches and trims the output. ok is false for report
// forms it does not handle (they pass through unchanged).
func reportFix(args []string) (newArgs []string, fix func([]byte) []byte, ok bool) {
	sep, last := "", -1
	for i, a := range args {
		switch {
		case a == "--separator" && i+1 < len(args):
			sep = args[i+1]
		case strings.HasPrefix(a, "--separator="):
			sep = strings.TrimPrefix(a, "--separator=")
		case a == "--reportformat" || strings.HasPrefix(a, "--reportformat=") || a == "--nameprefixes" ||
			a == "--rows" || a == "--all" || a == "-a":
			return nil, nil, false
		case (a == "-o" || a == "--options") && i+1 < len(args):
			if strings.ContainsAny(args[i+1][:1], "+-#") {
				return nil, nil, false
			}
			last = i + 1
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			return nil, nil, false // -oFIELDS: rare; leave alone
		}
	}
	if last < 0 {
		if sep != "" {
			return nil, nil, false
		}
		// Default report: LV VG Attr ... aligned with spaces.
		return args, func(out []byte) []byte { return patchDefault(out) }, true
	}
	if sep == "" {
		return nil, nil, false
	}
	fields := strings.Split(args[last], ",")
	newArgs = append([]string(nil), args...)
	newArgs[last] = args[last] + ",vg_name,lv_name"
	headings := !hasFlag(args, "--noheadings")
	return newArgs, func(out []byte) []byte { return patchSeparated(out, fields, sep, headings) }, true
}

func patchSeparated(out []byte, fields []string, sep string, headings bool) []byte {
	lines := strings.SplitAfter(string(out), "\n")
	var b strings.Builder
	for i, line := range lines {
		body := strings.TrimRight(line, "\n")
		if body == "" {
			b.WriteString(line)
			continue
		}
		cols := strings.Split(body, sep)
		if len(cols) != len(fields)+2 {
			b.WriteString(line) // not a row we understand
			continue
		}
		vg, lv := strings.TrimSpace(cols[len(cols)-2]), strings.TrimSpace(cols[len(cols)-1])
		cols = cols[:len(cols)-2]
		if !(headings && i == 0) {
			st := stateOf(vg, lv)
			for j, f := range fields {
				cols[j] = patchField(strings.TrimPrefix(strings.TrimSpace(f), "lv_"), cols[j], st)
			}
		}
		b.WriteString(strings.Join(cols, sep) + line[len(body):])
	}
	return []byte(b.String())
}

// patchDefault patches the Attr column of the default lvs report.
func patchDefault(out []byte) []byte {
	lines := strings.SplitAfter(string(out), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 3 || len(f[2]) != 10 || f[0] == "LV" {
			continue
		}
		attr := patchAttr(f[2], stateOf(f[1], f[0]))
		lines[i] = strings.Replace(line, " "+f[2], " "+attr, 1)
	}
	return []byte(strings.Join(lines, ""))
}

type lvState struct {
	active, open bool
	major, minor uint32
}

func stateOf(vg, lv string) lvState {
	var st unix.Stat_t
	if unix.Stat(Path(vg, lv), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return lvState{}
	}
	return lvState{active: true, open: held(st.Rdev), major: unix.Major(st.Rdev), minor: unix.Minor(st.Rdev)}
}

// patchField fixes one lvs column (field name without "lv_") for st.
func patchField(name, val string, st lvState) string {
	pad := func(s string) string { // keep lvs's right alignment, if any
		if n := len(val) - len(strings.TrimLeft(val, " ")); n > 0 {
			return strings.Repeat(" ", max(0, len(val)-len(s))) + s
		}
		return s
	}
	switch name {
	case "attr":
		return patchAttr(val, st)
	case "kernel_major":
		if st.active {
			return pad(fmt.Sprint(st.major))
		}
	case "kernel_minor":
		if st.active {
			return pad(fmt.Sprint(st.minor))
		}
	case "active":
		if st.active {
			return pad("active")
		}
	}
	return val
}

// patchAttr sets the state (5th) and open (6th) characters of lv_attr.
func patchAttr(attr string, st lvState) string {
	lead := len(attr) - len(strings.TrimLeft(attr, " "))
	a := []byte(attr)
	if len(a) < lead+6 {
		return attr
	}
	a[lead+4], a[lead+5] = '-', '-'
	if st.active {
		a[lead+4] = 'a'
	}
	if st.open {
		a[lead+5] = 'o'
	}
	return string(a)
}

// held reports whether any process on the node has the block device rdev
// open (the node's /proc shows only its own processes).
func held(rdev uint64) bool {
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	self := []byte(fmt.Sprintf("/proc/%d/", os.Getpid()))
	for _, fd := range fds {
		if bytes.HasPrefix([]byte(fd), self) {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && st.Rdev == rdev {
			return true
		}
	}
	return false
}
