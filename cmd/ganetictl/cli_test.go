package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// parse reads args into the command tree without running anything.
func parse(t *testing.T, args ...string) (*CLI, error) {
	t.Helper()
	var cli CLI
	p, err := kong.New(&cli, kong.Name("ganetictl"), kong.Exit(func(int) {}), kong.Vars{"version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse(args)
	return &cli, err
}

func TestClusterCommandFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		group   string
		reason  string
		command []string
		err     string
	}{
		{args: []string{"-g", "rack2", "uptime"}, group: "rack2", command: []string{"uptime"}},
		{args: []string{"--reason", "x", "--", "ls", "-l", "/tmp"}, reason: "x", command: []string{"ls", "-l", "/tmp"}},
		{args: []string{"ls", "-l", "/path/to/file"}, command: []string{"ls", "-l", "/path/to/file"}},
		{args: []string{"-M", "-n", "node1", "uname", "-a"}, command: []string{"uname", "-a"}},
		{args: []string{"--bogus", "uptime"}, err: "unknown flag --bogus"},
	} {
		cli, err := parse(t, append([]string{"cluster", "command"}, tc.args...)...)
		if err == nil {
			var argv []string
			argv, err = cli.Cluster.Command.argv()
			if err == nil {
				cli.Cluster.Command.Command = argv
			}
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		c := cli.Cluster.Command
		if c.Group != tc.group || cli.Globals.Reason != tc.reason || !slices.Equal(c.Command, tc.command) {
			t.Errorf("%v: group %q reason %q command %q", tc.args, c.Group, cli.Globals.Reason, c.Command)
		}
	}
}

func TestTagsFrom(t *testing.T) {
	path := t.TempDir() + "/tags"
	if err := os.WriteFile(path, []byte("a\n\n  b \nc:d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := tagsFrom(path)
	if err != nil || strings.Join(got, ",") != "a,b,c:d" {
		t.Errorf("tagsFrom = %v, %v", got, err)
	}
	stdin = strings.NewReader("x\ny\n")
	defer func() { stdin = os.Stdin }()
	if got, _ := tagsFrom("-"); strings.Join(got, ",") != "x,y" {
		t.Errorf("from stdin: %v", got)
	}
	if _, err := tagsFrom(path + ".missing"); err == nil {
		t.Error("a missing file gave no error")
	}
	cli, err := parse(t, "node", "add-tags", "--from", path, "node1")
	if err != nil || cli.Node.AddTags.From != path || len(cli.Node.AddTags.Args) != 1 {
		t.Errorf("node add-tags --from: %+v %v", cli.Node.AddTags, err)
	}
}

func TestSelectFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		mode string
		err  string
	}{
		{args: []string{"web1"}, mode: ""},
		{args: []string{"--instance", "web1", "web2"}, mode: ""},
		{args: []string{"--all"}, mode: "all"},
		{args: []string{"--primary", "node1"}, mode: "primary"},
		{args: []string{"--all", "--instance", "web1"}, err: "at most one of"},
		{args: []string{"--node", "--tags", "x"}, err: "at most one of"},
	} {
		cli, err := parse(t, append([]string{"instance", "startup"}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		mode, err := cli.Instance.Startup.selectFlags.mode()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || mode != tc.mode {
			t.Errorf("%v: mode %q err %v, want %q", tc.args, mode, err, tc.mode)
		}
	}
}

// TestCommaValues: the values of --disk and -H keep their commas, as in
// the guide's "--disk 0:adopt=lv_name[,vg=vg_name]" and
// "-H kvm:acpi=false,serial_speed=115200"; only repeating the flag makes a
// second value.
func TestCommaValues(t *testing.T) {
	disk := []string{"0:adopt=lv1,vg=xenvg", "1:size=64M,mode=ro"}
	hvs := []string{"kvm:acpi=false,serial_speed=115200"}
	for _, tc := range []struct {
		args []string
		get  func(*CLI) []string
		want []string
	}{
		{[]string{"instance", "add", "-n", "node1", "-o", "testos", "-t", "plain", "--disk", disk[0], "--disk", disk[1], "inst1"},
			func(c *CLI) []string { return c.Instance.Add.Disks }, disk},
		{[]string{"backup", "import", "-n", "node1", "--src-node", "node2", "--disk", disk[1], "inst1"},
			func(c *CLI) []string { return c.Backup.Import.Disks }, disk[1:]},
		{[]string{"instance", "modify", "--disk", "add:size=64M,mode=ro", "inst1"},
			func(c *CLI) []string { return c.Instance.Modify.Disks }, []string{"add:size=64M,mode=ro"}},
		{[]string{"cluster", "modify", "-H", hvs[0]},
			func(c *CLI) []string { return c.Cluster.Modify.HypervisorParameters }, hvs},
		{[]string{"cluster", "init", "-H", hvs[0]},
			func(c *CLI) []string { return c.Cluster.Init.HypervisorParameters }, hvs},
	} {
		cli, err := parse(t, tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if got := tc.get(cli); !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %q, want %q", tc.args, got, tc.want)
		}
	}
}
