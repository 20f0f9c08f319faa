package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/testbed/fault"
)

// Nodes returns the bed's nodes in order.
func (b *Bed) Nodes() []Node { return append([]Node(nil), b.s.Nodes...) }

// ID returns the bed id.
func (b *Bed) ID() int { return b.s.ID }

// Dir returns the bed directory.
func (b *Bed) Dir() string { return b.l.dir }

// VG returns the volume group name on every node.
func (b *Bed) VG() string { return b.s.VG }

// InventoryPath is the ganetictl inventory of all nodes ([state] dir is
// DIR/state). Tests that want their own state or fewer nodes use
// WriteInventory.
func (b *Bed) InventoryPath() string { return b.l.inventory() }

// SSHConfigPath is an OpenSSH client config: ssh -F PATH node1 works.
func (b *Bed) SSHConfigPath() string { return b.l.sshConfig() }

// KnownHostsPath holds every node's host key under its name and addresses.
func (b *Bed) KnownHostsPath() string { return b.l.knownHosts() }

// ClientKeyPath is root's private key on every node.
func (b *Bed) ClientKeyPath() string { return b.l.clientKey() }

// SharedDir is the host directory every node sees at
// /srv/ganeti/shared-file-storage and /srv/testbed-shared.
func (b *Bed) SharedDir() string { return b.l.shared() }

// PVImagePath is the host path of node's PV image; LV data lives in it at
// pe_start + first_extent*extent_size.
func (b *Bed) PVImagePath(node string) string { return b.l.node(node).pvImage() }

// NodeDir is the host-side directory of node (its /srv is NodeDir/srv,
// its /var/lib/testbed is NodeDir/testbed).
func (b *Bed) NodeDir(node string) string { return b.l.node(node).dir }

// WriteInventory writes an inventory of the first n nodes (all when n <= 0)
// with state in stateDir; relative paths in it are made absolute, so the
// file may live anywhere.
func (b *Bed) WriteInventory(path string, n int, stateDir string) error {
	inv := renderInventory(b.s, n, stateDir)
	inv = strings.Replace(inv, `identity_file = "id_ed25519"`, "identity_file = "+q(b.l.clientKey()), 1)
	inv = strings.Replace(inv, `known_hosts = "known_hosts"`, "known_hosts = "+q(b.l.knownHosts()), 1)
	return os.WriteFile(path, []byte(inv), 0o644)
}

