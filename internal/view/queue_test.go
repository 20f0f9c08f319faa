package view

import (
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

func TestQueueDrain(t *testing.T) {
	assertResult(t, QueueDrain{Drained: true, DryRun: true}, "Would set the drain flag: no new jobs would start\n",
		"{\n  \"drained\": true,\n  \"dry_run\": true\n}\n")
	assertResult(t, QueueDrain{DryRun: true}, "Would unset the drain flag\n", "{\n  \"drained\": false,\n  \"dry_run\": true\n}\n")
	assertResult(t, QueueDrain{Drained: true}, "", "{\n  \"drained\": true,\n  \"dry_run\": false\n}\n")
}

func TestQueueInfo(t *testing.T) {
	d := &statefile.DrainInfo{Who: "alice", Host: "ws", Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	checkResult(t, "queue_info", QueueInfo{Drain: d, Drained: true,
		Jobs: map[statefile.JobStatus]int{statefile.JobSuccess: 4, statefile.JobRunning: 1, statefile.JobCrashed: 2}})
	assertResult(t, QueueInfo{Jobs: map[statefile.JobStatus]int{}}, "The drain flag is unset\n",
		"{\n  \"drain\": null,\n  \"drained\": false,\n  \"jobs\": {}\n}\n")
}
