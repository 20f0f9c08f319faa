package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestHostKeyPort22 covers lookups on the default port, which known_hosts
// writes without brackets or port (the in-process server cannot bind it).
func TestHostKeyPort22(t *testing.T) {
	key, other := newKey(t), newKey(t)
	remoteAddr := &net.TCPAddr{IP: net.ParseIP("198.18.0.2"), Port: 22}
	tests := []struct {
		name       string
		knownHosts string
		target     Target
		tofu       bool
		wantErr    string // "" = accepted; else "unknown" or "changed"
	}{
		{"by address", knownhosts.Line([]string{"198.18.0.2"}, key), Target{Name: "node2", Addr: "198.18.0.2"}, false, ""},
		{"by name", knownhosts.Line([]string{"node2.example"}, key), Target{Name: "node2.example", Addr: "198.18.0.2"}, false, ""},
		{"hashed", knownhosts.Line([]string{knownhosts.HashHostname("198.18.0.2")}, key), Target{Name: "node2", Addr: "198.18.0.2"}, false, ""},
		{"explicit port 22", knownhosts.Line([]string{"198.18.0.2"}, key), Target{Name: "node2", Addr: "198.18.0.2", Port: 22}, false, ""},
		{"other port not matched", knownhosts.Line([]string{"[198.18.0.2]:2222"}, key), Target{Name: "node2", Addr: "198.18.0.2"}, false, "unknown"},
		{"unknown", "", Target{Name: "node2", Addr: "198.18.0.2"}, false, "unknown"},
		{"changed", knownhosts.Line([]string{"198.18.0.2"}, other), Target{Name: "node2", Addr: "198.18.0.2"}, false, "changed"},
		{"changed with tofu", knownhosts.Line([]string{"198.18.0.2"}, other), Target{Name: "node2", Addr: "198.18.0.2"}, true, "changed"},
		{"tofu", "", Target{Name: "node2", Addr: "198.18.0.2"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(file, []byte(tt.knownHosts+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := newHostKeyChecker(Config{KnownHostsFile: file, TrustOnFirstUse: tt.tofu}, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			err = c.check("ignored", remoteAddr, key)
			var hke *HostKeyError
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("check: %v", err)
				}
			case "unknown", "changed":
				if !errors.As(err, &hke) || hke.Unknown != (tt.wantErr == "unknown") {
					t.Fatalf("check: err = %v, want %s HostKeyError", err, tt.wantErr)
				}
				if hke.Addr != "198.18.0.2" {
					t.Errorf("HostKeyError.Addr = %q, want 198.18.0.2", hke.Addr)
				}
				if tt.wantErr == "changed" && !strings.Contains(err.Error(), "ssh-keygen -R 198.18.0.2 -f ") {
					t.Errorf("message %q lacks the ssh-keygen -R fix", err)
				}
			}
			if tt.tofu && tt.wantErr == "" {
				b, _ := os.ReadFile(file)
				if !strings.Contains(string(b), knownhosts.Line([]string{"198.18.0.2"}, key)) {
					t.Errorf("known_hosts after TOFU = %q", b)
				}
				// The next checker verifies against the recorded key.
				c2, err := newHostKeyChecker(Config{KnownHostsFile: file}, tt.target)
				if err != nil {
					t.Fatal(err)
				}
				if err := c2.check("", remoteAddr, key); err != nil {
					t.Errorf("after TOFU: %v", err)
				}
				if got := c2.algorithms(); len(got) == 0 || got[0] != ssh.KeyAlgoED25519 {
					t.Errorf("algorithms after TOFU = %v, want ed25519 first", got)
				}
			}
		})
	}
}
