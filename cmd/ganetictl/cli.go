package main

import (
	"time"

	"github.com/ganetictl/ganetictl/internal/view"
)

// CLI is the command tree: ganetictl <noun> <verb> [flags] [args], with the
// verbs and flags of Ganeti's gnt-<noun> commands.
type CLI struct {
	Globals

	Cluster  ClusterCmd  `cmd:"" help:"Cluster-wide operations (gnt-cluster)."`
	Node     NodeCmd     `cmd:"" help:"Node operations (gnt-node)."`
	Instance InstanceCmd `cmd:"" help:"Instance operations (gnt-instance)."`
	Group    GroupCmd    `cmd:"" help:"Node groups (gnt-group)."`
	Network  NetworkCmd  `cmd:"" help:"IP networks and their pools (gnt-network)."`
	Backup   BackupCmd   `cmd:"" help:"Instance exports and imports (gnt-backup)."`
	OS       OSCmd       `cmd:"" name:"os" help:"OS definitions on the nodes (gnt-os)."`
	State    StateCmd    `cmd:"" help:"Inspect the state file, its history and lock."`
	Job      JobCmd      `cmd:"" help:"The journal of operations (gnt-job)."`
	Plan     PlanCmd     `cmd:"" help:"Plan the operations that make the cluster match a desired-state file."`
	Apply    ApplyCmd    `cmd:"" help:"Apply a saved plan (FILE from --plan-out) or a desired-state file (-f)."`
	Version  VersionCmd  `cmd:"" help:"Print ganetictl's version."`
	Watcher  WatcherCmd  `cmd:"" help:"One maintenance pass (ganeti-watcher): restart instances that died, reactivate disks, archive old jobs."`
	Harep    HarepCmd    `cmd:"" help:"One auto-repair pass (harep), as the ganeti:watcher:autorepair:* tags allow."`
	Burnin   BurninCmd   `cmd:"" help:"Exercise the cluster with the whole life of new instances (Ganeti's burnin)."`
}

// Globals are the flags every command takes.
type Globals struct {
	Inventory string `help:"Cluster inventory file." env:"GANETICTL_INVENTORY" default:"cluster.toml" type:"path" short:"i"`
	StateDir  string `help:"State directory (default: from the inventory)." env:"GANETICTL_STATE_DIR" type:"path"`
	DryRun    bool   `help:"Print the plan and change nothing." name:"dry-run"`
	PlanOut   string `help:"Save the plan to this file and change nothing; apply FILE carries it out once." name:"plan-out" type:"path"`
	JSON      bool   `help:"Machine-readable output on stdout." name:"json"`
	Yes       bool   `help:"Answer yes to confirmation prompts."`
	Parallel  int    `help:"Bound on concurrent node sessions (default: from the inventory)."`
	Verbose   bool   `help:"Log every node command with node, exit code and duration to stderr." short:"v"`
	// LockTimeout bounds the wait for another job's object locks.
	LockTimeout time.Duration `help:"How long to wait for objects locked by another ganetictl (0: fail at once)." name:"lock-timeout" default:"2m"`
	Submit      bool          `help:"Run the job in the background: print its ID and return (follow it with job watch ID)."`
	// Ganeti's common options (ganeti(7)).
	PrintJobID bool   `name:"print-jobid" help:"Print the job ID (JobID: N) when the job starts."`
	Reason     string `name:"reason" help:"Why: kept in the job's journal entry (job info)."`
	Priority   string `name:"priority" enum:"low,normal,high," default:"" help:"Job priority: low, normal or high (recorded; jobs do not wait in a queue)."`
	Debug      bool   `short:"d" name:"debug" help:"As -v."`

	streams view.Streams
	version string
	rehome  string // cluster recover --rehome: the node to open the cluster backend's store on
}

// VersionCmd prints the version.
type VersionCmd struct{}

func (c *VersionCmd) Run(g *Globals) error {
	return g.printer().Result(view.Version{Version: g.version})
}

// printer is how the commands that open nothing print.
func (g *Globals) printer() view.Printer {
	return view.Printer{Streams: g.streams, JSON: g.JSON}
}
