package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQueueDrainUndrain(t *testing.T) {
	c := newCLI(t)
	c.mustRun("state", "import", ganetiConfig)
	if out := c.mustRun("--dry-run", "cluster", "queue", "drain"); out != "Would set the drain flag: no new jobs would start\n" {
		t.Errorf("dry-run drain: %q", out)
	}
	if out := c.mustRun("cluster", "queue", "info"); out != "The drain flag is unset\n" {
		t.Errorf("info after a dry run: %q", out)
	}
	if out, errOut := c.mustRunErr("cluster", "queue", "drain"); out != "" || errOut != "" {
		t.Errorf("drain printed %q %q", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "queue.drained")); err != nil {
		t.Errorf("no drain flag: %v", err)
	}
	if out := c.mustRun("cluster", "queue", "info"); !strings.HasPrefix(out, "The drain flag is set (by ") {
		t.Errorf("info when drained: %q", out)
	}
	var info struct {
		Drained bool `json:"drained"`
		Drain   struct {
			Who string `json:"who"`
		} `json:"drain"`
		Jobs map[string]int `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("--json", "cluster", "queue", "info")), &info); err != nil || !info.Drained || info.Drain.Who == "" {
		t.Errorf("--json info: %+v %v", info, err)
	}
	if out := c.mustRun("--dry-run", "cluster", "queue", "undrain"); out != "Would unset the drain flag\n" {
		t.Errorf("dry-run undrain: %q", out)
	}
	if out := c.mustRun("--json", "cluster", "queue", "undrain"); out != "{\n  \"drained\": false,\n  \"dry_run\": false\n}\n" {
		t.Errorf("--json undrain: %q", out)
	}
	if out := c.mustRun("cluster", "queue", "info"); out != "The drain flag is unset\n" {
		t.Errorf("info after undrain: %q", out)
	}
	c.mustRun("cluster", "queue", "undrain") // undraining an undrained queue is fine
}
