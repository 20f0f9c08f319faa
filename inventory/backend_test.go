package inventory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/inventory"
)

const base = `[cluster]
name = "c.example.test"
master = "node1"
[[nodes]]
name = "node1"
address = "198.18.0.1"
`

func TestStateBackends(t *testing.T) {
	inv, err := inventory.Parse([]byte(base), "inv.toml")
	if err != nil || inv.Validate() != nil || inv.State.Backend != "dir" {
		t.Fatalf("default backend: %+v %v", inv.State, err)
	}
	inv, err = inventory.Parse([]byte(base+`[state]
backend = "cluster"
[state.cluster]
lock_ttl = "7s"
`), "inv.toml")
	if err != nil || inv.Validate() != nil {
		t.Fatalf("cluster: %v %v", err, inv.Validate())
	}
	if c := inv.State.Cluster; c.Node != "node1" || c.Root != inventory.DefaultClusterStoreRoot || c.LockTTL != 7*time.Second {
		t.Errorf("cluster settings: %+v", c)
	}
	inv, _ = inventory.Parse([]byte(base+`[state]
backend = "etcd"
[state.etcd]
endpoints = ["https://127.0.0.1:2379"]
ca_file = "ca.pem"
user = "ganetictl"
password_env = "GANETICTL_TEST_ETCD_PW"
`), filepath.Join(t.TempDir(), "inv.toml"))
	if err := inv.Validate(); err != nil {
		t.Fatal(err)
	}
	e := inv.State.Etcd
	if e.Prefix != "/ganetictl/c.example.test/" || !filepath.IsAbs(e.CAFile) {
		t.Errorf("etcd settings: %+v", e)
	}
	t.Setenv("GANETICTL_TEST_ETCD_PW", "s3cret")
	if pw, err := e.EtcdPassword(); err != nil || pw != "s3cret" {
		t.Errorf("password from the environment: %q %v", pw, err)
	}

	for _, tc := range []struct{ toml, want string }{
		{`[state]` + "\n" + `backend = "s3"`, `unknown backend "s3"`},
		{"[state]\nbackend = \"etcd\"\n", "needs at least one endpoint"},
		{"[state]\nbackend = \"etcd\"\n[state.etcd]\nendpoints = [\"127.0.0.1:2379\"]\n", "not an http:// or https:// URL"},
		{"[state]\nbackend = \"etcd\"\n[state.etcd]\nendpoints = [\"http://127.0.0.1:2379\"]\npassword = \"x\"\n", `unknown key "state.etcd.password"`},
		{"[state]\nbackend = \"cluster\"\n[state.cluster]\nnode = \"node9\"\n", `"node9" is not a node`},
	} {
		inv, err := inventory.Parse([]byte(base+tc.toml), "inv.toml")
		if err == nil {
			err = inv.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.toml, err, tc.want)
		}
	}
}

func TestEtcdPasswordFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	os.WriteFile(f, []byte("from-file\n"), 0o644)
	e := inventory.EtcdBackend{PasswordFile: f}
	if _, err := e.EtcdPassword(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a password file readable by others: err = %v", err)
	}
	os.Chmod(f, 0o600)
	if pw, err := e.EtcdPassword(); err != nil || pw != "from-file" {
		t.Errorf("password file: %q %v", pw, err)
	}
}
