package lvdev

import (
	"strings"
	"testing"
)

func TestActivation(t *testing.T) {
	for _, c := range []struct {
		args string
		want string
	}{
		{"-ay xenvg/a", "y"}, {"-an xenvg/a", "n"}, {"-a y xenvg", "y"}, {"--activate=n x/y", "n"},
		{"--activate ey x/y", "y"}, {"-aly x", "y"}, {"--addtag foo x/y", ""}, {"-L 10m -n a xenvg", ""},
	} {
		if got := activation(strings.Fields(c.args)); got != c.want {
			t.Errorf("activation(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestTargets(t *testing.T) {
	lvs := []LV{{VG: "xenvg", Name: "a"}, {VG: "xenvg", Name: "b"}, {VG: "other", Name: "c"}}
	names := func(l []LV) string {
		var s []string
		for _, lv := range l {
			s = append(s, lv.FullName())
		}
		return strings.Join(s, ",")
	}
	if got := names(targets("lvchange", strings.Fields("-ay /dev/xenvg/b"), lvs)); got != "xenvg/b" {
		t.Errorf("lvchange /dev/xenvg/b: %s", got)
	}
	if got := names(targets("vgchange", strings.Fields("-an xenvg"), lvs)); got != "xenvg/a,xenvg/b" {
		t.Errorf("vgchange xenvg: %s", got)
	}
	if got := names(targets("vgchange", strings.Fields("-ay"), lvs)); got != "xenvg/a,xenvg/b,other/c" {
		t.Errorf("vgchange all: %s", got)
	}
	if got := names(targets("vgchange", strings.Fields("-ay xenvg/a"), lvs)); got != "xenvg/a,xenvg/b,other/c" {
		t.Errorf("vgchange does not take LV names: %s", got)
	}
}

func TestFilterStderr(t *testing.T) {
	in := "  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n" +
		"  WARNING: Logical volume xenvg/a not zeroed.\n  Volume group \"x\" not found\n"
	if got, want := filterStderr(in), "  Volume group \"x\" not found\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
