// Package ganeticonfig converts a Ganeti config.data (the JSON document the
// master keeps in /var/lib/ganeti) into a ganetictl state, so that a running
// Ganeti cluster can be taken over without recreating anything.
//
// Ganeti 2.7 to 3.1 are understood. The layouts differ over time: old
// configs key nodes and instances by name and refer to nodes by name, newer
// ones use UUIDs; old configs embed disks in their instances, newer ones keep
// them as top-level objects that instances list by UUID; old dev types are
// "lvm" and "drbd8", and old instances carry disk_template. Every reference
// is resolved whichever way it is written, so no version switch is needed.
package ganeticonfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// Supported config versions (1000000*major + 10000*minor + revision).
const (
	MinVersion = 2070000
	MaxVersion = 3010000
)

// Result is a converted configuration.
type Result struct {
	State *statefile.State
	// Version is the Ganeti config version, as "2.16.0".
	Version string
	// Serial is config.data's own serial_no (not the state's serial).
	Serial int64
	// Warnings list what was not carried over or looks wrong but does not
	// stop the import, one line each.
	Warnings []string
}

// Options adjust Convert; the zero value is fine.
type Options struct {
	// NewID gives UUIDs to objects that have none in old configs (disk
	// children, NICs of 2.7); nil means statefile.NewUUID.
	NewID func() string
	// Lineage of the new state; "" means statefile.NewLineage().
	Lineage string
}

// Error lists every problem that stops a config from being imported.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "cannot import the Ganeti configuration: " + e.Problems[0]
	}
	return fmt.Sprintf("cannot import the Ganeti configuration (%d problems):\n  - %s",
		len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// FormatError reports a file that is not a Ganeti config.data at all, or one
// of a version this build does not read.
type FormatError struct {
	Msg string
}

func (e *FormatError) Error() string { return e.Msg }

// errHint says where the right file is.
const errHint = "pass the config.data of the cluster's master node (by default /var/lib/ganeti/config.data)"

// Convert reads config.data bytes into a new state. A file that is not a
// config.data gives *FormatError; one whose objects cannot be mapped gives
// *Error listing every problem found.
func Convert(data []byte, o Options) (*Result, error) {
	if o.NewID == nil {
		o.NewID = statefile.NewUUID
	}
	if o.Lineage == "" {
		o.Lineage = statefile.NewLineage()
	}
	var cfg config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return nil, &FormatError{fmt.Sprintf("not a Ganeti config.data: %v; %s", jsonError(data, err), errHint)}
	}
	if cfg.Version == nil || cfg.Cluster == nil {
		return nil, &FormatError{"not a Ganeti config.data: no \"version\" or \"cluster\" key; " + errHint}
	}
	v := *cfg.Version
	vs := versionString(v)
	switch {
	case v < MinVersion:
		return nil, &FormatError{fmt.Sprintf("Ganeti config version %s is too old: ganetictl imports versions %s to %s; "+
			"upgrade the cluster to Ganeti 2.7 or later first (install it and run cfgupgrade, see Ganeti's upgrade notes), then import the upgraded config.data",
			vs, versionString(MinVersion), versionString(MaxVersion))}
	case v/1000000 > MaxVersion/1000000:
		return nil, &FormatError{fmt.Sprintf("Ganeti config version %s is newer than this ganetictl understands (%s to %s); "+
			"use a newer ganetictl, or export from a Ganeti %s cluster", vs, versionString(MinVersion), versionString(MaxVersion), versionString(MaxVersion))}
	}
	c := &converter{cfg: &cfg, opts: o, res: &Result{Version: vs, Serial: cfg.Serial}}
	if v > MaxVersion {
		c.warn("Ganeti config version %s is newer than the newest known (%s): fields it added are not imported", vs, versionString(MaxVersion))
	}
	c.convert()
	if len(c.problems) > 0 {
		return nil, &Error{Problems: c.problems}
	}
	return c.res, nil
}

func versionString(v int) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/10000%100, v%10000)
}

// jsonError adds the line and column to a syntax error.
func jsonError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early (is the file truncated?)"
	default:
		return err.Error()
	}
	line := 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:min(int(off), len(data))], '\n') - 1
	return fmt.Sprintf("line %d column %d: %v", line, col, err)
}
