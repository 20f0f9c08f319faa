package alloc

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Capacity planning (hspace): how many more instances of a spec fit, by
// placing them one after another as the allocator would; tiered: start
// at the policy's largest spec and shrink the resource that runs out.

// RSpec is an instance size to try: memory, disk (MiB), vCPUs, spindles.
type RSpec struct {
	Mem int `json:"memory"`
	Dsk int `json:"disk"`
	CPU int `json:"vcpus"`
	Spn int `json:"spindles"`
}

func specOf(s Spec) RSpec {
	return RSpec{Mem: s.MemorySize, Dsk: s.DiskSize, CPU: s.CPUCount, Spn: s.SpindleUse}
}

// ParseRSpec reads hspace's --standard-alloc/--tiered-alloc:
// disk,ram,cpu[,spindles] (disk and ram in MiB, or with a unit).
func ParseRSpec(s string, parseSize func(string) (int64, error)) (RSpec, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 && len(f) != 4 {
		return RSpec{}, fmt.Errorf("invalid spec %q: want disk,ram,cpu[,spindles]", s)
	}
	dsk, err := parseSize(f[0])
	if err != nil {
		return RSpec{}, fmt.Errorf("invalid disk in %q: %v", s, err)
	}
	mem, err := parseSize(f[1])
	if err != nil {
		return RSpec{}, fmt.Errorf("invalid memory in %q: %v", s, err)
	}
	cpu, err := strconv.Atoi(f[2])
	if err != nil {
		return RSpec{}, fmt.Errorf("invalid cpu count in %q", s)
	}
	r := RSpec{Mem: int(mem), Dsk: int(dsk), CPU: cpu, Spn: 1}
	if len(f) == 4 {
		if r.Spn, err = strconv.Atoi(f[3]); err != nil {
			return RSpec{}, fmt.Errorf("invalid spindles in %q", s)
		}
	}
	return r, nil
}

// CapacityOptions are hspace's options.
type CapacityOptions struct {
	Template   Template // "": the cluster policy's first template
	SpindleUse int      // 0: the standard spec's
	Std        *RSpec   // --standard-alloc; nil: the policy's std spec
	Tiered     *RSpec   // --tiered-alloc; nil: the policy's max specs
	MaxLength  int      // -l: at most this many instances (<0: no bound)
	// NoCapacityChecks, IgnoreSoftErrors: as for allocation.
	NoCapacityChecks, IgnoreSoftErrors bool
	// IndependentGroups: a group failing N+1 does not stop the others.
	IndependentGroups bool
	// AcceptExisting: existing N+1 failures do not stop the allocation.
	AcceptExisting bool
	compatN1       bool
}

// Stats are a cluster's totals (Ganeti's CStats), in MiB and CPUs.
type Stats struct {
	Score       float64 `json:"score"`
	Instances   int     `json:"instances"`
	MemFree     int64   `json:"mem_free"`
	MemAvail    int64   `json:"mem_avail"`
	MemInst     int64   `json:"mem_inst"`
	MemOverhead int64   `json:"mem_overhead"`
	DskFree     int64   `json:"disk_free"`
	DskAvail    int64   `json:"disk_avail"`
	DskInst     int64   `json:"disk_inst"`
	SpnFree     int64   `json:"spindles_free"`
	SpnInst     int64   `json:"spindles_inst"`
	CPUInst     int64   `json:"vcpus_inst"`
	MaxMemAvail int64   `json:"node_mem_avail_max"`
	MaxDskAvail int64   `json:"node_disk_avail_max"`
	MaxCPUAvail int64   `json:"node_vcpus_avail_max"`
	MemTotal    float64 `json:"mem_total"`
	DskTotal    float64 `json:"disk_total"`
	SpnTotal    float64 `json:"spindles_total"`
	CPUTotal    float64 `json:"cpus_total"`
	VCPUTotal   int64   `json:"vcpus_total"`
	NCPU        float64 `json:"-"`
	CPUAvail    int64   `json:"vcpus_avail"`
	exclStorage bool
}

