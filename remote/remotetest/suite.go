package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/remote"
)

// TestRunner is the conformance suite of remote.Runner: every implementation
// that executes commands for real must pass it. newRunner is called once per
// subtest; the runner's node must have a POSIX sh, printf, cat, sleep, mktemp,
// stat (GNU), ls and rm, and a writable temporary directory. Upload is tested
// through remote.Upload, so runners without Uploader test its shell fallback.
func TestRunner(t *testing.T, newRunner func(t *testing.T) remote.Runner) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r remote.Runner)
	}{
		{"Stdout", testStdout},
		{"Stderr", testStderr},
		{"ExitCode", testExitCode},
		{"NotFound", testNotFound},
		{"Signal", testSignal},
		{"Stdin", testStdin},
		{"LargeStdin", testLargeStdin},
		{"Argv", testArgv},
		{"Env", testEnv},
		{"Streams", testStreams},
		{"Cancel", testCancel},
		{"Timeout", testTimeout},
		{"Concurrent", testConcurrent},
		{"Upload", testUpload},
		{"UploadAtomic", testUploadAtomic},
		{"ReadFile", testReadFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newRunner(t))
		})
	}
}

func run(t *testing.T, r remote.Runner, argv ...string) remote.Result {
	t.Helper()
	res, err := r.Run(t.Context(), remote.Command{Argv: argv})
	if err != nil {
		t.Fatalf("Run(%q): %v", argv, err)
	}
	return res
}

func testStdout(t *testing.T, r remote.Runner) {
	res := run(t, r, "printf", "%s\\n", "hello")
	if got := string(res.Stdout); got != "hello\n" {
		t.Errorf("stdout = %q, want %q", got, "hello\n")
	}
	if res.ExitCode != 0 || len(res.Stderr) != 0 {
		t.Errorf("exit %d, stderr %q; want 0 and none", res.ExitCode, res.Stderr)
	}
}

func testStderr(t *testing.T, r remote.Runner) {
	res := run(t, r, "sh", "-c", "echo out; echo err >&2")
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Errorf("stdout %q stderr %q, want %q and %q", res.Stdout, res.Stderr, "out\n", "err\n")
	}
}

func testExitCode(t *testing.T, r remote.Runner) {
	for _, code := range []int{1, 3, 42, 255} {
		argv := []string{"sh", "-c", fmt.Sprintf("echo oops >&2; exit %d", code)}
		res, err := r.Run(t.Context(), remote.Command{Argv: argv})
		var e *remote.ExitError
		if !errors.As(err, &e) {
			t.Fatalf("Run(%q) error = %v, want *ExitError", argv, err)
		}
		if e.Code != code || res.ExitCode != code {
			t.Errorf("exit %d: ExitError.Code = %d, Result.ExitCode = %d", code, e.Code, res.ExitCode)
		}
		if e.Node != r.String() || strings.TrimSpace(e.Stderr) != "oops" {
			t.Errorf("ExitError = %+v, want Node %q and Stderr oops", e, r.String())
		}
		if !strings.HasPrefix(e.Error(), r.String()+": sh -c ") {
			t.Errorf("ExitError.Error() = %q, want node and command first", e.Error())
		}
		if errors.Is(err, remote.ErrUnreachable) {
			t.Errorf("exit %d is ErrUnreachable", code)
		}
	}
}

func testNotFound(t *testing.T, r remote.Runner) {
	_, err := r.Run(t.Context(), remote.Command{Argv: []string{"ganetictl-no-such-program", "x"}})
	var e *remote.ExitError
	if !errors.As(err, &e) || e.Code != 127 {
		t.Errorf("missing program: err = %v, want *ExitError with code 127", err)
	}
}

func testSignal(t *testing.T, r remote.Runner) {
	_, err := r.Run(t.Context(), remote.Command{Argv: []string{"sh", "-c", "kill -KILL $$"}})
	var e *remote.ExitError
	if !errors.As(err, &e) {
		t.Fatalf("killed command: err = %v, want *ExitError", err)
	}
	// A shell between the runner and the command (sshd's) reports the
	// signal as exit 128+9 without naming it.
	if e.Code != 128+9 || (e.Signal != "KILL" && e.Signal != "") {
		t.Errorf("killed command: Signal %q Code %d, want KILL (or none) and 137", e.Signal, e.Code)
	}
}

