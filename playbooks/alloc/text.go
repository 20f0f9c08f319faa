package alloc

import (
	"fmt"
	"strconv"
	"strings"
)

// LoadText reads Ganeti's htools text backend (hbal -t, hspace -t;
// src/Ganeti/HTools/Backend/Text.hs): sections separated by empty lines
// with groups, nodes, instances, cluster tags and instance policies, one
// '|'-separated record a line. The cluster is not finished: call Finish.
func LoadText(data string) (*Cluster, error) {
	// As Haskell's lines: a final newline ends the last line.
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if data == "" {
		lines = nil
	}
	var sections [][]string
	cur := []string{}
	for _, l := range lines {
		if l == "" {
			sections = append(sections, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, l)
	}
	if len(lines) > 0 {
		sections = append(sections, cur)
	}
	if len(sections) < 4 {
		return nil, fmt.Errorf("Invalid format of the input file: %d sections instead of 4 or more", len(sections))
	}
	c := &Cluster{Policy: DefaultPolicy()}
	groups := map[string]int{}
	for _, l := range sections[0] {
		f := strings.Split(l, "|")
		if len(f) < 4 {
			return nil, fmt.Errorf("Invalid/incomplete group data: '%s'", l)
		}
		pol, err := ParseAllocPolicy(f[2])
		if err != nil {
			return nil, err
		}
		g := &Group{Name: f[0], UUID: f[1], AllocPolicy: pol, Policy: DefaultPolicy(), Tags: commaSplit(f[3])}
		if len(f) > 4 {
			g.Networks = commaSplit(f[4])
		}
		groups[f[1]] = len(c.Groups)
		c.Groups = append(c.Groups, g)
	}
	nodes := map[string]int{}
	for _, l := range sections[1] {
		n, err := loadTextNode(strings.Split(l, "|"), groups)
		if err != nil {
			return nil, err
		}
		nodes[n.Name] = len(c.Nodes)
		c.Nodes = append(c.Nodes, n)
	}
	for _, l := range sections[2] {
		in, err := loadTextInstance(strings.Split(l, "|"), nodes)
		if err != nil {
			return nil, err
		}
		c.Instances = append(c.Instances, in)
	}
	c.Tags = append([]string{}, sections[3]...)
	if len(sections) > 4 {
		for _, l := range sections[4] {
			owner, pol, err := loadTextPolicy(strings.Split(l, "|"))
			if err != nil {
				return nil, err
			}
			if owner == "" {
				c.Policy = pol
				continue
			}
			gi := c.GroupIndex(owner)
			if gi < 0 {
				return nil, fmt.Errorf("policy for unknown group '%s'", owner)
			}
			c.Groups[gi].Policy = pol
		}
	}
	return c, nil
}

// commaSplit splits a comma list; "" is no element.
func commaSplit(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func loadTextNode(f []string, groups map[string]int) (*Node, error) {
	defaults := []string{"1", "", "N", "0", "1", "1.0"} // spindles, tags, excl, free spindles, cpus of the node, speed
	if len(f) < 9 {
		return nil, fmt.Errorf("Invalid/incomplete node data: '%s'", strings.Join(f, "|"))
	}
	for len(f) < 15 {
		f = append(f, defaults[len(f)-9])
	}
	name := f[0]
	g, ok := groups[f[8]]
	if !ok {
		return nil, fmt.Errorf("Unknown group '%s' for node %s", f[8], name)
	}
	for _, v := range f[1:7] {
		if v == "?" {
			return NewNode(name, 0, 0, 0, 0, 0, 0, 0, true, 0, 0, g, false), nil
		}
	}
	var err error
	num := func(s string) float64 {
		v, e := strconv.ParseFloat(s, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("node %s: cannot parse %q", name, s)
		}
		return v
	}
	integer := func(s string) int {
		v, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = fmt.Errorf("node %s: cannot parse %q", name, s)
		}
		return v
	}
	tm, nm, fm, td, fd, tc := num(f[1]), integer(f[2]), integer(f[3]), num(f[4]), integer(f[5]), num(f[6])
	sp, fsp, ncpu, speed := integer(f[9]), integer(f[12]), integer(f[13]), num(f[14])
	var excl bool
	switch f[11] {
	case "Y":
		excl = true
	case "N":
	default:
		return nil, fmt.Errorf("Invalid exclusive_storage value for node '%s': %s", name, f[11])
	}
	if err != nil {
		return nil, err
	}
	n := NewNode(name, tm, nm, fm, td, fd, tc, ncpu, f[7] == "Y", sp, fsp, g, excl)
	n.Master = f[7] == "M"
	n.Tags = commaSplit(f[10])
	n.CPUSpeed = speed
	return n, nil
}

func loadTextInstance(f []string, nodes map[string]int) (*Instance, error) {
	if len(f) < 10 {
		return nil, fmt.Errorf("Invalid/incomplete instance data: '%s'", strings.Join(f, "|"))
	}
	defaults := []string{"1", "-", "N"}
	for len(f) < 13 {
		f = append(f, defaults[len(f)-10])
	}
	name := f[0]
	pri, ok := nodes[f[6]]
	if !ok {
		return nil, fmt.Errorf("Unknown node '%s' for instance %s", f[6], name)
	}
	sec := NoNode
	if f[7] != "" {
		if sec, ok = nodes[f[7]]; !ok {
			return nil, fmt.Errorf("Unknown node '%s' for instance %s", f[7], name)
		}
	}
	var err error
	integer := func(s string) int {
		v, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = fmt.Errorf("instance %s: cannot parse %q", name, s)
		}
		return v
	}
	mem, dsk, vcpus, su := integer(f[1]), integer(f[2]), integer(f[3]), integer(f[10])
	if err != nil {
		return nil, err
	}
	st, err := ParseStatus(f[4])
	if err != nil {
		return nil, err
	}
	var auto bool
	switch f[5] {
	case "Y":
		auto = true
	case "N":
	default:
		return nil, fmt.Errorf("Invalid auto_balance value '%s' for instance %s", f[5], name)
	}
	dt, err := ParseTemplate(f[8])
	if err != nil {
		return nil, fmt.Errorf("Instance %s: %v", name, err)
	}
	spindles := -1
	if f[11] != "-" {
		if spindles, err = strconv.Atoi(f[11]); err != nil {
			return nil, fmt.Errorf("instance %s: cannot parse %q", name, f[11])
		}
	}
	var forth bool
	switch f[12] {
	case "Y":
		forth = true
	case "N":
	default:
		return nil, fmt.Errorf("Invalid forthcoming value '%s' for instance %s", f[12], name)
	}
	if dt == DRBD && sec == pri {
		return nil, fmt.Errorf("Instance %s has same primary and secondary node - %s", name, f[6])
	}
	return &Instance{Name: name, Mem: mem, Dsk: dsk, Disks: []Disk{{Size: dsk, Spindles: spindles}}, VCPUs: vcpus,
		Status: st, Pri: pri, Sec: sec, Template: dt, SpindleUse: su, Tags: commaSplit(f[9]), AutoBalance: auto,
		Movable: dt.migratable(), Forthcoming: forth, Util: BaseUtil, NICs: 1}, nil
}

