package inventory_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.err")

// TestExamples loads every examples/*.toml: the documentation must stay true.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.toml")
	if len(files) == 0 {
		t.Fatal("no examples/*.toml found")
	}
	for _, f := range files {
		if filepath.Base(f) == "desired.toml" { // a desired-state file (package desired tests it)
			continue
		}
		if _, err := inventory.Load(f); err != nil {
			t.Errorf("Load(%s): %v", f, err)
		}
	}
}

func TestValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.toml")
	for _, f := range files {
		if _, err := inventory.Load(f); err != nil {
			t.Errorf("Load(%s): %v", f, err)
		}
	}
}

// TestInvalid loads every testdata/invalid/<name>.toml and compares the
// error with <name>.err (go test -update rewrites them).
func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.toml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := inventory.Load(f)
			if err == nil {
				t.Fatalf("Load(%s) succeeded", f)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".toml") + ".err"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (go test -update creates it)", rerr)
			}
			if got != string(want) {
				t.Errorf("Load(%s) error:\n%s\nwant:\n%s", f, got, want)
			}
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, f) {
					t.Errorf("error line %q does not start with the file name", line)
				}
			}
		})
	}
}

func TestDefaultsAndPaths(t *testing.T) {
	inv, err := inventory.Load("testdata/valid/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/valid")
	c, s := inv.Cluster, inv.SSH
	checks := []struct {
		name      string
		got, want any
	}{
		{"ssh.user", s.User, "root"},
		{"ssh.port", s.Port, 22},
		{"ssh.connect_timeout", s.ConnectTimeout, 10 * time.Second},
		{"ssh.command_timeout", s.CommandTimeout, 30 * time.Minute},
		{"ssh.parallel", s.Parallel, 32},
		{"state.dir", inv.State.Dir, filepath.Join(abs, "state")},
		{"cluster.volume_group", c.VolumeGroup, "xenvg"},
		{"cluster.mac_prefix", c.MACPrefix, "aa:00:00"},
		{"cluster.candidate_pool_size", c.CandidatePoolSize, 10},
		{"cluster.enabled_hypervisors", strings.Join(c.EnabledHypervisors, ","), "kvm"},
		{"cluster.enabled_disk_templates", strings.Join(c.EnabledDiskTemplates, ","), "plain,drbd,file,sharedfile,diskless"},
		{"cluster.drbd_status_file", c.DRBDStatusFile, "/proc/drbd"},
		{"groups", len(inv.Groups), 1},
		{"nodes[0].group", inv.Nodes[0].Group, "default"},
		{"nodes[0].secondary_address", inv.Nodes[0].SecondaryAddress, "198.18.0.1"},
		{"nodes[0].port", inv.Nodes[0].Port, 22},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	inv, err = inventory.Load("testdata/valid/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	checks = []struct {
		name      string
		got, want any
	}{
		{"ssh.identity_file", inv.SSH.IdentityFile, filepath.Join(abs, "keys/id_ed25519")},
		{"ssh.known_hosts", inv.SSH.KnownHosts, "/etc/ssh/ssh_known_hosts"},
		{"state.dir", inv.State.Dir, filepath.Join(filepath.Dir(abs), "state")},
		{"ssh.connect_timeout", inv.SSH.ConnectTimeout, 3 * time.Second},
		{"cluster.mac_prefix", inv.Cluster.MACPrefix, "aa:00:00"},
		{"nodes[1].port", inv.Nodes[1].Port, 22022},
		{"nodes[0].port", inv.Nodes[0].Port, 2200},
		{"defaults.beparams.maxmem", inv.Defaults.BEParams["maxmem"], int64(512)},
		{"hypervisors", len(inv.Hypervisors), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	inv, err = inventory.Parse([]byte("[ssh]\nidentity_file = \"~/.ssh/k\"\n"), "x.toml")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".ssh/k"); inv.SSH.IdentityFile != want {
		t.Errorf("identity_file = %q, want %q", inv.SSH.IdentityFile, want)
	}
}

func TestNodeLookup(t *testing.T) {
	inv, err := inventory.Parse([]byte(`
[[nodes]]
name = "node1.example.test"
address = "198.18.0.1"
[[nodes]]
name = "node2"
address = "198.18.0.2"
[[nodes]]
name = "web.a.test"
address = "198.18.0.3"
[[nodes]]
name = "web.b.test"
address = "198.18.0.4"
`), "inv.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"node1.example.test", "node1.example.test"},
		{"node1", "node1.example.test"},
		{"NODE1", "node1.example.test"},
		{"node2", "node2"},
		{"node2.example.test", "node2"},
		{"node", ""},
		{"web", ""}, // ambiguous
		{"web.a", "web.a.test"},
		{"node3", ""},
	}
	for _, tt := range tests {
		n, ok := inv.Node(tt.in)
		got := ""
		if ok {
			got = n.Name
		}
		if got != tt.want {
			t.Errorf("Node(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := strings.Join(inv.NodeNames(), ","); got != "node1.example.test,node2,web.a.test,web.b.test" {
		t.Errorf("NodeNames() = %s", got)
	}
}

func TestParseErrorsNameFile(t *testing.T) {
	_, err := inventory.Parse([]byte("[ssh]\nidentityfile = \"k\"\n"), "inventory.toml")
	want := `inventory.toml:2: unknown key "ssh.identityfile" (did you mean "identity_file"?)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
	_, err = inventory.Parse([]byte("a = [\n"), "x.toml")
	if err == nil || !strings.HasPrefix(err.Error(), "x.toml:") {
		t.Errorf("Parse error = %v, want it to start with x.toml:", err)
	}
	if _, err := inventory.Load("testdata/does-not-exist.toml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: err = %v, want ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, pat := range []string{"../examples/*.toml", "testdata/*/*.toml"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := inventory.Parse(data, "fuzz.toml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := inv.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.toml") {
					t.Fatalf("validation error line %q does not name the file", line)
				}
			}
		}
		for _, n := range inv.NodeNames() {
			inv.Node(n)
		}
	})
}
