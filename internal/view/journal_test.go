package view

import (
	"bytes"
	"testing"
	"time"

	"github.com/ganetictl/ganetictl/statefile"
)

var jobT0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func testJob() *statefile.Job {
	return &statefile.Job{ID: 7, Who: "alice", Host: "ws", PID: 4242, Operation: "instance startup web1",
		Opcodes: []string{"INSTANCE_STARTUP(web1)"}, Status: statefile.JobError, Created: jobT0, Started: jobT0, Ended: jobT0.Add(3 * time.Second),
		Log: []string{"started by alice"},
		Steps: []statefile.StepRecord{
			{Stage: "start the instance", Node: "node1", Desc: "start web1", Status: statefile.JobError, Start: jobT0, End: jobT0.Add(1234 * time.Millisecond),
				Error: "exit status 1", Output: "qemu: no memory"},
			{Stage: "start the instance", Node: "node1", Desc: "stop web1", Undo: true, Status: statefile.JobSuccess, Start: jobT0.Add(2 * time.Second), End: jobT0.Add(3 * time.Second)},
		}}
}

func TestJobList(t *testing.T) {
	queued := &statefile.Job{ID: 8, Operation: "node add node4", Status: statefile.JobQueued, Created: jobT0}
	checkResult(t, "job_list", JobList{testJob(), queued})
	assertResult(t, JobList(nil), "ID Status Summary\n", "null\n")
}

func TestJobInfo(t *testing.T) {
	inUTC(t)
	checkResult(t, "job_info", JobInfo{Job: testJob()})
}

func TestJobWatchLines(t *testing.T) {
	inUTC(t)
	var b bytes.Buffer
	for _, st := range testJob().Steps {
		if err := JobStep(st).Text(&b); err != nil {
			t.Fatal(err)
		}
	}
	assertText(t, "steps", "10:00:01 node1: start web1 ... error: exit status 1\n10:00:03 node1: undo: stop web1 ... success\n", b.String())
	assertResult(t, JobEnded{ID: 7, Status: statefile.JobSuccess}, "Job 7 success\n", "{\n  \"job_id\": 7,\n  \"status\": \"success\"\n}\n")
}

func TestJobCancel(t *testing.T) {
	assertResult(t, JobCancel{ID: 7, PID: 4242, Host: "ws", DryRun: true}, "Would cancel job 7 (SIGINT to pid 4242 on ws)\n",
		"{\n  \"job_id\": 7,\n  \"pid\": 4242,\n  \"host\": \"ws\",\n  \"dry_run\": true\n}\n")
	text, _ := renderResult(t, JobCancel{ID: 7, PID: 4242, Host: "ws"})
	assertText(t, "cancelled", "Job 7 has been cancelled\n", text)
}

func TestJobArchive(t *testing.T) {
	assertResult(t, JobArchive{IDs: []int64{1, 2}, DryRun: true}, "Would archive 2 job(s): [1 2]\n",
		"{\n  \"job_ids\": [\n    1,\n    2\n  ],\n  \"dry_run\": true\n}\n")
	assertResult(t, JobArchive{IDs: []int64{3}}, "Archived 1 job(s)\n", "{\n  \"job_ids\": [\n    3\n  ],\n  \"dry_run\": false\n}\n")
}