// TotalStats are the totals of the cluster's nodes.
func TotalStats(nodes []*Node) Stats {
	var s Stats
	for _, n := range nodes {
		s.MemFree += int64(n.unallocatedMem())
		s.DskFree += int64(n.FDsk)
		s.SpnFree += int64(n.FSpindles)
		am, ad, ac := int64(n.AvailMem()), int64(n.AvailDisk()), int64(n.AvailCPU())
		s.MemAvail += am
		s.DskAvail += ad
		s.CPUAvail += ac
		s.MaxMemAvail, s.MaxDskAvail, s.MaxCPUAvail = max(s.MaxMemAvail, am), max(s.MaxDskAvail, ad), max(s.MaxCPUAvail, ac)
		s.MemInst += int64(n.IMem)
		s.DskInst += int64(int(n.TDsk) - n.FDsk)
		s.SpnInst += int64(n.TSpindles - n.FSpindles)
		s.CPUInst += int64(n.UCPU)
		s.MemTotal += n.TMem
		s.DskTotal += n.TDsk
		s.SpnTotal += float64(n.TSpindles)
		s.CPUTotal += n.TCPU
		s.VCPUTotal += int64(n.HiCPU)
		s.NCPU += float64(n.UCPU) / n.Policy.VCPURatio
		s.MemOverhead += int64(n.XMem + n.NMem)
		s.Instances += len(n.Pri)
		s.exclStorage = s.exclStorage || n.ExclStorage
	}
	s.Score = Score(nodes)
	return s
}

func (s Stats) memEff() float64 { return float64(s.MemInst) / s.MemTotal }
func (s Stats) dskEff() float64 { return float64(s.DskInst) / s.DskTotal }
func (s Stats) cpuEff() float64 { return float64(s.CPUInst) / float64(s.VCPUTotal) }
func (s Stats) spnEff() float64 { return float64(s.SpnInst) / s.SpnTotal }

// SpecCount is how many instances of a spec were placed.
type SpecCount struct {
	Spec  RSpec `json:"spec"`
	Count int   `json:"count"`
}

// AllocRun is one capacity run: what it placed and why it stopped.
type AllocRun struct {
	Spec      RSpec       `json:"spec"` // the (initial) spec
	Allocated int         `json:"allocated"`
	Specs     []SpecCount `json:"specs,omitempty"` // tiered: per spec, in order
	Failures  []Count     `json:"failures"`        // of the last attempts, most first
	// Reason is the most likely failure: the resource that ran out.
	Reason  string `json:"limiting"`
	Stats   Stats  `json:"stats"`
	cluster *Cluster
}

// Cluster is the cluster with the run's instances placed.
func (r *AllocRun) Cluster() *Cluster { return r.cluster }

// GroupCapacity is one group's capacity for the standard spec.
type GroupCapacity struct {
	Group     string `json:"group"`
	Policy    string `json:"alloc_policy"`
	Allocated int    `json:"allocated"`
	Reason    string `json:"limiting"`
	// Why is, when nothing fits, why not in words.
	Why string `json:"why,omitempty"`
}

// CapacityResult is hspace's answer.
type CapacityResult struct {
	Nodes     int       `json:"nodes"`
	Template  Template  `json:"disk_template"`
	Required  int       `json:"required_nodes"`
	Existing  int       `json:"existing_instances"`
	Initial   Stats     `json:"initial"`
	Tiered    *AllocRun `json:"tiered"`
	Standard  *AllocRun `json:"standard"`
	BadNodes  []string  `json:"n1_failing_nodes,omitempty"`
	BadGroups []string  `json:"non_redundant_groups,omitempty"`
	// Groups are the standard spec's capacity of each group alone.
	Groups []GroupCapacity `json:"groups"`
	// KMUsed, KMPool, KMUnav are hspace's key metrics of the tiered run.
	KMUsed, KMPool, KMUnav AllocInfo `json:"-"`
}

// AllocInfo is one of hspace's key metrics.
type AllocInfo struct {
	VCPUs int
	NCPUs float64
	Mem   int
	Disk  int
	Spn   int
}

type capRun struct {
	c     *Cluster
	o     *AllocOptions
	nodes []*Node
	insts []*Instance
	added []*Instance
	fails []FailMode
	// stopped: nothing was tried, the cluster fails N+1 already.
	stopped bool
	// misses remembers placements that failed, by spec and cluster
	// state: the tiered search tries the same sizes on the same cluster
	// over and over (each state has its number of instances: a search
	// keeps every state that placed more).
	misses map[missKey][]FailMode
	sufs   map[sufKey]*Instance
}

