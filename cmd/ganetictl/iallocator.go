package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/alloc"
	"github.com/ganetictl/ganetictl/statefile"
)

// External iallocators (Ganeti's protocol, doc/iallocator.rst): -I NAME
// runs the program NAME, found in the iallocator search path, on this
// machine with a request file as its argument; it answers on stdout with
// {"success", "info", "result"}. "hail", "default" and "." (and no -I)
// are ganetictl's own allocator.

// iallocatorPathEnv overrides the search path (directories, ':'-separated).
const iallocatorPathEnv = "GANETICTL_IALLOCATOR_PATH"

// iallocatorPath is where -I NAME is looked for: Ganeti's directories,
// and where Debian's ganeti-htools-3.0 puts hail.
var iallocatorPath = []string{"/usr/lib/ganeti/iallocators", "/usr/local/lib/ganeti/iallocators", "/usr/lib/ganeti/3.0/usr/lib/ganeti/iallocators"}

// iallocatorTimeout bounds an external iallocator's run.
const iallocatorTimeout = 5 * time.Minute

// builtinIAllocator says whether -I name means ganetictl's allocator.
func builtinIAllocator(name string) bool {
	switch name {
	case "", "hail", "default", ".":
		return true
	}
	return false
}

// findIAllocator is the program -I name runs: an absolute path as is,
// else the first executable name in the search path.
func findIAllocator(name string) (string, error) {
	if strings.Contains(name, "/") && !filepath.IsAbs(name) {
		return "", invalid("iallocator %q: give a name from the search path or an absolute path", name)
	}
	if filepath.IsAbs(name) {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() {
			return "", invalid("iallocator %s not found", name)
		}
		return name, nil
	}
	dirs := iallocatorPath
	if v := os.Getenv(iallocatorPathEnv); v != "" {
		dirs = filepath.SplitList(v)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &playbooks.PrereqError{Type: playbooks.ErrEnvironment,
		Msg: fmt.Sprintf("Can't find iallocator '%s' in %s (set %s to look elsewhere)", name, strings.Join(dirs, ":"), iallocatorPathEnv)}
}

// iallocError is an external iallocator's refusal or failure.
type iallocError struct {
	name, msg string
}

func (e *iallocError) Error() string     { return fmt.Sprintf("iallocator %s: %s", e.name, e.msg) }
func (e *iallocError) ErrorType() string { return "insufficient_resources" }

// runIAllocator runs an external iallocator on a request and reads its
// answer; an answer with success false is an error with its info.
func runIAllocator(ctx context.Context, name string, request []byte) (*alloc.Response, error) {
	path, err := findIAllocator(name)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "ganeti-iallocator.")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(request); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, iallocatorTimeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, path, f.Name())
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String() + " " + out.String())
		return nil, &iallocError{name, fmt.Sprintf("%v: %s", err, msg)}
	}
	resp, err := alloc.ParseResponse(out.Bytes())
	if err != nil {
		return nil, &iallocError{name, err.Error()}
	}
	if !resp.Success {
		return nil, &iallocError{name, resp.Info}
	}
	return resp, nil
}

// allocModel is the allocator's model of the state, from every online
// vm-capable node's facts.
func (a *app) allocModel(ctx context.Context, st *statefile.State) (*alloc.Cluster, error) {
	need := playbooks.AllocNeeds(st, "")
	facts := a.gather(ctx, st, need.Nodes, need.Parts...)
	c, warnings, err := playbooks.AllocCluster(st, facts)
	for _, w := range warnings {
		a.pr.Warning("%s", w)
	}
	return c, err
}

// askIAllocator builds the request for the cluster and runs name on it.
func (a *app) askIAllocator(ctx context.Context, name string, c *alloc.Cluster, req map[string]any) (*alloc.Response, error) {
	b, err := c.BuildRequest(req)
	if err != nil {
		return nil, err
	}
	return runIAllocator(ctx, name, b)
}

// externalNodes asks iallocator name for nodes (allocate or relocate).
func (a *app) externalNodes(ctx context.Context, name string, c *alloc.Cluster, req map[string]any, want int) ([]string, error) {
	resp, err := a.askIAllocator(ctx, name, c, req)
	if err != nil {
		return nil, err
	}
	nodes, err := resp.Nodes()
	if err != nil {
		return nil, &iallocError{name, err.Error()}
	}
	if len(nodes) != want {
		return nil, &iallocError{name, fmt.Sprintf("answered %d nodes (%s), %d wanted", len(nodes), strings.Join(nodes, ", "), want)}
	}
	for _, n := range nodes {
		if c.NodeIndex(n) < 0 {
			return nil, &iallocError{name, fmt.Sprintf("answered unknown node %q", n)}
		}
	}
	a.pr.Note("iallocator %s chose %s: %s", name, strings.Join(nodes, ", "), resp.Info)
	return nodes, nil
}

// evacMoves turns an iallocator's node-evacuate or change-group answer
// into moves: each job of its answer is one instance's moves, on the
// instance's nodes and the targets.
func evacMoves(c *alloc.Cluster, ev *alloc.Evacuation) ([]alloc.BalanceMove, error) {
	var out []alloc.BalanceMove
	lastOn := map[string]int{}
	for _, job := range ev.Jobs {
		if len(job) == 0 {
			continue
		}
		name := job[0].Instance
		i := c.InstanceIndex(name)
		if i < 0 {
			return nil, fmt.Errorf("iallocator answer moves unknown instance %q", name)
		}
		in := c.Instances[i]
		m := alloc.BalanceMove{Instance: name, Kind: "iallocator", OldPrimary: c.Nodes[in.Pri].Name, After: []int{}}
		nodes := []string{c.Nodes[in.Pri].Name}
		if in.Sec >= 0 {
			m.OldSecondary = c.Nodes[in.Sec].Name
			nodes = append(nodes, m.OldSecondary)
		}
		for _, op := range job {
			if op.Instance != name {
				return nil, fmt.Errorf("iallocator answer: one job moves %s and %s", name, op.Instance)
			}
			var kind string
			switch op.ID {
			case "OP_INSTANCE_MIGRATE":
				kind = "migrate"
			case "OP_INSTANCE_FAILOVER":
				kind = "failover"
			case "OP_INSTANCE_REPLACE_DISKS":
				kind = "replace-disks"
			case "OP_INSTANCE_MOVE":
				kind = "move"
			default:
				return nil, fmt.Errorf("iallocator answer: unsupported opcode %s", op.ID)
			}
			m.Ops = append(m.Ops, alloc.Op{Kind: kind, Node: op.Node})
			if op.Node != "" && !contains(nodes, op.Node) {
				nodes = append(nodes, op.Node)
			}
		}
		for _, mv := range ev.Moved {
			if mv.Instance == name && len(mv.Nodes) > 0 {
				m.Primary = mv.Nodes[0]
				if len(mv.Nodes) > 1 {
					m.Secondary = mv.Nodes[1]
				}
			}
		}
		m.Nodes = nodes
		for _, n := range nodes {
			if j, ok := lastOn[n]; ok && !containsInt(m.After, j) {
				m.After = append(m.After, j)
			}
		}
		for _, n := range nodes {
			lastOn[n] = len(out)
		}
		out = append(out, m)
	}
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
