package alloc

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These tests replay the expectations of Ganeti's htools shell tests
// (test/hs/shelltests/htools-*.test) on Ganeti's own test data (see
// testdata/htools/README.md). Each hbal case runs twice: with Hbal set,
// ganetictl must do what hbal does; without, it may do better, and the
// case says how.

func loadText(t *testing.T, name string, fo FinishOptions) *Cluster {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "htools", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadText(string(b))
	if err != nil {
		t.Fatalf("LoadText(%s): %v", name, err)
	}
	if _, err := c.Finish(fo); err != nil {
		t.Fatalf("Finish(%s): %v", name, err)
	}
	return c
}

func pcnt(c *Cluster) map[string]int {
	out := map[string]int{}
	for _, n := range c.Nodes {
		out[n.Name] = len(n.Pri)
	}
	return out
}

// solutionLines are hbal's "inst old => new score a=move" lines.
func solutionLines(r *BalanceResult) string {
	var b strings.Builder
	for _, m := range r.Moves {
		old, nw := m.OldPrimary, m.Primary
		if m.OldSecondary != "" {
			old += ":" + m.OldSecondary
		}
		if m.Secondary != "" {
			nw += ":" + m.Secondary
		}
		b.WriteString(m.Instance + " " + old + " => " + nw + " a=" + m.Code + "\n")
	}
	return b.String()
}

type hbalCase struct {
	name    string
	file    string
	group   string
	offline []string
	fo      FinishOptions
	opts    func(*BalanceOptions)
	// hbal is what hbal (and ganetictl with Hbal) gives; ours, when set,
	// is what ganetictl gives by default, when it differs.
	hbal, ours func(t *testing.T, r *BalanceResult)
}

func length(n int) func(*testing.T, *BalanceResult) {
	return func(t *testing.T, r *BalanceResult) {
		t.Helper()
		if len(r.Moves) != n {
			t.Errorf("Solution length=%d, want %d:\n%s", len(r.Moves), n, solutionLines(r))
		}
	}
}

func lengthAtLeast(n int) func(*testing.T, *BalanceResult) {
	return func(t *testing.T, r *BalanceResult) {
		t.Helper()
		if len(r.Moves) < n {
			t.Errorf("Solution length=%d, want at least %d", len(r.Moves), n)
		}
	}
}

func wellBalanced(t *testing.T, r *BalanceResult) {
	t.Helper()
	if !r.Balanced {
		t.Errorf("want 'Cluster is already well balanced', got score %.8f (optimum %.8f) and %d moves", r.InitialScore, r.OptimalScore, len(r.Moves))
	}
}

func primaries(want map[string]int) func(*testing.T, *BalanceResult) {
	return func(t *testing.T, r *BalanceResult) {
		t.Helper()
		got := pcnt(r.Final)
		for n, w := range want {
			if got[n] != w {
				t.Errorf("final pcnt: %v, want %v\n%s", got, want, solutionLines(r))
				return
			}
		}
	}
}

func matches(re string, n int) func(*testing.T, *BalanceResult) {
	return func(t *testing.T, r *BalanceResult) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(solutionLines(r)) {
			t.Errorf("solution does not match %q:\n%s", re, solutionLines(r))
		}
		if n >= 0 && len(r.Moves) != n {
			t.Errorf("Solution length=%d, want %d", len(r.Moves), n)
		}
	}
}

func improved(t *testing.T, r *BalanceResult) {
	t.Helper()
	if len(r.Moves) == 0 || r.FinalScore >= r.InitialScore {
		t.Errorf("want 'Cluster score improved', got %.8f -> %.8f in %d moves", r.InitialScore, r.FinalScore, len(r.Moves))
	}
}

func both(fs ...func(*testing.T, *BalanceResult)) func(*testing.T, *BalanceResult) {
	return func(t *testing.T, r *BalanceResult) {
		t.Helper()
		for _, f := range fs {
			f(t, r)
		}
	}
}

