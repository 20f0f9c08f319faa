package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Pool hands out one SSH runner per node. It dials a node lazily, once: the
// first Get starts the dial, concurrent Gets for the same node wait for it,
// and the outcome, success or failure, is kept for the pool's life, so a dead
// node is not redialled by every step (each caller still gets the error).
// A Pool is safe for concurrent use.
type Pool struct {
	cfg     Config
	targets map[string]Target
	auth    *auth
	dialer  *dialer

	ctx    context.Context // cancelled by Close; bounds every dial
	cancel context.CancelFunc
	wg     sync.WaitGroup // dial goroutines

	mu     sync.Mutex
	closed bool
	conns  map[string]*dialing
	jump   *dialing
}

// dialing is one dial, finished when done is closed.
type dialing struct {
	done chan struct{}
	ssh  *SSH
	err  error
}

// NewPool checks the configuration and targets (all problems at once) and
// loads the credentials; it does not dial. The caller must Close the pool.
func NewPool(cfg Config, targets []Target) (*Pool, error) {
	cfg = cfg.withDefaults()
	var errs []error
	m := make(map[string]Target, len(targets))
	for _, t := range targets {
		if err := validateTarget(t); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := m[t.Name]; dup {
			errs = append(errs, fmt.Errorf("target %s: listed twice", t.Name))
			continue
		}
		m[t.Name] = t
	}
	if cfg.JumpHost != "" {
		if _, _, err := parseJumpHost(cfg.JumpHost, cfg.User); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{
		cfg:     cfg,
		targets: m,
		auth:    a,
		dialer:  &dialer{cfg: cfg, auth: a},
		ctx:     ctx,
		cancel:  cancel,
		conns:   make(map[string]*dialing),
	}, nil
}

// Get returns the runner of the named node, dialling it on first use. It
// waits for the dial until ctx ends; ending ctx does not abort a dial that
// other callers may share (Config.ConnectTimeout bounds it).
func (p *Pool) Get(ctx context.Context, name string) (Runner, error) {
	s, err := p.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Pool) get(ctx context.Context, name string) (*SSH, error) {
	t, ok := p.targets[name]
	if !ok {
		return nil, fmt.Errorf("%s: unknown node", name)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("%s: pool closed", name)
	}
	d, ok := p.conns[name]
	if !ok {
		d = &dialing{done: make(chan struct{})}
		p.conns[name] = d
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(d.done)
			d.ssh, d.err = p.dial(t)
		}()
	}
	p.mu.Unlock()
	select {
	case <-d.done:
		return d.ssh, d.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: connect: %w", name, ctx.Err())
	}
}

// dial connects to t, through the jump host when configured.
func (p *Pool) dial(t Target) (*SSH, error) {
	if p.cfg.JumpHost == "" {
		return p.dialer.dial(p.ctx, t, p.cfg.User, nil)
	}
	p.mu.Lock()
	j := p.jump
	if j == nil {
		j = &dialing{done: make(chan struct{})}
		p.jump = j
		p.mu.Unlock()
		j.ssh, j.err = p.dialer.dialJump(p.ctx)
		close(j.done)
	} else {
		p.mu.Unlock()
		<-j.done // bounded by ConnectTimeout
	}
	if j.err != nil {
		return nil, fmt.Errorf("%s: connect %s: via jump host: %w", t.Name, t.hostPort(), j.err)
	}
	return p.dialer.dial(p.ctx, t, p.cfg.User, j.ssh)
}

// Close aborts dials in progress, closes every connection (commands still
// running fail) and releases the credentials. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	for _, d := range p.conns {
		if d.ssh != nil {
			d.ssh.Close()
		}
	}
	if p.jump != nil && p.jump.ssh != nil {
		p.jump.ssh.Close()
	}
	return p.auth.Close()
}
