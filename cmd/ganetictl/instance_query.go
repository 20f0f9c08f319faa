package main

import (
	"bytes"
	"context"

	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ganetictl/ganetictl/internal/qfilter"
	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
)

// checkResolvable is Ganeti's name check: the instance name must resolve.
func checkResolvable(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, name); err != nil {
		return invalid("the instance name %q does not resolve (%v); add it to DNS, or pass --no-name-check", name, err)
	}
	return nil
}

// instRow is one instance with the live facts of the nodes.
type instRow struct {
	*statefile.Instance
	st    *statefile.State
	facts map[string]*playbooks.NodeFacts // nil: not gathered
}

func (r instRow) running() (hv.Running, string, bool) {
	if f := r.facts[r.PrimaryNode]; f != nil {
		if x, ok := f.Running[r.Name]; ok {
			return x, r.PrimaryNode, true
		}
	}
	for n, f := range r.facts {
		if f == nil {
			continue
		}
		if x, ok := f.Running[r.Name]; ok {
			return x, n, true
		}
	}
	return hv.Running{}, "", false
}

// status is Ganeti's instance status field.
func (r instRow) status() string {
	if r.AdminState == "offline" {
		return "ADMIN_offline"
	}
	if n := r.st.Nodes[r.PrimaryNode]; n != nil && n.Offline {
		return "ERROR_nodeoffline"
	}
	if f := r.facts[r.PrimaryNode]; f == nil || !f.Reachable {
		return "ERROR_nodedown"
	}
	_, on, ok := r.running()
	switch {
	case ok && on != r.PrimaryNode:
		return "ERROR_wrongnode"
	case ok && r.AdminState == "up":
		return "running"
	case ok:
		return "ERROR_up"
	case r.AdminState == "up":
		return "ERROR_down"
	}
	return "ADMIN_down"
}

func (r instRow) live(get func(hv.Running) any) any {
	if f := r.facts[r.PrimaryNode]; f == nil || !f.Reachable {
		if n := r.st.Nodes[r.PrimaryNode]; n != nil && n.Offline {
			return view.Offline
		}
		return view.NoData
	}
	if x, _, ok := r.running(); ok {
		return get(x)
	}
	return view.Unavail
}

func (r instRow) be() statefile.Params { return playbooks.EffectiveBE(&r.st.Cluster, r.BEParams) }

func diskSizes(i *statefile.Instance) []int64 {
	out := []int64{}
	for _, d := range i.Disks {
		out = append(out, d.Size)
	}
	return out
}

func nicField(i *statefile.Instance, get func(*statefile.NIC) string) []string {
	out := []string{}
	for _, n := range i.NICs {
		out = append(out, get(n))
	}
	return out
}

