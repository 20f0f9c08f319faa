package testbed

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MinSharedNodes is the least number of nodes ForTest starts the shared
// bed with, so packages asking for fewer nodes do not restart it under
// each other.
const MinSharedNodes = 4

// ForTest returns the shared default bed (id $TESTBED_ID or 0, in
// $TESTBED_DIR or DefaultDir) with at least n nodes, reusing a running one. The bed is
// left running for the next test package; remove it with
// "make testbed-down". A bed with fewer nodes is replaced by a bigger one.
//
// Tests must leave the shared bed as they found it (nodes on, links up,
// faults disarmed) and use their own names for LVs, instances and state
// directories (see WriteInventory).
//
// Without root or the needed tools it skips loudly, except with CI=true,
// where it fails.
func ForTest(t testing.TB, n int) *Bed {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	id := 0
	if v := os.Getenv("TESTBED_ID"); v != "" {
		var err error
		if id, err = strconv.Atoi(v); err != nil {
			t.Fatalf("testbed: TESTBED_ID=%q: want a number 0..255", v)
		}
	}
	b, err := Start(ctx, Options{Nodes: max(n, MinSharedNodes), ID: id, Reuse: true})
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return b
}

// Require skips (or, with CI=true, fails) t when this machine cannot run a
// bed.
func Require(t testing.TB) {
	t.Helper()
	if err := Preflight(); err != nil {
		msg := "\n" + strings.Repeat("!", 72) + "\n!!! SKIPPING END-TO-END TEST: " + err.Error() +
			"\n!!! Run as root on Debian 12 with the test-bed packages (see testbed/doc.go).\n" + strings.Repeat("!", 72)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "\n(CI=true: failing instead of skipping)")
		}
		t.Skip(msg)
	}
}
