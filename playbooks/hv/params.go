package hv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// Hypervisor names, as Ganeti spells them.
const (
	KVM    = "kvm"
	XenPVM = "xen-pvm"
	XenHVM = "xen-hvm"
)

// Valid reports whether hv is a hypervisor this package can drive.
// Ganeti's "fake", "chroot" and "lxc" are not supported.
func Valid(hv string) bool { return hv == KVM || hv == XenPVM || hv == XenHVM }

// kind is a parameter's value type; values given as strings (from -H
// k=v) are converted to it, so the state keeps JSON types.
type kind int

const (
	kString kind = iota
	kBool
	kInt
)

type param struct {
	kind kind
	def  any      // string, bool or float64 (JSON's number type)
	enum []string // allowed string values, when restricted
}

func s(def string, enum ...string) param { return param{kString, def, enum} }
func b(def bool) param                   { return param{kind: kBool, def: def} }
func n(def float64) param                { return param{kind: kInt, def: def} }

// kvmParams are Ganeti 3.0's KVM hvparams with the defaults a real 3.0.2
// cluster shows (reference ganeti-golden/kvm_cluster_info.txt), except
// kvm_path: Debian has no /usr/bin/kvm, so the default is the
// qemu-system-x86_64 binary (the golden cluster set the same value).
var kvmParams = map[string]param{
	"acpi": b(true), "boot_order": s("disk", "disk", "cdrom", "floppy", "network"),
	"cdrom2_image_path": s(""), "cdrom_disk_type": s(""), "cdrom_image_path": s(""),
	"cpu_cores": n(0), "cpu_mask": s("all"), "cpu_sockets": n(0), "cpu_threads": n(0), "cpu_type": s(""),
	"disk_aio":          s("threads", "threads", "native", "io_uring"),
	"disk_cache":        s("default", "default", "none", "writethrough", "writeback"),
	"disk_discard":      s("default", "default", "ignore", "unmap"),
	"disk_type":         s("paravirtual", "paravirtual", "ide", "scsi-hd", "scsi-block", "scsi-generic"),
	"floppy_image_path": s(""), "initrd_path": s(""), "kernel_args": s("ro"), "kernel_path": s(""),
	"keymap": s(""), "kvm_extra": s(""), "kvm_flag": s("disabled", "", "enabled", "disabled"),
	"kvm_path": s("/usr/bin/qemu-system-x86_64"), "kvm_pci_reservations": n(12),
	"machine_version": s(""), "mem_path": s(""),
	"migration_bandwidth": n(32), "migration_caps": s(""), "migration_downtime": n(30),
	"migration_mode": s("live", "live", "non-live"), "migration_port": n(8102),
	"migration_encrypt": b(false), // ganetictl: the stream goes through the helpers over pinned TLS
	"nic_type":          s("paravirtual", "paravirtual", "rtl8139", "ne2k_pci", "ne2k_isa", "i82551", "i82557b", "i82559er", "pcnet", "e1000"),
	"reboot_behavior":   s("reboot", "reboot", "exit"), "root_path": s("/dev/vda1"),
	"scsi_controller_type": s("lsi", "lsi", "megasas", "megasas-gen2", "virtio-scsi-pci"),
	"security_domain":      s(""), "security_model": s("none", "none", "user", "pool"),
	"serial_console": b(true), "serial_speed": n(38400), "soundhw": s(""),
	"spice_bind": s(""), "spice_image_compression": s(""), "spice_ip_version": n(0),
	"spice_jpeg_wan_compression": s(""), "spice_password_file": s(""), "spice_playback_compression": b(true),
	"spice_streaming_video": s(""), "spice_tls_ciphers": s("HIGH:-DES:-3DES:-EXPORT:-DH"), "spice_use_tls": b(false),
	"spice_use_vdagent": b(true), "spice_zlib_glz_wan_compression": s(""),
	"usb_devices": s(""), "usb_mouse": s(""), "use_chroot": b(false), "use_guest_agent": b(false),
	"use_localtime": b(false), "user_shutdown": b(false), "vga": s(""), "vhost_net": b(false),
	"virtio_net_queues": n(1), "vnc_bind_address": s(""), "vnc_password_file": s(""), "vnc_tls": b(false),
	"vnc_x509_path": s(""), "vnc_x509_verify": b(false), "vnet_hdr": b(true),
}

// xenCommon are the hvparams both Xen flavours have (Ganeti's hv_xen.py).
var xenCommon = map[string]param{
	"blockdev_prefix": s("sd"), "cpu_cap": n(0), "cpu_mask": s("all"), "cpu_weight": n(256),
	"cpuid": s(""), "kernel_path": s(""), "migration_port": n(8002),
	"migration_mode": s("live", "live", "non-live"), "reboot_behavior": s("reboot", "reboot", "exit"),
	"soundhw": s(""), "vif_script": s(""), "xen_cmd": s("xl", "xl"),
}

