package main

import (
	"context"
	"os"

	"github.com/ganetictl/ganetictl/ganeticonfig"
	"github.com/ganetictl/ganetictl/internal/view"
)

// StateSanitizeCmd is Ganeti's sanitize-config: the state (or a Ganeti
// config.data, --path) with its secrets randomised and, unless
// --no-randomization, its names, addresses and OS names replaced, for a
// bug report or as a layout-only safety copy.
type StateSanitizeCmd struct {
	Path            string `name:"path" type:"path" help:"Sanitize this file (a Ganeti config.data or a ganetictl state) instead of the current state."`
	SanitizeNames   yesNo  `name:"sanitize-names" default:"yes" help:"Randomize the cluster, node and instance names [yes]."`
	SanitizeIPs     yesNo  `name:"sanitize-ips" default:"yes" help:"Randomize the cluster, node and instance IPs [yes]."`
	SanitizeLVs     yesNo  `name:"sanitize-lvs" default:"no" help:"Randomize the LV names (for old clusters) [no]."`
	SanitizeOSNames yesNo  `name:"sanitize-os-names" default:"yes" help:"Randomize the OS names [yes]."`
	NoRandomization bool   `name:"no-randomization" help:"Only randomize the secrets (DRBD secrets, host keys, private OS parameters)."`
	BaseDomain      string `name:"base-domain" default:"example.com" help:"The base domain of the new names."`
	Output          string `arg:"" optional:"" default:"-" help:"Where to write the result (- for stdout)."`
}

func (c *StateSanitizeCmd) Run(ctx context.Context, g *Globals) error {
	o := ganeticonfig.SanitizeOptions{BaseDomain: c.BaseDomain, Random: randomBytes}
	for _, f := range []struct {
		v    yesNo
		name string
		dst  *bool
	}{{c.SanitizeNames, "--sanitize-names", &o.Names}, {c.SanitizeIPs, "--sanitize-ips", &o.IPs},
		{c.SanitizeLVs, "--sanitize-lvs", &o.LVs}, {c.SanitizeOSNames, "--sanitize-os-names", &o.OSNames}} {
		p, err := f.v.ptr(f.name)
		if err != nil {
			return err
		}
		*f.dst = p != nil && *p
	}
	if c.NoRandomization {
		o.Names, o.IPs, o.LVs, o.OSNames = false, false, false, false
	}
	var data []byte
	pr := g.printer()
	if c.Path != "" {
		b, err := os.ReadFile(c.Path)
		if err != nil {
			return invalid("%v", err)
		}
		data = b
	} else {
		a, err := g.openStore()
		if err != nil {
			return err
		}
		defer a.close()
		if data, err = a.store.ReadRaw(ctx); err != nil {
			return err
		}
	}
	out, err := ganeticonfig.Sanitize(data, o)
	if err != nil {
		return invalid("%v", err)
	}
	if c.Output != "-" && c.Output != "" {
		return os.WriteFile(c.Output, out, 0o600)
	}
	return pr.Result(view.SanitizedConfig(out))
}
