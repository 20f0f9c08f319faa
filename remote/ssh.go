package remote

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SSH runs commands on one node over one SSH connection, many sessions at a
// time (at most Config.MaxSessions). It implements Runner and Uploader and is
// safe for concurrent use. Obtain one from a Pool or from Dial.
type SSH struct {
	name   string
	addr   string
	cfg    Config
	client *ssh.Client
	sem    chan struct{} // one token per open session

	done    chan struct{} // closed when the connection is gone
	errMu   sync.Mutex
	err     error // why the connection is gone; set before done is closed
	wg      sync.WaitGroup
	closing sync.Once
	closers []io.Closer // closed after the client (jump connection, agent)

	sftpMu      sync.Mutex
	sftp        *sftp.Client
	sftpRelease func()
	posixRename bool
}

var (
	_ Runner   = (*SSH)(nil)
	_ Uploader = (*SSH)(nil)
)

// errClosed is the cause recorded when the runner is closed by its owner.
var errClosed = errors.New("connection closed")

// Dial connects to t and returns its runner; the caller must Close it. Most
// callers want a Pool, which dials each node once and shares the connection.
// Errors name the node and address; they satisfy errors.Is(err, ErrUnreachable)
// when the node could not be reached, and errors.As(err, **HostKeyError) when
// its host key could not be verified.
func Dial(ctx context.Context, cfg Config, t Target) (*SSH, error) {
	cfg = cfg.withDefaults()
	if err := validateTarget(t); err != nil {
		return nil, err
	}
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	d := &dialer{cfg: cfg, auth: a}
	var via *SSH
	if cfg.JumpHost != "" {
		via, err = d.dialJump(ctx)
		if err != nil {
			a.Close()
			return nil, err
		}
	}
	s, err := d.dial(ctx, t, cfg.User, via)
	if err != nil {
		if via != nil {
			via.Close()
		}
		a.Close()
		return nil, err
	}
	if via != nil {
		s.closers = append(s.closers, via)
	}
	s.closers = append(s.closers, a)
	return s, nil
}

// dialer dials targets with shared authentication.
type dialer struct {
	cfg  Config
	auth *auth
}

// dialJump connects to cfg.JumpHost.
func (d *dialer) dialJump(ctx context.Context) (*SSH, error) {
	user, t, err := parseJumpHost(d.cfg.JumpHost, d.cfg.User)
	if err != nil {
		return nil, err
	}
	return d.dial(ctx, t, user, nil)
}

// dial connects to t, directly or through the connection via.
func (d *dialer) dial(ctx context.Context, t Target, user string, via *SSH) (*SSH, error) {
	addr := t.hostPort()
	fail := func(err error) (*SSH, error) {
		return nil, fmt.Errorf("%s: connect %s: %w", t.Name, addr, err)
	}
	hk, err := newHostKeyChecker(d.cfg, t)
	if err != nil {
		return fail(err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	// ctxErr explains why ctx ended: the caller's cancellation, or our timeout.
	ctxErr := func() error {
		if err := parent.Err(); err != nil {
			return err
		}
		return unreachable(fmt.Errorf("timed out after %s", d.cfg.ConnectTimeout))
	}

	start := time.Now()
	var conn net.Conn
	if via != nil {
		conn, err = via.client.DialContext(ctx, "tcp", addr)
		if err != nil && via.isDead() {
			err = fmt.Errorf("via jump host %s: %w", via.name, via.deadErr())
		}
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fail(ctxErr())
		}
		return fail(unreachable(err))
	}
	// x/crypto/ssh has no context-aware handshake: close the raw connection
	// if ctx ends during it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              user,
		Auth:              d.auth.methods,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(),
	})
	if !stop() {
		if err == nil {
			cc.Close()
		}
		return fail(ctxErr())
	}
	if err != nil {
		conn.Close()
		return fail(classifyHandshake(err, user))
	}
	s := newSSH(t.Name, addr, ssh.NewClient(cc, chans, reqs), d.cfg)
	d.cfg.logf("%s: connected to %s as %s in %s", t.Name, addr, user, time.Since(start).Round(time.Millisecond))
	return s, nil
}

// classifyHandshake keeps host key errors as they are, explains auth
// failures and marks broken connections unreachable.
func classifyHandshake(err error, user string) error {
	var hke *HostKeyError
	if errors.As(err, &hke) {
		return hke
	}
	var opErr *net.OpError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &opErr) {
		return unreachable(fmt.Errorf("handshake: %w", err))
	}
	if bytes.Contains([]byte(err.Error()), []byte("unable to authenticate")) {
		return fmt.Errorf("authenticate as %s: %w", user, err)
	}
	return err
}

