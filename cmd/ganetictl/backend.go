package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/clusterstore"
	"github.com/ganetictl/ganetictl/statefile/etcdstore"
)

// openBackend opens the state backend the inventory names ([state]
// backend), or the one named by backend when not "". dir is the local
// state directory (--state-dir or the inventory's).
func (a *app) openBackend(ctx context.Context, backend, dir string) (statefile.Backend, error) {
	st := a.inv.State
	if backend == "" {
		backend = st.Backend
	}
	switch backend {
	case "", "dir":
		return statefile.OpenDir(dir)
	case "cluster":
		return a.openClusterStore(ctx, dir)
	case "etcd":
		e := st.Etcd
		pw, err := e.EtcdPassword()
		if err != nil {
			return nil, &invalidError{err}
		}
		local := filepath.Join(dir, statefile.JournalDir)
		if err := os.MkdirAll(local, 0o700); err != nil {
			return nil, err
		}
		return etcdstore.Open(ctx, etcdstore.Config{Endpoints: e.Endpoints, Prefix: e.Prefix, CAFile: e.CAFile, CertFile: e.CertFile,
			KeyFile: e.KeyFile, User: e.User, Password: pw, DialTimeout: e.DialTimeout, LeaseTTL: e.LeaseTTL, LocalDir: local})
	}
	return nil, invalid("unknown state backend %q (known: dir, cluster, etcd)", backend)
}

// storePool is the SSH pool of the cluster backend: the inventory's
// nodes, apart from the commands' own pool, made on first use.
func (a *app) storePool() (*remote.Pool, error) {
	if a.spool != nil {
		return a.spool, nil
	}
	var targets []remote.Target
	for _, n := range a.inv.Nodes {
		targets = append(targets, a.target(n.Name, n.Address, n.HostKey))
	}
	p, err := remote.NewPool(a.sshConfig(), targets)
	if err != nil {
		return nil, err
	}
	a.spool = p
	return p, nil
}

// openClusterStore finds the store on the cluster (the inventory's
// [state.cluster] node, following the marker a master-failover leaves)
// and opens it; cluster recover --rehome NODE opens (creating) it there.
func (a *app) openClusterStore(ctx context.Context, dir string) (statefile.Backend, error) {
	c := a.inv.State.Cluster
	pool, err := a.storePool()
	if err != nil {
		return nil, err
	}
	local := filepath.Join(dir, statefile.JournalDir)
	if err := os.MkdirAll(local, 0o700); err != nil {
		return nil, err
	}
	node := a.g.rehome
	if node == "" {
		lctx, cancel := context.WithTimeout(ctx, a.inv.SSH.ConnectTimeout+30*time.Second)
		defer cancel()
		node, err = clusterstore.Locate(lctx, pool.Get, c.Node, a.inv.NodeNames(), c.Root)
		if err != nil {
			return nil, err
		}
	}
	r, err := pool.Get(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("cluster state backend: %w", err)
	}
	return clusterstore.Open(ctx, clusterstore.Config{Node: node, Runner: r, Runners: pool.Get, Root: c.Root, TTL: c.LockTTL, LocalDir: local})
}

// stateDir is the local state directory: --state-dir, else the inventory's.
func (g *Globals) stateDir(inv *inventory.Inventory) string {
	if g.StateDir != "" {
		return g.StateDir
	}
	return inv.State.Dir
}

// rehomed makes node, where recover --rehome rebuilds the cluster
// backend's store, the master of the recovered state: the store lives on
// the master, and a later commit there must not move it back to the dead
// one.
func rehomed(res *playbooks.Recovered, node string) {
	st := res.State
	if n, ok := st.Nodes[node]; ok {
		n.MasterCandidate = true
	}
	if st.Cluster.MasterNode == node {
		return
	}
	res.Notes = append(res.Notes, playbooks.RecoverNote{Kind: playbooks.NoteFixed, Object: "cluster",
		Message: fmt.Sprintf("the master is now %s (was %s): the state's store was rebuilt there (--rehome); set [state.cluster] node = %q in the inventory",
			node, st.Cluster.MasterNode, node)})
	st.Cluster.MasterNode = node
}
