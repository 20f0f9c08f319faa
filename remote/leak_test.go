package remote_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
)

// TestCloseStopsGoroutines checks that a pool's goroutines (keepalive,
// connection watcher, cancellation callbacks, sftp) end with Close, and
// that every command is logged with node, argv, status and duration.
func TestCloseStopsGoroutines(t *testing.T) {
	srv := remotetest.NewServer(t)
	before := runtime.NumGoroutine()

	cfg := srv.Config()
	cfg.KeepAlive = 10 * time.Millisecond
	var mu sync.Mutex
	var logs []string
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}
	p, err := remote.NewPool(cfg, []remote.Target{srv.Target("node1")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Get(t.Context(), "node1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	r.Run(ctx, remote.Command{Argv: []string{"sleep", "30"}})
	cancel()
	r.Run(t.Context(), remote.Command{Argv: []string{"sh", "-c", "exit 3"}})
	if err := remote.Upload(t.Context(), r, srv.Dir()+"/f", 0o644, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	p.Close()
	srv.Close()

	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(logs, "\n")
	for _, want := range []string{"node1: connected to 127.0.0.1:", "node1: sleep 30: context deadline exceeded (", "node1: sh -c 'exit 3': exit 3 ("} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
}
