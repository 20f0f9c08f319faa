//go:build !nostandin

package main

import "github.com/ganetictl/ganetictl/testbed/standin"

var standinMain = standin.Main

// nodeBoot runs at every node boot: an idle DRBD status file exists from
// the start, as once the drbd module is loaded.
func nodeBoot() error {
	return standin.InitNode(standin.RootFromEnv())
}
