package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
)

func newPool(t *testing.T, cfg remote.Config, targets ...remote.Target) *remote.Pool {
	t.Helper()
	p, err := remote.NewPool(cfg, targets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolOneConnectionPerNode(t *testing.T) {
	const maxSessions = 4
	srv := remotetest.NewServer(t, remotetest.WithMaxSessions(maxSessions))
	cfg := srv.Config()
	cfg.MaxSessions = maxSessions
	p := newPool(t, cfg, srv.Target("node1"))

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := p.Get(t.Context(), "node1")
			if err != nil {
				errs[i] = err
				return
			}
			res, err := r.Run(t.Context(), remote.Command{Argv: []string{"sh", "-c", "sleep 0.02; echo $1", "sh", fmt.Sprint(i)}})
			if err == nil && string(res.Stdout) != fmt.Sprintln(i) {
				err = fmt.Errorf("run %d: got %q", i, res.Stdout)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := srv.Conns(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
	if got := srv.MaxConcurrentSessions(); got != maxSessions {
		t.Errorf("max concurrent sessions = %d, want %d", got, maxSessions)
	}
}

func TestPoolSFTPHoldsASession(t *testing.T) {
	// MaxSessions 2: the SFTP client holds one, commands share the other.
	srv := remotetest.NewServer(t, remotetest.WithMaxSessions(2))
	cfg := srv.Config()
	cfg.MaxSessions = 2
	p := newPool(t, cfg, srv.Target("node1"))
	r, err := p.Get(t.Context(), "node1")
	if err != nil {
		t.Fatal(err)
	}
	dst := srv.Dir() + "/f"
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			if i%2 == 0 {
				errs[i] = remote.Upload(t.Context(), r, dst, 0o644, strings.NewReader("data"))
			} else {
				_, errs[i] = r.Run(t.Context(), remote.Command{Argv: []string{"true"}})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := srv.MaxConcurrentSessions(); got > 2 {
		t.Errorf("max concurrent sessions = %d, want <= 2", got)
	}
	// MaxSessions 1: SFTP is opened per upload and does not starve commands.
	srv1 := remotetest.NewServer(t, remotetest.WithMaxSessions(1))
	cfg = srv1.Config()
	cfg.MaxSessions = 1
	p = newPool(t, cfg, srv1.Target("node1"))
	r, err = p.Get(t.Context(), "node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Upload(t.Context(), r, srv1.Dir()+"/f", 0o644, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, r, "true")
}

func TestPoolManyNodes(t *testing.T) {
	servers := []*remotetest.Server{remotetest.NewServer(t), remotetest.NewServer(t), remotetest.NewServer(t)}
	cfg := servers[0].Config()
	cfg.KnownHostsFile = remotetest.KnownHostsFile(t, servers...)
	var targets []remote.Target
	for i, s := range servers {
		targets = append(targets, s.Target(fmt.Sprintf("node%d", i+1)))
	}
	p := newPool(t, cfg, targets...)
	var wg sync.WaitGroup
	for range 10 {
		for _, tgt := range targets {
			wg.Go(func() {
				r, err := p.Get(t.Context(), tgt.Name)
				if err != nil {
					t.Error(err)
					return
				}
				if r.String() != tgt.Name {
					t.Errorf("Get(%s).String() = %s", tgt.Name, r)
				}
				if _, err := r.Run(t.Context(), remote.Command{Argv: []string{"true"}}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for i, s := range servers {
		if s.Conns() != 1 {
			t.Errorf("node%d: %d connections, want 1", i+1, s.Conns())
		}
	}
	if _, err := p.Get(t.Context(), "node9"); err == nil || !strings.Contains(err.Error(), "unknown node") {
		t.Errorf("Get(node9): err = %v, want unknown node", err)
	}
}

// deadAddr is a loopback port nobody listens on.
func deadAddr(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestPoolDeadNode(t *testing.T) {
	srv := remotetest.NewServer(t)
	port := deadAddr(t)
	p := newPool(t, srv.Config(), remote.Target{Name: "node9", Addr: "127.0.0.1", Port: port})
	start := time.Now()
	_, err := p.Get(t.Context(), "node9")
	if d := time.Since(start); d > time.Second {
		t.Errorf("dead node took %s to fail", d)
	}
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if want := fmt.Sprintf("node9: connect 127.0.0.1:%d: ", port); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want prefix %q", err, want)
	}
	// The failure is remembered: the same error, no new dial (the port now
	// listens, and must not be dialled).
	ln, err2 := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err2 == nil {
		defer ln.Close()
	}
	_, again := p.Get(t.Context(), "node9")
	if again != err {
		t.Errorf("second Get: err = %v, want the remembered %v", again, err)
	}
}

func TestPoolNodeDiesMidCommand(t *testing.T) {
	srv := remotetest.NewServer(t)
	p := newPool(t, srv.Config(), srv.Target("node1"))
	r, err := p.Get(t.Context(), "node1")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, srv.CloseConns)
	start := time.Now()
	_, err = r.Run(t.Context(), remote.Command{Argv: []string{"sleep", "30"}})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run returned %s after the node died", d)
	}
	var e *remote.ExitError
	if errors.As(err, &e) || !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("err = %v, want a transport error wrapping ErrUnreachable", err)
	}
	if !strings.HasPrefix(err.Error(), "node1: sleep 30: connection lost") {
		t.Errorf("err = %q, want node, command and connection lost", err)
	}
	// Later commands fail fast the same way.
	_, err = r.Run(t.Context(), remote.Command{Argv: []string{"true"}})
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("Run on a dead connection: err = %v, want ErrUnreachable", err)
	}
}

func TestPoolGetContext(t *testing.T) {
	srv := remotetest.NewServer(t)
	p := newPool(t, srv.Config(), srv.Target("node1"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Get(ctx, "node1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled ctx: err = %v", err)
	}
	// The shared dial was not aborted by that caller.
	if _, err := p.Get(t.Context(), "node1"); err != nil {
		t.Errorf("Get after a cancelled caller: %v", err)
	}
	p.Close()
	if _, err := p.Get(t.Context(), "node1"); err == nil {
		t.Errorf("Get after Close succeeded")
	}
}

func TestNewPoolValidates(t *testing.T) {
	srv := remotetest.NewServer(t)
	_, err := remote.NewPool(srv.Config(), []remote.Target{
		{Name: "a", Addr: "127.0.0.1"},
		{Name: "a", Addr: "127.0.0.2"},
		{Name: "b"},
		{Name: "c", Addr: "127.0.0.3", HostKeys: []string{"ssh-ed25519 garbage"}},
	})
	if err == nil {
		t.Fatal("NewPool accepted bad targets")
	}
	for _, want := range []string{"a: listed twice", "b: empty address", "c: pinned host key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
}

func TestJumpHost(t *testing.T) {
	jump := remotetest.NewServer(t)
	nodes := []*remotetest.Server{remotetest.NewServer(t), remotetest.NewServer(t)}
	cfg := jump.Config()
	cfg.KnownHostsFile = remotetest.KnownHostsFile(t, jump, nodes[0], nodes[1])
	cfg.JumpHost = "admin@" + jump.Addr()
	p := newPool(t, cfg, nodes[0].Target("node1"), nodes[1].Target("node2"))
	var wg sync.WaitGroup
	for _, name := range []string{"node1", "node2", "node1", "node2"} {
		wg.Go(func() {
			r, err := p.Get(t.Context(), name)
			if err != nil {
				t.Error(err)
				return
			}
			if got := mustRunErr(t, r, "echo", name); got != name+"\n" {
				t.Errorf("%s: echo = %q", name, got)
			}
			if err := remote.Upload(t.Context(), r, "up", 0o600, bytes.NewReader([]byte(name))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if jump.Conns() != 1 || nodes[0].Conns() != 1 || nodes[1].Conns() != 1 {
		t.Errorf("connections: jump %d, node1 %d, node2 %d; want 1 each", jump.Conns(), nodes[0].Conns(), nodes[1].Conns())
	}
	if u := jump.Users(); len(u) != 1 || u[0] != "admin" {
		t.Errorf("jump host users = %q, want [admin]", u)
	}
	if u := nodes[0].Users(); len(u) != 1 || u[0] != "test" {
		t.Errorf("node users = %q, want [test]", u)
	}
	// An unknown jump host key is refused like any other.
	cfg.KnownHostsFile = remotetest.KnownHostsFile(t, nodes[0])
	p = newPool(t, cfg, nodes[0].Target("node1"))
	_, err := p.Get(t.Context(), "node1")
	var hke *remote.HostKeyError
	if !errors.As(err, &hke) || !hke.Unknown {
		t.Errorf("unknown jump host key: err = %v, want HostKeyError", err)
	}
}

func mustRunErr(t *testing.T, r remote.Runner, argv ...string) string {
	res, err := r.Run(t.Context(), remote.Command{Argv: argv})
	if err != nil {
		t.Error(err)
	}
	return string(res.Stdout)
}
