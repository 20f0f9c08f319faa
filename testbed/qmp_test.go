//go:build bed

package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"testing"
)

// qmpClient speaks QMP to a qemu on a node through socat, entered with
// Bed.Command (no ssh needed).
type qmpClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func dialQMP(ctx context.Context, t *testing.T, b *Bed, node, sock string) *qmpClient {
	t.Helper()
	cmd, err := b.Command(ctx, node, "socat", "-", "UNIX-CONNECT:"+sock)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: socat %s: %v", node, sock, err)
	}
	c := &qmpClient{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(c.close)
	if _, err := c.read(); err != nil { // greeting
		t.Fatalf("%s: qmp greeting: %v", node, err)
	}
	c.do(t, "qmp_capabilities", nil)
	return c
}

// read returns the next non-event message.
func (c *qmpClient) read() (map[string]json.RawMessage, error) {
	for {
		line, err := c.out.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("qmp: %q: %w", line, err)
		}
		if _, ev := m["event"]; !ev {
			return m, nil
		}
	}
}

// do runs one command and decodes its "return" into a map.
func (c *qmpClient) do(t *testing.T, command string, args any) map[string]any {
	t.Helper()
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		t.Fatalf("qmp %s: %v", command, err)
	}
	m, err := c.read()
	if err != nil {
		t.Fatalf("qmp %s: %v", command, err)
	}
	ret, ok := m["return"]
	if !ok {
		t.Fatalf("qmp %s: %s", command, m["error"])
	}
	out := map[string]any{}
	json.Unmarshal(ret, &out) // some commands return {} or []
	return out
}

func (c *qmpClient) close() {
	c.in.Close()
	c.cmd.Process.Kill()
	c.cmd.Wait()
}
