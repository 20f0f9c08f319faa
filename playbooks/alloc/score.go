package alloc

import (
	"maps"
	"math"
)

// Metric is one term of the cluster score: Ganeti's name and weight.
type Metric struct {
	Name   string
	Weight float64
	kind   aggKind
}

type aggKind uint8

const (
	aggStdDev aggKind = iota // population standard deviation over online nodes
	aggSum                   // sum over online nodes
	aggOffSum                // sum over offline nodes
	aggMap                   // spread of (location, exclusion tag) pairs
)

// Metrics are the terms of the score, in Ganeti's order and with its
// weights (src/Ganeti/HTools/Cluster/Metrics.hs), so that scores compare
// with hbal's.
var Metrics = []Metric{
	{"free_mem_cv", 0.5, aggStdDev},
	{"free_disk_cv", 0.5, aggStdDev},
	{"n1_cnt", 1, aggSum},
	{"reserved_mem_cv", 1, aggStdDev},
	{"offline_all_cnt", 4, aggOffSum},
	{"offline_pri_cnt", 16, aggOffSum},
	{"vcpu_ratio_cv", 0.5, aggStdDev},
	{"cpu_load_cv", 1, aggStdDev},
	{"mem_load_cv", 1, aggStdDev},
	{"disk_load_cv", 1, aggStdDev},
	{"net_load_cv", 1, aggStdDev},
	{"pri_tags_score", 2, aggSum},
	{"spindles_cv", 0.5, aggStdDev},
	{"free_mem_cv_forth", 0.5, aggStdDev},
	{"free_disk_cv_forth", 0.5, aggStdDev},
	{"vcpu_ratio_cv_forth", 0.5, aggStdDev},
	{"spindles_cv_forth", 0.5, aggStdDev},
	{"location_score", 1, aggSum},
	{"location_exclusion_score", 1, aggMap},
	{"reserved_mem_rtotal", reservedMemRtotalCoeff, aggSum},
}

const nMetrics = 20

const reservedMemRtotalCoeff = 0.25

// Metric indices used below.
const (
	mN1      = 2
	mOffAll  = 4
	mOffPri  = 5
	mLocExcl = 18
)

// components are a node's values of the metrics (the map one apart).
func (n *Node) components() [nMetrics]float64 {
	var v [nMetrics]float64
	v[0] = n.pMem()
	v[1] = n.pDsk()
	if n.FailN1() {
		v[2] = float64(len(n.Sec) + len(n.Pri))
	}
	v[3] = n.pRem()
	ipri := float64(len(n.Pri))
	v[4] = ipri + float64(len(n.Sec))
	v[5] = ipri
	v[6] = n.pCPU() / n.CPUSpeed
	v[7] = n.UtilLoad.CPU / n.UtilPool.CPU
	v[8] = n.UtilLoad.Mem / n.UtilPool.Mem
	v[9] = n.UtilLoad.Disk / n.UtilPool.Disk
	v[10] = n.UtilLoad.Net / n.UtilPool.Net
	v[11] = float64(n.conflictingPrimaries())
	v[12] = n.InstSpindles / n.HiSpindles
	v[13] = n.pMemForth()
	v[14] = n.pDskForth()
	v[15] = n.pCPUForth() / n.CPUSpeed
	v[16] = n.InstSpindlesForth / n.HiSpindles
	v[17] = float64(n.LocScore)
	v[19] = n.pRem()
	return v
}

// Detail is the score's terms: each metric's value (before its weight).
type Detail struct {
	Values [nMetrics]float64
}

// Score is the weighted sum, as Ganeti adds it up.
func (d Detail) Score() float64 {
	s := 0.0
	for i, m := range Metrics {
		s += float64(m.Weight * d.Values[i])
	}
	return s
}

