package playbooks

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// Helper is the copy helper as present on one node: its content-addressed
// path and the SHA-256 that every step checks before running it.
type Helper struct {
	Path   string
	SHA256 string
}

// CopyOptions are the transfer settings of a planner that copies disks.
type CopyOptions struct {
	Compress          string // "none" or "zstd"
	InsecureTransport bool
	// IdleTimeout ends a copy that moves no byte for this long (a cut
	// link); 0 means the helper's default.
	IdleTimeout time.Duration
	// RateLimit caps each copy's bytes on the wire per second (the
	// sending helper's token bucket); 0: no limit.
	RateLimit int64
}

// helperScript checks the helper's SHA-256 and runs it: $1 path, $2
// checksum, then the helper's arguments. A missing or altered helper is
// never run.
const helperScript = `h=$1 sum=$2; shift 2
printf '%s  %s\n' "$sum" "$h" | sha256sum -c --status - 2>/dev/null || { echo "helper $h is missing or does not match sha256 $sum (it is uploaded before each operation: rerun)" >&2; exit 1; }
exec "$h" "$@"
`

// Copy ports: the receiver takes the first free port of
// [port, port+copyPortSpan) and the sender tries them in turn; the pinned
// handshake tells the right receiver from anything else listening there.
const (
	copyPortBase  = 42000
	copyPortRange = 8000
	copyPortSpan  = 8
)

// copySpec is one disk copy: src on srcNode to dst on dstNode.
type copySpec struct {
	srcNode, src string
	dstNode, dst string
	dstZeroed    bool
	what         string // for Desc
	secretName   string // unique per transfer within the plan
}

// addressOf is a node's replication address (its secondary IP, else its
// primary one).
func addressOf(st *statefile.State, node string) string {
	n := st.Nodes[node]
	if n == nil {
		return ""
	}
	if n.SecondaryIP != "" {
		return n.SecondaryIP
	}
	return n.PrimaryIP
}

// copySteps gives the two steps of one copy, to be put in the same stage:
// the receiver on the destination and the sender on the source. Each end's
// private key is a plan secret; each end gets the other's fingerprint.
func copySteps(env Env, p *plan.Plan, o CopyOptions, c copySpec) ([]plan.Step, error) {
	hs, err := helperFor(env, p, c.srcNode)
	if err != nil {
		return nil, err
	}
	hd, err := helperFor(env, p, c.dstNode)
	if err != nil {
		return nil, err
	}
	compress := o.Compress
	if compress == "" {
		compress = "none"
	}
	if compress != "none" && compress != "zstd" {
		return nil, prereq(ErrWrongInput, "--compress %q: none or zstd", compress)
	}
	addr := addressOf(env.State, c.dstNode)
	if addr == "" {
		return nil, prereq(ErrWrongState, "node %s has no address", c.dstNode)
	}
	port := copyPortBase
	if env.Random != nil {
		port += int(binary.BigEndian.Uint16(env.Random(2))) % (copyPortRange - copyPortSpan)
	}
	common := []string{"--port", strconv.Itoa(port), "--port-span", strconv.Itoa(copyPortSpan)}
	if o.IdleTimeout > 0 {
		common = append(common, "--idle-timeout", o.IdleTimeout.String())
	}
	var recvAuth, sendAuth []string
	var recvKey, sendKey string
	if o.InsecureTransport {
		recvAuth = []string{"--insecure-transport"}
		sendAuth = recvAuth
	} else {
		if env.NewIdentity == nil {
			return nil, fmt.Errorf("copy: no identity source")
		}
		ri, err := env.NewIdentity()
		if err != nil {
			return nil, err
		}
		si, err := env.NewIdentity()
		if err != nil {
			return nil, err
		}
		// Keys go in on stdin: argv is visible to every user of a node.
		recvKey, sendKey = p.Secret(c.secretName+"-recv", ri.PEM()), p.Secret(c.secretName+"-send", si.PEM())
		recvAuth = []string{"--identity", "-", "--peer-fp", si.Fingerprint}
		sendAuth = []string{"--identity", "-", "--peer-fp", ri.Fingerprint}
	}
	recv := append([]string{"sh", "-c", helperScript, "ganetictl-copy-recv", hd.Path, hd.SHA256, "recv", "--listen", addr, "--dst", c.dst}, common...)
	if c.dstZeroed {
		recv = append(recv, "--dst-zeroed")
	}
	recv = append(recv, recvAuth...)
	send := append([]string{"sh", "-c", helperScript, "ganetictl-copy-send", hs.Path, hs.SHA256, "send", "--connect", addr, "--src", c.src, "--compress", compress}, common...)
	if o.RateLimit > 0 {
		send = append(send, "--rate-limit", strconv.FormatInt(o.RateLimit, 10))
	}
	send = append(send, sendAuth...)
	// A receiver cut off with its controller stops without committing, but
	// may leave its partial file (never under the real name).
	dropPartial := plan.Step{Node: c.dstNode, Action: plan.Remove, Desc: "remove the partial copy " + c.dst + transfer.PartialSuffix,
		Argv: []string{"rm", "-f", "--", c.dst + transfer.PartialSuffix}}
	return []plan.Step{
		{Node: c.dstNode, Action: plan.Exec, Desc: fmt.Sprintf("receive %s from %s into %s", c.what, c.srcNode, c.dst), Argv: recv, Stdin: recvKey, Undo: &dropPartial},
		{Node: c.srcNode, Action: plan.Exec, Desc: fmt.Sprintf("send %s %s to %s", c.what, c.src, c.dstNode), Argv: send, Stdin: sendKey, Progress: true},
	}, nil
}

