package playbooks

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/transfer"
)

func copyOpts() CopyOptions { return CopyOptions{Compress: "zstd"} }

// testHelper is the copy helper goodFacts show present on every node.
var testHelper = Helper{Path: "/var/lib/ganetictl/helper-aaaa", SHA256: strings.Repeat("a", 64)}

// withHelper gives env this ganetictl's helper (testHelper) and TLS
// identities, as the CLI does.
func withHelper(env Env) Env {
	env.Helper = func(arch string) (Helper, error) { return testHelper, nil }
	env.NewIdentity = transfer.NewIdentity
	return env
}

func TestHelperUploadedWhereMissing(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "file", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	env.Facts["node2"].Helpers = map[string]string{testHelper.Path: strings.Repeat("b", 64)} // altered
	mp, err := Move(env, MoveArgs{Name: "web1", Target: "node2", Copy: copyOpts()})
	if err != nil {
		t.Fatal(err)
	}
	first := mp.Stages[0]
	if first.Name != helperStage || len(first.Steps) != 1 {
		t.Fatalf("first stage %q with %d steps, want the helper's upload to node2 only", first.Name, len(first.Steps))
	}
	if s := first.Steps[0]; s.Node != "node2" || s.Action != plan.Upload || s.Source != plan.HelperSource("amd64") || s.Path != testHelper.Path {
		t.Errorf("upload step %+v", s)
	}
}

func TestMovePlan(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "file", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	mp, err := Move(env, MoveArgs{Name: "web1", Target: "node2", Copy: copyOpts()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var copyStage *plan.Stage
	for i, st := range mp.Stages {
		names = append(names, st.Name)
		if strings.HasPrefix(st.Name, "copy disks") {
			copyStage = &mp.Stages[i]
		}
	}
	want := "remove leftovers of an interrupted move from node2,create disks on node2,copy disks node1 → node2,activate disks on node2,start the instance on node2,deactivate disks on node1,remove disks from node1,copy the state to the master candidates"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("stages:\n%s\nwant\n%s", got, want)
	}
	// The copy stage is the last abort stage: nothing after it may undo the target disks.
	seen := false
	for _, st := range mp.Stages {
		if seen && st.OnError == plan.Abort {
			t.Errorf("stage %q after the copy aborts", st.Name)
		}
		seen = seen || strings.HasPrefix(st.Name, "copy disks")
	}
	if copyStage == nil || len(copyStage.Steps) != 2 {
		t.Fatalf("copy stage: %+v", copyStage)
	}
	recv, send := copyStage.Steps[0], copyStage.Steps[1]
	if recv.Node != "node2" || send.Node != "node1" {
		t.Errorf("recv on %s, send on %s", recv.Node, send.Node)
	}
	// Keys are secrets: never in argv (every node user sees it), only on
	// stdin as a placeholder that Resolve turns into the key.
	for _, s := range []plan.Step{recv, send} {
		joined := strings.Join(s.Argv, " ")
		if strings.Contains(joined, "PRIVATE KEY") || strings.Contains(joined, "{{secret:") || !strings.Contains(joined, "--identity -") {
			t.Errorf("the key must come on stdin, not in argv: %s", joined)
		}
		if !plan.IsSecret(s.Stdin) {
			t.Errorf("stdin should be a secret placeholder: %q", s.Stdin)
		}
		in, err := mp.Resolve([]string{s.Stdin})
		if err != nil || !strings.Contains(in[0], "PRIVATE KEY") {
			t.Errorf("resolve: %v", err)
		}
	}
	mustApply(t, mp, env.State)
	inst := env.State.Instances["web1"]
	if inst.PrimaryNode != "node2" || inst.Disks[0].Nodes[0] != "node2" {
		t.Errorf("after move: primary %s, disk nodes %v", inst.PrimaryNode, inst.Disks[0].Nodes)
	}
}

func TestMoveRefusals(t *testing.T) {
	env := instanceEnv(t)
	env.State.Cluster.EnabledDiskTemplates = append(env.State.Cluster.EnabledDiskTemplates, "sharedfile")
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "sh1", Template: "sharedfile", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}, NoStart: true})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	if _, err := Move(env, MoveArgs{Name: "sh1", Target: "node2", Copy: copyOpts()}); err == nil || !strings.Contains(err.Error(), "nothing to copy") {
		t.Errorf("sharedfile move: %v", err)
	}
	if _, err := Move(env, MoveArgs{Name: "sh1", Target: "node1", Copy: copyOpts()}); err == nil {
		t.Error("move to its own node accepted")
	}
}

