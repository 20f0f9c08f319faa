package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type pair struct {
	send, recv *Identity
}

func newPair(t testing.TB) pair {
	t.Helper()
	s, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return pair{s, r}
}

func tlsCert(t testing.TB, id *Identity) tls.Certificate {
	t.Helper()
	c, err := ParseIdentity(id.PEM())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// copyOver runs a receiver on 127.0.0.1 and a sender to it, with pinned
// certificates, and returns both ends' results.
func copyOver(t testing.TB, p pair, so SendOptions, ro RecvOptions) (Stats, error, Stats, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type res struct {
		st  Stats
		err error
	}
	rc := make(chan res, 1)
	go func() {
		c, err := Accept(ctx, l, ServerConfig(tlsCert(t, p.recv), p.send.Fingerprint), nil)
		if err != nil {
			rc <- res{err: err}
			return
		}
		defer c.Close()
		st, err := Receive(c, ro)
		rc <- res{st, err}
	}()
	c, err := Dial(ctx, []string{l.Addr().String()}, ClientConfig(tlsCert(t, p.send), p.recv.Fingerprint))
	if err != nil {
		t.Fatal(err)
	}
	sst, serr := Send(c, so)
	c.Close()
	r := <-rc
	return sst, serr, r.st, r.err
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// sparseSource writes a 64 MiB file holding random data at 0, 20 MiB and
// its last byte, holes elsewhere.
func sparseSource(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 20 << 20, 64<<20 - 1} {
		b := make([]byte, min(3<<20, 64<<20-off))
		rand.Read(b)
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func TestRoundTripSparse(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "zstd"}[compress], func(t *testing.T) {
			dir := t.TempDir()
			src := sparseSource(t, dir)
			dst := filepath.Join(dir, "dst")
			sst, serr, rst, rerr := copyOver(t, newPair(t), SendOptions{Src: src, Compress: compress}, RecvOptions{Dst: dst})
			if serr != nil || rerr != nil {
				t.Fatalf("send: %v, recv: %v", serr, rerr)
			}
			if fileSum(t, src) != fileSum(t, dst) {
				t.Fatal("content differs")
			}
			if sst.Checksum != rst.Checksum || len(sst.Checksum) != 64 {
				t.Errorf("checksums: sent %s, received %s", sst.Checksum, rst.Checksum)
			}
			// Holes preserved: the copy allocates about what the source does, far below 64 MiB.
			if a, b := allocated(t, src), allocated(t, dst); b > a+(2<<20) || b > 16<<20 {
				t.Errorf("destination allocates %d bytes, source %d", b, a)
			}
			if sst.Data > 10<<20 {
				t.Errorf("sent %d data bytes for ~7 MiB of data", sst.Data)
			}
			if _, err := os.Stat(dst + PartialSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("partial file left: %v", err)
			}
		})
	}
}

func TestZeroBlocksSkipped(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	b := make([]byte, 8<<20) // written zeros: allocated, but all-zero blocks
	copy(b[5<<20:], "marker")
	os.WriteFile(src, b, 0o644)
	dst := filepath.Join(dir, "dst")
	sst, serr, _, rerr := copyOver(t, newPair(t), SendOptions{Src: src}, RecvOptions{Dst: dst})
	if serr != nil || rerr != nil {
		t.Fatalf("send: %v, recv: %v", serr, rerr)
	}
	if sst.Data != DefaultBlockSize {
		t.Errorf("sent %d bytes, want one block", sst.Data)
	}
	if fileSum(t, src) != fileSum(t, dst) {
		t.Fatal("content differs")
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("new destination mode %v", fi.Mode())
	}
}

func TestChecksumMismatchNoCommit(t *testing.T) {
	dir := t.TempDir()
	src := sparseSource(t, dir)
	dst := filepath.Join(dir, "dst")
	os.WriteFile(dst, []byte("old"), 0o640)
	so := SendOptions{Src: src, corrupt: func(off int64, b []byte) {
		if off == 20<<20 {
			b[100] ^= 0xff
		}
	}}
	_, serr, _, rerr := copyOver(t, newPair(t), so, RecvOptions{Dst: dst})
	if rerr == nil || !strings.Contains(rerr.Error(), "checksum mismatch") {
		t.Fatalf("receiver: %v", rerr)
	}
	if serr == nil || !strings.Contains(serr.Error(), "checksum mismatch") {
		t.Errorf("sender should hear the refusal: %v", serr)
	}
	if b, _ := os.ReadFile(dst); string(b) != "old" {
		t.Errorf("destination changed: %d bytes", len(b))
	}
	if _, err := os.Stat(dst + PartialSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file left: %v", err)
	}
}

