// Command benchtool supports make bench: it runs a ganetictl plan's node
// commands the way an admin would by hand (OpenSSH, one shared connection
// per node), and fills a state with many instances for list benchmarks.
// It is a benchmark aid, not part of ganetictl.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool run-plan SSH_CONFIG < plan.json | populate STATE_DIR N | backends INVENTORY ETCD_ENDPOINTS N | gen-cluster NODES SEED")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run-plan":
		err = runPlan(os.Args[2])
	case "backends":
		n, _ := strconv.Atoi(os.Args[4])
		err = backends(os.Args[2], os.Args[3], n)
	case "gen-cluster":
		err = genCluster(os.Args[2:])
	case "populate":
		n, _ := strconv.Atoi(os.Args[3])
		err = populate(os.Args[2], n)
	default:
		err = fmt.Errorf("unknown verb %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// runPlan executes every step of the plan on stdin with ssh, stage by
// stage, steps of a stage in parallel, as a careful admin's script would.
func runPlan(sshConfig string) error {
	var p plan.Plan
	if err := json.NewDecoder(os.Stdin).Decode(&p); err != nil {
		return err
	}
	ctl := filepath.Join(os.TempDir(), "benchtool-%r@%h")
	ssh := func(node string, stdin []byte, argv ...string) error {
		args := []string{"-F", sshConfig, "-o", "ControlMaster=auto", "-o", "ControlPath=" + ctl, "-o", "ControlPersist=60", node, remote.Quote(argv)}
		cmd := exec.Command("ssh", args...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %w: %s", node, argv, err, out)
		}
		return nil
	}
	for _, st := range p.Stages {
		errs := make(chan error, len(st.Steps))
		for _, s := range st.Steps {
			go func() {
				if len(s.Argv) == 0 {
					errs <- ssh(s.Node, s.Content, "sh", "-c", `cat > "$1" && chmod "$2" "$1"`, "up", s.Path, fmt.Sprintf("%o", s.Mode))
					return
				}
				errs <- ssh(s.Node, nil, s.Argv...)
			}()
		}
		for range st.Steps {
			if err := <-errs; err != nil {
				return err
			}
		}
	}
	return nil
}

// populate adds n stopped diskless instances spread over the state's nodes.
func populate(dir string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := statefile.OpenDir(dir)
	if err != nil {
		return err
	}
	lk, err := store.Lock(ctx, statefile.NewLockInfo("benchtool populate", "bench"))
	if err != nil {
		return err
	}
	defer lk.Unlock()
	st, err := store.Read(ctx)
	if err != nil {
		return err
	}
	nodes := st.NodeNames()
	now := time.Now()
	for i := range n {
		name := fmt.Sprintf("bench%03d", i)
		st.Instances[name] = &statefile.Instance{
			Meta: statefile.Meta{UUID: statefile.NewUUID(), Serial: 1, Ctime: now, Mtime: now}, Name: name,
			PrimaryNode: nodes[i%len(nodes)], OS: "testos", Hypervisor: "kvm", AdminState: "down", DiskTemplate: "diskless",
			Disks: []*statefile.Disk{}, NICs: []*statefile.NIC{{UUID: statefile.NewUUID(), MAC: fmt.Sprintf("aa:00:01:00:%02x:%02x", i/256, i%256),
				NICParams: statefile.Params{"mode": "bridged", "link": "br0"}}}, Tags: []string{},
		}
	}
	_, err = store.Write(ctx, lk, st)
	return err
}