// Detailed computes the score's terms over nodes exactly as Ganeti does
// (same order of additions), so the printed score matches hbal's to the
// last digit hbal prints.
func Detailed(nodes []*Node) Detail {
	var d Detail
	var on, off []*Node
	for _, n := range nodes {
		if n.Offline {
			off = append(off, n)
		} else {
			on = append(on, n)
		}
	}
	if len(on) == 0 { // Ganeti's statistics of no online node are empty
		return d
	}
	onv := make([][nMetrics]float64, len(on))
	for i, n := range on {
		onv[i] = n.components()
	}
	offv := make([][nMetrics]float64, len(off))
	for i, n := range off {
		offv[i] = n.components()
	}
	for k, m := range Metrics {
		switch m.kind {
		case aggStdDev:
			nt, st := 0.0, 0.0
			for _, v := range onv {
				nt++
				st += v[k]
			}
			mean := st / nt
			nvar := 0.0
			for _, v := range onv {
				dd := v[k] - mean
				nvar += float64(dd * dd)
			}
			d.Values[k] = math.Sqrt(nvar / nt)
		case aggSum:
			s := 0.0
			for _, v := range onv {
				s += v[k]
			}
			d.Values[k] = s
		case aggOffSum:
			s := 0.0
			for _, v := range offv {
				s += v[k]
			}
			d.Values[k] = s
		case aggMap:
			merged := map[[2]string]int{}
			for _, n := range on {
				for key, c := range n.instMap {
					merged[key] += c
				}
			}
			t := 0
			for _, c := range merged {
				t += c
			}
			d.Values[k] = float64(t - len(merged))
		}
	}
	return d
}

// Score is the cluster score of nodes (lower is better).
func Score(nodes []*Node) float64 { return Detailed(nodes).Score() }

// stats are running sums of the metrics over a set of nodes, so that the
// score after changing a few nodes costs a few operations, not a pass
// over the cluster.
type stats struct {
	n      float64
	sum    [nMetrics]float64
	sumsq  [nMetrics]float64
	off    [nMetrics]float64
	merged map[[2]string]int
	mTotal int
}

func newStats(nodes []*Node) *stats {
	s := &stats{merged: map[[2]string]int{}}
	for _, n := range nodes {
		s.add(n, 1)
	}
	return s
}

// add adds (sign 1) or removes (sign -1) a node's contribution.
func (s *stats) add(n *Node, sign float64) {
	v := n.components()
	if n.Offline {
		for k := range v {
			s.off[k] += sign * v[k]
		}
		return
	}
	s.n += sign
	for k := range v {
		s.sum[k] += sign * v[k]
		s.sumsq[k] += sign * float64(v[k]*v[k])
	}
	for key, c := range n.instMap {
		if sign > 0 {
			s.merged[key] += c
		} else if s.merged[key] -= c; s.merged[key] <= 0 {
			delete(s.merged, key)
		}
		s.mTotal += int(sign) * c
	}
}

// score is the score of the summed nodes.
func (s *stats) score() float64 {
	if s.n == 0 {
		return 0
	}
	return s.scoreOf(&s.sum, &s.sumsq, &s.off, float64(s.mTotal-len(s.merged)))
}

func (s *stats) scoreOf(sum, sumsq, off *[nMetrics]float64, mapVal float64) float64 {
	if s.n == 0 {
		return 0
	}
	total := 0.0
	for k, m := range Metrics {
		var v float64
		switch m.kind {
		case aggStdDev:
			mean := sum[k] / s.n
			v = math.Sqrt(max(0, sumsq[k]/s.n-float64(mean*mean)))
		case aggSum:
			v = sum[k]
		case aggOffSum:
			v = off[k]
		case aggMap:
			v = mapVal
		}
		total += float64(m.Weight * v)
	}
	return total
}

// scoreWith is the score after replacing nodes old[i] by nw[i], without
// changing s. Nodes keep their online status across a replacement.
func (s *stats) scoreWith(old, nw []*Node) float64 {
	sum, sumsq, off := s.sum, s.sumsq, s.off
	mapVal := float64(s.mTotal - len(s.merged))
	mapChanged := false
	for i := range old {
		o, n := old[i], nw[i]
		if o == n {
			continue
		}
		ov, nv := o.components(), n.components()
		if o.Offline {
			for k := range ov {
				off[k] += nv[k] - ov[k]
			}
			continue
		}
		for k := range ov {
			sum[k] += nv[k] - ov[k]
			sumsq[k] += float64(nv[k]*nv[k]) - float64(ov[k]*ov[k])
		}
		if len(o.instMap) > 0 || len(n.instMap) > 0 {
			mapChanged = true
		}
	}
	if mapChanged {
		mapVal = s.mapWith(old, nw)
	}
	return s.scoreOf(&sum, &sumsq, &off, mapVal)
}

