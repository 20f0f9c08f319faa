package view

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// replayClock returns the ctime stamps of the lines of a Ganeti verify
// transcript one by one, so each printed line gets its recorded time; after
// the last it keeps returning the last.
func replayClock(t *testing.T, transcript string) func() time.Time {
	var stamps []time.Time
	for _, l := range strings.Split(transcript, "\n") {
		if len(l) < len(time.ANSIC) {
			continue
		}
		if ts, err := time.Parse(time.ANSIC, l[:len(time.ANSIC)]); err == nil {
			stamps = append(stamps, ts)
		}
	}
	return func() time.Time {
		if len(stamps) == 0 {
			t.Fatal("transcript has no timestamps")
		}
		ts := stamps[0]
		if len(stamps) > 1 {
			stamps = stamps[1:]
		}
		return ts
	}
}

const procMsg = "node setup error: The procfs filesystem doesn't seem to be mounted under /proc, missing required directory /proc/sys and the file /proc/sysrq-trigger"

func runVerify(v *Verify, out *bytes.Buffer, jobLines bool) {
	say := func(s string) {
		if jobLines {
			fmt.Fprintln(out, s)
		}
	}
	say("Submitted jobs 143, 144")
	say("Waiting for job 143 ...")
	v.Section("Verifying cluster config")
	v.Section("Verifying cluster certificate files")
	v.Section("Verifying hypervisor parameters")
	v.Section("Verifying all nodes belong to an existing group")
	say("Waiting for job 144 ...")
	v.Section("Verifying group 'default'")
	v.Section("Gathering data (3 nodes)")
	v.Section("Gathering information about nodes (3 nodes)")
	v.Section("Gathering disk information (3 nodes)")
	v.Section("Verifying configuration file consistency")
	v.Section("Verifying node status")
	for _, n := range []string{"node2.gref.test", "node3.gref.test", "node1.gref.test"} {
		v.Error("ENODESETUP", "node", n, procMsg)
	}
	for _, s := range []string{"Verifying instance status", "Verifying orphan volumes",
		"Verifying N+1 Memory redundancy", "Other Notes", "Hooks Results"} {
		v.Section(s)
	}
}

func TestClusterVerifyGolden(t *testing.T) {
	want := ganetiGolden(t, "cluster_verify.txt")
	var out bytes.Buffer
	v := NewVerify(&out, VerifyOpts{Now: replayClock(t, want)})
	runVerify(v, &out, true)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertText(t, "gnt-cluster verify", want, out.String())
	if !v.Bad() {
		t.Errorf("Bad() = false after Error")
	}

	var js bytes.Buffer
	v = NewVerify(&js, VerifyOpts{Now: replayClock(t, want), JSON: true})
	runVerify(v, &js, false)
	v.Warning("EINSTANCEBADNODE", "instance", "inst1", "instance lives on an offline node")
	v.Notice("1 non-redundant instance(s) found.")
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "cluster_verify.json.golden", js.Bytes())
}

func TestVerifyLineForms(t *testing.T) {
	at := time.Date(2026, 11, 5, 7, 5, 15, 0, time.UTC)
	now := func() time.Time { return at }
	for _, tc := range []struct {
		codes bool
		call  func(v *Verify)
		want  string
	}{
		{false, func(v *Verify) { v.Section("Verifying node status") }, "Thu Nov  5 07:05:15 2026 * Verifying node status\n"},
		{true, func(v *Verify) { v.Error("ENODESSH", "node", "node2", "ssh failed") }, "Thu Nov  5 07:05:15 2026   - ERROR:ENODESSH:node:node2:ssh failed\n"},
		{false, func(v *Verify) { v.Warning("ECLUSTERCFG", "cluster", "", "odd") }, "Thu Nov  5 07:05:15 2026   - WARNING: cluster : odd\n"},
		{false, func(v *Verify) { v.Notice("2 offline node(s) found.") }, "Thu Nov  5 07:05:15 2026   - NOTICE: 2 offline node(s) found.\n"},
	} {
		var b bytes.Buffer
		v := NewVerify(&b, VerifyOpts{Now: now, ErrorCodes: tc.codes})
		tc.call(v)
		if b.String() != tc.want {
			t.Errorf("got %q, want %q", b.String(), tc.want)
		}
		if bad := strings.Contains(tc.want, "ERROR"); v.Bad() != bad {
			t.Errorf("Bad() = %v, want %v", v.Bad(), bad)
		}
	}
}

