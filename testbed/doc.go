// Package testbed runs real multi-node "Ganeti-style" clusters on one Linux
// machine, for end-to-end tests, demos and benchmarks. It needs root.
//
// # Nodes
//
// Each node is a real OpenSSH sshd, PID 1 of its own PID, mount and UTS
// namespaces, inside its own network namespace. Bed id I (0..255) names
// everything it creates on the host: bridges gtbI (198.18.I.254/24) and
// gtbIs, netns gtbI-nN, host veths gtbInN and gtbIsN. Node N has
// 198.18.I.N/24 on br0 (which bridges its eth0; instance taps go there
// too) and 198.19.I.N/24 on eth1 (secondary network), no default route.
// The host's /etc/hosts is not touched: names resolve through the bed's
// ssh_config and the inventory on the controller side, and through every
// node's own /etc/hosts on the nodes.
//
// Private per node: /etc and /var (overlays on the host's, persistent),
// /srv, /root (a clean home with the client key, known_hosts) and
// /var/lib/testbed (persistent), /tmp (emptied at boot), /run and /dev
// (fresh tmpfs every boot; /dev has null, zero, full, random, urandom, tty,
// ptmx with a private devpts, shm, mqueue, net/tun, kvm, loop-control,
// fuse and the PV loop device, and stand-ins mknod more). Shared by all
// nodes: the bed's shared/sharedfile directory at /srv/ganeti/shared-file-storage and
// /srv/testbed-shared. Also /srv/ganeti/file-storage and /srv/ganeti/os
// (with the test OS definition, reinstalled at boot).
//
// # Storage
//
// Every node has a sparse PV image (NodeDir/testbed/pv.img, the node's
// /var/lib/testbed/pv.img) on a loop device, and LVM runs in metadata mode
// (activation = 0: the kernel has no device-mapper). The LVM tools in
// /usr/local/sbin are wrappers (package lvdev) that run the real tool and
// then give each active LV a block device /dev/<vg>/<lv>: a loop device
// over the LV's extent range of the PV image, so data is really in the PV.
// lvcreate activates (unless -an) and zeroes the first 4 KiB (unless -Zn);
// lvchange/vgchange -ay/-an, lvrename, lvremove, lvextend/lvresize/lvreduce
// follow. lvs reports the real activation state in lv_attr (a/o) and
// lv_kernel_major/minor. Limits: only linear LVs whose extents are
// contiguous on the one PV get a device (an extension that cannot stay
// contiguous fails with exit 5 after the metadata change); no snapshots,
// thin pools, raid or pvmove; lvs fixes the default report and explicit
// -o lists with --separator (Ganeti's form), not "-o +field" or JSON.
// A node activates all its LVs at boot; power-off detaches them.
//
// # Tools and faults
//
// /usr/local/sbin on every node is the bed's bin/ directory: tbtool linked
// as each of WrappedTools. FailNext arms a fault file
// (/var/lib/testbed/faults/<tool>) that makes the next K calls fail.
// drbdsetup, drbdmeta, rbd and xl are the stand-ins of package standin;
// qemu-system-x86_64 and qemu-img run the real tools.
//
// Every node has its own /proc/sys/kernel/random/boot_id, new at each
// boot, and, where the kernel has one, a plain file over
// /proc/sysrq-trigger, so that nothing run on a node can reboot the host.
// reboot on a node is a stand-in that power-cycles that node, and
// testbed-oob (OOBProgram) is an out-of-band program in Ganeti's protocol
// (power-on, power-off, power-cycle, power-status, health) that reaches the
// supervisor's power operations through shared/power.sock (the nodes'
// /srv/testbed-shared/power.sock; nothing but power there).
//
// PowerOff kills the node's PID namespace (ssh then gets "connection
// refused" at once); Boot starts it again with the same keys and disks.
// Cut takes its host-side links down (ssh times out; Run still works).
// Slow shapes its links with tc tbf.
//
// # Ownership
//
// A bed is owned by a supervisor process ("tbtool supervise DIR") that
// keeps the nodes' unshare processes as children it waits for. Start
// builds tbtool (go build, cached), spawns the supervisor in its own
// session and waits for all nodes; power operations go to it over
// DIR/ctl.sock, everything else works from any process. The bed outlives
// the process that started it until Teardown (or testbed down). Start
// after a crash cleans up first: it kills leftover processes of the bed
// by PID, detaches its loop devices and deletes its netns and bridges.
//
// # Files in the bed directory
//
// inventory.toml (ganetictl inventory, paths relative to it), ssh_config
// (ssh -F DIR/ssh_config node1), known_hosts, id_ed25519, bed.json,
// supervisor.log, nodes/<node>/console.log (node boot and sshd errors).
package testbed