func loadTextSpec(owner, s string) (Spec, error) {
	f := commaSplit(s)
	if len(f) < 6 {
		return Spec{}, fmt.Errorf("Invalid ispec data for %s: %q", owner, s)
	}
	var v [6]int
	for i := range v {
		n, err := strconv.Atoi(f[i])
		if err != nil {
			return Spec{}, fmt.Errorf("Invalid ispec data for %s: %q", owner, s)
		}
		v[i] = n
	}
	return Spec{MemorySize: v[0], CPUCount: v[1], DiskSize: v[2], DiskCount: v[3], NICCount: v[4], SpindleUse: v[5]}, nil
}

func loadTextPolicy(f []string) (string, Policy, error) {
	if len(f) < 6 {
		return "", Policy{}, fmt.Errorf("Invalid ipolicy data: '%s'", strings.Join(f, "|"))
	}
	owner := f[0]
	var p Policy
	var err error
	if p.Std, err = loadTextSpec(owner+"/stdspec", f[1]); err != nil {
		return "", p, err
	}
	specs := strings.Split(f[2], ";")
	if f[2] == "" {
		specs = nil
	}
	if len(specs)%2 != 0 {
		return "", p, fmt.Errorf("Odd number of min/max specs for %s", owner)
	}
	for i := 0; i < len(specs); i += 2 {
		mn, err := loadTextSpec(owner+"/minspec", specs[i])
		if err != nil {
			return "", p, err
		}
		mx, err := loadTextSpec(owner+"/maxspec", specs[i+1])
		if err != nil {
			return "", p, err
		}
		p.MinMax = append(p.MinMax, MinMax{Min: mn, Max: mx})
	}
	for _, t := range commaSplit(f[3]) {
		dt, err := ParseTemplate(t)
		if err != nil {
			return "", p, err
		}
		p.DiskTemplates = append(p.DiskTemplates, dt)
	}
	if p.VCPURatio, err = strconv.ParseFloat(f[4], 64); err != nil {
		return "", p, fmt.Errorf("%s/vcpu_ratio: %q", owner, f[4])
	}
	if p.SpindleRatio, err = strconv.ParseFloat(f[5], 64); err != nil {
		return "", p, fmt.Errorf("%s/spindle_ratio: %q", owner, f[5])
	}
	return owner, p, nil
}

