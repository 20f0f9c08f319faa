package alloc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Ganeti's iallocator protocol (doc/iallocator.rst): a request is a JSON
// object with the cluster (node groups, nodes, instances, tags) and a
// "request" of one type; the answer is {"success", "info", "result"}.
// ParseRequest reads requests as hail does; Request.Answer answers them
// with this package's allocator; BuildRequest writes requests for
// external iallocators and ParseResponse reads their answers.

// Request types.
const (
	ReqAllocate          = "allocate"
	ReqRelocate          = "relocate"
	ReqChangeGroup       = "change-group"
	ReqNodeEvacuate      = "node-evacuate"
	ReqMultiAllocate     = "multi-allocate"
	ReqAllocateSecondary = "allocate-secondary"
)

// Request is a parsed iallocator request.
type Request struct {
	Cluster *Cluster
	Type    string
	// allocate and multi-allocate
	Allocs []AllocRequest
	// relocate, allocate-secondary
	Name          string
	RelocateFrom  []string
	RequiredNodes int
	// node-evacuate, change-group
	Instances    []string
	EvacMode     EvacMode
	TargetGroups []string // group names
	Warnings     []string
}

// AllocRequest is one instance to allocate.
type AllocRequest struct {
	NewInstance
	Group         string // "": any
	RequiredNodes int
	RestrictTo    []string
}

type jsonSpec struct {
	MemorySize *int `json:"memory-size"`
	CPUCount   *int `json:"cpu-count"`
	DiskSize   *int `json:"disk-size"`
	DiskCount  *int `json:"disk-count"`
	NICCount   *int `json:"nic-count"`
	SpindleUse *int `json:"spindle-use"`
}

func (j jsonSpec) spec(def Spec) Spec {
	set := func(p *int, d int) int {
		if p != nil {
			return *p
		}
		return d
	}
	return Spec{MemorySize: set(j.MemorySize, def.MemorySize), CPUCount: set(j.CPUCount, def.CPUCount), DiskSize: set(j.DiskSize, def.DiskSize),
		DiskCount: set(j.DiskCount, def.DiskCount), NICCount: set(j.NICCount, def.NICCount), SpindleUse: set(j.SpindleUse, def.SpindleUse)}
}

type jsonPolicy struct {
	Std    *jsonSpec `json:"std"`
	MinMax []struct {
		Min jsonSpec `json:"min"`
		Max jsonSpec `json:"max"`
	} `json:"minmax"`
	DiskTemplates []string `json:"disk-templates"`
	VCPURatio     *float64 `json:"vcpu-ratio"`
	SpindleRatio  *float64 `json:"spindle-ratio"`
}

func (j *jsonPolicy) policy() (Policy, error) {
	p := DefaultPolicy()
	if j == nil {
		return p, nil
	}
	if j.Std != nil {
		p.Std = j.Std.spec(p.Std)
	}
	if j.MinMax != nil {
		p.MinMax = nil
		for _, mm := range j.MinMax {
			p.MinMax = append(p.MinMax, MinMax{Min: mm.Min.spec(Spec{}), Max: mm.Max.spec(Spec{})})
		}
	}
	if j.DiskTemplates != nil {
		p.DiskTemplates = nil
		for _, t := range j.DiskTemplates {
			dt, err := ParseTemplate(t)
			if err != nil {
				return p, err
			}
			p.DiskTemplates = append(p.DiskTemplates, dt)
		}
	}
	if j.VCPURatio != nil {
		p.VCPURatio = *j.VCPURatio
	}
	if j.SpindleRatio != nil {
		p.SpindleRatio = *j.SpindleRatio
	}
	return p, nil
}

type jsonGroup struct {
	Name        string      `json:"name"`
	AllocPolicy string      `json:"alloc_policy"`
	Networks    []string    `json:"networks"`
	IPolicy     *jsonPolicy `json:"ipolicy"`
	Tags        []string    `json:"tags"`
}

