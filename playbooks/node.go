package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// NodeAddArgs are `node add`'s inputs.
type NodeAddArgs struct {
	Name                     string
	PrimaryIP                string
	SecondaryIP              string // -s; default PrimaryIP
	Group                    string // -g; default the master's group
	Readd                    bool   // --readd: reinitialise a node that is already in the cluster
	MasterCapable, VMCapable *bool
}

// The node opcodes.
var (
	// NodeAddOp asks every fact of the new node (not in the state yet).
	NodeAddOp = define(&Opcode[NodeAddArgs]{
		ID: OpNodeAdd, Command: "node add",
		Subject: func(a NodeAddArgs) string { return a.Name },
		Needs:   func(_ *statefile.State, a NodeAddArgs) Needs { return Needs{Nodes: []string{a.Name}} },
		Plan: func(env Env, a NodeAddArgs) (*plan.Plan, error) {
			if n, ok := env.State.Nodes[a.Name]; ok && a.Readd && a.PrimaryIP == "" {
				a.PrimaryIP, a.SecondaryIP = n.PrimaryIP, n.SecondaryIP
			}
			return NodeAdd(env, a)
		},
	})
	NodeRemoveOp = define(&Opcode[string]{ID: OpNodeRemove, Command: "node remove", Subject: itself, Plan: NodeRemove})
	NodeModifyOp = define(&Opcode[NodeModifyArgs]{
		ID: OpNodeSetParams, Command: "node modify",
		Subject: func(a NodeModifyArgs) string { return a.Name },
		// A new secondary address must be one of the node's own.
		Needs: func(st *statefile.State, a NodeModifyArgs) Needs {
			if a.SecondaryIP == "" {
				return Needs{}
			}
			return Needs{Nodes: onlineOf(st, a.Name)}
		},
		Plan: func(env Env, a NodeModifyArgs) (*plan.Plan, error) {
			p, _, err := NodeModify(env, a)
			return p, err
		},
	})
	// NodeStorageOp runs one storage command on a node
	// (modify-storage, repair-storage): the step is made from the flags.
	NodeModifyStorageOp = define(&Opcode[NodeStorageArgs]{ID: OpNodeModifyStorage, Command: "node modify-storage",
		Subject: NodeStorageArgs.subject, Plan: nodeStorage(OpNodeModifyStorage, "modify storage")})
	NodeRepairStorageOp = define(&Opcode[NodeStorageArgs]{ID: OpNodeRepairStorage, Command: "node repair-storage",
		Subject: NodeStorageArgs.subject, Plan: nodeStorage(OpNodeRepairStorage, "repair storage")})
)

// NodeStorageArgs are a node storage command's node and step.
type NodeStorageArgs struct {
	Node string
	Step plan.Step
}

func (a NodeStorageArgs) subject() string { return a.Node }

func nodeStorage(id plan.OpID, stage string) func(Env, NodeStorageArgs) (*plan.Plan, error) {
	return func(env Env, a NodeStorageArgs) (*plan.Plan, error) {
		n, err := node(env.State, a.Node)
		if err != nil {
			return nil, err
		}
		if n.Offline {
			return nil, prereq(ErrWrongState, "Node %s is offline", n.Name)
		}
		p := plan.New(plan.NodeOp(id, n.Name), env.State.Lineage, env.State.Serial)
		p.Add(stage, plan.Abort, a.Step)
		return p, nil
	}
}

