package view

import (
	"bytes"
	"io"
	"os"
)

// Streams are the writers a command prints to. Out gets the command's
// intended output (tables, info, plans, JSON); Err gets progress, warnings
// and prompts. IsTerminal reports whether Out is an interactive terminal.
type Streams struct {
	Out        io.Writer
	Err        io.Writer
	IsTerminal bool
}

// StdStreams returns Streams on the process's stdout and stderr.
func StdStreams() Streams {
	return Streams{Out: os.Stdout, Err: os.Stderr, IsTerminal: isTerminal(os.Stdout)}
}

// NewTestStreams returns Streams writing into two buffers, for tests.
func NewTestStreams() (s Streams, out, errOut *bytes.Buffer) {
	out, errOut = new(bytes.Buffer), new(bytes.Buffer)
	return Streams{Out: out, Err: errOut}, out, errOut
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
