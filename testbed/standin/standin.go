// Package standin provides user-space stand-ins for node tools whose kernel
// or hypervisor support this machine lacks (DRBD 8.4, Ceph rbd, Xen xl).
// They exist only for the test bed and are never installed outside it.
package standin

import (
	"fmt"
	"io"
)

// Main runs the stand-in for tool with args (without argv[0]) and returns
// the process exit code. tbtool dispatches to it by argv[0].
func Main(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "%s: stand-in not implemented yet\n", tool)
	return 20
}
