package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks"
)

// copyFlags are the transfer flags of the commands that copy disks.
type copyFlags struct {
	Compress          string        `name:"compress" enum:"none,zstd" default:"none" help:"Compress the stream: none or zstd."`
	InsecureTransport bool          `name:"insecure-transport" help:"Copy over plain TCP, unauthenticated and unencrypted (trusted replication networks only)."`
	IdleTimeout       time.Duration `name:"transfer-idle-timeout" default:"30s" help:"Fail a copy that moves no byte for this long."`
	RateLimit         string        `name:"rate-limit" placeholder:"RATE" help:"Cap each copy at RATE bytes a second, e.g. 100M (K, M, G: powers of 1024)."`
}

func (f copyFlags) options() (playbooks.CopyOptions, error) {
	o := playbooks.CopyOptions{Compress: f.Compress,
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

// InstanceMoveCmd is gnt-instance move.
type InstanceMoveCmd struct {
	Force           bool          `short:"f" name:"force"`
	Target          string        `short:"n" name:"target-node" required:"" help:"Node to move the instance to."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"2m"`
	copyFlags
	Name string `arg:""`
}

func (c *InstanceMoveCmd) Run(ctx context.Context, g *Globals) error {
	copts, err := c.options()
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.close()
	end := a.streamEvents()
	return end(a.run(ctx, playbooks.InstanceMoveOp.With(playbooks.MoveArgs{Name: c.Name, Target: c.Target,
		ShutdownTimeout: c.ShutdownTimeout, Copy: copts})))
}