var xenPVMParams = merge(xenCommon, map[string]param{
	"bootloader_args": s(""), "bootloader_path": s(""), "initrd_path": s(""), "kernel_args": s("ro"),
	"kernel_path": s("/boot/vmlinuz-3-xenU"), "root_path": s("/dev/xvda1"), "use_bootloader": b(false),
})

var xenHVMParams = merge(xenCommon, map[string]param{
	"acpi": b(true), "blockdev_prefix": s("hd"), "boot_order": s("cd"), "cdrom_image_path": s(""),
	"device_model":   s("/usr/lib/xen/bin/qemu-dm"),
	"disk_type":      s("paravirtual", "paravirtual", "ioemu", "ide", "scsi"),
	"kernel_path":    s("/usr/lib/xen/boot/hvmloader"),
	"migration_mode": s("non-live", "live", "non-live"),
	"nic_type":       s("rtl8139", "rtl8139", "ne2k_pci", "ne2k_isa", "paravirtual", "i82551", "i82557b", "i82559er", "pcnet", "e1000"),
	"pae":            b(true), "pci_pass": s(""), "use_localtime": b(false), "viridian": b(false),
	"vif_type":         s("ioemu", "ioemu", "vif"),
	"vnc_bind_address": s("0.0.0.0"), "vnc_password_file": s("/etc/ganeti/vnc-cluster-password"),
})

func merge(a, b map[string]param) map[string]param {
	out := make(map[string]param, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func table(hv string) (map[string]param, error) {
	switch hv {
	case KVM:
		return kvmParams, nil
	case XenPVM:
		return xenPVMParams, nil
	case XenHVM:
		return xenHVMParams, nil
	}
	return nil, fmt.Errorf("unknown hypervisor %q (valid: %s, %s, %s)", hv, KVM, XenPVM, XenHVM)
}

// Keys returns hv's parameter names, sorted (for help texts and errors).
func Keys(hv string) []string {
	t, _ := table(hv)
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Params resolves the effective hvparams of an instance: Ganeti's defaults
// for hv, overridden by the cluster's hvparams for hv, then by the
// instance's own. Values given as strings ("-H kvm:acpi=false") are
// converted to the parameter's type. An unknown key, a badly typed value
// or a value outside a parameter's allowed set is an error naming the
// valid choices, so "instance add -H" can reject it before any node work.
func Params(hv string, cluster, instance statefile.Params) (statefile.Params, error) {
	t, err := table(hv)
	if err != nil {
		return nil, err
	}
	out := make(statefile.Params, len(t))
	for k, p := range t {
		out[k] = p.def
	}
	for _, layer := range []struct {
		name string
		p    statefile.Params
	}{{"cluster", cluster}, {"instance", instance}} {
		for _, k := range sortedKeys(layer.p) {
			p, ok := t[k]
			if !ok {
				return nil, fmt.Errorf("%s hvparams: unknown %s parameter %q (valid: %s)", layer.name, hv, k, strings.Join(Keys(hv), ", "))
			}
			v, err := convert(p, layer.p[k])
			if err != nil {
				return nil, fmt.Errorf("%s hvparams: %s parameter %s: %w", layer.name, hv, k, err)
			}
			out[k] = v
		}
	}
	return out, nil
}

func sortedKeys(p statefile.Params) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func convert(p param, v any) (any, error) {
	switch p.kind {
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(x) {
			case "true", "yes", "1", "on":
				return true, nil
			case "false", "no", "0", "off":
				return false, nil
			}
		}
		return nil, fmt.Errorf("%v is not a boolean (true/false)", v)
	case kInt:
		n, ok := statefile.Int(v)
		if s, isStr := v.(string); isStr {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", s)
			}
			n, ok = i, true
		}
		if _, isFloat := v.(float64); !ok && !isFloat {
			return nil, fmt.Errorf("%v is not an integer", v)
		}
		if !ok || n < 0 {
			return nil, fmt.Errorf("%v is not a non-negative integer", v)
		}
		return float64(n), nil // the form a state file round trip gives
	}
	x, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%v is not a string", v)
	}
	if strings.ContainsAny(x, "\x00\n\r") {
		return nil, fmt.Errorf("%q contains a control character", x)
	}
	if len(p.enum) > 0 && !slices.Contains(p.enum, x) {
		return nil, fmt.Errorf("%q is not one of %s", x, strings.Join(quoteAll(p.enum), ", "))
	}
	return x, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// Typed accessors over resolved params. They tolerate the types a state
// file round trip produces (float64 for numbers) and Go callers use.

func str(p statefile.Params, k string) string {
	v, _ := p[k].(string)
	return v
}

func boolean(p statefile.Params, k string) bool {
	switch v := p[k].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "True"
	}
	return false
}

func integer(p statefile.Params, k string) int64 {
	if n, ok := statefile.Int(p[k]); ok {
		return n
	}
	s, _ := p[k].(string)
	i, _ := strconv.ParseInt(s, 10, 64)
	return i
}
