package playbooks

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

// Severity of a verify finding, as Ganeti prints it.
const (
	SevError   = "ERROR"
	SevWarning = "WARNING"
	SevNotice  = "NOTICE"
)

// Finding is one verify result line, with Ganeti's error code
// (ENODESSH, ENODETIME, ...), the object kind and name it concerns.
type Finding struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Kind     string `json:"kind"` // cluster, node, instance, group
	Object   string `json:"object"`
	Message  string `json:"message"`
}

// Section is one "* Verifying ..." heading and what it found.
type Section struct {
	Title    string    `json:"title"`
	Findings []Finding `json:"findings"`
}

// VerifyReport is the whole of `cluster verify`.
type VerifyReport struct {
	Sections []Section `json:"sections"`
}

// Errors counts findings of severity ERROR.
func (r *VerifyReport) Errors() int {
	n := 0
	for _, s := range r.Sections {
		for _, f := range s.Findings {
			if f.Severity == SevError {
				n++
			}
		}
	}
	return n
}

// VerifyInput is what verify judges: the state, the facts every node gave,
// and the controller's own copy of the state file.
type VerifyInput struct {
	State     *statefile.State
	Facts     map[string]*NodeFacts // by node name; a missing entry means not asked
	StateSum  string                // sha256 of the controller's state.json
	MaxSkew   time.Duration         // allowed clock skew; Ganeti: 150 s
	MinVGSize float64               // MiB; Ganeti: 20480
	Bridges   []string              // bridges instances need (nicparams links)
	// CurrentHelpers are the paths of this ganetictl's copy helpers; other
	// helpers on the nodes are stale. Nil: helpers are not judged.
	CurrentHelpers []string
	// Group limits the per-group checks to one node group (-g).
	Group string
}