type missKey struct {
	spec   RSpec
	n      int
	checks bool
}

func (r *capRun) copy() *capRun {
	cp := *r
	cp.added = slices.Clone(r.added)
	return &cp
}

// allocable are the nodes instances may go to: online, in a group that
// is not unallocable.
func (c *Cluster) allocable(groups []*Group, nodes []*Node) []int {
	var out []int
	for i, n := range nodes {
		if n.Offline || groups[n.Group].AllocPolicy == Unallocable {
			continue
		}
		out = append(out, i)
	}
	return out
}

func (r *capRun) cluster() *Cluster {
	out := *r.c
	out.Nodes, out.Instances = r.nodes, r.insts
	return &out
}

// attempt tries one more copy of in without keeping it; checks turns
// the global N+1 check on.
func (r *capRun) attempt(in *Instance, cands []int, checks bool) (*solution, []FailMode) {
	key := missKey{spec: in.rspec(), n: len(r.insts), checks: checks}
	if f, ok := r.misses[key]; ok {
		return nil, f
	}
	ni := *in
	ni.Name = fmt.Sprintf("new-%d", len(r.added))
	o := *r.o
	o.NoCapacityChecks = !checks
	w := newWhy(r.c)
	sol := r.c.tryAlloc(&o, r.nodes, r.insts, len(r.insts), &ni, cands, w)
	if sol == nil {
		r.misses[key] = w.counts
	}
	return sol, w.counts
}

// place places one more copy of in, if it fits.
func (r *capRun) place(in *Instance, cands []int, checks bool) bool {
	sol, fails := r.attempt(in, cands, checks)
	r.fails = fails
	if sol == nil {
		return false
	}
	placed := sol.inst
	r.nodes = sol.nodes
	r.insts = append(slices.Clone(r.insts), &placed)
	r.added = append(r.added, &placed)
	return true
}

// smallSteps places one at a time; as Ganeti's iterateAllocSmallStep,
// drbd instances skip the global N+1 check.
func (r *capRun) smallSteps(in *Instance, cands []int, limit int, capacity bool) {
	for limit != 0 && r.place(in, cands, capacity && in.Template != DRBD) {
		if limit > 0 {
			limit--
		}
	}
}

// iterate places copies of in until one does not fit or limit (<0: no
// limit) is reached. With capacity checks it works as Ganeti's
// iterateAlloc: batches without the global N+1 check, kept if the
// cluster after them is still redundant, else smaller batches, else one
// checked step at a time.
func (r *capRun) iterate(in *Instance, cands []int, limit int) {
	if r.o.NoCapacityChecks {
		r.smallSteps(in, cands, limit, false)
		return
	}
	huge := true
	for {
		step := 10
		if huge {
			avail := 0
			for _, n := range r.nodes {
				avail += n.AvailMem()
			}
			step = 20
			if in.Mem > 0 {
				step = max(20, avail/in.Mem-len(r.nodes))
			}
		}
		lim, next := step, -1
		if limit >= 0 {
			lim, next = min(step, limit), max(0, limit-step)
		}
		trial := r.copy()
		trial.smallSteps(in, cands, lim, false)
		if ok, _ := trial.cluster().redundant(r.o); ok {
			progressed := len(trial.added) > len(r.added)
			*r = *trial
			if next == 0 || !progressed {
				return
			}
			limit = next
			continue
		}
		if huge {
			huge = false
			continue
		}
		r.smallSteps(in, cands, limit, true)
		return
	}
}

// shrink makes in smaller in the resource m (Ganeti's shrinkByType).
func shrink(in *Instance, m FailMode) (*Instance, bool) {
	out := *in
	switch m {
	case FailMem:
		out.Mem -= 64
		if out.Mem < 64 {
			return nil, false
		}
	case FailDisk:
		out.Disks = slices.Clone(in.Disks)
		for i := range out.Disks {
			out.Disks[i].Size -= 256
			if out.Disks[i].Size < 256 {
				return nil, false
			}
		}
		out.Dsk -= 256 * len(in.Disks)
	case FailCPU:
		out.VCPUs--
		if out.VCPUs < 1 {
			return nil, false
		}
	case FailSpindles:
		if len(in.Disks) != 1 || in.Disks[0].Spindles < 0 {
			return nil, false
		}
		out.Disks = slices.Clone(in.Disks)
		out.Disks[0].Spindles--
		if out.Disks[0].Spindles < 1 {
			return nil, false
		}
	default:
		return nil, false
	}
	return &out, true
}