func TestExportConfigRoundTrip(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "plain", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}, {Size: 32, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	inst := env.State.Instances["web1"]
	ini := ExportConfig(env.State, inst, 1700000000)
	for _, want := range []string{"[export]\nversion = 0\ntimestamp = 1700000000\n", "compression = none", "[instance]\nname = web1\n",
		"disk_count = 2", "disk1_size = 32", "disk0_ivname = disk/0", "nic0_mac = " + inst.NICs[0].MAC, "[os_private]"} {
		if !strings.Contains(ini, want) {
			t.Errorf("config.ini lacks %q:\n%s", want, ini)
		}
	}
	e, err := ParseExportConfig(ini)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "web1" || e.Template != "plain" || len(e.Disks) != 2 || e.Disks[0].Dump != inst.Disks[0].UUID || e.Disks[1].Size != 32 || e.MaxMem != 256 || e.OS != "testos+default" {
		t.Errorf("parsed: %+v", e)
	}
	if _, err := ParseExportConfig("[export]\n[instance]\ndisk_count = 1\ndisk0_dump = ../x\ndisk0_size = 1\n"); err == nil {
		t.Error("a dump name with a slash was accepted")
	}
}

func TestExportPlan(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "file", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	env.Facts["node1"].Running = map[string]hv.Running{"web1": {}}
	o := copyOpts()
	o.RateLimit = 100 << 20
	stages := func(p *plan.Plan) string {
		var names []string
		for _, st := range p.Stages {
			names = append(names, st.Name)
		}
		return strings.Join(names, ",")
	}

	ep, err := Export(env, ExportArgs{Name: "web1", Target: "node2", Timestamp: 1, Copy: o})
	if err != nil {
		t.Fatal(err)
	}
	want := "shut down the instance on node1,prepare /srv/ganeti/export/web1.new on node2,copy disks node1 → node2,write config.ini,finalize the export,remove older exports of web1 from other nodes,restart the instance on node1"
	if got := stages(ep); got != want {
		t.Errorf("stages:\n%s\nwant\n%s", got, want)
	}
	for _, st := range ep.Stages {
		switch {
		case strings.HasPrefix(st.Name, "remove older exports"):
			// Every reachable node but the target loses its older export.
			if len(st.Steps) != 1 || st.Steps[0].Node != "node1" || st.OnError != plan.Continue {
				t.Errorf("older exports: %+v", st)
			}
		case strings.HasPrefix(st.Name, "copy disks"):
			if send := strings.Join(st.Steps[1].Argv, " "); !strings.Contains(send, "--rate-limit 104857600") {
				t.Errorf("the sender does not get the rate limit: %s", send)
			}
		}
	}
	if len(ep.Changes) != 0 {
		t.Errorf("a plain export changes the state: %+v", ep.Changes)
	}

	// --remove-instance: the instance stays down and is removed after the export.
	rp, err := Export(env, ExportArgs{Name: "web1", Target: "node2", RemoveInstance: true, Timestamp: 1, Copy: o})
	if err != nil {
		t.Fatal(err)
	}
	if got := stages(rp); strings.Contains(got, "restart") || !strings.Contains(got, "finalize the export,remove older exports of web1 from other nodes,stop the instance,deactivate disks,remove disks") {
		t.Errorf("--remove-instance stages: %s", got)
	}
	mustApply(t, rp, env.State)
	if _, ok := env.State.Instances["web1"]; ok {
		t.Error("--remove-instance left the instance in the state")
	}
}

func TestExportRefusals(t *testing.T) {
	env := instanceEnv(t)
	p, err := InstanceAdd(env, InstanceAddArgs{Name: "web1", Template: "plain", Primary: "node1", OS: "testos+default",
		Disks: []storage.Spec{{Size: 64, Mode: "rw"}}, NICs: []NICSpec{{}}})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, env.State)
	env.Facts["node1"].Running = map[string]hv.Running{"web1": {}}
	_, err = Export(env, ExportArgs{Name: "web1", Target: "node2", NoShutdown: true, Copy: copyOpts()})
	if err == nil || !strings.Contains(err.Error(), "LVM snapshots") || !strings.Contains(err.Error(), "export without --noshutdown") {
		t.Errorf("--noshutdown of a running plain instance: %v", err)
	}
	_, err = Export(env, ExportArgs{Name: "web1", Target: "node2", NoShutdown: true, RemoveInstance: true, Copy: copyOpts()})
	if err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("--noshutdown --remove-instance: %v", err)
	}
}