func testStdin(t *testing.T, r remote.Runner) {
	in := "line one\nline 'two' $(id)\n"
	res, err := r.Run(t.Context(), remote.Command{Argv: []string{"cat"}, Stdin: strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != in {
		t.Errorf("cat echoed %q, want %q", res.Stdout, in)
	}
	// A command that ignores its stdin still succeeds.
	if _, err := r.Run(t.Context(), remote.Command{Argv: []string{"true"}, Stdin: bytes.NewReader(make([]byte, 1<<20))}); err != nil {
		t.Errorf("true with unread stdin: %v", err)
	}
}

func testLargeStdin(t *testing.T, r remote.Runner) {
	in := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	res, err := r.Run(t.Context(), remote.Command{Argv: []string{"wc", "-c"}, Stdin: bytes.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != fmt.Sprint(len(in)) {
		t.Errorf("wc -c = %s, want %d", got, len(in))
	}
}

// hostileArgs must each arrive as one argument, byte for byte.
var hostileArgs = []string{
	"plain", "", "two words", "  lead and trail  ", "a;rm -rf /", "$(id)", "`id`", "${HOME}", "$HOME",
	"*", "/*", "?", "[a-z]", "~", "~root", "it's", `"double"`, `back\slash`, "new\nline", "tab\there",
	"-n", "--", "a|b", "a&b", "a>b", "<b", "!event", "#comment", "{a,b}", "x=y", "ünïcødé", "'",
	"''", `\`, "\r", "%s%d",
}

func testArgv(t *testing.T, r remote.Runner) {
	argv := append([]string{"printf", "%s\\000"}, hostileArgs...)
	res := run(t, r, argv...)
	got := strings.Split(string(res.Stdout), "\x00")
	if len(got) == 0 || got[len(got)-1] != "" {
		t.Fatalf("output %q does not end with NUL", res.Stdout)
	}
	got = got[:len(got)-1]
	if len(got) != len(hostileArgs) {
		t.Fatalf("got %d arguments %q, want %d %q", len(got), got, len(hostileArgs), hostileArgs)
	}
	for i := range got {
		if got[i] != hostileArgs[i] {
			t.Errorf("argument %d arrived as %q, want %q", i, got[i], hostileArgs[i])
		}
	}
}

func testEnv(t *testing.T, r remote.Runner) {
	env := map[string]string{"GANETICTL_A": "a b;$(id) 'q'", "GANETICTL_B": ""}
	res, err := r.Run(t.Context(), remote.Command{
		Argv: []string{"sh", "-c", `printf '%s|%s' "$GANETICTL_A" "${GANETICTL_B-unset}"`},
		Env:  env,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := env["GANETICTL_A"] + "|"; string(res.Stdout) != want {
		t.Errorf("env arrived as %q, want %q", res.Stdout, want)
	}
}

func testStreams(t *testing.T, r remote.Runner) {
	var out, errb bytes.Buffer
	res, err := r.Run(t.Context(), remote.Command{
		Argv:   []string{"sh", "-c", "echo out; echo err >&2; exit 2"},
		Stdout: &out, Stderr: &errb,
	})
	var e *remote.ExitError
	if !errors.As(err, &e) || e.Code != 2 {
		t.Fatalf("err = %v, want exit 2", err)
	}
	if out.String() != "out\n" || errb.String() != "err\n" {
		t.Errorf("streamed stdout %q stderr %q", out.String(), errb.String())
	}
	if len(res.Stdout) != 0 || len(res.Stderr) != 0 {
		t.Errorf("Result kept a copy of streamed output: %q %q", res.Stdout, res.Stderr)
	}
	if strings.TrimSpace(e.Stderr) != "err" {
		t.Errorf("ExitError.Stderr = %q, want the streamed stderr's tail", e.Stderr)
	}
}

// promptly bounds how long cancellation may take (WaitDelay is 2s).
const promptly = 5 * time.Second

func testCancel(t *testing.T, r remote.Runner) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Run(ctx, remote.Command{Argv: []string{"sleep", "30"}})
	if d := time.Since(start); d > promptly {
		t.Errorf("cancelled sleep 30 returned after %s", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	var e *remote.ExitError
	if errors.As(err, &e) {
		t.Errorf("cancelled: err is an ExitError: %v", err)
	}
	// The runner still works afterwards.
	run(t, r, "true")
}

func testTimeout(t *testing.T, r remote.Runner) {
	start := time.Now()
	_, err := r.Run(t.Context(), remote.Command{Argv: []string{"sleep", "30"}, Timeout: 200 * time.Millisecond})
	if d := time.Since(start); d > promptly {
		t.Errorf("timed-out sleep 30 returned after %s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: err = %v, want context.DeadlineExceeded", err)
	}
}

func testConcurrent(t *testing.T, r remote.Runner) {
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			res, err := r.Run(t.Context(), remote.Command{Argv: []string{"sh", "-c", `sleep 0.05; printf %s "$1"`, "sh", fmt.Sprint(i)}})
			if err == nil && string(res.Stdout) != fmt.Sprint(i) {
				err = fmt.Errorf("run %d got %q", i, res.Stdout)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

// tempDir makes a directory on the runner's node, removed at cleanup.
func tempDir(t *testing.T, r remote.Runner) string {
	t.Helper()
	dir := strings.TrimSpace(string(run(t, r, "mktemp", "-d").Stdout))
	t.Cleanup(func() {
		r.Run(context.WithoutCancel(t.Context()), remote.Command{Argv: []string{"rm", "-rf", "--", dir}})
	})
	return dir
}

func testUpload(t *testing.T, r remote.Runner) {
	dir := tempDir(t, r)
	dst := dir + "/file with 'quote' $(id)"
	for i, want := range []string{"first version\n", "second, longer version\n", ""} {
		if err := remote.Upload(t.Context(), r, dst, 0o640, strings.NewReader(want)); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		got, err := remote.ReadFile(t.Context(), r, dst)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("upload %d: read back %q, want %q", i, got, want)
		}
	}
	if mode := strings.TrimSpace(string(run(t, r, "stat", "-c", "%a", dst).Stdout)); mode != "640" {
		t.Errorf("mode = %s, want 640", mode)
	}
	if ls := strings.TrimSpace(string(run(t, r, "ls", "-A", dir).Stdout)); ls != "file with 'quote' $(id)" {
		t.Errorf("directory holds %q, want only the file", ls)
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func testUploadAtomic(t *testing.T, r remote.Runner) {
	dir := tempDir(t, r)
	dst := dir + "/helper"
	if err := remote.Upload(t.Context(), r, dst, 0o755, strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("source broke")
	src := &failingReader{data: bytes.Repeat([]byte("x"), 100<<10), err: boom}
	err := remote.Upload(t.Context(), r, dst, 0o755, src)
	if !errors.Is(err, boom) {
		t.Errorf("failed upload: err = %v, want it to wrap %v", err, boom)
	}
	if got, err := remote.ReadFile(t.Context(), r, dst); err != nil || string(got) != "old" {
		t.Errorf("after a failed upload dst = %q, %v; want the old content", got, err)
	}
	if ls := strings.TrimSpace(string(run(t, r, "ls", "-A", dir).Stdout)); ls != "helper" {
		t.Errorf("after a failed upload the directory holds %q, want only helper", ls)
	}
	// A cancelled upload leaves nothing either.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := remote.Upload(ctx, r, dir+"/new", 0o644, strings.NewReader("data")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled upload: err = %v, want context.Canceled", err)
	}
	if ls := strings.TrimSpace(string(run(t, r, "ls", "-A", dir).Stdout)); ls != "helper" {
		t.Errorf("after a cancelled upload the directory holds %q", ls)
	}
	// Into a missing directory: an error, not a panic or a hang.
	if err := remote.Upload(t.Context(), r, dir+"/missing/dir/f", 0o644, strings.NewReader("x")); err == nil {
		t.Errorf("upload into a missing directory succeeded")
	}
}

func testReadFile(t *testing.T, r remote.Runner) {
	dir := tempDir(t, r)
	want := "a\x00b\nc" // binary-safe
	if err := remote.Upload(t.Context(), r, dir+"/f", 0o600, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	got, err := remote.ReadFile(t.Context(), r, dir+"/f")
	if err != nil || string(got) != want {
		t.Errorf("ReadFile = %q, %v; want %q", got, err, want)
	}
	_, err = remote.ReadFile(t.Context(), r, dir+"/absent")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(absent): err = %v, want fs.ErrNotExist", err)
	}
}

var _ io.Reader = (*failingReader)(nil)
