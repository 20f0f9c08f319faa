package hv

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// Migration defaults (Ganeti's hvparams, reference §7.5 and §6.5). They
// are also the defaults of Params, so a planner normally reads them from
// the effective hvparams; MigrateArgs falls back to the hvparams when a
// field is zero.
const (
	// DefaultKVMMigrationPort is hvparam migration_port for KVM; Ganeti
	// treats it as cluster-global (every instance uses the same port, so
	// only one migration into a node at a time).
	DefaultKVMMigrationPort = 8102
	// DefaultXenMigrationPort is hvparam migration_port for Xen.
	DefaultXenMigrationPort = 8002
	// DefaultMigrationBandwidth is hvparam migration_bandwidth in MiB/s
	// (KVM only; QMP max-bandwidth = MiB * 1048576). At 32 MiB/s a guest
	// that dirties memory faster than that never converges (see
	// MigrateArgs.Timeout).
	DefaultMigrationBandwidth = 32
	// DefaultMigrationDowntime is hvparam migration_downtime in ms (KVM
	// only; QMP downtime-limit): the longest pause QEMU accepts for the
	// final copy of dirty memory.
	DefaultMigrationDowntime = 30
)

// MigrateArgs describes one live or non-live migration of an instance
// from Source to Target. Instance, HVParams, Links, NICLinks, MaxMem,
// VCPUs, StartMem and DefaultMachine must be what the instance was
// started with on the source, because the target's qemu has to be started
// with the same devices at the same addresses.
type MigrateArgs struct {
	Instance       *statefile.Instance
	Source, Target string           // node names
	TargetIP       string           // the target's secondary IP (the migration stream listens there)
	HVParams       statefile.Params // effective hvparams (Params)
	// Port is the migration port; 0 takes hvparam migration_port
	// (8102 KVM, 8002 Xen).
	Port int
	// Live: KVM live migration; false stops the CPUs first (non-live,
	// Ganeti's migration_mode=non-live) and the target resumes them in
	// FinalizeTargetSteps. DefaultLive gives hvparam migration_mode.
	// Xen (xl migrate) is always live.
	Live bool
	// Bandwidth (MiB/s) and Downtime (ms) are QEMU's max-bandwidth and
	// downtime-limit; 0 takes hvparams migration_bandwidth (32) and
	// migration_downtime (30).
	Bandwidth, Downtime int
	// Caps are QEMU migration capabilities set on both ends; nil takes
	// hvparam migration_caps (':'-separated, default none). With
	// "postcopy-ram" (or "x-postcopy-ram") the source switches to postcopy
	// once the first RAM pass is done, as Ganeti does.
	Caps []string
	// Links (per disk) and NICLinks (per NIC) as for StartArgs; the disks
	// must be open on both nodes (DRBD dual-primary or shared storage).
	Links, NICLinks []string
	MaxMem          int64 // MiB; 0 takes the instance's beparams
	VCPUs           int   // 0 takes the instance's beparams
	StartMem        int64 // unused by the target (the balloon state migrates)
	// DefaultMachine is the machine type the source qemu resolved at start
	// (StartArgs.DefaultMachine); the target must use the same one.
	DefaultMachine string
	// Timeout bounds the KVM migration: after it the source cancels the
	// migration (QMP migrate_cancel) and keeps running. 0 means
	// DefaultMigrateTimeout.
	Timeout time.Duration
	// Tunnel, when set, carries the stream encrypted through the helpers
	// (KVM only; see Tunnel).
	Tunnel *Tunnel
	// PCISlots are the source qemu's device slots (Runtime.Slots; nil:
	// the start's order), which the target takes over.
	PCISlots map[string]string
}

// DefaultLive reports hvparam migration_mode == "live" (the KVM and
// xen-pvm default; xen-hvm defaults to non-live).
func DefaultLive(hvp statefile.Params) bool { return str(hvp, "migration_mode") != "non-live" }

