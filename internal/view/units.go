package view

import (
	"fmt"
	"strconv"
)

// FormatMiB formats a size in MiB the way Ganeti's default --units h does:
// below 1024 as whole MiB with an "M" suffix ("324M"), below 1 TiB as GiB with
// one decimal and "G" ("78.1G", "252.0G"), above as TiB with "T".
func FormatMiB(mib int64) string { return FormatUnit(mib, "h") }

// FormatUnit formats a size in MiB in Ganeti's --units: "h" (human, with
// suffix, see FormatMiB), "m" (whole MiB, no suffix), "g" (GiB, one decimal,
// no suffix) or "t" (TiB, one decimal, no suffix). An empty or unknown unit
// is treated as "h"; validate user input with CheckUnits.
func FormatUnit(mib int64, units string) string {
	switch {
	case units == "m":
		return strconv.FormatInt(mib, 10)
	case units == "g":
		return strconv.FormatFloat(float64(mib)/1024, 'f', 1, 64)
	case units == "t":
		return strconv.FormatFloat(float64(mib)/1024/1024, 'f', 1, 64)
	case mib < 1024:
		return strconv.FormatInt(mib, 10) + "M"
	case mib < 1024*1024:
		return strconv.FormatFloat(float64(mib)/1024, 'f', 1, 64) + "G"
	}
	return strconv.FormatFloat(float64(mib)/1024/1024, 'f', 1, 64) + "T"
}

// CheckUnits validates a --units argument: one of h, m, g, t.
func CheckUnits(units string) error {
	switch units {
	case "h", "m", "g", "t":
		return nil
	}
	return fmt.Errorf("invalid units %q (valid: h, m, g, t)", units)
}

// DefaultUnits is Ganeti's default --units: "m" when a --separator is given
// (machine-readable output), else "h".
func DefaultUnits(separator string) string {
	if separator != "" {
		return "m"
	}
	return "h"
}