func TestHbalShelltests(t *testing.T) {
	cases := []hbalCase{
		// htools-balancing.test
		{name: "std", file: "simu/simu-rebal-merged.standard", group: "group-01", hbal: lengthAtLeast(1)},
		{name: "std min-gain", file: "simu/simu-rebal-merged.standard", group: "group-01",
			opts: func(o *BalanceOptions) { o.MinGain, o.MinGainLimit = 10000, 10000 }, hbal: length(0)},
		{name: "tiered", file: "simu/simu-rebal-merged.tiered", group: "group-01", hbal: lengthAtLeast(1)},
		{name: "n1-failure group-02", file: "n1-failure.data", group: "group-02", hbal: length(0)},
		{name: "dyn", file: "hbal-dyn.data", hbal: length(1)},
		// Two moves deep, ours reaches 0.0 where hbal stops at 0.0326: it
		// takes those two moves only when told to (--thorough), as each
		// gains less than ExtraMoveCost.
		{name: "dyn thorough", file: "hbal-dyn.data", opts: func(o *BalanceOptions) { o.Thorough = true }, hbal: length(1),
			ours: both(length(3), func(t *testing.T, r *BalanceResult) {
				if r.FinalScore > 1e-9 {
					t.Errorf("final score %.8f, want 0", r.FinalScore)
				}
			})},
		{name: "dyn ignore-dynu", file: "hbal-dyn.data", fo: FinishOptions{IgnoreUtil: true}, hbal: wellBalanced},
		{name: "cpu-speed", file: "hbal-cpu-speed.data", fo: FinishOptions{IgnoreUtil: true},
			hbal: matches(`inst[12] node-slow:node-fast => node-fast:node-slow`, -1)},
		{name: "soft-errors", file: "hbal-soft-errors.data", hbal: length(0)},
		{name: "soft-errors2", file: "hbal-soft-errors2.data", hbal: length(0)},
		{name: "soft-errors ignored", file: "hbal-soft-errors.data", opts: func(o *BalanceOptions) { o.IgnoreSoftErrors = true }, hbal: lengthAtLeast(1)},
		{name: "soft-errors2 ignored", file: "hbal-soft-errors2.data", opts: func(o *BalanceOptions) { o.IgnoreSoftErrors = true }, hbal: lengthAtLeast(1)},
		{name: "forthcoming", file: "hbal-forth.data", hbal: lengthAtLeast(1)},
		// htools-hbal.test
		{name: "migration-1", file: "hbal-migration-1.data", hbal: primaries(map[string]int{"node-01": 3, "node-02": 0, "node-03": 3, "node-04": 0})},
		{name: "migration-2", file: "hbal-migration-2.data", hbal: primaries(map[string]int{"node-01": 2, "node-02": 2, "node-03": 2, "node-04": 0})},
		// Two more moves (replace-secondary) lower the score from
		// 2.92459186 to 2.88190356; primaries stay as hbal leaves them.
		{name: "migration-2 thorough", file: "hbal-migration-2.data", opts: func(o *BalanceOptions) { o.Thorough = true },
			hbal: primaries(map[string]int{"node-01": 2, "node-02": 2, "node-03": 2, "node-04": 0}),
			ours: both(primaries(map[string]int{"node-01": 2, "node-02": 2, "node-03": 2, "node-04": 0}), length(6))},
		{name: "migration-3", file: "hbal-migration-3.data", hbal: primaries(map[string]int{"node-01": 2, "node-02": 2, "node-03": 2, "node-04": 0})},
		{name: "desiredlocation-1", file: "hbal-desiredlocation-1.data", hbal: primaries(map[string]int{"node-01": 0, "node-02": 1})},
		{name: "desiredlocation-2", file: "hbal-desiredlocation-2.data", hbal: primaries(map[string]int{"node-01": 1, "node-02": 1, "node-03": 0})},
		{name: "desiredlocation-3", file: "hbal-desiredlocation-3.data", hbal: primaries(map[string]int{"node-01": 0, "node-02": 0, "node-03": 1})},
		{name: "desiredlocation-4", file: "hbal-desiredlocation-4.data", hbal: primaries(map[string]int{"node-01": 0, "node-02": 1})},
		{name: "location-1", file: "hbal-location-1.data", hbal: lengthAtLeast(1),
			// The same final placement in 4 moves instead of 5: one
			// instance's two moves merge into one.
			ours: func(t *testing.T, r *BalanceResult) {
				if len(r.Moves) != 4 || r.Compressed != 1 {
					t.Errorf("want 4 moves with 1 merged, got %d (%d merged)", len(r.Moves), r.Compressed)
				}
			}},
		{name: "location-exclusion", file: "hbal-location-exclusion.data", hbal: primaries(map[string]int{"node-1": 0, "node-2": 1, "node-3": 1, "node-4": 0})},
		{name: "shared-n1-failure", file: "shared-n1-failure.data", fo: FinishOptions{IgnoreUtil: true}, hbal: wellBalanced},
		{name: "shared-n1-failure -O nodeA", file: "shared-n1-failure.data", fo: FinishOptions{IgnoreUtil: true}, offline: []string{"nodeA"},
			hbal: primaries(map[string]int{"nodeA": 0, "nodeB": 4, "nodeC": 2, "nodeD": 4})},
		{name: "shared-n1-failure -O nodeC", file: "shared-n1-failure.data", fo: FinishOptions{IgnoreUtil: true}, offline: []string{"nodeC"}, hbal: length(0)},
		{name: "location-2", file: "hbal-location-2.data", hbal: primaries(map[string]int{"node-01": 1, "node-02": 0, "node-03": 1})},
		// htools-hbal-evac.test
		{name: "evac", file: "hbal-evac.data", hbal: matches(`inst-32. node-3:node-2 => node-2:node-1`, 4)},
		// In evac mode hbal leaves node-3 failing N+1; a fourth move
		// (of an instance evac mode would not touch) fixes it.
		{name: "evac-mode", file: "hbal-evac.data", opts: func(o *BalanceOptions) { o.EvacMode = true }, hbal: matches(`a=f r:node-1 f\n`, 3),
			ours: matches(`a=f r:node-1 f\n`, 4)},
		{name: "evac-mode restricted", file: "hbal-evac.data", opts: func(o *BalanceOptions) { o.EvacMode, o.RestrictedMigration = true, true },
			hbal: matches(`a=f r:node-1\n`, 3), ours: matches(`a=f r:node-1\n`, 4)},
		// htools-excl.test
		{name: "excl-tags", file: "hbal-excl-tags.data", fo: FinishOptions{ExclusionPrefixes: []string{"test"}}, hbal: improved},
		{name: "excl-tags without", file: "hbal-excl-tags.data", hbal: length(0),
			// hbal finds no single move that pays; two moves deep lower
			// the score from 3.671875 to 1.671875.
			ours: both(improved, length(2))},
		// htools-multi-group.test
		{name: "twogroups", file: "simu/simu-twogroups.standard", group: "group-01", hbal: func(*testing.T, *BalanceResult) {}},
		{name: "split-insts", file: "hbal-split-insts.data", group: "group-01", offline: []string{"node-01-001"}, hbal: improved},
		// plain instances: hbal leaves them; ganetictl copies them where
		// that pays ten minimal gains.
		{name: "plain-n1-restriction", file: "plain-n1-restriction.data", hbal: length(0), ours: both(improved, length(2))},
		{name: "hspace-existing", file: "hspace-existing.data", hbal: length(0), ours: both(improved, length(2))},
	}
	for _, tc := range cases {
		for _, hbal := range []bool{true, false} {
			name := tc.name + " (ours)"
			if hbal {
				name = tc.name + " (hbal)"
			}
			t.Run(name, func(t *testing.T) {
				c := loadText(t, tc.file, tc.fo)
				for _, n := range tc.offline {
					c.Nodes[c.NodeIndex(n)].Offline = true
				}
				g := 0
				if tc.group != "" {
					g = c.GroupIndex(tc.group)
				}
				o := DefaultBalanceOptions()
				o.Hbal = hbal
				if tc.opts != nil {
					tc.opts(&o)
				}
				r, err := Balance(c, g, o)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.hbal
				if !hbal && tc.ours != nil {
					want = tc.ours
				}
				want(t, r)
				if !hbal && len(r.FinalBadNodes) > 0 && len(r.FinalBadNodes) >= len(r.BadNodes) && len(r.BadNodes) > 0 {
					t.Logf("N+1 failures left: %v (before %v)", r.FinalBadNodes, r.BadNodes)
				}
				if !hbal && len(r.FinalBadNodes) > len(r.BadNodes) {
					t.Errorf("ours leaves more N+1 failures: %v, before %v", r.FinalBadNodes, r.BadNodes)
				}
			})
		}
	}
}