var instanceSpec = view.ListSpec[instRow]{
	Default: []string{"name", "hypervisor", "os", "pnode", "status", "oper_ram"},
	Fields: []view.Field[instRow]{
		{Name: "name", Title: "Instance", Kind: view.KindText, Doc: "Instance name", Get: func(r instRow) any { return r.Name }},
		{Name: "hypervisor", Title: "Hypervisor", Kind: view.KindText, Doc: "Hypervisor", Get: func(r instRow) any { return r.Hypervisor }},
		{Name: "os", Title: "OS", Kind: view.KindText, Doc: "Operating system", Get: func(r instRow) any { return r.OS }},
		{Name: "pnode", Title: "Primary_node", Kind: view.KindText, Doc: "Primary node", Get: func(r instRow) any { return r.PrimaryNode }},
		{Name: "snodes", Title: "Secondary_Nodes", Kind: view.KindList, Doc: "Secondary nodes", Get: func(r instRow) any { return append([]string{}, r.SecondaryNodes()...) }},
		{Name: "status", Title: "Status", Kind: view.KindText, Doc: "Instance status (running, ADMIN_down, ERROR_down, ...)", Get: func(r instRow) any { return r.status() }},
		{Name: "oper_state", Title: "Running", Kind: view.KindBool, Doc: "Whether the instance runs", Get: func(r instRow) any {
			if f := r.facts[r.PrimaryNode]; f == nil || !f.Reachable {
				return view.NoData
			}
			_, _, ok := r.running()
			return ok
		}},
		{Name: "admin_state", Title: "InstanceState", Kind: view.KindText, Doc: "Desired state: up, down or offline", Get: func(r instRow) any { return r.AdminState }},
		{Name: "oper_ram", Title: "Memory", Kind: view.KindUnit, Doc: "Memory of the running instance", Get: func(r instRow) any { return r.live(func(x hv.Running) any { return x.MemMiB }) }},
		{Name: "oper_vcpus", Title: "VCPUs", Kind: view.KindNumber, Doc: "vCPUs of the running instance", Get: func(r instRow) any { return r.live(func(x hv.Running) any { return x.VCPUs }) }},
		{Name: "disk_template", Title: "Disk_template", Kind: view.KindText, Doc: "Disk template", Get: func(r instRow) any { return r.DiskTemplate }},
		{Name: "disk.sizes", Title: "Disk_sizes", Kind: view.KindList, Doc: "Disk sizes (MiB)", Get: func(r instRow) any { return diskSizes(r.Instance) }},
		{Name: "disk.count", Title: "Disks", Kind: view.KindNumber, Doc: "Number of disks", Get: func(r instRow) any { return len(r.Disks) }},
		{Name: "disk_usage", Title: "DiskUsage", Kind: view.KindUnit, Doc: "Total disk space used", Get: func(r instRow) any {
			var t int64
			for _, s := range diskSizes(r.Instance) {
				t += s
			}
			return t
		}},
		{Name: "nic.count", Title: "NICs", Kind: view.KindNumber, Doc: "Number of NICs", Get: func(r instRow) any { return len(r.NICs) }},
		{Name: "nic.macs", Title: "NIC_MACs", Kind: view.KindList, Doc: "NIC MAC addresses", Get: func(r instRow) any { return nicField(r.Instance, func(n *statefile.NIC) string { return n.MAC }) }},
		{Name: "nic.ips", Title: "NIC_IPs", Kind: view.KindList, Doc: "NIC IP addresses", Get: func(r instRow) any { return nicField(r.Instance, func(n *statefile.NIC) string { return n.IP }) }},
		{Name: "nic.links", Title: "NIC_links", Kind: view.KindList, Doc: "NIC links", Get: func(r instRow) any {
			return nicField(r.Instance, func(n *statefile.NIC) string { l, _ := n.NICParams["link"].(string); return l })
		}},
		{Name: "nic.modes", Title: "NIC_modes", Kind: view.KindList, Doc: "NIC modes", Get: func(r instRow) any {
			return nicField(r.Instance, func(n *statefile.NIC) string { m, _ := n.NICParams["mode"].(string); return m })
		}},
		{Name: "nic.vlans", Title: "NIC_VLANs", Kind: view.KindList, Doc: "NIC VLANs", Get: func(r instRow) any {
			return nicField(r.Instance, func(n *statefile.NIC) string { v, _ := n.NICParams["vlan"].(string); return v })
		}},
		{Name: "nic.networks", Title: "NIC_networks", Kind: view.KindList, Doc: "List containing each interface's network (UUID)", Get: func(r instRow) any {
			return nicField(r.Instance, func(n *statefile.NIC) string {
				if net := r.st.Networks[n.Network]; net != nil {
					return net.UUID
				}
				return ""
			})
		}},
		{Name: "nic.networks.names", Title: "NIC_networks_names", Kind: view.KindList, Doc: "List containing each interface's network", Get: func(r instRow) any {
			return nicField(r.Instance, func(n *statefile.NIC) string { return n.Network })
		}},
		{Name: "be/maxmem", Title: "ConfigMaxMem", Kind: view.KindUnit, Doc: "Maximum memory", Get: func(r instRow) any { return intOf(r.be()["maxmem"]) }},
		{Name: "be/minmem", Title: "ConfigMinMem", Kind: view.KindUnit, Doc: "Minimum memory", Get: func(r instRow) any { return intOf(r.be()["minmem"]) }},
		{Name: "be/vcpus", Title: "ConfigVCPUs", Kind: view.KindNumber, Doc: "Configured vCPUs", Get: func(r instRow) any { return intOf(r.be()["vcpus"]) }},
		{Name: "tags", Title: "Tags", Kind: view.KindList, Doc: "Tags", Get: func(r instRow) any { return r.Tags }},
		{Name: "uuid", Title: "UUID", Kind: view.KindText, Doc: "Instance UUID", Get: func(r instRow) any { return r.UUID }},
		{Name: "serial_no", Title: "SerialNo", Kind: view.KindNumber, Doc: "Serial number", Get: func(r instRow) any { return r.Serial }},
		{Name: "ctime", Title: "CTime", Kind: view.KindText, Doc: "Creation time", Get: func(r instRow) any { return fmtStamp(r.Ctime) }},
		{Name: "mtime", Title: "MTime", Kind: view.KindText, Doc: "Modification time", Get: func(r instRow) any { return fmtStamp(r.Mtime) }},
	},
}