// unreachableError marks err as ErrUnreachable while keeping its message.
type unreachableError struct{ err error }

func unreachable(err error) error                { return &unreachableError{err} }
func (e *unreachableError) Error() string        { return e.err.Error() }
func (e *unreachableError) Unwrap() error        { return e.err }
func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }
func (s *SSH) isDead() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// newSSH wraps an established client and starts its two goroutines: one
// that notices the connection's end, one that sends keepalives. Both stop
// when the connection ends.
func newSSH(name, addr string, c *ssh.Client, cfg Config) *SSH {
	s := &SSH{
		name:   name,
		addr:   addr,
		cfg:    cfg,
		client: c,
		sem:    make(chan struct{}, cfg.MaxSessions),
		done:   make(chan struct{}),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := c.Wait()
		s.setErr(err)
		close(s.done)
	}()
	if cfg.KeepAlive > 0 {
		s.wg.Add(1)
		go s.keepalive(cfg.KeepAlive)
	}
	return s
}

// keepalive sends keepalive@openssh.com every interval and closes the
// connection when a reply does not come within three intervals.
func (s *SSH) keepalive(interval time.Duration) {
	defer s.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		timer := time.AfterFunc(3*interval, func() {
			s.fail(fmt.Errorf("no keepalive reply in %s", 3*interval))
		})
		_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
		timer.Stop()
		if err != nil {
			s.fail(fmt.Errorf("keepalive: %w", err))
			return
		}
	}
}

// setErr records the first reason the connection ended.
func (s *SSH) setErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		if err == nil {
			err = io.EOF
		}
		s.err = err
	}
}

// fail records err and closes the connection.
func (s *SSH) fail(err error) {
	s.setErr(err)
	s.client.Close()
}

// deadErr is the error for using a connection that has ended.
func (s *SSH) deadErr() error {
	s.errMu.Lock()
	err := s.err
	s.errMu.Unlock()
	if errors.Is(err, errClosed) {
		return err
	}
	return unreachable(fmt.Errorf("connection lost: %w", err))
}

// String returns the node name.
func (s *SSH) String() string { return s.name }

// Close closes the connection and waits for its goroutines. Commands still
// running fail with a transport error. Close is idempotent.
func (s *SSH) Close() error {
	s.closing.Do(func() {
		s.setErr(errClosed)
		s.sftpMu.Lock()
		if s.sftp != nil {
			s.sftp.Close()
			s.sftpRelease()
			s.sftp = nil
		}
		s.sftpMu.Unlock()
		s.client.Close()
		s.wg.Wait()
		for _, c := range s.closers {
			c.Close()
		}
	})
	return nil
}

// acquire takes a session slot, or fails when ctx ends or the connection dies.
func (s *SSH) acquire(ctx context.Context) (release func(), err error) {
	if s.isDead() {
		return nil, s.deadErr()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, s.deadErr()
	}
}

// stderrTail is how much of stderr an ExitError keeps.
const stderrTail = 4 << 10

// Run runs c on the node as `Quote(argv)`, the exec request that sshd hands
// to the login shell. See Runner for the error contract. When ctx ends (or
// the command's timeout passes) the command gets SIGTERM and, WaitDelay
// later, its session is closed; Run then returns an error wrapping ctx.Err().
// Note that sshd does not kill a command whose session is closed: one that
// ignores SIGTERM may outlive the cancellation on the node.
func (s *SSH) Run(ctx context.Context, c Command) (Result, error) {
	start := time.Now()
	argv := c.withEnv()
	if len(c.Argv) == 0 {
		return Result{}, fmt.Errorf("%s: run: empty argv", s.name)
	}
	timeout := cmp.Or(c.Timeout, s.cfg.CommandTimeout)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	res, err := s.run(ctx, c, argv)
	res.Duration = time.Since(start)
	if err != nil && ctx.Err() != nil {
		// Whatever the command died of (SIGTERM, closed session), the cause
		// is the cancellation.
		err = ctxError(s.name, c.display(argv), ctx, timeout)
	}
	logRun(s.cfg.Logf, s.name, c.display(argv), res, err)
	return res, err
}