type jsonNode struct {
	Tags            []string `json:"tags"`
	PrimaryIP       string   `json:"primary_ip,omitempty"`
	SecondaryIP     string   `json:"secondary_ip,omitempty"`
	Offline         bool     `json:"offline"`
	Drained         bool     `json:"drained"`
	MasterCandidate bool     `json:"master_candidate"`
	Group           string   `json:"group"`
	MasterCapable   bool     `json:"master_capable"`
	VMCapable       *bool    `json:"vm_capable"`
	NDParams        struct {
		ExclusiveStorage bool `json:"exclusive_storage"`
		SpindleCount     int  `json:"spindle_count"`
	} `json:"ndparams"`
	TotalMemory    *float64 `json:"total_memory,omitempty"`
	ReservedMemory *int     `json:"reserved_memory,omitempty"`
	FreeMemory     *int     `json:"free_memory,omitempty"`
	TotalDisk      *float64 `json:"total_disk,omitempty"`
	FreeDisk       *int     `json:"free_disk,omitempty"`
	TotalSpindles  *int     `json:"total_spindles,omitempty"`
	FreeSpindles   *int     `json:"free_spindles,omitempty"`
	TotalCPUs      *float64 `json:"total_cpus,omitempty"`
	ReservedCPUs   *int     `json:"reserved_cpus,omitempty"`
	IPriMemory     *int     `json:"i_pri_memory,omitempty"`
	IPriUpMemory   *int     `json:"i_pri_up_memory,omitempty"`
}

type jsonDisk struct {
	Size     int    `json:"size"`
	Mode     string `json:"mode,omitempty"`
	Spindles *int   `json:"spindles,omitempty"`
	DevType  string `json:"dev_type,omitempty"`
}

type jsonNIC struct {
	MAC     *string `json:"mac,omitempty"`
	IP      *string `json:"ip"`
	Mode    *string `json:"mode,omitempty"`
	Link    *string `json:"link,omitempty"`
	Network *string `json:"network,omitempty"`
}

type jsonInstance struct {
	Name           string     `json:"name,omitempty"`
	Tags           []string   `json:"tags"`
	AdminState     string     `json:"admin_state,omitempty"`
	VCPUs          int        `json:"vcpus"`
	Memory         int        `json:"memory"`
	SpindleUse     int        `json:"spindle_use"`
	OS             string     `json:"os,omitempty"`
	Nodes          []string   `json:"nodes,omitempty"`
	NICs           []jsonNIC  `json:"nics"`
	Disks          []jsonDisk `json:"disks"`
	DiskSpaceTotal int        `json:"disk_space_total"`
	DiskTemplate   string     `json:"disk_template"`
	DisksActive    *bool      `json:"disks_active,omitempty"`
	Hypervisor     string     `json:"hypervisor,omitempty"`
	Forthcoming    bool       `json:"forthcoming,omitempty"`
	// allocate requests
	GroupName     *string  `json:"group_name,omitempty"`
	RequiredNodes int      `json:"required_nodes,omitempty"`
	Restrict      []string `json:"restrict-to-nodes,omitempty"`
}

type jsonRequest struct {
	Version            int                        `json:"version"`
	ClusterName        string                     `json:"cluster_name"`
	ClusterTags        []string                   `json:"cluster_tags"`
	EnabledHypervisors []string                   `json:"enabled_hypervisors"`
	IPolicy            *jsonPolicy                `json:"ipolicy,omitempty"`
	NodeGroups         map[string]jsonGroup       `json:"nodegroups"`
	Nodes              map[string]jsonNode        `json:"nodes"`
	Instances          map[string]jsonInstance    `json:"instances"`
	Request            map[string]json.RawMessage `json:"request"`
}

