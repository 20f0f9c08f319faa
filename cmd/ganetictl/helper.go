package main

import (
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
	"github.com/ganetictl/ganetictl/playbooks/plan"
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
					if arch, err := playbooks.NodeArch(fs[len(fs)-1]); err == nil {
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
			a.pr.Warning("cannot tell stale copy helpers from current ones: %v", err)
			return nil
		}
		sum := sha256.Sum256(bin)
		out = append(out, HelperDir+"/helper-"+hex.EncodeToString(sum[:])[:16])
	}
	return out
}

// helperFor is this ganetictl's helper for linux/arch: where it goes on
// a node (content-addressed) and its SHA-256 (playbooks.Env.Helper).
func helperFor(arch string) (playbooks.Helper, error) {
	bin, err := helperBinary(context.Background(), arch)
	if err != nil {
		return playbooks.Helper{}, err
	}
	sum := sha256.Sum256(bin)
	h := playbooks.Helper{SHA256: hex.EncodeToString(sum[:])}
	h.Path = HelperDir + "/helper-" + h.SHA256[:16]
	return h, nil
}

// helperContent gives the helper binaries to the plans' upload steps.
func helperContent(ctx context.Context, source string) ([]byte, error) {
	for _, arch := range []string{"amd64", "arm64"} {
		if source == plan.HelperSource(arch) {
			return helperBinary(ctx, arch)
		}
	}
	return nil, fmt.Errorf("unknown upload source %q", source)
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
