package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// request and response are the supervisor's control protocol: one JSON
// line each way per connection on DIR/ctl.sock.
type request struct {
	Op   string `json:"op"` // status, poweroff, boot, cycle, teardown
	Node string `json:"node,omitempty"`
}

type response struct {
	OK      bool           `json:"ok"`
	Error   string         `json:"error,omitempty"`
	Running map[string]int `json:"running,omitempty"` // node name -> host PID of its init (sshd)
}

// call sends one request to the supervisor listening on sock.
func call(ctx context.Context, sock string, req request) (response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return response{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return response{}, err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return response{}, fmt.Errorf("supervisor: %s: %w", req.Op, err)
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil {
		return response{}, err
	}
	if !resp.OK {
		return resp, fmt.Errorf("%s", resp.Error)
	}
	return resp, nil
}