// sortedFails are the failure modes of fails, least frequent first
// (Ganeti's sortBy (comparing snd) over all modes).
func sortedFails(fails []FailMode) []FailMode {
	cs := collapse(fails)
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cs[idx[a]].Count < cs[idx[b]].Count })
	out := make([]FailMode, len(idx))
	for i, k := range idx {
		out[i] = FailMode(k + 1)
	}
	return out
}

// tiered places instances starting at in and shrinking it in the
// resource that runs out (Ganeti's tieredAlloc); limit < 0: no limit.
func (r *capRun) tiered(in *Instance, cands []int, limit int) {
	before := len(r.added)
	r.iterate(in, cands, limit)
	if limit >= 0 {
		if limit -= len(r.added) - before; limit <= 0 {
			return
		}
	}
	errs := sortedFails(r.fails)
	if next, ok := shrink(in, errs[len(errs)-1]); ok {
		trial := r.copy()
		trial.tiered(next, cands, limit)
		if len(trial.insts) > len(r.insts) {
			*r = *trial
			return
		}
	}
	for k := len(errs) - 1; k >= 0; k-- {
		if found := r.suffices(in, errs[k], cands); found != nil {
			r.tiered(found, cands, limit)
			return
		}
	}
}

// suffices shrinks in by m until it fits, as long as m is among the
// reasons it does not (Ganeti's sufficesShrinking); nil if that fails.
// Every size on the way leads to the same answer, so all are
// remembered.
func (r *capRun) suffices(in *Instance, m FailMode, cands []int) *Instance {
	var walked []sufKey
	var found *Instance
	checks := !r.o.NoCapacityChecks
	for cur := in; ; {
		key := sufKey{spec: cur.rspec(), mode: m, n: len(r.insts)}
		if f, ok := r.sufs[key]; ok {
			found = f
			break
		}
		walked = append(walked, key)
		sol, fails := r.attempt(cur, cands, checks)
		if sol != nil {
			found = cur
			break
		}
		if !slices.Contains(fails, m) {
			break
		}
		next, ok := shrink(cur, m)
		if !ok {
			break
		}
		cur = next
	}
	for _, k := range walked {
		r.sufs[k] = found
	}
	return found
}

type sufKey struct {
	spec RSpec
	mode FailMode
	n    int
}

func (c *Cluster) specInstance(s RSpec, t Template, su int) *Instance {
	return &Instance{Name: "new", Mem: s.Mem, Dsk: s.Dsk, Disks: []Disk{{Size: s.Dsk, Spindles: s.Spn}}, VCPUs: s.CPU,
		Status: StatusRunning, Pri: NoNode, Sec: NoNode, Template: t, SpindleUse: su, AutoBalance: true, Movable: t.migratable(), Util: BaseUtil}
}

func (in *Instance) rspec() RSpec {
	sp := 0
	if len(in.Disks) == 1 && in.Disks[0].Spindles >= 0 {
		sp = in.Disks[0].Spindles
	}
	return RSpec{Mem: in.Mem, Dsk: in.Dsk, CPU: in.VCPUs, Spn: sp}
}

// runResult sums up a run.
func (r *capRun) result(spec RSpec, from int) *AllocRun {
	out := &AllocRun{Spec: spec, Allocated: len(r.added) - from, cluster: r.cluster()}
	counts := collapse(r.fails)
	if r.stopped { // Ganeti's stop_allocation: [(FailN1, 1)] only
		counts = []Count{{Mode: FailN1.String(), Count: 1}}
	}
	sort.SliceStable(counts, func(a, b int) bool { return counts[a].Count > counts[b].Count })
	out.Failures, out.Reason = counts, counts[0].Mode
	for _, in := range r.added[from:] {
		s := in.rspec()
		if n := len(out.Specs); n > 0 && out.Specs[n-1].Spec == s {
			out.Specs[n-1].Count++
		} else {
			out.Specs = append(out.Specs, SpecCount{Spec: s, Count: 1})
		}
	}
	out.Stats = TotalStats(r.nodes)
	return out
}

