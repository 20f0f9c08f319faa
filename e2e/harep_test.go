//go:build bed

package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lose powers a node off and marks it offline, as an admin does with a
// dead node; the node is booted again when the test ends.
func (c *cluster) lose(node string) {
	c.t.Helper()
	if err := c.bed.PowerOff(c.t.Context(), node); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { // t.Context is done by now
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.bed.Boot(ctx, node)
	})
	c.ok("node", "modify", "-O", "yes", "--force", node)
}

// repairTags are an instance's autorepair result and pending tags.
func (c *cluster) repairTags(inst string) []string {
	c.t.Helper()
	var out []string
	for _, t := range strings.Fields(c.ok("instance", "list-tags", inst).stdout) {
		if strings.HasPrefix(t, "ganeti:watcher:autorepair:result:") || strings.HasPrefix(t, "ganeti:watcher:autorepair:pending:") {
			out = append(out, t)
		}
	}
	return out
}

// wantResult checks that inst has exactly one repair tag, a result of
// kind typ with result res and at least one job unless enoperm.
func (c *cluster) wantResult(inst, typ, res string) string {
	c.t.Helper()
	tags := c.repairTags(inst)
	jobs := `[0-9]+(\+[0-9]+)*`
	if res == "enoperm" {
		jobs = ""
	}
	re := regexp.MustCompile(`^ganeti:watcher:autorepair:result:` + typ + `:[0-9a-f-]{36}:[0-9]+:` + res + `:` + jobs + `$`)
	if len(tags) != 1 || !re.MatchString(tags[0]) {
		c.t.Fatalf("%s: repair tags %v, want one result:%s:...:%s", inst, tags, typ, res)
	}
	return tags[0]
}

// list is one instance list row: fields separated by |.
func (c *cluster) list(inst, fields string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("instance", "list", "-o", fields, "--no-headers", "--separator=|", inst).stdout)
}

// waitSynced waits until node shows every DRBD minor of the instance
// Connected and UpToDate on both sides.
func (c *cluster) waitSynced(node string) {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := c.node(node, "cat", "/run/testbed/drbd/proc_drbd")
		if strings.Contains(st, "cs:Connected") && strings.Contains(st, "ds:UpToDate/UpToDate") && !strings.Contains(st, "Inconsistent") {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: DRBD not in sync:\n%s", node, st)
		}
		time.Sleep(time.Second)
	}
}

// TestHarepSecondaryOffline: a drbd instance loses its secondary. Without
// a tag harep only says why it does nothing; with fix-storage on the
// cluster it moves the mirror to a new secondary (the node with the most
// free space) and records success with the job.
func TestHarepSecondaryOffline(t *testing.T) {
	c := newCluster(t, 4)
	n := c.names()
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-h1")
	if r := c.fails(0, "harep"); !strings.Contains(r.stdout, "Healthy: 1") {
		t.Fatalf("healthy cluster: %s", r)
	}
	m := c.marker(n[0], "e2e-h1", 0)
	c.lose(n[1])
	r := c.fails(0, "harep")
	if !strings.Contains(r.stdout, "Not repairing e2e-h1 because it's in state not enabled") || len(c.repairTags("e2e-h1")) != 0 {
		t.Fatalf("without a tag: %s", r)
	}
	c.ok("cluster", "add-tags", "ganeti:watcher:autorepair:fix-storage")
	r = c.fails(2, "cluster", "autorepair")
	if !strings.Contains(r.stdout, "Executing fix-storage repair on e2e-h1") || !strings.Contains(r.stdout, `Moving e2e-h1 from "Pending repair" to "Healthy"`) {
		t.Fatalf("repair: %s", r)
	}
	c.wantResult("e2e-h1", "fix-storage", "success")
	row := c.list("e2e-h1", "pnode,snodes,status")
	if row != n[0]+"|"+n[2]+"|running" && row != n[0]+"|"+n[3]+"|running" {
		t.Fatalf("after the repair: %q", row)
	}
	c.waitSynced(n[0])
	if got := c.marker(n[0], "e2e-h1", 0); got != m {
		t.Errorf("marker after the repair: %+v, want %+v", got, m)
	}
	// Healthy again: the next run leaves it (and its result tag) alone.
	if r := c.fails(0, "harep"); !strings.Contains(r.stdout, "Healthy: 1") {
		t.Errorf("after the repair: %s", r)
	}
	c.ok("instance", "remove", "-f", "--shutdown-timeout", "1s", "e2e-h1")
}