func (b *Bed) index(node string) (int, error) {
	for i, n := range b.s.Nodes {
		if n.Name == node {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("testbed: no node %q", node)
}

// initPID returns the host PID of node's init (its sshd), checking it is
// still that process.
func (b *Bed) initPID(node string) (int, error) {
	if _, err := b.index(node); err != nil {
		return 0, err
	}
	pid := pidFromFile(b.l.node(node).initPID())
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if pid == 0 || err != nil || strings.TrimSpace(string(comm)) != "sshd" {
		return 0, fmt.Errorf("%s: powered off", node)
	}
	return pid, nil
}

// Command prepares argv to run on node without ssh, by entering the node's
// namespaces (so it works while the node's network is cut). The command
// gets the node's root, PATH (wrappers first) and a clean environment.
func (b *Bed) Command(ctx context.Context, node string, argv ...string) (*exec.Cmd, error) {
	pid, err := b.initPID(node)
	if err != nil {
		return nil, err
	}
	args := append([]string{"-t", fmt.Sprint(pid), "-m", "-u", "-n", "-p", "-r", "-w", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = []string{"PATH=" + nodePath, "HOME=/root", "LANG=C.UTF-8", "USER=root", "LOGNAME=root"}
	return cmd, nil
}

// Run runs argv on node (see Command) and returns its output. A failure
// is reported as "node: argv: exit N: stderr".
func (b *Bed) Run(ctx context.Context, node string, argv ...string) (stdout, stderr string, err error) {
	return b.RunInput(ctx, node, nil, argv...)
}

// RunInput is Run with stdin.
func (b *Bed) RunInput(ctx context.Context, node string, stdin []byte, argv ...string) (stdout, stderr string, err error) {
	cmd, err := b.Command(ctx, node, argv...)
	if err != nil {
		return "", "", err
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err = cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%s: %s: exit %d: %s", node, strings.Join(argv, " "), ee.ExitCode(), strings.TrimSpace(e.String()))
		} else {
			err = fmt.Errorf("%s: %s: %w", node, strings.Join(argv, " "), err)
		}
	}
	return o.String(), e.String(), err
}

// SSH prepares "ssh -F ssh_config node args..." (real OpenSSH, strict
// host-key checking), the way an operator reaches a node.
func (b *Bed) SSH(ctx context.Context, node string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ssh", append([]string{"-F", b.l.sshConfig(), node}, args...)...)
}

// PowerOff kills node's PID namespace: sshd and everything it started
// (qemu, stand-ins) die at once and its LV devices go away; its netns and
// addresses stay, so ssh gets "connection refused" at once.
func (b *Bed) PowerOff(ctx context.Context, node string) error {
	_, err := call(ctx, b.l.sock(), request{Op: "poweroff", Node: node})
	return err
}

// Boot powers node on again with the same keys and disks; its LVs are
// activated at boot, /run and /tmp start empty.
func (b *Bed) Boot(ctx context.Context, node string) error {
	_, err := call(ctx, b.l.sock(), request{Op: "boot", Node: node})
	return err
}

// Running reports which nodes are powered on.
func (b *Bed) Running(ctx context.Context) (map[string]bool, error) {
	resp, err := call(ctx, b.l.sock(), request{Op: "status"})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for n, pid := range resp.Running {
		out[n] = pid > 0
	}
	return out, nil
}

// Cut takes node's links (primary and secondary) down on the host side:
// the node keeps running but packets to it vanish, so ssh times out.
func (b *Bed) Cut(ctx context.Context, node string) error { return b.setLinks(ctx, node, "down") }

// Restore undoes Cut.
func (b *Bed) Restore(ctx context.Context, node string) error { return b.setLinks(ctx, node, "up") }

func (b *Bed) setLinks(ctx context.Context, node, state string) error {
	i, err := b.index(node)
	if err != nil {
		return err
	}
	if err := ipBatch(ctx, false, []string{
		"link set " + b.nm.veth(i) + " " + state, "link set " + b.nm.vethSec(i) + " " + state,
	}); err != nil {
		return fmt.Errorf("%s: link %s: %w", node, state, err)
	}
	return nil
}

// Slow limits node's links to bitsPerSec in both directions with a token
// bucket (tc tbf; this kernel has no netem).
func (b *Bed) Slow(ctx context.Context, node string, bitsPerSec int64) error {
	i, err := b.index(node)
	if err != nil {
		return err
	}
	burst := max(bitsPerSec/8/50, 64<<10) // >= rate/HZ so tbf can reach the rate
	tbf := []string{"root", "tbf", "rate", fmt.Sprintf("%dbit", bitsPerSec), "burst", fmt.Sprint(burst), "latency", "100ms"}
	for _, dev := range [][]string{
		{b.nm.veth(i)}, {b.nm.vethSec(i)}, {"eth0", b.nm.netns(i)}, {"eth1", b.nm.netns(i)},
	} {
		args := append([]string{"qdisc", "replace", "dev", dev[0]}, tbf...)
		if len(dev) > 1 {
			args = append([]string{"-n", dev[1]}, args...)
		}
		if err := run(ctx, "tc", args...); err != nil {
			return fmt.Errorf("%s: slow: %w", node, err)
		}
	}
	return nil
}

// Unslow removes Slow's limits.
func (b *Bed) Unslow(ctx context.Context, node string) error {
	i, err := b.index(node)
	if err != nil {
		return err
	}
	for _, dev := range [][]string{
		{b.nm.veth(i)}, {b.nm.vethSec(i)}, {"eth0", b.nm.netns(i)}, {"eth1", b.nm.netns(i)},
	} {
		args := []string{"qdisc", "del", "dev", dev[0], "root"}
		if len(dev) > 1 {
			args = append([]string{"-n", dev[1]}, args...)
		}
		if err := run(ctx, "tc", args...); err != nil && !strings.Contains(err.Error(), "No such file") &&
			!strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
			return fmt.Errorf("%s: unslow: %w", node, err)
		}
	}
	return nil
}

// FailNext makes the next k invocations of tool on node (one of
// WrappedTools) exit with code after printing stderr, without running it.
func (b *Bed) FailNext(node, tool string, k, code int, stderr string) error {
	if _, err := b.index(node); err != nil {
		return err
	}
	if err := fault.Arm(b.l.node(node).faults(), tool, fault.Spec{Remaining: k, ExitCode: code, Stderr: stderr}); err != nil {
		return fmt.Errorf("%s: fail next %s: %w", node, tool, err)
	}
	return nil
}

// ClearFaults disarms every armed tool fault on node.
func (b *Bed) ClearFaults(node string) error {
	if _, err := b.index(node); err != nil {
		return err
	}
	dir := b.l.node(node).faults()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := fault.Disarm(dir, e.Name()); err != nil {
			return err
		}
	}
	return nil
}

// waitSSH waits until node's sshd accepts TCP connections (test helper
// for callers that power-cycle nodes).
func (b *Bed) waitSSH(ctx context.Context, node string) error {
	i, err := b.index(node)
	if err != nil {
		return err
	}
	_ = i
	for ctx.Err() == nil {
		if out, err := b.SSH(ctx, node, "true").CombinedOutput(); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("%s: ssh: %w: %s", node, ctx.Err(), out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ctx.Err()
}
