package playbooks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// beDefaults are Ganeti's backend parameter defaults.
var beDefaults = statefile.Params{"maxmem": int64(128), "minmem": int64(128), "vcpus": int64(1), "auto_balance": true,
	"always_failover": false, "spindle_use": int64(1)}

// BEParamNames are the backend parameters -B accepts ("memory" sets both sizes).
var BEParamNames = []string{"always_failover", "auto_balance", "maxmem", "memory", "minmem", "spindle_use", "vcpus"}

// EffectiveBE is an instance's backend parameters: defaults, cluster, own.
func EffectiveBE(cl *statefile.Cluster, own statefile.Params) statefile.Params {
	out := statefile.Params{}
	for _, src := range []statefile.Params{beDefaults, cl.BEParams, own} {
		for k, v := range src {
			out[k] = v
		}
	}
	if m, ok := out["memory"]; ok && own["maxmem"] == nil && own["minmem"] == nil {
		out["maxmem"], out["minmem"] = m, m
	}
	delete(out, "memory")
	return out
}

// MaxMem is the instance's effective maximum memory in MiB.
func MaxMem(cl *statefile.Cluster, inst *statefile.Instance) int64 {
	return intParam(EffectiveBE(cl, inst.BEParams), "maxmem")
}

// intParam reads an integer parameter whatever JSON made of it, 0 if none.
func intParam(p statefile.Params, k string) int64 {
	if n, ok := statefile.Int(p[k]); ok {
		return n
	}
	if s, ok := p[k].(string); ok {
		// Sscan reads a leading number: "512M" gives 512, but "1G" gives 1.
		var n int64
		fmt.Sscan(s, &n)
		return n
	}
	return 0
}

func boolParam(p statefile.Params, k string) bool {
	switch v := p[k].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "True" || v == "yes"
	}
	return false
}

// checkBE validates -B values.
func checkBE(be statefile.Params) error {
	for k, v := range be {
		if !slices.Contains(BEParamNames, k) {
			return prereq(ErrWrongInput, "Unknown backend parameter '%s' (valid: %s)", k, strings.Join(BEParamNames, ", "))
		}
		switch k {
		case "auto_balance", "always_failover":
			if _, ok := v.(bool); !ok {
				return prereq(ErrWrongInput, "Backend parameter %s must be True or False, not %v", k, v)
			}
		default:
			if intParam(be, k) <= 0 {
				return prereq(ErrWrongInput, "Backend parameter %s must be a positive number, not %v", k, v)
			}
		}
	}
	eff := statefile.Params{}
	for k, v := range be {
		eff[k] = v
	}
	if intParam(eff, "minmem") > 0 && intParam(eff, "maxmem") > 0 && intParam(eff, "minmem") > intParam(eff, "maxmem") {
		return prereq(ErrWrongInput, "Minimum memory (%d) cannot be larger than maximum memory (%d)", intParam(eff, "minmem"), intParam(eff, "maxmem"))
	}
	return nil
}

// NICSpec is one --net N:... of instance add or modify.
type NICSpec struct {
	MAC     string // "" or "generate" for a new one, "auto" keeps
	IP      string // an address, "pool" (from Network's pool) or "none"
	Mode    string
	Link    string
	VLAN    string
	Network string // a network's name, or "none" (modify: leave it)
	Name    string
}

// InstanceAddArgs are `instance add`'s inputs.
type InstanceAddArgs struct {
	Name       string
	Template   string
	Primary    string
	Secondary  string // drbd only
	OS         string // name[+variant]
	Disks      []storage.Spec
	Hypervisor string
	BEParams   statefile.Params
	HVParams   statefile.Params
	OSParams   statefile.Params
	NICs       []NICSpec
	NoStart    bool
	Tags       []string // the new instance's tags (--tags)
	// IgnoreIPolicy places the instance even where it breaks the instance
	// policy (--ignore-ipolicy); NoWaitForSync does not wait for a new
	// mirror to sync (--no-wait-for-sync).
	IgnoreIPolicy, NoWaitForSync bool
	NoInstall                    bool
	// NoConflictsCheck: an address outside any network is not checked
	// against the networks of the primary's group, and an externally
	// reserved address of a network may be taken (--no-conflicts-check).
	NoConflictsCheck bool
	// Group restricts the allocator (no Primary: it chooses) to a group.
	Group string
}

