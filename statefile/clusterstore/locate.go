package clusterstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ganetictl/ganetictl/remote"
)

// probeScript says what a node holds below the root "$1": the node the
// store moved to ("moved NODE"), and the serial of its state ("serial N").
const probeScript = `[ -f "$1/moved" ] && printf 'moved %s\n' "$(cat "$1/moved")"
[ -f "$1/state.json" ] && printf 'serial %s\n' "$(sed -n 's/^ *"serial": *\([0-9]*\).*/\1/p' "$1/state.json" | head -n 1)"
true`

type probe struct {
	moved  string
	serial int64 // -1: no state
	err    error
}

func probeNode(ctx context.Context, get func(context.Context, string) (remote.Runner, error), node, root string) probe {
	r, err := get(ctx, node)
	if err != nil {
		return probe{err: err, serial: -1}
	}
	res, err := r.Run(ctx, remote.Command{Argv: []string{"sh", "-c", probeScript, "ganetictl-store-probe", root}})
	if err != nil {
		return probe{err: err, serial: -1}
	}
	p := probe{serial: -1}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "moved":
			p.moved = strings.TrimSpace(v)
		case "serial":
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				p.serial = n
			}
		}
	}
	return p
}

// Locate finds the node that holds the store: first (the inventory's
// [state.cluster] node, by default the master it names), or the node a
// failover moved the store to, following the markers. When that node is
// unreachable it looks at every node and takes the store with the
// highest serial that has not moved; it fails when none answers with
// one, naming `cluster recover --rehome`.
func Locate(ctx context.Context, get func(context.Context, string) (remote.Runner, error), first string, nodes []string, root string) (string, error) {
	if root == "" {
		root = DefaultRoot
	}
	node, seen := first, map[string]bool{}
	for !seen[node] {
		seen[node] = true
		p := probeNode(ctx, get, node, root)
		switch {
		case p.err != nil:
			return scan(ctx, get, node, p.err, nodes, root)
		case p.moved != "" && slices.Contains(nodes, p.moved):
			node = p.moved
			continue
		case p.moved != "":
			return "", fmt.Errorf("cluster state backend: the store on %s moved to %s, which is not in the inventory", node, p.moved)
		}
		return node, nil
	}
	return "", fmt.Errorf("cluster state backend: the stores' moved markers go round in a circle through %s", node)
}

func scan(ctx context.Context, get func(context.Context, string) (remote.Runner, error), down string, why error, nodes []string, root string) (string, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	best, bestSerial := "", int64(-1)
	for _, n := range nodes {
		if n == down {
			continue
		}
		wg.Go(func() {
			p := probeNode(ctx, get, n, root)
			mu.Lock()
			defer mu.Unlock()
			if p.err == nil && p.moved == "" && p.serial > bestSerial {
				best, bestSerial = n, p.serial
			}
		})
	}
	wg.Wait()
	if best != "" {
		return best, nil
	}
	err := fmt.Errorf("cluster state backend: the store's node %s is unreachable (%v) and no other node holds the store; "+
		"`ganetictl cluster recover --rehome NODE` rebuilds it on a master candidate from the candidates' copies", down, why)
	if errors.Is(why, remote.ErrUnreachable) {
		return "", errors.Join(err, remote.ErrUnreachable)
	}
	return "", err
}
