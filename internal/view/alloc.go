package view

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The allocator's results: cluster balance (hbal's shapes), cluster
// capacity (hspace's), and the moves of evacuations and group changes.

// MoveOp is one operation of a move.
type MoveOp struct {
	Op   string `json:"op"` // migrate, failover, replace-disks, move
	Node string `json:"node,omitempty"`
}

// Move is one move of an instance, with the nodes it touches: moves on
// disjoint nodes can run at once.
type Move struct {
	Instance     string   `json:"instance"`
	Code         string   `json:"move"` // hbal's: f, r:N, f r:N f, ...
	Kind         string   `json:"kind"`
	OldPrimary   string   `json:"old_primary"`
	OldSecondary string   `json:"old_secondary,omitempty"`
	Primary      string   `json:"primary"`
	Secondary    string   `json:"secondary,omitempty"`
	Score        float64  `json:"score,omitempty"`
	Nodes        []string `json:"nodes"`
	After        []int    `json:"after"`
	Jobset       int      `json:"jobset,omitempty"`
	Ops          []MoveOp `json:"ops"`
}

// Balance is cluster balance's solution.
type Balance struct {
	Group         string   `json:"group"`
	Nodes         int      `json:"nodes"`
	Instances     int      `json:"instances"`
	InitialScore  float64  `json:"initial_score"`
	FinalScore    float64  `json:"final_score"`
	OptimalScore  float64  `json:"optimal_score"`
	MinScore      float64  `json:"min_score"`
	Balanced      bool     `json:"balanced"`
	BadNodes      []string `json:"n1_failing_nodes"`
	BadInstances  []string `json:"n1_failing_instances"`
	FinalBadNodes []string `json:"n1_failing_nodes_after"`
	Merged        int      `json:"merged_moves"`
	Moves         []Move   `json:"moves"`
	// Commands: also print the commands that make the moves (hbal -C).
	Commands bool `json:"-"`
	// Warnings of the data (nodes whose facts disagree with the records).
	Warnings []string `json:"warnings,omitempty"`
}

// Text prints the solution as hbal does.
func (b Balance) Text(w io.Writer) error {
	var o strings.Builder
	fmt.Fprintf(&o, "Group size %d nodes, %d instances\n", b.Nodes, b.Instances)
	fmt.Fprintf(&o, "Selected node group: %s\n", b.Group)
	fmt.Fprintf(&o, "Initial check done: %d bad nodes, %d bad instances.\n", len(b.BadNodes), len(b.BadInstances))
	if len(b.BadNodes) > 0 {
		o.WriteString("Cluster is not N+1 happy, continuing but no guarantee that the cluster will end N+1 happy.\n")
	}
	fmt.Fprintf(&o, "Initial score: %.8f\n", b.InitialScore)
	if b.Balanced {
		fmt.Fprintf(&o, "Cluster is already well balanced (initial score %s,\noptimum score due to N+1 reservations %s,\nminimum score %s).\nNothing to do, exiting\n",
			gfmt(b.InitialScore), gfmt(b.OptimalScore), gfmt(b.MinScore))
		_, err := io.WriteString(w, o.String())
		return err
	}
	o.WriteString("Trying to minimize the CV...\n")
	iw, nw := 0, 0
	for _, m := range b.Moves {
		iw = max(iw, len(m.Instance))
		nw = max(nw, len(m.OldPrimary), len(m.OldSecondary), len(m.Primary), len(m.Secondary))
	}
	pw := 2*nw + 1
	for i, m := range b.Moves {
		fmt.Fprintf(&o, "  %3d. %-*s %-*s => %-*s %12.8f a=%s\n", i+1, iw, m.Instance, pw, pair(m.OldPrimary, m.OldSecondary), pw,
			pair(m.Primary, m.Secondary), m.Score, m.Code)
	}
	if len(b.Moves) == 0 {
		o.WriteString("No solution found\n")
	} else {
		fmt.Fprintf(&o, "Cluster score improved from %.8f to %.8f\n", b.InitialScore, b.FinalScore)
	}
	fmt.Fprintf(&o, "Solution length=%d\n", len(b.Moves))
	if b.Merged > 0 {
		fmt.Fprintf(&o, "(%d moves of the search merged: the same placement with fewer moves)\n", b.Merged)
	}
	if len(b.FinalBadNodes) > 0 {
		fmt.Fprintf(&o, "Nodes still failing N+1: %s\n", strings.Join(b.FinalBadNodes, ", "))
	}
	if b.Commands && len(b.Moves) > 0 {
		o.WriteString("Commands to run to reach the above solution:\n")
		o.WriteString(MoveCommands(b.Moves))
	}
	_, err := io.WriteString(w, o.String())
	return err
}

