//go:build nostandin

package main

import (
	"fmt"
	"io"
)

// Built with -tags nostandin (TESTBED_TBTOOL_TAGS=nostandin) while the
// stand-in package does not compile.
func standinMain(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "%s: test-bed stand-ins left out of this build (-tags nostandin)\n", tool)
	return 20
}

func nodeBoot() error { return nil }
