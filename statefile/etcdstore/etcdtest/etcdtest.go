// Package etcdtest runs a real etcd cluster on loopback for tests: the
// members are the etcd binary (Debian's etcd-server package), started and
// stopped by the test, on 127.0.0.1 ports. Without the binary a test
// skips loudly, except with CI=true, where it fails.
package etcdtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Cluster is a running etcd cluster of the test.
type Cluster struct {
	t       testing.TB
	bin     string
	members []*member
	token   string
	// TLS is set by StartTLS: the files of the CA, and of a client
	// certificate and key it signed.
	TLS *TLSFiles
}

// TLSFiles are PEM files of a test CA and a client certificate.
type TLSFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

type member struct {
	name, dir        string
	client, peer     string // URLs
	mu               sync.Mutex
	cmd              *exec.Cmd
	done             chan struct{}
	initialClusterKV string
}

// Binary is the etcd binary, or "" when there is none.
func Binary() string {
	if p, err := exec.LookPath("etcd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/bin/etcd", "/usr/local/bin/etcd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Require skips t (fails it with CI=true) when etcd is not installed.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "\n!!! SKIPPING: no etcd binary (apt-get install etcd-server; scripts/deps.sh does it as root)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: failing instead of skipping)")
		}
		t.Skip(msg)
	}
	return bin
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts an n-member cluster and waits until it has a leader. The
// members are stopped (by their PIDs) when the test ends.
func Start(t testing.TB, n int) *Cluster { return start(t, n, false) }

// StartTLS is Start with TLS: the members serve https with a certificate
// of a test CA and ask clients for one (c.TLS has the files).
func StartTLS(t testing.TB, n int) *Cluster { return start(t, n, true) }

func start(t testing.TB, n int, withTLS bool) *Cluster {
	t.Helper()
	bin := Require(t)
	c := &Cluster{t: t, bin: bin, token: fmt.Sprintf("gtest-%d-%d", os.Getpid(), time.Now().UnixNano())}
	base := t.TempDir()
	scheme := "http"
	if withTLS {
		c.TLS = makeTLS(t, base)
		scheme = "https"
	}
	var initial []string
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i), dir: filepath.Join(base, fmt.Sprintf("m%d", i)),
			client: fmt.Sprintf("%s://127.0.0.1:%d", scheme, freePort(t)), peer: fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
		initial = append(initial, m.name+"="+m.peer)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.initialClusterKV = strings.Join(initial, ",")
		c.startMember(m, "new")
	}
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Leader(ctx); err != nil {
		t.Fatalf("etcdtest: no leader: %v (logs in %s)", err, base)
	}
	return c
}

func (c *Cluster) startMember(m *member, state string) {
	c.t.Helper()
	logf, err := os.OpenFile(m.dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin,
		"--name", m.name, "--data-dir", m.dir,
		"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
		"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", m.initialClusterKV, "--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--logger", "zap", "--log-level", "warn")
	if c.TLS != nil {
		cmd.Args = append(cmd.Args, "--cert-file", c.TLS.ServerCert, "--key-file", c.TLS.ServerKey,
			"--trusted-ca-file", c.TLS.CA, "--client-cert-auth")
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("etcdtest: start %s: %v", m.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.client)
	}
	return out
}

// Client is a client of the whole cluster, closed when the test ends.
func (c *Cluster) Client() *clientv3.Client {
	cli, err := clientv3.New(c.config())
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// Leader is the index of the leading member.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	cli, err := clientv3.New(c.config())
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	for {
		for i, m := range c.members {
			if !c.Running(i) {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			st, err := cli.Status(sctx, m.client)
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Running reports whether member i's process runs.
func (c *Cluster) Running(i int) bool {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Kill SIGKILLs member i (its own PID) and waits for it to exit.
func (c *Cluster) Kill(i int) {
	m := c.members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts member i again on its data directory.
func (c *Cluster) Restart(i int) {
	c.Kill(i)
	c.startMember(c.members[i], "existing")
}

// Stop kills every member.
func (c *Cluster) Stop() {
	for i := range c.members {
		c.Kill(i)
	}
}

func (c *Cluster) config() clientv3.Config {
	cfg := clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if c.TLS != nil {
		ti := transport.TLSInfo{TrustedCAFile: c.TLS.CA, CertFile: c.TLS.ClientCert, KeyFile: c.TLS.ClientKey}
		tc, err := ti.ClientConfig()
		if err != nil {
			c.t.Fatal(err)
		}
		cfg.TLS = tc
	}
	return cfg
}

// EnableAuth turns etcd's authentication on with a root user of that
// password (clients then need it).
func (c *Cluster) EnableAuth(ctx context.Context, password string) {
	c.t.Helper()
	cli := c.Client()
	if _, err := cli.UserAdd(ctx, "root", password); err != nil {
		c.t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		c.t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		c.t.Fatal(err)
	}
}

// makeTLS writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir.
func makeTLS(t testing.TB, dir string) *TLSFiles {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey := key()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcdtest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &TLSFiles{CA: write("ca.pem", "CERTIFICATE", caDER)}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kd)
	}
	f.ServerCert, f.ServerKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	f.ClientCert, f.ClientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return f
}
