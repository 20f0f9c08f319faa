package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bed is a running test bed.
type Bed struct {
	l  layout
	s  spec
	nm naming

	sup     *exec.Cmd     // the supervisor when this process started it
	supDone chan struct{} // closed when sup has been waited for
}

// Start brings up a bed as described by o, replacing whatever ran (or
// crashed) in o.Dir with the same id, unless o.Reuse finds a healthy bed
// with at least o.Nodes nodes there. It needs root.
func Start(ctx context.Context, o Options) (*Bed, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := Preflight(); err != nil {
		return nil, err
	}
	l := layout{o.Dir}
	unlock, err := lockParent(l.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if o.Reuse {
		if b, err := attach(ctx, l, true); err == nil && b.s.ID == o.ID && len(b.s.Nodes) >= o.Nodes && b.s.VG == o.VG {
			// Keep a reused bed's tools and inventory as current as the
			// code under test.
			if err := installTool(ctx, l); err != nil {
				return nil, err
			}
			if err := atomicWrite(l.inventory(), []byte(renderInventory(b.s, 0, "state")), 0o644); err != nil {
				return nil, err
			}
			return b, nil
		}
	}
	if err := cleanup(ctx, l, o.ID, true); err != nil {
		return nil, err
	}
	s := spec{ID: o.ID, Dir: l.dir, VG: o.VG, PVSize: o.PVSize, Nodes: naming{o.ID}.nodes(o.Nodes)}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.marker(), []byte("ganetictl test bed; remove with: testbed down --dir "+l.dir+"\n"), 0o644); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(l.spec(), b, 0o644); err != nil {
		return nil, err
	}
	if err := installTool(ctx, l); err != nil {
		return nil, err
	}
	return spawn(ctx, l, s)
}

// Attach returns the running bed in dir; all its nodes must be on.
func Attach(ctx context.Context, dir string) (*Bed, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return attach(ctx, layout{d}, true)
}

// AttachAny returns the running bed in dir even if nodes are powered off.
func AttachAny(ctx context.Context, dir string) (*Bed, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return attach(ctx, layout{d}, false)
}

func attach(ctx context.Context, l layout, allOn bool) (*Bed, error) {
	s, err := readSpec(l)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := call(ctx, l.sock(), request{Op: "status"})
	if err != nil {
		return nil, fmt.Errorf("testbed %s: not running: %w", l.dir, err)
	}
	for _, n := range s.Nodes {
		if allOn && resp.Running[n.Name] == 0 {
			return nil, fmt.Errorf("testbed %s: %s is powered off", l.dir, n.Name)
		}
	}
	return &Bed{l: l, s: s, nm: naming{s.ID}}, nil
}

func readSpec(l layout) (spec, error) {
	var s spec
	b, err := os.ReadFile(l.spec())
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", l.spec(), err)
	}
	return s, nil
}

// spawn starts the supervisor in its own session (it outlives this
// process when the bed is left running) and waits until all nodes are up.
func spawn(ctx context.Context, l layout, s spec) (*Bed, error) {
	logf, err := os.OpenFile(l.supLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(l.tbtool(), "supervise", l.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + os.Getenv("HOME")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testbed: start supervisor: %w", err)
	}
	if err := os.WriteFile(l.supPID(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return nil, err
	}
	b := &Bed{l: l, s: s, nm: naming{s.ID}, sup: cmd, supDone: make(chan struct{})}
	go func() { // reaps the supervisor if it ends while this process lives
		cmd.Wait()
		close(b.supDone)
	}()
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := call(cctx, l.sock(), request{Op: "status"})
		cancel()
		if err == nil {
			return b, nil
		}
		select {
		case <-b.supDone:
			return nil, fmt.Errorf("testbed: supervisor failed:\n%s", tail(l.supLog(), 30))
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
			<-b.supDone
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Teardown stops the bed and removes everything it made: processes,
// mounts, loop devices, network namespaces, bridges and its directory.
func (b *Bed) Teardown(ctx context.Context) error {
	unlock, err := lockParent(b.l.dir)
	if err != nil {
		return err
	}
	defer unlock()
	err = cleanup(ctx, b.l, b.s.ID, true)
	if b.sup != nil {
		select {
		case <-b.supDone:
		case <-ctx.Done():
		}
	}
	return err
}

// Down tears down whatever bed runs or ran in dir (the CLI's down).
func Down(ctx context.Context, dir string, id int) error {
	d, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	unlock, err := lockParent(d)
	if err != nil {
		return err
	}
	defer unlock()
	return cleanup(ctx, layout{d}, id, true)
}

// lockParent serialises starts and teardowns of beds: a lock on the bed
// directory's parent survives the bed directory's removal.
func lockParent(dir string) (func(), error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Open(parent)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("testbed: lock %s: %w", parent, err)
	}
	return func() { f.Close() }, nil
}

// Preflight reports why this machine cannot run a bed, if it cannot.
func Preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("testbed: needs root")
	}
	var missing []string
	for _, t := range []string{"sshd", "ssh", "ssh-keygen", "ip", "tc", "nsenter", "unshare", "lvm", "qemu-system-x86_64", "qemu-img", "socat"} {
		if _, err := exec.LookPath(t); err != nil {
			if _, err := os.Stat("/usr/sbin/" + t); err != nil {
				missing = append(missing, t)
			}
		}
	}
	for _, d := range []string{"/dev/loop-control", "/dev/net/tun"} {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("testbed: missing %v (Debian: apt-get install openssh-server openssh-client iproute2 lvm2 qemu-system-x86 qemu-utils socat)", missing)
	}
	return nil
}
