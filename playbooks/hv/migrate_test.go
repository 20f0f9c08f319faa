package hv

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

func goldenMigrate(t *testing.T) MigrateArgs {
	s := goldenStart(t)
	return MigrateArgs{Instance: s.Instance, Source: "node1", Target: "node2", TargetIP: "198.18.0.12",
		HVParams: s.HVParams, Live: true, NICLinks: s.NICLinks, DefaultMachine: s.DefaultMachine, Timeout: 90 * time.Second}
}

// TestMigrationScriptsParse runs sh -n on every migration script.
func TestMigrationScriptsParse(t *testing.T) {
	scripts := map[string]string{"kvm-migrate": kvmMigrateScript, "kvm-kill": kvmKillScript,
		"kvm-finalize-target": kvmFinalizeTargetScript, "kvm-abort-source": kvmAbortSourceScript,
		"kvm-start": kvmStartScript, "xen-accept": xenAcceptScript, "xen-migrate": xenMigrateScript,
		"xen-finalize-source": xenFinalizeSourceScript, "xen-finalize-target": xenFinalizeTargetScript,
		"xen-abort-target": xenAbortTargetScript, "xen-abort-source": xenAbortSourceScript,
		"kvm-status": kvmStatusScript, "xen-status": xenStatusScript, "xen-kill-leftover": xenKillLeftoverScript}
	for _, sh := range []string{"dash", "sh"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		for name, s := range scripts {
			if out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput(); err != nil {
				t.Errorf("%s: %s -n: %v\n%s", name, sh, err, out)
			}
		}
	}
}

