//go:build bed

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSanitize: state sanitize (and sanitize-config, --path) writes the
// state with every DRBD secret replaced; names and addresses go too unless
// --no-randomization.
func TestSanitize(t *testing.T) {
	c := newCluster(t, 2)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])
	c.ok("instance", "add", "-n", n[0]+":"+n[1], "-o", "testos", "-t", "drbd", "-s", "32M", "--no-name-check", "--no-start", "e2e-san")
	var st struct {
		Instances map[string]struct {
			Disks []struct {
				LogicalID []any `json:"logical_id"`
			} `json:"disks"`
		} `json:"instances"`
		Nodes map[string]struct {
			PrimaryIP string `json:"primary_ip"`
		} `json:"nodes"`
	}
	raw := c.stateBytes()
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	secret, _ := st.Instances["e2e-san"].Disks[0].LogicalID[5].(string)
	if len(secret) < 16 {
		t.Fatalf("no DRBD secret in the state: %q", secret)
	}
	out := c.ok("state", "sanitize").stdout
	if strings.Contains(out, secret) {
		t.Fatal("the sanitized state holds the DRBD secret")
	}
	for _, s := range []string{`"` + n[1] + `"`, `"e2e-san"`, `"` + st.Nodes[n[1]].PrimaryIP + `"`, `"testos`} {
		if strings.Contains(out, s) {
			t.Errorf("the sanitized state holds %s", s)
		}
	}
	// Only the secrets, through the sanitize-config link, to a file.
	link := filepath.Join(t.TempDir(), "sanitize-config")
	if err := os.Symlink(binary, link); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "safe.json")
	saved := binary
	binary = link
	r := c.run("--no-randomization", "--path", filepath.Join(c.stateDir, "state.json"), dst)
	binary = saved
	if r.code != 0 {
		t.Fatalf("sanitize-config: %s", r)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || !strings.Contains(string(b), `"e2e-san"`) || !strings.Contains(string(b), `"`+n[1]+`"`) {
		t.Errorf("--no-randomization: secret kept or names changed:\n%s", b)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("output mode %v", fi.Mode())
	}
	if string(raw) != string(c.stateBytes()) {
		t.Error("sanitize changed the state")
	}
	c.ok("instance", "remove", "-f", "e2e-san")
}
