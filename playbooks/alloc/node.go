package alloc

import (
	"maps"
	"math"
	"slices"
)

// Node is one node in the model, with what its instances take of it.
// Resources follow Ganeti's htools: memory in MiB as the state records it
// (total, the node's own use, instances) corrected by what the node
// reports free; disk is volume group space; CPUs are physical, used
// vCPUs count against vcpu-ratio.
//
// Nodes are values: the operations (addPri, addSec, removePri, removeSec)
// return a changed copy and leave the receiver alone, so a search can try
// a move and drop it.
type Node struct {
	Name  string
	Group int

	TMem      float64 // total memory
	NMem      int     // memory the node itself uses
	FMem      int     // free memory as the node reports it
	IMem      int     // memory of the primaries that run
	XMem      int     // unaccounted memory (reported vs recorded)
	FMemForth int     // free memory with forthcoming instances

	TDsk      float64 // volume group size
	FDsk      int     // volume group free
	FDskForth int

	TCPU      float64 // physical CPUs
	CPUSpeed  float64 // relative speed (1: normal)
	NCPU      int     // CPUs the node itself uses
	UCPU      int     // vCPUs in use (with NCPU)
	UCPUForth int

	TSpindles      int
	FSpindles      int
	FSpindlesForth int
	ExclStorage    bool

	Pri, Sec           []int // instance indices
	PriForth, SecForth []int
	peers              map[int]int // primary node -> memory its instances need here on failover
	RMem               int         // the largest of peers: memory reserved for failovers

	MDsk              float64 // minimum free disk ratio
	LoDsk             int     // disk that must stay free
	HiCPU             int     // vCPUs allowed (vcpu-ratio × CPUs)
	HiSpindles        float64 // spindles allowed (spindle-ratio × spindles)
	InstSpindles      float64
	InstSpindlesForth float64

	// Offline nodes take no instances and count apart in the score; the
	// model treats drained and non-vm-capable nodes the same way, as
	// Ganeti's iallocator does, and remembers why.
	Offline bool
	Drained bool
	NoVM    bool
	// Down says why a node takes nothing beyond its flags ("did not
	// answer: ...").
	Down   string
	Master bool
	Tags   []string

	UtilPool      Util
	UtilLoad      Util
	UtilLoadForth Util

	pTags    map[string]int // exclusion tags of the primaries, counted
	Policy   Policy         // the group's instance policy
	MigTags  map[string]bool
	RMigTags map[string]bool
	LocTags  map[string]bool
	LocScore int
	instMap  map[[2]string]int // (location, exclusion tag) -> instances

	// FileTotal and FileFree are the file storage directory's size and
	// free space (0: unknown); file instances count against them. Ganeti
	// does not look at them; ganetictl refuses what does not fit.
	FileTotal, FileFree int
}

// clone is a shallow copy: slices and maps are shared, and every
// operation that changes one copies it first.
func (n *Node) clone() *Node {
	c := *n
	return &c
}

// NewNode is a node with the given resources and no instances; callers
// set the rest and Cluster.Finish derives what depends on instances.
func NewNode(name string, tmem float64, nmem, fmem int, tdsk float64, fdsk int, tcpu float64, ncpu int, offline bool, spindles, freeSpindles, group int, excl bool) *Node {
	n := &Node{Name: name, Group: group, TMem: tmem, NMem: nmem, FMem: fmem, FMemForth: fmem,
		TDsk: tdsk, FDsk: fdsk, FDskForth: fdsk, TCPU: tcpu, CPUSpeed: 1, NCPU: ncpu, UCPU: ncpu, UCPUForth: ncpu,
		TSpindles: spindles, FSpindles: freeSpindles, FSpindlesForth: freeSpindles, ExclStorage: excl,
		Offline: offline, UtilPool: BaseUtil}
	n.SetPolicy(DefaultPolicy())
	n.SetMDsk(0)
	return n
}

// SetPolicy sets the node's (group's) policy and the limits it implies.
func (n *Node) SetPolicy(p Policy) {
	n.Policy = p
	n.HiCPU = int(math.Floor(p.VCPURatio * n.TCPU))
	n.HiSpindles = p.SpindleRatio * float64(n.TSpindles)
}

// SetMDsk sets the minimum free disk ratio (hbal --min-disk).
func (n *Node) SetMDsk(r float64) {
	n.MDsk = r
	n.LoDsk = int(math.Floor(r * n.TDsk))
}

