package view

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// HarepReport is one harep run: what it did to each instance it looked
// at, in Ganeti's words, and how many instances are in each state.
type HarepReport struct {
	Instances []HarepInstance `json:"instances"`
	Counts    map[string]int  `json:"counts"` // state name -> instances
	// Acted is true when tags were written or repairs run; Failed counts
	// the repairs that failed and the instances harep could not handle.
	Acted  bool `json:"acted"`
	Failed int  `json:"failed"`
}

// HarepInstance is one instance's part of a run.
type HarepInstance struct {
	Name     string   `json:"name"`
	State    string   `json:"state"` // after the run: Healthy, Needs repair, Pending repair, Failure
	Repair   string   `json:"repair,omitempty"`
	Result   string   `json:"result,omitempty"`
	Tag      string   `json:"tag,omitempty"` // the repair's newest tag
	Jobs     []int64  `json:"jobs,omitempty"`
	Messages []string `json:"messages"`
}

// Text writes each instance's messages, then Ganeti's status count.
func (r HarepReport) Text(w io.Writer) error {
	var b strings.Builder
	for _, i := range r.Instances {
		for _, m := range i.Messages {
			b.WriteString(m + "\n")
		}
	}
	b.WriteString("---------------------\nInstance status count\n---------------------\n")
	names := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %d\n", k, r.Counts[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