// NodeAdd plans adding a node (or re-adding one with Readd). Like Ganeti, the
// node becomes a master candidate while the pool is short of
// candidate_pool_size.
func NodeAdd(env Env, a NodeAddArgs) (*plan.Plan, error) {
	st := env.State
	old, exists := st.Nodes[a.Name]
	switch {
	case exists && !a.Readd:
		return nil, prereq(ErrExists, "Node %s is already in the cluster; use --readd to re-add it", a.Name)
	case !exists && a.Readd:
		return nil, prereq(ErrUnknownEntity, "Node %s is not in the cluster, cannot re-add it; add it without --readd", a.Name)
	}
	if a.Group == "" {
		a.Group = "default"
		if m, ok := st.Nodes[st.Cluster.MasterNode]; ok {
			a.Group = m.Group
		}
	}
	if _, ok := st.NodeGroups[a.Group]; !ok {
		return nil, prereq(ErrUnknownEntity, "Node group '%s' not known", a.Group)
	}
	if a.SecondaryIP == "" {
		a.SecondaryIP = a.PrimaryIP
	}
	for _, n := range st.Nodes {
		if n.Name == a.Name {
			continue
		}
		if n.PrimaryIP == a.PrimaryIP || n.SecondaryIP == a.PrimaryIP {
			return nil, prereq(ErrWrongInput, "The node %s's primary address %s is already used by node %s", a.Name, a.PrimaryIP, n.Name)
		}
		if a.SecondaryIP != a.PrimaryIP && (n.PrimaryIP == a.SecondaryIP || n.SecondaryIP == a.SecondaryIP) {
			return nil, prereq(ErrWrongInput, "The node %s's secondary address %s is already used by node %s", a.Name, a.SecondaryIP, n.Name)
		}
	}
	if err := nodePrereqs(a.Name, env.Facts[a.Name], st.Cluster.EnabledDiskTemplates, st.Cluster.EnabledHypervisors, st.Cluster.VolumeGroup); err != nil {
		return nil, err
	}
	if a.SecondaryIP != a.PrimaryIP {
		if err := checkHasAddress(env.Facts[a.Name], a.Name, a.SecondaryIP); err != nil {
			return nil, err
		}
	}
	op := OpNodeAdd
	if a.Readd {
		op = OpNodeReadd
	}
	p := plan.New(plan.NodeOp(op, a.Name), st.Lineage, st.Serial)
	p.Add("prepare the node", plan.Abort, prepareNode(a.Name, st.Cluster.FileStorageDir, st.Cluster.SharedFileStorageDir, st.Cluster.EnabledDiskTemplates)...)

	n := &statefile.Node{Meta: statefile.Meta{UUID: env.NewID()}, Name: a.Name, PrimaryIP: a.PrimaryIP, SecondaryIP: a.SecondaryIP,
		Group: a.Group, MasterCapable: true, VMCapable: true, Tags: []string{}}
	if exists {
		n = cloneNode(old)
		n.Offline, n.Drained = false, false // re-adding brings the node back
	}
	if a.MasterCapable != nil {
		n.MasterCapable = *a.MasterCapable
	}
	if a.VMCapable != nil {
		n.VMCapable = *a.VMCapable
	}
	candidates := len(masterCandidates(st))
	if exists && old.MasterCandidate {
		candidates--
	}
	n.MasterCandidate = n.MasterCapable && candidates < st.Cluster.CandidatePoolSize
	var before *statefile.Node
	if exists {
		before = old
	}
	if err := p.Set(plan.KindNode, n.Name, before, n); err != nil {
		return nil, err
	}
	ReplicateTo(p, masterCandidates(st)...)
	if n.MasterCandidate {
		ReplicateTo(p, n.Name)
	}
	return p, nil
}

