package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
	"github.com/ganetictl/ganetictl/transfer"
)

// copyFlags are the transfer flags of the commands that copy disks.
type copyFlags struct {
	Compress          string        `name:"compress" enum:"none,zstd" default:"none" help:"Compress the stream: none or zstd."`
	InsecureTransport bool          `name:"insecure-transport" help:"Copy over plain TCP, unauthenticated and unencrypted (trusted replication networks only)."`
	IdleTimeout       time.Duration `name:"transfer-idle-timeout" default:"30s" help:"Fail a copy that moves no byte for this long."`
	RateLimit         string        `name:"rate-limit" placeholder:"RATE" help:"Cap each copy at RATE bytes a second, e.g. 100M (K, M, G: powers of 1024)."`
}

func (f copyFlags) options(helpers map[string]playbooks.Helper) (playbooks.CopyOptions, error) {
	o := playbooks.CopyOptions{Helpers: helpers, NewIdentity: transfer.NewIdentity, Compress: f.Compress,
		InsecureTransport: f.InsecureTransport, IdleTimeout: f.IdleTimeout}
	if f.RateLimit != "" {
		n, err := parseRate(f.RateLimit)
		if err != nil {
			return o, invalid("--rate-limit %q: %v", f.RateLimit, err)
		}
		o.RateLimit = n
	}
	return o, nil
}

// parseRate reads a byte rate: a number with an optional K, M, G or T
// (powers of 1024, as Ganeti's sizes) and an optional "/s" or "B/s".
func parseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "/s"), "B")
	mult := int64(1)
	if t != "" {
		switch strings.ToUpper(t[len(t)-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) < 1024 {
		return 0, errors.New("want a rate of at least 1K, e.g. 100M")
	}
	return int64(f * float64(mult)), nil
}

// instanceCopy uploads (or checks) the copy helpers on instance name's
// primary and on target, and gives the copy options of f with them.
func (a *app) instanceCopy(ctx context.Context, st *statefile.State, name, target string, f copyFlags) (playbooks.CopyOptions, error) {
	inst, ok := st.Instances[name]
	if !ok {
		return playbooks.CopyOptions{}, &playbooks.PrereqError{Type: playbooks.ErrUnknownEntity, Msg: fmt.Sprintf("Instance '%s' not known", name)}
	}
	helpers, err := a.ensureHelpers(ctx, []string{inst.PrimaryNode, target})
	if err != nil {
		return playbooks.CopyOptions{}, err
	}
	return f.options(helpers)
}

// InstanceMoveCmd is gnt-instance move.
type InstanceMoveCmd struct {
	Force           bool          `short:"f" name:"force"`
	Target          string        `short:"n" name:"target-node" required:"" help:"Node to move the instance to."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m"`
	copyFlags
	Name string `arg:""`
}

func (c *InstanceMoveCmd) Run(ctx context.Context, g *Globals) error {
	a, st, err := g.openState(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	copts, err := a.instanceCopy(ctx, st, c.Name, c.Target, c.copyFlags)
	if err != nil {
		return err
	}
	facts := moveFacts(c.Name, c.Target)
	facts.parts = nil // all: the target's free space too
	end := a.streamEvents()
	return end(a.mutate(ctx, "instance move "+c.Name, facts, func(env playbooks.Env) (*plan.Plan, error) {
		return playbooks.Move(env, playbooks.MoveArgs{Name: c.Name, Target: c.Target, ShutdownTimeout: c.ShutdownTimeout, Copy: copts})
	}))
}
