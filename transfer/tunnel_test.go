package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// TestSpliceThroughPinnedTLS carries a stream from a local client, through
// a spliced pinned-TLS hop, to a local server, and its reply back: the
// shape of a tunnelled migration.
func TestSpliceThroughPinnedTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ri, _ := NewIdentity()
	si, _ := NewIdentity()
	rc, _ := ParseIdentity(ri.PEM())
	sc, _ := ParseIdentity(si.PEM())

	// The "incoming QEMU": reads everything, answers with its length.
	qemu, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer qemu.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := qemu.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
		c.Write([]byte("ok"))
		c.Close()
	}()
	// The receiving helper: pinned TLS in, splice to the local QEMU.
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go func() {
		in, err := Accept(ctx, tl, ServerConfig(rc, si.Fingerprint), nil)
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", qemu.Addr().String())
		if err != nil {
			return
		}
		Splice(ctx, in, out)
	}()
	// The sending helper: a local listener for the source QEMU, spliced to
	// the pinned TLS connection.
	local, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	go func() {
		c, err := local.Accept()
		if err != nil {
			return
		}
		out, err := DialStream(ctx, []string{tl.Addr().String()}, ClientConfig(sc, ri.Fingerprint))
		if err != nil {
			c.Close()
			return
		}
		Splice(ctx, c, out)
	}()

	data := make([]byte, 3<<20)
	rand.Read(data)
	src, err := net.Dial("tcp", local.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Write(data); err != nil {
		t.Fatal(err)
	}
	src.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(src)
	if string(reply) != "ok" {
		t.Errorf("reply through the tunnel: %q", reply)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("the stream arrived altered: %d bytes, want %d", len(b), len(data))
	}
}
