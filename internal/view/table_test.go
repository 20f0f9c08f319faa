package view

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

type testNode struct {
	name                                string
	dtotal, dfree, mtotal, mnode, mfree int64
	pinst, sinst                        int
}

var testNodeSpec = ListSpec[testNode]{
	Fields: []Field[testNode]{
		{Name: "name", Title: "Node", Get: func(n testNode) any { return n.name }},
		{Name: "dtotal", Title: "DTotal", Kind: KindUnit, Get: func(n testNode) any { return n.dtotal }},
		{Name: "dfree", Title: "DFree", Kind: KindUnit, Get: func(n testNode) any { return n.dfree }},
		{Name: "mtotal", Title: "MTotal", Kind: KindUnit, Get: func(n testNode) any { return n.mtotal }},
		{Name: "mnode", Title: "MNode", Kind: KindUnit, Get: func(n testNode) any { return n.mnode }},
		{Name: "mfree", Title: "MFree", Kind: KindUnit, Get: func(n testNode) any { return n.mfree }},
		{Name: "pinst_cnt", Title: "Pinst", Kind: KindNumber, Get: func(n testNode) any { return n.pinst }},
		{Name: "sinst_cnt", Title: "Sinst", Kind: KindNumber, Get: func(n testNode) any { return n.sinst }},
	},
	Default: []string{"name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt"},
}

// MiB values that Ganeti prints as 252.0G, 78.1G, 23.5G, 324M, 22.4G, 22.3G.
var testNodes = []testNode{
	{"node1.gref.test", 258048, 79974, 24064, 324, 22938, 0, 0},
	{"node2.gref.test", 258048, 79974, 24064, 324, 22835, 1, 0},
	{"node3.gref.test", 258048, 79974, 24064, 324, 22938, 0, 0},
}

func render(t *testing.T, tb Table, o TableOpts) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderTable(&b, tb, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestNodeListGolden(t *testing.T) {
	tb, err := testNodeSpec.Build(testNodes, "")
	if err != nil {
		t.Fatal(err)
	}
	assertText(t, "gnt-node list", ganetiGolden(t, "node_list.txt"), render(t, tb, TableOpts{}))
}

type testInstance struct {
	name, hv, os, pnode, template, adminState, status string
	snodes                                            []string
	diskSizes                                         []int64
	running                                           bool
	mem                                               any
}

var testInstanceSpec = ListSpec[testInstance]{
	Fields: []Field[testInstance]{
		{Name: "name", Title: "Instance", Get: func(i testInstance) any { return i.name }},
		{Name: "hypervisor", Title: "Hypervisor", Get: func(i testInstance) any { return i.hv }},
		{Name: "os", Title: "OS", Get: func(i testInstance) any { return i.os }},
		{Name: "pnode", Title: "Primary_node", Get: func(i testInstance) any { return i.pnode }},
		{Name: "snodes", Title: "Secondary_Nodes", Kind: KindList, Get: func(i testInstance) any { return i.snodes }},
		{Name: "disk_template", Title: "Disk_template", Get: func(i testInstance) any { return i.template }},
		{Name: "disk.sizes", Title: "Disk_sizes", Kind: KindList, Get: func(i testInstance) any { return i.diskSizes }},
		{Name: "admin_state", Title: "InstanceState", Get: func(i testInstance) any { return i.adminState }},
		{Name: "oper_state", Title: "Running", Kind: KindBool, Get: func(i testInstance) any { return i.running }},
		{Name: "status", Title: "Status", Get: func(i testInstance) any { return i.status }},
		{Name: "oper_ram", Title: "Memory", Kind: KindUnit, Get: func(i testInstance) any { return i.mem }},
	},
	Default: []string{"name", "hypervisor", "os", "pnode", "status", "oper_ram"},
}

var testInstances = []testInstance{
	{"inst1", "fake", "trivial", "node2.gref.test", "diskless", "up", "running", []string{}, []int64{}, true, int64(128)},
	{"inst2", "fake", "trivial", "node2.gref.test", "file", "up", "running", []string{}, []int64{64}, true, int64(128)},
	{"inst3", "fake", "trivial", "node3.gref.test", "sharedfile", "down", "ADMIN_down", []string{}, []int64{64}, false, Unavail},
}

func TestInstanceListGolden(t *testing.T) {
	for _, tc := range []struct {
		file, fields string
		items        []testInstance
	}{
		{"instance_list.txt", "", testInstances[:1]},
		{"instance_list_B.txt", "", testInstances},
		{"instance_list_fields.txt", "name,pnode,status,oper_ram", testInstances[:1]},
		{"instance_list_fields_B.txt", "name,pnode,status,oper_ram", testInstances},
		{"instance_list_disks_B.txt", "name,pnode,snodes,disk_template,disk.sizes,admin_state,oper_state,status", testInstances},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tb, err := testInstanceSpec.Build(tc.items, tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			assertText(t, tc.file, ganetiGolden(t, tc.file), render(t, tb, TableOpts{}))
		})
	}
}

func TestJobListGolden(t *testing.T) {
	want := ganetiGolden(t, "job_list.txt")
	type job struct {
		id              int
		status, summary string
	}
	var jobs []job
	for _, l := range strings.Split(strings.TrimSuffix(want, "\n"), "\n")[1:] {
		f := strings.Fields(l)
		id, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{id, f[1], f[2]})
	}
	spec := ListSpec[job]{
		Fields: []Field[job]{
			{Name: "id", Title: "ID", Kind: KindNumber, Get: func(j job) any { return j.id }},
			{Name: "status", Title: "Status", Get: func(j job) any { return j.status }},
			{Name: "summary", Title: "Summary", Kind: KindList, Get: func(j job) any { return []string{j.summary} }},
		},
		Default: []string{"id", "status", "summary"},
	}
	tb, err := spec.Build(jobs, "")
	if err != nil {
		t.Fatal(err)
	}
	assertText(t, "gnt-job list", want, render(t, tb, TableOpts{}))
}

