package transfer

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// Splice copies a to b and b to a until both directions end, then closes
// both. When one direction ends, the other side's write half is closed
// (where the connection supports it), so a stream that ends on one side
// ends on the other. ctx's end closes both at once. It returns the first
// error other than the normal ends of a connection, and the bytes moved
// from a to b.
//
// It carries a migration stream between QEMU's local socket and a pinned
// TLS connection to the other node's helper.
func Splice(ctx context.Context, a, b net.Conn) (int64, error) {
	stop := context.AfterFunc(ctx, func() { a.Close(); b.Close() })
	defer stop()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		ab   int64
	)
	copyHalf := func(dst, src net.Conn, n *int64) {
		defer wg.Done()
		m, err := io.Copy(dst, src)
		if n != nil {
			*n = m
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	wg.Add(2)
	go copyHalf(b, a, &ab)
	go copyHalf(a, b, nil)
	wg.Wait()
	a.Close()
	b.Close()
	if ctx.Err() != nil {
		return ab, context.Cause(ctx)
	}
	return ab, errors.Join(errs...)
}
