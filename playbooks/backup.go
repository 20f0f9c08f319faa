package playbooks

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// ExportDir is Ganeti's default export directory on nodes.
const ExportDir = "/srv/ganeti/export"

// ExportArgs are `backup export`'s inputs.
type ExportArgs struct {
	Name            string
	Target          string // -n: the node that receives the export
	NoShutdown      bool
	RemoveInstance  bool // remove the instance once its export is final
	ShutdownTimeout time.Duration
	Timestamp       int64 // config.ini's export timestamp (planners have no clock)
	Copy            CopyOptions
}

// exportableTemplates are those whose disks the helper can read on the
// primary: by path, from a drbd disk's data volume, or from an rbd image
// mapped for the copy.
var exportableTemplates = []string{storage.Plain, storage.File, storage.SharedFile, "diskless", storage.DRBD, storage.RBD}

// exportSource is where the primary's helper reads disk i: a drbd disk's
// data volume (external metadata: it holds exactly the guest's bytes, and
// no one writes while the instance is down), an rbd image's activation
// link, else the disk's own path.
func exportSource(inst *statefile.Instance, i int, d *statefile.Disk) string {
	switch {
	case d.DevType == storage.DRBD && len(d.Children) > 0:
		return storage.DevicePath(d.Children[0])
	case d.DevType == storage.RBD:
		return hv.DiskLink(inst.Name, i)
	}
	return storage.DevicePath(d)
}

// importTarget is where the new primary's helper writes disk i: the
// activation link of a drbd disk (the Primary device, so the peer gets the
// data too) or of an rbd image, else the disk's own path.
func importTarget(inst *statefile.Instance, i int, d *statefile.Disk) string {
	if d.DevType == storage.DRBD || d.DevType == storage.RBD {
		return hv.DiskLink(inst.Name, i)
	}
	return storage.DevicePath(d)
}

// prepExportScript: $1 the export directory. Starts a fresh "$1.new".
const prepExportScript = `rm -rf -- "$1.new" && mkdir -p -m 0750 -- "$1.new"`

// finalizeExportScript: $1 the export directory. Replaces an older export
// of the instance with the new one (Ganeti's finalize_export).
const finalizeExportScript = `rm -rf -- "$1" && mv -T -- "$1.new" "$1"`

// Export and import: every fact of the nodes involved; an export looks at
// every online node, since older exports of the instance are removed.
var (
	ExportOp = define(&Opcode[ExportArgs]{
		ID: OpBackupExport, Command: "backup export",
		Subject: func(a ExportArgs) string { return a.Name },
		Needs:   func(st *statefile.State, a ExportArgs) Needs { return Needs{Nodes: allOnline(st)} },
		Plan:    Export,
	})
	ImportOp = define(&Opcode[ImportArgs]{
		ID: OpInstanceCreate, Command: "backup import",
		Subject: func(a ImportArgs) string { return a.Add.Name },
		Needs: func(st *statefile.State, a ImportArgs) Needs {
			return Needs{Nodes: onlineOf(st, a.Add.Primary, a.SrcNode, a.Add.Secondary)}
		},
		Plan: Import,
	})
)

