package standin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func init() { rbdUseLoop = false }

func TestRBDLifecycle(t *testing.T) {
	shared := t.TempDir()
	n := newTestNode(t, "node1", shared)
	m := newTestNode(t, "node2", shared)
	name := "b9e31bb3-4d4f-4a2c-bc63-207a0bc4b287.rbd.disk0"
	n.must("rbd", "create", "-p", "rbd", name, "--size", "64")
	if fi, err := os.Stat(filepath.Join(shared, "rbd", "rbd", name)); err != nil || fi.Size() != 64<<20 {
		t.Fatalf("image file: %v %v", fi, err)
	}
	if _, e, code := n.run("rbd", "create", "-p", "rbd", name, "--size", "64"); code != 17 || e != "rbd: create error: (17) File exists\n" {
		t.Errorf("create twice: %d %q", code, e)
	}
	if o := m.must("rbd", "ls", "-p", "rbd"); o != name+"\n" {
		t.Errorf("ls on the other node: %q", o)
	}
	if o := m.must("rbd", "ls", "-p", "rbd", "--format", "json"); o != `["`+name+`"]`+"\n" {
		t.Errorf("ls json: %q", o)
	}
	if o := n.must("rbd", "showmapped", "--format", "json"); o != "[]\n" {
		t.Errorf("empty showmapped: %q", o)
	}
	dev := n.must("rbd", "map", "-p", "rbd", name, "--id", "admin")
	if dev != "/dev/rbd0\n" {
		t.Fatalf("map printed %q", dev)
	}
	if _, err := os.Stat(filepath.Join(n.root.DevDir, "rbd0")); err != nil {
		t.Errorf("device node: %v", err)
	}
	out := n.must("rbd", "showmapped", "--format", "json")
	golden(t, "rbd_showmapped.json", out)
	var got []map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0]["device"] != "/dev/rbd0" || got[0]["name"] != name {
		t.Errorf("showmapped: %v %v", got, err)
	}
	golden(t, "rbd_showmapped.txt", n.must("rbd", "showmapped"))
	if o := m.must("rbd", "showmapped", "--format", "json"); o != "[]\n" {
		t.Errorf("mappings leak to another node: %q", o)
	}

	n.must("rbd", "resize", "-p", "rbd", name, "--size", "128")
	info := n.must("rbd", "info", "-p", "rbd", name, "--format", "json")
	var inf struct{ Size int64 }
	if err := json.Unmarshal([]byte(info), &inf); err != nil || inf.Size != 128<<20 {
		t.Errorf("info after resize: %s %v", info, err)
	}
	if _, _, code := n.run("rbd", "resize", "-p", "rbd", name, "--size", "64"); code != 22 {
		t.Errorf("shrink without --allow-shrink: exit %d", code)
	}
	if _, e, code := n.run("rbd", "unmap", "/dev/rbd7"); code != 22 || !strings.HasPrefix(e, "rbd: /dev/rbd7: not a mapped image or snapshot") {
		t.Errorf("unmap of unmapped device: %d %q", code, e)
	}
	n.must("rbd", "unmap", "/dev/rbd0")
	n.must("rbd", "rm", "-p", "rbd", name)
	if _, e, code := n.run("rbd", "map", "-p", "rbd", name); code != 2 || !strings.Contains(e, "(2) No such file or directory") {
		t.Errorf("map missing image: %d %q", code, e)
	}
	if _, e, code := n.run("rbd", "info", "-p", "rbd", "nope"); code != 2 || e != "rbd: error opening image nope: (2) No such file or directory\n" {
		t.Errorf("info missing image: %d %q", code, e)
	}
}

// Ceph 16 prints a JSON list where the fixture (pre-Mimic) has a dict keyed
// by id; Ganeti reads both. The entries carry the same fields and values.
func TestRBDShowmappedShapeMatchesFixture(t *testing.T) {
	var fix map[string]map[string]string
	if err := json.Unmarshal([]byte(fixture(t, "bdev-rbd/json_output_ok.txt")), &fix); err != nil {
		t.Fatal(err)
	}
	n := newTestNode(t, "node1", t.TempDir())
	var ids []string
	for id := range fix {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n.must("rbd", "create", "placeholder", "--size", "1") // takes id 0 so the fixture's ids 1..3 line up
	n.must("rbd", "map", "placeholder")
	for _, id := range ids {
		n.must("rbd", "create", "-p", fix[id]["pool"], fix[id]["name"], "--size", "1")
		n.must("rbd", "map", "-p", fix[id]["pool"], fix[id]["name"])
	}
	var got []map[string]string
	if err := json.Unmarshal([]byte(n.must("rbd", "showmapped", "--format", "json")), &got); err != nil {
		t.Fatal(err)
	}
	byID := map[string]map[string]string{}
	for _, e := range got {
		byID[e["id"]] = e
	}
	for id, want := range fix {
		for k, v := range want {
			if byID[id][k] != v {
				t.Errorf("id %s field %s: got %q, want %q", id, k, byID[id][k], v)
			}
		}
	}
}
