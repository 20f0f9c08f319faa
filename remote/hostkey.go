package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host key that could not be verified: unknown to
// known_hosts, different from the known or pinned key, or revoked. The
// connection is refused. Its message names the fingerprints and the fix.
type HostKeyError struct {
	Node string
	Addr string   // the address as looked up in known_hosts ("10.0.0.2" or "[10.0.0.2]:2222")
	Want []string // SHA256 fingerprints of the keys known for the host (none when Unknown)
	Got  string   // SHA256 fingerprint of the key the host presented
	// Unknown is true when known_hosts has no key at all for the host.
	Unknown bool
	// Pinned is true when the keys in Want come from Target.HostKeys.
	Pinned bool
	// Revoked is true when the key is marked @revoked in known_hosts.
	Revoked bool
	// KnownHosts is the known_hosts file consulted.
	KnownHosts string
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key %s of %s (%s) is marked @revoked in %s; the node must get a new host key",
			e.Got, e.Node, e.Addr, e.KnownHosts)
	case e.Pinned:
		return fmt.Sprintf("host key for %s (%s) does not match the pinned key: got %s, inventory pins %s; "+
			"if the node was reinstalled, verify the new fingerprint and update its host key in the inventory",
			e.Node, e.Addr, e.Got, strings.Join(e.Want, ", "))
	case e.Unknown:
		return fmt.Sprintf("host key for %s (%s) is not in %s: got %s; "+
			"verify the fingerprint and add it (ssh-keyscan %s), or use --accept-new-host-key",
			e.Node, e.Addr, e.KnownHosts, e.Got, e.Addr)
	default:
		return fmt.Sprintf("host key for %s (%s) changed: got %s, %s has %s; "+
			"if the node was reinstalled, remove the old key with `ssh-keygen -R %s -f %s` and retry with --accept-new-host-key",
			e.Node, e.Addr, e.Got, e.KnownHosts, strings.Join(e.Want, ", "), shellWord(e.Addr), shellWord(e.KnownHosts))
	}
}

// shellWord quotes s for a command line shown to the user.
func shellWord(s string) string { return quoteArg(s) }

// parsePinned parses authorized_keys-format lines (known_hosts lines with a
// host field are accepted too).
func parsePinned(lines []string) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			_, _, k, _, _, err = ssh.ParseKnownHosts([]byte(l))
		}
		if err != nil {
			return nil, fmt.Errorf("pinned host key %q: %w", l, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// knownHostsMu serialises appends to known_hosts files by this process.
var knownHostsMu sync.Mutex

// hostKeyChecker verifies one target's host key.
type hostKeyChecker struct {
	node       string
	lookup     []string // known_hosts names, normalized, best first
	pinned     []ssh.PublicKey
	known      []ssh.PublicKey // keys known_hosts has for the lookup names
	db         ssh.HostKeyCallback
	knownHosts string
	tofu       bool
	logf       func(string, ...any)
}

// newHostKeyChecker prepares verification of t's host key from its pinned
// keys or from cfg.KnownHostsFile (read now, so a key appended on first use is
// seen by the next dial).
func newHostKeyChecker(cfg Config, t Target) (*hostKeyChecker, error) {
	hp := t.hostPort()
	_, port, _ := net.SplitHostPort(hp)
	c := &hostKeyChecker{node: t.Name, knownHosts: cfg.KnownHostsFile, tofu: cfg.TrustOnFirstUse, logf: cfg.logf}
	// The database wants host:port (it normalises port 22 away itself).
	c.lookup = []string{hp}
	if t.Name != "" && t.Name != t.Addr {
		c.lookup = append(c.lookup, net.JoinHostPort(t.Name, port))
	}
	pinned, err := parsePinned(t.HostKeys)
	if err != nil {
		return nil, err
	}
	if len(pinned) > 0 {
		c.pinned = pinned
		return c, nil
	}
	if c.knownHosts == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		c.knownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	c.db, err = knownhosts.New(c.knownHosts)
	if errors.Is(err, fs.ErrNotExist) {
		c.db, err = knownhosts.New() // empty: every host is unknown
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	// Ask the database with a throwaway key: the KeyError lists every key known
	// for the name.
	probe := probeKey()
	for _, name := range c.lookup {
		var ke *knownhosts.KeyError
		err := c.db(name, dummyAddr, probe)
		if !errors.As(err, &ke) {
			// Only a KeyError is expected for a key no host has: anything
			// else would silently make every host look unknown.
			return nil, fmt.Errorf("known_hosts %s: look up %s: %v", c.knownHosts, name, err)
		}
		for _, k := range ke.Want {
			c.known = append(c.known, k.Key)
		}
	}
	return c, nil
}

// algorithms orders the host key algorithms to prefer those of the keys
// already known for the host (OpenSSH does the same), so a host with several
// keys presents one we can check. Nil means the library default.
func (c *hostKeyChecker) algorithms() []string {
	keys := c.pinned
	if keys == nil {
		keys = c.known
	}
	if len(keys) == 0 {
		return nil
	}
	var pref []string
	for _, k := range keys {
		for _, a := range algorithmsFor(k.Type()) {
			if !slices.Contains(pref, a) {
				pref = append(pref, a)
			}
		}
	}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(pref, a) {
			pref = append(pref, a)
		}
	}
	return pref
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// check is the ssh.HostKeyCallback.
func (c *hostKeyChecker) check(_ string, remote net.Addr, key ssh.PublicKey) error {
	got := ssh.FingerprintSHA256(key)
	e := &HostKeyError{Node: c.node, Addr: knownhosts.Normalize(c.lookup[0]), Got: got, KnownHosts: c.knownHosts}
	if c.pinned != nil {
		if containsKey(c.pinned, key) {
			return nil
		}
		e.Pinned, e.Want = true, fingerprints(c.pinned)
		return e
	}
	for _, name := range c.lookup {
		var re *knownhosts.RevokedError
		if err := c.db(name, remote, key); err == nil {
			return nil
		} else if errors.As(err, &re) {
			e.Revoked = true
			return e
		}
	}
	if len(c.known) > 0 {
		e.Want = fingerprints(c.known)
		return e // changed: refused even with TrustOnFirstUse
	}
	if !c.tofu {
		e.Unknown = true
		return e
	}
	if err := appendKnownHost(c.knownHosts, knownhosts.Normalize(c.lookup[0]), key); err != nil {
		return fmt.Errorf("accept new host key %s: %w", got, err)
	}
	c.logf("%s: accepted new host key %s for %s, recorded in %s", c.node, got, knownhosts.Normalize(c.lookup[0]), c.knownHosts)
	return nil
}

// appendKnownHost records key for host in the known_hosts file, creating it
// (and its directory) when missing.
func appendKnownHost(file, host string, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{host}, key) + "\n"
	// Start on a fresh line if the file does not end with one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if last, err := readLastByte(file, st.Size()); err == nil && last != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readLastByte(file string, size int64) (byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, size-1)
	return b[0], err
}

func containsKey(keys []ssh.PublicKey, k ssh.PublicKey) bool {
	b := k.Marshal()
	for _, x := range keys {
		if bytes.Equal(x.Marshal(), b) {
			return true
		}
	}
	return false
}

func fingerprints(keys []ssh.PublicKey) []string {
	fps := make([]string, 0, len(keys))
	for _, k := range keys {
		fps = append(fps, ssh.FingerprintSHA256(k))
	}
	return fps
}

var dummyAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}

// probeKey is a key no host has, used to list the keys known for a name.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
})
