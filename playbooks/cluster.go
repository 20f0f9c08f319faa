package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// InitArgs are `cluster init`'s inputs: the inventory's cluster section with
// command-line flags applied.
type InitArgs struct {
	Name                        string
	Master                      string // node name
	MasterIP, MasterSecondaryIP string
	Group                       string
	VolumeGroup                 string
	EnabledHypervisors          []string
	EnabledDiskTemplates        []string
	FileStorageDir              string
	SharedFileStorageDir        string
	RBDPool                     string
	MACPrefix                   string
	MasterNetdev                string
	CandidatePoolSize           int
	BEParams, NICParams         statefile.Params
	HVParams                    map[string]statefile.Params
}

// The cluster's own opcodes.
var (
	// ClusterInitOp plans against a new, empty state of a new lineage: it
	// makes the state.
	ClusterInitOp = define(&Opcode[InitArgs]{
		ID: OpClusterInit, Command: "cluster init", Init: true,
		Subject: func(a InitArgs) string { return a.Name },
		Needs:   func(_ *statefile.State, a InitArgs) Needs { return Needs{Nodes: []string{a.Master}} },
		Plan:    ClusterInit,
	})
	ClusterModifyOp  = define(&Opcode[ModifyArgs]{ID: OpClusterSetParams, Command: "cluster modify", Plan: ClusterModify})
	ClusterRenameOp  = define(&Opcode[string]{ID: OpClusterRename, Command: "cluster rename", Subject: itself, Plan: ClusterRename})
	ClusterDestroyOp = define(&Opcode[struct{}]{ID: OpClusterDestroy, Command: "cluster destroy", Undo: Irreversible,
		Plan: func(env Env, _ struct{}) (*plan.Plan, error) { return ClusterDestroy(env) }})
	// TagsSetOp and TagsDelOp are the add-tags and remove-tags of every
	// noun.
	TagsSetOp = define(&Opcode[TagsArgs]{ID: OpTagsSet, Command: "add-tags", Subject: TagsArgs.subject,
		Plan: func(env Env, a TagsArgs) (*plan.Plan, error) { return Tags(env, a.Kind, a.Name, a.Tags, nil) }})
	TagsDelOp = define(&Opcode[TagsArgs]{ID: OpTagsDel, Command: "remove-tags", Subject: TagsArgs.subject,
		Plan: func(env Env, a TagsArgs) (*plan.Plan, error) { return Tags(env, a.Kind, a.Name, nil, a.Tags) }})
	// CopyfileOp is gnt-cluster copyfile: the file goes in the plan.
	CopyfileOp = define(&Opcode[CopyfileArgs]{ID: OpClusterCopyfile, Command: "cluster copyfile",
		Subject: func(a CopyfileArgs) string { return a.Path }, Plan: Copyfile})
	// RedistConfOp copies the state to every master candidate again.
	RedistConfOp = define(&Opcode[struct{}]{ID: OpClusterRedistConf, Command: "cluster redist-conf", Plan: RedistConf})
)

// TagsArgs name the tagged object (Kind plan.KindCluster, KindNode or
// KindInstance; Name empty for the cluster) and the tags.
type TagsArgs struct {
	Kind, Name string
	Tags       []string
}

func (a TagsArgs) subject() string {
	return strings.TrimSpace(a.Kind + " " + a.Name + " " + strings.Join(a.Tags, " "))
}

// CopyfileArgs are a file to copy to the same path on Nodes (none: every
// online node), only those of Group when it is set.
type CopyfileArgs struct {
	Path    string
	Mode    uint32
	Content []byte
	Nodes   []string
	Group   string
}