// ParseOptions tune how a request is read.
type ParseOptions struct {
	// StaticKVMNodeMem replaces the memory a KVM node reports for itself
	// (hail --static-kvm-node-memory; Ganeti's default 4096, 0: as
	// reported).
	StaticKVMNodeMem int
}

// DefaultStaticKVMNodeMem is hail's default.
const DefaultStaticKVMNodeMem = 4096

func (n *jsonNode) live() bool { return !n.Offline && (n.VMCapable == nil || *n.VMCapable) }

// ParseRequest reads an iallocator request.
func ParseRequest(data []byte, po ParseOptions) (*Request, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("Invalid JSON: %v", err)
	}
	if _, ok := top["request"]; !ok {
		return nil, fmt.Errorf("invalid iallocator message: key 'request' not found")
	}
	var jr jsonRequest
	if err := json.Unmarshal(data, &jr); err != nil {
		return nil, fmt.Errorf("invalid iallocator message: %v", err)
	}
	c := &Cluster{Name: jr.ClusterName, Tags: jr.ClusterTags, Policy: DefaultPolicy()}
	if jr.IPolicy != nil {
		p, err := jr.IPolicy.policy()
		if err != nil {
			return nil, err
		}
		c.Policy = p
	}
	if len(jr.EnabledHypervisors) > 0 {
		c.Hypervisor = jr.EnabledHypervisors[0]
	}
	guuids := sortedMapKeys(jr.NodeGroups)
	gidx := map[string]int{}
	for _, u := range guuids {
		jg := jr.NodeGroups[u]
		ap, err := ParseAllocPolicy(jg.AllocPolicy)
		if err != nil {
			return nil, fmt.Errorf("invalid data for group '%s': %v", u, err)
		}
		pol, err := jg.IPolicy.policy()
		if err != nil {
			return nil, fmt.Errorf("invalid data for group '%s': %v", u, err)
		}
		gidx[u] = len(c.Groups)
		c.Groups = append(c.Groups, &Group{Name: jg.Name, UUID: u, AllocPolicy: ap, Networks: jg.Networks, Policy: pol, Tags: jg.Tags})
	}
	nidx := map[string]int{}
	for _, name := range sortedMapKeys(jr.Nodes) {
		jn := jr.Nodes[name]
		g, ok := gidx[jn.Group]
		if !ok {
			return nil, fmt.Errorf("Unknown group '%s' for node %s", jn.Group, name)
		}
		live := jn.live()
		fl := func(p *float64) float64 {
			if !live || p == nil {
				return 0
			}
			return *p
		}
		in := func(p *int) int {
			if !live || p == nil {
				return 0
			}
			return *p
		}
		sp := jn.NDParams.SpindleCount
		if jn.NDParams.ExclusiveStorage {
			sp = in(jn.TotalSpindles)
		}
		n := NewNode(name, fl(jn.TotalMemory), in(jn.ReservedMemory), in(jn.FreeMemory), fl(jn.TotalDisk), in(jn.FreeDisk),
			fl(jn.TotalCPUs), in(jn.ReservedCPUs), !live || jn.Drained, sp, in(jn.FreeSpindles), g, jn.NDParams.ExclusiveStorage)
		n.Tags = jn.Tags
		n.Drained = jn.Drained
		n.NoVM = jn.VMCapable != nil && !*jn.VMCapable
		if c.Hypervisor == "kvm" && po.StaticKVMNodeMem > 0 {
			n.NMem = po.StaticKVMNodeMem
		}
		nidx[name] = len(c.Nodes)
		c.Nodes = append(c.Nodes, n)
	}
	for _, name := range sortedMapKeys(jr.Instances) {
		ji := jr.Instances[name]
		in, err := ji.instance(name)
		if err != nil {
			return nil, err
		}
		if len(ji.Nodes) == 0 {
			return nil, fmt.Errorf("empty node list for instance %s", name)
		}
		var ok bool
		if in.Pri, ok = nidx[ji.Nodes[0]]; !ok {
			return nil, fmt.Errorf("Unknown node '%s' for instance %s", ji.Nodes[0], name)
		}
		if len(ji.Nodes) > 1 {
			if in.Sec, ok = nidx[ji.Nodes[1]]; !ok {
				return nil, fmt.Errorf("Unknown node '%s' for instance %s", ji.Nodes[1], name)
			}
		}
		c.Instances = append(c.Instances, in)
	}
	warnings, err := c.Finish(FinishOptions{})
	if err != nil {
		return nil, err
	}
	r := &Request{Cluster: c, Warnings: warnings}
	rq := jr.Request
	str := func(k string) (string, error) {
		var s string
		raw, ok := rq[k]
		if !ok {
			return "", fmt.Errorf("invalid request dict: key '%s' not found", k)
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("invalid request dict: key '%s': Unable to read String", k)
		}
		return s, nil
	}
	if r.Type, err = str("type"); err != nil {
		return nil, err
	}
	get := func(k string, v any) error {
		raw, ok := rq[k]
		if !ok {
			return fmt.Errorf("invalid request dict: key '%s' not found", k)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("invalid request dict: key '%s': %v", k, err)
		}
		return nil
	}
	switch r.Type {
	case ReqAllocate:
		var ji jsonInstance
		raw, _ := json.Marshal(rq)
		if err := json.Unmarshal(raw, &ji); err != nil {
			return nil, fmt.Errorf("invalid request dict: %v", err)
		}
		a, err := ji.allocRequest(c)
		if err != nil {
			return nil, err
		}
		r.Allocs = []AllocRequest{a}
	case ReqMultiAllocate:
		var list []jsonInstance
		if err := get("instances", &list); err != nil {
			return nil, err
		}
		for _, ji := range list {
			a, err := ji.allocRequest(c)
			if err != nil {
				return nil, err
			}
			r.Allocs = append(r.Allocs, a)
		}
	case ReqRelocate:
		if r.Name, err = str("name"); err != nil {
			return nil, err
		}
		if err := get("required_nodes", &r.RequiredNodes); err != nil {
			return nil, err
		}
		if err := get("relocate_from", &r.RelocateFrom); err != nil {
			return nil, err
		}
	case ReqAllocateSecondary:
		if r.Name, err = str("name"); err != nil {
			return nil, err
		}
	case ReqNodeEvacuate:
		if err := get("instances", &r.Instances); err != nil {
			return nil, err
		}
		var mode string
		if err := get("evac_mode", &mode); err != nil {
			return nil, err
		}
		if r.EvacMode, err = ParseEvacMode(mode); err != nil {
			return nil, err
		}
	case ReqChangeGroup:
		if err := get("instances", &r.Instances); err != nil {
			return nil, err
		}
		var uuids []string
		if err := get("target_groups", &uuids); err != nil {
			return nil, err
		}
		for _, u := range uuids {
			g := c.GroupIndex(u)
			if g < 0 {
				return nil, fmt.Errorf("unknown target group '%s'", u)
			}
			r.TargetGroups = append(r.TargetGroups, c.Groups[g].Name)
		}
	default:
		return nil, fmt.Errorf("Invalid request type '%s'", r.Type)
	}
	for _, n := range r.Instances {
		if c.InstanceIndex(n) < 0 {
			return nil, fmt.Errorf("Unknown instance '%s'", n)
		}
	}
	if r.Name != "" && c.InstanceIndex(r.Name) < 0 {
		return nil, fmt.Errorf("Unknown instance '%s'", r.Name)
	}
	return r, nil
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (ji *jsonInstance) disks() []Disk {
	out := make([]Disk, len(ji.Disks))
	for i, d := range ji.Disks {
		out[i] = Disk{Size: d.Size, Spindles: -1}
		if d.Spindles != nil {
			out[i].Spindles = *d.Spindles
		}
	}
	return out
}

