package osdef

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runScript(t *testing.T, osdir, script string, env []string, stdin []byte) (string, string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", filepath.Join(osdir, script))
	cmd.Dir = osdir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "OS_API_VERSION=20", "OS_NAME=testos"}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

func newDisk(t *testing.T, size int) string {
	p := filepath.Join(t.TempDir(), "disk0")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xaa}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readMarker(t *testing.T, disk string) Marker {
	t.Helper()
	b, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMarker(b[MarkerOffset : MarkerOffset+MarkerSize])
	if err != nil {
		t.Fatalf("parse marker: %v\n%q", err, b[:MarkerSize])
	}
	return m
}

func TestInstallLayout(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"create": 0o755, "import": 0o755, "export": 0o755, "rename": 0o755,
		"verify": 0o755, "ganeti_api_version": 0o644, "variants.list": 0o644, "parameters.list": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, Name, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, Name, "ganeti_api_version")); string(b) != "20\n" {
		t.Errorf("api version %q", b)
	}
}

func TestCreateRenameExportImport(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	osdir := filepath.Join(dir, Name)
	disk := newDisk(t, 2<<20)
	env := []string{"OS_VARIANT=default", "INSTANCE_NAME=inst1.example.com", "DISK_COUNT=1", "DISK_0_PATH=" + disk}
	if _, e, err := runScript(t, osdir, "create", env, nil); err != nil {
		t.Fatalf("create: %v %s", err, e)
	}
	m := readMarker(t, disk)
	if m.Name != "inst1.example.com" || len(m.Token) != 32 {
		t.Fatalf("marker %+v", m)
	}
	b, _ := os.ReadFile(disk)
	if b[MarkerSize] != 0xaa {
		t.Error("create wrote past the marker")
	}

	// A second create gets a new token.
	if _, _, err := runScript(t, osdir, "create", env, nil); err != nil {
		t.Fatal(err)
	}
	if m2 := readMarker(t, disk); m2.Token == m.Token {
		t.Error("token not random")
	} else {
		m = m2
	}

	renv := []string{"OS_VARIANT=default", "OLD_INSTANCE_NAME=inst1.example.com", "INSTANCE_NAME=inst2.example.com", "DISK_0_PATH=" + disk}
	if _, e, err := runScript(t, osdir, "rename", renv, nil); err != nil {
		t.Fatalf("rename: %v %s", err, e)
	}
	if r := readMarker(t, disk); r.Name != "inst2.example.com" || r.Token != m.Token {
		t.Fatalf("after rename %+v, before %+v", r, m)
	}
	if _, _, err := runScript(t, osdir, "rename", renv, nil); err == nil {
		t.Error("rename from a name the marker does not hold succeeded")
	}

	out, e, err := runScript(t, osdir, "export", []string{"EXPORT_DEVICE=" + disk, "EXPORT_INDEX=0"}, nil)
	if err != nil {
		t.Fatalf("export: %v %s", err, e)
	}
	if !bytes.Equal([]byte(out), mustRead(t, disk)) {
		t.Fatal("export stream differs from the disk")
	}
	disk2 := newDisk(t, 2<<20)
	if _, e, err := runScript(t, osdir, "import", []string{"IMPORT_DEVICE=" + disk2, "DISK_0_PATH=" + disk2}, []byte(out)); err != nil {
		t.Fatalf("import: %v %s", err, e)
	}
	if !bytes.Equal(mustRead(t, disk2), mustRead(t, disk)) {
		t.Fatal("import did not reproduce the disk")
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFailVariantAndVerify(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	osdir := filepath.Join(dir, Name)
	disk := newDisk(t, 1<<20)
	_, e, err := runScript(t, osdir, "create", []string{"OS_VARIANT=fail", "INSTANCE_NAME=x", "DISK_0_PATH=" + disk}, nil)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(e, "variant 'fail'") {
		t.Fatalf("fail variant: %v %q", err, e)
	}
	if _, err := ParseMarker(mustRead(t, disk)); !errors.Is(err, ErrNoMarker) {
		t.Errorf("fail variant wrote a marker: %v", err)
	}
	if _, _, err := runScript(t, osdir, "verify", []string{"OSP_NOTE=hi"}, nil); err != nil {
		t.Errorf("verify with known param: %v", err)
	}
	if _, _, err := runScript(t, osdir, "verify", []string{"OSP_BOGUS=1"}, nil); err == nil {
		t.Error("verify accepted an unknown parameter")
	}
}

func TestParseMarker(t *testing.T) {
	m, err := ParseMarker([]byte(MarkerMagic + "\nname=a\ntoken=ff\nnote=hello\n\x00\x00"))
	if err != nil || m != (Marker{"a", "ff", "hello"}) {
		t.Errorf("%+v %v", m, err)
	}
	for _, bad := range []string{"", "junk\nname=a\ntoken=b\n", MarkerMagic + "\nname=a\n"} {
		if _, err := ParseMarker([]byte(bad)); !errors.Is(err, ErrNoMarker) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseMarker(f *testing.F) {
	f.Add([]byte(MarkerMagic + "\nname=a\ntoken=b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMarker(b)
		if err == nil && (m.Name == "" || m.Token == "") {
			t.Fatal("accepted marker without name or token")
		}
	})
}
