package standin

import (
	"strings"
	"testing"
	"time"
)

func withFixtureHeader(t *testing.T, fix string) {
	lines := strings.SplitN(fix, "\n", 3)
	oldV, oldB := procVersionLine, procBuildLine
	procVersionLine, procBuildLine = lines[0], lines[1]
	t.Cleanup(func() { procVersionLine, procBuildLine = oldV, oldB })
}

// The states of proc_drbd84.txt rendered by the stand-in must equal the
// real kernel output byte for byte; only the build lines and counters are
// taken from the fixture, since those genuinely vary.
func TestProcDRBD84MatchesFixture(t *testing.T) {
	fix := fixture(t, "proc_drbd84.txt")
	withFixtureHeader(t, fix)
	views := []minorView{
		{Minor: 0, CS: "Connected", Role: "Primary", PRole: "Secondary", Disk: "UpToDate", PDisk: "UpToDate", Protocol: 'C', WO: 'f',
			Stats: drbdStats{NS: 1048576, DR: 1048776, BM: 64}},
		{Minor: 1, CS: "Connected", Role: "Secondary", PRole: "Primary", Disk: "UpToDate", PDisk: "UpToDate", Protocol: 'C', WO: 'f',
			Stats: drbdStats{NR: 1048576, DW: 1048576, BM: 64}},
		{Minor: 2, Unconfigured: true},
		{Minor: 4, CS: "WFConnection", Role: "Primary", PRole: "Unknown", Disk: "UpToDate", PDisk: "DUnknown", Protocol: 'C', WO: 'f',
			Stats: drbdStats{DR: 200}, OOS: 1048320},
		{Minor: 6, CS: "Connected", Role: "Secondary", PRole: "Primary", Disk: "Diskless", PDisk: "UpToDate", Protocol: 'C', WO: 'b'},
		{Minor: 8, CS: "StandAlone", Role: "Secondary", PRole: "Unknown", Disk: "UpToDate", PDisk: "DUnknown", Protocol: ' ', WO: 'f',
			Stats: drbdStats{DR: 200}, OOS: 1048320},
	}
	if got := renderProcDRBD(views); got != fix {
		t.Errorf("render differs from proc_drbd84.txt:\n--- got\n%s--- want\n%s", got, fix)
	}
	// Without minor 0 the output starts with a blank line, like
	// proc_drbd84_emptyfirst.txt.
	if got, want := renderProcDRBD(views[1:]), fixture(t, "proc_drbd84_emptyfirst.txt"); got != want {
		t.Errorf("render differs from proc_drbd84_emptyfirst.txt:\n--- got\n%s--- want\n%s", got, want)
	}
}

// The resync lines of proc_drbd84_sync.txt: the kernel indents them with a
// tab, the fixture has them expanded to 8 spaces; everything else is equal.
func TestProcDRBD84SyncMatchesFixture(t *testing.T) {
	fix := fixture(t, "proc_drbd84_sync.txt")
	withFixtureHeader(t, fix)
	views := []minorView{
		{Minor: 0, CS: "StandAlone", Role: "Primary", PRole: "Unknown", Disk: "UpToDate", PDisk: "DUnknown", Protocol: ' ', WO: 'd',
			Stats: drbdStats{DW: 33318, DR: 730, AL: 15}, OOS: 1048320},
		{Minor: 3, Unconfigured: true},
		{Minor: 5, CS: "SyncSource", Role: "Secondary", PRole: "Secondary", Disk: "UpToDate", PDisk: "Inconsistent", Protocol: 'C', WO: 'f',
			Congestion: 'n', Stats: drbdStats{NS: 716992, DR: 719432, BM: 43, PE: 33, UA: 18}, OOS: 335744,
			Sync: &syncView{TotalKiB: 1048576, LeftKiB: 335744, Elapsed: 11 * time.Second}},
	}
	got := strings.ReplaceAll(renderProcDRBD(views), "\t", "        ")
	if got != fix {
		t.Errorf("render differs from proc_drbd84_sync.txt:\n--- got\n%s--- want\n%s", got, fix)
	}
}

// The SyncTarget side adds "want:" like the 8.3 fixture (same code in 8.4).
func TestProcSyncTargetWant(t *testing.T) {
	fix := fixture(t, "proc_drbd83_sync_want.txt")
	s := &syncView{TotalKiB: 1048576, LeftKiB: 588416, Elapsed: 7 * time.Second, WantKiB: 61440}
	got := strings.ReplaceAll(renderSyncProgress(s, true), "\t", "        ")
	lines := strings.Split(fix, "\n")
	want := lines[4] + "\n" + lines[5] + "\n"
	// The fixture's speed and percentage come from an 8.3 kernel; compare
	// the shape with the numbers blanked.
	if norm(got) != norm(want) {
		t.Errorf("sync target lines:\n got %q\nwant %q", got, want)
	}
}

