package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// Recovery, first step: choosing the state copy to start from.

// WorkstationSource names the controller's own state among the copies.
const WorkstationSource = "(workstation)"

// StateCopy is one copy of the state: a node's replica or the workstation's.
type StateCopy struct {
	Node  string           `json:"node"`
	State *statefile.State `json:"-"`
	Sum   string           `json:"sha256"`
}

// Serial and Lineage of the copy, for display.
func (c StateCopy) Serial() int64   { return c.State.Serial }
func (c StateCopy) Lineage() string { return c.State.Lineage }

// ParseCopy reads a node's state copy.
func ParseCopy(node string, b []byte) (StateCopy, error) {
	st, err := statefile.Read(strings.NewReader(string(b)))
	if err != nil {
		return StateCopy{}, fmt.Errorf("node %s: state copy: %w", node, err)
	}
	sum := sha256.Sum256(b)
	return StateCopy{Node: node, State: st, Sum: hex.EncodeToString(sum[:])}, nil
}

// LineageError is a choice between copies of different lineages that the
// caller must make (--lineage).
type LineageError struct {
	Lineages map[string][]StateCopy // lineage -> its copies, newest first
}

func (e *LineageError) Error() string {
	var b strings.Builder
	b.WriteString("the state copies belong to different clusters (lineages); pick one with --lineage:")
	for _, l := range slices.Sorted(maps.Keys(e.Lineages)) {
		cs := e.Lineages[l]
		var where []string
		for _, c := range cs {
			where = append(where, fmt.Sprintf("%s serial %d", c.Node, c.State.Serial))
		}
		fmt.Fprintf(&b, "\n  %s (cluster %s): %s", l, cs[0].State.Cluster.Name, strings.Join(where, ", "))
	}
	return b.String()
}

// NewestCopy picks the copy with the highest serial. Copies of different
// lineages are refused unless lineage names one; a lineage that no copy has
// is an error. Among copies of the newest serial the workstation's wins,
// then the one most nodes hold; copies of one serial with different content
// are reported in the notes (a split brain). It returns nil without error
// when there is no copy at all.
func NewestCopy(copies []StateCopy, lineage string) (*StateCopy, []RecoverNote, error) {
	byLineage := map[string][]StateCopy{}
	for _, c := range copies {
		byLineage[c.State.Lineage] = append(byLineage[c.State.Lineage], c)
	}
	for _, cs := range byLineage {
		sortCopies(cs)
	}
	var cs []StateCopy
	switch {
	case lineage != "":
		cs = byLineage[lineage]
		if len(cs) == 0 {
			if len(copies) == 0 {
				return nil, nil, prereq(ErrWrongInput, "no state copy found, so lineage %s cannot be chosen", lineage)
			}
			return nil, nil, prereq(ErrWrongInput, "no state copy has lineage %s (%s)", lineage, (&LineageError{Lineages: byLineage}).Error())
		}
	case len(byLineage) > 1:
		return nil, nil, &LineageError{Lineages: byLineage}
	case len(byLineage) == 1:
		for _, v := range byLineage {
			cs = v
		}
	default:
		return nil, nil, nil
	}
	var notes []RecoverNote
	newest := cs[0].State.Serial
	count := map[string]int{}
	var tied []StateCopy
	for _, c := range cs {
		if c.State.Serial == newest {
			tied = append(tied, c)
			count[c.Sum]++
		}
	}
	best := tied[0]
	for _, c := range tied {
		if c.Node == WorkstationSource {
			best = c
			break
		}
		if count[c.Sum] > count[best.Sum] {
			best = c
		}
	}
	if len(count) > 1 {
		var diff []string
		for _, c := range tied {
			if c.Sum != best.Sum {
				diff = append(diff, c.Node)
			}
		}
		notes = append(notes, RecoverNote{Kind: NoteAmbiguous, Object: "state",
			Message: fmt.Sprintf("copies of serial %d differ: took %s's, %s hold(s) another version of the same serial", newest, best.Node, strings.Join(diff, ", "))})
	}
	for _, c := range cs {
		if c.State.Serial < newest {
			notes = append(notes, RecoverNote{Kind: NoteInfo, Object: "node " + c.Node,
				Message: fmt.Sprintf("holds an older copy (serial %d)", c.State.Serial)})
		}
	}
	for l, others := range byLineage {
		if l != best.State.Lineage {
			for _, c := range others {
				notes = append(notes, RecoverNote{Kind: NoteInfo, Object: "node " + c.Node,
					Message: fmt.Sprintf("holds a copy of another lineage %s (serial %d), ignored", l, c.State.Serial)})
			}
		}
	}
	return &best, notes, nil
}

// sortCopies orders copies newest first, the workstation first among equals,
// then by node name.
func sortCopies(cs []StateCopy) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.State.Serial != b.State.Serial {
			return a.State.Serial > b.State.Serial
		}
		if (a.Node == WorkstationSource) != (b.Node == WorkstationSource) {
			return a.Node == WorkstationSource
		}
		return a.Node < b.Node
	})
}