// InstanceAddOp is gnt-instance add: the facts of its nodes, with the OS
// definitions, the volume group for LVM templates, and the volumes when a
// disk adopts one.
var InstanceAddOp = define(&Opcode[InstanceAddArgs]{
	ID: OpInstanceCreate, Command: "instance add",
	Subject: func(a InstanceAddArgs) string { return a.Name },
	Needs: func(st *statefile.State, a InstanceAddArgs) Needs {
		parts := []string{PartOS}
		if t := defaultTemplate(st, a.Template); t == storage.Plain || t == storage.DRBD {
			parts = append(parts, PartVGs)
		}
		if slices.ContainsFunc(a.Disks, func(d storage.Spec) bool { return d.Adopt != "" }) {
			parts = append(parts, PartVolumes)
		}
		if a.Primary == "" { // the allocator chooses (instance_alloc.go)
			return AllocNeeds(st, a.Group, parts...)
		}
		return Needs{Nodes: onlineOf(st, a.Primary, a.Secondary), Parts: parts}
	},
	Plan: InstanceAdd,
})

// InstanceAdd plans creating an instance: disks (each undone if a later
// step fails), OS installation, and start. Every check that can be made
// before touching a node is made first.
func InstanceAdd(env Env, a InstanceAddArgs) (*plan.Plan, error) {
	st := env.State
	cl := &st.Cluster
	if _, ok := st.Instances[a.Name]; ok {
		return nil, prereq(ErrExists, "Instance '%s' is already in the cluster", a.Name)
	}
	a.Template = defaultTemplate(st, a.Template)
	if !slices.Contains(cl.EnabledDiskTemplates, a.Template) {
		return nil, prereq(ErrWrongInput, "Disk template '%s' is not enabled in cluster. Enabled disk templates are: %s", a.Template, strings.Join(cl.EnabledDiskTemplates, ","))
	}
	var chose string // the allocator's choice, when it chose
	if a.Primary == "" {
		var err error
		if a, chose, err = allocateAdd(env, a); err != nil {
			return nil, err
		}
	}
	if a.Template == "drbd" && a.Secondary == "" {
		return nil, prereq(ErrWrongInput, "The drbd template needs a secondary node: -n PRIMARY:SECONDARY")
	}
	if a.Template != "drbd" && a.Secondary != "" {
		return nil, prereq(ErrWrongInput, "Only the drbd template takes a secondary node")
	}
	if a.Hypervisor == "" && len(cl.EnabledHypervisors) > 0 {
		a.Hypervisor = cl.EnabledHypervisors[0]
	}
	if !slices.Contains(cl.EnabledHypervisors, a.Hypervisor) {
		return nil, prereq(ErrWrongInput, "Hypervisor '%s' is not enabled in the cluster (enabled: %s)", a.Hypervisor, strings.Join(cl.EnabledHypervisors, ", "))
	}
	switch {
	case a.Template == "diskless" && len(a.Disks) > 0:
		return nil, prereq(ErrWrongInput, "Diskless instances take no disks")
	case a.Template != "diskless" && len(a.Disks) == 0:
		return nil, prereq(ErrWrongInput, "No disks given: use -s SIZE or --disk 0:size=SIZE")
	}
	pnode, err := node(st, a.Primary)
	if err != nil {
		return nil, err
	}
	a.Primary = pnode.Name
	if err := usableNode(pnode); err != nil {
		return nil, err
	}
	if a.Secondary != "" {
		snode, err := node(st, a.Secondary)
		if err != nil {
			return nil, err
		}
		if snode.Name == a.Primary {
			return nil, prereq(ErrWrongInput, "The secondary node cannot be the primary node")
		}
		if err := usableNode(snode); err != nil {
			return nil, err
		}
		if err := sameGroup(st, a.Primary, snode.Name, a.Name); err != nil {
			return nil, err
		}
		a.Secondary = snode.Name
	}
	if err := checkBE(a.BEParams); err != nil {
		return nil, err
	}
	be := EffectiveBE(cl, a.BEParams)
	hvp, err := hv.Params(a.Hypervisor, cl.HVParams[a.Hypervisor], a.HVParams)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	f := env.Facts[a.Primary]
	if f == nil || !f.Reachable {
		return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", a.Primary, factsErr(f))
	}
	def, variant, err := checkOS(a.Primary, f, a.OS)
	if err != nil {
		return nil, err
	}
	if osName, _, _ := strings.Cut(a.OS, "+"); slices.Contains(st.Cluster.BlacklistedOS, osName) {
		return nil, prereq(ErrWrongInput, "Guest OS '%s' is not allowed for installation (blacklisted: `os modify --blacklisted=no %s` allows it)", osName, osName)
	}
	for i, sp := range a.Disks {
		if sp.Adopt == "" {
			continue
		}
		if a.Template != "plain" {
			return nil, prereq(ErrWrongInput, "Disk adoption is only possible with the plain template")
		}
		vg := pick(sp.VG, cl.VolumeGroup)
		lv := findLV(f, vg, sp.Adopt)
		if lv == nil {
			return nil, prereq(ErrWrongInput, "Disk %d: logical volume %s/%s to adopt not found on node %s", i, vg, sp.Adopt, a.Primary)
		}
		if owned := lvOwner(st, vg, sp.Adopt); owned != "" {
			return nil, prereq(ErrWrongInput, "Disk %d: logical volume %s/%s already belongs to instance %s", i, vg, sp.Adopt, owned)
		}
		a.Disks[i].Size = int64(lv.SizeMiB)
	}
	var disks []*statefile.Disk
	if a.Template == "drbd" {
		disks, err = newDRBDDisks(env, a)
	} else {
		disks, err = storage.New(a.Template, cl, a.Name, a.Primary, 0, a.Disks, env.NewID)
	}
	if err != nil {
		return nil, err
	}
	var fresh []*statefile.Disk
	for i, d := range disks {
		if a.Disks[i].Adopt == "" {
			fresh = append(fresh, d)
		}
	}
	if err := checkSpace(a.Primary, f, a.Template, fresh, nil); err != nil {
		return nil, err
	}
	if a.Template == "drbd" {
		sf := env.Facts[a.Secondary]
		if sf == nil || !sf.Reachable {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", a.Secondary, factsErr(sf))
		}
		if err := checkSpace(a.Secondary, sf, a.Template, fresh, nil); err != nil {
			return nil, err
		}
	}
	if !a.NoStart {
		if err := checkMemory(a.Primary, f, be); err != nil {
			return nil, err
		}
	}
	np := newNICPlanner(env, a.Name, a.Primary, nil, !a.NoConflictsCheck)
	var nics []*statefile.NIC
	for i, spec := range a.NICs {
		nic, err := np.add(i, spec)
		if err != nil {
			return nil, err
		}
		nics = append(nics, nic)
	}
	inst := &statefile.Instance{
		Meta: statefile.Meta{UUID: env.NewID()}, Name: a.Name, PrimaryNode: a.Primary, OS: joinOS(def.Name, variant),
		Hypervisor: a.Hypervisor, HVParams: a.HVParams, BEParams: a.BEParams, OSParams: a.OSParams,
		AdminState: "up", DiskTemplate: a.Template, Disks: disks, NICs: nics, DisksActive: !a.NoStart, Tags: sortedTags(a.Tags),
	}
	if a.NoStart {
		inst.AdminState = "down"
	}
	_ = hvp
	p := plan.New(plan.InstanceOp(OpInstanceCreate, a.Name), st.Lineage, st.Serial)
	if chose != "" {
		p.Notes = append(p.Notes, chose)
	}
	var create [][]plan.Step
	for i, d := range disks {
		for _, n := range d.Nodes {
			var steps []plan.Step
			if a.Disks[i].Adopt != "" {
				steps, err = storage.Adopt(d, n, a.Name, a.Disks[i].Adopt)
			} else {
				steps, err = storage.Create(d, n, a.Name)
			}
			if err != nil {
				return nil, prereq(ErrWrongInput, "disk %d: %v", i, err)
			}
			create = append(create, steps)
		}
	}
	p.AddStages(storage.Stages("create disks", plan.Abort, create...)...)
	if err := activate(env, p, "activate disks", inst, true); err != nil {
		return nil, err
	}
	if isDRBD(inst) && !a.NoWaitForSync {
		seqs, err := drbdWaitSync(env, inst)
		if err != nil {
			return nil, err
		}
		p.AddStages(storage.Stages("wait for the disks to sync", plan.Abort, seqs...)...)
	}
	// As in Ganeti, a diskless instance has nothing to install onto, and
	// adopted disks keep their data: the OS is not installed on them.
	adopting := slices.ContainsFunc(a.Disks, func(d storage.Spec) bool { return d.Adopt != "" })
	if !a.NoInstall && a.Template != "diskless" && !adopting {
		p.Add("install the OS", plan.Abort, osStep(st, a.Primary, inst, def, variant, "create", links(inst), nil))
	}
	if a.NoStart {
		if err := stage(p, "deactivate disks", plan.Continue, shutdownDisks, inst); err != nil {
			return nil, err
		}
	} else {
		steps, err := startSteps(env, inst, f)
		if err != nil {
			return nil, err
		}
		p.Add("start the instance", plan.Abort, steps...)
	}
	if err := checkIPolicy(st, inst, a.IgnoreIPolicy); err != nil {
		return nil, err
	}
	if err := p.Set(plan.KindInstance, a.Name, nil, inst); err != nil {
		return nil, err
	}
	if err := np.record(p); err != nil {
		return nil, err
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

func joinOS(name, variant string) string {
	if variant == "" {
		return name
	}
	return name + "+" + variant
}

func factsErr(f *NodeFacts) string {
	if f == nil {
		return "not asked"
	}
	return f.Err
}

// usableNode refuses offline, drained and non-vm-capable nodes as targets.
func usableNode(n *statefile.Node) error {
	switch {
	case n.Offline:
		return prereq(ErrWrongState, "Can't use offline node %s", n.Name)
	case n.Drained:
		return prereq(ErrWrongState, "Can't use drained node %s", n.Name)
	case !n.VMCapable:
		return prereq(ErrWrongState, "Can't use non-vm_capable node %s", n.Name)
	}
	return nil
}

// checkSpace refuses disks that do not fit the node's free space.
func checkSpace(nodeName string, f *NodeFacts, template string, disks []*statefile.Disk, grow map[int]int64) error {
	var need int64
	for i, d := range disks {
		if grow != nil {
			need += grow[i]
		} else {
			need += d.Size
		}
	}
	switch template {
	case "plain", "drbd":
		if template == "drbd" {
			need += int64(len(disks)) * 128 // the meta LVs
		}
		if f.VG == nil {
			return prereq(ErrEnvironment, "Node %s has no volume group: %s", nodeName, f.VGError)
		}
		if float64(need) > f.VG.Free {
			return prereq(ErrWrongState, "Not enough disk space on target node %s vg %s: required %d MiB, available %.0f MiB", nodeName, f.VG.Name, need, f.VG.Free)
		}
	case "file":
		if f.DiskTotal > 0 && need > f.DiskFree {
			return prereq(ErrWrongState, "Not enough disk space on target node %s file storage: required %d MiB, available %d MiB", nodeName, need, f.DiskFree)
		}
	}
	return nil
}

// checkMemory refuses to start an instance below its minimum memory.
func checkMemory(nodeName string, f *NodeFacts, be statefile.Params) error {
	if minmem := intParam(be, "minmem"); f.MemFree < minmem {
		return prereq(ErrWrongState, "Not enough memory to start instance on node %s: needed %d MiB, available %d MiB", nodeName, minmem, f.MemFree)
	}
	return nil
}

// startMemory is Ganeti's rule: max(minmem, min(maxmem, node free)).
func startMemory(f *NodeFacts, be statefile.Params) int64 {
	return max(intParam(be, "minmem"), min(intParam(be, "maxmem"), f.MemFree))
}

func validIfName(s string) bool {
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// generateMAC draws a MAC with the cluster prefix that nobody uses.
func generateMAC(env Env, prefix string, used map[string]string) (string, error) {
	if env.Random == nil {
		return "", fmt.Errorf("planner has no random source for MAC generation")
	}
	for range 64 {
		b := env.Random(3)
		mac := fmt.Sprintf("%s:%02x:%02x:%02x", strings.ToLower(prefix), b[0], b[1], b[2])
		if _, dup := used[mac]; !dup {
			return mac, nil
		}
	}
	return "", prereq(ErrEnvironment, "Cannot generate a unique MAC address with prefix %s", prefix)
}

// activate adds the stages that activate inst's disks on its primary
// (links included). For drbd both nodes bring the minors up and the primary
// opens them (force: its data wins the first sync).
func activate(env Env, p *plan.Plan, name string, inst *statefile.Instance, force bool) error {
	var seqs [][]plan.Step
	var err error
	if isDRBD(inst) {
		registerSecrets(p, inst.Disks)
		seqs, err = drbdAssembleSeqs(env, inst, force)
	} else {
		seqs, err = eachDisk(inst, storage.Assemble)
	}
	if err != nil {
		return err
	}
	p.AddStages(storage.Stages(name, plan.Abort, seqs...)...)
	return nil
}

// deactivate adds the stage that deactivates inst's disks on every node
// holding them that is up (a dead node's devices died with it).
func deactivate(env Env, p *plan.Plan, name string, onErr plan.OnError, inst *statefile.Instance) error {
	seqs, err := shutdownDisks(inst)
	if err != nil {
		return err
	}
	var live [][]plan.Step
	for _, seq := range seqs {
		if len(seq) > 0 && nodeDown(env, seq[0].Node) {
			continue
		}
		live = append(live, seq)
	}
	p.AddStages(storage.Stages(name, onErr, live...)...)
	return nil
}

// shutdownDisks deactivates every disk (links removed; drbd down on both nodes).
func shutdownDisks(inst *statefile.Instance) ([][]plan.Step, error) {
	if isDRBD(inst) {
		return perNode(inst, func(d *statefile.Disk, n string, idx int) ([]plan.Step, error) {
			return storage.Shutdown(d, n, inst.Name, idx)
		})
	}
	return eachDisk(inst, storage.Shutdown)
}

// removeDisks removes every disk of inst from every node holding it.
func removeDisks(inst *statefile.Instance) ([][]plan.Step, error) {
	return perNode(inst, func(d *statefile.Disk, n string, _ int) ([]plan.Step, error) { return storage.Remove(d, n) })
}

// eachDisk makes one step sequence per disk.
func eachDisk(inst *statefile.Instance, op func(*statefile.Disk, string, string, int) ([]plan.Step, error)) ([][]plan.Step, error) {
	var out [][]plan.Step
	for i, d := range inst.Disks {
		steps, err := op(d, inst.PrimaryNode, inst.Name, i)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		out = append(out, steps)
	}
	return out, nil
}

// stage adds the stages of the per-disk sequences mk makes for inst: disks
// side by side, each disk's steps in order (storage.Stages).
func stage(p *plan.Plan, name string, onErr plan.OnError, mk func(*statefile.Instance) ([][]plan.Step, error), inst *statefile.Instance) error {
	seqs, err := mk(inst)
	if err != nil {
		return err
	}
	p.AddStages(storage.Stages(name, onErr, seqs...)...)
	return nil
}

// startArgs are the hypervisor inputs for starting inst on its primary,
// with Ganeti's memory rule.
func startArgs(env Env, inst *statefile.Instance, f *NodeFacts) (hv.StartArgs, error) {
	cl := &env.State.Cluster
	be := EffectiveBE(cl, inst.BEParams)
	if err := checkMemory(inst.PrimaryNode, f, be); err != nil {
		return hv.StartArgs{}, err
	}
	hvp, err := hv.Params(inst.Hypervisor, cl.HVParams[inst.Hypervisor], inst.HVParams)
	if err != nil {
		return hv.StartArgs{}, prereq(ErrWrongInput, "%v", err)
	}
	return hv.StartArgs{Instance: inst, Node: inst.PrimaryNode, HVParams: hvp, Links: links(inst),
		MaxMem: intParam(be, "maxmem"), VCPUs: int(intParam(be, "vcpus")),
		StartMem: startMemory(f, be), NICLinks: nicLinks(inst)}, nil
}

// startSteps start the instance on its primary.
func startSteps(env Env, inst *statefile.Instance, f *NodeFacts) ([]plan.Step, error) {
	sa, err := startArgs(env, inst, f)
	if err != nil {
		return nil, err
	}
	steps, err := hv.Start(sa)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	return steps, nil
}

// DefaultShutdownTimeout is Ganeti's.
const DefaultShutdownTimeout = 120 * time.Second

func findLV(f *NodeFacts, vg, name string) *storage.LV {
	if f.Volumes == nil {
		return nil
	}
	for i, lv := range f.Volumes.LVs {
		if lv.VG == vg && lv.Name == name {
			return &f.Volumes.LVs[i]
		}
	}
	return nil
}

// lvOwner names the instance whose disk is vg/lv, if any.
func lvOwner(st *statefile.State, vg, lv string) string {
	for _, inst := range st.Instances {
		for _, d := range inst.Disks {
			if storage.VolumeName(d) == vg+"/"+lv {
				return inst.Name
			}
		}
	}
	return ""
}

// newDRBDDisks allocates ports, minors and secrets and builds the disks.
func newDRBDDisks(env Env, a InstanceAddArgs) ([]*statefile.Disk, error) {
	ids, err := storage.AllocDRBD(env.State, a.Primary, a.Secondary, len(a.Disks))
	if err != nil {
		return nil, prereq(ErrWrongState, "%v", err)
	}
	secrets := make([]string, len(a.Disks))
	for i := range secrets {
		secrets[i] = fmt.Sprintf("%x", env.Random(20))
	}
	disks, err := storage.NewDRBD(&env.State.Cluster, a.Name, a.Primary, a.Secondary, 0, a.Disks, ids, secrets, env.NewID)
	if err != nil {
		return nil, prereq(ErrWrongInput, "%v", err)
	}
	return disks, nil
}

// sortedTags are tags as the state keeps them: sorted, once each, never nil.
func sortedTags(tags []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(tags)))
	if out == nil {
		return []string{}
	}
	return out
}

// defaultTemplate is t, or the cluster's default disk template (the first
// enabled one, as Ganeti) when t is empty.
func defaultTemplate(st *statefile.State, t string) string {
	if t == "" && len(st.Cluster.EnabledDiskTemplates) > 0 {
		return st.Cluster.EnabledDiskTemplates[0]
	}
	return t
}