// Capacity answers how many more instances fit (hspace): the tiered run
// from the policy's largest specs down, the standard spec's run, and the
// standard spec in each group alone.
func (c *Cluster) Capacity(o CapacityOptions) (*CapacityResult, error) {
	t := o.Template
	if t == "" {
		if len(c.Policy.DiskTemplates) == 0 {
			return nil, fmt.Errorf("null list of disk templates received from cluster")
		}
		t = c.Policy.DiskTemplates[0]
	}
	su := o.SpindleUse
	if su == 0 {
		su = c.Policy.Std.SpindleUse
	}
	res := &CapacityResult{Nodes: len(c.Nodes), Template: t, Required: t.RequiredNodes(), Existing: len(c.Instances), Initial: TotalStats(c.Nodes)}
	ao := &AllocOptions{NoCapacityChecks: o.NoCapacityChecks, IgnoreSoftErrors: o.IgnoreSoftErrors, AcceptExisting: o.AcceptExisting, compatN1: o.compatN1}
	groups := make([]*Group, len(c.Groups))
	for i, g := range c.Groups {
		cp := *g
		groups[i] = &cp
	}
	var online []int
	for i, n := range c.Nodes {
		if !n.Offline {
			online = append(online, i)
		}
	}
	res.BadNodes, _ = badItems(c, online, nil)
	var badGroups []int
	for g, grp := range c.Groups {
		if ok, _ := c.redundantGroup(ao, g); !ok {
			badGroups = append(badGroups, g)
			res.BadGroups = append(res.BadGroups, grp.Name)
		}
	}
	if !o.AcceptExisting {
		for _, name := range res.BadNodes {
			groups[c.Nodes[c.NodeIndex(name)].Group].AllocPolicy = Unallocable
		}
	}
	if o.IndependentGroups {
		for _, g := range badGroups {
			groups[g].AllocPolicy = Unallocable
		}
		ao.ignoreGroups = badGroups
	}
	remaining := false
	for _, g := range groups {
		remaining = remaining || g.AllocPolicy != Unallocable
	}
	stop := !o.AcceptExisting && !(o.IndependentGroups && remaining) && len(res.BadNodes) > 0
	cands := c.allocable(groups, c.Nodes)
	newRun := func() *capRun {
		return &capRun{c: c, o: ao, nodes: slices.Clone(c.Nodes), insts: slices.Clone(c.Instances),
			misses: map[missKey][]FailMode{}, sufs: map[sufKey]*Instance{}}
	}
	var tspecs []RSpec
	if o.Tiered != nil {
		tspecs = []RSpec{*o.Tiered}
	} else {
		for _, mm := range c.Policy.MinMax {
			tspecs = append(tspecs, specOf(mm.Max))
		}
	}
	if len(tspecs) == 0 {
		return nil, fmt.Errorf("Empty list of specs received from the cluster")
	}
	// Tiered: each max spec in turn, on what the previous left.
	tr := newRun()
	if stop {
		tr.stopped = true
	} else {
		for _, ts := range tspecs {
			lim := o.MaxLength
			if lim >= 0 {
				if lim -= len(tr.added); lim <= 0 {
					break
				}
			}
			tr.tiered(c.specInstance(ts, t, su), cands, lim)
		}
	}
	res.Tiered = tr.result(tspecs[0], 0)
	ini, fin := res.Initial, res.Tiered.Stats
	res.KMUsed = AllocInfo{VCPUs: int(ini.CPUInst), NCPUs: ini.NCPU, Mem: int(ini.MemInst), Disk: int(ini.DskInst), Spn: int(ini.SpnInst)}
	res.KMPool = AllocInfo{VCPUs: int(fin.CPUInst - ini.CPUInst), NCPUs: fin.NCPU - ini.NCPU, Mem: int(fin.MemInst - ini.MemInst),
		Disk: int(fin.DskInst - ini.DskInst), Spn: int(fin.SpnInst - ini.SpnInst)}
	res.KMUnav = AllocInfo{VCPUs: int(fin.VCPUTotal - fin.CPUInst), NCPUs: fin.CPUTotal - fin.NCPU, Mem: int(fin.MemTotal) - int(fin.MemInst),
		Disk: int(fin.DskTotal) - int(fin.DskInst), Spn: int(fin.SpnTotal) - int(fin.SpnInst)}
	std := specOf(c.Policy.Std)
	if o.Std != nil {
		std = *o.Std
	}
	sr := newRun()
	if stop {
		sr.stopped = true
	} else {
		sr.iterate(c.specInstance(std, t, su), cands, o.MaxLength)
	}
	res.Standard = sr.result(std, 0)
	// Each group alone, for the standard spec.
	for g, grp := range groups {
		if len(c.groupNodes(g)) == 0 {
			continue
		}
		gcap := GroupCapacity{Group: grp.Name, Policy: grp.AllocPolicy.String()}
		var gc []int
		for _, n := range cands {
			if c.Nodes[n].Group == g {
				gc = append(gc, n)
			}
		}
		switch {
		case stop:
			gcap.Reason, gcap.Why = FailN1.String(), "the cluster fails N+1 already (see --accept-existing)"
		case grp.AllocPolicy == Unallocable:
			gcap.Reason, gcap.Why = "unallocable", "the group is unallocable"
			if slices.Contains(badGroups, g) || c.Groups[g].AllocPolicy != Unallocable {
				gcap.Why = "the group fails N+1 already"
			}
		case len(gc) < t.RequiredNodes():
			gcap.Reason, gcap.Why = "no usable node", "the group has no usable node"
		default:
			r := newRun()
			r.iterate(c.specInstance(std, t, su), gc, o.MaxLength)
			run := r.result(std, 0)
			gcap.Allocated, gcap.Reason = run.Allocated, run.Reason
			if run.Allocated == 0 {
				ni := NewInstance{Name: "new", Mem: std.Mem, VCPUs: std.CPU, Disks: []Disk{{Size: std.Dsk, Spindles: std.Spn}}, Template: t, SpindleUse: su, Dsk: std.Dsk}
				if _, err := c.Allocate(ni, grp.Name, *ao); err != nil {
					gcap.Why = err.Error()
				}
			}
		}
		res.Groups = append(res.Groups, gcap)
	}
	return res, nil
}

