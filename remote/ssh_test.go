package remote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dial(t *testing.T, cfg remote.Config, target remote.Target) (*remote.SSH, error) {
	t.Helper()
	s, err := remote.Dial(t.Context(), cfg, target)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func mustRun(t *testing.T, r remote.Runner, argv ...string) string {
	t.Helper()
	res, err := r.Run(t.Context(), remote.Command{Argv: argv})
	if err != nil {
		t.Fatalf("Run(%q): %v", argv, err)
	}
	return string(res.Stdout)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

func TestHostKeyKnownHostsHit(t *testing.T) {
	srv := remotetest.NewServer(t)
	s, err := dial(t, srv.Config(), srv.Target("node1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, s, "echo", "ok"); got != "ok\n" {
		t.Errorf("echo ok = %q", got)
	}
}

func TestHostKeyByName(t *testing.T) {
	// known_hosts knows the node by its name only, as after `ssh node1`.
	srv := remotetest.NewServer(t)
	cfg := srv.Config()
	name := knownhosts.Normalize(fmt.Sprintf("node1.example:%d", srv.Port()))
	cfg.KnownHostsFile = writeFile(t, knownhosts.Line([]string{name}, srv.HostKey())+"\n")
	tgt := srv.Target("node1.example")
	if _, err := dial(t, cfg, tgt); err != nil {
		t.Fatal(err)
	}
}

func TestHostKeyUnknown(t *testing.T) {
	srv := remotetest.NewServer(t)
	cfg := srv.Config()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "absent")
	_, err := dial(t, cfg, srv.Target("node1"))
	var hke *remote.HostKeyError
	if !errors.As(err, &hke) {
		t.Fatalf("err = %v, want *HostKeyError", err)
	}
	if !hke.Unknown || hke.Got != fingerprint(srv.HostKey()) || hke.Node != "node1" {
		t.Errorf("HostKeyError = %+v, want Unknown with Got %s", hke, fingerprint(srv.HostKey()))
	}
	for _, want := range []string{"node1: connect 127.0.0.1:", "not in", hke.Got, "--accept-new-host-key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("host key error is ErrUnreachable")
	}
	if _, err := os.Stat(cfg.KnownHostsFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("known_hosts was written without TrustOnFirstUse")
	}
}

func TestHostKeyChanged(t *testing.T) {
	srv := remotetest.NewServer(t)
	old := remotetest.NewHostKey(t).PublicKey()
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, old) + "\n"
	for _, tofu := range []bool{false, true} {
		t.Run(fmt.Sprintf("tofu=%v", tofu), func(t *testing.T) {
			cfg := srv.Config()
			cfg.KnownHostsFile = writeFile(t, line)
			cfg.TrustOnFirstUse = tofu
			_, err := dial(t, cfg, srv.Target("node2"))
			var hke *remote.HostKeyError
			if !errors.As(err, &hke) {
				t.Fatalf("err = %v, want *HostKeyError", err)
			}
			if hke.Unknown || len(hke.Want) != 1 || hke.Want[0] != fingerprint(old) || hke.Got != fingerprint(srv.HostKey()) {
				t.Errorf("HostKeyError = %+v, want changed from %s to %s", hke, fingerprint(old), fingerprint(srv.HostKey()))
			}
			for _, want := range []string{"changed", fingerprint(old), fingerprint(srv.HostKey()), "ssh-keygen -R '[127.0.0.1]:", "--accept-new-host-key"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if b, _ := os.ReadFile(cfg.KnownHostsFile); string(b) != line {
				t.Errorf("known_hosts changed to %q", b)
			}
		})
	}
}

func TestHostKeyTrustOnFirstUse(t *testing.T) {
	srv := remotetest.NewServer(t)
	cfg := srv.Config()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "ssh", "known_hosts") // directory missing too
	cfg.TrustOnFirstUse = true
	var logs []string
	var mu sync.Mutex
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}
	if _, err := dial(t, cfg, srv.Target("node3")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != srv.KnownHostsLine() {
		t.Errorf("known_hosts = %q, want %q", got, srv.KnownHostsLine())
	}
	if !strings.Contains(strings.Join(logs, "\n"), "accepted new host key "+fingerprint(srv.HostKey())) {
		t.Errorf("log %q does not record the accepted key", logs)
	}
	// The next connection verifies against the recorded key, without TOFU.
	cfg.TrustOnFirstUse = false
	if _, err := dial(t, cfg, srv.Target("node3")); err != nil {
		t.Errorf("second dial: %v", err)
	}
}

func TestHostKeyPinned(t *testing.T) {
	srv := remotetest.NewServer(t)
	cfg := srv.Config()
	// known_hosts holds a wrong key: the pinned key wins.
	cfg.KnownHostsFile = writeFile(t, knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, remotetest.NewHostKey(t).PublicKey())+"\n")
	tgt := srv.Target("node4")
	tgt.HostKeys = []string{srv.HostKeyLine()}
	if _, err := dial(t, cfg, tgt); err != nil {
		t.Fatalf("pinned key: %v", err)
	}
	// A wrong pin is refused, whatever known_hosts says.
	cfg = srv.Config()
	wrong := remotetest.NewHostKey(t).PublicKey()
	tgt.HostKeys = []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(wrong)))}
	_, err := dial(t, cfg, tgt)
	var hke *remote.HostKeyError
	if !errors.As(err, &hke) || !hke.Pinned || hke.Want[0] != fingerprint(wrong) {
		t.Fatalf("wrong pin: err = %v, want a pinned *HostKeyError", err)
	}
	if !strings.Contains(err.Error(), "pinned") {
		t.Errorf("error %q does not say the key is pinned", err)
	}
}

