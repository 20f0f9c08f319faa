package alloc

import (
	"fmt"
	"slices"
	"strings"
)

// The cluster tags htools reads (src/Ganeti/HTools/Tags/Constants.hs).
const (
	TagExclusion       = "htools:iextags:"
	TagLocation        = "htools:nlocation:"
	TagDesiredLocation = "htools:desiredlocation:"
	TagMigration       = "htools:migration:"
	TagAllowMigration  = "htools:allowmigration:"
)

// FinishOptions are what Finish applies beyond the data itself.
type FinishOptions struct {
	// ExclusionPrefixes are exclusion tag prefixes besides the cluster's
	// htools:iextags: tags (hbal --exclusion-tags; each gets a ":").
	ExclusionPrefixes []string
	// Select and Exclude restrict which instances the balancer moves.
	Select, Exclude []string
	// IgnoreUtil drops dynamic utilisation (hbal --ignore-dynu).
	IgnoreUtil bool
}

// Finish derives what depends on all the data: instance exclusion and
// location tags, node primaries and secondaries, failover reserves,
// policies, migration tags and unaccounted memory. It returns Ganeti's
// warnings about nodes whose reports disagree with their records.
func (c *Cluster) Finish(o FinishOptions) ([]string, error) {
	inst := map[string]bool{}
	for _, in := range c.Instances {
		inst[in.Name] = true
	}
	var unknown []string
	for _, n := range append(slices.Clone(o.Select), o.Exclude...) {
		if !inst[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("Unknown instance(s): %s", strings.Join(unknown, ", "))
	}
	var exPrefixes, dlPrefixes []string
	for _, p := range o.ExclusionPrefixes {
		exPrefixes = append(exPrefixes, p+":")
	}
	for _, t := range c.Tags {
		if p, ok := strings.CutPrefix(t, TagExclusion); ok && p != "" {
			exPrefixes = append(exPrefixes, p)
		}
		if p, ok := strings.CutPrefix(t, TagDesiredLocation); ok && p != "" {
			dlPrefixes = append(dlPrefixes, p)
		}
	}
	for _, n := range c.Nodes {
		n.LocTags = tagsUnder(c.Tags, TagLocation, n.Tags)
		n.Pri, n.Sec, n.PriForth, n.SecForth = nil, nil, nil, nil
	}
	for _, in := range c.Instances {
		if o.IgnoreUtil {
			in.Util = Util{}
		}
		in.ExclTags = withPrefix(in.Tags, exPrefixes)
		in.DesiredLoc = withPrefix(in.Tags, dlPrefixes)
		if (len(o.Select) > 0 && !slices.Contains(o.Select, in.Name)) || slices.Contains(o.Exclude, in.Name) {
			in.Pinned = true
		}
		in.LocScore = 0
		if in.Sec != NoNode {
			in.LocScore = commonCount(c.Nodes[in.Pri].LocTags, c.Nodes[in.Sec].LocTags)
		}
	}
	for i, in := range c.Instances {
		c.Nodes[in.Pri].setPri(i, in)
		if in.Sec != NoNode {
			c.Nodes[in.Sec].setSec(i, in)
		}
	}
	var warnings []string
	for _, n := range c.Nodes {
		n.buildPeers(c.Instances)
		if n.Group >= 0 && n.Group < len(c.Groups) {
			n.SetPolicy(c.Groups[n.Group].Policy)
		}
		n.MigTags = tagsUnder(c.Tags, TagMigration, n.Tags)
		n.RMigTags = recvMigTags(c.Tags, n.MigTags)
		n.updateMem(c.Instances)
		dsk := int(n.TDsk) - n.FDsk
		for _, i := range append(slices.Clone(n.Pri), n.Sec...) {
			dsk -= c.Instances[i].Dsk
		}
		if n.XMem > 512 || dsk > 1024 {
			warnings = append(warnings, fmt.Sprintf("node %s is missing %d MB ram and %d GB disk", n.Name, n.XMem, dsk/1024))
		}
	}
	for _, in := range c.Instances {
		if c.instanceGroup(in) < 0 {
			in.Pinned = true
		}
		in.Movable = in.Template.migratable() && !in.Pinned
	}
	return warnings, nil
}

// tagsUnder are a node's tags P:... for each cluster tag PREFIX+P.
func tagsUnder(ctags []string, prefix string, ntags []string) map[string]bool {
	var out map[string]bool
	for _, ct := range ctags {
		p, ok := strings.CutPrefix(ct, prefix)
		if !ok {
			continue
		}
		for _, t := range ntags {
			if strings.HasPrefix(t, p+":") {
				if out == nil {
					out = map[string]bool{}
				}
				out[t] = true
			}
		}
	}
	return out
}

// recvMigTags are the migration tags a node accepts: its own and those
// the cluster allows to migrate to them (htools:allowmigration:A::B).
func recvMigTags(ctags []string, own map[string]bool) map[string]bool {
	if len(own) == 0 {
		return own
	}
	out := map[string]bool{}
	for t := range own {
		out[t] = true
		for _, ct := range ctags {
			rest, ok := strings.CutPrefix(ct, TagAllowMigration)
			if !ok {
				continue
			}
			from, to, ok := strings.Cut(rest, "::")
			if ok && !strings.Contains(to, "::") && to == t {
				out[from] = true
			}
		}
	}
	return out
}

func withPrefix(tags, prefixes []string) []string {
	var out []string
	for _, t := range tags {
		for _, p := range prefixes {
			if strings.HasPrefix(t, p) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

func commonCount(a, b map[string]bool) int {
	n := 0
	for k := range a {
		if b[k] {
			n++
		}
	}
	return n
}
