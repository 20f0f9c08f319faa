package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// OOBProgram is the bed's out-of-band program on every node (tbtool linked
// as testbed-oob in /usr/local/sbin): set the node parameter oob_program
// to it and `node power`, `cluster epo` and harep's power handling run the
// bed's PowerOff and Boot, as an IPMI tool would. It speaks Ganeti's OOB
// protocol (doc/design-oob.rst): "testbed-oob COMMAND NODE", COMMAND one
// of power-on, power-off, power-cycle, power-status, health; exit 0 with
// JSON on stdout for power-status and health, exit 1 with a message on
// stderr on failure.
const OOBProgram = "/usr/local/sbin/testbed-oob"

// NodePowerSock is where nodes reach the supervisor's power operations.
const NodePowerSock = "/srv/testbed-shared/power.sock"

// OOBMain is testbed-oob.
func OOBMain(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: testbed-oob power-on|power-off|power-cycle|power-status|health NODE")
		return 1
	}
	cmd, node := args[0], args[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	do := func(op string) (response, error) {
		return call(ctx, NodePowerSock, request{Op: op, Node: node})
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "testbed-oob %s %s: %v\n", cmd, node, err)
		return 1
	}
	switch cmd {
	case "power-on":
		if _, err := do("boot"); err != nil {
			return fail(err)
		}
	case "power-off":
		if _, err := do("poweroff"); err != nil {
			return fail(err)
		}
	case "power-cycle":
		if _, err := do("cycle"); err != nil {
			return fail(err)
		}
	case "power-status":
		resp, err := do("status")
		if err != nil {
			return fail(err)
		}
		json.NewEncoder(stdout).Encode(map[string]bool{"powered": resp.Running[node] > 0})
	case "health":
		resp, err := do("status")
		if err != nil {
			return fail(err)
		}
		status := "OK"
		if resp.Running[node] == 0 {
			status = "UNKNOWN"
		}
		json.NewEncoder(stdout).Encode([][2]string{{"power", status}})
	default:
		return fail(fmt.Errorf("unknown command"))
	}
	return 0
}

// RebootMain is the bed's reboot stand-in (tbtool linked as reboot): the
// node asks the supervisor to power-cycle it, as a forced reboot would.
// It does not return when it works: the node goes down under it.
func RebootMain(args []string, stderr io.Writer) int {
	node, err := os.Hostname()
	if err != nil {
		fmt.Fprintln(stderr, "reboot:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := call(ctx, NodePowerSock, request{Op: "cycle", Node: node}); err != nil {
		fmt.Fprintln(stderr, "reboot (testbed):", err)
		return 1
	}
	return 0
}