// TestHarepPrimaryOffline: a drbd instance loses its primary. With only
// fix-storage allowed harep records enoperm; once the instance's own tag
// allows failover (the nearest tag wins) it fails over and records
// success in place of the enoperm.
func TestHarepPrimaryOffline(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	c.ok("instance", "add", "-n", n[1]+":"+n[2], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-h2")
	m := c.marker(n[1], "e2e-h2", 0)
	c.waitReplicated(n[1], n[2], "e2e-h2")
	c.ok("cluster", "add-tags", "ganeti:watcher:autorepair:fix-storage")
	c.lose(n[1])
	time.Sleep(4 * time.Second) // the stand-in notices the dead peer
	r := c.fails(2, "harep")
	if !strings.Contains(r.stdout, "Not performing a repair of type failover on e2e-h2 because only repairs up to fix-storage are allowed") {
		t.Fatalf("enoperm: %s", r)
	}
	c.wantResult("e2e-h2", "failover", "enoperm")
	if row := c.list("e2e-h2", "pnode"); row != n[1] {
		t.Fatalf("enoperm moved the instance: %q", row)
	}
	c.ok("instance", "add-tags", "e2e-h2", "ganeti:watcher:autorepair:failover")
	r = c.fails(2, "harep")
	if !strings.Contains(r.stdout, "Executing failover repair on e2e-h2") {
		t.Fatalf("failover: %s", r)
	}
	c.wantResult("e2e-h2", "failover", "success")
	if row := c.list("e2e-h2", "pnode,status"); row != n[2]+"|running" {
		t.Fatalf("after the failover: %q", row)
	}
	if got := c.marker(n[2], "e2e-h2", 0); got.Token != m.Token {
		t.Errorf("marker after the failover: %+v, want %+v", got, m)
	}
}

// TestHarepBothOffline: a drbd instance loses both nodes and a plain one
// its node. The group's tag allows only failover: enoperm; with reinstall
// the disks are recreated on new nodes, the OS reinstalled (the data is
// lost: a new marker) and the watcher then starts them.
func TestHarepBothOffline(t *testing.T) {
	c := newCluster(t, 4)
	n := c.names()
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	c.ok("instance", "add", "-n", n[2]+":"+n[3], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-h3")
	c.ok("instance", "add", "-n", n[3], "-o", "testos", "-t", "plain", "-s", "32M", "--no-name-check", "e2e-h4")
	old := c.marker(n[2], "e2e-h3", 0)
	c.ok("group", "add-tags", "default", "ganeti:watcher:autorepair:failover")
	c.lose(n[2])
	c.lose(n[3])
	c.fails(2, "harep")
	c.wantResult("e2e-h3", "reinstall", "enoperm")
	c.wantResult("e2e-h4", "reinstall", "enoperm")
	c.ok("group", "add-tags", "default", "ganeti:watcher:autorepair:reinstall")
	c.ok("group", "remove-tags", "default", "ganeti:watcher:autorepair:failover")
	r := c.fails(2, "harep")
	if !strings.Contains(r.stdout, "Executing reinstall repair on e2e-h3") || !strings.Contains(r.stdout, "Executing reinstall repair on e2e-h4") {
		t.Fatalf("reinstall: %s", r)
	}
	tag := c.wantResult("e2e-h3", "reinstall", "success")
	if jobs := tag[strings.LastIndex(tag, ":")+1:]; !strings.Contains(jobs, "+") {
		t.Errorf("the reinstall repair ran %q: want its two jobs (recreate-disks, reinstall)", jobs)
	}
	c.wantResult("e2e-h4", "reinstall", "success")
	if row := c.list("e2e-h3", "pnode,snodes"); row != n[0]+"|"+n[1] && row != n[1]+"|"+n[0] {
		t.Fatalf("e2e-h3 after the reinstall: %q", row)
	}
	// The watcher starts what is configured up.
	c.fails(2, "watcher")
	for _, inst := range []string{"e2e-h3", "e2e-h4"} {
		if st := c.list(inst, "status"); st != "running" {
			t.Errorf("%s after the watcher: %q", inst, st)
		}
	}
	p3 := strings.Split(c.list("e2e-h3", "pnode"), "|")[0]
	if got := c.marker(p3, "e2e-h3", 0); got.Token == old.Token || got.Name != "e2e-h3" {
		t.Errorf("e2e-h3's marker after the reinstall: %+v (old %+v)", got, old)
	}
	c.waitSynced(p3)
}

// TestHarepFailure: a repair that fails records failure and is not tried
// again until the failure tag is removed; a suspension stops harep.
func TestHarepFailure(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	for _, x := range n[1:] {
		c.ok("node", "add", x)
	}
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "e2e-h5")
	c.ok("instance", "add-tags", "e2e-h5", "ganeti:watcher:autorepair:fix-storage")
	c.lose(n[1])
	// The only candidate for the new secondary cannot create volumes.
	if err := c.bed.FailNext(n[2], "lvcreate", 1, 5, "  Insufficient free space (simulated)\n"); err != nil {
		t.Fatal(err)
	}
	defer c.bed.ClearFaults(n[2])
	r := c.fails(3, "harep")
	if !strings.Contains(r.stdout, `Moving e2e-h5 from "Pending repair" to "Failure"`) {
		t.Fatalf("failed repair: %s", r)
	}
	failure := c.wantResult("e2e-h5", "fix-storage", "failure")
	r = c.fails(0, "harep")
	if !strings.Contains(r.stdout, "Not repairing e2e-h5: its repair failed") || !strings.Contains(r.stdout, "Failure: 1") {
		t.Fatalf("after the failure: %s", r)
	}
	if row := c.list("e2e-h5", "snodes"); row != n[1] {
		t.Fatalf("a failed repair was tried again: %q", row)
	}
	// Suspended: nothing happens, even once the failure tag is gone; an
	// expired suspension tag is removed.
	c.ok("instance", "remove-tags", "e2e-h5", failure)
	c.ok("instance", "add-tags", "e2e-h5", "ganeti:watcher:autorepair:suspend")
	c.ok("cluster", "add-tags", "ganeti:watcher:autorepair:suspend:1")
	r = c.fails(2, "harep")
	if !strings.Contains(r.stdout, "Not repairing e2e-h5 because it's in state suspended") {
		t.Fatalf("suspended: %s", r)
	}
	if strings.Contains(c.ok("cluster", "list-tags").stdout, "suspend:1") {
		t.Error("the expired suspension tag stays")
	}
	if row := c.list("e2e-h5", "snodes"); row != n[1] {
		t.Fatalf("a suspended instance was repaired: %q", row)
	}
	c.ok("instance", "remove-tags", "e2e-h5", "ganeti:watcher:autorepair:suspend")
	c.fails(2, "harep")
	c.wantResult("e2e-h5", "fix-storage", "success")
	if row := c.list("e2e-h5", "snodes"); row != n[2] {
		t.Errorf("after the failure tag went: %q", row)
	}
}

// waitReplicated waits until the secondary's data volume holds what the
// primary's disk does (the DRBD stand-in copies a Primary's writes to its
// Secondary in the background, within a second or so).
func (c *cluster) waitReplicated(primary, secondary, inst string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, s := c.diskSum(primary, inst, 0, 1), c.drbdBackingSumMiB(secondary, inst, 1)
		if p == s {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: the secondary %s never got the primary's data", inst, secondary)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
