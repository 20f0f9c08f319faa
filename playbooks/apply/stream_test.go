package apply

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote/remotetest"
)

// streamHooks streams the stderr of steps whose Desc is "copy".
type streamHooks struct {
	NoHooks
	mu  sync.Mutex
	buf bytes.Buffer
}

func (h *streamHooks) StepStderr(s *plan.Step) io.Writer {
	if s.Desc != "copy" {
		return nil
	}
	return writerFunc(func(b []byte) (int, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.buf.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestStepStderrStreams(t *testing.T) {
	rs := newFakes("node1")
	rs["node1"].Handle(remotetest.Exact("copy"), remotetest.Fail(0, "progress 50%\n"))
	rs["node1"].Handle(remotetest.Exact("other"), remotetest.Fail(0, "quiet\n"))
	st := state(t)
	p := plan.New(plan.Op{ID: "TEST"}, st.Lineage, st.Serial)
	p.Add("one", plan.Abort, plan.Step{Node: "node1", Action: plan.Exec, Desc: "copy", Argv: []string{"copy"}},
		plan.Step{Node: "node1", Action: plan.Exec, Desc: "other", Argv: []string{"other"}})
	h := &streamHooks{}
	res, err := Run(t.Context(), p, rs, nil, Options{Hooks: h})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.buf.String(); got != "progress 50%\n" {
		t.Errorf("streamed %q", got)
	}
	// The result keeps the whole stderr, streamed or not.
	if string(res.Steps[0].Stderr) != "progress 50%\n" || string(res.Steps[1].Stderr) != "quiet\n" {
		t.Errorf("results' stderr: %q, %q", res.Steps[0].Stderr, res.Steps[1].Stderr)
	}
}
