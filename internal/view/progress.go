package view

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
)

// Progress prints one line per finished step of an apply, to stderr:
//
//	node2: lvcreate -L 1024m -n x xenvg ... ok (12ms)
//	node3: drbdsetup down resource0 ... FAILED (1.2s): exit status 1
//
// Steps may run concurrently; lines are written whole. Safe for concurrent use.
//
//	p := view.NewProgress(s.Err, nil)
//	done := p.Step("node2", "lvcreate -L 1024m -n x xenvg")
//	done(err)
type Progress struct {
	w   io.Writer
	now func() time.Time
	mu  sync.Mutex
	// Transfer bars running on a terminal (transfer.go); lines go above them.
	bars     *mpb.Progress
	barsOpen map[*transferBar]bool
}

// NewProgress returns a Progress writing to w; now nil means time.Now.
func NewProgress(w io.Writer, now func() time.Time) *Progress {
	if now == nil {
		now = time.Now
	}
	return &Progress{w: w, now: now}
}

// Step starts timing a step on node and returns the function that reports
// its end; call it exactly once with the step's error (nil for success).
func (p *Progress) Step(node, what string) (done func(err error)) {
	start := p.now()
	return func(err error) { p.Done(node, what, p.now().Sub(start), err) }
}

// Done reports a finished step with its duration.
func (p *Progress) Done(node, what string, d time.Duration, err error) {
	status := "ok"
	if err != nil {
		status = "FAILED"
	}
	line := fmt.Sprintf("%s: %s ... %s (%s)", node, what, status, roundDuration(d))
	if err != nil {
		line += ": " + err.Error()
	}
	p.endBars(node, what)
	p.Printf("%s", line)
}

// Printf writes a free-form progress line (above any transfer bar).
func (p *Progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var w io.Writer = p.w
	if p.bars != nil {
		w = p.bars
	}
	fmt.Fprintf(w, format+"\n", args...)
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