// RequiredTools are the node programs ganetictl calls, by enabled feature.
func RequiredTools(st *statefile.State) []string {
	tools := []string{"ip"}
	for _, t := range st.Cluster.EnabledDiskTemplates {
		switch t {
		case "plain":
			tools = append(tools, "lvm")
		case "drbd":
			tools = append(tools, "lvm", "drbdsetup")
		case "rbd":
			tools = append(tools, "rbd")
		}
	}
	for _, h := range st.Cluster.EnabledHypervisors {
		switch h {
		case "kvm":
			tools = append(tools, "qemu-system-x86_64", "qemu-img", "socat")
		case "xen-pvm", "xen-hvm":
			tools = append(tools, "xl")
		}
	}
	sort.Strings(tools)
	return compact(tools)
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Verify runs the configuration and node checks of `cluster verify`.
// Instance checks join with the instance issue.
func Verify(in VerifyInput) *VerifyReport {
	st := in.State
	if in.MaxSkew == 0 {
		in.MaxSkew = 150 * time.Second
	}
	r := &VerifyReport{}
	add := func(title string, fs []Finding) { r.Sections = append(r.Sections, Section{Title: title, Findings: fs}) }
	names := sortedNodes(st)

	add("Verifying cluster config", verifyConfig(st))
	var groupless []Finding
	for _, n := range names {
		node := st.Nodes[n]
		if _, ok := st.NodeGroups[node.Group]; !ok {
			groupless = append(groupless, Finding{SevError, "ECLUSTERDANGLINGNODES", "node", n, fmt.Sprintf("node belongs to a non-existing group %q", node.Group)})
		}
	}
	add("Verifying all nodes belong to an existing group", groupless)

	// Instance, volume and memory checks look at the whole cluster once;
	// each finding is shown in the section of the group its object is in
	// (an instance's: its primary node's), as Ganeti verifies group by group.
	status, orphans := verifyInstances(st, in)
	status = append(append(status, verifyDRBD(st, in)...), verifySplit(st)...)
	n1 := verifyN1(st, in)
	groupOf := func(f Finding) string {
		switch f.Kind {
		case "node":
			if n := st.Nodes[f.Object]; n != nil {
				return n.Group
			}
		case "instance":
			if i := st.Instances[f.Object]; i != nil {
				if n := st.Nodes[i.PrimaryNode]; n != nil {
					return n.Group
				}
			}
		}
		return ""
	}
	in2group := func(fs []Finding, g string) []Finding {
		var out []Finding
		for _, f := range fs {
			if grp := groupOf(f); grp == g || grp == "" && g == firstGroup(st) {
				out = append(out, f)
			}
		}
		return out
	}
	for _, g := range sortedKeys(st.NodeGroups) {
		if in.Group != "" && g != in.Group {
			continue
		}
		var members []string
		for _, n := range names {
			if st.Nodes[n].Group == g {
				members = append(members, n)
			}
		}
		add(fmt.Sprintf("Verifying group '%s'", g), nil)
		add(fmt.Sprintf("Gathering data (%d nodes)", len(members)), nil)
		add("Verifying configuration file consistency", verifyReplicas(st, in, members))
		add("Verifying node status", verifyNodes(st, in, members))
		add("Verifying instance status", in2group(status, g))
		add("Verifying orphan volumes", in2group(orphans, g))
		add("Verifying N+1 Memory redundancy", in2group(n1, g))
	}
	// Not a Ganeti section: shown only when there is something to say.
	if fs := verifyLeftovers(st, in); len(fs) > 0 {
		add("Verifying copy helpers and leftovers", fs)
	}
	add("Other Notes", otherNotes(st))
	return r
}

// firstGroup is where findings about objects of no group are shown.
func firstGroup(st *statefile.State) string {
	if gs := sortedKeys(st.NodeGroups); len(gs) > 0 {
		return gs[0]
	}
	return ""
}

// verifySplit warns about mirrored instances whose nodes are in
// different groups (Ganeti's EINSTANCESPLITGROUPS): allocation,
// evacuation and failover keep within a group.
func verifySplit(st *statefile.State) []Finding {
	var fs []Finding
	for _, name := range sortedKeys(st.Instances) {
		inst := st.Instances[name]
		byGroup := map[string][]string{}
		var order []string
		for _, n := range append([]string{inst.PrimaryNode}, inst.SecondaryNodes()...) {
			g := ""
			if node := st.Nodes[n]; node != nil {
				g = node.Group
			}
			if _, seen := byGroup[g]; !seen {
				order = append(order, g)
			}
			byGroup[g] = append(byGroup[g], n)
		}
		if len(order) < 2 {
			continue
		}
		var parts []string
		for _, g := range order { // the primary's group first
			parts = append(parts, fmt.Sprintf("%s (group %s)", strings.Join(byGroup[g], ", "), g))
		}
		fs = append(fs, Finding{SevWarning, "EINSTANCESPLITGROUPS", "instance", name,
			"instance has primary and secondary nodes in different groups: " + strings.Join(parts, ", ")})
	}
	return fs
}

func sortedNodes(st *statefile.State) []string {
	out := make([]string, 0, len(st.Nodes))
	for n := range st.Nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func verifyConfig(st *statefile.State) []Finding {
	var fs []Finding
	cfg := func(msg string, a ...any) {
		fs = append(fs, Finding{SevError, "ECLUSTERCFG", "cluster", st.Cluster.Name, fmt.Sprintf(msg, a...)})
	}
	master, ok := st.Nodes[st.Cluster.MasterNode]
	switch {
	case !ok:
		cfg("master node %q is not in the configuration", st.Cluster.MasterNode)
	case !master.MasterCandidate:
		cfg("the master node %s is not a master candidate", master.Name)
	}
	// Ganeti wants min(candidate_pool_size, master-capable online nodes) candidates.
	candidates, capable := 0, 0
	for _, n := range st.Nodes {
		if n.MasterCandidate {
			candidates++
		}
		if n.MasterCapable && !n.Offline && !n.Drained {
			capable++
		}
		if flags := btoi(n.MasterCandidate) + btoi(n.Drained) + btoi(n.Offline); flags > 1 {
			cfg("node %s has more than one of master candidate, drained and offline set", n.Name)
		}
	}
	want := min(st.Cluster.CandidatePoolSize, capable)
	if candidates < want {
		cfg("not enough master candidates: have %d, want %d (candidate pool size %d); promote nodes with `node modify -C yes`", candidates, want, st.Cluster.CandidatePoolSize)
	}
	macs := map[string]string{}
	for _, i := range st.Instances {
		if _, ok := st.Nodes[i.PrimaryNode]; !ok {
			fs = append(fs, Finding{SevError, "ECLUSTERDANGLINGINST", "instance", i.Name, fmt.Sprintf("instance lives on a non-existing node %q", i.PrimaryNode)})
		}
		for _, nic := range i.NICs {
			if other, dup := macs[nic.MAC]; dup {
				cfg("duplicate MAC address %s (instances %s and %s)", nic.MAC, other, i.Name)
			}
			macs[nic.MAC] = i.Name
		}
	}
	return fs
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// verifyReplicas checks that every master candidate holds the same state
// copy as the controller (Ganeti: config.data checksums on candidates).
func verifyReplicas(st *statefile.State, in VerifyInput, members []string) []Finding {
	var fs []Finding
	for _, n := range members {
		node := st.Nodes[n]
		f := in.Facts[n]
		if node.Offline || f == nil || !f.Reachable || !node.MasterCandidate {
			continue
		}
		switch {
		case f.StateSum == "":
			fs = append(fs, Finding{SevError, "ECLUSTERFILECHECK", "node", n, "master candidate has no copy of the state (" + StateReplicaPath + "); run `cluster redist-conf`"})
		case f.StateLineage != "" && f.StateLineage != st.Lineage:
			fs = append(fs, Finding{SevError, "ECLUSTERFILECHECK", "node", n, fmt.Sprintf("state copy belongs to another cluster (lineage %s, want %s)", f.StateLineage, st.Lineage)})
		case in.StateSum != "" && f.StateSum != in.StateSum:
			fs = append(fs, Finding{SevError, "ECLUSTERFILECHECK", "node", n, fmt.Sprintf("state copy differs from the controller's (serial %d, want %d); run `cluster redist-conf`", f.StateSerial, st.Serial)})
		}
	}
	return fs
}

func verifyNodes(st *statefile.State, in VerifyInput, members []string) []Finding {
	var fs []Finding
	tools := RequiredTools(st)
	for _, n := range members {
		node := st.Nodes[n]
		if node.Offline {
			continue
		}
		bad := func(sev, code, msg string, a ...any) {
			fs = append(fs, Finding{sev, code, "node", n, fmt.Sprintf(msg, a...)})
		}
		f := in.Facts[n]
		if f == nil || !f.Reachable {
			why := "no answer"
			if f != nil && f.Err != "" {
				why = f.Err
			}
			bad(SevError, "ENODESSH", "node is unreachable over ssh: %s", why)
			continue
		}
		if f.Hostname != "" && !sameHost(f.Hostname, n) {
			bad(SevError, "ENODESSH", "node reports its hostname as %q; ssh reaches a different machine than the state names", f.Hostname)
		}
		if skew := f.ClockSkew(); skew > in.MaxSkew {
			bad(SevError, "ENODETIME", "node time diverges by at least %.1fs from the controller", skew.Seconds())
		}
		for _, t := range tools {
			if t == "lvm" && (f.Tools["lvm"] != "" || f.Tools["lvs"] != "") {
				continue
			}
			if f.Tools[t] == "" {
				bad(SevError, "ENODEHV", "required tool %s is not installed", t)
			}
		}
		if node.VMCapable && st.Cluster.VolumeGroup != "" && uses(st, "plain", "drbd") {
			switch {
			case f.VG == nil:
				msg := "volume group " + st.Cluster.VolumeGroup + " missing"
				if f.VGError != "" {
					msg += ": " + f.VGError
				}
				bad(SevError, "ENODELVM", "%s", msg)
			case in.MinVGSize > 0 && f.VG.Size < in.MinVGSize:
				bad(SevError, "ENODELVM", "volume group %s too small (%.0f MiB, minimum %.0f MiB)", f.VG.Name, f.VG.Size, in.MinVGSize)
			}
		}
		for _, d := range []string{st.Cluster.FileStorageDir, st.Cluster.SharedFileStorageDir} {
			if d == "" || !usesDir(st, d) {
				continue
			}
			if ok, asked := f.Dirs[d]; asked && !ok {
				bad(SevError, "ENODEFILESTORAGEPATHUNUSABLE", "file storage directory %s is missing or not writable", d)
			}
		}
		if node.VMCapable {
			for _, b := range in.Bridges {
				if ok, asked := f.Bridges[b]; asked && !ok {
					bad(SevError, "ENODENET", "bridge %s is missing", b)
				}
			}
		}
		if uses(st, "drbd") && f.DRBD == "" {
			bad(SevError, "ENODEDRBDVERSION", "cannot read the DRBD status")
		}
	}
	return fs
}

func uses(st *statefile.State, templates ...string) bool {
	for _, t := range st.Cluster.EnabledDiskTemplates {
		for _, w := range templates {
			if t == w {
				return true
			}
		}
	}
	return false
}

func usesDir(st *statefile.State, d string) bool {
	if d == st.Cluster.FileStorageDir {
		return uses(st, "file")
	}
	return uses(st, "sharedfile")
}

// sameHost accepts a short name for an FQDN and vice versa.
func sameHost(reported, name string) bool {
	short := func(s string) string {
		for i := 0; i < len(s); i++ {
			if s[i] == '.' {
				return s[:i]
			}
		}
		return s
	}
	return reported == name || short(reported) == short(name)
}

func otherNotes(st *statefile.State) []Finding {
	var fs []Finding
	offline := 0
	for _, n := range st.Nodes {
		if n.Offline {
			offline++
		}
	}
	if offline > 0 {
		fs = append(fs, Finding{SevNotice, "", "cluster", st.Cluster.Name, fmt.Sprintf("%d offline node(s) found.", offline)})
	}
	nonRedundant := 0
	for _, i := range st.Instances {
		if i.DiskTemplate != "drbd" && i.DiskTemplate != "sharedfile" && i.DiskTemplate != "rbd" {
			nonRedundant++
		}
	}
	if nonRedundant > 0 {
		fs = append(fs, Finding{SevNotice, "", "cluster", st.Cluster.Name, fmt.Sprintf("%d non-redundant instance(s) found.", nonRedundant)})
	}
	return fs
}