// DefaultMigrateTimeout is the timeout used when MigrateArgs.Timeout is
// zero: 2 minutes plus three times the time one copy of the instance's
// memory takes at the bandwidth limit. (Ganeti has none and polls for as
// long as QEMU keeps migrating, which never ends for a guest that dirties
// memory faster than the bandwidth.)
func DefaultMigrateTimeout(maxMemMiB int64, bandwidthMiB int) time.Duration {
	bw := int64(max(bandwidthMiB, 1))
	return 2*time.Minute + time.Duration(3*maxMemMiB/bw+1)*time.Second
}

var capRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// migration is a MigrateArgs with every default resolved and checked.
type migration struct {
	MigrateArgs
	hvp      statefile.Params
	name     string
	uri      string // where the source migrates to: tcp:IP:PORT, or the tunnel's unix socket (KVM)
	incoming string // where the target listens: the same, or its end of the tunnel
	caps     []string
	postcopy bool
	timeout  time.Duration
}

func (a MigrateArgs) resolve() (*migration, error) {
	inst := a.Instance
	if inst == nil {
		return nil, fmt.Errorf("migrate: no instance")
	}
	if err := checkName(inst.Name); err != nil {
		return nil, err
	}
	if a.Source == "" || a.Target == "" || a.Source == a.Target {
		return nil, fmt.Errorf("instance %s: migration needs two different nodes (source %q, target %q)", inst.Name, a.Source, a.Target)
	}
	if !Valid(inst.Hypervisor) {
		return nil, fmt.Errorf("instance %s: unsupported hypervisor %q", inst.Name, inst.Hypervisor)
	}
	hvp, err := Params(inst.Hypervisor, nil, a.HVParams)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.Name, err)
	}
	m := &migration{MigrateArgs: a, hvp: hvp, name: inst.Name}
	ip := net.ParseIP(a.TargetIP)
	if ip == nil {
		return nil, fmt.Errorf("instance %s: target IP %q is not an IP address", inst.Name, a.TargetIP)
	}
	if m.Port == 0 {
		m.Port = int(integer(hvp, "migration_port"))
	}
	if m.Port <= 0 || m.Port > 65535 {
		return nil, fmt.Errorf("instance %s: migration port %d out of range", inst.Name, m.Port)
	}
	host := ip.String()
	if ip.To4() == nil {
		host = "[" + host + "]"
	}
	m.uri = "tcp:" + host + ":" + strconv.Itoa(m.Port)
	m.incoming = m.uri
	if a.Tunnel != nil {
		if isXen(inst.Hypervisor) {
			return nil, fmt.Errorf("instance %s: encrypted migration (migration_encrypt) is for KVM only", inst.Name)
		}
		m.uri, m.incoming = "unix:"+tunnelSock(inst.Name, "out"), "unix:"+tunnelSock(inst.Name, "in")
	}
	if m.Bandwidth == 0 {
		m.Bandwidth = int(integer(hvp, "migration_bandwidth"))
	}
	if m.Downtime == 0 {
		m.Downtime = int(integer(hvp, "migration_downtime"))
	}
	if inst.Hypervisor == KVM {
		if m.Bandwidth <= 0 || m.Downtime <= 0 {
			return nil, fmt.Errorf("instance %s: migration bandwidth %d MiB/s and downtime %d ms must be positive", inst.Name, m.Bandwidth, m.Downtime)
		}
		m.caps = a.Caps
		if m.caps == nil {
			if c := str(hvp, "migration_caps"); c != "" {
				m.caps = strings.Split(c, ":")
			}
		}
		for _, c := range m.caps {
			if !capRE.MatchString(c) {
				return nil, fmt.Errorf("instance %s: migration capability %q is not a QEMU capability name", inst.Name, c)
			}
			if c == "postcopy-ram" || c == "x-postcopy-ram" {
				m.postcopy = true
			}
		}
	}
	m.timeout = a.Timeout
	if m.timeout <= 0 {
		maxmem, err := beInt(inst, "maxmem", a.MaxMem)
		if err != nil {
			return nil, err
		}
		m.timeout = DefaultMigrateTimeout(maxmem, max(m.Bandwidth, 1))
	}
	return m, nil
}

