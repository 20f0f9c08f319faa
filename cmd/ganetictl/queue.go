package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
	"github.com/ganetictl/ganetictl/statefile"
)

// checkQueue refuses a new job while the queue is drained.
func (a *app) checkQueue() error { return a.eng.Admit() }

// ClusterQueueCmd is gnt-cluster queue.
type ClusterQueueCmd struct {
	Drain   ClusterQueueDrainCmd   `cmd:"" help:"Stop new jobs from starting (running ones finish)."`
	Undrain ClusterQueueUndrainCmd `cmd:"" help:"Let new jobs start again."`
	Info    ClusterQueueInfoCmd    `cmd:"" help:"Show whether the queue is drained and what runs."`
}

// ClusterQueueDrainCmd sets the drain flag: no new job starts (resume and
// abort of crashed jobs still run: they finish work already begun).
type ClusterQueueDrainCmd struct{}

func (c *ClusterQueueDrainCmd) Run(g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if !g.DryRun {
		if err := a.store.SetDrained(statefile.DrainInfo{}); err != nil {
			return err
		}
	}
	return a.pr.Result(view.QueueDrain{Drained: true, DryRun: g.DryRun})
}

// ClusterQueueUndrainCmd clears the drain flag.
type ClusterQueueUndrainCmd struct{}

func (c *ClusterQueueUndrainCmd) Run(g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if !g.DryRun {
		if err := a.store.Undrain(); err != nil {
			return err
		}
	}
	return a.pr.Result(view.QueueDrain{Drained: false, DryRun: g.DryRun})
}

// ClusterQueueInfoCmd prints the drain flag and the active jobs.
type ClusterQueueInfoCmd struct{}

func (c *ClusterQueueInfoCmd) Run(ctx context.Context, g *Globals) error {
	a, j, err := g.openJournal()
	if err != nil {
		return err
	}
	defer a.close()
	d, drained, err := a.store.Drained()
	if err != nil {
		return err
	}
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	info := view.QueueInfo{Drained: drained, Jobs: map[statefile.JobStatus]int{}}
	if drained {
		info.Drain = &d
	}
	for _, job := range jobs {
		info.Jobs[job.Status]++
	}
	return a.pr.Result(info)
}

// jobEnv carries a submitted job's ID to the background process that runs it.
const jobEnv = "GANETICTL_JOB"

// submittedJob is the queued job this process was started to run, or 0.
func submittedJob() int64 {
	id, _ := strconv.ParseInt(os.Getenv(jobEnv), 10, 64)
	return id
}

// submit queues the command as a job and starts it in the background, in
// its own session (it outlives the terminal), its output in the journal
// beside the job. It prints the job ID, as gnt-* --submit does.
func submit(ctx context.Context, g *Globals, s view.Streams, args []string) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.checkQueue(); err != nil {
		return err
	}
	j, err := a.store.Journal()
	if err != nil {
		return err
	}
	job := &statefile.Job{Operation: a.eng.Command, Status: statefile.JobQueued}
	if err := j.Create(ctx, job); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--submit" })
	out, err := os.OpenFile(filepath.Join(j.Dir, strconv.FormatInt(job.ID, 10)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(self, append([]string{"--yes"}, args...)...)
	cmd.Env = append(os.Environ(), jobEnv+"="+strconv.FormatInt(job.ID, 10))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		job.Status, job.Log = statefile.JobError, []string{err.Error()}
		_ = j.Update(ctx, job)
		return fmt.Errorf("start the job: %w", err)
	}
	// The queued job names the background process until it takes the job
	// over, so that a process dying before that shows as crashed.
	job.PID = cmd.Process.Pid
	if err := j.Update(ctx, job); err != nil {
		return err
	}
	_ = cmd.Process.Release()
	return g.printer().Result(view.Submitted{JobID: job.ID})
}

// endSubmitted records the outcome of a submitted job that ended before it
// started running (a refused prerequisite, say): otherwise it would stay
// queued, and then look crashed.
func endSubmitted(g *Globals, runErr error) {
	id := submittedJob()
	if id == 0 {
		return
	}
	a, err := g.openStore()
	if err != nil {
		return
	}
	defer a.close()
	j, err := a.store.Journal()
	if err != nil {
		return
	}
	ctx := context.Background()
	job, err := j.Get(ctx, id)
	if err != nil || (job.Status != statefile.JobQueued && job.Status != statefile.JobCrashed) || len(job.Steps) > 0 {
		return
	}
	job.Status, job.Ended, job.PID = statefile.JobSuccess, time.Now(), os.Getpid()
	if runErr != nil {
		job.Status = statefile.JobError
		if errors.Is(runErr, context.Canceled) {
			job.Status = statefile.JobCanceled // job cancel while it waited for locks
		}
		job.Log = append(job.Log, runErr.Error())
	}
	_ = j.Update(ctx, job)
}
