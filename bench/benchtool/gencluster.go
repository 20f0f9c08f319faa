package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/ganetictl/ganetictl/playbooks/alloc"
)

// genCluster writes a skewed cluster of n nodes in the htools text
// backend format (hbal -t reads it): nodes of mixed sizes, about three
// instances a node, most on the first fifth of the nodes, 70% drbd, 15%
// plain and 15% on external storage. The seed makes it reproducible.
func genCluster(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: benchtool gen-cluster NODES SEED")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 2 {
		return fmt.Errorf("NODES: want a number above 1")
	}
	seed, err := strconv.ParseUint(args[1], 10, 64)
	if err != nil {
		return fmt.Errorf("SEED: %v", err)
	}
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	c := &alloc.Cluster{Policy: alloc.DefaultPolicy(),
		Groups: []*alloc.Group{{Name: "default", UUID: "uuid-default", Policy: alloc.DefaultPolicy()}}}
	mems := []float64{65536, 131072, 262144}
	dsks := []float64{1 << 20, 2 << 20, 4 << 20}
	cpus := []float64{16, 32, 64}
	type room struct{ mem, dsk int }
	free := make([]room, n)
	for i := 0; i < n; i++ {
		k := r.IntN(3)
		nd := alloc.NewNode(fmt.Sprintf("node%03d", i+1), mems[k], 2048, 0, dsks[k], 0, cpus[k], 1, false, 1, 1, 0, false)
		c.Nodes = append(c.Nodes, nd)
		free[i] = room{int(mems[k]) - 2048, int(dsks[k])}
	}
	weight := func(i int) int {
		if i < n/5 {
			return 6
		}
		return 1
	}
	total := 0
	for i := 0; i < n; i++ {
		total += weight(i)
	}
	pick := func(not int) int {
		for {
			x := r.IntN(total)
			for i := 0; i < n; i++ {
				if x -= weight(i); x < 0 {
					if i != not {
						return i
					}
					break
				}
			}
		}
	}
	imem := []int{1024, 2048, 4096, 8192, 16384}
	idsk := []int{10240, 20480, 51200, 102400}
	for k := 0; k < 3*n; k++ {
		t := alloc.DRBD
		switch x := r.IntN(100); {
		case x < 15:
			t = alloc.Plain
		case x < 30:
			t = alloc.Ext
		}
		mem, dsk, vcpus := imem[r.IntN(len(imem))], idsk[r.IntN(len(idsk))], 1+r.IntN(8)
		p := pick(-1)
		s := alloc.NoNode
		if t == alloc.DRBD {
			s = r.IntN(n)
			for s == p {
				s = r.IntN(n)
			}
			dsk += 128
		}
		if free[p].mem < mem || (t.LocalStorage() && free[p].dsk < dsk) || (s >= 0 && free[s].dsk < dsk) {
			continue
		}
		free[p].mem -= mem
		if t.LocalStorage() {
			free[p].dsk -= dsk
		}
		if s >= 0 {
			free[s].dsk -= dsk
		}
		c.Instances = append(c.Instances, &alloc.Instance{Name: fmt.Sprintf("inst%04d", k+1), Mem: mem, Dsk: dsk,
			Disks: []alloc.Disk{{Size: dsk, Spindles: -1}}, VCPUs: vcpus, Status: alloc.StatusRunning, Pri: p, Sec: s,
			Template: t, SpindleUse: 1, AutoBalance: true})
	}
	for i, nd := range c.Nodes {
		nd.FMem, nd.FDsk = free[i].mem, free[i].dsk
	}
	_, err = os.Stdout.WriteString(c.WriteText())
	return err
}