func TestOSListGolden(t *testing.T) {
	tb := Table{Columns: []Column{{Title: "Name"}}, Rows: [][]string{{"trivial"}}, PadLastTitle: true}
	assertText(t, "gnt-os list", ganetiGolden(t, "os_list.txt"), render(t, tb, TableOpts{}))
}

func TestRenderTableOpts(t *testing.T) {
	tb, err := testNodeSpec.Build(testNodes[:2], "name,mfree,pinst_cnt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    TableOpts
		want string
	}{
		{"no-headers", TableOpts{NoHeaders: true}, "node1.gref.test 22.4G 0\nnode2.gref.test 22.3G 1\n"},
		{"separator", TableOpts{Separator: "|"}, "Node|MFree|Pinst\nnode1.gref.test|22.4G|0\nnode2.gref.test|22.3G|1\n"},
		{"both", TableOpts{Separator: ",", NoHeaders: true}, "node1.gref.test,22.4G,0\nnode2.gref.test,22.3G,1\n"},
	} {
		if got := render(t, tb, tc.o); got != tc.want {
			t.Errorf("RenderTable(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
	sel, _ := testNodeSpec.Select("name,mfree")
	if got, want := render(t, sel.Table(testNodes[:1], DefaultUnits(":")), TableOpts{Separator: ":"}), "Node:MFree\nnode1.gref.test:22938\n"; got != want {
		t.Errorf("units m with separator = %q, want %q", got, want)
	}
	if got, want := render(t, Table{Columns: []Column{{Title: "Node"}, {Title: "Pinst", Numeric: true}}}, TableOpts{}), "Node Pinst\n"; got != want {
		t.Errorf("empty table = %q, want %q", got, want)
	}
	if got := render(t, Table{Columns: []Column{{Title: "Node"}}}, TableOpts{NoHeaders: true}); got != "" {
		t.Errorf("empty table without headers = %q, want nothing", got)
	}
}

func TestSelect(t *testing.T) {
	names := func(sel Selection[testInstance]) string {
		var n []string
		for _, f := range sel {
			n = append(n, f.Name)
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct{ arg, want string }{
		{"", "name,hypervisor,os,pnode,status,oper_ram"},
		{"name,snodes", "name,snodes"},
		{"+snodes,disk.sizes", "name,hypervisor,os,pnode,status,oper_ram,snodes,disk.sizes"},
	} {
		sel, err := testInstanceSpec.Select(tc.arg)
		if err != nil {
			t.Fatalf("Select(%q): %v", tc.arg, err)
		}
		if got := names(sel); got != tc.want {
			t.Errorf("Select(%q) = %s, want %s", tc.arg, got, tc.want)
		}
	}
	for _, arg := range []string{"name,bogus", "+bogus", "name,"} {
		_, err := testInstanceSpec.Select(arg)
		var ufe *UnknownFieldError
		if !errors.As(err, &ufe) {
			t.Fatalf("Select(%q) error = %v, want *UnknownFieldError", arg, err)
		}
		if !strings.Contains(err.Error(), "valid fields: name, hypervisor, os,") {
			t.Errorf("Select(%q) error = %q, should list the valid fields", arg, err)
		}
	}
}

func TestFormatMiB(t *testing.T) {
	for _, tc := range []struct {
		mib        int64
		h, m, g, t string
	}{
		{0, "0M", "0", "0.0", "0.0"},
		{1, "1M", "1", "0.0", "0.0"},
		{128, "128M", "128", "0.1", "0.0"},
		{324, "324M", "324", "0.3", "0.0"},
		{1023, "1023M", "1023", "1.0", "0.0"},
		{1024, "1.0G", "1024", "1.0", "0.0"},
		{1536, "1.5G", "1536", "1.5", "0.0"},
		{24064, "23.5G", "24064", "23.5", "0.0"},
		{79974, "78.1G", "79974", "78.1", "0.1"},
		{80000, "78.1G", "80000", "78.1", "0.1"},
		{258048, "252.0G", "258048", "252.0", "0.2"},
		{1048575, "1024.0G", "1048575", "1024.0", "1.0"},
		{1048576, "1.0T", "1048576", "1024.0", "1.0"},
		{3 * 1048576, "3.0T", "3145728", "3072.0", "3.0"},
	} {
		for _, u := range []struct{ units, want string }{{"h", tc.h}, {"m", tc.m}, {"g", tc.g}, {"t", tc.t}} {
			if got := FormatUnit(tc.mib, u.units); got != u.want {
				t.Errorf("FormatUnit(%d, %q) = %q, want %q", tc.mib, u.units, got, u.want)
			}
		}
		if got := FormatMiB(tc.mib); got != tc.h {
			t.Errorf("FormatMiB(%d) = %q, want %q", tc.mib, got, tc.h)
		}
	}
	if CheckUnits("x") == nil || CheckUnits("g") != nil {
		t.Errorf("CheckUnits: x must fail, g must pass")
	}
}

func TestInstanceRecordsJSON(t *testing.T) {
	recs, err := testInstanceSpec.Records(testInstances, "name,snodes,disk.sizes,oper_state,oper_ram")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := JSON(&b, recs); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "instance_list.json.golden", b.Bytes())
}

func TestFieldsTable(t *testing.T) {
	got := render(t, testNodeSpec.FieldsTable(), TableOpts{})
	if !strings.HasPrefix(got, "Name      Type   Title  Description\nname      Text   Node   \n") {
		t.Errorf("FieldsTable() =\n%s", got)
	}
}
