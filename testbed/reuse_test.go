//go:build bed

package testbed

import (
	"context"
	"testing"
	"time"
)

// Start with Reuse attaches to a healthy bed with enough nodes and
// replaces one with too few.
func TestStartReuse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{Nodes: 2, Dir: t.TempDir(), ID: e2eID + 2, PVSize: 1 << 30, Reuse: true}
	a, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Teardown(context.Background()); err != nil {
			t.Error(err)
		}
		checkGone(t, a, nil)
	}()
	pid, err := a.initPID("node1")
	if err != nil {
		t.Fatal(err)
	}
	o.Nodes = 1
	t0 := time.Now()
	b, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := b.initPID("node1"); again != pid || len(b.Nodes()) != 2 {
		t.Fatalf("not reused: pid %d -> %d, %d nodes", pid, again, len(b.Nodes()))
	}
	t.Logf("reuse in %v", time.Since(t0).Round(time.Millisecond))
	o.Nodes = 3
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes()) != 3 {
		t.Fatalf("want a fresh 3-node bed, got %d nodes", len(c.Nodes()))
	}
	if again, _ := c.initPID("node1"); again == pid {
		t.Fatal("3-node request reused the 2-node bed")
	}
	a = c
}
