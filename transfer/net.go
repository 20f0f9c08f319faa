package transfer

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// idleConn fails a read or write that makes no progress for d: a cut link
// ends the copy instead of hanging it.
type idleConn struct {
	net.Conn
	d time.Duration
}

func (c idleConn) Read(b []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(b)
}

func (c idleConn) Write(b []byte) (int, error) {
	c.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(b)
}

// WithIdleTimeout wraps c so that every read and write times out after d.
func WithIdleTimeout(c net.Conn, d time.Duration) net.Conn {
	if d <= 0 {
		return c
	}
	return idleConn{c, d}
}

// Accept waits on l until ctx ends for one connection that completes the
// TLS handshake with the pinned peer (cfg from ServerConfig). Connections
// that fail it are closed at once and reported to rejected; they never
// see a byte of data. With cfg nil (insecure transport) the first
// connection is taken as is.
func Accept(ctx context.Context, l net.Listener, cfg *tls.Config, rejected func(remote string, err error)) (net.Conn, error) {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no connection from the sender: %w", context.Cause(ctx))
			}
			return nil, err
		}
		if cfg == nil {
			return c, nil
		}
		tc := tls.Server(c, cfg)
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = tc.HandshakeContext(hctx)
		cancel()
		if err == nil {
			return tc, nil
		}
		c.Close()
		if rejected != nil {
			rejected(c.RemoteAddr().String(), err)
		}
	}
}

// Dial connects to the first of addrs that accepts the pinned handshake
// (cfg from ClientConfig; nil for plain TCP), retrying every half second
// until ctx ends: the receiver may not be listening yet.
func Dial(ctx context.Context, addrs []string, cfg *tls.Config) (net.Conn, error) {
	return dial(ctx, addrs, cfg, true)
}

// DialStream is Dial for a connection used by two goroutines at once (a
// spliced tunnel), whose bytes must go out as they come: no write
// batching.
func DialStream(ctx context.Context, addrs []string, cfg *tls.Config) (net.Conn, error) {
	return dial(ctx, addrs, cfg, false)
}

func dial(ctx context.Context, addrs []string, cfg *tls.Config, batch bool) (net.Conn, error) {
	var last error
	for {
		for _, a := range addrs {
			var d net.Dialer
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			c, err := d.DialContext(dctx, "tcp", a)
			if err == nil && cfg != nil {
				raw := c
				if batch {
					raw = newBatchConn(c)
				}
				tc := tls.Client(raw, cfg)
				if err = tc.HandshakeContext(dctx); err != nil {
					c.Close()
				} else {
					c = tc
				}
			}
			cancel()
			if err == nil {
				return c, nil
			}
			last = fmt.Errorf("%s: %w", a, err)
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("could not reach the receiver: %w", context.Cause(ctx)), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// batchConn gathers writes of up to 256 KiB before they reach the socket:
// TLS writes one 16 KiB record at a time, and on the sender a syscall per
// record was the largest single cost. Pending bytes go out before any
// read (so a handshake or a wait for the verdict never stalls on its own
// buffer) and when the buffer fills. Close drops them. For one goroutine
// at a time, as the sender uses its connection.
type batchConn struct {
	net.Conn
	w *bufio.Writer
}

func newBatchConn(c net.Conn) net.Conn {
	return &batchConn{Conn: c, w: bufio.NewWriterSize(c, 256<<10)}
}

func (c *batchConn) Write(b []byte) (int, error) { return c.w.Write(b) }

func (c *batchConn) Read(b []byte) (int, error) {
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}
