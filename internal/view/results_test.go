package view

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// checkResult renders r for people and as JSON (as Printer.Result does)
// and compares them with testdata/results/<name>.txt and <name>.json;
// go test -update rewrites them.
func checkResult(t *testing.T, name string, r Result) {
	t.Helper()
	text, js := renderResult(t, r)
	checkGolden(t, "results/"+name+".txt", []byte(text))
	checkGolden(t, "results/"+name+".json", []byte(js))
}

// assertResult compares r's short renderings with the expected ones.
func assertResult(t *testing.T, r Result, wantText, wantJSON string) {
	t.Helper()
	text, js := renderResult(t, r)
	assertText(t, "text", wantText, text)
	assertText(t, "json", wantJSON, js)
}

func renderResult(t *testing.T, r Result) (text, js string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := (Printer{Streams: Streams{Out: &out, Err: &errOut}}).Result(r); err != nil {
		t.Fatal(err)
	}
	text = out.String()
	out.Reset()
	if err := (Printer{Streams: Streams{Out: &out, Err: &errOut}, JSON: true}).Result(r); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Errorf("a result wrote to Err: %q", errOut.String())
	}
	return text, out.String()
}

// inUTC makes local time UTC for the test: texts show local times.
func inUTC(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = old })
}

func TestPrinterStreams(t *testing.T) {
	s, out, errOut := NewTestStreams()
	r := line{Name: "node1"}
	check := func(what, wantOut, wantErr string) {
		t.Helper()
		assertText(t, what+" Out", wantOut, out.String())
		assertText(t, what+" Err", wantErr, errOut.String())
		out.Reset()
		errOut.Reset()
	}
	human, js := Printer{Streams: s}, Printer{Streams: s, JSON: true}
	_ = human.Preview(r)
	check("Preview", "node1\n", "")
	_ = js.Preview(r)
	check("Preview --json", "", "")
	_ = human.Outcome(r)
	check("Outcome", "", "node1\n")
	_ = js.Outcome(r)
	check("Outcome --json", "{\n  \"name\": \"node1\"\n}\n", "")
	_ = human.Status(r)
	check("Status", "", "node1\n")
	_ = js.Status(r)
	check("Status --json", "", "node1\n")
}

// line is a Result of one line, for the Printer's tests.
type line struct {
	Name string `json:"name"`
}

func (l line) Text(w io.Writer) error {
	_, err := io.WriteString(w, l.Name+"\n")
	return err
}