type prereqErr struct{ typ, msg string }

func (e *prereqErr) Error() string     { return e.msg }
func (e *prereqErr) ErrorType() string { return e.typ }

type execErr struct{ msg string }

func (e *execErr) Error() string { return e.msg }
func (e *execErr) ExecFailure()  {}

func TestFailureGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		err  error
	}{
		{"instance_info_unknown.txt", fmt.Errorf("instance info: %w", &prereqErr{"unknown_entity", "Instance 'nosuchinst' not known"})},
		{"failover_file_error.txt", &prereqErr{"wrong_state", "Instance's disk layout 'file' does not allow failovers"}},
		{"migrate_file_error.txt", &prereqErr{"wrong_state", "Instance's disk layout 'file' does not allow migrations"}},
		{"debug_delay_0_error.txt", &prereqErr{"", "Duration must be greater than zero"}},
	} {
		var b bytes.Buffer
		if err := Failure(&b, tc.err); err != nil {
			t.Fatal(err)
		}
		assertText(t, tc.file, ganetiGolden(t, tc.file), b.String())
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("state locked by alice"), "Failure: state locked by alice"},
		{fmt.Errorf("node2: %w", &execErr{"lvcreate: exit status 5"}), "Failure: command execution error:\nlvcreate: exit status 5"},
	} {
		if got := FailureText(tc.err); got != tc.want {
			t.Errorf("FailureText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestFailureJSON(t *testing.T) {
	var b bytes.Buffer
	for _, tc := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("instance info: %w", &prereqErr{"unknown_entity", "Instance 'nosuchinst' not known"}), 1},
		{&execErr{"lvcreate <x>: exit status 5"}, 3},
		{errors.New("state locked by alice"), 11},
	} {
		if err := FailureJSON(&b, tc.err, tc.code); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "failure.jsonl.golden", b.Bytes())
}

func TestProgress(t *testing.T) {
	at := time.Unix(0, 0)
	now := func() time.Time { at = at.Add(12 * time.Millisecond); return at }
	var b bytes.Buffer
	p := NewProgress(&b, now)
	p.Step("node2", "lvcreate -L 1024m -n x xenvg")(nil)
	p.Step("node3", "drbdsetup down r0")(errors.New("exit status 1"))
	p.Done("node1", "qemu-img convert", 1234567*time.Microsecond, nil)
	want := "node2: lvcreate -L 1024m -n x xenvg ... ok (12ms)\n" +
		"node3: drbdsetup down r0 ... FAILED (12ms): exit status 1\n" +
		"node1: qemu-img convert ... ok (1.2s)\n"
	if b.String() != want {
		t.Errorf("Progress output = %q, want %q", b.String(), want)
	}
}

func TestStreams(t *testing.T) {
	s, out, errb := NewTestStreams()
	fmt.Fprint(s.Out, "o")
	fmt.Fprint(s.Err, "e")
	if out.String() != "o" || errb.String() != "e" || s.IsTerminal {
		t.Errorf("NewTestStreams: out %q err %q terminal %v", out, errb, s.IsTerminal)
	}
	if StdStreams().Out == nil {
		t.Errorf("StdStreams().Out is nil")
	}
}

func TestJSONNoHTMLEscape(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, Info{{"a<b", map[string]any{"z": "&", "a": []int{1}}}}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a<b\": {\n    \"a\": [\n      1\n    ],\n    \"z\": \"&\"\n  }\n}\n"
	if b.String() != want {
		t.Errorf("JSON = %q, want %q", b.String(), want)
	}
}
