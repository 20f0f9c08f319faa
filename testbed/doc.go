// Package testbed runs real multi-node "Ganeti-style" clusters on one Linux
// machine, for end-to-end tests, demos and benchmarks.
//
// Each node is a real OpenSSH sshd, PID 1 of its own PID, mount and UTS
// namespaces, inside its own network namespace on a host bridge
// (198.18.<id>.N primary, 198.19.<id>.N secondary). A node has a private
// /etc and /var (overlays on the host's), /srv, /root, /tmp, /run and
// /dev, an LVM volume group on a loop-backed sparse PV image whose LVs get
// real block devices, a br0 bridge for instance NICs, and test-bed wrappers
// for node tools in /usr/local/sbin (see cmd/tbtool).
//
// A bed is owned by a supervisor process (tbtool supervise DIR) that keeps
// the node processes as its children; Start spawns it and Bed talks to it
// over DIR/ctl.sock for power operations. Other fault injection (cut, slow,
// tool failures) and Run work from any process. Everything needs root.
package testbed
