package ganeticonfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/internal/fixtures"
	"github.com/ganetictl/ganetictl/statefile"
)

// fixture reads one file of Ganeti's own test data, shared with the
// project (never copied).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	return fixtures.Read(t, "ganeti-test-data", name)
}

// seqIDs gives predictable UUIDs to objects that have none.
func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("new-%d", n) }
}

func convert(t *testing.T, data []byte) *Result {
	t.Helper()
	r, err := Convert(data, Options{NewID: seqIDs(), Lineage: "lineage-test"})
	if err != nil {
		t.Fatal(err)
	}
	// What an import writes must read back.
	b, err := statefile.Marshal(r.State)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := statefile.Read(strings.NewReader(string(b))); err != nil {
		t.Fatalf("imported state does not read back: %v", err)
	}
	return r
}

func TestConvertGaneti30(t *testing.T) {
	r := convert(t, fixture(t, "cluster_config_3.0.json"))
	st := r.State
	if r.Version != "3.0.0" || r.Serial != 7627 || st.Lineage != "lineage-test" || st.Serial != 0 {
		t.Errorf("version %q serial %d lineage %q state serial %d", r.Version, r.Serial, st.Lineage, st.Serial)
	}

	cl := st.Cluster
	wantTime := time.Date(2012, 8, 2, 0, 57, 25, 604884000, time.UTC)
	if cl.Name != "cluster.name.example.com" || cl.MasterNode != "node1.example.com" || cl.UUID != "dddf8c12-f2d8-4718-a35b-7804daf12a3f" ||
		cl.Serial != 3189 || !cl.Ctime.Equal(wantTime) {
		t.Errorf("cluster identity: %+v", cl.Meta)
	}
	if cl.MasterNetdev != "eth0" || cl.MasterNetmask != 32 || cl.VolumeGroup != "xenvg" || cl.DRBDHelper != "/bin/true" ||
		cl.MACPrefix != "aa:bb:cc" || cl.CandidatePoolSize != 10 || cl.SharedFileStorageDir != "/srv/ganeti/shared-file-storage" ||
		cl.FileStorageDir != "" || cl.RBDPool != "rbd" || cl.HighestUsedPort != 32105 {
		t.Errorf("cluster settings: %+v", cl)
	}
	if !reflect.DeepEqual(cl.EnabledDiskTemplates, []string{"drbd", "plain", "file", "sharedfile"}) ||
		!reflect.DeepEqual(cl.EnabledHypervisors, []string{"xen-pvm"}) || !reflect.DeepEqual(cl.Tags, []string{"mytag"}) ||
		!reflect.DeepEqual(cl.TCPUDPPortPool, []int{32104, 32105, 32101, 32102, 32103}) {
		t.Errorf("cluster lists: %v %v %v %v", cl.EnabledDiskTemplates, cl.EnabledHypervisors, cl.Tags, cl.TCPUDPPortPool)
	}
	if cl.BEParams["maxmem"] != 128.0 || cl.NICParams["link"] != "br974" || cl.NICParams["mode"] != "bridged" ||
		cl.HVParams["xen-pvm"]["root_path"] != "/dev/xvda1" || cl.DiskParams["drbd"]["metavg"] != "xenvg" || cl.NDParams["ssh_port"] != 22.0 {
		t.Errorf("cluster params: be %v nic %v", cl.BEParams, cl.NICParams)
	}

	if got := st.NodeNames(); !reflect.DeepEqual(got, []string{"node1.example.com", "node2.example.com", "node3.example.com"}) {
		t.Errorf("nodes %v", got)
	}
	n2 := st.Nodes["node2.example.com"]
	if n2.UUID != "2ae3d962-2dad-44f2-bdb1-85f77107f907" || n2.PrimaryIP != "192.0.2.83" || n2.SecondaryIP != "198.51.100.83" ||
		n2.Group != "default" || !n2.MasterCandidate || n2.Drained || n2.Offline || !n2.MasterCapable || !n2.VMCapable || n2.Serial != 6 {
		t.Errorf("node2: %+v", n2)
	}
	for name, want := range map[string]string{"node1.example.com": "M", "node2.example.com": "C", "node3.example.com": "C"} {
		if got := st.Nodes[name].Role(cl.MasterNode); got != want {
			t.Errorf("%s role %s, want %s", name, got, want)
		}
	}
	if g := st.NodeGroups["another"]; g == nil || g.NDParams["exclusive_storage"] != true || g.AllocPolicy != "preferred" || len(st.NodeGroups) != 2 {
		t.Errorf("node groups: %v", st.NodeGroups)
	}

	type instWant struct {
		primary, template, os string
		secondaries           []string
		mac                   string
		size                  int64
	}
	wantInst := map[string]instWant{
		"instance1.example.com": {"node1.example.com", "drbd", "busybox", []string{"node3.example.com"}, "aa:bb:cc:b2:6e:0b", 1024},
		"instance2.example.com": {"node3.example.com", "plain", "debian-image", nil, "aa:bb:cc:56:83:fb", 102400},
		"instance3.example.com": {"node2.example.com", "plain", "debian-image", nil, "aa:bb:cc:5e:5c:75", 1280},
	}
	if len(st.Instances) != len(wantInst) {
		t.Errorf("instances %v", st.InstanceNames())
	}
	for name, w := range wantInst {
		inst := st.Instances[name]
		if inst == nil {
			t.Errorf("instance %s missing", name)
			continue
		}
		if inst.PrimaryNode != w.primary || inst.DiskTemplate != w.template || inst.OS != w.os || inst.AdminState != "up" ||
			inst.Hypervisor != "xen-pvm" || !inst.DisksActive || !reflect.DeepEqual(inst.SecondaryNodes(), w.secondaries) {
			t.Errorf("%s: primary %s template %s os %s state %s secondaries %v", name, inst.PrimaryNode, inst.DiskTemplate, inst.OS, inst.AdminState, inst.SecondaryNodes())
		}
		if len(inst.NICs) != 1 || inst.NICs[0].MAC != w.mac {
			t.Errorf("%s NICs %+v", name, inst.NICs)
		}
		if len(inst.Disks) != 1 || inst.Disks[0].Size != w.size || inst.Disks[0].Mode != "rw" || inst.Disks[0].IVName != "disk/0" {
			t.Errorf("%s disks %+v", name, inst.Disks)
		}
	}
	plain := st.Instances["instance2.example.com"].Disks[0]
	if plain.UUID != "79acf611-be58-4334-9fe4-4f2b73ae8abb" || !reflect.DeepEqual(plain.LogicalID, []any{"xenvg", "3e559cd7-1024-4294-a923-a9fd13182b2f.disk0"}) ||
		!reflect.DeepEqual(plain.Nodes, []string{"node3.example.com"}) {
		t.Errorf("plain disk %+v", plain)
	}
	drbd := st.Instances["instance1.example.com"].Disks[0]
	wantID := []any{"node1.example.com", "node3.example.com", 32100, 0, 0, "d3c3fd475fcbaf5fd177fb245ac43b71247ada38"}
	if drbd.DevType != "drbd" || !reflect.DeepEqual(drbd.LogicalID, wantID) || len(drbd.Children) != 2 {
		t.Fatalf("drbd disk %+v", drbd)
	}
	if data, meta := drbd.Children[0], drbd.Children[1]; data.Size != 1024 || meta.Size != 128 ||
		!reflect.DeepEqual(meta.LogicalID, []any{"xenvg", "5c390722-6a7a-4bb4-9cef-98d896a8e6b1.disk0_meta"}) ||
		!reflect.DeepEqual(data.Nodes, []string{"node1.example.com", "node3.example.com"}) || data.UUID != "new-1" {
		t.Errorf("drbd children %+v %+v", data, meta)
	}
	if got, _ := st.Masked().Instances["instance1.example.com"].Disks[0].DRBD(); got.Secret != statefile.MaskedSecret {
		t.Errorf("masked secret %q", got.Secret)
	}

	net := st.Networks["a network"]
	if net == nil || net.Network != "203.0.113.0/24" || net.UUID != "99f0128a-1c84-44da-90b9-9581ea00c075" || len(net.ExtReserved) != 256 {
		t.Errorf("network %+v", net)
	}

	warnings := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"master IP 192.0.2.87 (on eth0) not imported", "cluster: not imported", "ipolicy", "os_hvp"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "d3c3fd47") || strings.Contains(warnings, "YOURKEY") {
		t.Errorf("a warning shows a secret or key:\n%s", warnings)
	}
}

