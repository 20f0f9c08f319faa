package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// supervisor owns a bed: it builds it, keeps every node's unshare process
// as a child it waits for, and serves power operations on ctl.sock.
type supervisor struct {
	l  layout
	s  spec
	nm naming

	mu    sync.Mutex
	nodes map[string]*nodeProc
}

// Supervise runs the supervisor of the bed in dir (written by Start) until
// it is told to tear down or gets SIGTERM/SIGINT. It runs as
// "tbtool supervise DIR".
func Supervise(dir string) error {
	l := layout{dir}
	b, err := os.ReadFile(l.spec())
	if err != nil {
		return err
	}
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %w", l.spec(), err)
	}
	sv := &supervisor{l: l, s: s, nm: naming{s.ID}, nodes: map[string]*nodeProc{}}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	t0 := time.Now()
	if err := sv.prepare(ctx); err != nil {
		sv.teardown(context.Background())
		return err
	}
	if err := sv.bootAll(ctx); err != nil {
		sv.teardown(context.Background())
		return err
	}
	fmt.Fprintf(os.Stderr, "testbed %d: %d nodes up in %v\n", s.ID, len(s.Nodes), time.Since(t0).Round(time.Millisecond))

	os.Remove(l.sock())
	ln, err := net.Listen("unix", l.sock())
	if err != nil {
		sv.teardown(context.Background())
		return err
	}
	// The nodes' out-of-band program (testbed-oob) reaches the power
	// operations, and only those, through the shared directory.
	os.Remove(l.powerSock())
	pln, err := net.Listen("unix", l.powerSock())
	if err != nil {
		ln.Close()
		sv.teardown(context.Background())
		return err
	}
	done := make(chan struct{})
	var once sync.Once
	finish := func() { once.Do(func() { close(done); ln.Close(); pln.Close() }) }
	go func() { // SIGTERM/SIGINT: tear down like a teardown request
		select {
		case <-ctx.Done():
			finish()
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the power socket, until finish closes it
		defer wg.Done()
		for {
			c, err := pln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sv.servePower(c)
			}()
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sv.serve(c) {
				finish()
			}
		}()
	}
	pln.Close()
	wg.Wait()
	finish()
	sv.teardown(context.Background())
	os.Remove(l.sock())
	os.Remove(l.powerSock())
	fmt.Fprintf(os.Stderr, "testbed %d: torn down\n", s.ID)
	return nil
}

// serve answers one request; it reports whether the bed must go down. A
// teardown request is answered only once everything is gone.
func (sv *supervisor) serve(c net.Conn) (teardown bool) {
	defer c.Close()
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return false
	}
	var req request
	resp := response{OK: true}
	if err := json.Unmarshal(line, &req); err != nil {
		resp = response{Error: err.Error()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := sv.handle(ctx, req); err != nil {
			resp = response{Error: err.Error()}
		}
	}
	resp.Running = sv.running()
	json.NewEncoder(c).Encode(resp)
	return req.Op == "teardown" && resp.OK
}

// servePower answers one request on the power socket: status, poweroff,
// boot and cycle only (a node cannot tear the bed down).
func (sv *supervisor) servePower(c net.Conn) {
	defer c.Close()
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return
	}
	var req request
	resp := response{OK: true}
	switch err := json.Unmarshal(line, &req); {
	case err != nil:
		resp = response{Error: err.Error()}
	case req.Op != "status" && req.Op != "poweroff" && req.Op != "boot" && req.Op != "cycle":
		resp = response{Error: fmt.Sprintf("testbed: %q is not a power operation", req.Op)}
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := sv.handle(ctx, req); err != nil {
			resp = response{Error: err.Error()}
		}
	}
	resp.Running = sv.running()
	json.NewEncoder(c).Encode(resp)
}

func (sv *supervisor) handle(ctx context.Context, req request) error {
	switch req.Op {
	case "status":
		return nil
	case "teardown":
		return sv.teardown(ctx)
	case "poweroff", "boot", "cycle":
		n, ok := sv.node(req.Node)
		if !ok {
			return fmt.Errorf("testbed: no node %q", req.Node)
		}
		switch req.Op {
		case "boot":
			return sv.boot(ctx, n)
		case "cycle": // off and on here: the caller may be the node itself
			if err := sv.powerOff(ctx, n); err != nil {
				return err
			}
			return sv.boot(ctx, n)
		}
		return sv.powerOff(ctx, n)
	}
	return fmt.Errorf("testbed: unknown op %q", req.Op)
}

func (sv *supervisor) node(name string) (int, bool) {
	for i, n := range sv.s.Nodes {
		if n.Name == name {
			return i + 1, true
		}
	}
	return 0, false
}

// running maps each powered-on node to its init PID.
func (sv *supervisor) running() map[string]int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	out := map[string]int{}
	for name, p := range sv.nodes {
		out[name] = p.initPID
	}
	return out
}

func (sv *supervisor) bootAll(ctx context.Context) error {
	errs := make([]error, len(sv.s.Nodes))
	var wg sync.WaitGroup
	for i := range sv.s.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = sv.boot(ctx, i+1)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// teardown powers every node off and removes the bed's network; files
// stay for the caller to remove.
func (sv *supervisor) teardown(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(sv.s.Nodes))
	for i := range sv.s.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = sv.powerOff(ctx, i+1)
		}()
	}
	wg.Wait()
	errs = append(errs, deleteNet(ctx, sv.nm))
	return errors.Join(errs...)
}
