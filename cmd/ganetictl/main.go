// Command ganetictl manages a Ganeti-style virtualization cluster from one
// machine, over SSH, with no daemon on the nodes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/playbooks/job"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// Exit codes, decided here and nowhere else.
const (
	exitOK        = 0
	exitError     = 1
	exitChanges   = 2 // plan --detailed-exitcode: changes pending
	exitPartial   = 3 // some node steps failed; the state records what was done
	exitInvalid   = 10
	exitLocked    = 11
	exitStale     = 12
	exitUsage     = 80
	exitCancelled = 130
)

const exitCodesHelp = `Exit codes: 0 ok; 1 error (including refused prerequisites and unreachable nodes);
2 changes pending (plan --detailed-exitcode); 3 some node steps failed; 10 invalid input,
inventory or state; 11 state locked by another ganetictl; 12 stale plan; 80 usage error;
130 cancelled. watcher and harep: 0 nothing to do, 2 acted, 3 an action failed.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, burninArgs(linkArgs(os.Args[0], os.Args[1:])), view.StdStreams())
	stop()
	os.Exit(code)
}

// toolCommand maps the names of Ganeti's htools, as links to this
// binary, to the commands that do their work.
var toolCommand = map[string][]string{
	"hbal":   {"cluster", "balance"},
	"hspace": {"cluster", "capacity"},
	"hail":   {"cluster", "iallocator"},
}

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, s view.Streams) int {
	var cli CLI
	exited := -1
	parser, err := kong.New(&cli,
		kong.Name("ganetictl"),
		kong.Description("Ganeti cluster management over SSH, with no daemons.\n\n"+exitCodesHelp),
		kong.UsageOnError(),
		kong.Writers(s.Out, s.Err),
		kong.Exit(func(c int) { exited = c }),
		kong.Vars{"version": Version},
		kong.BindFor(ctx),
		kong.BindTo(s, (*view.Streams)(nil)),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintln(s.Err, "ganetictl:", err)
		return exitError
	}
	kctx, err := parser.Parse(deviceIndexValues(args))
	if exited >= 0 { // --help or --version printed and asked to exit
		return exited
	}
	if err != nil {
		fmt.Fprintln(s.Err, "ganetictl:", err)
		return exitUsage
	}
	cli.Globals.Verbose = cli.Globals.Verbose || cli.Globals.Debug
	cli.Globals.streams = s
	cli.Globals.version = Version
	if cli.Globals.Submit && !cli.Globals.DryRun && cli.Globals.PlanOut == "" {
		err = submit(ctx, &cli.Globals, s, args)
	} else {
		err = kctx.Run(&cli.Globals)
		endSubmitted(&cli.Globals, err)
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var quiet interface{ Silent() bool }
	if errors.As(err, &quiet) && quiet.Silent() {
		return code
	}
	if cli.Globals.JSON {
		_ = view.FailureJSON(s.Out, err, code)
	} else {
		_ = view.Failure(s.Err, err)
	}
	return code
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var (
		locked  *statefile.LockedError
		objLock *statefile.ObjectLockedError
		crashed *statefile.CrashedJobError
		stale   *plan.StaleError
		corrupt *statefile.CorruptError
		version *statefile.VersionError
		invalid *invalidError
		input   *job.InputError
		partial *job.PartialError
		busy    *job.BusyError
		refused *job.RefusedError
		coded   interface{ ExitCode() int }
	)
	switch {
	case errors.As(err, &coded):
		return coded.ExitCode()
	case errors.Is(err, context.Canceled):
		return exitCancelled
	case errors.As(err, &locked), errors.As(err, &objLock), errors.As(err, &crashed), errors.As(err, &busy):
		return exitLocked
	case errors.As(err, &stale), errors.As(err, &refused):
		return exitStale
	case errors.As(err, &corrupt), errors.As(err, &version), errors.As(err, &invalid), errors.As(err, &input):
		return exitInvalid
	case errors.As(err, &partial):
		return exitPartial
	}
	return exitError
}

// invalidError is bad input found before anything was touched.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

func invalid(format string, a ...any) error { return &invalidError{fmt.Errorf(format, a...)} }

// linkNouns are the nouns a link to the binary may stand for, by the
// link's name: gnt-instance is `ganetictl instance`, so scripts written
// for Ganeti run unchanged (`make install` creates the links). Ganeti's
// tools stand for a command of one or two words.
var linkNouns = map[string]string{
	"gnt-cluster": "cluster", "gnt-node": "node", "gnt-instance": "instance", "gnt-backup": "backup",
	"gnt-os": "os", "gnt-job": "job", "gnt-group": "group", "gnt-network": "network",
	"ganeti-watcher": "watcher", "harep": "harep", "burnin": "burnin", "sanitize-config": "state sanitize",
	"lvmstrap": "node storage-init",
}

// linkArgs are the arguments as ganetictl reads them when started as
// argv0.
func linkArgs(argv0 string, args []string) []string {
	if cmd, ok := toolCommand[filepath.Base(argv0)]; ok {
		return append(append([]string{}, cmd...), args...)
	}
	if noun, ok := linkNouns[filepath.Base(argv0)]; ok {
		return append(strings.Fields(noun), args...)
	}
	return args
}

// deviceIndexValues joins a long flag and a following value that starts
// with a negative device index ("--net -1:add,ip=pool" becomes
// "--net=-1:add,ip=pool"): Ganeti's optparse takes it as the flag's value,
// kong would read it as a short flag.
func deviceIndexValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "--") && !strings.Contains(a, "=") && i+1 < len(args) && negIndexRE.MatchString(args[i+1]) {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

var negIndexRE = regexp.MustCompile(`^-[0-9]+:`)