func TestBadItemsN1Failure(t *testing.T) {
	c := loadText(t, "n1-failure.data", FinishOptions{})
	r, err := Balance(c, c.GroupIndex("group-01"), DefaultBalanceOptions())
	if err != nil {
		t.Fatal(err)
	}
	// "Initial check done: 4 bad nodes, 8 bad instances."
	if len(r.BadNodes) != 4 || len(r.BadInstances) != 8 {
		t.Errorf("bad nodes %v, bad instances %v; want 4 and 8", r.BadNodes, r.BadInstances)
	}
}

// TestScoresMatchHbal: the initial score of every group of every data
// file, as hbal 3.0.2 prints it ("Initial score"), to the 8 digits it
// prints. hbal-location-2 differs on purpose: hbal 3.0.2 decides N+1 at
// load time from the reported free memory (fmem < rmem) and misses that
// node-02 fails N+1; Ganeti fixed this after 3.0.2 (commit 3c45a5c27,
// "some N+1 violations were not recognized by hbal") and so do we: its
// n1_cnt is 2, not 0.
func TestScoresMatchHbal(t *testing.T) {
	want := map[string]string{
		"clean-nonzero-score.data/group-01": "1.91573994", "common-suffix.data/default": "2.20849373",
		"hbal-cpu-speed.data/group-01": "0.77083333", "hbal-desiredlocation-1.data/group-01": "2.60937500",
		"hbal-desiredlocation-2.data/group-01": "5.13014453", "hbal-desiredlocation-3.data/group-01": "4.12221395",
		"hbal-desiredlocation-4.data/group-01": "3.60937500", "hbal-dyn.data/group-01": "4.00000000",
		"hbal-evac.data/group-01": "46.94539253", "hbal-excl-tags.data/group-01": "3.67187500",
		"hbal-forth.data/default": "0.05339306", "hbal-location-1.data/group-01": "4.06250000",
		"hbal-location-2.data/group-01":         "5.39869220", // hbal 3.0.2: 3.39869220, see above
		"hbal-location-exclusion.data/group-01": "2.98249548", "hbal-migration-1.data/group-01": "10.13359773",
		"hbal-soft-errors.data/default": "39.36461987", "hbal-soft-errors2.data/default": "3.21875000",
		"hbal-split-insts.data/group-01": "0.00585938", "hbal-split-insts.data/group-02": "0.00195312",
		"hroller-full.data/group-01": "0.00294054", "hroller-online.data/group-01": "1.84372991",
		"hspace-bad-group.data/group-bad": "2.03735352", "hspace-existing.data/group-01": "20.00000000",
		"hspace-groups-one.data/group-01": "11.78957167", "hspace-groups-two.data/group-01": "8.40582296",
		"hsqueeze-mixed-instances.data/group-01": "2.22693634", "hsqueeze-underutilized.data/group-01": "2.05492678",
		"multiple-tags.data/group-01": "1.53351869", "n1-failure.data/group-01": "22.37526844",
		"n1-failure.data/group-02": "0.00000000", "partly-used.data/group-01": "2.74131372",
		"plain-n1-restriction.data/group-01": "4.64613614", "shared-n1-failure.data/group-01": "3.46410162",
		"shared-n1-restriction.data/group-01": "4.42793833", "unique-reboot-order.data/group-01": "1.44536402",
	}
	for key, w := range want {
		file, group, _ := strings.Cut(key, "/")
		c := loadText(t, file, FinishOptions{})
		g := c.GroupIndex(group)
		var ns []*Node
		for _, n := range c.Nodes {
			if n.Group == g {
				ns = append(ns, n)
			}
		}
		if got := fmt8(Score(ns)); got != w {
			t.Errorf("%s: score %s, want %s", key, got, w)
		}
	}
}