func (ji *jsonInstance) instance(name string) (*Instance, error) {
	dt, err := ParseTemplate(ji.DiskTemplate)
	if err != nil {
		return nil, fmt.Errorf("invalid data for instance '%s': %v", name, err)
	}
	st := StatusRunning
	switch ji.AdminState {
	case "down":
		st = StatusDown
	case "offline":
		st = StatusOffline
	case "", "up":
	default:
		return nil, fmt.Errorf("invalid data for instance '%s': admin_state %q", name, ji.AdminState)
	}
	in := &Instance{Name: name, Mem: ji.Memory, Dsk: ji.DiskSpaceTotal, Disks: ji.disks(), VCPUs: ji.VCPUs, Status: st,
		Pri: NoNode, Sec: NoNode, Template: dt, SpindleUse: ji.SpindleUse, Tags: ji.Tags, AutoBalance: true,
		Movable: dt.migratable(), Forthcoming: ji.Forthcoming, Util: BaseUtil, NICs: len(ji.NICs), OS: ji.OS, Hypervisor: ji.Hypervisor}
	for _, n := range ji.NICs {
		net := ""
		if n.Network != nil {
			net = *n.Network
		}
		in.Networks = append(in.Networks, net)
	}
	return in, nil
}

func (ji *jsonInstance) allocRequest(c *Cluster) (AllocRequest, error) {
	if ji.Name == "" {
		return AllocRequest{}, fmt.Errorf("invalid request dict: key 'name' not found")
	}
	in, err := ji.instance(ji.Name)
	if err != nil {
		return AllocRequest{}, err
	}
	a := AllocRequest{NewInstance: NewInstance{Name: in.Name, Mem: in.Mem, VCPUs: in.VCPUs, Disks: in.Disks, Template: in.Template,
		SpindleUse: in.SpindleUse, Tags: in.Tags, Networks: in.Networks, NICs: in.NICs, Dsk: in.Dsk},
		RequiredNodes: ji.RequiredNodes, RestrictTo: ji.Restrict}
	if ji.GroupName != nil {
		a.Group = *ji.GroupName
	}
	return a, nil
}