// A stranger without a certificate, and one with the wrong certificate,
// are refused, read no data, and the pinned sender still gets through.
func TestStrangerRejected(t *testing.T) {
	p := newPair(t)
	dir := t.TempDir()
	src := sparseSource(t, dir)
	dst := filepath.Join(dir, "dst")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rejected := make(chan string, 10)
	errc := make(chan error, 1)
	go func() {
		c, err := Accept(ctx, l, ServerConfig(tlsCert(t, p.recv), p.send.Fingerprint), func(r string, err error) { rejected <- err.Error() })
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		_, err = Receive(c, RecvOptions{Dst: dst})
		errc <- err
	}()
	// No client certificate.
	c1, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err == nil {
		c1.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, rerr := c1.Read(make([]byte, 10))
		if n > 0 {
			t.Errorf("stranger without a certificate read %d bytes", n)
		}
		_ = rerr
		c1.Close()
	}
	// A certificate, but not the pinned one; it tries to inject a stream.
	other, _ := NewIdentity()
	c2, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{tlsCert(t, other)}})
	if err == nil {
		c2.Write([]byte(Magic + "junkjunkjunkjunk"))
		c2.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _ := c2.Read(make([]byte, 10)); n > 0 {
			t.Errorf("stranger with a wrong certificate read %d bytes", n)
		}
		c2.Close()
	}
	for range 2 {
		select {
		case <-rejected:
		case <-time.After(5 * time.Second):
			t.Fatal("stranger not reported as rejected")
		}
	}
	c, err := Dial(ctx, []string{l.Addr().String()}, ClientConfig(tlsCert(t, p.send), p.recv.Fingerprint))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Send(c, SendOptions{Src: src}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if fileSum(t, src) != fileSum(t, dst) {
		t.Fatal("content differs")
	}
}

// The sender pins the receiver: a listener with another certificate is
// never sent data.
func TestSenderPinsReceiver(t *testing.T) {
	p := newPair(t)
	impostor, _ := NewIdentity()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		tls.Server(c, ServerConfig(tlsCert(t, impostor), p.send.Fingerprint)).Handshake()
		io.Copy(io.Discard, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := Dial(ctx, []string{l.Addr().String()}, ClientConfig(tlsCert(t, p.send), p.recv.Fingerprint)); err == nil {
		t.Fatal("sender accepted an impostor receiver")
	}
}

// A sender that dies midway leaves no committed file and no partial one.
func TestKilledSenderNoCommit(t *testing.T) {
	dir := t.TempDir()
	src := sparseSource(t, dir)
	dst := filepath.Join(dir, "dst")
	a, b := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := Receive(b, RecvOptions{Dst: dst})
		errc <- err
	}()
	// Send half the stream, then drop the connection.
	var buf bytes.Buffer
	Send(struct {
		io.Reader
		io.Writer
	}{strings.NewReader("K"), &buf}, SendOptions{Src: src})
	a.Write(buf.Bytes()[:buf.Len()/2])
	a.Close()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "ended early") {
		t.Fatalf("receiver: %v", err)
	}
	for _, p := range []string{dst, dst + PartialSuffix} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a killed sender", p)
		}
	}
	// A rerun starts cleanly.
	if _, serr, _, rerr := copyOver(t, newPair(t), SendOptions{Src: src}, RecvOptions{Dst: dst}); serr != nil || rerr != nil {
		t.Fatalf("rerun: %v %v", serr, rerr)
	}
	if fileSum(t, src) != fileSum(t, dst) {
		t.Fatal("content differs after rerun")
	}
}

// Compression shrinks compressible data on the wire.
func TestZstdCompresses(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, bytes.Repeat([]byte("ganetictl compressible line\n"), 300000), 0o644)
	for _, compress := range []bool{false, true} {
		var wire bytes.Buffer
		Send(struct {
			io.Reader
			io.Writer
		}{strings.NewReader("K"), &wire}, SendOptions{Src: src, Compress: compress})
		dst := filepath.Join(dir, "dst")
		os.Remove(dst)
		if _, err := Receive(struct {
			io.Reader
			io.Writer
		}{&wire, io.Discard}, RecvOptions{Dst: dst}); err != nil {
			t.Fatal(err)
		}
		if fileSum(t, src) != fileSum(t, dst) {
			t.Fatal("content differs")
		}
	}
	var plain, z bytes.Buffer
	Send(struct {
		io.Reader
		io.Writer
	}{strings.NewReader("K"), &plain}, SendOptions{Src: src})
	Send(struct {
		io.Reader
		io.Writer
	}{strings.NewReader("K"), &z}, SendOptions{Src: src, Compress: true})
	if z.Len()*10 > plain.Len() {
		t.Errorf("zstd stream %d bytes, plain %d", z.Len(), plain.Len())
	}
}

// RateLimit holds the sender to its rate: 4 MiB of data at 8 MiB/s cannot
// arrive in less than about half a second (the bucket lets a tenth of a
// second through at once). Only a lower bound: a slow machine never fails it.
func TestRateLimit(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	b := make([]byte, 4<<20)
	rand.Read(b)
	if err := os.WriteFile(src, b, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, serr, _, rerr := copyOver(t, newPair(t), SendOptions{Src: src, RateLimit: 8 << 20}, RecvOptions{Dst: filepath.Join(dir, "dst")})
	if serr != nil || rerr != nil {
		t.Fatal(serr, rerr)
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("4 MiB at 8 MiB/s took %v", d)
	}
	if fileSum(t, src) != fileSum(t, filepath.Join(dir, "dst")) {
		t.Fatal("content differs")
	}
}

// A destination that refuses O_DIRECT (or a short last block) takes
// buffered writes: an odd-sized source round-trips.
func TestOddSizeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	b := make([]byte, 3<<20+12345)
	rand.Read(b)
	if err := os.WriteFile(src, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if _, serr, _, rerr := copyOver(t, newPair(t), SendOptions{Src: src}, RecvOptions{Dst: dst}); serr != nil || rerr != nil {
		t.Fatal(serr, rerr)
	}
	if fileSum(t, src) != fileSum(t, dst) {
		t.Fatal("content differs")
	}
}
