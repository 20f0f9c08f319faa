//go:build bed

package e2e

import (
	"strings"
	"testing"
)

// TestEncryptedMigration migrates an instance with migration_encrypt: the
// stream goes from the source QEMU's unix socket through the helpers over
// pinned TLS to the target QEMU's unix socket; a stranger connecting to the
// tunnel's port meanwhile gets nothing and the migration completes.
func TestEncryptedMigration(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("node", "add", n[2])
	name := "e2e-tun"
	c.ok("instance", "add", "-n", n[0], "-o", "testos", "-t", "sharedfile", "-s", "32M",
		"-H", "kvm:migration_encrypt=true", "--no-name-check", name)
	m := c.marker(n[0], name, 0)

	r := c.ok("--dry-run", "instance", "migrate", "-n", n[1], name)
	for _, want := range []string{"tunnel-recv", "tunnel-send", "-incoming unix:/run/ganetictl/tunnel/" + name + ".migrate-in"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plan of an encrypted migration lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "PRIVATE KEY") {
		t.Fatalf("the plan shows a tunnel key:\n%s", r.stdout)
	}

	// A stranger knocks on the tunnel's port while the migration runs.
	knock := make(chan string, 1)
	go func() {
		out, _ := c.nodeErr(n[2], "sh", "-c", `for i in $(seq 1 100); do
  if out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 2 socat -T1 - "TCP:$1:8102" 2>/dev/null); then echo "connected:$out"; exit 0; fi
  sleep 0.05
done; echo none`, "knock", c.bed.Nodes()[1].SecondaryAddr)
		knock <- strings.TrimSpace(out)
	}()
	c.ok("instance", "migrate", "-n", n[1], name)
	if st := c.qmpStatus(n[1], name); st != "running" {
		t.Fatalf("after an encrypted migration: QMP on %s says %q", n[1], st)
	}
	if got := c.marker(n[1], name, 0); got != m {
		t.Errorf("marker after migrate: %+v, want %+v", got, m)
	}
	// The target QEMU took the stream from the tunnel's socket.
	if cmd := c.node(n[1], "sh", "-c", `tr '\0' ' ' < /proc/$(cat /run/ganeti/kvm-hypervisor/pid/$1)/cmdline`, "c", name); !strings.Contains(cmd, "-incoming unix:/run/ganetictl/tunnel/"+name+".migrate-in") {
		t.Errorf("target qemu did not listen on the tunnel: %s", cmd)
	}
	switch k := <-knock; {
	case k == "none":
		t.Logf("the stranger never caught the tunnel's port open (it is open only during the migration)")
	case k != "connected:":
		t.Errorf("a stranger got data from the tunnel's port: %q", k)
	}
	for _, node := range n[:2] {
		if out := c.node(node, "sh", "-c", "ls /run/ganetictl/tunnel 2>/dev/null; true"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: tunnel leftovers: %s", node, out)
		}
	}
	c.verifyClean()
}
