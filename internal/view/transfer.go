package view

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// TransferStatus is one progress report of a disk copy: the logical bytes
// done (holes included) of Total, the average rate in bytes/s, and Done
// once the receiver committed.
type TransferStatus struct {
	Bytes, Total int64
	Rate         float64
	Done         bool
}

// ETA is the time left at the average rate; 0 when unknown or done.
func (s TransferStatus) ETA() time.Duration {
	if s.Done || s.Rate <= 0 || s.Total <= s.Bytes {
		return 0
	}
	return time.Duration(float64(s.Total-s.Bytes) / s.Rate * float64(time.Second))
}

// Transfer shows the progress of one copy. Update may be called often; the
// view throttles what it prints. Calls come from one goroutine.
type Transfer interface {
	Update(TransferStatus)
}

// Transfer returns the progress display of one copy, the step on node
// described by what: a bar with bytes, rate and ETA when p writes to a
// terminal, else a plain line every two seconds and at the end. The bar
// of a step that fails ends with the step (Done).
func (p *Progress) Transfer(node, what string) Transfer {
	if !isTerminalWriter(p.w) {
		return &transferLines{p: p, node: node, what: what}
	}
	return &transferBar{p: p, node: node, what: what}
}

// barLabelMax is how long a bar's label may be on a terminal this wide:
// the bar and its numbers take about 75 columns.
func barLabelMax(width int) int { return max(width-75, 24) }

// shorten cuts s to n runes in the middle, where a step's description has
// its least telling part (a device path between the disk and the node).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// width is the terminal's width (80 if unknown).
func (p *Progress) width() int {
	if f, ok := p.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// isTerminalWriter tells whether w is a terminal a bar can be drawn on
// (one with a width: a pseudo-terminal without a size shows nothing).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return false
	}
	width, _, err := term.GetSize(int(f.Fd()))
	return err == nil && width > 0
}

// transferLines prints throttled plain progress lines.
type transferLines struct {
	p          *Progress
	node, what string
	last       time.Time
}

func (t *transferLines) Update(s TransferStatus) {
	if s.Total <= 0 || (!s.Done && t.p.now().Sub(t.last) < 2*time.Second) {
		return
	}
	t.last = t.p.now()
	t.p.Printf("  %s: %s: %s", t.node, t.what, transferText(s))
}

// transferText is "512.0 of 1024.0 MiB (50%), 210.3 MB/s, ETA 2s".
func transferText(s TransferStatus) string {
	eta := ""
	if d := s.ETA().Round(time.Second); d > 0 {
		eta = fmt.Sprintf(", ETA %s", d)
	}
	return fmt.Sprintf("%.1f of %.1f MiB (%d%%), %.1f MB/s%s",
		float64(s.Bytes)/(1<<20), float64(s.Total)/(1<<20), s.Bytes*100/max(s.Total, 1), s.Rate/1e6, eta)
}

// transferBar is one bar in p's bar container, made at the first report
// (when the size is known).
type transferBar struct {
	p          *Progress
	node, what string
	bar        *mpb.Bar
	mu         sync.Mutex // last is read by the bar's render goroutine
	last       TransferStatus
}

func (t *transferBar) Update(s TransferStatus) {
	if s.Total <= 0 {
		return
	}
	if t.bar == nil {
		t.bar = t.p.addBar(t, s.Total)
	}
	t.mu.Lock()
	t.last = s
	t.mu.Unlock()
	if s.Done {
		t.bar.SetTotal(s.Total, true)
		t.p.barEnded(t, false)
		return
	}
	t.bar.SetCurrent(s.Bytes)
}

// status is the last report, for the decorators (render goroutine).
func (t *transferBar) status() TransferStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// addBar starts p's bar container if needed and adds a bar for t. While
// bars run, p's lines are printed above them.
func (p *Progress) addBar(t *transferBar, total int64) *mpb.Bar {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bars == nil {
		p.bars = mpb.New(mpb.WithOutput(p.w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond))
		p.barsOpen = map[*transferBar]bool{}
	}
	p.barsOpen[t] = true
	return p.bars.AddBar(total,
		mpb.PrependDecorators(decor.Name("  "+shorten(t.node+": "+t.what, barLabelMax(p.width()))+" ")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			s := t.status()
			eta := ""
			if d := s.ETA().Round(time.Second); d > 0 {
				eta = "  ETA " + d.String()
			}
			return fmt.Sprintf(" %.1f/%.1f MiB  %.1f MB/s%s", float64(s.Bytes)/(1<<20), float64(s.Total)/(1<<20), s.Rate/1e6, eta)
		})),
	)
}

// barEnded closes t's bar (aborted: the step failed) and, with the last
// bar, the container: lines go straight to the terminal again.
func (p *Progress) barEnded(t *transferBar, abort bool) {
	p.mu.Lock()
	if !p.barsOpen[t] {
		p.mu.Unlock()
		return
	}
	delete(p.barsOpen, t)
	if abort {
		t.bar.Abort(false)
	}
	var c *mpb.Progress
	if len(p.barsOpen) == 0 {
		c, p.bars = p.bars, nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Wait()
	}
}

// endBars ends the bars of the step (node, what) that did not complete.
func (p *Progress) endBars(node, what string) {
	p.mu.Lock()
	var open []*transferBar
	for t := range p.barsOpen {
		if t.node == node && t.what == what {
			open = append(open, t)
		}
	}
	p.mu.Unlock()
	for _, t := range open {
		p.barEnded(t, true)
	}
}

// Transfer returns the "transfer" events of one copy (the step on node
// described by what): one a second at most, and the last one.
func (e *Events) Transfer(node, what string) Transfer {
	return &transferEvents{e: e, node: node, what: what}
}

type transferEvents struct {
	e          *Events
	node, what string
	last       time.Time
}

func (t *transferEvents) Update(s TransferStatus) {
	if s.Total <= 0 {
		return
	}
	now := time.Now()
	if !s.Done && now.Sub(t.last) < time.Second {
		return
	}
	t.last = now
	eta := s.ETA().Seconds()
	rate := s.Rate
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	ev := Event{Type: "transfer", Operation: t.e.op, Stage: t.e.stage, Node: t.node, Desc: t.what,
		Bytes: &s.Bytes, TotalBytes: &s.Total, Rate: &rate}
	if eta > 0 {
		ev.ETA = &eta
	}
	if s.Done {
		ev.Complete = &s.Done
	}
	t.e.emit(ev)
}
