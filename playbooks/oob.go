package playbooks

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// checkNDParams refuses node parameters Ganeti does not know, and an
// oob_program that is neither an absolute path, "" nor "!" (no OOB).
func checkNDParams(p statefile.Params) error {
	var unknown []string
	for k := range p {
		if _, ok := NDDefaults[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return prereq(ErrWrongInput, "Unknown node parameter(s): %s", strings.Join(unknown, ", "))
	}
	if v, ok := p["oob_program"]; ok {
		s, isStr := v.(string)
		if !isStr || s != "" && s != "!" && (!path.IsAbs(s) || strings.ContainsAny(s, " \t\n")) {
			return prereq(ErrWrongInput, "oob_program must be an absolute path (or \"!\": no out-of-band management), not %v", v)
		}
	}
	return nil
}

// OOBProgram is the out-of-band program of node: its effective
// oob_program, or "" when it has none (unset, or "!": opted out).
func OOBProgram(st *statefile.State, name string) string {
	n := st.Nodes[name]
	if n == nil {
		return ""
	}
	p, _ := EffectiveND(st, n.Group, n.NDParams)["oob_program"].(string)
	if p == "!" {
		return ""
	}
	return p
}

// The out-of-band commands (doc/design-oob.rst): the node's oob_program
// runs on the master node as "PROGRAM COMMAND NODE".
const (
	OOBPowerOn     = "power-on"
	OOBPowerOff    = "power-off"
	OOBPowerCycle  = "power-cycle"
	OOBPowerStatus = "power-status"
	OOBHealth      = "health"
)

// OpOOBCommand is Ganeti's OOB_COMMAND; OpNodePowercycle its
// NODE_POWERCYCLE.
const (
	OpOOBCommand     plan.OpID = "OOB_COMMAND"
	OpNodePowercycle plan.OpID = "NODE_POWERCYCLE"
)

// OOBArgs are an out-of-band command on nodes.
type OOBArgs struct {
	Nodes   []string
	Command string // OOBPowerOn, OOBPowerOff, OOBPowerCycle
	// IgnoreStatus powers off nodes not marked offline (--ignore-status).
	IgnoreStatus bool
	// PowerDelay is waited between powering on two nodes (default 2 s).
	PowerDelay time.Duration
}

// OOBCommandOp is `node power on|off|cycle`.
var OOBCommandOp = define(&Opcode[OOBArgs]{
	ID: OpOOBCommand, Command: "node power",
	Subject: func(a OOBArgs) string {
		return strings.TrimPrefix(a.Command, "power-") + " " + strings.Join(a.Nodes, " ")
	},
	Plan: OOBCommand,
})

// OOBSteps are the out-of-band program's runs for command on nodes, on
// the master; they refuse nodes without a program, and the master for
// power-off and power-cycle, as Ganeti does.
func OOBSteps(st *statefile.State, nodes []string, command string) ([]plan.Step, error) {
	switch command {
	case OOBPowerOn, OOBPowerOff, OOBPowerCycle, OOBPowerStatus, OOBHealth:
	default:
		return nil, prereq(ErrWrongInput, "Unknown out-of-band command %q", command)
	}
	master := st.Cluster.MasterNode
	var steps []plan.Step
	for _, name := range nodes {
		n, err := node(st, name)
		if err != nil {
			return nil, err
		}
		prog := OOBProgram(st, n.Name)
		if (command == OOBPowerOff || command == OOBPowerCycle) && n.Name == master {
			more := "it does not support out-of-band operations"
			if prog != "" {
				more = fmt.Sprintf("run '%s %s %s' if you want to operate on the master regardless", prog, command, n.Name)
			}
			return nil, prereq(ErrWrongInput, "Operating on the master node %s is not allowed for %s; %s", master, command, more)
		}
		if prog == "" {
			return nil, prereq(ErrWrongInput, "Node %s does not support out-of-band handling (no oob_program)", n.Name)
		}
		action := plan.Exec
		if command == OOBPowerStatus || command == OOBHealth {
			action = plan.Read
		}
		steps = append(steps, plan.Step{Node: master, Action: action, Desc: fmt.Sprintf("out-of-band %s of %s", command, n.Name),
			Argv: []string{prog, command, n.Name}})
	}
	return steps, nil
}

// OOBCommand plans powering nodes on, off or cycling them through their
// out-of-band programs, one after the other (power-on waits PowerDelay
// between nodes); the recorded power state follows. Power-off needs the
// nodes marked offline first, unless IgnoreStatus.
func OOBCommand(env Env, a OOBArgs) (*plan.Plan, error) {
	st := env.State
	if a.Command == OOBPowerStatus || a.Command == OOBHealth {
		return nil, prereq(ErrWrongInput, "%s only reads: it is no job", a.Command)
	}
	if len(a.Nodes) == 0 {
		return nil, prereq(ErrWrongInput, "Please provide at least one node for this command")
	}
	steps, err := OOBSteps(st, a.Nodes, a.Command)
	if err != nil {
		return nil, err
	}
	if m := st.Nodes[st.Cluster.MasterNode]; m == nil || m.Offline {
		return nil, prereq(ErrWrongState, "The master node %s runs the out-of-band programs and is offline", st.Cluster.MasterNode)
	}
	p := plan.New(plan.ClusterOp(OpOOBCommand, append([]string{a.Command}, a.Nodes...)...), st.Lineage, st.Serial)
	delay := a.PowerDelay
	if delay == 0 {
		delay = 2 * time.Second
	}
	for i, s := range steps {
		n := st.Nodes[a.Nodes[i]]
		if a.Command == OOBPowerOff && !a.IgnoreStatus && !n.Offline {
			return nil, prereq(ErrWrongState, "Cannot power off node %s because it is not marked offline", n.Name)
		}
		if i > 0 && a.Command == OOBPowerOn {
			p.Add("wait before the next node", plan.Abort, plan.Step{Node: st.Cluster.MasterNode, Action: plan.Exec,
				Desc: fmt.Sprintf("wait %s (--power-delay)", delay), Argv: []string{"sleep", strconv.FormatFloat(delay.Seconds(), 'f', -1, 64)}})
		}
		p.Add(s.Desc, plan.Abort, s)
		if a.Command == OOBPowerOn || a.Command == OOBPowerOff {
			c := cloneNode(n)
			on := a.Command == OOBPowerOn
			c.Powered = &on
			if err := p.Set(plan.KindNode, n.Name, n, c); err != nil {
				return nil, err
			}
		}
	}
	ReplicateTo(p, masterCandidates(st)...)
	return p, nil
}

// ParsePowerStatus reads power-status's {"powered": true|false}.
func ParsePowerStatus(out []byte) (bool, error) {
	var v struct {
		Powered *bool `json:"powered"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Powered == nil {
		return false, fmt.Errorf("power-status is expected to return {\"powered\": true|false}, got %q", strings.TrimSpace(string(out)))
	}
	return *v.Powered, nil
}

// powercycleScript reboots the node at once, in the background so that
// the SSH session ends first: magic SysRq b, else a forced reboot
// (Ganeti's LinuxPowercycle).
const powercycleScript = `setsid sh -c 'sleep 1; sync; echo b > /proc/sysrq-trigger 2>/dev/null; sleep 2; reboot -n -f' </dev/null >/dev/null 2>&1 &
echo "powercycle of $(uname -n) scheduled"`

// NodePowercycleOp is `node powercycle`.
var NodePowercycleOp = define(&Opcode[string]{
	ID: OpNodePowercycle, Command: "node powercycle", Subject: itself, Undo: Irreversible,
	Plan: NodePowercycle,
})

// NodePowercycle plans a forced reboot of a node through its own OS (it
// needs the node reachable; its instances die with it).
func NodePowercycle(env Env, name string) (*plan.Plan, error) {
	st := env.State
	n, err := node(st, name)
	if err != nil {
		return nil, err
	}
	if n.Offline {
		return nil, prereq(ErrWrongState, "Node %s is offline: powercycle goes through the node itself (use node power cycle with an out-of-band program)", n.Name)
	}
	p := plan.New(plan.NodeOp(OpNodePowercycle, n.Name), st.Lineage, st.Serial)
	p.Add("powercycle "+n.Name, plan.Abort, plan.Step{Node: n.Name, Action: plan.Exec, Desc: "reboot " + n.Name + " at once (sysrq b, else reboot -f)",
		Argv: []string{"sh", "-c", powercycleScript, "ganetictl-powercycle"}})
	return p, nil
}
