package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestWatcherPauseCommands(t *testing.T) {
	c := newCLI(t)
	c.mustRun("state", "import", ganetiConfig)
	if out := c.mustRun("cluster", "watcher", "info"); out != "The watcher is not paused.\n" {
		t.Errorf("info: %q", out)
	}
	out := c.mustRun("cluster", "watcher", "pause", "1h")
	if !strings.HasPrefix(out, "The watcher is paused until ") || !strings.HasSuffix(out, ".\n") {
		t.Errorf("pause: %q", out)
	}
	if info := c.mustRun("cluster", "watcher", "info"); info != out {
		t.Errorf("info after pause %q, pause said %q", info, out)
	}
	var p struct {
		Paused bool   `json:"paused"`
		Until  string `json:"until"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("--json", "cluster", "watcher", "info")), &p); err != nil || !p.Paused || p.Until == "" {
		t.Errorf("--json info: %+v %v", p, err)
	}
	if out := c.mustRun("cluster", "watcher", "continue"); out != "The watcher is no longer paused.\n" {
		t.Errorf("continue: %q", out)
	}
	if out := c.mustRun("cluster", "watcher", "info"); out != "The watcher is not paused.\n" {
		t.Errorf("info after continue: %q", out)
	}
}

func TestToolLinks(t *testing.T) {
	for argv0, want := range map[string][]string{
		"/usr/sbin/ganeti-watcher": {"watcher", "-d"},
		"harep":                    {"harep", "-d"},
		"sanitize-config":          {"state", "sanitize", "-d"},
		"lvmstrap":                 {"node", "storage-init", "-d"},
		"burnin":                   {"burnin", "-d"},
		"ganetictl":                {"-d"},
	} {
		if got := linkArgs(argv0, []string{"-d"}); !slices.Equal(got, want) {
			t.Errorf("linkArgs(%q) = %v, want %v", argv0, got, want)
		}
	}
	for in, want := range map[string]string{
		"burnin --parallel -o x a":   "burnin -p -o x a",
		"burnin --parallel 4 -o x a": "burnin --parallel 4 -o x a",
		"watcher --parallel":         "watcher --parallel",
	} {
		if got := strings.Join(burninArgs(strings.Fields(in)), " "); got != want {
			t.Errorf("burninArgs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSanitizeCommand(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("state", "sanitize", "--path", ganetiConfig)
	if !strings.Contains(out, "node1.example.com") || strings.Contains(out, `"rsahostkeypub": "ssh-`) {
		t.Errorf("sanitize --path:\n%.400s", out)
	}
	c.mustRun("state", "import", ganetiConfig)
	if out := c.mustRun("state", "sanitize", "--no-randomization"); !strings.Contains(out, `"format_version"`) {
		t.Errorf("sanitize of the state:\n%.400s", out)
	}
}
