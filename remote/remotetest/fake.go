// Package remotetest provides test doubles for package remote: Fake, a
// scripted Runner that records its calls; Server, an in-process SSH and SFTP
// server on loopback; and TestRunner, the conformance suite every
// remote.Runner must pass.
package remotetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sync"

	"github.com/ganetictl/ganetictl/remote"
)

// Matcher selects the commands a rule answers, by argv (without the env prefix).
type Matcher func(argv []string) bool

// Exact matches argv equal to want.
func Exact(want ...string) Matcher {
	return func(argv []string) bool { return slices.Equal(argv, want) }
}

// Prefix matches argv starting with want.
func Prefix(want ...string) Matcher {
	return func(argv []string) bool { return len(argv) >= len(want) && slices.Equal(argv[:len(want)], want) }
}

// Handler produces the reply to a command. A Result with a non-zero
// ExitCode and a nil error becomes an *remote.ExitError naming the node.
type Handler func(ctx context.Context, c remote.Command) (remote.Result, error)

// Reply answers with stdout and exit 0.
func Reply(stdout string) Handler {
	return func(context.Context, remote.Command) (remote.Result, error) {
		return remote.Result{Stdout: []byte(stdout)}, nil
	}
}

// Fail answers with the exit code and stderr.
func Fail(code int, stderr string) Handler {
	return func(context.Context, remote.Command) (remote.Result, error) {
		return remote.Result{Stderr: []byte(stderr), ExitCode: code}, nil
	}
}

// Error answers with a transport error, such as one wrapping remote.ErrUnreachable.
func Error(err error) Handler {
	return func(context.Context, remote.Command) (remote.Result, error) { return remote.Result{}, err }
}

// Delegate answers by running the command on r (a Fake in front of Local
// records calls while really executing them).
func Delegate(r remote.Runner) Handler {
	return func(ctx context.Context, c remote.Command) (remote.Result, error) { return r.Run(ctx, c) }
}

// Call is one recorded Run.
type Call struct {
	Argv  []string
	Env   map[string]string
	Stdin []byte
}

// UploadCall is one recorded Upload.
type UploadCall struct {
	Dst  string
	Mode fs.FileMode
	Data []byte
}

// Fake is a Runner and Uploader with scripted replies. Rules are tried
// newest first, so a test can override an earlier, broader rule; a command no
// rule matches gets Unmatched, or an error naming it when Unmatched is nil.
// Every Run and Upload is recorded. Fake is safe for concurrent use; set
// Unmatched before the first Run.
type Fake struct {
	name string
	// Unmatched answers commands no rule matches; nil means an error.
	Unmatched Handler

	mu      sync.Mutex
	rules   []rule
	calls   []Call
	uploads []UploadCall
	files   map[string][]byte
}

type rule struct {
	match Matcher
	h     Handler
}

var (
	_ remote.Runner   = (*Fake)(nil)
	_ remote.Uploader = (*Fake)(nil)
)

// NewFake returns a Fake for the node name.
func NewFake(name string) *Fake { return &Fake{name: name, files: make(map[string][]byte)} }

// String returns the node name.
func (f *Fake) String() string { return f.name }

// Handle adds a rule: commands m matches are answered by h.
func (f *Fake) Handle(m Matcher, h Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{m, h})
}

// On answers argv exactly with stdout and exit 0.
func (f *Fake) On(stdout string, argv ...string) { f.Handle(Exact(argv...), Reply(stdout)) }

// Calls returns the recorded Runs, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Uploads returns the recorded Uploads, in order.
func (f *Fake) Uploads() []UploadCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.uploads)
}

// File returns what the last Upload to dst wrote.
func (f *Fake) File(dst string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[dst]
	return b, ok
}

// Run records c and answers it from the newest matching rule.
func (f *Fake) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	call := Call{Argv: slices.Clone(c.Argv), Env: maps.Clone(c.Env)}
	if c.Stdin != nil {
		b, err := io.ReadAll(c.Stdin)
		if err != nil {
			return remote.Result{}, fmt.Errorf("%s: %s: read stdin: %w", f.name, c, err)
		}
		call.Stdin = b
		c.Stdin = bytes.NewReader(b)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	h := f.Unmatched
	for i := len(f.rules) - 1; i >= 0; i-- {
		if f.rules[i].match(c.Argv) {
			h = f.rules[i].h
			break
		}
	}
	f.mu.Unlock()
	if h == nil {
		return remote.Result{ExitCode: -1}, fmt.Errorf("%s: %s: remotetest.Fake: no rule matches", f.name, c)
	}
	if err := ctx.Err(); err != nil {
		return remote.Result{ExitCode: -1}, fmt.Errorf("%s: %s: %w", f.name, c, err)
	}
	res, err := h(ctx, c)
	if err == nil && res.ExitCode != 0 {
		shown := c.Argv
		if c.Display != nil { // as real runners: errors show the masked form
			shown = c.Display
		}
		err = &remote.ExitError{Node: f.name, Argv: shown, Code: res.ExitCode, Stderr: string(res.Stderr)}
	}
	if c.Stdout != nil && res.Stdout != nil {
		c.Stdout.Write(res.Stdout)
		res.Stdout = nil
	}
	if c.Stderr != nil && res.Stderr != nil {
		c.Stderr.Write(res.Stderr)
		res.Stderr = nil
	}
	return res, err
}

// Upload records the file. It is atomic: a failing reader records nothing.
func (f *Fake) Upload(ctx context.Context, dst string, mode fs.FileMode, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: upload %s: %w", f.name, dst, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s: upload %s: %w", f.name, dst, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, UploadCall{Dst: dst, Mode: mode, Data: b})
	f.files[dst] = b
	return nil
}
