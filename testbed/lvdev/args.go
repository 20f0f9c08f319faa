package lvdev

import "strings"

// activation returns "y" or "n" for an -a/--activate option in args, or
// "" when there is none. Exclusive, local, shared and auto forms (ey, ly,
// sy, ay) count as y.
func activation(args []string) string {
	for i, a := range args {
		var v string
		switch {
		case a == "-a" || a == "--activate":
			if i+1 < len(args) {
				v = args[i+1]
			}
		case strings.HasPrefix(a, "--activate="):
			v = strings.TrimPrefix(a, "--activate=")
		case strings.HasPrefix(a, "-a") && !strings.HasPrefix(a, "--"):
			v = a[2:]
		default:
			continue
		}
		switch {
		case strings.HasSuffix(v, "y"):
			return "y"
		case strings.HasSuffix(v, "n"):
			return "n"
		}
	}
	return ""
}

// noZero reports -Zn / --zero n, which asks lvcreate not to wipe the LV.
func noZero(args []string) bool {
	for i, a := range args {
		switch {
		case a == "-Zn" || a == "--zero=n":
			return true
		case (a == "-Z" || a == "--zero") && i+1 < len(args) && args[i+1] == "n":
			return true
		}
	}
	return false
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag {
			return true
		}
	}
	return false
}

// targets picks the LVs an lvchange/vgchange names: "vg/lv" or
// "/dev/vg/lv" for lvchange, a VG name for both; none named means all.
func targets(tool string, args []string, lvs []LV) []LV {
	var out []LV
	named := false
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(a, "/dev/")
		for _, lv := range lvs {
			if a == lv.VG || (tool == "lvchange" && a == lv.FullName()) {
				out = append(out, lv)
				named = true
			}
		}
	}
	if !named {
		return lvs
	}
	return out
}