// redundantGroup is redundant over group g's nodes only.
func (c *Cluster) redundantGroup(o *AllocOptions, g int) (bool, string) {
	for i, n := range c.Nodes {
		if n.Group != g || (o.AcceptExisting && n.Offline) || slices.Contains(o.ignoreGroups, n.Group) {
			continue
		}
		if ok, msg := c.canEvacuate(i, o.compatN1); !ok {
			return false, msg
		}
	}
	return true, ""
}

// KV is one key=value line of hspace's machine-readable output.
type KV struct{ Key, Value string }

func fmt8(v float64) string { return strconv.FormatFloat(v, 'f', 8, 64) }

// showDouble writes a float as Haskell's show does (hspace's NPU keys).
func showDouble(v float64) string {
	a := math.Abs(v)
	if v == 0 {
		return "0.0"
	}
	if a >= 0.1 && a < 1e7 {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "e" + strconv.Itoa(e)
}

func statsKeys(prefix string, s Stats) []KV {
	d := func(v int64) string { return strconv.FormatInt(v, 10) }
	kv := []KV{{"SCORE", fmt8(s.Score)}, {"INST_CNT", strconv.Itoa(s.Instances)}, {"MEM_FREE", d(s.MemFree)}, {"MEM_AVAIL", d(s.MemAvail)},
		{"MEM_RESVD", d(s.MemFree - s.MemAvail)}, {"MEM_INST", d(s.MemInst)}, {"MEM_OVERHEAD", d(s.MemOverhead)}, {"MEM_EFF", fmt8(s.memEff())},
		{"DSK_FREE", d(s.DskFree)}, {"DSK_AVAIL", d(s.DskAvail)}, {"DSK_RESVD", d(s.DskFree - s.DskAvail)}, {"DSK_INST", d(s.DskInst)},
		{"DSK_EFF", fmt8(s.dskEff())}, {"SPN_FREE", d(s.SpnFree)}, {"SPN_INST", d(s.SpnInst)}, {"SPN_EFF", fmt8(s.spnEff())},
		{"CPU_INST", d(s.CPUInst)}, {"CPU_EFF", fmt8(s.cpuEff())}, {"MNODE_MEM_AVAIL", d(s.MaxMemAvail)}, {"MNODE_DSK_AVAIL", d(s.MaxDskAvail)}}
	for i := range kv {
		kv[i].Key = prefix + "_" + kv[i].Key
	}
	return kv
}

func specKeys(prefix string, s RSpec, t Template) []KV {
	return []KV{{prefix + "_MEM", strconv.Itoa(s.Mem)}, {prefix + "_DSK", strconv.Itoa(s.Dsk)}, {prefix + "_CPU", strconv.Itoa(s.CPU)},
		{prefix + "_SPN", strconv.Itoa(s.Spn)}, {prefix + "_RQN", strconv.Itoa(t.RequiredNodes())}, {prefix + "_DISK_TEMPLATE", string(t)}}
}

func kmKeys(name string, a AllocInfo) []KV {
	p := "KM_" + name + "_"
	return []KV{{p + "CPU", strconv.Itoa(a.VCPUs)}, {p + "NPU", showDouble(a.NCPUs)}, {p + "MEM", strconv.Itoa(a.Mem)},
		{p + "DSK", strconv.Itoa(a.Disk)}, {p + "SPN", strconv.Itoa(a.Spn)}}
}

// Keys are hspace --machine-readable's lines, without the HTS_ prefix,
// in its order.
func (r *CapacityResult) Keys() []KV {
	i := r.Initial
	out := []KV{{"CLUSTER_MEM", fmt.Sprintf("%.0f", i.MemTotal)}, {"CLUSTER_DSK", fmt.Sprintf("%.0f", i.DskTotal)},
		{"CLUSTER_CPU", fmt.Sprintf("%.0f", i.CPUTotal)}, {"CLUSTER_VCPU", strconv.FormatInt(i.VCPUTotal, 10)},
		{"CLUSTER_SPN", fmt.Sprintf("%.0f", i.SpnTotal)}, {"CLUSTER_NODES", strconv.Itoa(r.Nodes)}}
	out = append(out, statsKeys("INI", i)...)
	out = append(out, specKeys("TSPEC_INI", r.Tiered.Spec, r.Template)...)
	out = append(out, statsKeys("TRL", r.Tiered.Stats)...)
	var ts []string
	for _, s := range r.Tiered.Specs {
		ts = append(ts, fmt.Sprintf("%d,%d,%d,%d=%d", s.Spec.Mem, s.Spec.Dsk, s.Spec.CPU, s.Spec.Spn, s.Count))
	}
	out = append(out, KV{"TSPEC", strings.Join(ts, " ")})
	out = append(out, kmKeys("USED", r.KMUsed)...)
	out = append(out, kmKeys("POOL", r.KMPool)...)
	out = append(out, kmKeys("UNAV", r.KMUnav)...)
	s := r.Standard
	out = append(out, specKeys("SPEC", s.Spec, r.Template)...)
	out = append(out, statsKeys("FIN", s.Stats)...)
	usage := float64(r.Existing) / float64(r.Existing+s.Allocated)
	out = append(out, KV{"ALLOC_USAGE", fmt8(usage)}, KV{"ALLOC_INSTANCES", strconv.Itoa(s.Allocated)},
		KV{"ALLOC_FAIL_REASON", strings.ToUpper(s.Reason)})
	for _, c := range s.Failures {
		out = append(out, KV{"ALLOC_" + strings.ToUpper(c.Mode) + "_CNT", strconv.Itoa(c.Count)})
	}
	out = append(out, KV{"OK", "1"})
	return out
}

// Quote writes a value as hspace does: quoted unless alphanumeric or '.'.
func Quote(v string) string {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.') {
			return "'" + v + "'"
		}
	}
	return v
}

// Efficiencies are the usage efficiencies hspace prints (percent).
func (s Stats) Efficiencies() [][2]string {
	out := [][2]string{{"memory", fmt.Sprintf("%5.2f%%", s.memEff()*100)}, {"disk", fmt.Sprintf("%5.2f%%", s.dskEff()*100)},
		{"vcpu", fmt.Sprintf("%5.2f%%", s.cpuEff()*100)}}
	if s.exclStorage {
		out = append(out, [2]string{"spindles", fmt.Sprintf("%5.2f%%", s.spnEff()*100)})
	}
	return out
}

// ExclStorage says whether a node of the stats has exclusive storage.
func (s Stats) ExclStorage() bool { return s.exclStorage }
