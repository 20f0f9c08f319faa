package storage

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// DRBDStatus is one minor of /proc/drbd (reference §2.6).
type DRBDStatus struct {
	Minor        int    `json:"minor"`
	Unconfigured bool   `json:"unconfigured,omitempty"`
	CState       string `json:"cs"`                  // connection state, e.g. Connected
	Role         string `json:"role,omitempty"`      // local role (ro: or 8.0's st:)
	PeerRole     string `json:"peer_role,omitempty"` //
	Disk         string `json:"disk,omitempty"`      // local disk state, e.g. UpToDate
	PeerDisk     string `json:"peer_disk,omitempty"` //
	// Syncing is true when a resync percentage is known (SyncPercent) or
	// the connection state is a resync state (then SyncPercent is 0 until
	// the kernel prints one, so callers keep waiting).
	Syncing     bool    `json:"syncing,omitempty"`
	SyncPercent float64 `json:"sync_percent,omitempty"`
	ETASeconds  int     `json:"eta_seconds,omitempty"` // -1 when unknown
	OOSKiB      int64   `json:"oos_kib,omitempty"`     // out of sync, -1 when not reported
}

// resyncStates are the connection states Ganeti counts as "in resync".
var resyncStates = map[string]bool{"WFReportParams": true, "StartingSyncS": true, "StartingSyncT": true,
	"WFBitMapS": true, "WFBitMapT": true, "WFSyncUUID": true, "SyncSource": true, "SyncTarget": true,
	"PausedSyncS": true, "PausedSyncT": true}

var (
	drbdMinorRE   = regexp.MustCompile(`^ *([0-9]+): cs:([^ ]+).*$`)
	drbdUnconfRE  = regexp.MustCompile(`^\s*[0-9]+:\s*cs:Unconfigured$`)
	drbdStateRE   = regexp.MustCompile(`^\s*[0-9]+:\s*cs:(\S+)\s+(?:st|ro):([^/]+)/(\S+)\s+ds:([^/]+)/(\S+)\s+.*$`)
	drbdSyncRE    = regexp.MustCompile(`^.*\ssync'ed:\s*([0-9.]+)%.*(?:\s|M)finish: ([0-9]+):([0-9]+):([0-9]+)\s.*$`)
	drbdSyncPctRE = regexp.MustCompile(`\ssync'ed:\s*([0-9.]+)%`)
	drbdOOSRE     = regexp.MustCompile(`\soos:([0-9]+)`)
	drbdVersionRE = regexp.MustCompile(`^version: (\d+)\.(\d+)\.(\d+)(?:([.-])(\d+))? \(api:(\d+)/proto:(\d+)(?:-(\d+))?\)`)
)

// ParseProcDRBD reads /proc/drbd (or the stand-in's status file) by
// Ganeti's rules: a line "<minor>: cs:<state>" starts a minor, following
// lines are joined to it; then the state, roles, disk states, sync percent
// and ETA are matched. A version line with a major other than 8 is an
// error (Ganeti supports DRBD 8 only).
func ParseProcDRBD(text []byte) (map[int]DRBDStatus, error) {
	lines := strings.Split(string(text), "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "version:") {
		if m := drbdVersionRE.FindStringSubmatch(lines[0]); m != nil && m[1] != "8" {
			return nil, fmt.Errorf("drbd version %s.%s.%s is not supported (ganeti wants 8.x)", m[1], m[2], m[3])
		}
	}
	joined := map[int]string{}
	var order []int
	cur := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if m := drbdMinorRE.FindStringSubmatch(l); m != nil {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return nil, fmt.Errorf("drbd status: minor %q: %v", m[1], err)
			}
			cur = n
			if _, dup := joined[n]; dup {
				return nil, fmt.Errorf("drbd status: minor %d listed twice", n)
			}
			joined[n] = l
			order = append(order, n)
			continue
		}
		if cur >= 0 {
			joined[cur] += " " + strings.TrimSpace(l)
		}
	}
	out := map[int]DRBDStatus{}
	for _, n := range order {
		s, err := parseDRBDMinor(n, joined[n])
		if err != nil {
			return nil, err
		}
		out[n] = s
	}
	return out, nil
}

func parseDRBDMinor(n int, line string) (DRBDStatus, error) {
	s := DRBDStatus{Minor: n, ETASeconds: -1, OOSKiB: -1}
	if drbdUnconfRE.MatchString(line) {
		s.Unconfigured, s.CState = true, "Unconfigured"
		return s, nil
	}
	m := drbdStateRE.FindStringSubmatch(line)
	if m == nil {
		// A state line without roles (e.g. a minor going down): keep cs.
		if mm := drbdMinorRE.FindStringSubmatch(line); mm != nil {
			s.CState = mm[2]
			return s, nil
		}
		return s, fmt.Errorf("drbd status: cannot parse minor %d: %q", n, line)
	}
	s.CState, s.Role, s.PeerRole, s.Disk, s.PeerDisk = m[1], m[2], m[3], m[4], m[5]
	if sm := drbdSyncRE.FindStringSubmatch(line); sm != nil {
		s.Syncing = true
		s.SyncPercent, _ = strconv.ParseFloat(sm[1], 64)
		h, _ := strconv.Atoi(sm[2])
		mi, _ := strconv.Atoi(sm[3])
		se, _ := strconv.Atoi(sm[4])
		s.ETASeconds = h*3600 + mi*60 + se
	} else if pm := drbdSyncPctRE.FindStringSubmatch(line); pm != nil {
		s.Syncing = true
		s.SyncPercent, _ = strconv.ParseFloat(pm[1], 64)
	} else if resyncStates[s.CState] {
		s.Syncing = true
	}
	if om := drbdOOSRE.FindStringSubmatch(line); om != nil {
		s.OOSKiB, _ = strconv.ParseInt(om[1], 10, 64)
	}
	return s, nil
}

// InResync reports whether the connection state is one of Ganeti's
// resync states.
func (s DRBDStatus) InResync() bool { return resyncStates[s.CState] }

// Degraded is Ganeti's is_degraded: not Connected, or the local disk is
// not UpToDate.
func (s DRBDStatus) Degraded() bool { return s.CState != "Connected" || s.Disk != "UpToDate" }

// InSync: Connected and UpToDate on both sides.
func (s DRBDStatus) InSync() bool {
	return s.CState == "Connected" && s.Disk == "UpToDate" && s.PeerDisk == "UpToDate"
}

// LDisk is Ganeti's ldisk_status: "faulty" (local disk Diskless or
// StandAlone), "okay" (UpToDate), "sync" (resyncing) or "unknown".
func (s DRBDStatus) LDisk() string {
	switch {
	case s.Disk == "Diskless" || s.CState == "StandAlone":
		return "faulty"
	case s.Disk == "UpToDate":
		return "okay"
	case s.InResync():
		return "sync"
	}
	return "unknown"
}

// NeedsActivation is Ganeti's drbd_needs_activation for one minor: the
// minor is absent or unconfigured, StandAlone, or has no local disk.
func NeedsActivation(status map[int]DRBDStatus, minor int) bool {
	s, ok := status[minor]
	return !ok || s.Unconfigured || s.CState == "StandAlone" || s.Disk == "Diskless"
}

// DRBDVersion reads the version line of /proc/drbd: major, minor, point.
func DRBDVersion(text []byte) (major, minor, point int, err error) {
	first, _, _ := strings.Cut(string(text), "\n")
	m := drbdVersionRE.FindStringSubmatch(first)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("drbd status: no version line (got %q)", first)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	point, _ = strconv.Atoi(m[3])
	return major, minor, point, nil
}