type hailCase struct {
	file   string
	text   string // -t: the cluster from a text file
	edit   func(string) string
	opts   AllocOptions
	ok     bool
	result string // the result, as JSON, or a regexp with re
	re     bool
	info   string // regexp on info
}

// variant edits a request as Ganeti's offline-test.sh does.
func variant(repl ...string) func(string) string {
	return func(s string) string {
		for i := 0; i < len(repl); i += 2 {
			s = regexp.MustCompile(repl[i]).ReplaceAllString(s, repl[i+1])
		}
		return s
	}
}

var (
	exclStor     = variant(`"exclusive_storage": false`, `"exclusive_storage": true`)
	failExclStor = variant(`"exclusive_storage": false`, `"exclusive_storage": true`, `"spindles": [0-9]+,`, "")
	evacMode     = func(m string) func(string) string {
		return variant(`"evac_mode": "all"`, `"evac_mode": "`+m+`"`, `"spindles": [0-9]+,`, "")
	}
)

func TestHailShelltests(t *testing.T) {
	moved1 := `^Request successful: 0 instances failed to move and 1 were moved successfully$`
	failed1 := `^Request successful: 1 instances failed to move and 0 were moved successfully$`
	cases := []hailCase{
		{file: "hail-alloc-drbd.json", ok: true, result: `["node2","node1"]`},
		{file: "hail-reloc-drbd.json", ok: true, result: `["node1"]`},
		{file: "hail-node-evac.json", ok: true, info: moved1},
		{file: "hail-change-group.json", ok: true, info: moved1},
		{file: "hail-alloc-twodisks.json", opts: AllocOptions{NoCapacityChecks: true}, ok: true, result: `["node1"]`},
		{file: "hail-alloc-invalid-twodisks.json", ok: false, info: `FailDisk: 1`},
		{file: "hail-alloc-restricted-network.json", ok: true, info: `^Request successful: Selected group: Group 1`},
		{file: "hail-alloc-invalid-network.json", ok: false},
		{file: "hail-alloc-invalid-network.json", edit: variant(`(?m)^.*"network":"uuid-net-1-.".*\n`, ""), opts: AllocOptions{NoCapacityChecks: true},
			ok: true, info: `^Request successful: Selected group: Group 2`},
		{file: "hail-alloc-drbd.json", edit: exclStor, ok: true, result: `\["node.","node."\]`, re: true},
		{file: "hail-reloc-drbd.json", edit: exclStor, ok: true, result: `["node1"]`},
		{file: "hail-node-evac.json", edit: exclStor, ok: true, info: moved1},
		{file: "hail-change-group.json", edit: exclStor, ok: true, info: moved1},
		{file: "hail-alloc-twodisks.json", edit: exclStor, ok: true, result: `["node1"]`},
		{file: "hail-alloc-invalid-twodisks.json", edit: exclStor, ok: false, info: `FailDisk: 1$`},
		{file: "hail-alloc-drbd.json", edit: failExclStor, ok: false, info: `FailSpindles: 12$`},
		{file: "hail-reloc-drbd.json", edit: failExclStor, ok: false},
		{file: "hail-node-evac.json", edit: failExclStor, ok: true, info: failed1},
		{file: "hail-change-group.json", edit: failExclStor, ok: true, info: failed1},
		{file: "hail-alloc-twodisks.json", edit: failExclStor, ok: false, info: `FailSpindles: 1$`},
		{file: "hail-alloc-drbd.json", text: "simu/simu-rebal-merged.standard", ok: true},
		{file: "hail-reloc-drbd-crowded.json", ok: false},
		{file: "hail-reloc-drbd-crowded.json", opts: AllocOptions{IgnoreSoftErrors: true}, ok: true},
		{file: "hail-node-evac.json", edit: evacMode("primary-only"), ok: true, info: moved1},
		{file: "hail-node-evac.json", edit: evacMode("secondary-only"), ok: true, info: moved1},
		{file: "hail-node-evac.json", edit: evacMode("all"), ok: true, info: moved1},
		{file: "hail-alloc-spindles.json", opts: AllocOptions{NoCapacityChecks: true}, ok: true, result: `["node4"]`,
			info: `^Request successful: Selected group: group2,.*FailSpindles: 2,`},
		{file: "hail-alloc-spindles.json", edit: exclStor, ok: true, result: `["node1"]`,
			info: `^Request successful: Selected group: group1,.*FailSpindles: 2`},
		{file: "hail-alloc-plain-tags.json", ok: false, info: `FailTags: 3`},
		{file: "hail-alloc-plain-tags.json", opts: AllocOptions{IgnoreSoftErrors: true}, ok: true},
		{file: "hail-alloc-dedicated-1.json", ok: true, result: `["node2-quarter"]`},
		{file: "hail-multialloc-dedicated.json", ok: true, result: `^\[\[\[.*\["node2-quarter"\]`, re: true},
		{file: "hail-alloc-ext.json", text: "shared-n1-restriction.data", ok: true, result: `\["node[BCD]"\]`, re: true},
		{file: "hail-alloc-ext.json", text: "shared-n1-restriction.data", opts: AllocOptions{NoCapacityChecks: true}, ok: true, result: `["nodeA"]`},
		{file: "hail-alloc-ext.json", text: "plain-n1-restriction.data", ok: true, result: `\["node[BCD]"\]`, re: true},
		{file: "hail-alloc-ext.json", text: "plain-n1-restriction.data", opts: AllocOptions{NoCapacityChecks: true}, ok: true, result: `["nodeA"]`},
		{file: "hail-alloc-drbd.json", text: "partly-used.data", ok: true, result: `\["node-0[45]","node-0[45]"\]`, re: true, info: `successes 20,`},
		{file: "hail-alloc-drbd.json", text: "partly-used.data", opts: AllocOptions{RestrictToNodes: []string{"node-01", "node-02", "node-03"}},
			ok: true, result: `\["node-0[123]","node-0[123]"\]`, re: true, info: `successes 6,`},
		{file: "hail-alloc-drbd-restricted.json", text: "partly-used.data", ok: true, result: `\["node-0[123]","node-0[123]"\]`, re: true, info: `successes 6,`},
		{file: "hail-alloc-drbd-restricted.json", text: "partly-used.data", opts: AllocOptions{RestrictToNodes: []string{"node-01", "node-02"}},
			ok: true, result: `\["node-0[12]","node-0[12]"\]`, re: true, info: `successes 2,`},
		{file: "hail-alloc-drbd-restricted.json", text: "partly-used.data", opts: AllocOptions{RestrictToNodes: []string{"node-03", "node-04"}},
			ok: true, result: `\["node-0[34]","node-0[34]"\]`, re: true, info: `successes 2,`},
		{file: "hail-alloc-secondary.json", ok: true, result: `"node-2-2"`, info: `successes 2, failures 0`},
		{file: "hail-alloc-nlocation.json", ok: true, result: `["node3","node2"]`},
		{file: "hail-alloc-desired-location.json", ok: true, result: `["node1"]`},
	}
	for _, tc := range cases {
		name := tc.file
		if tc.text != "" {
			name = tc.text + "+" + name
		}
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "htools", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if tc.edit != nil {
				s = tc.edit(s)
			}
			r, err := ParseRequest([]byte(s), ParseOptions{StaticKVMNodeMem: DefaultStaticKVMNodeMem})
			if err != nil {
				t.Fatal(err)
			}
			if tc.text != "" {
				r.Cluster = loadText(t, tc.text, FinishOptions{})
			}
			resp, _ := r.Answer(tc.opts)
			if resp.Success != tc.ok {
				t.Fatalf("success %v, want %v: %s", resp.Success, tc.ok, resp.Marshal())
			}
			if tc.result != "" {
				if tc.re {
					if !regexp.MustCompile(tc.result).Match(resp.Result) {
						t.Errorf("result %s does not match %s", resp.Result, tc.result)
					}
				} else if string(resp.Result) != tc.result {
					t.Errorf("result %s, want %s", resp.Result, tc.result)
				}
			}
			if tc.info != "" && !regexp.MustCompile(tc.info).MatchString(resp.Info) {
				t.Errorf("info %q does not match %q", resp.Info, tc.info)
			}
		})
	}
}

