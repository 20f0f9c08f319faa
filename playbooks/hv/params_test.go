package hv

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestParamsDefaultsAndLayers(t *testing.T) {
	p, err := Params(KVM, statefile.Params{"kvm_flag": "enabled", "serial_speed": 9600.0},
		statefile.Params{"acpi": "false", "serial_speed": "115200", "machine_version": "pc-i440fx-7.2"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"kvm_path": "/usr/bin/qemu-system-x86_64", "kvm_flag": "enabled", "acpi": false,
		"serial_speed": 115200.0, "machine_version": "pc-i440fx-7.2", "boot_order": "disk", "vnet_hdr": true,
	} {
		if p[k] != want {
			t.Errorf("%s = %#v, want %#v", k, p[k], want)
		}
	}
	if len(p) != len(Keys(KVM)) {
		t.Errorf("%d params, %d keys", len(p), len(Keys(KVM)))
	}
	x, err := Params(XenHVM, nil, nil)
	if err != nil || x["boot_order"] != "cd" || x["blockdev_prefix"] != "hd" || x["kernel_path"] != "/usr/lib/xen/boot/hvmloader" {
		t.Fatalf("xen-hvm defaults: %v %v", x, err)
	}
	x, err = Params(XenPVM, nil, nil)
	if err != nil || x["kernel_path"] != "/boot/vmlinuz-3-xenU" || x["root_path"] != "/dev/xvda1" || x["blockdev_prefix"] != "sd" {
		t.Fatalf("xen-pvm defaults: %v %v", x, err)
	}
}

func TestParamsErrors(t *testing.T) {
	_, err := Params(KVM, nil, statefile.Params{"kernel_pth": "/x"})
	if err == nil || !strings.Contains(err.Error(), `unknown kvm parameter "kernel_pth"`) ||
		!strings.Contains(err.Error(), "kernel_path, keymap") || !strings.Contains(err.Error(), "instance hvparams") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = Params(KVM, statefile.Params{"bogus": 1}, nil)
	if err == nil || !strings.Contains(err.Error(), "cluster hvparams") {
		t.Fatalf("cluster layer: %v", err)
	}
	for _, bad := range []statefile.Params{
		{"acpi": "maybe"}, {"serial_speed": "fast"}, {"serial_speed": -1.0}, {"serial_speed": 1.5},
		{"disk_cache": "unsafe"}, {"kernel_args": "a\nb"}, {"kvm_path": 3.0},
	} {
		if _, err := Params(KVM, nil, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	_, err = Params(KVM, nil, statefile.Params{"disk_cache": "unsafe"})
	if err == nil || !strings.Contains(err.Error(), `"writeback"`) {
		t.Errorf("enum error should list choices: %v", err)
	}
	if _, err := Params("fake", nil, nil); err == nil {
		t.Error("fake hypervisor accepted")
	}
	if Valid("fake") || !Valid(KVM) || !Valid(XenPVM) || !Valid(XenHVM) {
		t.Error("Valid")
	}
}
