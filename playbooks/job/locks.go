package job

import (
	"context"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Locks derives the object locks a plan needs, in Ganeti's terms:
//   - the cluster shared, or exclusive when the plan changes the cluster
//     object or has no narrower object to lock;
//   - every instance, node, node group and network the plan changes, and
//     the instance or network its opcode names (a reboot changes nothing
//     in the state but still owns its instance; connecting a network
//     changes groups, yet must not race its removal), exclusively;
//   - every node a step runs on, shared, and its resources (memory, disk,
//     DRBD minors) exclusively where a step creates something there, so
//     that two operations never both count the same free space.
//
// Deriving locks from the plan, rather than declaring them per command,
// keeps them exact: Run plans again under the locks and checks that the
// new plan needs nothing more.
func Locks(p *plan.Plan) []statefile.LockReq {
	reqs := []statefile.LockReq{{Level: statefile.LevelCluster}}
	narrow := false
	switch {
	case p.Op.Kind == plan.KindInstance && p.Op.Name != "":
		reqs = append(reqs, statefile.LockReq{Level: statefile.LevelInstance, Name: p.Op.Name, Exclusive: true})
		narrow = true
	case p.Op.Kind == plan.KindNetwork && p.Op.Name != "":
		reqs = append(reqs, statefile.LockReq{Level: statefile.LevelNetwork, Name: p.Op.Name, Exclusive: true})
		narrow = true
	}
	for _, c := range p.Changes {
		lvl, ok := changeLevel[c.Kind]
		switch {
		case c.Kind == plan.KindCluster:
			reqs[0].Exclusive = true
		case c.Kind == plan.KindWatcher:
			reqs = append(reqs, statefile.LockReq{Level: lvl, Name: "record", Exclusive: true})
			narrow = true
		case ok:
			reqs = append(reqs, statefile.LockReq{Level: lvl, Name: c.Name, Exclusive: true})
			narrow = true
		}
	}
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			reqs = append(reqs,
				statefile.LockReq{Level: statefile.LevelNode, Name: s.Node},
				statefile.LockReq{Level: statefile.LevelNodeRes, Name: s.Node, Exclusive: s.Action == plan.Create})
			narrow = true
		}
	}
	if !narrow && len(p.Changes) > 0 {
		reqs[0].Exclusive = true
	}
	return statefile.NormalizeLocks(reqs)
}

// changeLevel is the lock level of each kind of state object but the
// cluster.
var changeLevel = map[string]statefile.Level{
	plan.KindInstance:  statefile.LevelInstance,
	plan.KindNode:      statefile.LevelNode,
	plan.KindNodeGroup: statefile.LevelNodeGroup,
	plan.KindNetwork:   statefile.LevelNetwork,
	plan.KindWatcher:   statefile.LevelWatcher, // named "record"
}

func covered(held, need []statefile.LockReq) bool {
	for _, r := range need {
		if !statefile.Covers(held, r) {
			return false
		}
	}
	return true
}

// Lock takes reqs for the operation label, waiting up to LockTimeout and
// telling the Reporter once per object whom it waits for; takeover is the
// crashed job whose claims it inherits (0: none). It reports whether it
// had to wait.
func (e *Engine) Lock(ctx context.Context, label string, reqs []statefile.LockReq, takeover int64) (*statefile.ObjectLocks, bool, error) {
	lctx, cancel := ctx, context.CancelFunc(func() {})
	if e.LockTimeout > 0 {
		lctx, cancel = context.WithTimeout(ctx, e.LockTimeout)
	}
	defer cancel()
	waited := false
	ol, err := e.Store.LockObjects(lctx, statefile.NewLockInfo(label, e.Version), reqs, statefile.LockOptions{
		Takeover: takeover,
		Waiting: func(r statefile.LockReq, holders []statefile.LockInfo) {
			waited = true
			e.Report.Waiting(r, holders, e.LockTimeout)
		},
	})
	if err != nil && ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	return ol, waited, err
}

// stateLockWait bounds the wait for the state lock, held only for a
// commit's read-modify-write.
const stateLockWait = 30 * time.Second

// LockWhole takes the cluster exclusively, so that no job runs meanwhile,
// and the state lock, for commands that replace the whole state (import,
// rollback, recover, pull). unlock releases both.
func (e *Engine) LockWhole(ctx context.Context, label string) (lk *statefile.Lock, unlock func(), err error) {
	ol, _, err := e.Lock(ctx, label, []statefile.LockReq{{Level: statefile.LevelCluster, Exclusive: true}}, 0)
	if err != nil {
		return nil, nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, stateLockWait)
	defer cancel()
	if lk, err = e.Store.Lock(lctx, statefile.NewLockInfo(label, e.Version)); err != nil {
		ol.Unlock()
		return nil, nil, err
	}
	return lk, func() { lk.Unlock(); ol.Unlock() }, nil
}