func intOf(v any) int64 {
	n, _ := statefile.Int(v)
	return n
}

// instanceLiveFields need facts from the nodes.
var instanceLiveFields = map[string]bool{"status": true, "oper_state": true, "oper_ram": true, "oper_vcpus": true}

// InstanceListCmd is gnt-instance list.
type InstanceListCmd struct {
	Output    string   `short:"o" name:"output"`
	NoHeaders bool     `name:"no-headers"`
	Separator string   `name:"separator"`
	Units     string   `name:"units"`
	Filter    bool     `short:"F" name:"filter" help:"The arguments are a query filter (e.g. 'pnode == \"node1\" and status == \"running\"')."`
	Names     []string `arg:"" optional:""`
}

func (c *InstanceListCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	sel, err := instanceSpec.Select(c.Output)
	if err != nil {
		return invalid("%v", err)
	}
	names, filter, err := listFilter(c.Names, c.Filter)
	if err != nil {
		return err
	}
	live := false
	for _, f := range sel {
		live = live || instanceLiveFields[f.Name]
	}
	if filter != nil {
		for _, f := range qfilter.Fields(filter) {
			live = live || instanceLiveFields[f]
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := a.instanceRows(ctx, names, live)
	if err != nil {
		return err
	}
	if rows, err = instanceSpec.Filter(rows, filter); err != nil {
		return invalid("%v", err)
	}
	return view.RenderList(s.Out, instanceSpec, rows, view.ListOpts{Fields: c.Output, Units: c.Units, Separator: c.Separator, NoHeaders: c.NoHeaders, JSON: g.JSON})
}

// instanceRows reads the state and, when live, every online node's facts
// (all nodes: an instance running on the wrong node must show).
func (a *app) instanceRows(ctx context.Context, names []string, live bool) ([]instRow, error) {
	st, err := a.readState(ctx)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		names = st.InstanceNames()
	}
	var facts map[string]*playbooks.NodeFacts
	if live && len(st.Instances) > 0 {
		nodes, _ := onlineNodes(st, nil)
		facts = a.gather(ctx, st, nodes, playbooks.PartRunning)
	}
	rows := make([]instRow, 0, len(names))
	for _, n := range names {
		i, ok := st.Instances[n]
		if !ok {
			return nil, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", n)}
		}
		rows = append(rows, instRow{Instance: i, st: st, facts: facts})
	}
	return rows, nil
}

// InstanceFieldsCmd is gnt-instance list-fields.
type InstanceFieldsCmd struct{}

func (c *InstanceFieldsCmd) Run(s view.Streams) error {
	return view.RenderTable(s.Out, instanceSpec.FieldsTable(), view.TableOpts{})
}

// InstanceInfoCmd is gnt-instance info.
type InstanceInfoCmd struct {
	Static bool     `short:"s" name:"static" help:"Only the state, no node queries."`
	Names  []string `arg:"" optional:""`
}

func (c *InstanceInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := a.instanceRows(ctx, c.Names, !c.Static)
	if err != nil {
		return err
	}
	var infos view.Infos
	for _, r := range rows {
		infos = append(infos, instanceInfo(r, c.Static))
	}
	return a.pr.Result(infos)
}

func instanceInfo(r instRow, static bool) view.Info {
	st := r.st
	state := "configured to be " + r.AdminState
	if !static {
		actual := "down"
		if _, _, ok := r.running(); ok {
			actual = "up"
		}
		if f := r.facts[r.PrimaryNode]; f == nil || !f.Reachable {
			actual = "(node unreachable)"
		}
		state += ", actual state is " + actual
	}
	group := ""
	if n := st.Nodes[r.PrimaryNode]; n != nil {
		if g := st.NodeGroups[n.Group]; g != nil {
			group = fmt.Sprintf("%s (UUID %s)", g.Name, g.UUID)
		}
	}
	hvEff, _ := hv.Params(r.Hypervisor, st.Cluster.HVParams[r.Hypervisor], r.HVParams)
	bePlain := map[string]any{}
	for k, v := range r.be() {
		bePlain[k] = v
	}
	bePlain["memory"] = bePlain["maxmem"]
	var nics []view.Info
	for i, n := range r.NICs {
		mode, _ := n.NICParams["mode"].(string)
		link, _ := n.NICParams["link"].(string)
		vlan, _ := n.NICParams["vlan"].(string)
		nics = append(nics, view.Info{}.Add(fmt.Sprintf("nic/%d", i), "").Add("MAC", n.MAC).Add("IP", nilIfEmpty(n.IP)).
			Add("mode", mode).Add("link", link).Add("vlan", vlan).Add("network", nilIfEmpty(n.Network)).Add("UUID", n.UUID).Add("name", nilIfEmpty(n.Name)))
	}
	var disks []view.Info
	for i, d := range r.Disks {
		disks = append(disks, diskDetails(view.Info{}.Add(fmt.Sprintf("disk/%d", i), d.DevType).
			Add("access mode", d.Mode), d).
			Add("on primary", fmt.Sprintf("/run/ganeti/instance-disks/%s:%d", r.Name, i)).
			Add("size", view.FormatMiB(d.Size)).Add("UUID", d.UUID).Add("name", nilIfEmpty(d.Name)))
	}
	info := view.Info{}.
		Add("Instance name", r.Name).
		Add("UUID", r.UUID).
		Add("Serial number", r.Serial).
		Add("Creation time", fmtStamp(r.Ctime)).
		Add("Modification time", fmtStamp(r.Mtime)).
		Add("State", state).
		Add("Nodes", view.List{
			view.Info{}.Add("primary", r.PrimaryNode).Add("group", group),
			view.Info{}.Add("secondaries", append([]string{}, r.SecondaryNodes()...)),
		}).
		Add("Operating system", r.OS).
		Add("Operating system parameters", map[string]any(r.OSParams)).
		Add("Allocated network port", nilIfZero(r.NetworkPort)).
		Add("Hypervisor", r.Hypervisor).
		Add("Hypervisor parameters", view.ParamsInfo(map[string]any(r.HVParams), map[string]any(hvEff))).
		Add("Back-end parameters", view.ParamsInfo(map[string]any(r.BEParams), bePlain)).
		Add("NICs", nics).
		Add("Disk template", r.DiskTemplate).
		Add("Disks", disks)
	return info
}

// diskDetails adds a disk's logical id as Ganeti's instance info shows
// it: a drbd disk's two nodes with their minors and its port (never its
// shared secret), a plain disk's VG/LV, other templates' fields in order.
func diskDetails(info view.Info, d *statefile.Disk) view.Info {
	if id, ok := d.DRBD(); ok {
		return info.Add("nodeA", fmt.Sprintf("%s, minor=%d", id.NodeA, id.MinorA)).
			Add("nodeB", fmt.Sprintf("%s, minor=%d", id.NodeB, id.MinorB)).
			Add("port", id.Port)
	}
	parts := make([]string, 0, len(d.LogicalID))
	for _, p := range d.LogicalID {
		parts = append(parts, fmt.Sprint(p))
	}
	sep := " "
	if d.DevType == statefile.DevPlain {
		sep = "/"
	}
	return info.Add("logical_id", strings.Join(parts, sep))
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nilIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// InstanceConsoleCmd is gnt-instance console: the serial console streamed
// over the SSH session (no local terminal mode changes: pipe-friendly).
type InstanceConsoleCmd struct {
	ShowCmd bool   `name:"show-cmd" help:"Print the node command instead of connecting."`
	Name    string `arg:""`
}

func (c *InstanceConsoleCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	inst, ok := st.Instances[c.Name]
	if !ok {
		return &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", c.Name)}
	}
	// On a terminal: raw mode here, a terminal there; else a plain stream.
	tty := term.IsTerminal(int(os.Stdin.Fd())) && stdin == os.Stdin
	argv, err := hv.ConsoleArgv(inst.Hypervisor, inst.Name, tty)
	if err != nil {
		return err
	}
	if c.ShowCmd {
		return a.pr.Result(view.ConsoleCommand{Node: inst.PrimaryNode, Argv: argv, Command: remote.Quote(argv)})
	}
	r, err := a.pool.Get(ctx, inst.PrimaryNode)
	if err != nil {
		return err
	}
	cmd := remote.Command{Argv: argv, Stdin: stdin, Stdout: s.Out, Stderr: s.Err}
	if tty {
		_ = a.pr.Status(view.ConsoleAttached{Instance: c.Name, Node: inst.PrimaryNode, Raw: true})
		cols, rows, _ := term.GetSize(int(os.Stdin.Fd()))
		cmd.TTY = &remote.TTY{Term: os.Getenv("TERM"), Rows: rows, Cols: cols}
		old, err := term.MakeRaw(int(os.Stdin.Fd()))
		if err != nil {
			return fmt.Errorf("console: raw terminal: %w", err)
		}
		defer term.Restore(int(os.Stdin.Fd()), old)
	} else {
		_ = a.pr.Status(view.ConsoleAttached{Instance: c.Name, Node: inst.PrimaryNode})
	}
	_, err = r.Run(ctx, cmd)
	return err
}

// InstanceBatchCmd is gnt-instance batch-create. The file is Ganeti's
// (gnt-instance(8) since 2.7): a JSON list of instance creation opcodes,
// [{"mode": "create", "instance_name", "disk_template", "os_type",
// "disks": [{"size": ...}], "nics": [{...}], "beparams", "hypervisor",
// "hvparams", "pnode", "snode", "start", ...}]; or the older object of
// instance name -> {"template", "os", "disk_size": [...], "primary_node",
// "backend", "hypervisor", "nics": [...]}.
type InstanceBatchCmd struct {
	File string `arg:"" type:"existingfile"`
}

type batchSpec struct {
	Template    string           `json:"template"`
	OS          string           `json:"os"`
	DiskSize    []string         `json:"disk_size"`
	PrimaryNode string           `json:"primary_node"`
	Backend     map[string]any   `json:"backend"`
	Hypervisor  string           `json:"hypervisor"`
	HVParams    map[string]any   `json:"hvparams"`
	NICs        []map[string]any `json:"nics"`
	NoStart     bool             `json:"no_start"`
	NoInstall   bool             `json:"no_install"`
}

// batchOp is one entry of Ganeti's list format: the fields of
// OpInstanceCreate that instance add has flags for.
type batchOp struct {
	Mode         string           `json:"mode"`
	InstanceName string           `json:"instance_name"`
	DiskTemplate string           `json:"disk_template"`
	OSType       string           `json:"os_type"`
	OSParams     map[string]any   `json:"osparams"`
	Disks        []map[string]any `json:"disks"`
	NICs         []map[string]any `json:"nics"`
	BEParams     map[string]any   `json:"beparams"`
	Hypervisor   string           `json:"hypervisor"`
	HVParams     map[string]any   `json:"hvparams"`
	PNode        string           `json:"pnode"`
	SNode        string           `json:"snode"`
	Start        *bool            `json:"start"`
	NameCheck    *bool            `json:"name_check"`
	IPCheck      *bool            `json:"ip_check"`
	NoInstall    bool             `json:"no_install"`
	WaitForSync  *bool            `json:"wait_for_sync"`
	Tags         []string         `json:"tags"`
	IAllocator   string           `json:"iallocator"`
}

func (c *InstanceBatchCmd) Run(ctx context.Context, g *Globals) error {
	data, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	cmds, err := batchCommands(data)
	if err != nil {
		return invalid("%s: %v", c.File, err)
	}
	// Check every spec before creating anything.
	for i := range cmds {
		if _, err := cmds[i].args(); err != nil {
			return fmt.Errorf("%s: instance %s: %w", c.File, cmds[i].Name, err)
		}
	}
	for i := range cmds {
		g.printer().Note("* creating instance %s", cmds[i].Name)
		if err := cmds[i].Run(ctx, g); err != nil {
			return fmt.Errorf("instance %s: %w", cmds[i].Name, err)
		}
	}
	return nil
}

// batchCommands reads a batch-create file, in either format, into the
// instance add commands it stands for.
func batchCommands(data []byte) ([]InstanceAddCmd, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		var ops []batchOp
		if err := dec.Decode(&ops); err != nil {
			return nil, err
		}
		var cmds []InstanceAddCmd
		for i, op := range ops {
			if op.InstanceName == "" {
				return nil, fmt.Errorf("entry %d has no instance_name", i)
			}
			if op.Mode != "" && op.Mode != "create" {
				return nil, fmt.Errorf("instance %s: mode %q: batch-create creates instances (use backup import to import one)", op.InstanceName, op.Mode)
			}
			if op.IAllocator != "" {
				return nil, fmt.Errorf("instance %s: an iallocator is chosen for the whole batch, not per instance", op.InstanceName)
			}
			node := op.PNode
			if op.SNode != "" {
				node += ":" + op.SNode
			}
			cmd := InstanceAddCmd{Name: op.InstanceName, Node: node, OS: op.OSType, Template: op.DiskTemplate,
				NoStart: op.Start != nil && !*op.Start, NoInstall: op.NoInstall,
				NoNameCheck: op.NameCheck != nil && !*op.NameCheck, NoIPCheck: op.IPCheck != nil && !*op.IPCheck,
				NoWaitForSync: op.WaitForSync != nil && !*op.WaitForSync,
				Backend:       kvString(op.BEParams), OSParams: kvString(op.OSParams), Tags: strings.Join(op.Tags, ","), NoNICs: op.NICs != nil && len(op.NICs) == 0}
			for j, d := range op.Disks {
				cmd.Disks = append(cmd.Disks, fmt.Sprintf("%d:%s", j, kvString(d)))
			}
			if op.Hypervisor != "" {
				cmd.Hypervisor = op.Hypervisor + ":" + kvString(op.HVParams)
			}
			for j, nic := range op.NICs {
				cmd.NICs = append(cmd.NICs, fmt.Sprintf("%d:%s", j, kvString(nic)))
			}
			cmds = append(cmds, cmd)
		}
		return cmds, nil
	}
	var specs map[string]batchSpec
	if err := dec.Decode(&specs); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	var cmds []InstanceAddCmd
	for _, n := range names {
		sp := specs[n]
		cmd := InstanceAddCmd{Name: n, Node: sp.PrimaryNode, OS: sp.OS, Template: sp.Template, NoStart: sp.NoStart, NoInstall: sp.NoInstall, NoNameCheck: true}
		for i, d := range sp.DiskSize {
			cmd.Disks = append(cmd.Disks, fmt.Sprintf("%d:size=%s", i, d))
		}
		cmd.Backend = kvString(sp.Backend)
		if sp.Hypervisor != "" {
			cmd.Hypervisor = sp.Hypervisor + ":" + kvString(sp.HVParams)
		}
		for i, nic := range sp.NICs {
			cmd.NICs = append(cmd.NICs, fmt.Sprintf("%d:%s", i, kvString(nic)))
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

func kvString(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ",")
}
