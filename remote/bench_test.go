package remote_test

import (
	"bytes"
	"testing"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/remote/remotetest"
)

// These measure the client against the in-process server (same machine, no
// network): connection setup and per-command session overhead.

func BenchmarkDial(b *testing.B) {
	srv := remotetest.NewServer(b)
	cfg := srv.Config()
	for b.Loop() {
		s, err := remote.Dial(b.Context(), cfg, srv.Target("node1"))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func benchRunner(b *testing.B) *remote.SSH {
	srv := remotetest.NewServer(b)
	s, err := remote.Dial(b.Context(), srv.Config(), srv.Target("node1"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkRun(b *testing.B) {
	s := benchRunner(b)
	for b.Loop() {
		if _, err := s.Run(b.Context(), remote.Command{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunParallel(b *testing.B) {
	s := benchRunner(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Run(b.Context(), remote.Command{Argv: []string{"true"}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkLocalRun(b *testing.B) {
	l := remote.NewLocal("local")
	for b.Loop() {
		if _, err := l.Run(b.Context(), remote.Command{Argv: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpload16MiB(b *testing.B) {
	s := benchRunner(b)
	data := bytes.Repeat([]byte("x"), 16<<20)
	b.SetBytes(int64(len(data)))
	dst := b.TempDir() + "/f"
	for b.Loop() {
		if err := s.Upload(b.Context(), dst, 0o644, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