func (s *SSH) run(ctx context.Context, c Command, argv []string) (Result, error) {
	var res Result
	release, err := s.acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("%s: %s: %w", s.name, shortArgv(c.display(argv)), err)
	}
	defer release()
	sess, err := s.client.NewSession()
	if err != nil {
		if s.isDead() {
			err = s.deadErr()
		}
		return res, fmt.Errorf("%s: %s: open session: %w", s.name, shortArgv(c.display(argv)), err)
	}
	defer sess.Close()
	if c.TTY != nil {
		// A terminal on the node side, for interactive programs (consoles).
		modes := ssh.TerminalModes{ssh.ECHO: 0, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
		if err := sess.RequestPty(cmp.Or(c.TTY.Term, "xterm"), max(c.TTY.Rows, 24), max(c.TTY.Cols, 80), modes); err != nil {
			return res, fmt.Errorf("%s: %s: request a terminal: %w", s.name, shortArgv(c.display(argv)), err)
		}
	}

	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	tail := &tailWriter{max: stderrTail}
	if c.Stdout != nil {
		sess.Stdout = c.Stdout
	}
	if c.Stderr != nil {
		sess.Stderr = io.MultiWriter(c.Stderr, tail)
	}
	var stdinW io.WriteCloser
	if c.Stdin != nil {
		if stdinW, err = sess.StdinPipe(); err != nil {
			return res, fmt.Errorf("%s: %s: stdin: %w", s.name, shortArgv(c.display(argv)), err)
		}
	}
	if err := sess.Start(Quote(argv)); err != nil {
		return res, fmt.Errorf("%s: %s: start: %w", s.name, shortArgv(c.display(argv)), err)
	}
	// Stream stdin. A read error must not look like EOF to the command (a
	// `cat > file` would keep a prefix), so it aborts the session instead.
	// Write errors mean the command is gone and no longer reads: ignored.
	// The goroutine ends when the reader returns after the session closes.
	var stdinErr atomic.Pointer[error]
	if stdinW != nil {
		go func() {
			er := &errReader{r: c.Stdin}
			io.Copy(stdinW, er)
			if er.err != nil {
				stdinErr.Store(&er.err)
				sess.Close()
				return
			}
			stdinW.Close()
		}()
	}

	// On cancellation: SIGTERM now, close the session WaitDelay later. No
	// goroutine waits on ctx; stop() below unregisters the callback.
	var (
		mu       sync.Mutex
		finished bool
		kill     *time.Timer
	)
	stop := context.AfterFunc(ctx, func() {
		sess.Signal(ssh.SIGTERM)
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			kill = time.AfterFunc(s.cfg.WaitDelay, func() { sess.Close() })
		}
	})
	werr := sess.Wait()
	stop()
	mu.Lock()
	finished = true
	if kill != nil {
		kill.Stop()
	}
	mu.Unlock()

	if c.Stdout == nil {
		res.Stdout = stdout.Bytes()
	}
	if c.Stderr == nil {
		res.Stderr = stderr.Bytes()
		tail.Write(res.Stderr)
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case stdinErr.Load() != nil:
		res.ExitCode = -1
		return res, fmt.Errorf("%s: %s: read stdin: %w", s.name, shortArgv(c.display(argv)), *stdinErr.Load())
	case werr == nil:
		return res, nil
	case errors.As(werr, &exitErr):
		e := &ExitError{Node: s.name, Argv: c.display(argv), Code: exitErr.ExitStatus(), Stderr: tail.String()}
		if sig := exitErr.Signal(); sig != "" {
			e.Signal, e.Code = sig, signalCode(sig)
		}
		res.ExitCode = e.Code
		return res, e
	case errors.As(werr, &missing):
		// The channel closed without an exit status: we closed it
		// (cancellation) or the connection broke.
		res.ExitCode = -1
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		select {
		case <-s.done:
			return res, fmt.Errorf("%s: %s: %w", s.name, shortArgv(c.display(argv)), s.deadErr())
		case <-time.After(time.Second):
			return res, fmt.Errorf("%s: %s: session closed without exit status", s.name, shortArgv(c.display(argv)))
		}
	default:
		res.ExitCode = -1
		return res, fmt.Errorf("%s: %s: %w", s.name, shortArgv(c.display(argv)), werr)
	}
}

// ctxError is the error of a command stopped by its context.
func ctxError(node string, argv []string, ctx context.Context, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
		return fmt.Errorf("%s: %s: timed out after %s: %w", node, shortArgv(argv), timeout, ctx.Err())
	}
	return fmt.Errorf("%s: %s: %w", node, shortArgv(argv), ctx.Err())
}

// logRun writes the verbose log line of one command: node, full argv,
// status and duration.
func logRun(logf func(string, ...any), node string, argv []string, res Result, err error) {
	if logf == nil {
		return
	}
	d := res.Duration.Round(time.Millisecond)
	var e *ExitError
	switch {
	case err == nil:
		logf("%s: %s: exit 0 (%s)", node, displayArgv(argv), d)
	case errors.As(err, &e):
		logf("%s: %s: exit %d (%s)", node, displayArgv(argv), e.Code, d)
	default: // the error names node and command already
		logf("%s (%s)", err, d)
	}
}

// errReader records the error of the reader it wraps.
type errReader struct {
	r   io.Reader
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
