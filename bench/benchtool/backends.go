package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/inventory"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/statefile/clusterstore"
	"github.com/ganetictl/ganetictl/statefile/etcdstore"
	"github.com/ganetictl/ganetictl/statefile/storetest"
)

// backends measures, per state backend, the cost of a commit (writer
// lock, read, change, write, unlock) and of an object lock round trip
// (LockObjects of the cluster shared and an instance exclusively, then
// Unlock), as medians of n runs, beside the dir backend.
func backends(invPath, etcdEndpoints string, n int) error {
	ctx := context.Background()
	inv, err := inventory.Load(invPath)
	if err != nil {
		return err
	}
	master := inv.Nodes[0]
	cfg := remote.Config{User: inv.SSH.User, KnownHostsFile: inv.SSH.KnownHosts, KeyFiles: []string{inv.SSH.IdentityFile}}
	pool, err := remote.NewPool(cfg, []remote.Target{{Name: master.Name, Addr: master.Address, Port: inv.SSH.Port}})
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := pool.Get(ctx, master.Name)
	if err != nil {
		return err
	}
	const root = "/var/lib/ganeti/ganetictl/bench-store"
	defer r.Run(ctx, remote.Command{Argv: []string{"rm", "-rf", root}})
	tmp, err := os.MkdirTemp("", "benchtool-dir")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	open := []struct {
		name string
		open func() (statefile.Backend, error)
	}{
		{"dir", func() (statefile.Backend, error) { return statefile.OpenDir(tmp) }},
		{"cluster", func() (statefile.Backend, error) {
			r.Run(ctx, remote.Command{Argv: []string{"rm", "-rf", root}})
			return clusterstore.Open(ctx, clusterstore.Config{Node: master.Name, Runner: r, Root: root})
		}},
		{"etcd", func() (statefile.Backend, error) {
			return etcdstore.Open(ctx, etcdstore.Config{Endpoints: strings.Split(etcdEndpoints, ","), Prefix: fmt.Sprintf("/bench/%d/", time.Now().UnixNano())})
		}},
	}
	var base [2]time.Duration
	fmt.Printf("%-10s %14s %14s %10s %10s\n", "backend", "commit", "lock+unlock", "commit/dir", "lock/dir")
	for i, o := range open {
		s, err := o.open()
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		c, l, err := measure(ctx, s, n)
		s.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		if i == 0 {
			base = [2]time.Duration{c, l}
		}
		fmt.Printf("%-10s %14s %14s %9.1fx %9.1fx\n", o.name, c.Round(time.Microsecond), l.Round(time.Microsecond),
			float64(c)/float64(base[0]), float64(l)/float64(base[1]))
	}
	return nil
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func measure(ctx context.Context, s statefile.Backend, n int) (commit, lock time.Duration, err error) {
	st := storetest.Sample(statefile.NewLineage())
	l, err := s.Lock(ctx, statefile.NewLockInfo("bench init", "bench"))
	if err != nil {
		return 0, 0, err
	}
	if _, err := s.Write(ctx, l, st); err != nil {
		return 0, 0, err
	}
	l.Unlock()
	var cs, ls []time.Duration
	for i := range n {
		start := time.Now()
		l, err := s.Lock(ctx, statefile.NewLockInfo("bench commit", "bench"))
		if err != nil {
			return 0, 0, err
		}
		cur, err := s.Read(ctx)
		if err == nil {
			cur.Cluster.Tags = append(cur.Cluster.Tags, fmt.Sprintf("t%d", i))
			_, err = s.Write(ctx, l, cur)
		}
		l.Unlock()
		if err != nil {
			return 0, 0, err
		}
		cs = append(cs, time.Since(start))

		start = time.Now()
		ol, err := s.LockObjects(ctx, statefile.NewLockInfo("bench lock", "bench"),
			[]statefile.LockReq{{Level: statefile.LevelCluster}, {Level: statefile.LevelInstance, Name: "web1", Exclusive: true}}, statefile.LockOptions{})
		if err != nil {
			return 0, 0, err
		}
		ol.Unlock()
		ls = append(ls, time.Since(start))
	}
	return median(cs), median(ls), nil
}
