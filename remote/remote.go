// Package remote runs commands on cluster nodes and copies files to them.
// It knows nothing of Ganeti: it deals in argv, stdin, exit codes and paths.
//
// A Runner is small on purpose (os/exec's shape): Run takes argv, never a shell
// string, and argv is quoted exactly once, by Quote. Uploader is an optional
// upgrade; the Upload helper falls back to Run when a runner lacks it.
//
// Implementations: SSH (one connection per node, many sessions on it, handed
// out by a Pool that dials each node once), and Local (os/exec on this
// machine, for development and tests). Package remotetest has a scripted Fake,
// an in-process SSH server and the conformance suite all runners pass.
//
// Errors: a command that ran and failed is an *ExitError; a node that cannot
// be reached gives an error matching ErrUnreachable; a host key that cannot
// be verified is a *HostKeyError; a cancelled command returns an error
// wrapping ctx.Err(). Every message starts with the node's name.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Command is one program run on a node.
type Command struct {
	Argv  []string          // program and arguments; quoted once, by Quote
	Stdin io.Reader         // optional
	Env   map[string]string // sent as an `env K=V ...` argv prefix (sshd refuses most setenv requests)
	// Stdout and Stderr, when set, receive the output as it arrives (Result then
	// holds no copy of that stream).
	Stdout io.Writer
	Stderr io.Writer
	// Timeout bounds this command; 0 means the runner's default.
	Timeout time.Duration
	// Display, when set, is what logs and errors show instead of Argv: the
	// caller's masked form of a command that carries secrets.
	Display []string
	// TTY, when set, asks the node for a terminal of that size (SSH
	// runners; others ignore it).
	TTY *TTY
}

// TTY describes the terminal a command gets on the node.
type TTY struct {
	Term       string // TERM; default xterm
	Rows, Cols int
}

// display is the argv to show in logs and errors for the argv being run.
func (c Command) display(argv []string) []string {
	if c.Display != nil {
		return c.Display
	}
	return argv
}

// String renders the command for logs and plans. It is not meant as shell input,
// although it is quoted like it.
func (c Command) String() string { return Quote(c.withEnv()) }

// withEnv returns argv with an `env K=V ...` prefix when Env is set, sorted by key.
func (c Command) withEnv() []string {
	if len(c.Env) == 0 {
		return c.Argv
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sortStrings(keys)
	argv := []string{"env"}
	for _, k := range keys {
		argv = append(argv, k+"="+c.Env[k])
	}
	return append(argv, c.Argv...)
}

// Result is what a finished command produced.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
}

// Runner runs commands on one node. Implementations are safe for concurrent use.
type Runner interface {
	// Run runs c to completion. A non-zero exit returns the Result and an
	// *ExitError; a transport failure returns another error (see
	// ErrUnreachable). When ctx ends, or c.Timeout passes, the command is
	// stopped (SIGTERM, then harder) and the error wraps ctx.Err()
	// (context.Canceled or context.DeadlineExceeded), never *ExitError.
	Run(ctx context.Context, c Command) (Result, error)
	// String names the node, for errors and logs.
	String() string
}

// Uploader is the optional upgrade of a Runner that can write files directly
// (SFTP). Upload must be atomic: the destination either keeps its old content
// or has all of r, never a prefix.
type Uploader interface {
	Upload(ctx context.Context, dst string, mode fs.FileMode, r io.Reader) error
}

// ExitError is a command that ran and exited non-zero, or was killed by a
// signal. It is never a transport failure: the command did run on the node.
type ExitError struct {
	Node string
	Argv []string
	// Code is the exit status. For a command killed by a signal it is
	// 128+signal number when the signal is known (as a shell reports it), else -1.
	Code int
	// Signal names the signal that killed the command ("TERM", "KILL"), or is
	// empty for a normal exit.
	Signal string
	Stderr string // a tail of stderr, for the message
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: %s: exit %d", e.Node, shortArgv(e.Argv), e.Code)
	if e.Signal != "" {
		msg = fmt.Sprintf("%s: %s: killed by signal %s", e.Node, shortArgv(e.Argv), e.Signal)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// ErrUnreachable marks errors where the node could not be reached at all
// (connect refused, timeout, no route). Test with errors.Is.
var ErrUnreachable = errors.New("node unreachable")

// shortArgv names a command by its program and first arguments, for error text.
func shortArgv(argv []string) string {
	// An inline script is long and says little: name it by its $0.
	if len(argv) > 3 && argv[0] == "sh" && argv[1] == "-c" {
		return "sh -c <" + argv[3] + " script>"
	}
	const max = 3
	if len(argv) > max {
		return Quote(argv[:max]) + " ..."
	}
	return Quote(argv)
}

// displayArgv renders a whole command for logs: an inline script is named
// by its $0, and very long arguments (generated documents) are cut.
func displayArgv(argv []string) string {
	out := make([]string, 0, len(argv))
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if i == 2 && argv[0] == "sh" && argv[1] == "-c" && len(argv) > 3 {
			out = append(out, "<"+argv[3]+" script>")
			i++ // $0 is in the marker
			continue
		}
		if len(a) > 160 || strings.Contains(a, "\n") {
			first, _, _ := strings.Cut(a, "\n")
			a = first[:min(len(first), 60)] + fmt.Sprintf("...(%d bytes)", len(a))
		}
		out = append(out, a)
	}
	return Quote(out)
}

// Quote renders argv as one POSIX shell command line in which every argument is
// a single word. It is the only place that quotes for the remote shell.
func Quote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteArg(a))
	}
	return b.String()
}

func quoteArg(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
