package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/sourcegraph/conc/pool"
)

// HelperDir is where nodes keep the helper, by content: helper-<sha256[:16]>.
const HelperDir = playbooks.HelperDir

// currentHelpers gives the paths this ganetictl's helpers have on nodes
// of the architectures that hold any helper, for verify to tell stale
// ones; nil (helpers not judged) when a helper binary cannot be found.
func (a *app) currentHelpers(ctx context.Context, facts map[string]*playbooks.NodeFacts) []string {
	arches := map[string]bool{}
	for _, f := range facts {
		if f == nil || !f.Reachable {
			continue
		}
		for _, l := range f.Leftovers {
			if l.Kind == "helper" {
				if fs := strings.Fields(f.Uname); len(fs) > 0 {
					if arch, err := goArch(fs[len(fs)-1]); err == nil {
						arches[arch] = true
					}
				}
			}
		}
	}
	out := []string{}
	for arch := range arches {
		bin, err := helperBinary(ctx, arch)
		if err != nil {
			fmt.Fprintf(a.s.Err, "WARNING: cannot tell stale copy helpers from current ones: %v\n", err)
			return nil
		}
		sum := sha256.Sum256(bin)
		out = append(out, HelperDir+"/helper-"+hex.EncodeToString(sum[:])[:16])
	}
	return out
}

// ensureHelpers puts the helper for each node's architecture on the
// nodes that lack it (SFTP, atomic, content-addressed: never re-sent when
// present) and returns where it is. A dry run only computes the paths.
func (a *app) ensureHelpers(ctx context.Context, nodes []string) (map[string]playbooks.Helper, error) {
	var mu sync.Mutex
	out := map[string]playbooks.Helper{}
	wp := pool.New().WithErrors().WithMaxGoroutines(a.parallel())
	seen := map[string]bool{}
	for _, n := range nodes {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		wp.Go(func() error {
			h, err := a.ensureHelper(ctx, n)
			if err != nil {
				return fmt.Errorf("node %s: helper: %w", n, err)
			}
			mu.Lock()
			out[n] = h
			mu.Unlock()
			return nil
		})
	}
	return out, wp.Wait()
}

func (a *app) ensureHelper(ctx context.Context, node string) (playbooks.Helper, error) {
	r, err := a.pool.Get(ctx, node)
	if err != nil {
		return playbooks.Helper{}, err
	}
	res, err := r.Run(ctx, remote.Command{Argv: []string{"uname", "-m"}})
	if err != nil {
		return playbooks.Helper{}, err
	}
	arch, err := goArch(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		return playbooks.Helper{}, err
	}
	bin, err := helperBinary(ctx, arch)
	if err != nil {
		return playbooks.Helper{}, err
	}
	sum := sha256.Sum256(bin)
	h := playbooks.Helper{SHA256: hex.EncodeToString(sum[:])}
	h.Path = HelperDir + "/helper-" + h.SHA256[:16]
	if a.g.DryRun {
		return h, nil
	}
	check, err := r.Run(ctx, remote.Command{Argv: []string{"sha256sum", "--", h.Path}})
	if err == nil && strings.HasPrefix(string(check.Stdout), h.SHA256+" ") {
		return h, nil // present and intact
	}
	if _, err := r.Run(ctx, remote.Command{Argv: []string{"mkdir", "-p", "-m", "0755", HelperDir}}); err != nil {
		return h, err
	}
	if err := remote.Upload(ctx, r, h.Path, 0o755, bytes.NewReader(bin)); err != nil {
		return h, err
	}
	return h, nil
}

func goArch(machine string) (string, error) {
	switch machine {
	case "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("no helper for architecture %q (amd64 and arm64 only)", machine)
}

var helperBins sync.Map

// helperBinary finds the helper for linux/arch: in $GANETICTL_HELPER_DIR,
// else next to this executable (where `make build` puts them), else it is
// built with the Go toolchain when the working directory is inside
// ganetictl's module (development and tests), cached in the user's cache
// directory.
func helperBinary(ctx context.Context, arch string) ([]byte, error) {
	if b, ok := helperBins.Load(arch); ok {
		return b.([]byte), nil
	}
	name := "ganetictl-helper-linux-" + arch
	var dirs []string
	if d := os.Getenv("GANETICTL_HELPER_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, name)); err == nil {
			helperBins.Store(arch, b)
			return b, nil
		}
	}
	b, err := buildHelper(ctx, arch, name)
	if err != nil {
		return nil, fmt.Errorf("%s not found next to ganetictl or in $GANETICTL_HELPER_DIR (run `make build`), and building it failed: %w", name, err)
	}
	helperBins.Store(arch, b)
	return b, nil
}

const modulePath = "github.com/ganetictl/ganetictl"

func buildHelper(ctx context.Context, arch, name string) ([]byte, error) {
	mod, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m: %w", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(mod)), " ")
	if path != modulePath || dir == "" {
		return nil, errors.New("the working directory is not in ganetictl's module")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(cache, "ganetictl", name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/ganetictl-helper")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w: %s", err, b)
	}
	return os.ReadFile(out)
}