// Response is an iallocator's answer.
type Response struct {
	Success bool            `json:"success"`
	Info    string          `json:"info"`
	Result  json.RawMessage `json:"result"`
}

// Answer answers the request with this package's allocator, as hail.
func (r *Request) Answer(o AllocOptions) (*Response, *Cluster) {
	ok := func(info string, result any, c *Cluster) (*Response, *Cluster) {
		b, _ := json.Marshal(result)
		return &Response{Success: true, Info: "Request successful: " + info, Result: b}, c
	}
	failed := func(err error) (*Response, *Cluster) {
		return &Response{Success: false, Info: "Request failed: " + errInfo(err), Result: json.RawMessage("[]")}, nil
	}
	c := r.Cluster
	switch r.Type {
	case ReqAllocate:
		a := r.Allocs[0]
		oo := o
		if len(a.RestrictTo) > 0 && len(oo.RestrictToNodes) == 0 {
			oo.RestrictToNodes = a.RestrictTo
		}
		if a.RequiredNodes != 0 && a.RequiredNodes != a.Template.RequiredNodes() {
			return failed(fmt.Errorf("Unsupported number of nodes, only one or two  supported"))
		}
		p, err := c.Allocate(a.NewInstance, a.Group, oo)
		if err != nil {
			return failed(err)
		}
		return ok(strings.Join(p.Info, ", "), p.Nodes, p.cluster)
	case ReqMultiAllocate:
		type item struct {
			name  string
			nodes []string
		}
		var done [][]any
		var failedNames []string
		cur := c
		for _, a := range r.Allocs {
			p, err := cur.Allocate(a.NewInstance, a.Group, o)
			if err != nil {
				failedNames = append(failedNames, a.Name)
				continue
			}
			done = append(done, []any{a.Name, p.Nodes})
			cur = p.cluster
		}
		if done == nil {
			done = [][]any{}
		}
		if failedNames == nil {
			failedNames = []string{}
		}
		info := fmt.Sprintf("%d instances failed to allocate and %d were allocated successfully", len(failedNames), len(done))
		return ok(info, []any{done, failedNames}, cur)
	case ReqRelocate:
		nodes, fin, err := c.Relocate(r.Name, r.RelocateFrom, o)
		if err != nil {
			return failed(err)
		}
		return ok("success", nodes, fin)
	case ReqAllocateSecondary:
		p, err := c.AllocateSecondary(r.Name, o)
		if err != nil {
			return failed(err)
		}
		return ok(strings.Join(p.Info, ", "), p.Nodes[1], p.cluster)
	case ReqNodeEvacuate, ReqChangeGroup:
		var ev *Evacuation
		var err error
		if r.Type == ReqNodeEvacuate {
			ev, err = c.EvacuateInstances(r.Instances, r.EvacMode, o)
		} else {
			ev, err = c.ChangeGroup(r.Instances, r.TargetGroups, o)
		}
		if err != nil {
			return failed(err)
		}
		info := fmt.Sprintf("%d instances failed to move and %d were moved successfully", len(ev.Failed), len(ev.Moved))
		return ok(info, ev.result(), ev.Cluster)
	}
	return failed(fmt.Errorf("Invalid request type '%s'", r.Type))
}

