package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/internal/view"
)

const htools = "../../playbooks/alloc/testdata/htools/"

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, view.Streams{Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// TestHtoolsCommands: hbal, hspace and hail's work on Ganeti's own data,
// through the commands their names map to.
func TestHtoolsCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{append(toolCommand["hbal"], "-t", htools+"hbal-evac.data", "--hbal-compatible"),
			[]string{"inst-32a node-3:node-2 => node-2:node-1", "Cluster score improved from 46.94539253 to 0.26606742", "Solution length=4"}},
		{append(toolCommand["hbal"], "-t", htools+"hbal-evac.data", "--evac-mode", "-C", "--hbal-compatible"),
			[]string{"a=f r:node-1 f\n", "Solution length=3", "ganetictl instance replace-disks -n node-1 inst-p2"}},
		{append(toolCommand["hbal"], "-t", htools+"hbal-dyn.data", "--ignore-dynu"), []string{"Cluster is already well balanced"}},
		{append(toolCommand["hspace"], "-t", htools+"hspace-tiered.data", "--machine-readable", "--no-capacity-checks"),
			[]string{"HTS_TSPEC='131072,1048576,4,12=4 129984,1048320,4,12=2'\n", "HTS_ALLOC_INSTANCES=6\n", "HTS_OK=1\n"}},
		{append(toolCommand["hspace"], "-t", htools+"hspace-groups-two.data", "--independent-groups"), []string{"  -   2 instances allocated"}},
		{append(toolCommand["hail"], htools+"hail-alloc-drbd.json"), []string{`"success":true`, `"result":["node2","node1"]`}},
		{append(toolCommand["hail"], htools+"hail-alloc-invalid-twodisks.json"), []string{`"success":false`, "FailDisk: 1"}},
	} {
		out, errs, code := runCLI(t, tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, errs)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	if _, errs, code := runCLI(t, append(toolCommand["hbal"], "-t", htools+"hbal-evac.data", "-O", "nosuch")...); code != exitInvalid || !strings.Contains(errs, "wrong node name(s) set as offline: nosuch") {
		t.Errorf("hbal -O nosuch: exit %d: %s", code, errs)
	}
	if _, errs, code := runCLI(t, append(toolCommand["hbal"], "-t", htools+"hbal-evac.data", "-G", "nosuch")...); code == 0 || !strings.Contains(errs, "Node group nosuch not found") {
		t.Errorf("hbal -G nosuch: exit %d: %s", code, errs)
	}
}
