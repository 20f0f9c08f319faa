package testbed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// prepare builds everything a bed needs before its nodes boot: keys, the
// files clients use, per-node trees and PV images, and the network. Keys
// and PV images are kept if they exist (a restart keeps node identity).
func (sv *supervisor) prepare(ctx context.Context) error {
	l := sv.l
	if err := deleteNet(ctx, sv.nm); err != nil { // left over by a crash
		return err
	}
	for _, d := range []string{l.shared(), l.sharedFiles(), l.state()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := keygen(ctx, l.clientKey(), "testbed-client"); err != nil {
		return err
	}
	hostKeys := map[string]string{}
	var mu sync.Mutex
	errs := make([]error, len(sv.s.Nodes))
	var wg sync.WaitGroup
	for i, n := range sv.s.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub, err := sv.prepareNode(ctx, n)
			if err != nil {
				errs[i] = fmt.Errorf("%s: prepare: %w", n.Name, err)
				return
			}
			mu.Lock()
			hostKeys[n.Name] = pub
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for p, data := range map[string]string{
		l.knownHosts(): renderKnownHosts(sv.s.Nodes, hostKeys),
		l.hosts():      renderHosts(sv.s.Nodes),
		l.sshConfig():  renderSSHConfig(l, sv.s.Nodes),
		l.inventory():  renderInventory(sv.s, 0, "state"),
	} {
		if err := atomicWrite(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return ipBatch(ctx, false, hostNetLines(sv.nm, len(sv.s.Nodes)))
}

// prepareNode makes the node's host-side tree and returns its public host
// key ("ssh-ed25519 AAAA...").
func (sv *supervisor) prepareNode(ctx context.Context, n Node) (string, error) {
	nl := sv.l.node(n.Name)
	for _, d := range []string{nl.upper("etc"), nl.work("etc"), nl.upper("var"), nl.work("var"),
		nl.srv(), nl.tmp(), nl.faults(), filepath.Join(nl.root(), ".ssh")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(nl.root(), 0o700); err != nil {
		return "", err
	}
	if err := keygen(ctx, nl.hostKey(), n.Name); err != nil {
		return "", err
	}
	if _, err := os.Stat(nl.pvImage()); errors.Is(err, fs.ErrNotExist) {
		f, err := os.OpenFile(nl.pvImage(), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		err = f.Truncate(sv.s.PVSize) // sparse
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	pub, err := os.ReadFile(nl.hostKey() + ".pub")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		return "", fmt.Errorf("%s.pub: bad key", nl.hostKey())
	}
	return f[0] + " " + f[1], nil
}

func keygen(ctx context.Context, path, comment string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// atomicWrite replaces p; files of running nodes are copied at boot, never
// bind-mounted, so replacing the inode is safe.
func atomicWrite(p string, data []byte, mode os.FileMode) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
