package playbooks

import (
	"strings"
	"testing"
)

const diskInfoOut = `disk sda 21474836480 0 0 -
part sda1 21473787904 0 0 sda
disk sdb 10737418240 0 0 -
disk sdc 10737418240 0 0 -
disk vdb 1073741824 0 1 -
disk sdd 1073741824 1 0 -
@@mounts
/dev/sda1 /
proc /proc
@@swaps
/dev/sdc
@@pvs
/dev/sde|xenvg
@@vgs
xenvg
`

func TestParseDiskInfo(t *testing.T) {
	nd, err := ParseDiskInfo([]byte(diskInfoOut))
	if err != nil {
		t.Fatal(err)
	}
	inUse := map[string]bool{}
	for _, d := range nd.Disks {
		inUse[d.Name] = d.InUse
	}
	for name, want := range map[string]bool{"sda": true, "sda1": true, "sdb": false, "sdc": true, "vdb": true, "sdd": false} {
		if inUse[name] != want {
			t.Errorf("%s in use: %v, want %v", name, inUse[name], want)
		}
	}
	if len(nd.VGs) != 1 || nd.VGs[0] != "xenvg" {
		t.Errorf("vgs: %v", nd.VGs)
	}
	if _, err := ParseDiskInfo([]byte("garbage line\n")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestStorageInitRefusals(t *testing.T) {
	st := initState(t, "node2")
	env := Env{State: st, Probes: []Probe{{Node: "node2", Stdout: []byte(diskInfoOut)}}}
	for _, c := range []struct {
		args StorageInitArgs
		want string
	}{
		{StorageInitArgs{Node: "node2", VG: "xenvg", All: true}, "already exists"},
		{StorageInitArgs{Node: "node2", VG: "vg2", Disks: []string{"sda"}}, "disk sda is in use, cannot wipe!"},
		{StorageInitArgs{Node: "node2", VG: "vg2", Disks: []string{"sdc"}}, "disk sdc is in use"},
		{StorageInitArgs{Node: "node2", VG: "vg2", Disks: []string{"sdx"}}, "cannot find disk sdx"},
		{StorageInitArgs{Node: "node2", VG: "vg2", Disks: []string{"sdd"}}, "cannot find disk sdd"}, // removable
		{StorageInitArgs{Node: "node2", VG: "vg2"}, "--alldisks or --disks"},
	} {
		if _, err := StorageInit(env, c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("StorageInit(%+v) = %v, want %q", c.args, err, c.want)
		}
	}
	p, err := StorageInit(env, StorageInitArgs{Node: "node2", VG: "vg2", All: true, AllowRemovable: true})
	if err != nil {
		t.Fatal(err)
	}
	last := p.Stages[len(p.Stages)-1].Steps[0].Argv
	if strings.Join(last, " ") != "vgcreate -s 64M vg2 /dev/sdb /dev/sdd" {
		t.Errorf("vgcreate: %v", last)
	}
}
