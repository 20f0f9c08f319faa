package standin

import (
	"fmt"
	"strings"
)

// The version lines the stand-in's "kernel module" reports. Ganeti (and
// ganetictl) pick the 8.4 command syntax from the first line.
var (
	procVersionLine = "version: 8.4.11 (api:1/proto:86-101)"
	procBuildLine   = "GIT-hash: 66145a308421e9c124ec391a7848ac20203bb03c build by testbed@ganetictl, 2024-01-01 00:00:00"
)

// renderProcDRBD prints /proc/drbd the way DRBD 8.4's drbd_seq_show does:
// version and build lines, then per minor the state line and the counters
// line, a blank line before a minor that does not follow its predecessor,
// and the resync progress lines (tab-indented) on SyncSource/SyncTarget.
func renderProcDRBD(views []minorView) string {
	var b strings.Builder
	b.WriteString(procVersionLine + "\n" + procBuildLine + "\n")
	prev := -1
	for _, v := range views {
		if prev != v.Minor-1 {
			b.WriteString("\n")
		}
		prev = v.Minor
		if v.Unconfigured {
			fmt.Fprintf(&b, "%2d: cs:Unconfigured\n", v.Minor)
			continue
		}
		fmt.Fprintf(&b, "%2d: cs:%s ro:%s/%s ds:%s/%s %c %c%c%c%c%c%c\n",
			v.Minor, v.CS, v.Role, v.PRole, v.Disk, v.PDisk, v.Protocol,
			'r', '-', flagChar(v.PeerPaused, 'p'), flagChar(v.UserPaused, 'u'), flagChar(v.Congestion != 0, v.Congestion), '-')
		fmt.Fprintf(&b, "    ns:%d nr:%d dw:%d dr:%d al:%d bm:%d lo:%d pe:%d ua:%d ap:%d ep:%d wo:%c oos:%d\n",
			v.Stats.NS, v.Stats.NR, v.Stats.DW, v.Stats.DR, v.Stats.AL, v.Stats.BM, v.Stats.LO, v.Stats.PE, v.Stats.UA, v.Stats.AP, 1, v.WO, v.OOS)
		if v.Sync != nil && (v.CS == "SyncSource" || v.CS == "SyncTarget") {
			b.WriteString(renderSyncProgress(v.Sync, v.CS == "SyncTarget"))
		}
	}
	return b.String()
}

func flagChar(on bool, c byte) byte {
	if on {
		return c
	}
	return '-'
}

// renderSyncProgress follows 8.4's drbd_syncer_progress and
// drbd_get_syncer_progress: bitmap bits are 4 KiB, per-mille done is
// computed on bits shifted right by 10, the bar has res/50 steps, the size
// is in MiB above 4 GiB, speeds have thousands separators.
func renderSyncProgress(s *syncView, target bool) string {
	totalBits := (s.TotalKiB + 3) / 4
	leftBits := (s.LeftKiB + 3) / 4
	shift := 10
	if totalBits > 1<<32-1 {
		shift = 16
	}
	res := 1000 - (leftBits>>shift)*1000/(1+totalBits>>shift)
	x := res / 50
	y := 20 - x
	var b strings.Builder
	b.WriteString("\t[")
	for i := int64(1); i < x; i++ {
		b.WriteByte('=')
	}
	b.WriteByte('>')
	for i := int64(0); i < y; i++ {
		b.WriteByte('.')
	}
	b.WriteString("] ")
	fmt.Fprintf(&b, "sync'ed:%3d.%d%% ", res/10, res%10)
	if totalBits > 4<<(30-12) {
		fmt.Fprintf(&b, "(%d/%d)M", (leftBits>>10)*4, (totalBits>>10)*4)
	} else {
		fmt.Fprintf(&b, "(%d/%d)K", leftBits*4, totalBits*4)
	}
	b.WriteString("\n\t")
	dt := int64(s.Elapsed.Seconds())
	if dt <= 0 {
		dt = 1
	}
	db := totalBits - leftBits
	rt := dt * (leftBits / (db/100 + 1)) / 100
	fmt.Fprintf(&b, "finish: %d:%02d:%02d", rt/3600, (rt%3600)/60, rt%60)
	speed := db / dt * 4
	fmt.Fprintf(&b, " speed: %s (%s)", thousands(speed), thousands(speed))
	if target {
		fmt.Fprintf(&b, " want: %s", thousands(s.WantKiB))
	}
	b.WriteString(" K/sec\n")
	return b.String()
}

// thousands formats v like seq_printf_with_thousands_grouping.
func thousands(v int64) string {
	switch {
	case v >= 1000000:
		return fmt.Sprintf("%d,%03d,%03d", v/1000000, v%1000000/1000, v%1000)
	case v >= 1000:
		return fmt.Sprintf("%d,%03d", v/1000, v%1000)
	}
	return fmt.Sprintf("%d", v)
}