// NodeRemove plans removing a node that holds no instances.
func NodeRemove(env Env, name string) (*plan.Plan, error) {
	st := env.State
	n, err := node(st, name)
	if err != nil {
		return nil, err
	}
	if n.Name == st.Cluster.MasterNode {
		return nil, prereq(ErrWrongInput, "Node %s is the master node, failover to another node is required", n.Name)
	}
	pri, sec := instancesOn(st, n.Name)
	if len(pri)+len(sec) > 0 {
		return nil, prereq(ErrWrongState, "Instance(s) %s still use node %s; migrate or evacuate them first (node migrate / node evacuate)",
			strings.Join(append(pri, sec...), ", "), n.Name)
	}
	p := plan.New(plan.NodeOp(OpNodeRemove, n.Name), st.Lineage, st.Serial)
	if !n.Offline {
		p.Add("deconfigure the node", plan.Continue, plan.Step{Node: n.Name, Action: plan.Remove,
			Desc: "remove ganetictl's files", Argv: []string{"rm", "-rf", "/var/lib/ganeti/ganetictl"}})
	}
	if err := p.Delete(plan.KindNode, n.Name, n); err != nil {
		return nil, err
	}
	ReplicateTo(p, without(masterCandidates(st), n.Name)...)
	if n.MasterCandidate {
		if err := promoteReplacement(env, p, n.Name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// NodeModifyArgs are `node modify`'s flags; nil leaves a flag as it is.
type NodeModifyArgs struct {
	Name            string
	MasterCandidate *bool // -C
	Drained         *bool // -D
	Offline         *bool // -O
	MasterCapable   *bool
	VMCapable       *bool
	SecondaryIP     string // -s
	Force           bool
	AutoPromote     bool
}

// NodeModify plans a change of a node's role or flags, with Ganeti's rules:
// setting one of -C/-D/-O clears the other two; the master keeps its role;
// demoting a candidate below the pool size needs --auto-promote or --force.
func NodeModify(env Env, a NodeModifyArgs) (*plan.Plan, []string, error) {
	st := env.State
	n, err := node(st, a.Name)
	if err != nil {
		return nil, nil, err
	}
	if a.MasterCandidate == nil && a.Drained == nil && a.Offline == nil && a.MasterCapable == nil && a.VMCapable == nil && a.SecondaryIP == "" {
		return nil, nil, prereq(ErrWrongInput, "Please give at least one of the parameters (-C, -D, -O, --master-capable, --vm-capable, -s)")
	}
	yes := func(b *bool) bool { return b != nil && *b }
	if btoi(yes(a.MasterCandidate))+btoi(yes(a.Drained))+btoi(yes(a.Offline)) > 1 {
		return nil, nil, prereq(ErrWrongInput, "Only one of -C, -D and -O can be set to yes")
	}
	c := cloneNode(n)
	var warnings []string
	isMaster := n.Name == st.Cluster.MasterNode
	demoting := false
	switch {
	case yes(a.MasterCandidate):
		if !n.MasterCapable && !yes(a.MasterCapable) {
			return nil, nil, prereq(ErrWrongState, "Node %s is not master capable; set --master-capable=yes first", n.Name)
		}
		c.MasterCandidate, c.Drained, c.Offline = true, false, false
	case yes(a.Drained), yes(a.Offline):
		if isMaster {
			return nil, nil, prereq(ErrWrongInput, "The master role can be changed only via master-failover")
		}
		demoting = n.MasterCandidate
		c.MasterCandidate = false
		c.Drained, c.Offline = yes(a.Drained), yes(a.Offline)
	}
	if a.MasterCandidate != nil && !*a.MasterCandidate {
		if isMaster {
			return nil, nil, prereq(ErrWrongInput, "The master role can be changed only via master-failover")
		}
		demoting = demoting || n.MasterCandidate
		c.MasterCandidate = false
	}
	if a.Drained != nil && !*a.Drained {
		c.Drained = false
	}
	if a.Offline != nil && !*a.Offline {
		c.Offline = false
	}
	if a.MasterCapable != nil {
		if !*a.MasterCapable && isMaster {
			return nil, nil, prereq(ErrWrongInput, "The master node must stay master capable")
		}
		c.MasterCapable = *a.MasterCapable
		if !c.MasterCapable && c.MasterCandidate {
			demoting, c.MasterCandidate = true, false
		}
	}
	if a.VMCapable != nil {
		pri, sec := instancesOn(st, n.Name)
		if !*a.VMCapable && len(pri)+len(sec) > 0 {
			return nil, nil, prereq(ErrWrongState, "Node %s still hosts instances (%s); it cannot become non-vm-capable", n.Name, strings.Join(append(pri, sec...), ", "))
		}
		c.VMCapable = *a.VMCapable
	}
	if a.SecondaryIP != "" && a.SecondaryIP != n.SecondaryIP {
		if err := checkSecondaryIPChange(env, n, a.SecondaryIP, a.Force); err != nil {
			return nil, nil, err
		}
		for _, o := range st.Nodes {
			if o.Name != n.Name && (o.SecondaryIP == a.SecondaryIP || o.PrimaryIP == a.SecondaryIP) {
				return nil, nil, prereq(ErrWrongInput, "Address %s is already used by node %s", a.SecondaryIP, o.Name)
			}
		}
		c.SecondaryIP = a.SecondaryIP
	}
	// Ganeti's self-promotion: a node coming back from offline or drained
	// becomes a candidate while the pool is short.
	if (n.Offline || n.Drained) && !c.Offline && !c.Drained && a.MasterCandidate == nil &&
		c.MasterCapable && len(masterCandidates(st)) < st.Cluster.CandidatePoolSize {
		c.MasterCandidate = true
	}
	if yes(a.Offline) {
		pri, sec := instancesOn(st, n.Name)
		if len(pri)+len(sec) > 0 {
			warnings = append(warnings, fmt.Sprintf("Node %s is marked offline while instances use it (%s): they cannot run there until it is back; fail them over first if it is really gone", n.Name, strings.Join(append(pri, sec...), ", ")))
		}
	}
	p := plan.New(plan.NodeOp(OpNodeSetParams, n.Name), st.Lineage, st.Serial)
	if err := p.Set(plan.KindNode, n.Name, n, c); err != nil {
		return nil, nil, err
	}
	p.Warnings = warnings
	ReplicateTo(p, without(masterCandidates(st), n.Name)...)
	switch {
	case c.MasterCandidate && !c.Offline:
		ReplicateTo(p, n.Name)
	case n.MasterCandidate && !n.Offline && !c.Offline:
		p.Add("demote from master candidate", plan.Continue, dropReplica(n.Name))
	}
	if demoting {
		if a.AutoPromote || a.Force {
			if err := promoteReplacement(env, p, n.Name); err != nil && !a.Force {
				return nil, nil, err
			}
		} else if len(masterCandidates(st))-1 < min(st.Cluster.CandidatePoolSize, capableNodes(st)-1) {
			return nil, nil, prereq(ErrWrongState, "Not enough master candidates (desired %d, new value will be %d); use --auto-promote to promote another node, or --force",
				min(st.Cluster.CandidatePoolSize, capableNodes(st)), len(masterCandidates(st))-1)
		}
	}
	return p, warnings, nil
}

// promoteReplacement promotes one master-capable online regular node when
// removing `leaving` from the candidates leaves the pool short.
func promoteReplacement(env Env, p *plan.Plan, leaving string) error {
	st := env.State
	have := len(without(masterCandidates(st), leaving))
	if have >= st.Cluster.CandidatePoolSize {
		return nil
	}
	for _, name := range sortedNodes(st) {
		o := st.Nodes[name]
		if name == leaving || o.MasterCandidate || !o.MasterCapable || o.Offline || o.Drained {
			continue
		}
		c := cloneNode(o)
		c.MasterCandidate = true
		ReplicateTo(p, name)
		return p.Set(plan.KindNode, name, o, c)
	}
	return nil // nobody to promote: verify will say the pool is short
}

func capableNodes(st *statefile.State) int {
	n := 0
	for _, o := range st.Nodes {
		if o.MasterCapable && !o.Offline && !o.Drained {
			n++
		}
	}
	return n
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func without(s []string, v string) []string {
	var out []string
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// checkSecondaryIPChange holds Ganeti's rules for node modify -s: no
// instance of the node may be up or have its disks active; a single-homed
// cluster becomes multi-homed (and back) only through its master, with
// --force; and the node must hold the new address.
func checkSecondaryIPChange(env Env, n *statefile.Node, ip string, force bool) error {
	st := env.State
	pri, sec := instancesOn(st, n.Name)
	var active []string
	for _, name := range append(pri, sec...) {
		if i := st.Instances[name]; i != nil && (i.AdminState == "up" || i.DisksActive) {
			active = append(active, name)
		}
	}
	if len(active) > 0 {
		sort.Strings(active)
		return prereq(ErrWrongState, "Cannot change the secondary ip of node %s: instances using it are up or have active disks (%s); shut them down first", n.Name, strings.Join(active, ", "))
	}
	master := st.Nodes[st.Cluster.MasterNode]
	isMaster := master != nil && master.Name == n.Name
	if master != nil && !(force && isMaster) {
		single := master.SecondaryIP == master.PrimaryIP
		if single && ip != n.PrimaryIP {
			return prereq(ErrWrongInput, "Changing the secondary ip on a single-homed cluster requires the --force option to be passed, and the target node to be the master")
		}
		if !single && ip == n.PrimaryIP {
			return prereq(ErrWrongInput, "Cannot set the secondary IP to be the same as the primary IP on a multi-homed cluster, unless the --force option is passed, and the target node is the master")
		}
	}
	if n.Offline {
		return nil
	}
	f := env.Facts[n.Name]
	if f == nil || !f.Reachable {
		return prereq(ErrEnvironment, "Node %s is not reachable, so it cannot be checked for the secondary ip %s: %s", n.Name, ip, factsErr(f))
	}
	return checkHasAddress(f, n.Name, ip)
}

// checkHasAddress refuses a secondary address the node does not hold
// (Ganeti's _CheckNodeHasSecondaryIP): DRBD would connect to nobody.
// Facts without addresses (an old node tool) say nothing either way.
func checkHasAddress(f *NodeFacts, node, ip string) error {
	if f == nil || f.Addrs == nil || slices.Contains(f.Addrs, ip) {
		return nil
	}
	return prereq(ErrEnvironment, "Node %s does not have the secondary ip %s (its addresses: %s); configure it there first", node, ip, strings.Join(f.Addrs, ", "))
}
