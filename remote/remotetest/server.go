package remotetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Server is an in-process SSH server on 127.0.0.1 for tests. It behaves like
// sshd where ganetictl depends on it: exec requests run `sh -c <command>` in
// Dir(), with stdin, stdout, stderr, exit-status and exit-signal passed
// through; "signal" requests reach the command's process group; the "sftp"
// subsystem is served by github.com/pkg/sftp (with posix-rename); env requests
// are refused; keepalive@openssh.com is answered; direct-tcpip (jump host)
// forwards to 127.0.0.0/8 only. It counts connections and concurrent
// sessions, and can refuse sessions beyond a per-connection limit as sshd's
// MaxSessions does. It accepts any user name with the client key shared by
// all Servers of the test binary. Its methods are safe for concurrent use.
type Server struct {
	t           testing.TB
	ln          net.Listener
	hosts       []ssh.Signer // hosts[0] is the one HostKey reports
	dir         string
	keyFile     string
	maxSessions int
	cfg         *ssh.ServerConfig
	wg          sync.WaitGroup

	mu           sync.Mutex
	closed       bool
	live         map[net.Conn]bool
	conns        int
	sessions     int
	maxConcurent int
	users        []string
}

// ServerOption configures NewServer.
type ServerOption func(*Server)

// WithMaxSessions makes the server refuse a session channel when n sessions
// are already open on the same connection (sshd's MaxSessions).
func WithMaxSessions(n int) ServerOption { return func(s *Server) { s.maxSessions = n } }

// WithHostKey makes the server offer keys (one per algorithm) instead of a
// generated ed25519 key; HostKey and the known_hosts lines use keys[0].
func WithHostKey(keys ...ssh.Signer) ServerOption { return func(s *Server) { s.hosts = keys } }

// NewHostKey generates an ed25519 host key, for WithHostKey.
func NewHostKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientKey is the private key every Server accepts, in OpenSSH PEM form.
var clientKey = sync.OnceValues(func() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
})

// NewServer starts a server on 127.0.0.1:0 whose commands run in a fresh
// t.TempDir(). It is closed by t.Cleanup.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), live: make(map[net.Conn]bool)}
	for _, o := range opts {
		o(s)
	}
	if len(s.hosts) == 0 {
		s.hosts = []ssh.Signer{NewHostKey(t)}
	}
	priv, err := clientKey()
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "remotetest client")
	if err != nil {
		t.Fatal(err)
	}
	keyDir := t.TempDir()
	s.keyFile = filepath.Join(keyDir, "id_ed25519")
	if err := os.WriteFile(s.keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	clientPub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) != string(clientPub.Marshal()) {
				return nil, fmt.Errorf("unknown key for %s", md.User())
			}
			return nil, nil
		},
	}
	for _, k := range s.hosts {
		s.cfg.AddHostKey(k)
	}
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Dir is the directory commands run in and relative SFTP paths resolve to.
func (s *Server) Dir() string { return s.dir }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hosts[0].PublicKey() }

// HostKeyLine is the host key in authorized_keys format, for Target.HostKeys.
func (s *Server) HostKeyLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.hosts[0].PublicKey())))
}

// KnownHostsLine is the known_hosts line for the server's address.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.hosts[0].PublicKey())
}

// ClientKeyFile is the private key file the server accepts (unencrypted).
func (s *Server) ClientKeyFile() string { return s.keyFile }

// Target is the remote.Target for this server, named name.
func (s *Server) Target(name string) remote.Target {
	return remote.Target{Name: name, Addr: "127.0.0.1", Port: s.Port()}
}

// Config is a remote.Config that reaches this server (and every other Server,
// when their known_hosts lines are added): the client key, and a fresh
// known_hosts file holding this server's key.
func (s *Server) Config() remote.Config {
	return remote.Config{
		User:           "test",
		KeyFiles:       []string{s.keyFile},
		KnownHostsFile: KnownHostsFile(s.t, s),
	}
}

// KnownHostsFile writes a known_hosts file with the keys of servers in
// t.TempDir() and returns its path.
func KnownHostsFile(t testing.TB, servers ...*Server) string {
	t.Helper()
	var b strings.Builder
	for _, s := range servers {
		b.WriteString(s.KnownHostsLine() + "\n")
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Conns is the number of SSH connections accepted (handshake completed).
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Users lists the user names of accepted connections, in order.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

// MaxConcurrentSessions is the highest number of sessions open at once.
func (s *Server) MaxConcurrentSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxConcurent
}

// CloseConns drops every connection abruptly, as a node that dies does, and
// kills the commands they ran. The server keeps accepting new connections.
func (s *Server) CloseConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.live {
		c.Close()
	}
}

