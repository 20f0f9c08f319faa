// Command tbtool is the test bed's multi-call binary. Linked as a node
// tool name in the bed's bin directory (mounted on every node's
// /usr/local/sbin), it first honours an armed fault
// (/var/lib/testbed/faults/<tool>), then runs the LVM wrapper, a stand-in,
// or the real tool. Called as tbtool it runs the bed's own processes:
//
//	tbtool supervise DIR      own and serve the bed in DIR
//	tbtool node-init CONFIG   PID 1 of a node: set it up, exec sshd
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/ganetictl/ganetictl/testbed"
	"github.com/ganetictl/ganetictl/testbed/fault"
	"github.com/ganetictl/ganetictl/testbed/lvdev"
	"github.com/ganetictl/ganetictl/testbed/osdef"
)

func main() {
	tool := filepath.Base(os.Args[0])
	if tool == "tbtool" {
		os.Exit(self(os.Args[1:]))
	}
	os.Exit(wrapped(tool, os.Args[1:]))
}

func self(args []string) int {
	if len(args) == 2 && args[0] == "supervise" {
		if err := testbed.Supervise(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "tbtool supervise:", err)
			return 1
		}
		return 0
	}
	if len(args) == 2 && args[0] == "node-init" {
		err := testbed.NodeInit(args[1], boot) // returns only on failure
		fmt.Fprintln(os.Stderr, "tbtool node-init:", err)
		return 1
	}
	if len(args) >= 1 && slices.Contains(testbed.WrappedTools(), args[0]) {
		return wrapped(args[0], args[1:]) // "tbtool lvs ..." works too
	}
	fmt.Fprintln(os.Stderr, "usage: tbtool supervise DIR | tbtool node-init CONFIG | tbtool TOOL [ARGS]")
	return 2
}

// boot runs at every node boot, after its file systems are in place: the
// test OS definition is (re)installed and the stand-ins' kernel state set.
func boot() error {
	if err := osdef.Install("/srv/ganeti/os"); err != nil {
		return fmt.Errorf("install OS definition: %w", err)
	}
	return nodeBoot()
}

func wrapped(tool string, args []string) int {
	s, armed, err := fault.Take(fault.Dir, tool)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: testbed fault: %v\n", tool, err)
		return 1
	}
	if armed {
		fmt.Fprint(os.Stderr, s.Stderr)
		return s.ExitCode
	}
	switch {
	case slices.Contains(lvdev.Tools, tool):
		return lvdev.Main(context.Background(), tool, args, os.Stdin, os.Stdout, os.Stderr)
	case tool == "drbdsetup" || tool == "drbdmeta" || tool == "rbd" || tool == "xl":
		return standinMain(tool, args, os.Stdin, os.Stdout, os.Stderr)
	case tool == "testbed-oob":
		return testbed.OOBMain(args, os.Stdout, os.Stderr)
	case tool == "reboot":
		return testbed.RebootMain(args, os.Stderr)
	}
	return execReal(tool, args)
}

// execReal replaces this process with the real tool: the first one on
// PATH that is not tbtool itself.
func execReal(tool string, args []string) int {
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: testbed: %v\n", tool, err)
		return 127
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, tool)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 || os.SameFile(st, self) {
			continue
		}
		err = syscall.Exec(p, append([]string{tool}, args...), os.Environ())
		fmt.Fprintf(os.Stderr, "%s: testbed: exec %s: %v\n", tool, p, err)
		return 126
	}
	fmt.Fprintf(os.Stderr, "%s: command not found\n", tool)
	return 127
}