func norm(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			c = '9'
		}
		b.WriteRune(c)
	}
	return strings.NewReplacer("99,999", "9", "99", "9").Replace(b.String())
}

func TestProcLargeSyncInMiB(t *testing.T) {
	s := &syncView{TotalKiB: 8 << 20, LeftKiB: 2 << 20, Elapsed: 30 * time.Second}
	golden(t, "proc_sync_large.txt", renderSyncProgress(s, false))
}

func showState() *drbdState {
	st := &drbdState{Resources: map[string]*drbdResource{}, Minors: map[int]*drbdMinor{}}
	st.Resources["resource0"] = &drbdResource{Name: "resource0", Net: &netConf{
		Family: "ipv4", LocalIP: "192.0.2.1", LocalPt: 11000, PeerIP: "192.0.2.2", PeerPt: 11000, Protocol: "C",
		Options: []optValue{{"protocol", "C"}, {"after-sb-0pri", "discard-zero-changes"}, {"after-sb-1pri", "consensus"},
			{"cram-hmac-alg", "md5"}, {"shared-secret", "shared_secret_123"}},
	}}
	return st
}

// drbdsetup show equals the real 8.4 output after tab expansion (the
// fixture is tab-expanded; drbdsetup prints "%-16s\t").
func TestShowMatchesFixture(t *testing.T) {
	st := showState()
	st.Minors[0] = &drbdMinor{Minor: 0, Resource: "resource0", Role: roleSecondary, Disk: &diskConf{
		Data: "/dev/xenvg/test.data", Meta: "/dev/xenvg/test.meta", MetaIdx: "0",
		Options: []optValue{{"size", "2097152s"}, {"on-io-error", "pass_on"}, {"resync-rate", "61440k"}},
	}}
	got := renderShow(st, []string{"resource0"}, st.sortedMinors())
	if g, want := expandTabs(got), fixture(t, "bdev-drbd-8.4.txt"); g != want {
		t.Errorf("show differs from bdev-drbd-8.4.txt:\n--- got\n%s--- want\n%s", g, want)
	}
	st.Minors[0].Disk.MetaIdx, st.Minors[0].Disk.Options = "flexible", nil
	got = renderShow(st, []string{"resource0"}, st.sortedMinors())
	if g, want := expandTabs(got), fixture(t, "bdev-drbd-8.4-no-disk-params.txt"); g != want {
		t.Errorf("show differs from bdev-drbd-8.4-no-disk-params.txt:\n--- got\n%s--- want\n%s", g, want)
	}
}

// Options Ganeti passes are normalised the way drbdsetup shows them.
func TestParseOptsGanetiAttachAndConnect(t *testing.T) {
	pos, opts, err := parseOpts([]string{"0", "/d", "/m", "flexible", "--on-io-error=detach", "--size", "1024m",
		"--md-flushes=no", "--disk-flushes=no", "--disk-drain=no", "--disk-barrier=no"}, attachFields)
	if err != nil || len(pos) != 4 {
		t.Fatalf("attach: %v %v", pos, err)
	}
	if optGet(opts, "size") != "2097152s" || optGet(opts, "on-io-error") != "detach" || optGet(opts, "disk-barrier") != "no" {
		t.Errorf("attach opts: %v", opts)
	}
	_, opts, err = parseOpts([]string{"--c-plan-ahead", "20", "--c-fill-target", "0", "--c-delay-target", "1",
		"--c-max-rate", "61440", "--c-min-rate", "4096"}, diskFields)
	if err != nil || optGet(opts, "c-max-rate") != "61440k" || optGet(opts, "c-fill-target") != "0s" {
		t.Errorf("disk-options: %v %v", opts, err)
	}
	_, opts, err = parseOpts([]string{"resource0", "ipv4:127.0.0.1:11000", "ipv4:127.0.0.2:11000", "--protocol", "C",
		"--after-sb-0pri", "discard-zero-changes", "--after-sb-1pri", "consensus", "--allow-two-primaries",
		"--cram-hmac-alg", "md5", "--shared-secret", "s3"}, connectFields)
	if err != nil || optGet(opts, "allow-two-primaries") != "yes" || optGet(opts, "shared-secret") != "s3" {
		t.Errorf("connect: %v %v", opts, err)
	}
	if _, _, err := parseOpts([]string{"--bogus"}, diskFields); err == nil {
		t.Error("unknown option accepted")
	}
}