// startArgs is the target-side StartArgs of the migration.
func (m *migration) startArgs(node string) StartArgs {
	return StartArgs{Instance: m.Instance, Node: node, HVParams: m.HVParams, MaxMem: m.MaxMem, VCPUs: m.VCPUs,
		StartMem: m.StartMem, Links: m.Links, NICLinks: m.NICLinks, DefaultMachine: m.DefaultMachine, PCISlots: m.PCISlots}
}

// capsCmd renders migrate-set-capabilities with every cap set to state,
// or "" without caps.
func (m *migration) capsCmd(state bool) string {
	if len(m.caps) == 0 {
		return ""
	}
	var cs []map[string]any
	for _, c := range m.caps {
		cs = append(cs, map[string]any{"capability": c, "state": state})
	}
	return qmpJSON("migrate-set-capabilities", map[string]any{"capabilities": cs})
}

func isXen(hv string) bool { return hv == XenPVM || hv == XenHVM }

// AcceptSteps prepares the target to receive the migration.
//
// KVM (reference §7.5 step 2): one step on a.Target that starts qemu with
// the source's command line plus -incoming tcp:TargetIP:Port (Start with
// StartArgs.Incoming; no "cont", no balloon) and sets the migration
// capabilities over QMP. A stale incoming qemu of an earlier attempt
// (status inmigrate) is replaced; an instance that really runs on the
// target is an error. If qemu fails to start (port in use, missing disk)
// or QMP fails, the step removes what it created and fails. Its Undo is
// AbortTargetSteps.
//
// Xen (§6.5): one step that (re)starts the detached socat receiver
// `socat -b524288 TCP-LISTEN:Port,bind=TargetIP,reuseaddr
// "SYSTEM:xl migrate-receive"` with a pidfile, checks it is still alive
// after 1 s, and fails otherwise (port busy).
func AcceptSteps(a MigrateArgs) ([]plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if isXen(m.Instance.Hypervisor) {
		return xenAcceptSteps(m)
	}
	sa := m.startArgs(m.Target)
	sa.Incoming = m.incoming
	steps, err := kvmStartStepsPost(sa, m.capsCmd(true))
	if err != nil {
		return nil, err
	}
	abort := kvmAbortTarget(m)
	steps[0].Desc = fmt.Sprintf("start instance %s (kvm) on %s waiting for the migration on %s", m.name, m.Target, m.incoming)
	steps[0].Undo = &abort
	if m.Tunnel != nil {
		steps = append(steps, m.tunnelRecvStep())
	}
	return steps, nil
}

// MigrateStep is the migration itself, one blocking step on a.Source.
//
// KVM (reference §7.5 steps 3-5): one script that, over QMP, stops the
// CPUs if !a.Live and the guest runs, sets migrate-set-parameters
// {max-bandwidth: Bandwidth*1048576, downtime-limit: Downtime}, sets the
// capabilities, sends migrate {uri: tcp:TargetIP:Port}, then polls
// query-migrate every 200 ms (progress to stderr every 5 s) until
// completed, failed or cancelled; after a.Timeout it sends migrate_cancel.
// Five unreadable answers in a row (2 s apart) count as failed. It prints
// one JSON line on stdout (ParseMigrateSummary) and exits 0 only when the
// migration completed. Otherwise it leaves the source running: QEMU
// resumes a live source itself; a source this step stopped gets "cont";
// the capabilities are cleared.
//
// Xen (§6.5): `xl migrate -s "socat -b524288 - TCP:IP:PORT #" -C
// /etc/xen/INST INST IP`, and on failure `xl rename INST--migratedaway
// INST`; the same summary line (status, total-time) is printed.
func MigrateStep(a MigrateArgs) (plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return plan.Step{}, err
	}
	if isXen(m.Instance.Hypervisor) {
		return xenMigrateStep(m), nil
	}
	mode := "live"
	if !m.Live {
		mode = "non-live"
	}
	setp := qmpJSON("migrate-set-parameters", map[string]any{
		"max-bandwidth":  int64(m.Bandwidth) << 20,
		"downtime-limit": m.Downtime,
	})
	mig := qmpJSON("migrate", map[string]any{"uri": m.uri})
	argv := []string{"sh", "-c", kvmMigrateScript, "ganetictl-kvm-migrate", m.name, onOff(m.Live), setp,
		m.capsCmd(true), m.capsCmd(false), mig, strconv.FormatInt(int64((m.timeout+time.Second-1)/time.Second), 10), onOff(m.postcopy)}
	return plan.Step{Node: m.Source, Action: plan.Exec, Argv: argv,
		Desc: fmt.Sprintf("migrate instance %s (kvm, %s) to %s at %s, max %d MiB/s, downtime %d ms, timeout %s",
			m.name, mode, m.Target, m.uri, m.Bandwidth, m.Downtime, m.timeout)}, nil
}

