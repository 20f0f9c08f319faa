package view

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Off a terminal, a copy's progress is a plain line every two seconds and
// one at the end.
func TestTransferLines(t *testing.T) {
	var b bytes.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(&b, func() time.Time { return now })
	tr := p.Transfer("node1", "send disk 0")
	tr.Update(TransferStatus{Bytes: 256 << 20, Total: 1 << 30, Rate: 100e6})
	now = now.Add(time.Second)
	tr.Update(TransferStatus{Bytes: 300 << 20, Total: 1 << 30, Rate: 100e6}) // throttled
	now = now.Add(2 * time.Second)
	tr.Update(TransferStatus{Bytes: 512 << 20, Total: 1 << 30, Rate: 100e6})
	tr.Update(TransferStatus{Bytes: 1 << 30, Total: 1 << 30, Rate: 100e6, Done: true})
	p.Done("node1", "send disk 0", 10*time.Second, nil)
	want := `  node1: send disk 0: 256.0 of 1024.0 MiB (25%), 100.0 MB/s, ETA 8s
  node1: send disk 0: 512.0 of 1024.0 MiB (50%), 100.0 MB/s, ETA 5s
  node1: send disk 0: 1024.0 of 1024.0 MiB (100%), 100.0 MB/s
node1: send disk 0 ... ok (10s)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// With --json, a copy's progress is "transfer" events in the run's stream.
func TestTransferEvents(t *testing.T) {
	var b bytes.Buffer
	e := NewEvents(&b, nil)
	tr := e.Transfer("node1", "send disk 0")
	tr.Update(TransferStatus{Bytes: 0, Total: 0}) // size not known yet: nothing
	tr.Update(TransferStatus{Bytes: 1 << 20, Total: 4 << 20, Rate: 1 << 20})
	tr.Update(TransferStatus{Bytes: 2 << 20, Total: 4 << 20, Rate: 1 << 20}) // throttled
	tr.Update(TransferStatus{Bytes: 4 << 20, Total: 4 << 20, Rate: 1 << 20, Done: true})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want version and two transfer events, got:\n%s", b.String())
	}
	var first, last Event
	if err := errors.Join(json.Unmarshal([]byte(lines[1]), &first), json.Unmarshal([]byte(lines[2]), &last)); err != nil {
		t.Fatal(err)
	}
	if first.Type != "transfer" || first.Node != "node1" || *first.Bytes != 1<<20 || *first.TotalBytes != 4<<20 || *first.ETA != 3 || first.Complete != nil {
		t.Errorf("first: %s", lines[1])
	}
	if last.Complete == nil || !*last.Complete || *last.Bytes != 4<<20 || last.ETA != nil {
		t.Errorf("last: %s", lines[2])
	}
}

func TestShorten(t *testing.T) {
	s := "node1: send disk 0 (320 MiB) /dev/xenvg/6b42dbc9-c6e2-4d60-88ac-c5ac18e57f0a.disk0 to node3"
	got := shorten(s, 40)
	if len([]rune(got)) != 40 || !strings.HasPrefix(got, "node1: send disk 0") || !strings.HasSuffix(got, "to node3") || !strings.Contains(got, "…") {
		t.Errorf("shorten: %q", got)
	}
	if shorten("short", 40) != "short" {
		t.Error("a short label changed")
	}
}