// An old layout: objects keyed by name, references by name, disks inside
// instances, dev types lvm and drbd8.
func TestConvertGaneti28Layout(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "config-2.8-names.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := convert(t, b)
	st := r.State
	if r.Version != "2.8.0" || st.Cluster.MasterNode != "n1.example.org" || st.Cluster.FileStorageDir != "/srv/ganeti/file-storage" {
		t.Errorf("version %s master %s", r.Version, st.Cluster.MasterNode)
	}
	roles := map[string]string{}
	for _, n := range st.NodeNames() {
		roles[n] = st.Nodes[n].Role(st.Cluster.MasterNode)
	}
	if want := map[string]string{"n1.example.org": "M", "n2.example.org": "D", "n3.example.org": "O"}; !reflect.DeepEqual(roles, want) {
		t.Errorf("roles %v", roles)
	}
	n3 := st.Nodes["n3.example.org"]
	if n3.MasterCapable || n3.VMCapable || n3.SecondaryIP != "198.18.0.3" || n3.UUID != "0b0a1c2d-0000-4000-8000-0000000000b3" {
		t.Errorf("n3 %+v", n3)
	}
	web := st.Instances["web.example.org"]
	if web.AdminState != "down" || web.DiskTemplate != "drbd" || web.PrimaryNode != "n2.example.org" ||
		!reflect.DeepEqual(web.SecondaryNodes(), []string{"n1.example.org"}) || web.NetworkPort != 11003 || web.BEParams["maxmem"] != 1024.0 {
		t.Errorf("web %+v", web)
	}
	d := web.Disks[0]
	id, _ := d.DRBD()
	id.Secret = ""
	if want := (statefile.DRBDLogicalID{NodeA: "n2.example.org", NodeB: "n1.example.org", Port: 11002, MinorA: 1, MinorB: 3}); id != want ||
		d.Children[0].DevType != "plain" || !reflect.DeepEqual(d.Children[1].Nodes, []string{"n2.example.org", "n1.example.org"}) ||
		d.UUID != "new-2" {
		t.Errorf("web disk %+v children %+v", d, d.Children)
	}
	if nic := web.NICs[0]; nic.MAC != "aa:00:00:11:22:33" || nic.IP != "" || nic.NICParams["link"] != "br1" {
		t.Errorf("web nic %+v", nic)
	}
	files := st.Instances["files.example.org"]
	if files.AdminState != "offline" || files.DiskTemplate != "file" || files.Disks[0].Mode != "ro" ||
		!reflect.DeepEqual(files.Disks[0].LogicalID, []any{"loop", "/srv/ganeti/file-storage/files.example.org/disk0"}) ||
		!reflect.DeepEqual(files.Disks[0].Nodes, []string{"n1.example.org"}) {
		t.Errorf("files %+v disk %+v", files, files.Disks[0])
	}
	if w := strings.Join(r.Warnings, "\n"); strings.Contains(w, "drbd port") || !strings.Contains(w, "master IP 198.18.0.10") {
		t.Errorf("warnings:\n%s", w)
	}
}

func TestConvertRefusesBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
		format     bool
	}{
		{"not JSON", "hello", []string{"not a Ganeti config.data", "line 1 column 1", "/var/lib/ganeti/config.data"}, true},
		{"truncated", "{\"version\": 3000000,\n \"cluster\": {", []string{"not a Ganeti config.data", "truncated"}, true},
		{"other JSON", `{"format_version": 1}`, []string{`no "version" or "cluster" key`}, true},
		{"too old", `{"version": 2060000, "cluster": {}}`, []string{"version 2.6.0 is too old", "2.7.0 to 3.1.0", "cfgupgrade"}, true},
		{"too new", `{"version": 4000000, "cluster": {}}`, []string{"version 4.0.0 is newer", "use a newer ganetictl"}, true},
		{"problems", `{"version": 3000000,
			"cluster": {"cluster_name": "c", "master_node": "nope", "enabled_disk_templates": ["plain", "ext"], "enabled_hypervisors": ["kvm"]},
			"nodegroups": {"g1": {"name": "default", "uuid": "g1"}},
			"nodes": {"u1": {"name": "n1", "uuid": "u1", "group": "g1", "primary_ip": "198.18.0.1"},
			          "u2": {"name": "n2", "uuid": "u2", "group": "gone", "primary_ip": "198.18.0.2"}},
			"disks": {"d1": {"dev_type": "ext", "logical_id": ["a", "b"], "size": 1, "uuid": "d1"},
			          "d2": {"dev_type": "plain", "logical_id": ["vg", "x"], "size": 1, "uuid": "d2"},
			          "d3": {"dev_type": "file", "logical_id": ["loop", "/srv/f/i3/disk0"], "size": 1, "uuid": "d3"},
			          "d4": {"dev_type": "weird", "logical_id": [], "size": 1, "uuid": "d4"}},
			"instances": {
				"i1": {"name": "i1", "uuid": "i1", "primary_node": "u1", "disks": ["d1"], "admin_state": "up", "nics": []},
				"i2": {"name": "i2", "uuid": "i2", "primary_node": "u9", "disks": ["d2", "d9"], "admin_state": "sideways", "nics": [{"mac": "aa:00:00:00:00:01", "network": "n9"}]},
				"i3": {"name": "i3", "uuid": "i3", "primary_node": "u1", "disks": ["d2", "d3"], "admin_state": "up", "nics": []},
				"i4": {"name": "i4", "uuid": "i4", "primary_node": "u1", "disks": ["d4"], "admin_state": "up", "nics": []},
				"i5": {"name": "i5", "uuid": "i5", "primary_node": "u1", "disks": [], "admin_state": "down", "nics": [], "forthcoming": true},
				"bad/name": {"name": "bad/name", "uuid": "i6", "primary_node": "u1", "disks": [], "admin_state": "down", "nics": []}}}`,
			[]string{
				"node n2: its node group \"gone\" does not exist",
				"the master node \"nope\" is not among the config's nodes",
				"instance i1 disk 0: disk template ext is not supported by ganetictl",
				"instance i2: primary node \"u9\" is not among the config's nodes",
				"instance i2 disk 1: disk d9 is not among the config's disks",
				"instance i2: unknown admin_state \"sideways\"",
				"instance i2 NIC 0: network \"n9\" is not among the config's networks",
				"instance i3 mixes disk templates plain and file",
				"instance i4 disk 0: unknown dev_type \"weird\"",
				"instance i5 is forthcoming",
				"instance bad/name: instance name \"bad/name\": must be a DNS name",
			}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert([]byte(tc.data), Options{})
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			var pe *Error
			if tc.format != errors.As(err, &fe) || !tc.format && !errors.As(err, &pe) {
				t.Errorf("error type %T", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// A newer minor version than known imports, with a warning.
func TestConvertNewerMinorVersion(t *testing.T) {
	cfg := `{"version": 3020000,
		"cluster": {"cluster_name": "c", "master_node": "u1", "enabled_disk_templates": ["plain"], "enabled_hypervisors": ["kvm"]},
		"nodegroups": {"g1": {"name": "default", "uuid": "g1"}},
		"nodes": {"u1": {"name": "n1", "uuid": "u1", "group": "g1", "primary_ip": "198.18.0.1", "new_field": 1}}}`
	r, err := Convert([]byte(cfg), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(r.Warnings, "\n")
	if r.Version != "3.2.0" || !strings.Contains(w, "3.2.0 is newer than the newest known (3.1.0)") || !strings.Contains(w, "nodes: not imported (no place in ganetictl's state): new_field (1 of 1)") {
		t.Errorf("version %s warnings:\n%s", r.Version, w)
	}
	if n := r.State.Nodes["n1"]; n == nil || !n.MasterCapable || !n.VMCapable || n.SecondaryIP != "198.18.0.1" {
		t.Errorf("node defaults: %+v", n)
	}
}

func TestConvertDRBDChecks(t *testing.T) {
	cfg := `{"version": 3000000,
		"cluster": {"cluster_name": "c", "master_node": "u1", "enabled_disk_templates": ["drbd"], "enabled_hypervisors": ["kvm"]},
		"nodegroups": {"g1": {"name": "default", "uuid": "g1"}},
		"nodes": {"u1": {"name": "n1", "uuid": "u1", "group": "g1", "primary_ip": "198.18.0.1"},
		          "u2": {"name": "n2", "uuid": "u2", "group": "g1", "primary_ip": "198.18.0.2"},
		          "u3": {"name": "n3", "uuid": "u3", "group": "g1", "primary_ip": "198.18.0.3"}},
		"disks": {"d1": {"dev_type": "drbd", "logical_id": ["u2", "u3", 11000, 0, 1.5, "not hex!"], "size": 10, "uuid": "d1",
		                 "children": [{"dev_type": "plain", "logical_id": ["vg", "a_data"], "size": 10}]}},
		"instances": {"i1": {"name": "i1", "uuid": "i1", "primary_node": "u1", "disks": ["d1"], "admin_state": "up", "nics": []}}}`
	_, err := Convert([]byte(cfg), Options{})
	for _, w := range []string{"drbd minor B 1.5 is not an integer", "drbd shared secret must be", "needs 2 children", "not on the primary node n1"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "not hex!") {
		t.Errorf("error shows the secret:\n%v", err)
	}
}

// TestConvertNetworks: networks keep their pools and IPv6 settings, groups
// their connections (by uuid in Ganeti, by name here), NICs their network.
func TestConvertNetworks(t *testing.T) {
	ext := "1" + strings.Repeat("0", 254) + "1"
	res := "00001" + strings.Repeat("0", 251)
	cfg := `{"version": 3000000,
		"cluster": {"cluster_name": "c", "master_node": "u1", "enabled_disk_templates": ["diskless"], "enabled_hypervisors": ["kvm"]},
		"nodegroups": {"g1": {"name": "default", "uuid": "g1", "networks": {"n1": {"mode": "bridged", "link": "br100", "vlan": ".100"}}},
		               "g2": {"name": "other", "uuid": "g2", "networks": {}}},
		"nodes": {"u1": {"name": "node1", "uuid": "u1", "group": "g1", "primary_ip": "198.18.0.1"}},
		"networks": {"n1": {"name": "pub", "uuid": "n1", "network": "198.18.10.0/24", "gateway": "198.18.10.1",
		                    "network6": "2001:db8:10::/64", "gateway6": "fe80::1", "mac_prefix": "aa:00:10",
		                    "reservations": "` + res + `", "ext_reservations": "` + ext + `", "tags": ["dns"], "serial_no": 4},
		             "n2": {"name": "v6", "uuid": "n2", "network6": "2001:db8:20::/64"}},
		"instances": {"i1": {"name": "i1", "uuid": "i1", "primary_node": "u1", "disks": [], "disk_template": "diskless", "admin_state": "down",
		              "nics": [{"mac": "aa:00:10:00:00:01", "ip": "198.18.10.4", "network": "n1", "uuid": "nic1",
		                        "nicparams": {"mode": "bridged", "link": "br100", "vlan": ".100"}}]}}}`
	r := convert(t, []byte(cfg))
	st := r.State
	n := st.Networks["pub"]
	if n == nil || n.Network != "198.18.10.0/24" || n.Gateway != "198.18.10.1" || n.Network6 != "2001:db8:10::/64" || n.Gateway6 != "fe80::1" ||
		n.MACPrefix != "aa:00:10" || n.Reservations != res || n.ExtReserved != ext || n.UUID != "n1" || n.Serial != 4 || !reflect.DeepEqual(n.Tags, []string{"dns"}) {
		t.Errorf("network %+v", n)
	}
	if v6 := st.Networks["v6"]; v6 == nil || v6.Network != "" || v6.Network6 != "2001:db8:20::/64" {
		t.Errorf("IPv6-only network %+v", v6)
	}
	if got := st.NodeGroups["default"].Networks; !reflect.DeepEqual(got, map[string]statefile.Params{"pub": {"mode": "bridged", "link": "br100", "vlan": ".100"}}) {
		t.Errorf("default's networks %v", got)
	}
	if got := st.NodeGroups["other"].Networks; len(got) != 0 {
		t.Errorf("other's networks %v", got)
	}
	if nic := st.Instances["i1"].NICs[0]; nic.Network != "pub" || nic.IP != "198.18.10.4" || nic.NICParams["link"] != "br100" {
		t.Errorf("NIC %+v", nic)
	}
	if w := strings.Join(r.Warnings, "\n"); strings.Contains(w, "nodegroups: not imported") || strings.Contains(w, "networks: not imported") {
		t.Errorf("warnings:\n%s", w)
	}

	bad := strings.Replace(cfg, `"n1": {"mode"`, `"n9": {"mode"`, 1)
	bad = strings.Replace(bad, `"reservations": "`+res, `"reservations": "0101`, 1)
	_, err := Convert([]byte(bad), Options{})
	for _, w := range []string{`node group default is connected to network "n9", which is not among the config's networks`,
		"network pub: the reservations of 198.18.10.0/24 are not a map of its 256 addresses"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