// FinalizeSourceSteps ends a successful migration on the source.
//
// KVM: kills the source qemu, which must be in status postmigrate (it
// refuses to kill a qemu in any other status, so a plan that believes a
// migration succeeded cannot kill the only running copy), then removes
// its taps, sockets, pidfile and runtime file. A source qemu that is gone
// already is success.
//
// Xen: the domain must be gone from the source (xl migrate destroyed it);
// removes the config file and NIC dir.
func FinalizeSourceSteps(a MigrateArgs) ([]plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if isXen(m.Instance.Hypervisor) {
		return []plan.Step{xenFinalizeSource(m)}, nil
	}
	return []plan.Step{kvmKill(m.name, m.Source, "postmigrate",
		fmt.Sprintf("remove the migrated-away qemu of %s on %s", m.name, m.Source))}, nil
}

// FinalizeTargetSteps ends a successful migration on the target.
//
// KVM: waits (up to 10 s) for the target qemu to leave "inmigrate", fails
// unless it then is running or paused, resumes it ("cont") after a
// non-live migration, and clears the migration capabilities. The runtime
// file was written by AcceptSteps. (An instance the admin had paused
// before a non-live migration is resumed too: the target cannot tell the
// two apart.)
//
// Xen: writes /etc/xen/INST on the target (generated here, the same file
// the source had), after checking the domain runs there, and removes the
// receiver's pidfile.
func FinalizeTargetSteps(a MigrateArgs) ([]plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if isXen(m.Instance.Hypervisor) {
		return xenFinalizeTarget(m)
	}
	resume := onOff(!m.Live)
	return []plan.Step{{Node: m.Target, Action: plan.Modify,
		Desc: fmt.Sprintf("finish the migration of %s on %s", m.name, m.Target),
		Argv: []string{"sh", "-c", kvmFinalizeTargetScript, "ganetictl-kvm-finalize-target", m.name, resume, m.capsCmd(false)}}}, nil
}

// kvmAbortAllowed are the qemu statuses a failed migration's target may be
// killed in: everything but a guest that runs (or is paused after a
// completed non-live migration).
const kvmAbortAllowed = "inmigrate prelaunch postmigrate shutdown internal-error io-error guest-panicked finish-migrate"

func kvmAbortTarget(m *migration) plan.Step {
	return kvmKill(m.name, m.Target, kvmAbortAllowed,
		fmt.Sprintf("remove the incoming qemu of %s on %s (migration failed)", m.name, m.Target))
}

// AbortTargetSteps cleans the target after a failed migration.
//
// KVM: force-stops the incoming qemu and removes its taps and runtime
// files; a qemu that is gone (QEMU exits when an incoming migration fails)
// is success. It refuses to kill a target qemu whose status is running or
// paused, i.e. one that completed the migration: use CleanupSteps then.
//
// Xen: kills the receiver (pidfile, only if its command line is xl
// migrate-receive), destroys a domain of that name whose CPU time is still
// 0 (never ran) or a leftover INST--incoming, and removes the config.
func AbortTargetSteps(a MigrateArgs) ([]plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if isXen(m.Instance.Hypervisor) {
		return []plan.Step{xenAbortTarget(m)}, nil
	}
	return []plan.Step{kvmAbortTarget(m)}, nil
}