// Close stops the server, drops its connections and waits for its
// goroutines and commands. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.CloseConns()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.live[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handleConn(c)
	}
}

func (s *Server) handleConn(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.live, nc)
		s.mu.Unlock()
		nc.Close()
	}()
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	s.mu.Lock()
	s.conns++
	s.users = append(s.users, sc.User())
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for r := range reqs {
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	var mu sync.Mutex
	open := 0 // sessions on this connection
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			mu.Lock()
			if s.maxSessions > 0 && open >= s.maxSessions {
				mu.Unlock()
				nch.Reject(ssh.Prohibited, "no more sessions")
				continue
			}
			open++
			mu.Unlock()
			ch, creqs, err := nch.Accept()
			if err != nil {
				mu.Lock()
				open--
				mu.Unlock()
				continue
			}
			s.sessionStarted()
			var once sync.Once
			end := func() {
				once.Do(func() {
					mu.Lock()
					open--
					mu.Unlock()
					s.sessionEnded()
				})
			}
			s.wg.Add(1)
			go s.handleSession(ch, creqs, end)
		case "direct-tcpip":
			s.wg.Add(1)
			go s.forward(nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *Server) sessionStarted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions++
	s.maxConcurent = max(s.maxConcurent, s.sessions)
}

func (s *Server) sessionEnded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions--
}

// handleSession serves one session channel; end is called once the session
// is over, before the client can see the channel close.
func (s *Server) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request, end func()) {
	defer s.wg.Done()
	defer end()
	defer ch.Close()
	var (
		mu     sync.Mutex
		cmd    *exec.Cmd
		exited bool
		busy   bool
	)
	var procs sync.WaitGroup
	defer procs.Wait()
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if busy || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			busy = true
			c := exec.Command("/bin/sh", "-c", p.Command)
			c.Dir = s.dir
			c.Env = append(os.Environ(), "HOME="+s.dir)
			c.Stdout, c.Stderr = ch, ch.Stderr()
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdin, err := c.StdinPipe()
			if err == nil {
				err = c.Start()
			}
			if err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			mu.Lock()
			cmd = c
			mu.Unlock()
			go func() { // ends when the channel's read side ends
				io.Copy(stdin, ch)
				stdin.Close()
			}()
			procs.Add(1)
			go func() {
				defer procs.Done()
				err := c.Wait()
				mu.Lock()
				exited = true
				mu.Unlock()
				ch.CloseWrite()
				sendExit(ch, err)
				end()
				ch.Close()
			}()
		case "subsystem":
			var p struct{ Name string }
			if busy || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			busy = true
			srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.dir))
			if err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			procs.Add(1)
			go func() {
				defer procs.Done()
				srv.Serve()
				srv.Close()
				end()
				ch.Close()
			}()
		case "signal":
			var p struct{ Signal string }
			ssh.Unmarshal(req.Payload, &p)
			mu.Lock()
			if cmd != nil && !exited {
				if sig, ok := signals[p.Signal]; ok {
					syscall.Kill(-cmd.Process.Pid, sig)
				}
			}
			mu.Unlock()
			if req.WantReply {
				req.Reply(true, nil)
			}
		default: // env, pty-req, shell...: refused, as sshd refuses most env
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	// The channel is closed: kill what still runs, as a vanished client's
	// commands should not outlive the test.
	mu.Lock()
	if cmd != nil && !exited {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	mu.Unlock()
}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "ALRM": syscall.SIGALRM,
	"PIPE": syscall.SIGPIPE, "ABRT": syscall.SIGABRT, "SEGV": syscall.SIGSEGV,
}

// sendExit reports a finished command as sshd does: exit-status, or
// exit-signal for a command killed by a signal.
func sendExit(ch ssh.Channel, err error) {
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := strconv.Itoa(int(ws.Signal()))
			for n, sig := range signals {
				if sig == ws.Signal() {
					name = n
				}
			}
			ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: name}))
			return
		}
		status = ee.ExitCode()
	} else if err != nil {
		status = 255
	}
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
}

// forward serves a direct-tcpip channel (a jump host's job), to loopback only.
func (s *Server) forward(nch ssh.NewChannel) {
	defer s.wg.Done()
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	if ip := net.ParseIP(p.Host); ip == nil || !ip.IsLoopback() {
		nch.Reject(ssh.Prohibited, "loopback only")
		return
	}
	c, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { io.Copy(c, ch); done <- struct{}{} }()
	go func() { io.Copy(ch, c); done <- struct{}{} }()
	<-done // either side ended: end both
	ch.Close()
	c.Close()
	<-done
}