func (s *stats) mapWith(old, nw []*Node) float64 {
	delta := map[[2]string]int{}
	for i := range old {
		if old[i] == nw[i] || old[i].Offline {
			continue
		}
		for k, c := range old[i].instMap {
			delta[k] -= c
		}
		for k, c := range nw[i].instMap {
			delta[k] += c
		}
	}
	total, size := s.mTotal, len(s.merged)
	for k, d := range delta {
		before := s.merged[k]
		after := before + d
		total += d
		if before > 0 && after <= 0 {
			size--
		} else if before <= 0 && after > 0 {
			size++
		}
	}
	return float64(total - size)
}

// replace updates s for nodes old[i] replaced by nw[i].
func (s *stats) replace(old, nw []*Node) {
	for i := range old {
		if old[i] != nw[i] {
			s.add(old[i], -1)
			s.add(nw[i], 1)
		}
	}
}

// OptimalScore is the lowest score a cluster can reach: only the total
// memory reserved for failovers cannot vanish (Ganeti's optimalCVScore).
func OptimalScore(nodes []*Node) float64 {
	if len(nodes) <= 1 {
		return 0
	}
	total, maxMem := 0.0, math.Inf(-1)
	for _, n := range nodes {
		total += n.TMem
		maxMem = max(maxMem, n.TMem)
	}
	less := total - maxMem
	if less <= 0 {
		return 0
	}
	drbd := 0
	for _, n := range nodes {
		for _, v := range n.peers {
			drbd += v
		}
	}
	return reservedMemRtotalCoeff * (float64(drbd)/less - float64(drbd)/total)
}

// gstats are the running statistics exactly as Ganeti keeps them when it
// scores an allocation on a pair of nodes (Utils/Statistics.hs: count,
// sum and variance, updated per node), so that pair allocations compare,
// and tie, as hail's do.
type gstats struct {
	empty bool
	n, s  [nMetrics]float64 // stddev: count and sum
	v     [nMetrics]float64 // stddev: variance; sums: the sum
	m     map[[2]string]int
}

func newGStats(nodes []*Node) *gstats {
	g := &gstats{m: map[[2]string]int{}}
	var on, off [][nMetrics]float64
	for _, n := range nodes {
		if n.Offline {
			off = append(off, n.components())
		} else {
			on = append(on, n.components())
			for k, c := range n.instMap {
				g.m[k] += c
			}
		}
	}
	if len(on) == 0 {
		g.empty = true
		return g
	}
	for k, m := range Metrics {
		switch m.kind {
		case aggStdDev:
			nt, st := 0.0, 0.0
			for _, v := range on {
				nt++
				st += v[k]
			}
			mean := st / nt
			nvar := 0.0
			for _, v := range on {
				d := v[k] - mean
				nvar += float64(d * d)
			}
			g.n[k], g.s[k], g.v[k] = nt, st, nvar/nt
		case aggSum:
			for _, v := range on {
				g.v[k] += v[k]
			}
		case aggOffSum:
			for _, v := range off {
				g.v[k] += v[k]
			}
		}
	}
	return g
}

// update replaces node old by nw, as updateClusterStatistics.
func (g *gstats) update(old, nw *Node) {
	x, y := old.components(), nw.components()
	for k, m := range Metrics {
		forOnline := m.kind != aggOffSum
		if forOnline == old.Offline {
			continue
		}
		switch m.kind {
		case aggStdDev:
			ds := y[k] - x[k]
			dss := float64(y[k]*y[k]) - float64(x[k]*x[k])
			n, s := g.n[k], g.s[k]
			dnnvar := (float64(n*dss) - float64(2*s*ds)) - float64(ds*ds)
			g.s[k] = s + ds
			g.v[k] = max(0, g.v[k]+dnnvar/float64(n*n))
		case aggSum, aggOffSum:
			g.v[k] += y[k] - x[k]
		case aggMap:
			if len(old.instMap) == 0 && len(nw.instMap) == 0 {
				continue
			}
			m := maps.Clone(g.m)
			for key, c := range old.instMap {
				m[key] -= c
			}
			for key, c := range nw.instMap {
				m[key] += c
			}
			g.m = m
		}
	}
}

func (g *gstats) score() float64 {
	if g.empty {
		return 0
	}
	total := 0.0
	for k, m := range Metrics {
		var v float64
		switch m.kind {
		case aggStdDev:
			v = math.Sqrt(g.v[k])
		case aggMap:
			t := 0
			for _, c := range g.m {
				t += c
			}
			v = float64(t - len(g.m))
		default:
			v = g.v[k]
		}
		total += float64(m.Weight * v)
	}
	return total
}
