package view

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

// QueueDrain is `cluster queue drain` and `undrain`: Drained says which
// (the queue's state afterwards). People see only a dry run's line.
type QueueDrain struct {
	Drained bool `json:"drained"`
	DryRun  bool `json:"dry_run"`
}

// Text writes what a dry run would do; nothing otherwise.
func (q QueueDrain) Text(w io.Writer) error {
	var err error
	switch {
	case !q.DryRun:
	case q.Drained:
		_, err = fmt.Fprintln(w, "Would set the drain flag: no new jobs would start")
	default:
		_, err = fmt.Fprintln(w, "Would unset the drain flag")
	}
	return err
}

// QueueInfo is `cluster queue info`: the drain flag and how many jobs are
// in each state.
type QueueInfo struct {
	Drain   *statefile.DrainInfo        `json:"drain"` // who drained it; null when not drained
	Drained bool                        `json:"drained"`
	Jobs    map[statefile.JobStatus]int `json:"jobs"`
}

// Text writes the flag, then the jobs not finished, in their order of
// progress.
func (q QueueInfo) Text(w io.Writer) error {
	var b strings.Builder
	if q.Drained && q.Drain != nil {
		fmt.Fprintf(&b, "The drain flag is set (by %s@%s at %s)\n", q.Drain.Who, q.Drain.Host, q.Drain.Time.Format(time.RFC3339))
	} else if q.Drained {
		b.WriteString("The drain flag is set\n")
	} else {
		b.WriteString("The drain flag is unset\n")
	}
	for _, st := range []statefile.JobStatus{statefile.JobQueued, statefile.JobWaiting, statefile.JobRunning, statefile.JobCrashed} {
		if q.Jobs[st] > 0 {
			fmt.Fprintf(&b, "%d job(s) %s\n", q.Jobs[st], st)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
