// Package standin provides user-space stand-ins for node tools whose kernel
// or hypervisor support this machine lacks: drbdsetup/drbdmeta (DRBD 8.4),
// rbd (Ceph) and xl (Xen). They exist only for the test bed, run inside the
// bed's node namespaces, and are never installed outside it.
//
// All state lives in files under three roots (see Root), so a "node" is just
// a set of directories: the bed gives every node a private RunDir (wiped on
// power-off, like kernel state) and DevDir, and one SharedDir for all nodes.
package standin

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Default locations inside a bed node.
const (
	DefaultRunDir    = "/run/testbed"
	DefaultSharedDir = "/srv/testbed-shared"
	DefaultDevDir    = "/dev"
)

// Environment variables overriding the defaults (used by the bed and tests).
const (
	EnvRunDir    = "TESTBED_RUN_DIR"
	EnvSharedDir = "TESTBED_SHARED_DIR"
	EnvDevDir    = "TESTBED_DEV_DIR"
	EnvHostname  = "TESTBED_HOSTNAME"
)

// Root is where one node's stand-in state lives.
type Root struct {
	RunDir    string // node-private, volatile: DRBD minors, xl domains, rbd mappings
	SharedDir string // shared by all nodes: DRBD endpoints, rbd images
	DevDir    string // the node's private /dev
	Hostname  string // this node's name; "" means os.Hostname

	// spawnKernel starts the node's DRBD daemon; nil re-executes this binary
	// detached. Tests run the daemon as a goroutine instead.
	spawnKernel func(r *Root) error
	// migrateDial runs "xl migrate-receive" behind sshCmd on host and returns
	// its stdin, stdout and a wait function; nil runs it through sh -c.
	migrateDial func(sshCmd, host string) (io.WriteCloser, io.Reader, func() error, error)
	// now is the clock; nil means time.Now.
	now func() time.Time
	// peerTimeout is how old a peer's heartbeat may be before the peer
	// counts as gone; 0 means defaultPeerTimeout.
	peerTimeout time.Duration
}

// RootFromEnv returns the node root configured by the environment, falling
// back to the bed's default paths.
func RootFromEnv() *Root {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return &Root{
		RunDir:    get(EnvRunDir, DefaultRunDir),
		SharedDir: get(EnvSharedDir, DefaultSharedDir),
		DevDir:    get(EnvDevDir, DefaultDevDir),
		Hostname:  os.Getenv(EnvHostname),
	}
}

func (r *Root) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

func (r *Root) hostname() string {
	if r.Hostname != "" {
		return r.Hostname
	}
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

// DRBDStatusFile is the /proc/drbd stand-in of the node (the inventory's
// drbd_status_file).
func (r *Root) DRBDStatusFile() string { return filepath.Join(r.RunDir, "drbd", "proc_drbd") }

// InitNode creates the node's runtime directories and an idle DRBD status
// file, as if the drbd module had just been loaded. The bed calls it at node
// boot so that reading the status file works before any DRBD command ran.
func InitNode(r *Root) error {
	for _, d := range []string{filepath.Join(r.RunDir, "drbd"), filepath.Join(r.RunDir, "xl"), filepath.Join(r.RunDir, "rbd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("init node: %w", err)
		}
	}
	if _, err := os.Stat(r.DRBDStatusFile()); err == nil {
		return nil
	}
	return writeFileAtomic(r.DRBDStatusFile(), []byte(renderProcDRBD(nil)), 0o444)
}

// Main runs the stand-in for tool with args (without argv[0]) and returns the
// process exit code. tbtool dispatches to it by tool name.
func Main(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if selfInvocation == nil && len(os.Args) > len(args) && slices.Equal(os.Args[len(os.Args)-len(args):], args) {
		SetInvocation(os.Args[:len(os.Args)-len(args)])
	}
	return RootFromEnv().Run(tool, args, stdin, stdout, stderr)
}

// Run is Main for an explicit node root.
func (r *Root) Run(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch tool {
	case "drbdsetup":
		return r.drbdsetup(args, stdin, stdout, stderr)
	case "drbdmeta":
		return r.drbdmeta(args, stdout, stderr)
	case "rbd":
		return r.rbd(args, stdin, stdout, stderr)
	case "xl":
		return r.xl(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "standin: unknown tool %q\n", tool)
	return 127
}
