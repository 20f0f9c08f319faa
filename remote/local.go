package remote

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Local runs commands on this machine, argv directly through os/exec (no
// shell), with the same Result and ExitError semantics as SSH: a missing
// program is exit 127, a command killed by a signal is an ExitError with the
// signal named, and cancellation sends SIGTERM to the command's process group
// and kills it WaitDelay later. Local is for development and tests; it is
// safe for concurrent use.
type Local struct {
	name string
	// Timeout is the default command timeout (Command.Timeout wins); 0 is none.
	Timeout time.Duration
	// WaitDelay is the grace period between SIGTERM and SIGKILL on cancellation.
	WaitDelay time.Duration
}

var (
	_ Runner   = (*Local)(nil)
	_ Uploader = (*Local)(nil)
)

// NewLocal returns a runner for this machine, named name in errors and logs.
func NewLocal(name string) *Local {
	return &Local{name: name, WaitDelay: defaultWaitDelay}
}

// String returns the runner's name.
func (l *Local) String() string { return l.name }

// Run runs c. See Runner for the error contract.
func (l *Local) Run(ctx context.Context, c Command) (Result, error) {
	var res Result
	if len(c.Argv) == 0 {
		return res, fmt.Errorf("%s: run: empty argv", l.name)
	}
	start := time.Now()
	timeout := cmp.Or(c.Timeout, l.Timeout)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	argv := c.withEnv()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), argv[1:len(c.Env)+1]...)
	}
	cmd.Stdin = c.Stdin
	var stdout, stderr bytes.Buffer
	tail := &tailWriter{max: stderrTail}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, tail)
	}
	setProcessGroup(cmd)
	cmd.WaitDelay = cmp.Or(l.WaitDelay, defaultWaitDelay)
	err := cmd.Run()
	res.Duration = time.Since(start)
	if c.Stdout == nil {
		res.Stdout = stdout.Bytes()
	}
	if c.Stderr == nil {
		res.Stderr = stderr.Bytes()
		tail.Write(res.Stderr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.ExitCode = -1
		err = ctxError(l.name, c.display(argv), ctx, timeout)
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		res.ExitCode = 127
		err = &ExitError{Node: l.name, Argv: c.display(argv), Code: 127, Stderr: fmt.Sprintf("%s: not found", c.Argv[0])}
	case errors.As(err, &exitErr):
		e := &ExitError{Node: l.name, Argv: c.display(argv), Code: exitErr.ExitCode(), Stderr: tail.String()}
		if sig := exitSignal(exitErr); sig > 0 {
			e.Signal, e.Code = signalName(sig), 128+sig
			if e.Signal == "" {
				e.Signal = fmt.Sprint(sig)
			}
		}
		res.ExitCode = e.Code
		err = e
	default:
		res.ExitCode = -1
		err = fmt.Errorf("%s: %s: %w", l.name, shortArgv(c.display(argv)), err)
	}
	return res, err
}

// Upload writes r to dst atomically: a temporary file in dst's directory
// with mode set before any data, synced, then renamed over dst; the temporary
// file is removed on any error.
func (l *Local) Upload(ctx context.Context, dst string, mode fs.FileMode, r io.Reader) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: upload %s: %w", l.name, dst, err)
		}
	}()
	f, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(mode.Perm()); err != nil {
		return err
	}
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