// Copyfile plans copying a file to the nodes, each at once.
func Copyfile(env Env, a CopyfileArgs) (*plan.Plan, error) {
	st := env.State
	nodes := a.Nodes
	if len(nodes) == 0 {
		nodes = allOnline(st)
	}
	var steps []plan.Step
	if a.Group != "" {
		if _, err := nodeGroup(st, a.Group); err != nil {
			return nil, err
		}
	}
	for _, n := range nodes {
		nd, err := node(st, n)
		if err != nil {
			return nil, err
		}
		if a.Group != "" && nd.Group != a.Group {
			continue
		}
		steps = append(steps, plan.Step{Node: n, Action: plan.Upload, Desc: "copy " + a.Path, Path: a.Path, Mode: a.Mode, Content: a.Content})
	}
	p := plan.New(plan.ClusterOp(OpClusterCopyfile, a.Path), st.Lineage, st.Serial)
	p.Add("copy the file", plan.Continue, steps...)
	return p, nil
}

// RedistConf plans the state's copy to the master candidates, and nothing
// else (gnt-cluster redist-conf).
func RedistConf(env Env, _ struct{}) (*plan.Plan, error) {
	st := env.State
	p := plan.New(plan.ClusterOp(OpClusterRedistConf), st.Lineage, st.Serial)
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// ClusterInit plans a new cluster with one node, the master. env.State must
// be an empty state carrying the new lineage.
func ClusterInit(env Env, a InitArgs) (*plan.Plan, error) {
	if env.State.Cluster.Name != "" {
		return nil, prereq(ErrExists, "Cluster is already initialised as %s; destroy it first or use another state directory", env.State.Cluster.Name)
	}
	f := env.Facts[a.Master]
	if err := nodePrereqs(a.Master, f, a.EnabledDiskTemplates, a.EnabledHypervisors, a.VolumeGroup); err != nil {
		return nil, err
	}
	p := plan.New(plan.ClusterOp(OpClusterInit, a.Name), env.State.Lineage, env.State.Serial)
	p.Add("prepare the master node", plan.Abort, prepareNode(a.Master, a.FileStorageDir, a.SharedFileStorageDir, a.EnabledDiskTemplates)...)

	cl := statefile.Cluster{
		Meta:                 statefile.Meta{UUID: env.NewID()},
		Name:                 a.Name,
		MasterNode:           a.Master,
		MasterNetdev:         a.MasterNetdev,
		MasterNetmask:        32,
		VolumeGroup:          a.VolumeGroup,
		MACPrefix:            a.MACPrefix,
		EnabledHypervisors:   a.EnabledHypervisors,
		EnabledDiskTemplates: a.EnabledDiskTemplates,
		FileStorageDir:       a.FileStorageDir,
		SharedFileStorageDir: a.SharedFileStorageDir,
		RBDPool:              a.RBDPool,
		CandidatePoolSize:    a.CandidatePoolSize,
		BEParams:             a.BEParams,
		NICParams:            a.NICParams,
		HVParams:             a.HVParams,
		Tags:                 []string{},
	}
	if err := p.Set(plan.KindCluster, a.Name, nil, &cl); err != nil {
		return nil, err
	}
	g := &statefile.NodeGroup{Meta: statefile.Meta{UUID: env.NewID()}, Name: a.Group, AllocPolicy: "preferred", Tags: []string{}}
	if err := p.Set(plan.KindNodeGroup, g.Name, nil, g); err != nil {
		return nil, err
	}
	n := &statefile.Node{Meta: statefile.Meta{UUID: env.NewID()}, Name: a.Master, PrimaryIP: a.MasterIP, SecondaryIP: a.MasterSecondaryIP,
		Group: a.Group, MasterCandidate: true, MasterCapable: true, VMCapable: true, Tags: []string{}}
	if err := p.Set(plan.KindNode, n.Name, nil, n); err != nil {
		return nil, err
	}
	ReplicateTo(p, a.Master)
	return p, nil
}

// nodePrereqs checks what `cluster init` and `node add` require of a node:
// it answered, and has the tools and storage the cluster's features need.
func nodePrereqs(name string, f *NodeFacts, templates, hvs []string, vg string) error {
	if f == nil || !f.Reachable {
		why := "it was not asked"
		if f != nil {
			why = f.Err
		}
		return prereq(ErrEnvironment, "Node %s is not reachable: %s", name, why)
	}
	if f.Hostname != "" && !sameHost(f.Hostname, name) {
		return prereq(ErrEnvironment, "Node %s answers with hostname %q: the inventory address reaches another machine; fix the address or the node's hostname", name, f.Hostname)
	}
	if skew := f.ClockSkew(); skew > MaxClockSkew {
		return prereq(ErrEnvironment, "Node %s's clock is %.0fs away from this machine's; fix its time (NTP) first", name, skew.Seconds())
	}
	st := &statefile.State{Cluster: statefile.Cluster{EnabledDiskTemplates: templates, EnabledHypervisors: hvs}}
	var missing []string
	for _, t := range RequiredTools(st) {
		if t == "lvm" && (f.Tools["lvm"] != "" || f.Tools["lvs"] != "") {
			continue
		}
		if f.Tools[t] == "" {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return prereq(ErrEnvironment, "Node %s lacks required tools: %v (install them, or disable the templates/hypervisors that need them)", name, missing)
	}
	if vg != "" && (slices.Contains(templates, "plain") || slices.Contains(templates, "drbd")) && f.VG == nil {
		msg := fmt.Sprintf("Node %s has no volume group %s", name, vg)
		if f.VGError != "" {
			msg += ": " + f.VGError
		}
		return prereq(ErrEnvironment, "%s (create it with vgcreate, or set cluster.volume_group)", msg)
	}
	return nil
}

// prepareNode creates the directories a node needs.
func prepareNode(node, fileDir, sharedDir string, templates []string) []plan.Step {
	dirs := []string{"/var/lib/ganeti/ganetictl"}
	if fileDir != "" && slices.Contains(templates, "file") {
		dirs = append(dirs, fileDir)
	}
	if sharedDir != "" && slices.Contains(templates, "sharedfile") {
		dirs = append(dirs, sharedDir)
	}
	return []plan.Step{{Node: node, Action: plan.Create, Desc: "create ganeti directories",
		Argv: append([]string{"mkdir", "-p", "-m", "0750"}, dirs...)}}
}

// ModifyArgs are `cluster modify`'s changes; zero values leave things as they are.
type ModifyArgs struct {
	BEParams             statefile.Params
	NICParams            statefile.Params
	HVParams             map[string]statefile.Params
	CandidatePoolSize    int
	VolumeGroup          *string
	EnabledHypervisors   []string
	EnabledDiskTemplates []string
	MACPrefix            string
	MasterNetdev         string
	// IPolicy is set over the cluster's instance policy (cluster_ipolicy.go).
	IPolicy *statefile.IPolicy
	// NDParams are node parameter defaults (oob_program, ...), over the
	// cluster's; MaintainNodeHealth sets maintain_node_health when not nil.
	NDParams           statefile.Params
	MaintainNodeHealth *bool
}

// ClusterModify plans a change of cluster parameters.
func ClusterModify(env Env, a ModifyArgs) (*plan.Plan, error) {
	st := env.State
	cl := cloneCluster(&st.Cluster)
	mergeParams(&cl.BEParams, a.BEParams)
	mergeParams(&cl.NICParams, a.NICParams)
	for hv, ps := range a.HVParams {
		if !slices.Contains(cl.EnabledHypervisors, hv) && !slices.Contains(a.EnabledHypervisors, hv) {
			return nil, prereq(ErrWrongInput, "Hypervisor %s is not enabled; enable it with --enabled-hypervisors first", hv)
		}
		if cl.HVParams == nil {
			cl.HVParams = map[string]statefile.Params{}
		}
		cur := cl.HVParams[hv]
		mergeParams(&cur, ps)
		cl.HVParams[hv] = cur
	}
	if a.CandidatePoolSize != 0 {
		if a.CandidatePoolSize < 1 {
			return nil, prereq(ErrWrongInput, "Candidate pool size must be at least 1")
		}
		cl.CandidatePoolSize = a.CandidatePoolSize
	}
	if a.VolumeGroup != nil {
		cl.VolumeGroup = *a.VolumeGroup
	}
	if a.EnabledHypervisors != nil {
		cl.EnabledHypervisors = a.EnabledHypervisors
	}
	if a.EnabledDiskTemplates != nil {
		for _, i := range st.Instances {
			if !slices.Contains(a.EnabledDiskTemplates, i.DiskTemplate) {
				return nil, prereq(ErrWrongState, "Cannot disable disk template %s: instance %s uses it", i.DiskTemplate, i.Name)
			}
		}
		cl.EnabledDiskTemplates = a.EnabledDiskTemplates
	}
	if a.MACPrefix != "" {
		cl.MACPrefix = a.MACPrefix
	}
	if a.MasterNetdev != "" {
		cl.MasterNetdev = a.MasterNetdev
	}
	if a.IPolicy != nil {
		if err := setClusterIPolicy(cl, a.IPolicy); err != nil {
			return nil, err
		}
	}
	if a.NDParams != nil {
		if err := checkNDParams(a.NDParams); err != nil {
			return nil, err
		}
		mergeParams(&cl.NDParams, a.NDParams)
	}
	if a.MaintainNodeHealth != nil {
		cl.MaintainNodeHealth = *a.MaintainNodeHealth
	}
	p := plan.New(plan.ClusterOp(OpClusterSetParams), st.Lineage, st.Serial)
	if err := p.Set(plan.KindCluster, cl.Name, &st.Cluster, cl); err != nil {
		return nil, err
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// ClusterRename plans a new cluster name.
func ClusterRename(env Env, name string) (*plan.Plan, error) {
	st := env.State
	if name == st.Cluster.Name {
		return nil, prereq(ErrWrongInput, "Neither the name nor the IP address of the cluster has changed")
	}
	cl := cloneCluster(&st.Cluster)
	cl.Name = name
	p := plan.New(plan.ClusterOp(OpClusterRename, name), st.Lineage, st.Serial)
	if err := p.Set(plan.KindCluster, name, &st.Cluster, cl); err != nil {
		return nil, err
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// ClusterDestroy plans the removal of ganetictl's traces from every node.
// Like Ganeti, it refuses while instances or nodes other than the master exist.
func ClusterDestroy(env Env) (*plan.Plan, error) {
	st := env.State
	if len(st.Instances) > 0 {
		return nil, prereq(ErrWrongState, "There are still %d instance(s) in the cluster; remove them first", len(st.Instances))
	}
	var others []string
	for n := range st.Nodes {
		if n != st.Cluster.MasterNode {
			others = append(others, n)
		}
	}
	sort.Strings(others)
	if len(others) > 0 {
		return nil, prereq(ErrWrongState, "There are still %d node(s) besides the master in the cluster (%v); remove them first", len(others), others)
	}
	p := plan.New(plan.ClusterOp(OpClusterDestroy), st.Lineage, st.Serial)
	p.Add("remove the state copy", plan.Continue, plan.Step{Node: st.Cluster.MasterNode, Action: plan.Remove,
		Desc: "remove ganetictl's state copy", Argv: []string{"rm", "-rf", "/var/lib/ganeti/ganetictl"}})
	return p, nil
}

// Tags plans adding or removing tags of the cluster, a node, an instance,
// a node group or a network.
func Tags(env Env, kind, name string, add, remove []string) (*plan.Plan, error) {
	st := env.State
	change := func(cur []string) ([]string, error) {
		out := cloneTags(cur)
		for _, t := range add {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		for _, t := range remove {
			i := slices.Index(out, t)
			if i < 0 {
				return nil, prereq(ErrWrongInput, "Tag(s) '%s' not found", t)
			}
			out = slices.Delete(out, i, i+1)
		}
		sort.Strings(out)
		return out, nil
	}
	op := OpTagsSet
	if len(remove) > 0 {
		op = OpTagsDel
	}
	switch kind {
	case plan.KindCluster:
		cl := cloneCluster(&st.Cluster)
		tags, err := change(cl.Tags)
		if err != nil {
			return nil, err
		}
		cl.Tags = tags
		p := plan.New(plan.ClusterOp(op, "cluster"), st.Lineage, st.Serial)
		ReplicateTo(p, masterCandidates(st)...)
		return p, p.Set(kind, cl.Name, &st.Cluster, cl)
	case plan.KindNode:
		n, err := node(st, name)
		if err != nil {
			return nil, err
		}
		c := cloneNode(n)
		if c.Tags, err = change(n.Tags); err != nil {
			return nil, err
		}
		p := plan.New(plan.Op{ID: op, Kind: plan.KindNode, Name: n.Name, Args: []string{"node " + n.Name}}, st.Lineage, st.Serial)
		ReplicateTo(p, masterCandidates(st)...)
		return p, p.Set(kind, n.Name, n, c)
	case plan.KindInstance:
		i, ok := st.Instances[name]
		if !ok {
			return nil, prereq(ErrUnknownEntity, "Instance '%s' not known", name)
		}
		c := *i
		tags, err := change(i.Tags)
		if err != nil {
			return nil, err
		}
		c.Tags = tags
		p := plan.New(plan.Op{ID: op, Kind: plan.KindInstance, Name: i.Name, Args: []string{"instance " + i.Name}}, st.Lineage, st.Serial)
		ReplicateTo(p, masterCandidates(st)...)
		return p, p.Set(kind, i.Name, i, &c)
	case plan.KindNodeGroup:
		g, err := nodeGroup(st, name)
		if err != nil {
			return nil, err
		}
		c := cloneGroup(g)
		if c.Tags, err = change(g.Tags); err != nil {
			return nil, err
		}
		p := plan.New(plan.Op{ID: op, Kind: plan.KindNodeGroup, Name: g.Name, Args: []string{"nodegroup " + g.Name}}, st.Lineage, st.Serial)
		ReplicateTo(p, masterCandidates(st)...)
		return p, p.Set(kind, g.Name, g, c)
	case plan.KindNetwork:
		n, err := network(st, name)
		if err != nil {
			return nil, err
		}
		c := cloneNetwork(n)
		if c.Tags, err = change(n.Tags); err != nil {
			return nil, err
		}
		p := plan.New(plan.Op{ID: op, Kind: plan.KindNetwork, Name: n.Name, Args: []string{"network " + n.Name}}, st.Lineage, st.Serial)
		ReplicateTo(p, masterCandidates(st)...)
		return p, p.Set(kind, n.Name, n, c)
	}
	return nil, fmt.Errorf("tags: unknown kind %q", kind)
}

// TagsOf are the tags of the named object of kind (see Tags).
func TagsOf(st *statefile.State, kind, name string) ([]string, error) {
	switch kind {
	case plan.KindCluster:
		return st.Cluster.Tags, nil
	case plan.KindNode:
		n, err := node(st, name)
		if err != nil {
			return nil, err
		}
		return n.Tags, nil
	case plan.KindInstance:
		i, err := instance(st, name)
		if err != nil {
			return nil, err
		}
		return i.Tags, nil
	case plan.KindNodeGroup:
		g, err := nodeGroup(st, name)
		if err != nil {
			return nil, err
		}
		return g.Tags, nil
	case plan.KindNetwork:
		n, err := network(st, name)
		if err != nil {
			return nil, err
		}
		return n.Tags, nil
	}
	return nil, fmt.Errorf("tags: unknown kind %q", kind)
}

func cloneCluster(c *statefile.Cluster) *statefile.Cluster {
	out := *c
	out.Tags = cloneTags(c.Tags)
	out.BEParams = cloneParams(c.BEParams)
	out.NICParams = cloneParams(c.NICParams)
	if c.HVParams != nil {
		out.HVParams = map[string]statefile.Params{}
		for k, v := range c.HVParams {
			out.HVParams[k] = cloneParams(v)
		}
	}
	return &out
}

// mergeParams applies changes to *dst; a value of "default" removes the key,
// as in Ganeti.
func mergeParams(dst *statefile.Params, changes statefile.Params) {
	if len(changes) == 0 {
		return
	}
	if *dst == nil {
		*dst = statefile.Params{}
	}
	for k, v := range changes {
		if s, ok := v.(string); ok && s == "default" {
			delete(*dst, k)
			continue
		}
		(*dst)[k] = v
	}
}
