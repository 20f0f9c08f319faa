package testbed

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ganetictl/ganetictl/testbed/lvdev"
)

// tbtoolPkg is the multi-call binary every node runs its wrapped tools
// through (and the supervisor).
const tbtoolPkg = "github.com/ganetictl/ganetictl/testbed/cmd/tbtool"

// WrappedTools are the node tools that /usr/local/sbin on every node points
// at tbtool: each can be made to fail with FailNext.
func WrappedTools() []string {
	return append(append([]string(nil), lvdev.Tools...),
		"qemu-system-x86_64", "qemu-img", "drbdsetup", "drbdmeta", "rbd", "xl", "testbed-oob", "reboot")
}

// installTool puts tbtool into dir/bin and links every wrapped tool to it.
// $TESTBED_TBTOOL names a prebuilt binary; otherwise it is built with the
// go command from the module around the working directory, and go's build
// cache makes an unchanged rebuild cheap.
func installTool(ctx context.Context, l layout) error {
	if err := os.MkdirAll(l.bin(), 0o755); err != nil {
		return err
	}
	dst := l.tbtool()
	if src := os.Getenv("TESTBED_TBTOOL"); src != "" {
		if err := copyFile(src, dst+".new", 0o755); err != nil {
			return err
		}
		if err := os.Rename(dst+".new", dst); err != nil {
			return err
		}
	} else {
		// Build beside and rename over: a running bed's nodes may be executing
		// the old binary (writing it in place would fail with ETXTBSY).
		cmd := exec.CommandContext(ctx, "go", "build", "-o", dst+".new", tbtoolPkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if tags := os.Getenv("TESTBED_TBTOOL_TAGS"); tags != "" {
			cmd.Args = append(cmd.Args[:2], "-tags", tags, "-o", dst+".new", tbtoolPkg)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("testbed: go build tbtool (run inside the ganetictl module, or set TESTBED_TBTOOL): %w: %s",
				err, strings.TrimSpace(string(out)))
		}
		if err := os.Rename(dst+".new", dst); err != nil {
			return err
		}
	}
	for _, t := range WrappedTools() {
		p := filepath.Join(l.bin(), t)
		if target, err := os.Readlink(p); err == nil && target == "tbtool" {
			continue
		}
		os.Remove(p)
		if err := os.Symlink("tbtool", p); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
