package remotetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
)

func TestFake(t *testing.T) {
	f := remotetest.NewFake("node1")
	f.On("  xenvg|lv0|1024.00m\n", "lvs", "--noheadings")
	f.Handle(remotetest.Prefix("lvcreate"), remotetest.Fail(5, "Volume group \"xenvg\" not found"))
	f.Handle(remotetest.Exact("lvcreate", "-n", "ok"), remotetest.Reply("created\n")) // newer rule wins
	down := fmt.Errorf("node1: connect: %w", remote.ErrUnreachable)
	f.Handle(remotetest.Exact("drbdsetup", "status"), remotetest.Error(down))

	tests := []struct {
		argv     []string
		stdout   string
		exitCode int
		wantErr  error
	}{
		{argv: []string{"lvs", "--noheadings"}, stdout: "  xenvg|lv0|1024.00m\n"},
		{argv: []string{"lvcreate", "-n", "ok"}, stdout: "created\n"},
		{argv: []string{"lvcreate", "-n", "bad"}, exitCode: 5},
		{argv: []string{"drbdsetup", "status"}, wantErr: remote.ErrUnreachable},
	}
	for _, tt := range tests {
		res, err := f.Run(t.Context(), remote.Command{Argv: tt.argv})
		if string(res.Stdout) != tt.stdout || res.ExitCode != tt.exitCode {
			t.Errorf("Run(%q) = %q exit %d, want %q exit %d", tt.argv, res.Stdout, res.ExitCode, tt.stdout, tt.exitCode)
		}
		var e *remote.ExitError
		switch {
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("Run(%q) err = %v, want %v", tt.argv, err, tt.wantErr)
		case tt.exitCode != 0 && (!errors.As(err, &e) || e.Code != tt.exitCode || e.Node != "node1" || !strings.Contains(e.Stderr, "xenvg")):
			t.Errorf("Run(%q) err = %v, want ExitError %d from node1", tt.argv, err, tt.exitCode)
		case tt.wantErr == nil && tt.exitCode == 0 && err != nil:
			t.Errorf("Run(%q) err = %v", tt.argv, err)
		}
	}
	if _, err := f.Run(t.Context(), remote.Command{Argv: []string{"rm", "-rf", "/"}}); err == nil || !strings.Contains(err.Error(), "no rule") {
		t.Errorf("unmatched command: err = %v, want no rule", err)
	}
	f.Unmatched = remotetest.Reply("")
	if _, err := f.Run(t.Context(), remote.Command{Argv: []string{"sync"}}); err != nil {
		t.Errorf("unmatched with a default reply: %v", err)
	}
}

func TestFakeRecords(t *testing.T) {
	f := remotetest.NewFake("node1")
	f.Unmatched = remotetest.Reply("out")
	var out bytes.Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			f.Run(t.Context(), remote.Command{Argv: []string{"cat", fmt.Sprint(i)}, Stdin: strings.NewReader("in"), Env: map[string]string{"K": "v"}})
		})
	}
	wg.Wait()
	res, _ := f.Run(t.Context(), remote.Command{Argv: []string{"x"}, Stdout: &out})
	if out.String() != "out" || res.Stdout != nil {
		t.Errorf("streamed stdout %q, Result.Stdout %q", out.String(), res.Stdout)
	}
	calls := f.Calls()
	if len(calls) != 11 {
		t.Fatalf("%d calls recorded, want 11", len(calls))
	}
	if c := calls[0]; string(c.Stdin) != "in" || c.Env["K"] != "v" || c.Argv[0] != "cat" {
		t.Errorf("call = %+v", c)
	}
	if err := remote.Upload(t.Context(), f, "/usr/lib/ganetictl/helper", 0o755, strings.NewReader("ELF")); err != nil {
		t.Fatal(err)
	}
	if b, ok := f.File("/usr/lib/ganetictl/helper"); !ok || string(b) != "ELF" {
		t.Errorf("File = %q, %v", b, ok)
	}
	if u := f.Uploads(); len(u) != 1 || u[0].Mode != 0o755 {
		t.Errorf("Uploads = %+v", u)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.Run(ctx, remote.Command{Argv: []string{"x"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Run: err = %v", err)
	}
}