// errInfo is an error as hail words it: a refusal's log, else the error.
func errInfo(err error) string {
	if r, ok := err.(*Refusal); ok && len(r.Info) > 0 {
		return strings.Join(r.Info, ", ")
	}
	return err.Error()
}

// Marshal writes the answer as hail does (one line).
func (r *Response) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r)
	return bytes.TrimSpace(b.Bytes())
}

// ParseResponse reads an iallocator's answer ("nodes" is accepted for
// "result", as Ganeti does).
func ParseResponse(data []byte) (*Response, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("iallocator answer is not JSON: %v", err)
	}
	r := &Response{}
	for _, k := range []string{"success", "info"} {
		if _, ok := raw[k]; !ok {
			return nil, fmt.Errorf("iallocator answer lacks %q", k)
		}
	}
	if err := json.Unmarshal(raw["success"], &r.Success); err != nil {
		return nil, fmt.Errorf("iallocator answer: success: %v", err)
	}
	if err := json.Unmarshal(raw["info"], &r.Info); err != nil {
		return nil, fmt.Errorf("iallocator answer: info: %v", err)
	}
	res, ok := raw["result"]
	if !ok {
		res, ok = raw["nodes"]
	}
	if !ok {
		return nil, fmt.Errorf("iallocator answer lacks \"result\"")
	}
	r.Result = res
	return r, nil
}

// Nodes reads an allocate or relocate result: node names.
func (r *Response) Nodes() ([]string, error) {
	var out []string
	if err := json.Unmarshal(r.Result, &out); err != nil {
		return nil, fmt.Errorf("iallocator result is not a list of node names: %v", err)
	}
	return out, nil
}