// SetMCPU overrides the vcpu ratio (hbal --max-cpu).
func (n *Node) SetMCPU(r float64) {
	n.Policy.VCPURatio = r
	n.HiCPU = int(math.Floor(r * n.TCPU))
}

// recordedFree is the free memory the records imply.
func (n *Node) recordedFree() int { return int(n.TMem) - n.NMem - n.IMem }

// unallocatedMem is the memory no instance holds or may claim by
// starting: the recorded free memory, less what the node reports missing.
func (n *Node) unallocatedMem() int { return n.recordedFree() - max(0, n.XMem) }

// AvailMem is the memory left for new instances once failovers are
// reserved for.
func (n *Node) AvailMem() int { return max(0, n.unallocatedMem()-n.RMem) }

// AvailDisk is the free disk above the reserve.
func (n *Node) AvailDisk() int {
	if n.FDsk < n.LoDsk {
		return 0
	}
	return n.FDsk - n.LoDsk
}

// AvailCPU is the vCPUs left under the vcpu ratio.
func (n *Node) AvailCPU() int {
	if n.HiCPU >= n.UCPU {
		return n.HiCPU - n.UCPU
	}
	return 0
}

// FailN1 says the node could not take the failover of its secondaries'
// primaries (Ganeti's N+1 failure: no more free memory than the largest
// failover needs). A node with no failover to take cannot fail: Ganeti
// after 3.0.2 counts a full node without secondaries as failing, 3.0.2
// itself did not.
func (n *Node) FailN1() bool { return n.RMem > 0 && n.unallocatedMem() <= n.RMem }

func (n *Node) pMem() float64      { return float64(n.unallocatedMem()) / n.TMem }
func (n *Node) pMemForth() float64 { return float64(n.FMemForth) / n.TMem }
func (n *Node) pRem() float64      { return float64(n.RMem) / n.TMem }
func (n *Node) pCPU() float64      { return float64(n.UCPU) / n.TCPU }
func (n *Node) pCPUForth() float64 { return float64(n.UCPUForth) / n.TCPU }
func (n *Node) pDsk() float64      { return n.computePDsk(n.FSpindles, n.FDsk) }
func (n *Node) pDskForth() float64 { return n.computePDsk(n.FSpindlesForth, n.FDskForth) }

func (n *Node) computePDsk(freeSp, freeDsk int) float64 {
	if n.ExclStorage {
		return ratio1(float64(freeSp), float64(n.TSpindles))
	}
	return ratio1(float64(freeDsk), n.TDsk)
}

func ratio1(free, total float64) float64 {
	if total == 0 {
		return 1
	}
	return free / total
}

// conflictingPrimaries counts primaries that share an exclusion tag.
func (n *Node) conflictingPrimaries() int {
	s := 0
	for _, v := range n.pTags {
		s += v
	}
	return s - len(n.pTags)
}

func addCount[K comparable](m map[K]int, keys ...K) map[K]int {
	if len(keys) == 0 {
		return m
	}
	out := make(map[K]int, len(m)+len(keys))
	maps.Copy(out, m)
	for _, k := range keys {
		out[k]++
	}
	return out
}

func delCount[K comparable](m map[K]int, keys ...K) map[K]int {
	if len(keys) == 0 {
		return m
	}
	out := maps.Clone(m)
	for _, k := range keys {
		if out[k] > 1 {
			out[k]--
		} else {
			delete(out, k)
		}
	}
	return out
}