// Export plans OpBackupExport in local mode (reference §9.4): shut the
// instance down if it runs, copy each disk from the primary through the
// helper into <ExportDir>/<inst>.new/<disk uuid> on the target (a sparse
// raw image), write config.ini, rename the directory to <inst>, and
// restart the instance if it ran. The state does not change.
func Export(env Env, a ExportArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, a.Name)
	if err != nil {
		return nil, err
	}
	if !containsStr(exportableTemplates, inst.DiskTemplate) {
		return nil, prereq(ErrWrongInput, "Export of disk template %s is not supported by this build (plain, drbd, file, sharedfile, rbd, diskless)", inst.DiskTemplate)
	}
	if err := storage.ValidateInstanceName(inst.Name); err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	tn, err := node(st, a.Target)
	if err != nil {
		return nil, err
	}
	for _, n := range []string{inst.PrimaryNode, tn.Name} {
		if f := env.Facts[n]; f == nil || !f.Reachable {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(f))
		}
	}
	running := len(runningOn(env, a.Name)) > 0
	if a.RemoveInstance && a.NoShutdown {
		return nil, prereq(ErrWrongInput, "Cannot remove instance %s without shutting it down first: --remove-instance and --noshutdown exclude each other", a.Name)
	}
	if running && a.NoShutdown {
		// A consistent copy of a running instance needs a snapshot.
		why := "file disks have no snapshots"
		if inst.DiskTemplate == storage.Plain {
			why = "plain disks would need LVM snapshots (lvcreate -s), which this build does not make (and the test bed's LVM, without device-mapper, cannot)"
		}
		return nil, prereq(ErrWrongState, "Cannot export running instance %s consistently with --noshutdown: %s; export without --noshutdown (the instance is shut down for the copy and restarted after)", a.Name, why)
	}
	dir := path.Join(ExportDir, inst.Name)
	p := plan.New(plan.InstanceOp(OpBackupExport, a.Name), st.Lineage, st.Serial)
	if running {
		stop, err := hv.StopInstance(inst, st.Cluster.HVParams[inst.Hypervisor], a.ShutdownTimeout, false)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("shut down the instance on "+inst.PrimaryNode, plan.Abort, stop)
	}
	p.Add("prepare "+dir+".new on "+tn.Name, plan.Abort, plan.Step{Node: tn.Name, Action: plan.Create, Desc: "create " + dir + ".new",
		Argv: []string{"sh", "-c", prepExportScript, "ganetictl-export-prep", dir},
		Undo: &plan.Step{Node: tn.Name, Action: plan.Remove, Desc: "remove " + dir + ".new", Argv: []string{"rm", "-rf", "--", dir + ".new"}}})
	// rbd images are read through their mapping: map them for the copy
	// unless they are active already.
	mapped := inst.DiskTemplate == storage.RBD && !inst.DisksActive && !running
	if mapped {
		if err := activate(env, p, "map the disks on "+inst.PrimaryNode, inst, false); err != nil {
			return nil, err
		}
	}
	var copies []plan.Step
	for i, d := range inst.Disks {
		src := exportSource(inst, i, d)
		if src == "" {
			return nil, prereq(ErrWrongState, "disk %d of %s has no device path", i, a.Name)
		}
		cp, err := copySteps(env, p, a.Copy, copySpec{srcNode: inst.PrimaryNode, src: src, dstNode: tn.Name, dst: path.Join(dir+".new", d.UUID),
			what: fmt.Sprintf("disk %d (%d MiB)", i, d.Size), secretName: fmt.Sprintf("export-disk%d", i)})
		if err != nil {
			return nil, err
		}
		copies = append(copies, cp...)
	}
	if len(copies) > 0 {
		p.Add("copy disks "+inst.PrimaryNode+" → "+tn.Name, plan.Abort, copies...)
	}
	if mapped {
		if err := deactivate(env, p, "unmap the disks on "+inst.PrimaryNode, plan.Continue, inst); err != nil {
			return nil, err
		}
	}
	ini := ExportConfig(st, inst, a.Timestamp)
	p.Add("write config.ini", plan.Abort, plan.Step{Node: tn.Name, Action: plan.Upload, Desc: "write " + dir + ".new/config.ini",
		Path: dir + ".new/config.ini", Mode: 0o640, Content: []byte(ini)})
	p.Add("finalize the export", plan.Abort, plan.Step{Node: tn.Name, Action: plan.Modify, Desc: "replace " + dir + " with " + dir + ".new",
		Argv: []string{"sh", "-c", finalizeExportScript, "ganetictl-export-finalize", dir}})
	// Ganeti keeps one export per instance: older ones on other nodes go
	// (nodes that did not answer keep theirs; `backup list` shows them).
	var older []plan.Step
	for _, n := range st.NodeNames() {
		if f := env.Facts[n]; n == tn.Name || st.Nodes[n].Offline || f == nil || !f.Reachable {
			continue
		}
		older = append(older, plan.Step{Node: n, Action: plan.Remove, Desc: "remove an older export " + dir,
			Argv: []string{"rm", "-rf", "--", dir, dir + ".new"}})
	}
	if len(older) > 0 {
		p.Add("remove older exports of "+inst.Name+" from other nodes", plan.Continue, older...)
	}
	if a.RemoveInstance {
		// Ganeti's --remove-instance: the instance stays down and goes.
		rm, err := InstanceRemove(env, a.Name, a.ShutdownTimeout, false)
		if err != nil {
			return nil, err
		}
		p.AddStages(rm.Stages...)
		p.Changes = rm.Changes // rm.Stages hold its state copy
		return p, nil
	}
	if running {
		steps, err := startSteps(env, inst, env.Facts[inst.PrimaryNode])
		if err != nil {
			return nil, err
		}
		p.Add("restart the instance on "+inst.PrimaryNode, plan.Continue, steps...)
	}
	return p, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// iniValue renders a value as Python's str() does in Ganeti's config.ini.
func iniValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		if x == "" {
			return "None"
		}
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if n, ok := statefile.Int(x); ok {
			return strconv.FormatInt(n, 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func iniSection(b *strings.Builder, name string, kv [][2]string) {
	fmt.Fprintf(b, "[%s]\n", name)
	for _, e := range kv {
		fmt.Fprintf(b, "%s = %s\n", e[0], e[1])
	}
	b.WriteString("\n")
}

func paramsKV(p statefile.Params) [][2]string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out [][2]string
	for _, k := range keys {
		out = append(out, [2]string{k, iniValue(p[k])})
	}
	return out
}

// ExportConfig is the export's config.ini in Ganeti's layout (reference §9.4).
func ExportConfig(st *statefile.State, inst *statefile.Instance, timestamp int64) string {
	be := EffectiveBE(&st.Cluster, inst.BEParams)
	source := inst.PrimaryNode
	if n := st.Nodes[inst.PrimaryNode]; n != nil && n.UUID != "" {
		source = n.UUID
	}
	var b strings.Builder
	iniSection(&b, "export", [][2]string{{"version", "0"}, {"timestamp", strconv.FormatInt(timestamp, 10)},
		{"source", source}, {"os", iniValue(inst.OS)}, {"compression", "none"}})
	tags := append([]string(nil), inst.Tags...)
	sort.Strings(tags)
	ins := [][2]string{{"name", inst.Name}, {"maxmem", iniValue(be["maxmem"])}, {"minmem", iniValue(be["minmem"])},
		{"memory", iniValue(be["maxmem"])}, {"vcpus", iniValue(be["vcpus"])}, {"disk_template", inst.DiskTemplate},
		{"hypervisor", inst.Hypervisor}, {"tags", strings.Join(tags, " ")}, {"nic_count", strconv.Itoa(len(inst.NICs))}}
	for i, n := range inst.NICs {
		k := "nic" + strconv.Itoa(i) + "_"
		ins = append(ins, [][2]string{{k + "mac", iniValue(n.MAC)}, {k + "ip", iniValue(n.IP)}, {k + "network", iniValue(n.Network)},
			{k + "name", iniValue(n.Name)}, {k + "mode", iniValue(n.NICParams["mode"])}, {k + "link", iniValue(n.NICParams["link"])},
			{k + "vlan", iniValue(n.NICParams["vlan"])}}...)
	}
	ins = append(ins, [2]string{"disk_count", strconv.Itoa(len(inst.Disks))})
	for i, d := range inst.Disks {
		k := "disk" + strconv.Itoa(i) + "_"
		ins = append(ins, [][2]string{{k + "ivname", "disk/" + strconv.Itoa(i)}, {k + "dump", d.UUID},
			{k + "size", strconv.FormatInt(d.Size, 10)}, {k + "name", iniValue(d.Name)}}...)
	}
	iniSection(&b, "instance", ins)
	hvp := statefile.Params{}
	for k, v := range inst.HVParams {
		if k != "migration_bandwidth" && k != "migration_mode" && k != "migration_port" {
			hvp[k] = v
		}
	}
	iniSection(&b, "hypervisor", paramsKV(hvp))
	iniSection(&b, "backend", paramsKV(inst.BEParams))
	iniSection(&b, "os", paramsKV(inst.OSParams))
	iniSection(&b, "os_private", nil)
	return b.String()
}

// ExportInfo is what import needs from a config.ini.
type ExportInfo struct {
	Name, OS, Template, Hypervisor string
	MaxMem, MinMem, VCPUs          int64
	Disks                          []ExportDisk
	NICMACs                        []string
}

// ExportDisk is one disk of an export: its image file name and size.
type ExportDisk struct {
	Dump string
	Size int64 // MiB
	Name string
}

// ParseExportConfig reads a config.ini as Ganeti or Export writes it.
func ParseExportConfig(text string) (*ExportInfo, error) {
	sec := map[string]map[string]string{}
	cur := ""
	for ln, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			cur = line[1 : len(line)-1]
			sec[cur] = map[string]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			if k, v, ok = strings.Cut(line, ":"); !ok || cur == "" {
				return nil, fmt.Errorf("config.ini line %d: not a key = value line", ln+1)
			}
		}
		if cur == "" {
			return nil, fmt.Errorf("config.ini line %d: key outside a section", ln+1)
		}
		sec[cur][strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	ins, ok := sec["instance"]
	if !ok || sec["export"] == nil {
		return nil, fmt.Errorf("config.ini: no [export] or [instance] section")
	}
	num := func(k string) int64 { n, _ := strconv.ParseInt(ins[k], 10, 64); return n }
	none := func(s string) string {
		if s == "None" {
			return ""
		}
		return s
	}
	e := &ExportInfo{Name: ins["name"], OS: none(sec["export"]["os"]), Template: ins["disk_template"], Hypervisor: ins["hypervisor"],
		MaxMem: num("maxmem"), MinMem: num("minmem"), VCPUs: num("vcpus")}
	if e.MaxMem == 0 {
		e.MaxMem = num("memory")
	}
	for i := range num("disk_count") {
		k := "disk" + strconv.FormatInt(i, 10) + "_"
		d := ExportDisk{Dump: ins[k+"dump"], Name: none(ins[k+"name"])}
		d.Size, _ = strconv.ParseInt(ins[k+"size"], 10, 64)
		if d.Dump == "" || strings.Contains(d.Dump, "/") || d.Size <= 0 {
			return nil, fmt.Errorf("config.ini: disk %d: bad dump %q or size %q", i, ins[k+"dump"], ins[k+"size"])
		}
		e.Disks = append(e.Disks, d)
	}
	for i := range num("nic_count") {
		e.NICMACs = append(e.NICMACs, none(ins["nic"+strconv.FormatInt(i, 10)+"_mac"]))
	}
	return e, nil
}

// ImportArgs are `backup import`'s inputs: an instance add whose disks
// are filled from an export instead of an OS install.
type ImportArgs struct {
	Add     InstanceAddArgs // NoInstall is implied
	SrcNode string
	SrcDir  string
	Export  *ExportInfo
	Copy    CopyOptions
}

// Import plans OpInstanceCreate in import mode (reference §9.4): the
// instance add plan (disks created and activated), with the copy of each
// disk image from the source node's export directory into the new disks
// right after activation, and no OS install.
func Import(env Env, a ImportArgs) (*plan.Plan, error) {
	if a.Export == nil {
		return nil, prereq(ErrWrongInput, "no export to import")
	}
	if len(a.Export.Disks) != len(a.Add.Disks) {
		return nil, prereq(ErrWrongInput, "The export has %d disk(s), the instance would get %d", len(a.Export.Disks), len(a.Add.Disks))
	}
	sn, err := node(env.State, a.SrcNode)
	if err != nil {
		return nil, err
	}
	if f := env.Facts[sn.Name]; f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", sn.Name, factsErr(f))
	}
	a.Add.NoInstall = true
	p, err := InstanceAdd(env, a.Add)
	if err != nil {
		return nil, err
	}
	p.Operation = fmt.Sprintf("INSTANCE_CREATE(%s) import", a.Add.Name)
	var inst statefile.Instance
	for _, c := range p.Changes {
		if c.Kind == plan.KindInstance && c.Name == a.Add.Name {
			if err := json.Unmarshal(c.After, &inst); err != nil {
				return nil, err
			}
		}
	}
	if len(inst.Disks) != len(a.Export.Disks) {
		return nil, fmt.Errorf("import: the add plan has %d disks", len(inst.Disks))
	}
	var copies []plan.Step
	for i, d := range inst.Disks {
		if a.Export.Disks[i].Size > d.Size {
			return nil, prereq(ErrWrongInput, "Disk %d of the export is %d MiB, larger than the new disk (%d MiB)", i, a.Export.Disks[i].Size, d.Size)
		}
		dst := importTarget(&inst, i, d)
		if dst == "" {
			return nil, prereq(ErrWrongInput, "Import into disk template %s is not supported by this build", inst.DiskTemplate)
		}
		cp, err := copySteps(env, p, a.Copy, copySpec{srcNode: sn.Name, src: path.Join(a.SrcDir, a.Export.Disks[i].Dump), dstNode: inst.PrimaryNode, dst: dst,
			what: fmt.Sprintf("disk %d image %s", i, a.Export.Disks[i].Dump), secretName: fmt.Sprintf("import-disk%d", i)})
		if err != nil {
			return nil, err
		}
		copies = append(copies, cp...)
	}
	// Right after the last "activate disks" stage.
	at := -1
	for i, s := range p.Stages {
		if strings.HasPrefix(s.Name, "activate disks") {
			at = i + 1
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("import: no disk activation in the add plan")
	}
	if len(copies) > 0 {
		stage := plan.Stage{Name: "copy disk images " + sn.Name + " → " + inst.PrimaryNode, OnError: plan.Abort, Steps: copies}
		p.Stages = append(p.Stages[:at], append([]plan.Stage{stage}, p.Stages[at:]...)...)
	}
	return p, nil
}