func TestHostKeyAlgorithmPreference(t *testing.T) {
	// The server has ECDSA and ed25519 keys; the library would pick ECDSA
	// first. known_hosts has only ed25519: we must ask for ed25519.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := ssh.NewSignerFromKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	edSigner := remotetest.NewHostKey(t)
	srv := remotetest.NewServer(t, remotetest.WithHostKey(edSigner, ecSigner))
	if _, err := dial(t, srv.Config(), srv.Target("node5")); err != nil {
		t.Errorf("ed25519 known: %v", err)
	}
	cfg := srv.Config()
	cfg.KnownHostsFile = writeFile(t, knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, ecSigner.PublicKey())+"\n")
	if _, err := dial(t, cfg, srv.Target("node5")); err != nil {
		t.Errorf("ecdsa known: %v", err)
	}
}

func TestAuthErrors(t *testing.T) {
	srv := remotetest.NewServer(t)
	// An encrypted key file is explained.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(t.TempDir(), "id_enc")
	os.WriteFile(enc, pem.EncodeToMemory(block), 0o600)
	cfg := srv.Config()
	cfg.KeyFiles = []string{enc}
	_, err = remote.NewPool(cfg, []remote.Target{srv.Target("n")})
	if err == nil || !strings.Contains(err.Error(), "encrypted") || !strings.Contains(err.Error(), "ssh-agent") {
		t.Errorf("encrypted key: err = %v, want it to say encrypted and suggest ssh-agent", err)
	}
	// A key the server does not accept.
	block, _ = ssh.MarshalPrivateKey(priv, "")
	other := filepath.Join(t.TempDir(), "id_other")
	os.WriteFile(other, pem.EncodeToMemory(block), 0o600)
	cfg.KeyFiles = []string{other}
	_, err = dial(t, cfg, srv.Target("n"))
	if err == nil || !strings.Contains(err.Error(), "authenticate as test") || errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("wrong key: err = %v, want an authentication error", err)
	}
}

func TestAgent(t *testing.T) {
	srv := remotetest.NewServer(t)
	pemBytes, err := os.ReadFile(srv.ClientKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { agent.ServeAgent(keyring, c); c.Close() })
		}
	})
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := srv.Config()
	cfg.KeyFiles = nil
	cfg.UseAgent = true
	s, err := dial(t, cfg, srv.Target("n"))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "true")
}

func TestExitSignal(t *testing.T) {
	srv := remotetest.NewServer(t)
	s, err := dial(t, srv.Config(), srv.Target("node1"))
	if err != nil {
		t.Fatal(err)
	}
	// exec: the shell sshd starts is replaced, so the kill is reported as an
	// exit-signal message rather than a shell's exit 143.
	_, err = s.Run(t.Context(), remote.Command{Argv: []string{"exec", "sh", "-c", "kill -TERM $$"}})
	var e *remote.ExitError
	if !errors.As(err, &e) || e.Signal != "TERM" || e.Code != 143 {
		t.Fatalf("err = %v (%+v), want ExitError TERM 143", err, e)
	}
	if !strings.Contains(err.Error(), "node1: exec sh -c ...: killed by signal TERM") {
		t.Errorf("message %q", err)
	}
}

func TestExitErrorMessage(t *testing.T) {
	srv := remotetest.NewServer(t)
	s, err := dial(t, srv.Config(), srv.Target("node2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(t.Context(), remote.Command{Argv: []string{"sh", "-c", "echo 'Volume group \"xenvg\" not found' >&2; exit 5"}})
	want := `node2: sh -c 'echo '\''Volume group "xenvg" not found'\'' >&2; exit 5': exit 5: Volume group "xenvg" not found`
	if err == nil || err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
}

func TestStdinReadErrorAborts(t *testing.T) {
	srv := remotetest.NewServer(t)
	s, err := dial(t, srv.Config(), srv.Target("node1"))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("source broke")
	// `cat > out && touch done`: EOF would create done; a read error must not.
	_, err = s.Run(t.Context(), remote.Command{
		Argv:  []string{"sh", "-c", `cat > out && touch done`},
		Stdin: &errAfter{n: 1 << 16, err: boom},
	})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want it to wrap %v", err, boom)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(srv.Dir(), "done")); err == nil {
		t.Errorf("the command saw EOF after a stdin read error")
	}
}

// errAfter yields n bytes then err.
type errAfter struct {
	n   int
	err error
}

func (r *errAfter) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestDialCancelDuringHandshake(t *testing.T) {
	// A peer that accepts TCP and never speaks SSH.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	srv := remotetest.NewServer(t)
	cfg := srv.Config()
	tgt := remote.Target{Name: "mute", Addr: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = remote.Dial(ctx, cfg, tgt)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled handshake returned after %s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("caller's deadline: err = %v, want context.DeadlineExceeded", err)
	}

	cfg.ConnectTimeout = 200 * time.Millisecond
	_, err = remote.Dial(t.Context(), cfg, tgt)
	if !errors.Is(err, remote.ErrUnreachable) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("connect timeout: err = %v, want ErrUnreachable, timed out", err)
	}
}

func TestKeepAlive(t *testing.T) {
	srv := remotetest.NewServer(t)
	cfg := srv.Config()
	cfg.KeepAlive = 10 * time.Millisecond
	s, err := dial(t, cfg, srv.Target("node1"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // several keepalives answered
	mustRun(t, s, "true")
	s.Close()
	if _, err := s.Run(t.Context(), remote.Command{Argv: []string{"true"}}); err == nil {
		t.Errorf("Run after Close succeeded")
	}
}