// locExcl are the (location, exclusion tag) pairs an instance adds to its
// primary.
func (n *Node) locExcl(in *Instance) [][2]string {
	if len(n.LocTags) == 0 || len(in.ExclTags) == 0 {
		return nil
	}
	var out [][2]string
	for _, l := range sortedKeys(n.LocTags) {
		for _, e := range in.ExclTags {
			out = append(out, [2]string{l, e})
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// desiredLocScore is how many of the instance's desired locations the
// node is not in.
func (n *Node) desiredLocScore(in *Instance) int {
	s := 0
	for _, t := range in.DesiredLoc {
		if !n.LocTags[t] {
			s++
		}
	}
	return s
}

func without(s []int, v int) []int {
	i := slices.Index(s, v)
	if i < 0 {
		return s
	}
	out := make([]int, 0, len(s)-1)
	out = append(out, s[:i]...)
	return append(out, s[i+1:]...)
}

func with(s []int, v int) []int {
	out := make([]int, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}

func (n *Node) spindleUse(in *Instance) float64 {
	if n.ExclStorage || !in.Template.LocalStorage() {
		return 0
	}
	return float64(in.SpindleUse)
}

// freeSpindlesAfter is the free spindles after adding (sign 1) or
// removing (sign -1) the instance's disks, with exclusive storage; an
// instance whose spindles are unknown cannot be added (-1).
func (n *Node) freeSpindlesAfter(in *Instance, sign int, free int) int {
	if !n.ExclStorage {
		return 0
	}
	sp := in.spindles()
	if sp < 0 {
		if sign > 0 {
			return -1
		}
		return free
	}
	return free - sign*sp
}

// setPri records a primary while loading (no checks).
func (n *Node) setPri(idx int, in *Instance) {
	if !in.Forthcoming {
		n.Pri = append(n.Pri, idx)
		if !in.offline() {
			n.UCPU += in.VCPUs
		}
		n.UtilLoad = n.UtilLoad.add(in.Util)
		n.InstSpindles += n.spindleUse(in)
		n.LocScore += in.LocScore + n.desiredLocScore(in)
		n.instMap = addCount(n.instMap, n.locExcl(in)...)
	} else {
		if in.Template.LocalStorage() {
			n.FDskForth -= in.Dsk
		}
		n.FSpindlesForth = n.freeSpindlesAfterForth(in, 1)
	}
	n.pTags = addCount(n.pTags, in.ExclTags...)
	n.PriForth = append(n.PriForth, idx)
	if !in.offline() {
		n.UCPUForth += in.VCPUs
	}
	n.UtilLoadForth = n.UtilLoadForth.add(in.Util)
	if !in.usesMemory() {
		n.FMemForth -= in.Mem
	}
	n.InstSpindlesForth += n.spindleUse(in)
}

func (n *Node) freeSpindlesAfterForth(in *Instance, sign int) int {
	return n.freeSpindlesAfter(in, sign, n.FSpindlesForth)
}

// setSec records a secondary while loading (no checks).
func (n *Node) setSec(idx int, in *Instance) {
	if !in.Forthcoming {
		n.Sec = append(n.Sec, idx)
		n.UtilLoad.Disk += in.Util.Disk
		n.InstSpindles += n.spindleUse(in)
	} else {
		if in.Template.LocalStorage() {
			n.FDskForth -= in.Dsk
		}
		n.FSpindlesForth = n.freeSpindlesAfterForth(in, 1)
	}
	n.SecForth = append(n.SecForth, idx)
	n.UtilLoadForth.Disk += in.Util.Disk
	n.InstSpindlesForth += n.spindleUse(in)
}

// buildPeers computes what each primary node would need here on failover.
func (n *Node) buildPeers(insts []*Instance) {
	n.peers = map[int]int{}
	for _, i := range n.Sec {
		in := insts[i]
		if in.usesSecMem() && !in.Forthcoming {
			n.peers[in.Pri] += in.Mem
		} else if _, ok := n.peers[in.Pri]; !ok {
			n.peers[in.Pri] = 0
		}
	}
	n.RMem = maxPeer(n.peers)
}

func maxPeer(p map[int]int) int {
	m := 0
	for _, v := range p {
		m = max(m, v)
	}
	return m
}

// updateMem derives the instance memory and the unaccounted memory from
// the instances, as Ganeti does after loading.
func (n *Node) updateMem(insts []*Instance) {
	n.IMem = 0
	for _, i := range n.Pri {
		if in := insts[i]; in.usesMemory() {
			n.IMem += in.Mem
		}
	}
	n.XMem = n.recordedFree() - n.FMem
}

// FailMode is why a node cannot take an instance, as Ganeti counts them.
type FailMode int

// The failure modes, in Ganeti's order.
const (
	FailNone FailMode = iota
	FailMem
	FailDisk
	FailCPU
	FailN1
	FailTags
	FailMig
	FailDiskCount
	FailSpindles
	FailInternal
)

var failNames = []string{"", "FailMem", "FailDisk", "FailCPU", "FailN1", "FailTags", "FailMig", "FailDiskCount", "FailSpindles", "FailInternal"}

func (m FailMode) String() string {
	if int(m) < len(failNames) {
		return failNames[m]
	}
	return "FailUnknown"
}

// reason is what exactly failed, for the words of a refusal.
type reason uint8

const (
	rNone reason = iota
	rMemFree
	rMemN1
	rSecMem
	rDiskFree
	rDiskLow
	rFileFree
	rSpindlesFree
	rSpindleRatio
	rCPURatio
	rTags
	rMigration
	rNotMirrored
	rPolicy
	rOffline
	rDrained
	rNoVM
	rGroup
	rNoPartner
	rGlobalN1
	rNetwork
	rSame
)

// Failure is one refusal of a node: a Ganeti failure mode and what was
// short, in numbers (Need, Have) or words (Text).
type Failure struct {
	Mode       FailMode
	why        reason
	Need, Have float64
	Text       string
}

// OK says there was no failure.
func (f Failure) OK() bool { return f.Mode == FailNone }

func fail(m FailMode, why reason, need, have float64) Failure {
	return Failure{Mode: m, why: why, Need: need, Have: have}
}

// addPri adds a primary, checking that it fits; force skips the soft
// checks (N+1, reserves, ratios, tags), as Ganeti does when the instance
// leaves an offline node.
func (n *Node) addPri(force bool, idx int, in *Instance) (*Node, Failure) {
	strict := !force
	uses := in.Template.LocalStorage()
	lcpu := n.Policy.VCPURatio

	memForth := n.FMemForth - in.Mem
	dskForth := n.FDskForth
	if uses {
		dskForth -= in.Dsk
	}
	spForth := n.freeSpindlesAfterForth(in, 1)
	instSpForth := n.InstSpindlesForth + n.spindleUse(in)
	ucpuForth := n.UCPUForth
	if !in.offline() {
		ucpuForth += in.VCPUs
	}
	pcpuForth := float64(ucpuForth) / n.TCPU

	forthCheck := func() Failure {
		switch {
		case memForth <= 0:
			return fail(FailMem, rMemFree, float64(in.Mem), float64(n.FMemForth))
		case uses && dskForth <= 0:
			return fail(FailDisk, rDiskFree, float64(in.Dsk), float64(n.FDskForth))
		case uses && dskForth < n.LoDsk:
			return fail(FailDisk, rDiskLow, float64(n.LoDsk), float64(dskForth))
		case uses && n.ExclStorage && spForth < 0:
			return fail(FailSpindles, rSpindlesFree, float64(in.spindles()), float64(n.FSpindlesForth))
		case uses && instSpForth > n.HiSpindles:
			return fail(FailDisk, rSpindleRatio, n.HiSpindles, instSpForth)
		case lcpu >= 0 && lcpu < pcpuForth:
			return fail(FailCPU, rCPURatio, lcpu, pcpuForth)
		}
		return Failure{}
	}
	out := n.clone()
	forthFields := func() {
		out.pTags = addCount(n.pTags, in.ExclTags...)
		out.PriForth = with(n.PriForth, idx)
		out.FMemForth = memForth
		out.FDskForth = dskForth
		out.UCPUForth = ucpuForth
		out.UtilLoadForth = n.UtilLoadForth.add(in.Util)
		out.InstSpindlesForth = instSpForth
		out.FSpindlesForth = spForth
	}
	if in.Forthcoming {
		if strict {
			if f := forthCheck(); !f.OK() {
				return nil, f
			}
		}
		forthFields()
		return out, Failure{}
	}

	imem := n.IMem
	if in.usesMemory() {
		imem += in.Mem
	}
	freeMem := int(n.TMem) - n.NMem - imem - max(0, n.XMem)
	failN1 := n.RMem > 0 && freeMem <= n.RMem
	dsk := n.FDsk
	if uses {
		dsk -= in.Dsk
	}
	sp := n.freeSpindlesAfter(in, 1, n.FSpindles)
	instSp := n.InstSpindles + n.spindleUse(in)
	ucpu := n.UCPU
	if !in.offline() {
		ucpu += in.VCPUs
	}
	pcpu := float64(ucpu) / n.TCPU
	switch {
	case freeMem <= 0:
		return nil, fail(FailMem, rMemFree, float64(in.Mem), float64(n.unallocatedMem()))
	case uses && dsk <= 0:
		return nil, fail(FailDisk, rDiskFree, float64(in.Dsk), float64(n.FDsk))
	case strict && uses && dsk < n.LoDsk:
		return nil, fail(FailDisk, rDiskLow, float64(n.LoDsk), float64(dsk))
	case uses && n.ExclStorage && sp < 0:
		return nil, fail(FailSpindles, rSpindlesFree, float64(in.spindles()), float64(n.FSpindles))
	case strict && uses && instSp > n.HiSpindles:
		return nil, fail(FailDisk, rSpindleRatio, n.HiSpindles, instSp)
	case strict && failN1 && !n.FailN1():
		return nil, fail(FailMem, rMemN1, float64(n.RMem), float64(freeMem))
	case strict && lcpu >= 0 && lcpu < pcpu:
		return nil, fail(FailCPU, rCPURatio, lcpu, pcpu)
	case strict && rejectTags(n.pTags, in.ExclTags) != "":
		return nil, Failure{Mode: FailTags, why: rTags, Text: rejectTags(n.pTags, in.ExclTags)}
	case in.Template == File && n.FileTotal > 0 && in.Dsk > n.FileFree:
		return nil, fail(FailDisk, rFileFree, float64(in.Dsk), float64(n.FileFree))
	}
	if strict {
		if f := forthCheck(); !f.OK() {
			return nil, f
		}
	}
	forthFields()
	out.Pri = with(n.Pri, idx)
	out.IMem = imem
	out.FDsk = dsk
	out.UCPU = ucpu
	out.UtilLoad = n.UtilLoad.add(in.Util)
	out.InstSpindles = instSp
	out.FSpindles = sp
	out.LocScore = n.LocScore + in.LocScore + n.desiredLocScore(in)
	out.instMap = addCount(n.instMap, n.locExcl(in)...)
	if in.Template == File && n.FileTotal > 0 {
		out.FileFree -= in.Dsk
	}
	return out, Failure{}
}

// rejectTags is the first exclusion tag already taken, "" if none.
func rejectTags(have map[string]int, tags []string) string {
	for _, t := range tags {
		if have[t] > 0 {
			return t
		}
	}
	return ""
}

// addSec adds a secondary of an instance whose primary is pdx.
// ignoreDisks skips the free disk check (a node leaving the cluster).
func (n *Node) addSec(ignoreDisks, force bool, idx int, in *Instance, pdx int) (*Node, Failure) {
	strict := !force
	secMem := 0
	if in.usesSecMem() {
		secMem = in.Mem
	}
	peem := n.peers[pdx] + secMem
	dskForth := n.FDskForth - in.Dsk
	spForth := n.freeSpindlesAfterForth(in, 1)
	instSpForth := n.InstSpindlesForth + n.spindleUse(in)
	forthCheck := func() Failure {
		switch {
		case in.Template != DRBD:
			return fail(FailDisk, rNotMirrored, 0, 0)
		case dskForth <= 0:
			return fail(FailDisk, rDiskFree, float64(in.Dsk), float64(n.FDskForth))
		case dskForth < n.LoDsk:
			return fail(FailDisk, rDiskLow, float64(n.LoDsk), float64(dskForth))
		case n.ExclStorage && spForth < 0:
			return fail(FailSpindles, rSpindlesFree, float64(in.spindles()), float64(n.FSpindlesForth))
		case instSpForth > n.HiSpindles:
			return fail(FailDisk, rSpindleRatio, n.HiSpindles, instSpForth)
		case secMem >= n.FMemForth:
			return fail(FailMem, rSecMem, float64(secMem), float64(n.FMemForth))
		}
		return Failure{}
	}
	out := n.clone()
	forthFields := func() {
		out.SecForth = with(n.SecForth, idx)
		out.FDskForth = dskForth
		out.UtilLoadForth.Disk = n.UtilLoadForth.Disk + in.Util.Disk
		out.InstSpindlesForth = instSpForth
		out.FSpindlesForth = spForth
	}
	if in.Forthcoming {
		if strict {
			if f := forthCheck(); !f.OK() {
				return nil, f
			}
		}
		forthFields()
		return out, Failure{}
	}
	oldMem := n.unallocatedMem()
	dsk := n.FDsk - in.Dsk
	sp := n.freeSpindlesAfter(in, 1, n.FSpindles)
	instSp := n.InstSpindles + n.spindleUse(in)
	rmem := max(n.RMem, peem)
	failN1 := rmem > 0 && oldMem <= rmem
	switch {
	case in.Template != DRBD:
		return nil, fail(FailDisk, rNotMirrored, 0, 0)
	case !ignoreDisks && dsk <= 0:
		return nil, fail(FailDisk, rDiskFree, float64(in.Dsk), float64(n.FDsk))
	case strict && dsk < n.LoDsk:
		return nil, fail(FailDisk, rDiskLow, float64(n.LoDsk), float64(dsk))
	case n.ExclStorage && sp < 0:
		return nil, fail(FailSpindles, rSpindlesFree, float64(in.spindles()), float64(n.FSpindles))
	case strict && instSp > n.HiSpindles:
		return nil, fail(FailDisk, rSpindleRatio, n.HiSpindles, instSp)
	case strict && secMem >= oldMem:
		return nil, fail(FailMem, rSecMem, float64(secMem), float64(oldMem))
	case strict && failN1 && !n.FailN1():
		return nil, fail(FailMem, rMemN1, float64(rmem), float64(oldMem))
	}
	if strict {
		if f := forthCheck(); !f.OK() {
			return nil, f
		}
	}
	forthFields()
	out.Sec = with(n.Sec, idx)
	out.FDsk = dsk
	out.peers = maps.Clone(n.peers)
	if out.peers == nil {
		out.peers = map[int]int{}
	}
	out.peers[pdx] = peem
	out.RMem = rmem
	out.UtilLoad.Disk = n.UtilLoad.Disk + in.Util.Disk
	out.InstSpindles = instSp
	out.FSpindles = sp
	return out, Failure{}
}

// removePri drops a primary.
func (n *Node) removePri(idx int, in *Instance) *Node {
	out := n.clone()
	uses := in.Template.LocalStorage()
	out.pTags = delCount(n.pTags, in.ExclTags...)
	out.PriForth = without(n.PriForth, idx)
	out.FMemForth = n.FMemForth + in.Mem
	if uses {
		out.FDskForth = n.FDskForth + in.Dsk
	}
	out.FSpindlesForth = n.freeSpindlesAfter(in, -1, n.FSpindlesForth)
	out.InstSpindlesForth = n.InstSpindlesForth - n.spindleUse(in)
	if !in.offline() {
		out.UCPUForth = n.UCPUForth - in.VCPUs
	}
	out.UtilLoadForth = n.UtilLoadForth.sub(in.Util)
	if in.Forthcoming {
		return out
	}
	out.Pri = without(n.Pri, idx)
	if in.usesMemory() {
		out.IMem = n.IMem - in.Mem
	}
	if uses {
		out.FDsk = n.FDsk + in.Dsk
	}
	out.FSpindles = n.freeSpindlesAfter(in, -1, n.FSpindles)
	out.InstSpindles = n.InstSpindles - n.spindleUse(in)
	if !in.offline() {
		out.UCPU = n.UCPU - in.VCPUs
	}
	out.UtilLoad = n.UtilLoad.sub(in.Util)
	out.LocScore = n.LocScore - in.LocScore - n.desiredLocScore(in)
	out.instMap = delCount(n.instMap, n.locExcl(in)...)
	if in.Template == File && n.FileTotal > 0 {
		out.FileFree += in.Dsk
	}
	return out
}

// removeSec drops a secondary.
func (n *Node) removeSec(idx int, in *Instance) *Node {
	out := n.clone()
	uses := in.Template.LocalStorage()
	out.SecForth = without(n.SecForth, idx)
	if uses {
		out.FDskForth = n.FDskForth + in.Dsk
	}
	out.FSpindlesForth = n.freeSpindlesAfter(in, -1, n.FSpindlesForth)
	out.InstSpindlesForth = n.InstSpindlesForth - n.spindleUse(in)
	out.UtilLoadForth.Disk = n.UtilLoadForth.Disk - in.Util.Disk
	if in.Forthcoming {
		return out
	}
	out.Sec = without(n.Sec, idx)
	if uses {
		out.FDsk = n.FDsk + in.Dsk
	}
	out.FSpindles = n.freeSpindlesAfter(in, -1, n.FSpindles)
	out.InstSpindles = n.InstSpindles - n.spindleUse(in)
	old := n.peers[in.Pri]
	nw := old
	if in.usesSecMem() {
		nw -= in.Mem
	}
	out.peers = maps.Clone(n.peers)
	if nw > 0 {
		out.peers[in.Pri] = nw
	} else {
		delete(out.peers, in.Pri)
	}
	if old >= n.RMem {
		out.RMem = maxPeer(out.peers)
	}
	out.UtilLoad.Disk = n.UtilLoad.Disk - in.Util.Disk
	return out
}

// checkMigration refuses a move between nodes whose migration tags do not
// match (htools:migration:, htools:allowmigration:).
func checkMigration(src, dst *Node) Failure {
	for t := range src.MigTags {
		if !dst.RMigTags[t] {
			return Failure{Mode: FailMig, why: rMigration, Text: t}
		}
	}
	return Failure{}
}
