//go:build bed

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

// TestBadInput checks that each kind of bad input gets a clear error naming
// the problem and the fix, with the right exit code, and loses nothing.
func TestBadInput(t *testing.T) {
	c := newCluster(t, 3)
	n := c.names()
	c.ok("cluster", "init")
	c.ok("node", "add", n[1])

	t.Run("malformed inventory", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.toml")
		os.WriteFile(bad, []byte("[cluster]\nname = \"x\"\nmaster = \n"), 0o600)
		r := c.run("--inventory", bad, "cluster", "info")
		if r.code != 10 || !strings.Contains(r.stderr, "bad.toml:3") {
			t.Errorf("want exit 10 naming bad.toml:3, got %s", r)
		}
	})
	t.Run("unknown inventory key", func(t *testing.T) {
		inv, err := os.ReadFile(c.inv)
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(filepath.Dir(c.inv), "unknown-key.toml")
		text := strings.Replace(string(inv), "[ssh]\n", "[ssh]\nidentityfile = \"x\"\n", 1)
		os.WriteFile(bad, []byte(text), 0o600)
		defer os.Remove(bad)
		r := c.run("--inventory", bad, "cluster", "info")
		if r.code != 10 || !strings.Contains(r.stderr, `unknown key "ssh.identityfile"`) {
			t.Errorf("want exit 10 naming the key, got %s", r)
		}
	})
	t.Run("shell metacharacters in names", func(t *testing.T) {
		before := c.stateBytes()
		for _, name := range []string{"a;rm -rf /", "$(id)", "`id`", "node 4", "-rf"} {
			r := c.run("node", "add", "--", name)
			if r.code != 10 || !strings.Contains(r.stderr, "node name") {
				t.Errorf("node add %q: want exit 10 and a name error, got %s", name, r)
			}
		}
		if string(before) != string(c.stateBytes()) {
			t.Error("a refused command changed the state")
		}
	})
	t.Run("locked state", func(t *testing.T) {
		store, err := statefile.OpenDir(c.stateDir)
		if err != nil {
			t.Fatal(err)
		}
		lk, err := store.Lock(t.Context(), statefile.NewLockInfo("test holds the lock", "test"))
		if err != nil {
			t.Fatal(err)
		}
		r := c.run("cluster", "add-tags", "x")
		lk.Unlock()
		if r.code != 11 || !strings.Contains(r.stderr, "test holds the lock") || !strings.Contains(r.stderr, "state unlock --force") {
			t.Errorf("want exit 11 naming the holder and the fix, got %s", r)
		}
	})
	t.Run("corrupt state", func(t *testing.T) {
		path := filepath.Join(c.stateDir, "state.json")
		good := c.stateBytes()
		os.WriteFile(path, []byte("{not json"), 0o600)
		r := c.run("cluster", "info")
		os.WriteFile(path, good, 0o600)
		if r.code != 10 || !strings.Contains(r.stderr, "history") {
			t.Errorf("want exit 10 pointing to history, got %s", r)
		}
	})
	t.Run("host key mismatch", func(t *testing.T) {
		inv, _ := os.ReadFile(c.inv)
		kh := filepath.Join(t.TempDir(), "known_hosts")
		// A known_hosts that has another key for every node.
		var lines []string
		for _, node := range c.bed.Nodes() {
			lines = append(lines, node.Addr+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
		}
		os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		bad := filepath.Join(filepath.Dir(c.inv), "wrong-keys.toml")
		text := replaceKey(string(inv), "known_hosts", kh)
		os.WriteFile(bad, []byte(text), 0o600)
		defer os.Remove(bad)
		r := c.run("--inventory", bad, "cluster", "command", "--", "true")
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "SHA256:") || !strings.Contains(r.stdout+r.stderr, "ssh-keygen -R") {
			t.Errorf("want a refusal with fingerprints and the fix, got %s", r)
		}
	})
	t.Run("unreachable node", func(t *testing.T) {
		c.ok("node", "add", n[2])
		if err := c.bed.PowerOff(t.Context(), n[2]); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := c.bed.Boot(t.Context(), n[2]); err != nil {
				t.Fatal(err)
			}
		}()
		start := time.Now()
		r := c.fails(1, "cluster", "verify")
		if !strings.Contains(r.stdout, "ERROR: node "+n[2]+": node is unreachable") {
			t.Errorf("verify should name the dead node:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, "ERROR: node "+n[0]) || strings.Contains(r.stdout, "ERROR: node "+n[1]) {
			t.Errorf("the other nodes should verify clean:\n%s", r.stdout)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("verify with a dead node took %s", d)
		}
		r = c.fails(3, "cluster", "command", "--", "uname", "-n")
		if !strings.Contains(r.stdout, "node: "+n[0]+"\n"+n[0]) || !strings.Contains(r.stdout, "node: "+n[2]) {
			t.Errorf("command should run on the live nodes and name the dead one:\n%s", r.stdout)
		}
	})
}

// replaceKey sets key = "value" in the inventory's text (first occurrence).
func replaceKey(text, key, value string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), key+" ") || strings.HasPrefix(strings.TrimSpace(l), key+"=") {
			lines[i] = key + ` = "` + value + `"`
			return strings.Join(lines, "\n")
		}
	}
	return text
}
