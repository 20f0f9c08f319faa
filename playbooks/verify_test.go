package playbooks

import (
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestParseFacts(t *testing.T) {
	out := `@@hostname
node2
@@time
1764054000.250000000
@@uname
Linux 6.1.0 x86_64
@@meminfo
MemTotal:       24576000 kB
MemFree:        20480000 kB
Buffers:           10240 kB
Cached:          1024000 kB
@@cpus
2
@@tools
lvm /usr/sbin/lvm
qemu-img /usr/bin/qemu-img
@@versions
lvm 2.03.16(2) (2022-05-18)
qemu 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)
@@vgs
  xenvg|32764.00|30716.00|wz--n-
@@dirs
ok /srv/ganeti/file-storage
missing /srv/ganeti/shared-file-storage
@@df
/dev/vda 258048 170000 80000 68% /
@@bridges
ok br0
missing xen-br0
@@drbd
version: 8.4.11 (api:1/proto:86-101)
@@state
0a1b2c  /var/lib/ganeti/ganetictl/state.json
  "serial": 12,
  "lineage": "abc-def",
@@os
os testos /srv/ganeti/os/testos 20
variants testos default fail
@@running
kvm web1 4242 512 2
@@lvs
  xenvg|1f2e.disk0|1024.00|-wi-ao----|originstname+web1
@@files
67108864 /srv/ganeti/file-storage/web2/abc.file.disk0
@@rbd
@@rbdmapped
@@volumes-end
@@end
`
	f, err := ParseFacts("node2", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"hostname", f.Hostname, "node2"},
		{"time", f.Time.Unix(), int64(1764054000)},
		{"memtotal", f.MemTotal, int64(24000)},
		{"memfree", f.MemFree, int64(20000 + 10 + 1000)},
		{"cpus", f.CPUs, 2},
		{"lvm", f.Tools["lvm"], "/usr/sbin/lvm"},
		{"qemu version", f.Versions["qemu"], "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)"},
		{"vg size", f.VG.Size, 32764.0},
		{"vg free", f.VG.Free, 30716.0},
		{"file dir", f.Dirs["/srv/ganeti/file-storage"], true},
		{"shared dir", f.Dirs["/srv/ganeti/shared-file-storage"], false},
		{"df total", f.DiskTotal, int64(258048)},
		{"bridge", f.Bridges["br0"], true},
		{"missing bridge", f.Bridges["xen-br0"], false},
		{"drbd", f.DRBD, "version: 8.4.11 (api:1/proto:86-101)"},
		{"state sum", f.StateSum, "0a1b2c"},
		{"state serial", f.StateSerial, int64(12)},
		{"state lineage", f.StateLineage, "abc-def"},
		{"os", f.OS["testos"].Valid(), true},
		{"os variants", len(f.OS["testos"].Variants), 2},
		{"running", f.Running["web1"].MemMiB, int64(512)},
		{"lvs", f.Volumes.LVs[0].Name, "1f2e.disk0"},
		{"files", f.Volumes.Files[0].Size, int64(67108864)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("ParseFacts: %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, err := ParseFacts("node2", []byte("@@hostname\nnode2\n")); err == nil {
		t.Error("truncated output must be an error")
	}
	f, err = ParseFacts("n", []byte("@@vgs\n  Volume group \"xenvg\" not found\n@@volumes-end\n@@end\n"))
	if err != nil || f.VG != nil || !strings.Contains(f.VGError, "not found") {
		t.Errorf("missing VG: %+v %v", f, err)
	}
}

func TestVerifyFindings(t *testing.T) {
	st := initState(t, "node2", "node3")
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	facts := func() map[string]*NodeFacts {
		m := map[string]*NodeFacts{}
		for _, n := range []string{"node1", "node2", "node3"} {
			f := goodFacts(n)
			f.Time, f.WindowStart, f.WindowEnd = now, now, now.Add(time.Second)
			f.StateSum, f.StateLineage, f.StateSerial = "sum", st.Lineage, st.Serial
			m[n] = f
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		mutate func(map[string]*NodeFacts)
		want   []string // "CODE object" of every ERROR
	}{
		{"clean", func(map[string]*NodeFacts) {}, nil},
		{"unreachable", func(m map[string]*NodeFacts) { m["node2"] = &NodeFacts{Name: "node2", Err: "connection refused"} }, []string{"ENODESSH node2"}},
		{"clock", func(m map[string]*NodeFacts) { m["node3"].Time = now.Add(-time.Hour) }, []string{"ENODETIME node3"}},
		{"no vg", func(m map[string]*NodeFacts) { m["node1"].VG = nil }, []string{"ENODELVM node1"}},
		{"small vg", func(m map[string]*NodeFacts) { m["node1"].VG.Size = 1024 }, []string{"ENODELVM node1"}},
		{"tool", func(m map[string]*NodeFacts) { delete(m["node2"].Tools, "socat") }, []string{"ENODEHV node2"}},
		{"stale copy", func(m map[string]*NodeFacts) { m["node2"].StateSum = "other" }, []string{"ECLUSTERFILECHECK node2"}},
		{"no copy", func(m map[string]*NodeFacts) { m["node2"].StateSum = "" }, []string{"ECLUSTERFILECHECK node2"}},
		{"wrong host", func(m map[string]*NodeFacts) { m["node3"].Hostname = "node7" }, []string{"ENODESSH node3"}},
		{"bridge", func(m map[string]*NodeFacts) { m["node3"].Bridges["br0"] = false }, []string{"ENODENET node3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := facts()
			tc.mutate(f)
			r := Verify(VerifyInput{State: st, Facts: f, StateSum: "sum", MinVGSize: 20480, Bridges: []string{"br0"}})
			var got []string
			for _, s := range r.Sections {
				for _, x := range s.Findings {
					if x.Severity == SevError {
						got = append(got, x.Code+" "+x.Object)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors = %v, want %v", got, tc.want)
			}
			if r.Errors() != len(tc.want) {
				t.Errorf("Errors() = %d", r.Errors())
			}
		})
	}
	// Too few candidates is a config error.
	st.Nodes["node2"].MasterCandidate = false
	st.Cluster.CandidatePoolSize = 3
	r := Verify(VerifyInput{State: st, Facts: facts(), StateSum: "sum"})
	if r.Errors() == 0 || !strings.Contains(r.Sections[0].Findings[0].Message, "not enough master candidates") {
		t.Errorf("candidate pool: %+v", r.Sections[0])
	}
}

func TestVerifyPerGroup(t *testing.T) {
	st := initState(t, "node2", "node3")
	st.NodeGroups["rack2"] = &statefile.NodeGroup{Name: "rack2", AllocPolicy: "preferred"}
	st.Nodes["node3"].Group = "rack2"
	st.Instances["db1"] = &statefile.Instance{Name: "db1", PrimaryNode: "node3", DiskTemplate: "drbd", AdminState: "down",
		Disks: []*statefile.Disk{{DevType: statefile.DevDRBD, Nodes: []string{"node3", "node1"}}}}
	facts := map[string]*NodeFacts{}
	for _, n := range []string{"node1", "node2", "node3"} {
		facts[n] = goodFacts(n)
	}
	// sections lists the titles, and where the split warning is: the
	// group section it falls in and its message.
	sections := func(r *VerifyReport) (titles []string, split string) {
		group := ""
		for _, s := range r.Sections {
			titles = append(titles, s.Title)
			if strings.HasPrefix(s.Title, "Verifying group") {
				group = s.Title
			}
			for _, f := range s.Findings {
				if f.Code == "EINSTANCESPLITGROUPS" {
					split = group + "|" + f.Message
				}
			}
		}
		return titles, split
	}
	titles, split := sections(Verify(VerifyInput{State: st, Facts: facts}))
	joined := strings.Join(titles, "\n")
	if !strings.Contains(joined, "Verifying group 'default'\nGathering data (2 nodes)") || !strings.Contains(joined, "Verifying group 'rack2'\nGathering data (1 nodes)") {
		t.Errorf("sections:\n%s", joined)
	}
	if want := "Verifying group 'rack2'|instance has primary and secondary nodes in different groups: node3 (group rack2), node1 (group default)"; split != want {
		t.Errorf("split warning %q, want %q", split, want)
	}
	titles, _ = sections(Verify(VerifyInput{State: st, Facts: facts, Group: "rack2"}))
	if joined := strings.Join(titles, "\n"); strings.Contains(joined, "'default'") {
		t.Errorf("-g rack2 verified the default group:\n%s", joined)
	}
}
