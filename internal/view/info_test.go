package view

import (
	"bytes"
	"testing"
)

func renderInfo(t *testing.T, data any) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderInfo(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func node2Info() Info {
	effective := map[string]any{
		"cpu_speed": float64(1), "exclusive_storage": false, "oob_program": "", "ovs": false,
		"ovs_link": "", "ovs_name": "switch1", "spindle_count": 1, "ssh_port": 22,
	}
	return Info{}.
		Add("Node name", "node2.gref.test").
		Add("primary ip", "198.18.1.2").
		Add("secondary ip", "198.18.1.2").
		Add("master candidate", true).
		Add("drained", false).
		Add("offline", false).
		Add("master_capable", true).
		Add("vm_capable", true).
		Add("primary for instances", []string{"inst1"}).
		Add("secondary for instances", []string{}).
		Add("node parameters", ParamsInfo(nil, effective))
}

func TestNodeInfoGolden(t *testing.T) {
	got := renderInfo(t, []Info{node2Info()})
	assertText(t, "gnt-node info", ganetiGolden(t, "node_info_node2.txt"), got)
}

func TestInstanceInfoGolden(t *testing.T) {
	be := map[string]any{"always_failover": false, "auto_balance": true, "maxmem": 128, "memory": 128, "minmem": 128, "spindle_use": 1, "vcpus": 1}
	inst := Info{}.
		Add("Instance name", "inst1").
		Add("UUID", "74ab0e80-a6f5-4def-8d9a-6cefa1cf964e").
		Add("Serial number", 2).
		Add("Creation time", "2026-11-25 07:05:12").
		Add("Modification time", "2026-11-25 07:05:12").
		Add("State", "configured to be up, actual state is up").
		Add("Nodes", List{
			Info{}.Add("primary", "node2.gref.test").Add("group", "default (UUID 1e653700-9859-4beb-a31b-44f5644e4ea9)"),
			Info{}.Add("secondaries", []string{}),
		}).
		Add("Operating system", "trivial").
		Add("Operating system parameters", map[string]any{}).
		Add("Allocated network port", nil).
		Add("Hypervisor", "fake").
		Add("Hypervisor parameters", Info{}).
		Add("Back-end parameters", ParamsInfo(map[string]any{}, be)).
		Add("NICs", []Info{Info{}.Add("nic/0", ""). // Ganeti: a flat item whose first key is empty
								Add("MAC", "aa:00:00:17:2e:1d").
								Add("IP", nil).
								Add("mode", "bridged").
								Add("link", "gbr0").
								Add("vlan", "").
								Add("network", nil).
								Add("UUID", "f51f6e86-bd9c-4175-8b1b-36a840dc61e7").
								Add("name", nil)}).
		Add("Disk template", "diskless").
		Add("Disks", List{})
	assertText(t, "gnt-instance info", ganetiGolden(t, "instance_info_inst1.txt"), renderInfo(t, List{inst}))

	var b bytes.Buffer
	if err := JSON(&b, []Info{inst}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "instance_info.json.golden", b.Bytes())
}

func TestClusterInfoGolden(t *testing.T) {
	kv := func(pairs ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(pairs); i += 2 {
			m[pairs[i].(string)] = pairs[i+1]
		}
		return m
	}
	collector := kv("active", true, "interval", "5.000s")
	specs := func(cpu, disks, dsize, mem, nics, spindles int) map[string]any {
		return kv("cpu-count", cpu, "disk-count", disks, "disk-size", dsize, "memory-size", mem, "nic-count", nics, "spindle-use", spindles)
	}
	info := Info{}.
		Add("Cluster name", "cluster.gref.test").
		Add("Cluster UUID", "554ca675-37a6-41cc-b8ff-92e9334421ff").
		Add("Creation time", "2026-11-25 07:01:26").
		Add("Modification time", "2026-11-25 07:05:10").
		Add("Master node", "node1.gref.test").
		Add("Architecture (this node)", "64bits (x86_64)").
		Add("Tags", "(none)").
		Add("Default hypervisor", "fake").
		Add("Enabled hypervisors", "fake").
		Add("Hypervisor parameters", kv("fake", kv("migration_mode", "live"))).
		Add("OS-specific hypervisor parameters", kv()).
		Add("OS parameters", kv()).
		Add("Hidden OSes", "").
		Add("Blacklisted OSes", "").
		Add("Cluster parameters", Info{}.
			Add("candidate pool size", 10).
			Add("maximal number of jobs running simultaneously", 20).
			Add("maximal number of jobs simultaneously tracked by the scheduler", 25).
			Add("mac prefix", "aa:00:00").
			Add("master netdev", "gmaster0").
			Add("master netmask", 32).
			Add("use external master IP address setup script", false).
			Add("lvm volume group", nil).
			Add("lvm reserved volumes", "(none)").
			Add("drbd usermode helper", nil).
			Add("file storage path", "/srv/ganeti/file-storage").
			Add("shared file storage path", "/srv/ganeti/shared-file-storage").
			Add("gluster storage path", "/var/run/ganeti/gluster").
			Add("maintenance of node health", false).
			Add("uid pool", "").
			Add("default instance allocator", "hail").
			Add("default instance allocator parameters", kv()).
			Add("primary ip version", 4).
			Add("preallocation wipe disks", false).
			Add("OS search path", "/srv/ganeti/os, /usr/local/lib/ganeti/os, /usr/lib/ganeti/os, /usr/share/ganeti/os").
			Add("ExtStorage Providers search path", "/srv/ganeti/extstorage, /usr/local/lib/ganeti/extstorage, /usr/lib/ganeti/extstorage, /usr/share/ganeti/extstorage").
			Add("enabled disk templates", "file, sharedfile, diskless").
			Add("install image", "").
			Add("instance communication network", "").
			Add("zeroing image", "").
			Add("compression tools", []string{"gzip", "gzip-fast", "gzip-slow"}).
			Add("enabled user shutdown", false).
			Add("modify ssh setup", true).
			Add("ssh_key_type", "rsa").
			Add("ssh_key_bits", 2048)).
		Add("Default node parameters", kv("cpu_speed", 1, "exclusive_storage", false, "oob_program", "", "ovs", false,
			"ovs_link", "", "ovs_name", "switch1", "spindle_count", 1, "ssh_port", 22)).
		Add("Default instance parameters", kv("default", kv("always_failover", false, "auto_balance", true,
			"maxmem", 128, "minmem", 128, "spindle_use", 1, "vcpus", 1))).
		Add("Default nic parameters", kv("default", kv("link", "gbr0", "mode", "bridged", "vlan", ""))).
		Add("Default disk parameters", kv(
			"blockdev", kv(), "diskless", kv(),
			"drbd", kv("c-delay-target", 1, "c-fill-target", 0, "c-max-rate", 61440, "c-min-rate", 4096,
				"c-plan-ahead", 20, "data-stripes", 1, "disk-barriers", "n", "disk-custom", "",
				"dynamic-resync", false, "meta-barriers", false, "meta-stripes", 1, "metavg", "xenvg",
				"net-custom", "", "protocol", "C", "resync-rate", 61440),
			"ext", kv("access", "kernelspace"), "file", kv(),
			"gluster", kv("access", "kernelspace", "host", "127.0.0.1", "port", 24007, "volume", "gv0"),
			"plain", kv("stripes", 1), "rbd", kv("access", "kernelspace", "pool", "rbd"), "sharedfile", kv())).
		Add("Instance policy - limits for instances", Info{}.
			Add("bounds specs", List{kv("max/0", specs(8, 16, 1048576, 32768, 8, 12), "min/0", specs(1, 1, 64, 128, 1, 1))}).
			Add("std", specs(1, 1, 1024, 128, 1, 1)).
			Add("allowed disk templates", "file, sharedfile, diskless").
			Add("spindle-ratio", 32).
			Add("vcpu-ratio", 4)).
		Add("Data collectors", kv("cpu-avg-load", collector, "diskstats", collector, "drbd", collector,
			"inst-status-xen", collector, "lv", collector, "xen-cpu-avg-load", collector))
	assertText(t, "gnt-cluster info", ganetiGolden(t, "cluster_info.txt"), renderInfo(t, info))

	var b bytes.Buffer
	if err := JSON(&b, info[:12]); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "cluster_info.json.golden", b.Bytes())
}

func TestRenderInfoShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		data any
		want string
	}{
		{"scalar", "x", "x\n"},
		{"empty info", Info{}, "\n"},
		{"inline", Info{}.Add("disks", Inline{"a", 1}), "disks: [a, 1]\n"},
		{"nested lists", List{List{"a", "b"}, "c"}, "- - a\n  - b\n- c\n"},
		{"missing", Info{}.Add("mem", Unavail).Add("f", 0.5).Add("g", 2.0).Add("h", 1e-5), "mem: -\nf: 0.5\ng: 2\nh: 1e-05\n"},
	} {
		if got := renderInfo(t, tc.data); got != tc.want {
			t.Errorf("RenderInfo(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParamsInfoOwnValues(t *testing.T) {
	got := ParamsInfo(map[string]any{"vcpus": 2, "sub": map[string]any{"a": "x"}},
		map[string]any{"vcpus": 2, "memory": 128, "sub": map[string]any{"a": "x", "b": true}, "empty": map[string]any{}})
	want := Info{{"empty", "default (map[])"}, {"memory", "default (128)"}, {"sub", Info{{"a", "x"}, {"b", "default (True)"}}}, {"vcpus", "2"}}
	if g, w := renderInfo(t, got), renderInfo(t, want); g != w {
		t.Errorf("ParamsInfo = %q, want %q", g, w)
	}
}