// Balances are several groups' solutions, one after the other.
type Balances []Balance

// Text prints each group's solution.
func (bs Balances) Text(w io.Writer) error {
	for i, b := range bs {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := b.Text(w); err != nil {
			return err
		}
	}
	return nil
}

func pair(p, s string) string {
	if s == "" {
		return p
	}
	return p + ":" + s
}

// gfmt is C's %.6g, as hbal prints its scores there.
func gfmt(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// MoveCommands are the ganetictl commands of moves, by job set as hbal
// -C prints them (a job set's moves touch disjoint nodes).
func MoveCommands(moves []Move) string {
	var o strings.Builder
	sets := map[int]int{}
	for _, m := range moves {
		sets[m.Jobset]++
	}
	n := 0
	for i, m := range moves {
		if i == 0 || m.Jobset != moves[i-1].Jobset {
			n = 0
			fmt.Fprintf(&o, "\necho jobset %d, %d jobs\n", m.Jobset, sets[m.Jobset])
		}
		n++
		fmt.Fprintf(&o, "  echo job %d/%d\n  check\n", m.Jobset, n)
		for _, op := range m.Ops {
			o.WriteString("  ganetictl instance " + OpCommand(op, m.Instance) + "\n")
		}
	}
	return o.String()
}

// OpCommand is the instance command line of an operation.
func OpCommand(op MoveOp, inst string) string {
	switch op.Op {
	case "replace-disks":
		return "replace-disks -n " + op.Node + " " + inst
	case "move":
		return "move -n " + op.Node + " " + inst
	}
	if op.Node != "" {
		return op.Op + " -f -n " + op.Node + " " + inst
	}
	return op.Op + " -f " + inst
}

// Moves are the moves an evacuation or a group change makes, and the
// instances it cannot move.
type Moves struct {
	What   string       `json:"operation"`
	Moves  []Move       `json:"moves"`
	Failed []MoveFailed `json:"failed"`
}

// MoveFailed is an instance that cannot move, and why.
type MoveFailed struct {
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

// Text lists the moves, one a line, then what cannot move.
func (m Moves) Text(w io.Writer) error {
	var o strings.Builder
	if len(m.Moves) == 0 && len(m.Failed) == 0 {
		fmt.Fprintf(&o, "%s: nothing to move\n", m.What)
	}
	for i, mv := range m.Moves {
		var ops []string
		for _, op := range mv.Ops {
			ops = append(ops, OpCommand(op, mv.Instance))
		}
		after := ""
		if len(mv.After) > 0 {
			var a []string
			for _, j := range mv.After {
				a = append(a, strconv.Itoa(j+1))
			}
			after = " (after " + strings.Join(a, ", ") + ")"
		}
		fmt.Fprintf(&o, "  %3d. %s %s => %s: %s%s\n", i+1, mv.Instance, pair(mv.OldPrimary, mv.OldSecondary), pair(mv.Primary, mv.Secondary),
			strings.Join(ops, "; "), after)
	}
	for _, f := range m.Failed {
		fmt.Fprintf(&o, "  cannot move %s: %s\n", f.Instance, f.Reason)
	}
	_, err := io.WriteString(w, o.String())
	return err
}

// CapacitySpec is an instance spec of a capacity run.
type CapacitySpec struct {
	Mem   int `json:"memory"`
	Dsk   int `json:"disk"`
	CPU   int `json:"vcpus"`
	Spn   int `json:"spindles"`
	Count int `json:"count,omitempty"`
}

// CapacityRun is one of hspace's runs.
type CapacityRun struct {
	Spec       CapacitySpec   `json:"spec"`
	Allocated  int            `json:"allocated"`
	Specs      []CapacitySpec `json:"specs,omitempty"`
	Reason     string         `json:"limiting"`
	Failures   map[string]int `json:"failures"`
	FinalScore float64        `json:"final_score"`
	// Efficiency is each resource's usage after the run, in percent.
	Efficiency [][2]string `json:"-"`
}

// CapacityGroup is a group's capacity for the standard spec.
type CapacityGroup struct {
	Group     string `json:"group"`
	Policy    string `json:"alloc_policy"`
	Allocated int    `json:"allocated"`
	Reason    string `json:"limiting"`
	Why       string `json:"why,omitempty"`
}

// Capacity is cluster capacity's answer (hspace).
type Capacity struct {
	Nodes        int             `json:"nodes"`
	Template     string          `json:"disk_template"`
	Existing     int             `json:"existing_instances"`
	Resources    [][2]string     `json:"-"` // MEM, DSK, CPU, VCPU (SPN)
	Spindles     bool            `json:"-"`
	InitialScore float64         `json:"initial_score"`
	Tiered       CapacityRun     `json:"tiered"`
	Standard     CapacityRun     `json:"standard"`
	Groups       []CapacityGroup `json:"groups"`
	BadGroups    []string        `json:"non_redundant_groups,omitempty"`
	// Keys are hspace --machine-readable's lines (without the prefix);
	// MachineReadable prints them instead of the summary.
	Keys            [][2]string `json:"-"`
	MachineReadable bool        `json:"-"`
}

// Text prints hspace's summary, or its HTS_ lines.
func (c Capacity) Text(w io.Writer) error {
	var o strings.Builder
	if c.MachineReadable {
		for _, kv := range c.Keys {
			fmt.Fprintf(&o, "HTS_%s=%s\n", kv[0], htsQuote(kv[1]))
		}
		_, err := io.WriteString(w, o.String())
		return err
	}
	var res []string
	for _, r := range c.Resources {
		res = append(res, r[0]+" "+r[1])
	}
	fmt.Fprintf(&o, "The cluster has %d nodes and the following resources:\n  %s.\n", c.Nodes, strings.Join(res, ", "))
	if c.Existing > 0 {
		fmt.Fprintf(&o, "There are %d initial instances on the cluster.\n", c.Existing)
	} else {
		o.WriteString("There are no initial instances on the cluster.\n")
	}
	spec := func(s CapacitySpec) string {
		out := fmt.Sprintf("MEM %d, DSK %d, CPU %d", s.Mem, s.Dsk, s.CPU)
		if c.Spindles {
			out += fmt.Sprintf(", SPN %d", s.Spn)
		}
		return out
	}
	summary := func(r CapacityRun) {
		fmt.Fprintf(&o, "  - most likely failure reason: %s\n", r.Reason)
		fmt.Fprintf(&o, "  - initial cluster score: %.8f\n", c.InitialScore)
		fmt.Fprintf(&o, "  -   final cluster score: %.8f\n", r.FinalScore)
		width := 0
		for _, e := range r.Efficiency {
			width = max(width, len(e[0]))
		}
		for _, e := range r.Efficiency {
			fmt.Fprintf(&o, "  - %*s usage efficiency: %s\n", width, e[0], e[1])
		}
	}
	fmt.Fprintf(&o, "Tiered (initial size) instance spec is:\n  %s, using disk template '%s'.\n", spec(c.Tiered.Spec), c.Template)
	o.WriteString("Tiered allocation results:\n")
	if len(c.Tiered.Specs) == 0 {
		o.WriteString("  - no instances allocated\n")
	}
	for _, s := range c.Tiered.Specs {
		fmt.Fprintf(&o, "  - %3d instances of spec %s\n", s.Count, spec(s))
	}
	summary(c.Tiered)
	fmt.Fprintf(&o, "Standard (fixed-size) instance spec is:\n  %s, using disk template '%s'.\n", spec(c.Standard.Spec), c.Template)
	o.WriteString("Normal (fixed-size) allocation results:\n")
	fmt.Fprintf(&o, "  - %3d instances allocated\n", c.Standard.Allocated)
	summary(c.Standard)
	if len(c.Groups) > 0 {
		o.WriteString("Per group (standard spec, each group alone):\n")
		for _, g := range c.Groups {
			line := fmt.Sprintf("  - %s (%s): %d instances, limited by %s", g.Group, g.Policy, g.Allocated, g.Reason)
			if g.Why != "" {
				line += "; " + g.Why
			}
			o.WriteString(line + "\n")
		}
	}
	_, err := io.WriteString(w, o.String())
	return err
}

// htsQuote quotes a value unless it is letters, digits and dots, as
// hspace does.
func htsQuote(v string) string {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.') {
			return "'" + v + "'"
		}
	}
	return v
}

// IAllocResponse is an iallocator's answer, printed as hail prints it.
type IAllocResponse struct {
	JSON []byte
}

// Text writes the answer's JSON on one line.
func (r IAllocResponse) Text(w io.Writer) error {
	_, err := w.Write(append(r.JSON, '\n'))
	return err
}

// MarshalJSON is the answer itself.
func (r IAllocResponse) MarshalJSON() ([]byte, error) { return r.JSON, nil }
