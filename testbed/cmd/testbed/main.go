// Command testbed brings a local multi-node test cluster up and down and
// injects faults into it. It needs root.
//
//	testbed up [-n 3] [-dir D] [-id 0] [-vg xenvg] [-pv-size 32G]
//	testbed down [-dir D] [-id 0]
//	testbed status [-dir D]
//	testbed poweroff|boot|cut|restore|unslow NODE [-dir D]
//	testbed slow NODE BITS_PER_SEC [-dir D]
//	testbed fail NODE TOOL [-k 1] [-code 1] [-stderr MSG] [-dir D]
//	testbed run NODE CMD [ARGS...] [-dir D]
//
// The directory defaults to $TESTBED_DIR, else /tmp/ganetictl-testbed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ganetictl/ganetictl/testbed"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, os.Args[1:]); err != nil {
		var ee exitError
		if errors.As(err, &ee) { // already reported
			os.Exit(int(ee))
		}
		fmt.Fprintln(os.Stderr, "testbed:", err)
		os.Exit(1)
	}
}

type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func defaultDir() string {
	if d := os.Getenv("TESTBED_DIR"); d != "" {
		return d
	}
	return testbed.DefaultDir
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: testbed up|down|status|poweroff|boot|cut|restore|slow|unslow|fail|run ... (see go doc ./testbed/cmd/testbed)")
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("testbed "+verb, flag.ContinueOnError)
	dir := fs.String("dir", defaultDir(), "bed directory")
	switch verb {
	case "up":
		n := fs.Int("n", 3, "number of nodes")
		id := fs.Int("id", 0, "bed id (0..255): bridge gtbID, netns gtbID-nN, 198.18.ID.N")
		vg := fs.String("vg", "xenvg", "volume group on every node")
		pv := fs.String("pv-size", "32G", "sparse PV image size per node (K, M, G, T suffixes)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		size, err := parseSize(*pv)
		if err != nil {
			return err
		}
		t0 := time.Now()
		b, err := testbed.Start(ctx, testbed.Options{Nodes: *n, Dir: *dir, ID: *id, VG: *vg, PVSize: size})
		if err != nil {
			return err
		}
		fmt.Printf("test bed %d: %d nodes up in %v\n\n", b.ID(), len(b.Nodes()), time.Since(t0).Round(time.Millisecond))
		printUsage(b)
		return nil
	case "down":
		id := fs.Int("id", 0, "bed id, for cleaning up after a crash when bed.json is gone")
		if err := fs.Parse(args); err != nil {
			return err
		}
		t0 := time.Now()
		if err := testbed.Down(ctx, *dir, *id); err != nil {
			return err
		}
		fmt.Printf("test bed in %s torn down in %v\n", *dir, time.Since(t0).Round(time.Millisecond))
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := testbed.AttachAny(ctx, *dir)
	if verb == "status" {
		if err != nil {
			fmt.Printf("no test bed running in %s (%v)\n", *dir, err)
			return exitError(3)
		}
		on, err := b.Running(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("test bed %d in %s\n", b.ID(), b.Dir())
		for _, n := range b.Nodes() {
			state := "off"
			if on[n.Name] {
				state = "on"
			}
			fmt.Printf("  %-7s %-14s %-14s %s\n", n.Name, n.Addr, n.SecondaryAddr, state)
		}
		return nil
	}
	if err != nil {
		return err
	}
	rest := fs.Args()
	need := func(k int, usage string) error {
		if len(rest) < k {
			return fmt.Errorf("usage: testbed %s %s", verb, usage)
		}
		return nil
	}
	switch verb {
	case "poweroff", "boot", "cut", "restore", "unslow":
		if err := need(1, "NODE"); err != nil {
			return err
		}
		op := map[string]func(context.Context, string) error{
			"poweroff": b.PowerOff, "boot": b.Boot, "cut": b.Cut, "restore": b.Restore, "unslow": b.Unslow,
		}[verb]
		return op(ctx, rest[0])
	case "slow":
		if err := need(2, "NODE BITS_PER_SEC"); err != nil {
			return err
		}
		rate, err := parseSize(rest[1])
		if err != nil {
			return err
		}
		return b.Slow(ctx, rest[0], rate)
	case "fail":
		ff := flag.NewFlagSet("testbed fail", flag.ContinueOnError)
		k := ff.Int("k", 1, "number of invocations that fail")
		code := ff.Int("code", 1, "exit code")
		msg := ff.String("stderr", "", "stderr text")
		if err := need(2, "NODE TOOL [-k K] [-code C] [-stderr MSG]"); err != nil {
			return err
		}
		if err := ff.Parse(rest[2:]); err != nil {
			return err
		}
		return b.FailNext(rest[0], rest[1], *k, *code, *msg)
	case "run":
		if err := need(2, "NODE CMD [ARGS...]"); err != nil {
			return err
		}
		cmd, err := b.Command(ctx, rest[0], rest[1:]...)
		if err != nil {
			return err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee interface{ ExitCode() int }
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				return exitError(ee.ExitCode())
			}
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown verb %q", verb)
}

func printUsage(b *testbed.Bed) {
	fmt.Printf("  ssh:        ssh -F %s node1 uname -n\n", b.SSHConfigPath())
	fmt.Printf("  inventory:  %s\n", b.InventoryPath())
	fmt.Printf("  run:        bin/testbed run node1 lvs   (enters the node without ssh; works while cut)\n")
	fmt.Printf("  faults:     testbed poweroff|boot|cut|restore node2; testbed slow node2 10mbit; testbed fail node1 lvcreate -code 5 -stderr 'boom'\n")
	fmt.Printf("  down:       make testbed-down   (or: go run ./testbed/cmd/testbed down --dir %s)\n\n", b.Dir())
	for _, n := range b.Nodes() {
		fmt.Printf("  %-7s %-14s secondary %s\n", n.Name, n.Addr, n.SecondaryAddr)
	}
}

// parseSize reads 10G, 512M, 100k... (powers of 1024 for sizes; for rates
// the same suffixes are powers of 1000 would be expected, so rates take
// plain numbers or k/m/g meaning 10^3/10^6/10^9 with a trailing "bit").
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if strings.HasSuffix(t, "bit") {
		t = strings.TrimSuffix(t, "bit")
		for suf, m := range map[string]int64{"k": 1e3, "m": 1e6, "g": 1e9} {
			if strings.HasSuffix(t, suf) {
				t, mult = strings.TrimSuffix(t, suf), m
			}
		}
	} else {
		for suf, m := range map[string]int64{"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40} {
			if strings.HasSuffix(t, suf) {
				t, mult = strings.TrimSuffix(t, suf), m
			}
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}