func TestHailInvalid(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "Invalid JSON"}, {"[]", "Invalid JSON"}, {"{}", "key 'request' not found"},
		{`{"request": 0}`, "request"},
	} {
		if _, err := ParseRequest([]byte(tc.in), ParseOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRequest(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
	b, _ := os.ReadFile("testdata/htools/hail-invalid-reloc.json")
	if _, err := ParseRequest(b, ParseOptions{}); err == nil || !strings.Contains(err.Error(), "key 'name': Unable to read String") {
		t.Errorf("hail-invalid-reloc.json: %v", err)
	}
}

type hspaceCase struct {
	file  string
	opts  CapacityOptions
	check func(t *testing.T, kv map[string]string, r *CapacityResult)
}

func keys(r *CapacityResult) map[string]string {
	out := map[string]string{}
	for _, kv := range r.Keys() {
		out[kv.Key] = kv.Value
	}
	return out
}

func want(k, v string) func(*testing.T, map[string]string, *CapacityResult) {
	return func(t *testing.T, kv map[string]string, _ *CapacityResult) {
		t.Helper()
		if kv[k] != v {
			t.Errorf("HTS_%s=%s, want %s", k, kv[k], v)
		}
	}
}

func allocated(pred func(int) bool, what string) func(*testing.T, map[string]string, *CapacityResult) {
	return func(t *testing.T, _ map[string]string, r *CapacityResult) {
		t.Helper()
		if !pred(r.Standard.Allocated) {
			t.Errorf("%d instances allocated, want %s", r.Standard.Allocated, what)
		}
	}
}

func TestHspaceShelltests(t *testing.T) {
	nocap := CapacityOptions{MaxLength: -1, NoCapacityChecks: true}
	def := CapacityOptions{MaxLength: -1}
	zero := allocated(func(n int) bool { return n == 0 }, "0")
	some := allocated(func(n int) bool { return n > 0 }, "some")
	all := func(fs ...func(*testing.T, map[string]string, *CapacityResult)) func(*testing.T, map[string]string, *CapacityResult) {
		return func(t *testing.T, kv map[string]string, r *CapacityResult) {
			for _, f := range fs {
				f(t, kv, r)
			}
		}
	}
	cases := []hspaceCase{
		{"hspace-tiered.data", nocap, all(want("TSPEC", "131072,1048576,4,12=4 129984,1048320,4,12=2"), want("ALLOC_INSTANCES", "6"))},
		{"hspace-tiered-dualspec.data", nocap, all(want("TSPEC", "131072,1048576,4,12=4 129984,1048320,4,12=2 65472,524288,2,12=2"), want("ALLOC_INSTANCES", "14"))},
		{"hspace-tiered-exclusive.data", nocap, all(want("TSPEC", "131072,1048576,4,10=1 131072,1048576,4,9=1 131072,1048576,4,8=2"),
			want("ALLOC_INSTANCES", "6"), want("TRL_SPN_FREE", "0"), want("FIN_SPN_FREE", "29"))},
		{"hspace-tiered-dualspec-exclusive.data", nocap, all(want("TSPEC", "131072,1048576,4,4=4 129984,1048320,4,4=2 65472,524288,2,2=2"),
			want("ALLOC_INSTANCES", "14"), want("TRL_SPN_FREE", "7"), want("FIN_SPN_FREE", "7"))},
		{"hspace-tiered-mixed.data", nocap, all(want("TSPEC", "131072,1048576,4,12=2 131072,1048576,4,10=2 129984,1048320,4,10=2"),
			want("ALLOC_INSTANCES", "6"), want("TRL_SPN_FREE", "0"), want("FIN_SPN_FREE", "18"))},
		{"hspace-tiered-ipolicy.data", nocap, all(want("TRL_INST_CNT", "4"), func(t *testing.T, _ map[string]string, r *CapacityResult) {
			if p := pcnt(r.Tiered.Cluster()); p["node-01-001"] != 1 || p["node-01-002"] != 1 || p["node-01-003"] != 1 || p["node-01-004"] != 1 {
				t.Errorf("tiered pcnt %v, want 1 each", p)
			}
		})},
		{"hspace-tiered-resourcetypes.data", nocap, func(t *testing.T, _ map[string]string, r *CapacityResult) {
			if p := pcnt(r.Tiered.Cluster()); p["node-01-001"] != 1 || p["node-01-002"] != 2 || p["node-01-003"] != 2 || p["node-01-004"] != 2 {
				t.Errorf("tiered pcnt %v, want 1 2 2 2", p)
			}
		}},
		{"hspace-tiered-vcpu.data", def, all(want("TSPEC", "32768,65536,4,12=4 32768,65536,2,12=2"), want("ALLOC_INSTANCES", "10"))},
		{"hspace-groups-one.data", def, zero},
		{"hspace-groups-one.data", CapacityOptions{MaxLength: -1, IndependentGroups: true}, zero},
		{"hspace-groups-one.data", CapacityOptions{MaxLength: -1, AcceptExisting: true}, allocated(func(n int) bool { return n == 2 }, "2")},
		{"hspace-groups-two.data", def, zero},
		{"hspace-groups-two.data", CapacityOptions{MaxLength: -1, IndependentGroups: true}, allocated(func(n int) bool { return n == 2 }, "2")},
		{"hspace-groups-two.data", CapacityOptions{MaxLength: -1, AcceptExisting: true}, allocated(func(n int) bool { return n == 2 }, "2")},
		{"hspace-existing.data", def, zero},
		{"hspace-existing.data", CapacityOptions{MaxLength: -1, AcceptExisting: true}, some},
		{"hspace-bad-group.data", def, zero},
		{"hspace-bad-group.data", CapacityOptions{MaxLength: -1, AcceptExisting: true}, zero},
		{"hspace-bad-group.data", CapacityOptions{MaxLength: -1, IndependentGroups: true}, some},
		{"hspace-bad-group.data", def, func(t *testing.T, _ map[string]string, r *CapacityResult) {
			if !slices.Equal(r.BadGroups, []string{"group-bad"}) {
				t.Errorf("bad groups %v, want [group-bad]", r.BadGroups)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c := loadText(t, tc.file, FinishOptions{})
			r, err := c.Capacity(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, keys(r), r)
		})
	}
}

// TestHspaceSimu: hspace --simu p,4,8T,64g,16 --disk-template drbd -l 8
// placed the 8 instances of simu-onegroup.standard; from the same empty
// cluster ganetictl places as many.
func TestHspaceSimu(t *testing.T) {
	c := loadText(t, "simu/simu-onegroup.standard", FinishOptions{})
	if len(c.Instances) != 8 {
		t.Fatalf("simu-onegroup.standard has %d instances, want 8", len(c.Instances))
	}
	empty := loadText(t, "simu/simu-onegroup.standard", FinishOptions{})
	empty.Instances = nil
	for _, n := range empty.Nodes {
		n.FDsk = int(n.TDsk)
	}
	if _, err := empty.Finish(FinishOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := empty.Capacity(CapacityOptions{MaxLength: 8, Template: DRBD})
	if err != nil {
		t.Fatal(err)
	}
	if r.Standard.Allocated != 8 {
		t.Errorf("allocated %d, want 8", r.Standard.Allocated)
	}
	if kv := keys(r); kv["OK"] != "1" {
		t.Errorf("HTS_OK=%s", kv["OK"])
	}
}

// TestHspaceBetterN1: Ganeti's global N+1 check moves a node's
// shared-storage instances in list order, and may move them to offline
// nodes; ours moves the largest first and never to an offline node. On
// shared-n1-restriction that finds room for more instances, on hbal-evac
// it refuses placements whose only escape is the offline node-E.
func TestHspaceBetterN1(t *testing.T) {
	for _, tc := range []struct {
		file         string
		tiered       bool
		ours, hspace int
	}{
		{"shared-n1-restriction.data", false, 16, 2}, // hspace: 2 (it moves a small instance first and strands a large one)
		{"hbal-evac.data", true, 2, 3},               // hspace's third counts on evacuating to the offline node-E
	} {
		c := loadText(t, tc.file, FinishOptions{})
		ours, err := c.Capacity(CapacityOptions{MaxLength: -1})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := c.Capacity(CapacityOptions{MaxLength: -1, compatN1: true})
		if err != nil {
			t.Fatal(err)
		}
		o, h := ours.Standard.Allocated, theirs.Standard.Allocated
		if tc.tiered {
			o, h = ours.Tiered.Allocated, theirs.Tiered.Allocated
		}
		if o != tc.ours || h != tc.hspace {
			t.Errorf("%s: ours %d, as hspace %d; want %d and %d", tc.file, o, h, tc.ours, tc.hspace)
		}
		if ok, why := ours.Standard.Cluster().Redundant(); !ok {
			t.Errorf("%s: our result is not redundant: %s", tc.file, why)
		}
	}
}

// TestEvacuateNode: node evacuate empties a node and keeps each drbd
// instance's other node: hbal-evac's node-2 holds primaries and mirrors.
func TestEvacuateNode(t *testing.T) {
	c := loadText(t, "hbal-evac.data", FinishOptions{})
	ev, err := c.EvacuateNode("node-2", EvacAll, AllocOptions{IgnoreSoftErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	n2 := c.NodeIndex("node-2")
	for _, in := range ev.Cluster.Instances {
		if in.Pri == n2 || in.Sec == n2 {
			if !slices.ContainsFunc(ev.Failed, func(f EvacFailed) bool { return f.Instance == in.Name }) {
				t.Errorf("%s still on node-2 and not reported failed", in.Name)
			}
		}
	}
	if len(ev.Moved) == 0 {
		t.Fatalf("nothing moved: %+v", ev.Failed)
	}
	for _, m := range ev.Moves {
		if slices.Contains([]string{m.Primary, m.Secondary}, "node-E") {
			t.Errorf("move %+v targets the offline node", m)
		}
	}
}
