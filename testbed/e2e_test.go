//go:build bed

package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/testbed/loopdev"
)

// The tests in the files tagged bed start beds of their own (make e2e);
// the untagged ones need no root.

// e2eID is the bed id of this package's own beds; the shared default bed
// (id 0) that other packages reuse is never touched.
const e2eID = 201

// sshOut runs a command on node through plain OpenSSH with the bed's
// ssh_config (strict host-key checking), feeding stdin.
func sshOut(ctx context.Context, b *Bed, node string, stdin []byte, args ...string) (string, string, error) {
	cmd := b.SSH(ctx, node, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("ssh %s %s: %w: %s", node, strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

func mustSSH(ctx context.Context, t *testing.T, b *Bed, node string, args ...string) string {
	t.Helper()
	out, _, err := sshOut(ctx, b, node, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestE2E(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t0 := time.Now()
	b, err := Start(ctx, Options{Nodes: 3, Dir: dir, ID: e2eID, PVSize: 2 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3 nodes up in %v", time.Since(t0).Round(time.Millisecond))
	tornDown := false
	t.Cleanup(func() {
		if !tornDown {
			b.Teardown(context.Background())
		}
	})

	t.Run("ssh", func(t *testing.T) {
		for _, n := range b.Nodes() {
			if got := strings.TrimSpace(mustSSH(ctx, t, b, n.Name, "uname", "-n")); got != n.Name {
				t.Errorf("%s: uname -n = %q", n.Name, got)
			}
		}
		// node-to-node by name and by secondary address, strict host keys
		out := mustSSH(ctx, t, b, "node1", "ssh node2 uname -n; ssh "+b.Nodes()[2].SecondaryAddr+" uname -n")
		if out != "node2\nnode3\n" {
			t.Errorf("node-to-node ssh: %q", out)
		}
		mustSSH(ctx, t, b, "node2", "test -x /srv/ganeti/os/testos/create && test -f "+DRBDStatusFile)
		if out := mustSSH(ctx, t, b, "node1", "echo $PATH; test -e ~/.bashrc && echo bashrc; hostname; cat /etc/hostname"); out !=
			nodePath+"\nnode1\nnode1\n" {
			t.Errorf("node environment: %q", out)
		}
	})

	t.Run("isolation", func(t *testing.T) {
		mustSSH(ctx, t, b, "node1", "echo x > /srv/ganeti/iso; echo x > /var/lib/ganeti/iso; echo x > /etc/ganeti/iso; echo s > /srv/ganeti/shared-file-storage/iso")
		out := mustSSH(ctx, t, b, "node2", "ls /srv/ganeti/iso /var/lib/ganeti/iso /etc/ganeti/iso 2>/dev/null; cat /srv/ganeti/shared-file-storage/iso /srv/testbed-shared/sharedfile/iso")
		if out != "s\ns\n" {
			t.Errorf("node2 sees %q; want only the shared file twice", out)
		}
		if _, err := os.Stat("/srv/ganeti/iso"); err == nil {
			t.Error("node file visible on the host")
		}
	})

	t.Run("lv-data", func(t *testing.T) {
		mustSSH(ctx, t, b, "node1", "lvcreate -q -L 16m -n e2e xenvg")
		data := randomBytes(1 << 20)
		if _, _, err := sshOut(ctx, b, "node1", data, "dd of=/dev/xenvg/e2e bs=64k seek=16 conv=fsync,notrunc status=none"); err != nil {
			t.Fatal(err)
		}
		back, _, err := sshOut(ctx, b, "node1", nil, "dd if=/dev/xenvg/e2e bs=64k skip=16 count=16 status=none")
		if err != nil || back != string(data) {
			t.Fatalf("read back through /dev/xenvg/e2e: equal=%v err=%v", back == string(data), err)
		}
		// ... and it is in the PV image at pe_start + first_pe*extent_size.
		f := strings.Fields(mustSSH(ctx, t, b, "node1",
			"pvs --noheadings --units b --nosuffix -o pe_start; lvs --noheadings --units b --nosuffix -o seg_pe_ranges,vg_extent_size xenvg/e2e"))
		m := regexp.MustCompile(`:(\d+)-`).FindStringSubmatch(strings.Join(f, " "))
		if len(f) != 3 || m == nil {
			t.Fatalf("pvs/lvs: %q", f)
		}
		peStart, _ := strconv.ParseInt(f[0], 10, 64)
		pe, _ := strconv.ParseInt(m[1], 10, 64)
		ext, _ := strconv.ParseInt(f[2], 10, 64)
		img, err := os.Open(b.PVImagePath("node1"))
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		got := make([]byte, len(data))
		if _, err := img.ReadAt(got, peStart+pe*ext+1<<20); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("PV image at %d+%d*%d+1MiB: equal=%v err=%v", peStart, pe, ext, bytes.Equal(got, data), err)
		}
		// rename, deactivate, reactivate, grow keep the data reachable
		mustSSH(ctx, t, b, "node1", "lvrename -q xenvg e2e e2e2 && lvchange -an xenvg/e2e2 && test ! -e /dev/xenvg/e2e2 && lvchange -ay xenvg/e2e2 && lvextend -q -L 32m xenvg/e2e2")
		back, _, err = sshOut(ctx, b, "node1", nil, "dd if=/dev/xenvg/e2e2 bs=64k skip=16 count=16 status=none")
		if err != nil || back != string(data) {
			t.Fatalf("after rename/deactivate/activate/extend: equal=%v err=%v", back == string(data), err)
		}
		if out := mustSSH(ctx, t, b, "node1", "blockdev --getsize64 /dev/xenvg/e2e2"); strings.TrimSpace(out) != "33554432" {
			t.Errorf("size after lvextend: %s", out)
		}
		mustSSH(ctx, t, b, "node1", "lvremove -q -f xenvg/e2e2 && test ! -e /dev/xenvg/e2e2")
	})

	t.Run("qemu-migration", func(t *testing.T) { testMigration(ctx, t, b) })
	t.Run("drbd", func(t *testing.T) { testDRBD(ctx, t, b) })

	t.Run("fail-next", func(t *testing.T) {
		if err := b.FailNext("node1", "lvs", 1, 7, "  injected failure\n"); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := sshOut(ctx, b, "node1", nil, "lvs")
		var ee interface{ ExitCode() int }
		if !errors.As(err, &ee) || ee.ExitCode() != 7 || stderr != "  injected failure\n" {
			t.Fatalf("armed lvs: err=%v stderr=%q", err, stderr)
		}
		mustSSH(ctx, t, b, "node1", "lvs")
	})

	t.Run("cut-and-slow", func(t *testing.T) {
		if err := b.Cut(ctx, "node2"); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		_, _, err := sshOut(ctx, b, "node2", nil, "-o", "ConnectTimeout=1", "true")
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("ssh to cut node: %v after %v; want a timeout", err, time.Since(t1))
		}
		if out, _, err := b.Run(ctx, "node2", "uname", "-n"); err != nil || out != "node2\n" {
			t.Errorf("Run on cut node: %q %v", out, err)
		}
		if err := b.Restore(ctx, "node2"); err != nil {
			t.Fatal(err)
		}
		mustSSH(ctx, t, b, "node2", "true")

		if err := b.Slow(ctx, "node2", 16_000_000); err != nil {
			t.Fatal(err)
		}
		t1 = time.Now()
		mustSSH(ctx, t, b, "node2", "head -c 3000000 /dev/zero")
		slow := time.Since(t1)
		if err := b.Unslow(ctx, "node2"); err != nil {
			t.Fatal(err)
		}
		t1 = time.Now()
		mustSSH(ctx, t, b, "node2", "head -c 3000000 /dev/zero")
		fast := time.Since(t1)
		t.Logf("3 MB from node2: %v at 16 Mbit/s, %v unlimited", slow.Round(time.Millisecond), fast.Round(time.Millisecond))
		if slow < 1200*time.Millisecond || fast > slow/2 {
			t.Errorf("slow link: %v, unlimited: %v", slow, fast)
		}
	})

	t.Run("power", func(t *testing.T) {
		mustSSH(ctx, t, b, "node3", "lvcreate -q -L 8m -n keep xenvg")
		data := randomBytes(64 << 10)
		if _, _, err := sshOut(ctx, b, "node3", data, "dd of=/dev/xenvg/keep conv=fsync status=none; echo x > /run/ganeti/volatile; echo y > /var/lib/ganeti/persistent"); err != nil {
			t.Fatal(err)
		}
		if err := b.PowerOff(ctx, "node3"); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		_, _, err := sshOut(ctx, b, "node3", nil, "true")
		if d := time.Since(t1); err == nil || !strings.Contains(err.Error(), "Connection refused") || d > 2*time.Second {
			t.Errorf("ssh to powered-off node: %v after %v; want connection refused at once", err, d)
		}
		if _, _, err := b.Run(ctx, "node3", "true"); err == nil || !strings.Contains(err.Error(), "powered off") {
			t.Errorf("Run on powered-off node: %v", err)
		}
		t1 = time.Now()
		if err := b.Boot(ctx, "node3"); err != nil {
			t.Fatal(err)
		}
		t.Logf("node3 booted in %v", time.Since(t1).Round(time.Millisecond))
		back, _, err := sshOut(ctx, b, "node3", nil, "head -c 65536 /dev/xenvg/keep; ls /run/ganeti; cat /var/lib/ganeti/persistent")
		if err != nil || back != string(data)+"y\n" {
			t.Errorf("after reboot: data equal=%v, rest %q, err=%v", strings.HasPrefix(back, string(data)), strings.TrimPrefix(back, string(data)), err)
		}
	})

	t.Run("teardown", func(t *testing.T) {
		var loops []loopdev.Dev
		for _, n := range b.Nodes() {
			d, err := loopdev.BackedBy(b.PVImagePath(n.Name))
			if err != nil {
				t.Fatal(err)
			}
			loops = append(loops, d...)
		}
		if len(loops) < 3 {
			t.Fatalf("loop devices before teardown: %+v", loops)
		}
		t1 := time.Now()
		err := b.Teardown(ctx)
		tornDown = true
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("teardown in %v", time.Since(t1).Round(time.Millisecond))
		checkGone(t, b, loops)
	})
}

// checkGone asserts nothing of bed b is left on the host.
func checkGone(t *testing.T, b *Bed, loops []loopdev.Dev) {
	t.Helper()
	if ns := netnsNames(b.nm.netnsPrefix()); len(ns) > 0 {
		t.Errorf("netns left: %v", ns)
	}
	if l := leftLinks(b.nm); len(l) > 0 {
		t.Errorf("links left: %v", l)
	}
	for _, d := range loops {
		if now, err := loopdev.Status(d.N); err == nil && now.BackingIno == d.BackingIno && now.BackingDev == d.BackingDev {
			t.Errorf("loop%d still attached", d.N)
		}
	}
	if p := bedProcesses(b.l); len(p) > 0 {
		t.Errorf("processes left: %v", p)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(b.Dir())) {
		t.Errorf("mounts of %s left in the host mount table", b.Dir())
	}
	if _, err := os.Stat(b.Dir()); err == nil {
		t.Errorf("%s left", b.Dir())
	}
}

func testMigration(ctx context.Context, t *testing.T, b *Bed) {
	n2 := b.Nodes()[1]
	vm := func(extra string) string {
		return "qemu-system-x86_64 -accel tcg -m 64 -nodefaults -display none -serial none" +
			" -netdev tap,id=n0,ifname=tapvm1,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=aa:00:c9:00:00:01,romfile=" +
			" -qmp unix:/run/ganeti/vm1.qmp,server=on,wait=off -daemonize -pidfile /run/ganeti/vm1.pid -name vm1" + extra +
			" && ip link set tapvm1 master br0 up && cat /run/ganeti/vm1.pid"
	}
	srcPID := strings.TrimSpace(mustSSH(ctx, t, b, "node1", vm("")))
	mustSSH(ctx, t, b, "node2", vm(" -incoming tcp:"+n2.Addr+":8102"))
	dst := dialQMP(ctx, t, b, "node2", "/run/ganeti/vm1.qmp")
	if st := dst.do(t, "query-status", nil)["status"]; st != "inmigrate" {
		t.Fatalf("target status %v", st)
	}
	src := dialQMP(ctx, t, b, "node1", "/run/ganeti/vm1.qmp")
	t1 := time.Now()
	src.do(t, "migrate", map[string]any{"uri": "tcp:" + n2.Addr + ":8102"})
	for {
		st := src.do(t, "query-migrate", nil)["status"]
		if st == "completed" {
			break
		}
		if st == "failed" || st == "cancelled" || time.Since(t1) > 60*time.Second {
			t.Fatalf("migration %v after %v", st, time.Since(t1))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("live migration node1 -> node2 in %v", time.Since(t1).Round(time.Millisecond))
	// The source reports completion a moment before the target switches
	// from inmigrate to running.
	var st any
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if st = dst.do(t, "query-status", nil)["status"]; st == "running" {
			break
		}
	}
	if st != "running" {
		t.Errorf("target status after migration: %v", st)
	}
	if st := src.do(t, "query-status", nil)["status"]; st != "postmigrate" {
		t.Errorf("source status after migration: %v", st)
	}
	src.do(t, "quit", nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, err := b.Run(ctx, "node1", "kill", "-0", srcPID); err != nil {
			break // gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("source qemu (pid %s on node1) still running after quit", srcPID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := mustSSH(ctx, t, b, "node2", "ip -br link show master br0"); !strings.Contains(out, "tapvm1") {
		t.Errorf("node2 br0 ports: %s", out)
	}
	dst.do(t, "quit", nil)
}

// testDRBD runs a DRBD 8.4 stand-in pair the way Ganeti creates an
// instance disk (see shared/reference/ganeti-node-commands.md 2.4).
func testDRBD(ctx context.Context, t *testing.T, b *Bed) {
	nodes := b.Nodes()
	data := randomBytes(4 << 20)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range nodes[:2] {
		peer := nodes[1-i]
		script := fmt.Sprintf(`set -e
lvcreate -q -Wn -L16m -nd0_data xenvg
lvcreate -q -Wn -L128m -nd0_meta xenvg
dd if=/dev/zero of=/dev/xenvg/d0_meta bs=1048576 count=128 oflag=direct status=none
drbdmeta --force /dev/drbd0 v08 /dev/xenvg/d0_meta flex-external create-md
drbdsetup new-resource resource0
drbdsetup new-minor resource0 0 0
drbdmeta /dev/drbd0 v08 /dev/xenvg/d0_meta flex-external apply-al
drbdsetup attach 0 /dev/xenvg/d0_data /dev/xenvg/d0_meta flexible --on-io-error=detach --size 16m
drbdsetup disk-options 0 --resync-rate 61440
drbdsetup connect resource0 ipv4:%s:11000 ipv4:%s:11000 --protocol C --after-sb-0pri discard-zero-changes --after-sb-1pri consensus --cram-hmac-alg md5 --shared-secret s3cr3t
`, n.SecondaryAddr, peer.SecondaryAddr)
		if i == 0 { // the primary's data, before it becomes UpToDate
			script = strings.Replace(script, "dd if=/dev/zero", "head -c 4194304 /dev/stdin > /tmp/d0; dd if=/tmp/d0 of=/dev/xenvg/d0_data bs=1M conv=fsync status=none\ndd if=/dev/zero", 1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var in []byte
			if i == 0 {
				in = data
			}
			_, _, errs[i] = sshOut(ctx, b, n.Name, in, script)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes[:2] {
			sshOut(context.Background(), b, n.Name, nil, "drbdsetup down resource0; lvremove -q -f xenvg/d0_data xenvg/d0_meta")
		}
	})
	mustSSH(ctx, t, b, "node1", "drbdsetup primary 0 --force")
	want := regexp.MustCompile(`(?m)^ 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----$`)
	var status string
	for t1 := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		status = mustSSH(ctx, t, b, "node1", "cat "+DRBDStatusFile)
		if want.MatchString(status) {
			break
		}
		if time.Since(t1) > 60*time.Second {
			t.Fatalf("no sync after 60 s; node1 %s:\n%s", DRBDStatusFile, status)
		}
	}
	if !regexp.MustCompile(`^version: 8\.4\.\d+ \(api:1/proto:86-\d+\)\n`).MatchString(status) {
		t.Errorf("status file header:\n%s", status)
	}
	// Writes through the primary's /dev/drbd0 reach the secondary's disk.
	more := randomBytes(1 << 20)
	if _, _, err := sshOut(ctx, b, "node1", more, "dd of=/dev/drbd0 bs=1M seek=8 conv=fsync status=none"); err != nil {
		t.Fatal(err)
	}
	want2 := append(append(append([]byte{}, data...), make([]byte, 4<<20)...), more...)
	for t1 := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		got, _, err := sshOut(ctx, b, "node2", nil, "head -c 9437184 /dev/xenvg/d0_data")
		if err == nil && got == string(want2) {
			break
		}
		if time.Since(t1) > 30*time.Second {
			t.Fatalf("secondary data differs from the primary's (err %v)", err)
		}
	}
	if out := mustSSH(ctx, t, b, "node2", "cat "+DRBDStatusFile); !strings.Contains(out, "ro:Secondary/Primary ds:UpToDate/UpToDate") {
		t.Errorf("node2 status:\n%s", out)
	}
}

// TestTwentyNodes brings up 20 nodes and checks each answers ssh.
func TestTwentyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	b, err := Start(ctx, Options{Nodes: 20, Dir: t.TempDir(), ID: e2eID + 1, PVSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("20 nodes up in %v", time.Since(t0).Round(time.Millisecond))
	defer func() {
		t1 := time.Now()
		if err := b.Teardown(context.Background()); err != nil {
			t.Error(err)
		}
		t.Logf("20 nodes torn down in %v", time.Since(t1).Round(time.Millisecond))
		checkGone(t, b, nil)
	}()
	t1 := time.Now()
	var wg sync.WaitGroup
	for _, n := range b.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, err := sshOut(ctx, b, n.Name, nil, "uname -n; vgs --noheadings -o vg_name")
			if err != nil || strings.Fields(out)[0] != n.Name || strings.TrimSpace(strings.Fields(out)[1]) != "xenvg" {
				t.Errorf("%s: %q %v", n.Name, out, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("20 parallel ssh commands in %v", time.Since(t1).Round(time.Millisecond))
}