// WriteText writes the cluster in the text backend's format, which hbal
// and hspace read with -t.
func (c *Cluster) WriteText() string {
	var b strings.Builder
	for _, g := range c.Groups {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s\n", g.Name, g.UUID, g.AllocPolicy, strings.Join(g.Tags, ","), strings.Join(g.Networks, ","))
	}
	b.WriteString("\n")
	for _, n := range c.Nodes {
		flag := "N"
		if n.Offline {
			flag = "Y"
		} else if n.Master {
			flag = "M"
		}
		excl := "N"
		if n.ExclStorage {
			excl = "Y"
		}
		fmt.Fprintf(&b, "%s|%.0f|%d|%d|%.0f|%d|%.0f|%s|%s|%d|%s|%s|%d|%d|%f\n", n.Name, n.TMem, n.NMem, n.FMem, n.TDsk, n.FDsk, n.TCPU,
			flag, c.Groups[n.Group].UUID, n.TSpindles, strings.Join(n.Tags, ","), excl, n.FSpindles, n.NCPU, n.CPUSpeed)
	}
	b.WriteString("\n")
	for _, in := range c.Instances {
		sec := ""
		if in.Sec >= 0 {
			sec = c.Nodes[in.Sec].Name
		}
		auto, forth, sp := "N", "N", "-"
		if in.AutoBalance {
			auto = "Y"
		}
		if in.Forthcoming {
			forth = "Y"
		}
		if s := in.spindles(); s >= 0 {
			sp = strconv.Itoa(s)
		}
		fmt.Fprintf(&b, "%s|%d|%d|%d|%s|%s|%s|%s|%s|%s|%d|%s|%s\n", in.Name, in.Mem, in.Dsk, in.VCPUs, in.Status, auto,
			c.Nodes[in.Pri].Name, sec, in.Template, strings.Join(in.Tags, ","), in.SpindleUse, sp, forth)
	}
	b.WriteString("\n")
	for _, t := range c.Tags {
		b.WriteString(t + "\n")
	}
	b.WriteString("\n")
	b.WriteString(textPolicy("", c.Policy) + "\n")
	for _, g := range c.Groups {
		b.WriteString(textPolicy(g.Name, g.Policy) + "\n")
	}
	return b.String()
}

func textSpec(s Spec) string {
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", s.MemorySize, s.CPUCount, s.DiskSize, s.DiskCount, s.NICCount, s.SpindleUse)
}

func textPolicy(owner string, p Policy) string {
	var mm []string
	for _, m := range p.MinMax {
		mm = append(mm, textSpec(m.Min), textSpec(m.Max))
	}
	dts := make([]string, len(p.DiskTemplates))
	for i, t := range p.DiskTemplates {
		dts[i] = string(t)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s", owner, textSpec(p.Std), strings.Join(mm, ";"), strings.Join(dts, ","),
		strconv.FormatFloat(p.VCPURatio, 'f', 1, 64), strconv.FormatFloat(p.SpindleRatio, 'f', 1, 64))
}