// AbortSourceSteps restores the source after a failed migration.
// MigrateStep already does this itself on every failure it sees; this is
// for a plan whose MigrateStep did not finish (lost connection).
//
// KVM: if the qemu is paused and the migration was non-live, "cont";
// clears the capabilities; fails if the source qemu is gone or in
// postmigrate (the migration completed: use CleanupSteps).
// Xen: renames INST--migratedaway back to INST when present.
func AbortSourceSteps(a MigrateArgs) ([]plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if isXen(m.Instance.Hypervisor) {
		return []plan.Step{xenAbortSource(m)}, nil
	}
	return []plan.Step{{Node: m.Source, Action: plan.Modify,
		Desc: fmt.Sprintf("keep instance %s running on %s (migration failed)", m.name, m.Source),
		Argv: []string{"sh", "-c", kvmAbortSourceScript, "ganetictl-kvm-abort-source", m.name, onOff(!m.Live), m.capsCmd(false)}}}, nil
}

// kvmKill is the guarded kill: qemu of inst on node is killed only in one
// of the allowed statuses (space-separated; "unreachable" = QMP does not
// answer), then its runtime files and taps are removed.
func kvmKill(inst, node, allowed, desc string) plan.Step {
	return plan.Step{Node: node, Action: plan.Remove, Desc: desc,
		Argv: []string{"sh", "-c", kvmKillScript, "ganetictl-kvm-kill", inst, allowed}}
}

// MigrateSummary is the last line MigrateStep prints. Numbers QEMU did not
// report are zero.
type MigrateSummary struct {
	// Status is QEMU's final migration status: completed, failed,
	// cancelled; "unknown" when QMP stopped answering; for a step that
	// could not start the migration, "error".
	Status       string  `json:"status"`
	Live         bool    `json:"live"`
	TotalTimeMs  int64   `json:"total-time"` // QEMU's total-time
	DowntimeMs   int64   `json:"downtime"`   // QEMU's downtime (guest paused)
	SetupTimeMs  int64   `json:"setup-time"`
	Transferred  int64   `json:"transferred"` // RAM bytes sent
	Total        int64   `json:"total"`       // RAM bytes of the guest
	Mbps         float64 `json:"mbps"`
	SourceStatus string  `json:"source-status"` // query-status of the source at the end
	WallMs       int64   `json:"wall-ms"`       // the step's own measurement
	TimedOut     bool    `json:"timed-out"`
	Postcopy     bool    `json:"postcopy"`
	Error        string  `json:"error,omitempty"` // QEMU's error-desc or the step's reason
}

// ParseMigrateSummary reads MigrateStep's output (stdout): the last line
// that is a JSON object with a "status".
func ParseMigrateSummary(out []byte) (MigrateSummary, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var s MigrateSummary
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			return MigrateSummary{}, fmt.Errorf("migration summary %q: %w", l, err)
		}
		if s.Status == "" {
			return MigrateSummary{}, fmt.Errorf("migration summary %q: no status", l)
		}
		return s, nil
	}
	return MigrateSummary{}, fmt.Errorf("no migration summary in %q", strings.TrimSpace(string(out)))
}

// String is a one-line report, e.g. "completed in 412 ms (downtime 12 ms,
// 1.2 MiB at 280.1 Mbit/s)".
func (s MigrateSummary) String() string {
	r := fmt.Sprintf("%s in %d ms", s.Status, s.TotalTimeMs)
	if s.Status == "completed" && s.Transferred > 0 {
		r += fmt.Sprintf(" (downtime %d ms, %.1f MiB at %.1f Mbit/s)", s.DowntimeMs, float64(s.Transferred)/(1<<20), s.Mbps)
	} else if s.Status != "completed" {
		r += fmt.Sprintf(" (%.1f of %.1f MiB sent; source %s)", float64(s.Transferred)/(1<<20), float64(s.Total)/(1<<20), s.SourceStatus)
		if s.TimedOut {
			r += ", timed out"
		}
		if s.Error != "" {
			r += ": " + s.Error
		}
	}
	return r
}