// EvacResult reads a node-evacuate or change-group result.
func (r *Response) EvacResult() (*Evacuation, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(r.Result, &parts); err != nil || len(parts) != 3 {
		return nil, fmt.Errorf("iallocator result is not [moved, failed, jobs]")
	}
	ev := &Evacuation{}
	var moved [][]json.RawMessage
	if err := json.Unmarshal(parts[0], &moved); err != nil {
		return nil, fmt.Errorf("iallocator result: moved: %v", err)
	}
	for _, m := range moved {
		if len(m) != 3 {
			return nil, fmt.Errorf("iallocator result: moved entry of %d items", len(m))
		}
		var mv EvacMoved
		if json.Unmarshal(m[0], &mv.Instance) != nil || json.Unmarshal(m[1], &mv.Group) != nil || json.Unmarshal(m[2], &mv.Nodes) != nil {
			return nil, fmt.Errorf("iallocator result: bad moved entry")
		}
		ev.Moved = append(ev.Moved, mv)
	}
	var failed [][]string
	if err := json.Unmarshal(parts[1], &failed); err != nil {
		return nil, fmt.Errorf("iallocator result: failed: %v", err)
	}
	for _, f := range failed {
		if len(f) == 2 {
			ev.Failed = append(ev.Failed, EvacFailed{Instance: f[0], Reason: f[1]})
		}
	}
	var jobs [][]map[string]any
	if err := json.Unmarshal(parts[2], &jobs); err != nil {
		return nil, fmt.Errorf("iallocator result: jobs: %v", err)
	}
	for _, j := range jobs {
		var ops []EvacOp
		for _, op := range j {
			eo := EvacOp{}
			eo.ID, _ = op["OP_ID"].(string)
			eo.Instance, _ = op["instance_name"].(string)
			if t, ok := op["target_node"].(string); ok {
				eo.Node = t
			}
			if t, ok := op["remote_node"].(string); ok {
				eo.Node = t
			}
			ops = append(ops, eo)
		}
		ev.Jobs = append(ev.Jobs, ops)
	}
	return ev, nil
}

