package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ganetictl/ganetictl/testbed/loopdev"
)

// nodeProc is a powered-on node: the unshare process (our child) and the
// node's init (sshd, PID 1 inside).
type nodeProc struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has been waited for
	initPID int
}

// nodeLocks serialises power operations per node.
var nodeLocks sync.Map // "dir/node" -> *sync.Mutex

func (sv *supervisor) lockNode(name string) func() {
	m, _ := nodeLocks.LoadOrStore(sv.l.dir+"/"+name, new(sync.Mutex))
	m.(*sync.Mutex).Lock()
	return m.(*sync.Mutex).Unlock
}

// boot powers node i on: attach its PV, start its namespaces with
// "tbtool node-init" as PID 1 and wait until its sshd accepts connections.
func (sv *supervisor) boot(ctx context.Context, i int) error {
	n := sv.s.Nodes[i-1]
	defer sv.lockNode(n.Name)()
	sv.mu.Lock()
	_, on := sv.nodes[n.Name]
	sv.mu.Unlock()
	if on {
		return nil
	}
	nl := sv.l.node(n.Name)
	fail := func(op string, err error) error { return fmt.Errorf("%s: boot: %s: %w", n.Name, op, err) }

	pv, err := pvLoop(nl.pvImage())
	if err != nil {
		return fail("attach PV", err)
	}
	// A node's /tmp starts empty at every boot, as with tmpfs or tmpreaper.
	if err := os.RemoveAll(nl.tmp()); err != nil {
		return fail("clean /tmp", err)
	}
	if err := os.Mkdir(nl.tmp(), 0o1777); err != nil {
		return fail("clean /tmp", err)
	}
	home, err := os.UserHomeDir()
	if err != nil || os.Getuid() != 0 {
		home = "/root"
	}
	cfg, _ := json.MarshalIndent(nodeConfig{Node: n, ID: sv.s.ID, Index: i, BedDir: sv.l.dir, NodeDir: nl.dir, VG: sv.s.VG,
		PVLoop: pv, Home: home}, "", "  ")
	if err := atomicWrite(nl.config(), cfg, 0o644); err != nil {
		return fail("config", err)
	}
	console, err := os.OpenFile(nl.console(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail("console", err)
	}
	defer console.Close()
	fmt.Fprintf(console, "--- boot %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command("nsenter", "--net=/run/netns/"+sv.nm.netns(i), "--",
		"unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc",
		"--propagation", "private", "--", sv.l.tbtool(), "node-init", nl.config())
	cmd.Stdout, cmd.Stderr = console, console
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + nodePath}
	if err := cmd.Start(); err != nil {
		return fail("start", err)
	}
	p := &nodeProc{cmd: cmd, done: make(chan struct{})}
	go func() { // owned by the node's lifetime: reaps unshare
		cmd.Wait()
		close(p.done)
	}()
	if err := sv.waitUp(ctx, n, p); err != nil {
		cmd.Process.Kill()
		<-p.done
		detachAll(nl.pvImage())
		return fail("wait for sshd", fmt.Errorf("%w\n%s", err, tail(nl.console(), 20)))
	}
	if err := os.WriteFile(nl.initPID(), []byte(strconv.Itoa(p.initPID)+"\n"), 0o644); err != nil {
		return fail("pid file", err)
	}
	sv.mu.Lock()
	sv.nodes[n.Name] = p
	sv.mu.Unlock()
	return nil
}

// waitUp waits for the node's init PID and for its sshd to listen.
func (sv *supervisor) waitUp(ctx context.Context, n Node, p *nodeProc) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	pid := p.cmd.Process.Pid
	for {
		select {
		case <-p.done:
			return errors.New("node init exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if p.initPID == 0 {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			if f := strings.Fields(string(b)); len(f) > 0 {
				p.initPID, _ = strconv.Atoi(f[0])
			}
		}
		if p.initPID != 0 && listening(p.initPID, 22) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listening reports whether a TCP socket listens on port in the network
// namespace of pid. Reading /proc (rather than connecting) keeps sshd's
// log free of aborted handshakes.
func listening(pid, port int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" { // 0A: LISTEN
			return true
		}
	}
	return false
}

// powerOff kills node i's PID namespace (sshd and everything it started,
// such as qemu) and detaches its loop devices, like pulling the plug.
func (sv *supervisor) powerOff(ctx context.Context, i int) error {
	n := sv.s.Nodes[i-1]
	defer sv.lockNode(n.Name)()
	nl := sv.l.node(n.Name)
	sv.mu.Lock()
	p := sv.nodes[n.Name]
	delete(sv.nodes, n.Name)
	sv.mu.Unlock()
	if p != nil {
		// Killing PID 1 of the namespace kills every process in it; unshare
		// then reaps it and exits.
		syscall.Kill(p.initPID, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-ctx.Done():
				return fmt.Errorf("%s: power off: %w", n.Name, ctx.Err())
			}
		}
	}
	os.Remove(nl.initPID())
	if err := detachAll(nl.pvImage()); err != nil {
		return fmt.Errorf("%s: power off: %w", n.Name, err)
	}
	return nil
}

// pvLoop returns the loop device holding the whole PV image, attaching one
// if needed.
func pvLoop(img string) (string, error) {
	devs, err := loopdev.BackedBy(img)
	if err != nil {
		return "", err
	}
	for _, d := range devs {
		if d.Offset == 0 && d.SizeLimit == 0 {
			return fmt.Sprintf("/dev/loop%d", d.N), nil
		}
	}
	d, err := loopdev.Attach(img, 0, 0)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/dev/loop%d", d.N), nil
}

// detachAll detaches every loop device over img: the PV and LV devices.
func detachAll(img string) error {
	devs, err := loopdev.BackedBy(img)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range devs {
		errs = append(errs, loopdev.Detach(d.N))
	}
	return errors.Join(errs...)
}

// tail returns the last n lines of a log file, for error messages.
func tail(p string, n int) string {
	b, _ := os.ReadFile(p)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
