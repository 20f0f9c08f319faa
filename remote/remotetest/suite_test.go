package remotetest_test

import (
	"testing"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
)

// runOnly hides a runner's Uploader, so remote.Upload takes its shell fallback.
type runOnly struct{ remote.Runner }

func TestLocal(t *testing.T) {
	remotetest.TestRunner(t, func(t *testing.T) remote.Runner { return remote.NewLocal("local") })
}

func dialServer(t *testing.T) *remote.SSH {
	srv := remotetest.NewServer(t)
	s, err := remote.Dial(t.Context(), srv.Config(), srv.Target("node1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSSH(t *testing.T) {
	remotetest.TestRunner(t, func(t *testing.T) remote.Runner { return dialServer(t) })
}

func TestSSHShellUpload(t *testing.T) {
	remotetest.TestRunner(t, func(t *testing.T) remote.Runner { return runOnly{dialServer(t)} })
}

// TestFakeDelegate runs the suite through a Fake that passes every command
// to Local: recording must not change what a command sees.
func TestFakeDelegate(t *testing.T) {
	remotetest.TestRunner(t, func(t *testing.T) remote.Runner {
		f := remotetest.NewFake("local")
		f.Unmatched = remotetest.Delegate(remote.NewLocal("local"))
		t.Cleanup(func() {
			if len(f.Calls()) == 0 {
				t.Errorf("Fake recorded no calls")
			}
		})
		return runOnly{f}
	})
}