func TestKVMAcceptSteps(t *testing.T) {
	a := goldenMigrate(t)
	a.Caps = []string{"auto-converge"}
	steps, err := AcceptSteps(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 {
		t.Fatalf("%d steps", len(steps))
	}
	s := steps[0]
	if s.Node != "node2" || s.Argv[2] != kvmStartScript || s.Argv[4] != "kvm1" {
		t.Fatalf("step %q on %s", s.Argv[:5], s.Node)
	}
	// post command = capabilities, mode incoming (no cont, no balloon).
	if s.Argv[6] != `{"arguments":{"capabilities":[{"capability":"auto-converge","state":true}]},"execute":"migrate-set-capabilities"}` || s.Argv[7] != "incoming" {
		t.Fatalf("post/mode = %q", s.Argv[6:8])
	}
	qemu := s.Argv[15:]
	if i := slices.Index(qemu, "-incoming"); i < 0 || qemu[i+1] != "tcp:198.18.0.12:8102" {
		t.Fatalf("no -incoming tcp:198.18.0.12:8102 in %q", qemu)
	}
	if slices.Contains(qemu, "-S") {
		t.Error("incoming qemu has -S")
	}
	// Same command line as the source's start, minus -S, plus -incoming.
	src, _ := KVMArgv(goldenStart(t))
	want := slices.Clone(src[:len(src)-1])
	i := slices.Index(want, "-qmp")
	want = slices.Insert(want, i, "-incoming", "tcp:198.18.0.12:8102")
	if !slices.Equal(qemu, want) {
		t.Errorf("target argv\n%q\nwant\n%q", qemu, want)
	}
	if s.Undo == nil || s.Undo.Argv[2] != kvmKillScript || s.Undo.Node != "node2" || s.Undo.Argv[5] != kvmAbortAllowed {
		t.Errorf("undo %+v", s.Undo)
	}
	// No caps: no post command.
	a.Caps = nil
	steps, _ = AcceptSteps(a)
	if steps[0].Argv[6] != "" {
		t.Errorf("post without caps: %q", steps[0].Argv[6])
	}
	// IPv6 and an explicit port.
	a.TargetIP, a.Port = "2001:db8::2", 9000
	steps, _ = AcceptSteps(a)
	if !slices.Contains(steps[0].Argv, "tcp:[2001:db8::2]:9000") {
		t.Errorf("ipv6 uri missing: %q", steps[0].Argv)
	}
}

func TestKVMMigrateStep(t *testing.T) {
	a := goldenMigrate(t)
	s, err := MigrateStep(a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sh", "-c", kvmMigrateScript, "ganetictl-kvm-migrate", "kvm1", "1",
		`{"arguments":{"downtime-limit":30,"max-bandwidth":33554432},"execute":"migrate-set-parameters"}`,
		"", "", `{"arguments":{"uri":"tcp:198.18.0.12:8102"},"execute":"migrate"}`, "90", ""}
	if !slices.Equal(s.Argv, want) {
		t.Errorf("argv\n%q\nwant\n%q", s.Argv[3:], want[3:])
	}
	if s.Node != "node1" || !strings.Contains(s.Desc, "max 32 MiB/s, downtime 30 ms") || !strings.Contains(s.Desc, "live") {
		t.Errorf("step %s: %s", s.Node, s.Desc)
	}
	// Non-live, explicit numbers, caps from hvparams, default timeout.
	a.Live, a.Timeout = false, 0
	a.HVParams = statefile.Params{"migration_bandwidth": 100.0, "migration_downtime": 500.0, "migration_caps": "postcopy-ram:auto-converge", "migration_port": 9102.0}
	s, err = MigrateStep(a)
	if err != nil {
		t.Fatal(err)
	}
	if s.Argv[5] != "" || s.Argv[6] != `{"arguments":{"downtime-limit":500,"max-bandwidth":104857600},"execute":"migrate-set-parameters"}` ||
		!strings.Contains(s.Argv[7], `"postcopy-ram","state":true},{"capability":"auto-converge","state":true}`) ||
		!strings.Contains(s.Argv[8], `"state":false`) || s.Argv[9] != `{"arguments":{"uri":"tcp:198.18.0.12:9102"},"execute":"migrate"}` ||
		s.Argv[11] != "1" {
		t.Errorf("argv %q", s.Argv[5:])
	}
	// 128 MiB at 100 MiB/s: 120 + 3*128/100+1 = 124 s.
	if s.Argv[10] != "124" {
		t.Errorf("default timeout %s s", s.Argv[10])
	}
	// Explicit args win over hvparams.
	a.Bandwidth, a.Downtime, a.Caps = 7, 3, []string{}
	s, _ = MigrateStep(a)
	if s.Argv[6] != `{"arguments":{"downtime-limit":3,"max-bandwidth":7340032},"execute":"migrate-set-parameters"}` || s.Argv[7] != "" || s.Argv[11] != "" {
		t.Errorf("explicit argv %q", s.Argv[5:])
	}
}

func TestMigrateArgsErrors(t *testing.T) {
	for name, mod := range map[string]func(*MigrateArgs){
		"no instance":  func(a *MigrateArgs) { a.Instance = nil },
		"same node":    func(a *MigrateArgs) { a.Target = a.Source },
		"bad ip":       func(a *MigrateArgs) { a.TargetIP = "node2; rm -rf /" },
		"bad port":     func(a *MigrateArgs) { a.Port = 70000 },
		"bad cap":      func(a *MigrateArgs) { a.Caps = []string{"x,y"} },
		"bad hvparam":  func(a *MigrateArgs) { a.HVParams = statefile.Params{"migration_mode": "fast"} },
		"bad downtime": func(a *MigrateArgs) { a.HVParams = statefile.Params{"migration_downtime": 0.0} },
	} {
		a := goldenMigrate(t)
		mod(&a)
		if _, err := MigrateStep(a); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := AcceptSteps(a); err == nil {
			t.Errorf("%s: accept: no error", name)
		}
	}
}

func TestKVMFinalizeAbort(t *testing.T) {
	a := goldenMigrate(t)
	fs, err := FinalizeSourceSteps(a)
	if err != nil || len(fs) != 1 || fs[0].Node != "node1" || !slices.Equal(fs[0].Argv[3:], []string{"ganetictl-kvm-kill", "kvm1", "postmigrate"}) {
		t.Fatalf("finalize source %+v %v", fs, err)
	}
	at, err := AbortTargetSteps(a)
	if err != nil || len(at) != 1 || at[0].Node != "node2" || at[0].Argv[5] != kvmAbortAllowed {
		t.Fatalf("abort target %+v %v", at, err)
	}
	for _, st := range strings.Fields(kvmAbortAllowed) {
		if st == "running" || st == "paused" {
			t.Errorf("abort target may kill a %s guest", st)
		}
	}
	ft, err := FinalizeTargetSteps(a)
	if err != nil || ft[0].Node != "node2" || ft[0].Argv[5] != "" {
		t.Fatalf("finalize target %+v %v", ft, err)
	}
	a.Live = false
	ft, _ = FinalizeTargetSteps(a)
	if ft[0].Argv[5] != "1" {
		t.Errorf("non-live finalize target does not resume: %q", ft[0].Argv)
	}
	as, _ := AbortSourceSteps(a)
	if as[0].Node != "node1" || as[0].Argv[5] != "1" {
		t.Errorf("abort source %q", as[0].Argv)
	}
}

func TestParseMigrateSummary(t *testing.T) {
	out := "noise\n" + `{"status":"completed","live":true,"total-time":412,"downtime":12,"setup-time":3,"transferred":1258291,"total":135290880,"mbps":280.12,"source-status":"postmigrate","wall-ms":600,"timed-out":false,"postcopy":false,"error":""}` + "\n"
	s, err := ParseMigrateSummary([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := MigrateSummary{Status: "completed", Live: true, TotalTimeMs: 412, DowntimeMs: 12, SetupTimeMs: 3, Transferred: 1258291,
		Total: 135290880, Mbps: 280.12, SourceStatus: "postmigrate", WallMs: 600}
	if s != want {
		t.Errorf("got %+v", s)
	}
	if got := s.String(); got != "completed in 412 ms (downtime 12 ms, 1.2 MiB at 280.1 Mbit/s)" {
		t.Errorf("String: %s", got)
	}
	s, err = ParseMigrateSummary([]byte(`{"status":"cancelled","live":true,"total-time":6000,"downtime":0,"setup-time":0,"transferred":858993459,"total":71303168,"mbps":1000,"source-status":"running","wall-ms":6300,"timed-out":true,"postcopy":false,"error":""}`))
	if err != nil || !s.TimedOut || s.SourceStatus != "running" || !strings.Contains(s.String(), "timed out") {
		t.Errorf("cancelled: %+v %v", s, err)
	}
	// Xen's shorter line.
	s, err = ParseMigrateSummary([]byte(`{"status":"failed","live":true,"total-time":1100,"source-status":"-b----","wall-ms":1100,"error":"xl migrate exited 1"}`))
	if err != nil || s.Status != "failed" || s.Error != "xl migrate exited 1" {
		t.Errorf("xen: %+v %v", s, err)
	}
	for _, bad := range []string{"", "no json here", `{"total-time":1}`, `{"status":`} {
		if _, err := ParseMigrateSummary([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestXenMigrationSteps(t *testing.T) {
	hvp, _ := Params(XenPVM, nil, nil)
	a := MigrateArgs{Instance: &statefile.Instance{Name: "xen1", Hypervisor: XenPVM,
		BEParams: statefile.Params{"maxmem": 256.0, "vcpus": 1.0},
		NICs:     []*statefile.NIC{{MAC: "aa:00:00:00:00:01"}}}, Source: "node1", Target: "node2",
		TargetIP: "198.18.0.12", HVParams: hvp, Live: true, NICLinks: []string{"br0"}}
	acc, err := AcceptSteps(a)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(acc[0].Argv[3:], []string{"ganetictl-xen-accept", "xen1", "TCP4-LISTEN", "198.18.0.12", "8002", "/run/ganeti/xen-hypervisor/migrate-receive-8002.pid"}) || acc[0].Node != "node2" || acc[0].Undo == nil {
		t.Errorf("accept %q", acc[0].Argv[3:])
	}
	mig, err := MigrateStep(a)
	if err != nil || !slices.Equal(mig.Argv[3:], []string{"ganetictl-xen-migrate", "xen1", "198.18.0.12", "8002"}) || mig.Node != "node1" {
		t.Errorf("migrate %q %v", mig.Argv, err)
	}
	if !strings.Contains(xenMigrateScript, `xl migrate -s "socat -b524288 - TCP:$ip:$port #" -C "/etc/xen/$inst" "$inst" "$ip"`) {
		t.Error("xl migrate command line changed")
	}
	ft, err := FinalizeTargetSteps(a)
	if err != nil || len(ft) != 2 || ft[1].Path != "/etc/xen/xen1" {
		t.Fatalf("finalize target %+v %v", ft, err)
	}
	want, _ := XenConfigFile(StartArgs{Instance: a.Instance, HVParams: hvp, NICLinks: a.NICLinks})
	if string(ft[1].Content) != string(want) {
		t.Errorf("config differs")
	}
	for _, f := range []func(MigrateArgs) ([]plan.Step, error){FinalizeSourceSteps, AbortTargetSteps, AbortSourceSteps} {
		if st, err := f(a); err != nil || len(st) != 1 {
			t.Errorf("%+v %v", st, err)
		}
	}
}

func TestDecideCleanup(t *testing.T) {
	for _, c := range []struct {
		src, dst string
		runs     Side
		kill     Side
		resume   bool
		errLike  string
	}{
		{"running", "absent", Source, Target, false, ""},
		{"running", "inmigrate", Source, Target, false, ""},
		{"paused", "inmigrate", Source, Target, false, ""},
		{"prelaunch", "absent", Source, Target, false, ""},
		{"running", "postmigrate", Source, Target, false, ""},
		{"postmigrate", "running", Target, Source, false, ""},
		{"absent", "running", Target, Source, false, ""},
		{"inmigrate", "running", Target, Source, false, ""},
		{"postmigrate", "paused", Target, Source, true, ""},
		{"absent", "paused", Target, Source, false, ""},
		{"running", "running", "", "", false, "both nodes"},
		{"running", "paused", "", "", false, "both nodes"},
		{"absent", "absent", "", "", false, "neither node"},
		{"postmigrate", "inmigrate", "", "", false, "still finishing"},
		{"postmigrate", "absent", "", "", false, "lost"},
		{"inmigrate", "absent", "", "", false, "no node owns"},
		{"unreachable", "inmigrate", "", "", false, "retry later"},
		{"running", "unreachable", "", "", false, "retry later"},
		{"finish-migrate", "inmigrate", "", "", false, "retry later"},
	} {
		d, err := DecideCleanup(c.src, c.dst)
		if c.errLike != "" {
			if err == nil || !strings.Contains(err.Error(), c.errLike) {
				t.Errorf("%s/%s: err %v, want %q", c.src, c.dst, err, c.errLike)
			}
			continue
		}
		if err != nil || d.Runs != c.runs || d.Kill != c.kill || d.Resume != c.resume || d.Reason == "" {
			t.Errorf("%s/%s: %+v %v", c.src, c.dst, d, err)
		}
	}
}

func TestCleanupSteps(t *testing.T) {
	a := goldenMigrate(t)
	d, steps, err := CleanupSteps(a, "postmigrate", "paused")
	if err != nil || d.Runs != Target || len(steps) != 2 {
		t.Fatalf("%+v %v %v", d, steps, err)
	}
	if steps[0].Node != "node1" || !slices.Equal(steps[0].Argv[3:], []string{"ganetictl-kvm-kill", "kvm1", "inmigrate postmigrate"}) {
		t.Errorf("kill %q on %s", steps[0].Argv[3:], steps[0].Node)
	}
	if steps[1].Node != "node2" || steps[1].Argv[2] != kvmFinalizeTargetScript || steps[1].Argv[5] != "1" {
		t.Errorf("resume %q", steps[1].Argv[3:])
	}
	_, steps, _ = CleanupSteps(a, "running", "inmigrate")
	if len(steps) != 1 || steps[0].Node != "node2" {
		t.Errorf("undo: %+v", steps)
	}
	if _, _, err := CleanupSteps(a, "running", "running"); err == nil || !strings.Contains(err.Error(), "kvm1") {
		t.Errorf("split brain: %v", err)
	}
	for _, hv := range []string{KVM, XenPVM} {
		st, err := MigrationStatusStep(hv, "node1", "kvm1")
		if err != nil || st.Action != plan.Read {
			t.Errorf("%s status step %+v %v", hv, st, err)
		}
	}
	if s, err := ParseMigrationStatus([]byte("inmigrate\n")); err != nil || s != "inmigrate" {
		t.Errorf("parse %q %v", s, err)
	}
	if _, err := ParseMigrationStatus([]byte("a b")); err == nil {
		t.Error("parse garbage")
	}
}
