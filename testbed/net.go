package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ipBatch runs ip commands, one per line, in one process (fast for 20
// nodes). force keeps going past errors.
func ipBatch(ctx context.Context, force bool, lines []string) error {
	args := []string{"-batch", "-"}
	if force {
		args = append([]string{"-force"}, args...)
	}
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil && !force {
		return fmt.Errorf("ip -batch: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// hostNetLines creates the bed's bridges and each node's netns with its
// two veth pairs (host side on the bridges, eth0/eth1 inside). Addresses
// inside nodes are set by the node at boot (nodeinit).
func hostNetLines(nm naming, nodes int) []string {
	l := []string{
		// Fixed MACs: a bridge without one takes its lowest port's MAC,
		// which changes as ports come and go and leaves stale ARP entries.
		"link add " + nm.bridge() + " address " + mac(nm.id, 0, 0xfe) + " type bridge",
		"addr add " + nm.hostAddr() + "/24 dev " + nm.bridge(),
		"link set " + nm.bridge() + " up",
		"link add " + nm.bridgeSec() + " address " + mac(nm.id, 0, 0xfd) + " type bridge",
		"link set " + nm.bridgeSec() + " up",
	}
	for i := 1; i <= nodes; i++ {
		ns := nm.netns(i)
		l = append(l,
			"netns add "+ns,
			"link add "+nm.veth(i)+" type veth peer name eth0 netns "+ns,
			"link set "+nm.veth(i)+" master "+nm.bridge()+" up",
			"link add "+nm.vethSec(i)+" type veth peer name eth1 netns "+ns,
			"link set "+nm.vethSec(i)+" master "+nm.bridgeSec()+" up",
		)
	}
	return l
}

// nodeNetLines configure a node's netns at boot: br0 bridges eth0 and
// carries the primary address (as on a Ganeti node whose instances share
// the primary network), eth1 the secondary. Flushing drops addresses of a
// previous life, such as a master IP.
func nodeNetLines(nm naming, i int, n Node) []string {
	return []string{
		"link set lo up",
		"link add br0 type bridge",
		"link set br0 address " + mac(nm.id, i, 1), // instance taps must not change it
		"link set eth0 master br0",
		"link set eth0 up",
		"link set br0 up",
		"addr flush dev br0",
		"addr add " + n.Addr + "/24 dev br0",
		"addr flush dev eth1",
		"addr add " + n.SecondaryAddr + "/24 dev eth1",
		"link set eth1 up",
	}
}

// mac is a locally administered unicast MAC for bed id, node i (0: host).
func mac(id, i, k int) string {
	return fmt.Sprintf("02:74:62:%02x:%02x:%02x", id, i, k)
}

// netnsNames lists network namespaces whose names start with prefix.
func netnsNames(prefix string) []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// deleteNet removes every network object of bed id: its netns (which
// takes the veths along) and its bridges. Nodes must be powered off.
func deleteNet(ctx context.Context, nm naming) error {
	var lines []string
	// Deleting a veth removes its pair at once; a deleted netns frees its
	// veths only later, from a kernel work queue.
	for _, l := range leftLinks(nm) {
		if l != nm.bridge() && l != nm.bridgeSec() {
			lines = append(lines, "link del "+l)
		}
	}
	for _, ns := range netnsNames(nm.netnsPrefix()) {
		lines = append(lines, "netns del "+ns)
	}
	for _, br := range []string{nm.bridge(), nm.bridgeSec()} {
		if linkExists(br) {
			lines = append(lines, "link del "+br)
		}
	}
	if len(lines) > 0 {
		_ = ipBatch(ctx, true, lines)
	}
	// Network namespaces are freed asynchronously; wait for their veths to
	// go so a restart can reuse the names.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftLinks(nm)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var del []string
			for _, l := range left {
				del = append(del, "link del "+l)
			}
			_ = ipBatch(ctx, true, del)
			if left = leftLinks(nm); len(left) > 0 {
				return fmt.Errorf("testbed %d: links left: %s", nm.id, strings.Join(left, " "))
			}
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leftLinks lists host links of bed id that still exist.
func leftLinks(nm naming) []string {
	ents, _ := os.ReadDir("/sys/class/net")
	var out []string
	p, s, b := fmt.Sprintf("gtb%dn", nm.id), fmt.Sprintf("gtb%ds", nm.id), nm.bridge()
	for _, e := range ents {
		n := e.Name()
		if n == b || strings.HasPrefix(n, p) || strings.HasPrefix(n, s) {
			out = append(out, n)
		}
	}
	return out
}
