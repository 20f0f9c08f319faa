package transfer

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCopy copies 256 MiB of random data over loopback TLS with
// pinned certificates, as the helper does between nodes. Run with
// -cpuprofile to see where a copy spends its time.
func BenchmarkCopy(b *testing.B) {
	for _, compress := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "zstd"}[compress], func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "src")
			buf := make([]byte, 256<<20)
			rand.Read(buf)
			if err := os.WriteFile(src, buf, 0o600); err != nil {
				b.Fatal(err)
			}
			p := newPair(b)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				dst := filepath.Join(dir, "dst")
				_, serr, _, rerr := copyOver(b, p, SendOptions{Src: src, Compress: compress}, RecvOptions{Dst: dst})
				if serr != nil || rerr != nil {
					b.Fatal(serr, rerr)
				}
				os.Remove(dst)
			}
		})
	}
}
