package remote

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Target is one node to connect to.
type Target struct {
	Name string // the node's name, used in errors and logs
	Addr string // host name or IP address to dial (no port)
	Port int    // 0 means 22
	// HostKeys pins the node's host keys, one authorized_keys-format line each
	// ("ssh-ed25519 AAAA... comment"). When set, they are the only keys accepted
	// and known_hosts is not consulted.
	HostKeys []string
}

// hostPort is the target's dial address.
func (t Target) hostPort() string {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(t.Addr, strconv.Itoa(port))
}

// Config says how to reach nodes. The zero value of each field has a documented
// default; a Config is read, never written, by this package.
type Config struct {
	User     string   // login name; default "root"
	KeyFiles []string // unencrypted private keys (encrypted ones belong in the agent)
	UseAgent bool     // also authenticate with the keys of the ssh-agent at $SSH_AUTH_SOCK
	// KnownHostsFile is the OpenSSH known_hosts file used to verify host keys of
	// targets without pinned keys. Default: ~/.ssh/known_hosts.
	KnownHostsFile string
	// JumpHost is "[user@]host[:port]": when set, every node is reached through
	// one SSH connection to it, with the same auth and host-key rules.
	JumpHost string

	ConnectTimeout time.Duration // TCP connect plus SSH handshake; default 15s
	CommandTimeout time.Duration // default per command when Command.Timeout is 0; default none
	KeepAlive      time.Duration // interval of keepalive@openssh.com requests; default 15s, <0 disables
	// MaxSessions bounds the concurrent sessions on one connection; default 8,
	// below sshd's default MaxSessions 10. The SFTP client, once created, holds
	// one of them for the connection's life.
	MaxSessions int
	// WaitDelay is how long a cancelled command has, after SIGTERM, before its
	// session is closed; default 2s.
	WaitDelay time.Duration

	// TrustOnFirstUse accepts the key of a host not in known_hosts and records
	// it there. A key that differs from a known one is refused regardless. Only
	// an explicit user flag (`node add --accept-new-host-key`) should set it.
	TrustOnFirstUse bool

	// Logf, when set, receives one line per command (node, argv, exit status,
	// duration) and per connection. It must be safe for concurrent use.
	Logf func(format string, args ...any)
}

const (
	defaultConnectTimeout = 15 * time.Second
	defaultKeepAlive      = 15 * time.Second
	defaultMaxSessions    = 8
	defaultWaitDelay      = 2 * time.Second
)

// withDefaults returns c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.User == "" {
		c.User = "root"
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = defaultKeepAlive
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = defaultMaxSessions
	}
	if c.WaitDelay <= 0 {
		c.WaitDelay = defaultWaitDelay
	}
	return c
}

func (c Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// parseJumpHost splits "[user@]host[:port]" into a user and a target.
func parseJumpHost(s, defaultUser string) (string, Target, error) {
	user := defaultUser
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, s = s[:i], s[i+1:]
	}
	t := Target{Name: s, Addr: s}
	if host, port, err := net.SplitHostPort(s); err == nil {
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			return "", Target{}, fmt.Errorf("jump host %q: bad port %q", s, port)
		}
		t = Target{Name: host, Addr: host, Port: p}
	}
	if t.Addr == "" || user == "" {
		return "", Target{}, fmt.Errorf("jump host %q: want [user@]host[:port]", s)
	}
	return user, t, nil
}

// validateTarget reports what is wrong with t, if anything.
func validateTarget(t Target) error {
	var errs []error
	if t.Name == "" {
		errs = append(errs, fmt.Errorf("target %q: empty name", t.Addr))
	}
	if t.Addr == "" {
		errs = append(errs, fmt.Errorf("target %s: empty address", t.Name))
	}
	if t.Port < 0 || t.Port > 65535 {
		errs = append(errs, fmt.Errorf("target %s: bad port %d", t.Name, t.Port))
	}
	if _, err := parsePinned(t.HostKeys); err != nil {
		errs = append(errs, fmt.Errorf("target %s: %w", t.Name, err))
	}
	return errors.Join(errs...)
}
