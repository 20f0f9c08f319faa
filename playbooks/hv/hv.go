// Package hv turns the instance lifecycle (start, stop, reboot, balloon,
// console, list) into node commands for KVM (real qemu driven over QMP)
// and Xen (the xl toolstack), the way Ganeti's lib/hypervisor does it, but
// without a node daemon: every operation is a few plan.Steps that run over
// SSH with the node's ordinary tools (qemu-system-*, ip, socat, xl).
//
// Everything here is a pure function of its arguments: no SSH, clock or
// randomness, so planners can call it and tests can compare its output
// with golden files. Node-side logic lives in constant shell scripts run as
// `sh -c SCRIPT ganetictl-NAME ARG...`; every variable value is a
// positional parameter, never spliced into script text. File contents (the
// Xen config, the KVM runtime file) are generated and validated in Go.
package hv

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// Node-side paths (Ganeti's build defaults, reference §7.1 and §6.1).
const (
	RunDir      = "/run/ganeti"
	KVMRunDir   = RunDir + "/kvm-hypervisor"
	DiskLinkDir = RunDir + "/instance-disks"
	KVMLogDir   = "/var/log/ganeti/kvm"
	XenConfDir  = "/etc/xen"
	XenNICDir   = RunDir + "/xen-hypervisor/nic"
	XenLogDir   = "/var/log/ganeti/xen"
)

// KVM runtime paths of one instance.
func kvmPidFile(inst string) string   { return KVMRunDir + "/pid/" + inst }
func kvmCtrl(inst, ext string) string { return KVMRunDir + "/ctrl/" + inst + "." + ext }
func kvmRuntime(inst string) string   { return KVMRunDir + "/conf/" + inst + ".runtime" }

// QMPSocket is the QMP socket ganetictl talks to for inst (KVM).
func QMPSocket(inst string) string { return kvmCtrl(inst, "qmp") }

// SerialSocket is the serial console socket of inst (KVM).
func SerialSocket(inst string) string { return kvmCtrl(inst, "serial") }

// DiskLink is where the storage layer links disk idx of inst on a node.
func DiskLink(inst string, idx int) string { return fmt.Sprintf("%s/%s:%d", DiskLinkDir, inst, idx) }

// XenConfig is the xl config file of inst.
func XenConfig(inst string) string { return XenConfDir + "/" + inst }

// nameRE is Ganeti's instance name rule (a DNS name): it keeps names safe
// inside paths, the xl config's quoted strings and qemu option values.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

func checkName(name string) error {
	if len(name) > 253 || !nameRE.MatchString(name) {
		return fmt.Errorf("invalid instance name %q", name)
	}
	return nil
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	macRE  = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	// linkRE is a Linux interface name (bridge), at most 15 bytes.
	linkRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	// vlanRE is a NIC's vlan parameter as stored (normalised by playbooks).
	vlanRE = regexp.MustCompile(`^(\.?[0-9]+(:[0-9]+)*|:[0-9]+(:[0-9]+)*)$`)
	// pathRE limits paths that end up in qemu's comma-separated option
	// values and the xl config's quoted strings.
	pathRE = regexp.MustCompile(`^/[A-Za-z0-9_./:+@-]*$`)
)

func checkPath(what, p string) error {
	if !pathRE.MatchString(p) || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return fmt.Errorf("%s %q: must be an absolute path of [A-Za-z0-9_./:+@-]", what, p)
	}
	return nil
}

// Running is one instance a node's hypervisor reports (see ListScript).
type Running struct {
	Name       string `json:"name"`
	Hypervisor string `json:"hypervisor"` // "kvm" or "xen" (xl cannot tell PVM from HVM)
	ID         int    `json:"id"`         // KVM: qemu pid; Xen: domain id
	MemMiB     int64  `json:"memory"`
	VCPUs      int    `json:"vcpus"`
	// State is "running", or "shutdown" for a Xen domain the guest shut
	// down and on_poweroff='preserve' kept (Ganeti's user shutdown).
	State string `json:"state"`
}

// beInt returns an effective integer beparam (maxmem, vcpus) from the
// explicit argument or, when zero, the instance's own beparams.
func beInt(inst *statefile.Instance, key string, given int64) (int64, error) {
	if given > 0 {
		return given, nil
	}
	if v := integer(inst.BEParams, key); v > 0 {
		return v, nil
	}
	return 0, fmt.Errorf("instance %s: no %s given and none in its beparams", inst.Name, key)
}
