package lvdev

import (
	"strings"
	"testing"
)

func TestReportFixSeparated(t *testing.T) {
	args := strings.Fields("--noheadings --separator | --units=k -o lv_attr,lv_kernel_major,lv_kernel_minor,stripes nosuchvg/x")
	newArgs, fix, ok := reportFix(args)
	if !ok || newArgs[5] != "lv_attr,lv_kernel_major,lv_kernel_minor,stripes,vg_name,lv_name" || args[5] == newArgs[5] {
		t.Fatalf("args %v ok=%v", newArgs, ok)
	}
	// The LV has no device: inactive, numbers stay -1, extra columns go.
	got := string(fix([]byte("  -wi-XX----|-1|-1|1|nosuchvg|x\n")))
	if got != "  -wi-------|-1|-1|1\n" {
		t.Fatalf("got %q", got)
	}
	if p := patchAttr("  -wi-XX----", lvState{active: true, open: true}); p != "  -wi-ao----" {
		t.Fatalf("attr %q", p)
	}
	if p := patchField("kernel_major", "  -1", lvState{active: true, major: 7}); p != "   7" {
		t.Fatalf("major %q", p)
	}
}

func TestReportFixDeclines(t *testing.T) {
	for _, a := range []string{"-o +lv_attr", "--reportformat json", "--separator , ", "-olv_attr --separator ,"} {
		if _, _, ok := reportFix(strings.Fields(a)); ok {
			t.Errorf("%q: want pass-through", a)
		}
	}
	if _, _, ok := reportFix(nil); !ok {
		t.Error("default report: want patched")
	}
	got := string(patchDefault([]byte("  LV   VG    Attr       LSize\n  a    nosuchvg -wi-XX---- 8.00m\n")))
	if !strings.Contains(got, " -wi------- 8.00m") || !strings.HasPrefix(got, "  LV   VG    Attr") {
		t.Fatalf("default: %q", got)
	}
}
