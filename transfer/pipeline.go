package transfer

import (
	"context"
	"io"
	"syscall"

	"golang.org/x/time/rate"
)

// A copy is a pipeline of goroutines joined by channels of blocks, each
// goroutine owning its stage's state:
//
//	send:    read (file) → hash → write (TLS, which encrypts)
//	receive: read (TLS, which decrypts) → hash → write (file)
//
// Buffers come from a fixed pool, so a slow stage holds the others back
// (a slow disk slows the TCP stream; a slow link slows the reads) with at
// most pipelineDepth blocks in memory per end. On one core this costs
// nothing over a loop; on two or more the stages overlap (the receiver's
// decryption, hashing and disk writes each took a third of its time when
// they ran one after the other).
const pipelineDepth = 8

// directAlign is the alignment O_DIRECT wants of offsets, lengths and
// buffer addresses (the largest logical block size in common use).
const directAlign = 4096

// block is one block-size chunk of the logical content on its way through
// a pipeline.
type block struct {
	off  int64
	buf  []byte   // len: the chunk's length
	zero bool     // all zero: not sent, not written
	sum  [16]byte // chunkSum
}

// bufPool hands out page-aligned buffers (anonymous mmap), as O_DIRECT
// needs, and takes them back.
type bufPool struct {
	free chan []byte
	all  [][]byte
}

func newBufPool(n, size int) (*bufPool, error) {
	p := &bufPool{free: make(chan []byte, n)}
	for range n {
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			p.release()
			return nil, err
		}
		p.all = append(p.all, b)
		p.free <- b
	}
	return p, nil
}

// get waits for a free buffer; nil when ctx ended first.
func (p *bufPool) get(ctx context.Context) []byte {
	select {
	case b := <-p.free:
		return b[:cap(b)]
	case <-ctx.Done():
		return nil
	}
}

func (p *bufPool) put(b []byte) { p.free <- b[:cap(b)] }

// release unmaps every buffer; only once no stage holds one.
func (p *bufPool) release() {
	for _, b := range p.all {
		syscall.Munmap(b)
	}
	p.all = nil
}

// hashBlock fills b.zero and b.sum. An all-zero full chunk takes the
// precomputed digest, so holes the source has as written zeros cost a
// comparison, not a hash.
func (s *blockSum) hashBlock(b *block) {
	b.zero = allZero(b.buf)
	if b.zero && int64(len(b.buf)) == s.bs {
		b.sum = s.zeroFull
		return
	}
	b.sum = chunkSum(b.buf)
}

// rateWriter holds writes to a rate (bytes/s) with a token bucket.
type rateWriter struct {
	ctx context.Context
	w   io.Writer
	lim *rate.Limiter
}

// newRateWriter limits w to bps bytes a second; bps <= 0 means no limit.
// The bucket holds a tenth of a second (16 KiB to 1 MiB), so the rate
// holds over any second while writes stay large.
func newRateWriter(ctx context.Context, w io.Writer, bps int64) io.Writer {
	if bps <= 0 {
		return w
	}
	burst := int(min(max(bps/10, 16<<10), 1<<20))
	return &rateWriter{ctx: ctx, w: w, lim: rate.NewLimiter(rate.Limit(bps), burst)}
}

func (r *rateWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		n := min(len(p), r.lim.Burst())
		if err := r.lim.WaitN(r.ctx, n); err != nil {
			return done, err
		}
		k, err := r.w.Write(p[:n])
		done += k
		if err != nil {
			return done, err
		}
		p = p[n:]
	}
	return done, nil
}