// BuildRequest writes an iallocator request (protocol version 2) for the
// cluster, as Ganeti's master writes it for external iallocators.
func (c *Cluster) BuildRequest(req map[string]any) ([]byte, error) {
	jr := map[string]any{"version": 2, "cluster_name": c.Name, "cluster_tags": nonNil(c.Tags),
		"enabled_hypervisors": []string{c.Hypervisor}, "ipolicy": policyJSON(c.Policy)}
	if c.Hypervisor == "" {
		jr["enabled_hypervisors"] = []string{}
	}
	groups := map[string]any{}
	for _, g := range c.Groups {
		groups[g.uuid()] = map[string]any{"name": g.Name, "alloc_policy": g.AllocPolicy.String(), "networks": nonNil(g.Networks),
			"ipolicy": policyJSON(g.Policy), "tags": nonNil(g.Tags)}
	}
	jr["nodegroups"] = groups
	nodes := map[string]any{}
	for _, n := range c.Nodes {
		jn := map[string]any{"tags": nonNil(n.Tags), "offline": n.Offline && !n.Drained && !n.NoVM, "drained": n.Drained,
			"master_candidate": n.Master, "master_capable": true, "vm_capable": !n.NoVM, "group": c.Groups[n.Group].uuid(),
			"ndparams": map[string]any{"exclusive_storage": n.ExclStorage, "spindle_count": n.TSpindles}}
		if !n.Offline || n.Drained {
			ipri, ipriUp := 0, 0
			for _, i := range n.Pri {
				ipri += c.Instances[i].Mem
				if c.Instances[i].running() {
					ipriUp += c.Instances[i].Mem
				}
			}
			for k, v := range map[string]any{"total_memory": n.TMem, "reserved_memory": n.NMem, "free_memory": n.FMem,
				"total_disk": n.TDsk, "free_disk": n.FDsk, "total_spindles": n.TSpindles, "free_spindles": n.FSpindles,
				"total_cpus": n.TCPU, "reserved_cpus": n.NCPU, "i_pri_memory": ipri, "i_pri_up_memory": ipriUp} {
				jn[k] = v
			}
		}
		nodes[n.Name] = jn
	}
	jr["nodes"] = nodes
	insts := map[string]any{}
	for _, in := range c.Instances {
		ji := instanceJSON(in)
		nodes := []string{c.Nodes[in.Pri].Name}
		if in.Sec >= 0 {
			nodes = append(nodes, c.Nodes[in.Sec].Name)
		}
		ji["nodes"] = nodes
		insts[in.Name] = ji
	}
	jr["instances"] = insts
	jr["request"] = req
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(jr); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (g *Group) uuid() string {
	if g.UUID != "" {
		return g.UUID
	}
	return g.Name
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func specJSON(s Spec) map[string]int {
	return map[string]int{"memory-size": s.MemorySize, "cpu-count": s.CPUCount, "disk-size": s.DiskSize, "disk-count": s.DiskCount,
		"nic-count": s.NICCount, "spindle-use": s.SpindleUse}
}

func policyJSON(p Policy) map[string]any {
	var mm []any
	for _, m := range p.MinMax {
		mm = append(mm, map[string]any{"min": specJSON(m.Min), "max": specJSON(m.Max)})
	}
	dts := make([]string, len(p.DiskTemplates))
	for i, t := range p.DiskTemplates {
		dts[i] = string(t)
	}
	return map[string]any{"std": specJSON(p.Std), "minmax": mm, "disk-templates": dts, "vcpu-ratio": p.VCPURatio, "spindle-ratio": p.SpindleRatio}
}

func instanceJSON(in *Instance) map[string]any {
	disks := make([]any, len(in.Disks))
	for i, d := range in.Disks {
		jd := map[string]any{"size": d.Size, "mode": "rw", "dev_type": string(in.Template)}
		if d.Spindles >= 0 {
			jd["spindles"] = d.Spindles
		}
		disks[i] = jd
	}
	nics := make([]any, 0, len(in.Networks))
	for i := 0; i < max(in.NICs, len(in.Networks)); i++ {
		nic := map[string]any{"ip": nil}
		if i < len(in.Networks) && in.Networks[i] != "" {
			nic["network"] = in.Networks[i]
		}
		nics = append(nics, nic)
	}
	state := "up"
	switch in.Status {
	case StatusDown, StatusErrorDown, StatusUserDown:
		state = "down"
	case StatusOffline:
		state = "offline"
	}
	return map[string]any{"tags": nonNil(in.Tags), "admin_state": state, "vcpus": in.VCPUs, "memory": in.Mem, "spindle_use": in.SpindleUse,
		"os": in.OS, "nics": nics, "disks": disks, "disk_space_total": in.Dsk, "disk_template": string(in.Template),
		"hypervisor": in.Hypervisor, "disks_active": true}
}

// AllocateRequest is the "request" of an allocate for ni.
func AllocateRequest(ni NewInstance, group string, c *Cluster) map[string]any {
	in := c.newInstance(ni)
	ji := instanceJSON(in)
	delete(ji, "disks_active")
	ji["type"] = ReqAllocate
	ji["name"] = ni.Name
	ji["required_nodes"] = ni.Template.RequiredNodes()
	if group != "" {
		ji["group_name"] = group
	} else {
		ji["group_name"] = nil
	}
	return ji
}

// RelocateRequest is the "request" of a relocate of instance name away
// from node from.
func RelocateRequest(c *Cluster, name string, from []string) map[string]any {
	i := c.InstanceIndex(name)
	dsk := 0
	if i >= 0 {
		dsk = c.Instances[i].Dsk
	}
	return map[string]any{"type": ReqRelocate, "name": name, "required_nodes": 1, "disk_space_total": dsk, "relocate_from": from}
}

// EvacuateRequest is the "request" of a node-evacuate.
func EvacuateRequest(instances []string, mode EvacMode) map[string]any {
	return map[string]any{"type": ReqNodeEvacuate, "instances": instances, "evac_mode": mode.String()}
}

// ChangeGroupRequest is the "request" of a change-group.
func ChangeGroupRequest(c *Cluster, instances []string, targets []string) map[string]any {
	uuids := []string{}
	for _, t := range targets {
		if g := c.GroupIndex(t); g >= 0 {
			uuids = append(uuids, c.Groups[g].uuid())
		}
	}
	return map[string]any{"type": ReqChangeGroup, "instances": instances, "target_groups": uuids}
}

var _ = slices.Contains[[]string]