// MoveArgs are `instance move`'s inputs.
type MoveArgs struct {
	Name            string
	Target          string
	ShutdownTimeout time.Duration
	Copy            CopyOptions
}

// InstanceMoveOp is gnt-instance move: every fact of the instance's node
// and the target (free space, the helper).
var InstanceMoveOp = define(&Opcode[MoveArgs]{
	ID: OpInstanceMove, Command: "instance move",
	Subject: func(a MoveArgs) string { return a.Name },
	Needs:   func(st *statefile.State, a MoveArgs) Needs { return Needs{Nodes: InstanceNodes(st, a.Name, a.Target)} },
	Plan:    Move,
})

// Move plans OpInstanceMove (reference §9.3) for plain and file instances:
// stop it if running, clear what an interrupted move left on the target,
// create its disks on the target, copy every disk node to node through
// the helper, then (past the point of no return, so in Continue stages)
// start it on the target if it is admin up and remove the source disks.
// A failure before the copies finished removes the target disks and
// leaves the state as it was.
func Move(env Env, a MoveArgs) (*plan.Plan, error) {
	st := env.State
	inst, err := instance(st, a.Name)
	if err != nil {
		return nil, err
	}
	switch inst.DiskTemplate {
	case storage.Plain, storage.File:
	case storage.SharedFile, storage.RBD:
		return nil, prereq(ErrWrongInput, "Instance %s has shared storage (%s): every node sees its disks already, so there is nothing to copy; use 'instance failover -n' or 'instance migrate -n'", a.Name, inst.DiskTemplate)
	case "drbd":
		return nil, prereq(ErrWrongInput, "Instance %s is drbd: its data is on its secondary already; use 'instance failover' or 'instance migrate' (or convert it first)", a.Name)
	default:
		return nil, prereq(ErrWrongState, "Instance's disk layout '%s' does not allow moves (only plain and file can be copied)", inst.DiskTemplate)
	}
	tn, err := node(st, a.Target)
	if err != nil {
		return nil, err
	}
	if tn.Name == inst.PrimaryNode {
		return nil, prereq(ErrWrongInput, "Instance %s is already on node %s", inst.Name, tn.Name)
	}
	if err := usableNode(tn); err != nil {
		return nil, err
	}
	for _, n := range []string{inst.PrimaryNode, tn.Name} {
		if f := env.Facts[n]; f == nil || !f.Reachable {
			return nil, prereq(ErrEnvironment, "Node %s is not reachable: %s", n, factsErr(f))
		}
	}
	target := tn.Name
	if err := checkSpace(target, env.Facts[target], inst.DiskTemplate, inst.Disks, nil); err != nil {
		return nil, err
	}
	p := plan.New(plan.InstanceOp(OpInstanceMove, a.Name), st.Lineage, st.Serial)
	moved := cloneInstance(inst)
	moved.PrimaryNode = target
	for _, d := range moved.Disks {
		d.Nodes = []string{target}
	}
	// Leftovers of an interrupted move: the target cannot hold these disks
	// (their names carry the disk UUIDs, and the state puts them on the
	// source), so whatever is there is a partial copy.
	var clean, create, copies []plan.Step
	for i, d := range inst.Disks {
		rm, err := storage.Remove(d, target)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		clean = append(clean, rm...)
		dev := storage.DevicePath(d)
		if inst.DiskTemplate == storage.File {
			clean = append(clean, plan.Step{Node: target, Action: plan.Remove, Desc: "remove a partial copy of disk " + strconv.Itoa(i),
				Argv: []string{"rm", "-f", "--", dev + transfer.PartialSuffix}})
		}
		cr, err := storage.Create(d, target, inst.Name)
		if err != nil {
			return nil, prereq(ErrWrongState, "disk %d: %v", i, err)
		}
		create = append(create, cr...)
		cp, err := copySteps(env, p, a.Copy, copySpec{srcNode: inst.PrimaryNode, src: dev, dstNode: target, dst: dev,
			what: fmt.Sprintf("disk %d (%d MiB)", i, d.Size), secretName: fmt.Sprintf("copy-disk%d", i)})
		if err != nil {
			return nil, err
		}
		copies = append(copies, cp...)
	}
	if len(clean) > 0 {
		p.Add("remove leftovers of an interrupted move from "+target, plan.Continue, clean...)
	}
	if on := runningOn(env, a.Name); len(on) > 0 {
		stop, err := hv.StopInstance(inst, st.Cluster.HVParams[inst.Hypervisor], a.ShutdownTimeout, false)
		if err != nil {
			return nil, prereq(ErrWrongInput, "%v", err)
		}
		p.Add("shut down the instance on "+inst.PrimaryNode, plan.Abort, stop)
	}
	p.Add("create disks on "+target, plan.Abort, create...)
	p.Add("copy disks "+inst.PrimaryNode+" → "+target, plan.Abort, copies...)
	// Past this point the target holds the data: no stage may abort (an
	// abort would undo the target disks' creation).
	if inst.AdminState == "up" {
		act, err := eachDisk(moved, storage.Assemble)
		if err != nil {
			return nil, err
		}
		p.AddStages(storage.Stages("activate disks on "+target, plan.Continue, act...)...)
		steps, err := startSteps(env, moved, env.Facts[target])
		if err != nil {
			return nil, err
		}
		p.Add("start the instance on "+target, plan.Continue, steps...)
		moved.DisksActive = true
	} else {
		moved.DisksActive = false
	}
	if err := deactivate(env, p, "deactivate disks on "+inst.PrimaryNode, plan.Continue, inst); err != nil {
		return nil, err
	}
	if err := stage(p, "remove disks from "+inst.PrimaryNode, plan.Continue, removeDisks, inst); err != nil {
		return nil, err
	}
	return setInstance(p, st, a.Name, inst, moved)
}
