package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// drainFile in the state directory marks the job queue as drained: no new
// job starts (gnt-cluster queue drain). Resume and abort of crashed jobs
// still run: they finish work already begun.
const drainFile = "queue.drained"

type drainInfo struct {
	Who  string    `json:"who"`
	Host string    `json:"host"`
	Time time.Time `json:"time"`
}

func (a *app) drained() (*drainInfo, bool) {
	b, err := os.ReadFile(filepath.Join(a.store.Dir, drainFile))
	if err != nil {
		return nil, false
	}
	var d drainInfo
	_ = json.Unmarshal(b, &d)
	return &d, true
}

// checkQueue refuses a new job while the queue is drained.
func (a *app) checkQueue() error { return a.eng.Admit() }

// ClusterQueueCmd is gnt-cluster queue.
type ClusterQueueCmd struct {
	Drain   ClusterQueueDrainCmd   `cmd:"" help:"Stop new jobs from starting (running ones finish)."`
	Undrain ClusterQueueUndrainCmd `cmd:"" help:"Let new jobs start again."`
	Info    ClusterQueueInfoCmd    `cmd:"" help:"Show whether the queue is drained and what runs."`
}

// ClusterQueueDrainCmd sets the drain flag.
type ClusterQueueDrainCmd struct{}

func (c *ClusterQueueDrainCmd) Run(g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if g.DryRun {
		fmt.Fprintln(g.streams.Out, "Would set the drain flag: no new jobs would start")
		return nil
	}
	info := statefile.NewLockInfo("", "")
	b, _ := json.Marshal(drainInfo{Who: info.Who, Host: info.Host, Time: time.Now().UTC()})
	return os.WriteFile(filepath.Join(a.store.Dir, drainFile), b, 0o600)
}

// ClusterQueueUndrainCmd clears the drain flag.
type ClusterQueueUndrainCmd struct{}

func (c *ClusterQueueUndrainCmd) Run(g *Globals) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	if g.DryRun {
		fmt.Fprintln(g.streams.Out, "Would unset the drain flag")
		return nil
	}
	if err := os.Remove(filepath.Join(a.store.Dir, drainFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ClusterQueueInfoCmd prints the drain flag and the active jobs.
type ClusterQueueInfoCmd struct{}

func (c *ClusterQueueInfoCmd) Run(ctx context.Context, g *Globals, s view.Streams) error {
	a, err := g.openStore()
	if err != nil {
		return err
	}
	defer a.close()
	d, drained := a.drained()
	j, err := a.store.Journal()
	if err != nil {
		return err
	}
	jobs, err := j.List(ctx)
	if err != nil {
		return err
	}
	counts := map[statefile.JobStatus]int{}
	for _, job := range jobs {
		counts[job.Status]++
	}
	if g.JSON {
		return view.JSON(s.Out, map[string]any{"drained": drained, "drain": d, "jobs": counts})
	}
	if drained {
		fmt.Fprintf(s.Out, "The drain flag is set (by %s@%s at %s)\n", d.Who, d.Host, d.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintln(s.Out, "The drain flag is unset")
	}
	for _, st := range []statefile.JobStatus{statefile.JobQueued, statefile.JobWaiting, statefile.JobRunning, statefile.JobCrashed} {
		if counts[st] > 0 {
			fmt.Fprintf(s.Out, "%d job(s) %s\n", counts[st], st)
		}
	}
	return nil
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
	if g.JSON {
		return view.JSON(s.Out, map[string]int64{"job_id": job.ID})
	}
	fmt.Fprintf(s.Out, "JobID: %d\n", job.ID)
	return nil
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
