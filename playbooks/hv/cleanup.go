package hv

import (
	"fmt"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// Migration status words (MigrationStatusStep): QEMU's query-status
// statuses plus these.
const (
	StatusAbsent      = "absent"      // no qemu/domain of the instance on the node
	StatusUnreachable = "unreachable" // a qemu runs but QMP does not answer
)

// MigrationStatusStep returns a read step printing one word: the state of
// inst on node for "instance migrate --cleanup". KVM: "absent",
// "unreachable" or the QMP status (running, paused, prelaunch,
// inmigrate, postmigrate, ...). Xen: "running" for a domain INST,
// "postmigrate" for INST--migratedaway (a source xl migrate left),
// "inmigrate" for INST--incoming, else "absent".
func MigrationStatusStep(hv, node, inst string) (plan.Step, error) {
	if err := checkName(inst); err != nil {
		return plan.Step{}, err
	}
	var argv []string
	switch {
	case hv == KVM:
		argv = []string{"sh", "-c", kvmStatusScript, "ganetictl-kvm-status", inst}
	case isXen(hv):
		argv = []string{"sh", "-c", xenStatusScript, "ganetictl-xen-status", inst}
	default:
		return plan.Step{}, fmt.Errorf("instance %s: unsupported hypervisor %q", inst, hv)
	}
	return plan.Step{Node: node, Action: plan.Read, Desc: fmt.Sprintf("state of %s on %s", inst, node), Argv: argv}, nil
}

// ParseMigrationStatus reads MigrationStatusStep's output.
func ParseMigrationStatus(out []byte) (string, error) {
	s := strings.TrimSpace(string(out))
	if s == "" || strings.ContainsAny(s, " \n\t") {
		return "", fmt.Errorf("instance state: unexpected output %q", s)
	}
	return s, nil
}

const kvmStatusScript = `inst=$1
` + kvmFuncs + qmpStatusFuncs + `kvm_pid "$inst" >/dev/null || { echo absent; exit 0; }
st=$(qstatus "$inst")
echo "${st:-unreachable}"
`

const xenStatusScript = `inst=$1
if xl list "$inst" >/dev/null 2>&1; then echo running
elif xl list "$inst--migratedaway" >/dev/null 2>&1; then echo postmigrate
elif xl list "$inst--incoming" >/dev/null 2>&1; then echo inmigrate
else echo absent; fi
`

// Side names a node of the migration.
type Side string

const (
	Source Side = "source"
	Target Side = "target"
)

// CleanupDecision is what "instance migrate --cleanup" does.
type CleanupDecision struct {
	// Runs is where the instance lives afterwards: the planner sets the
	// primary node to it and fixes the disks (reference §11.3 --cleanup).
	Runs Side
	// Kill is the side whose leftover qemu (incoming or migrated-away)
	// and runtime files are removed; it never names a side that runs the
	// guest.
	Kill Side
	// Resume: the target is paused after a completed non-live migration
	// that was never finalized; send "cont" there.
	Resume bool
	// Reason explains the decision in one sentence.
	Reason string
}

// liveStatuses are QMP statuses of a qemu that owns the guest.
var liveStatuses = map[string]bool{"running": true, "paused": true, "suspended": true, "prelaunch": true,
	"debug": true, "watchdog": true, "guest-panicked": true, "io-error": true, "internal-error": true,
	"shutdown": true, "save-vm": true, "restore-vm": true, "colo": true}

// leftoverStatuses are states that hold no guest of their own.
var leftoverStatuses = map[string]bool{StatusAbsent: true, "inmigrate": true, "postmigrate": true}

// DecideCleanup decides how to finish or undo an interrupted migration
// from the state of the instance on the source and the target
// (MigrationStatusStep words):
//
//   - one side owns the guest (running, paused, ...) and the other holds
//     at most a leftover (absent, inmigrate, postmigrate): keep the
//     owner, kill the leftover; a paused target next to a postmigrate
//     source (completed non-live migration) is also resumed;
//   - both own a guest: error (split brain; the admin must choose);
//   - neither owns one: error (nothing runs; lost after a completed
//     migration when the source is postmigrate and the target absent, or
//     still migrating when source postmigrate / target inmigrate);
//   - a side is unreachable or in a transient state (finish-migrate):
//     error, retry later.
func DecideCleanup(source, target string) (CleanupDecision, error) {
	sLive, tLive := liveStatuses[source], liveStatuses[target]
	sLeft, tLeft := leftoverStatuses[source], leftoverStatuses[target]
	switch {
	case sLive && tLive:
		return CleanupDecision{}, fmt.Errorf("the instance runs on both nodes (source %s, target %s); stop one copy by hand", source, target)
	case sLive && tLeft:
		return CleanupDecision{Runs: Source, Kill: Target,
			Reason: fmt.Sprintf("the source owns the guest (%s); the migration did not complete, removing the target's %s leftover", source, target)}, nil
	case tLive && sLeft:
		d := CleanupDecision{Runs: Target, Kill: Source,
			Reason: fmt.Sprintf("the target owns the guest (%s); the migration completed, removing the source's %s leftover", target, source)}
		if target == "paused" && source == "postmigrate" {
			d.Resume = true
			d.Reason += " and resuming the target (non-live migration)"
		}
		return d, nil
	case sLeft && tLeft:
		switch {
		case source == StatusAbsent && target == StatusAbsent:
			return CleanupDecision{}, fmt.Errorf("the instance runs on neither node; stop it (to release its disks) and start it again")
		case source == "postmigrate" && target == "inmigrate":
			return CleanupDecision{}, fmt.Errorf("the migration is still finishing (source postmigrate, target inmigrate); retry in a moment")
		case source == "postmigrate":
			return CleanupDecision{}, fmt.Errorf("the source sent the guest away (postmigrate) but the target has no running copy (%s): the guest's memory state is lost; stop the instance and start it again", target)
		}
		return CleanupDecision{}, fmt.Errorf("no node owns the guest (source %s, target %s); stop the instance and start it again", source, target)
	}
	return CleanupDecision{}, fmt.Errorf("cannot decide with source %q and target %q (unreachable or in transition); retry later", source, target)
}

// CleanupSteps returns the decision for the observed statuses and the
// steps carrying it out: the guarded kill of the leftover (it refuses if
// the leftover's status changed meanwhile) and, when Resume, a "cont" on
// the target (FinalizeTargetSteps with Live=false). Disks and the config
// (primary node) are the planner's part.
func CleanupSteps(a MigrateArgs, sourceStatus, targetStatus string) (CleanupDecision, []plan.Step, error) {
	m, err := a.resolve()
	if err != nil {
		return CleanupDecision{}, nil, err
	}
	d, err := DecideCleanup(sourceStatus, targetStatus)
	if err != nil {
		return CleanupDecision{}, nil, fmt.Errorf("instance %s: %w", m.name, err)
	}
	node, left, runs := m.Target, targetStatus, m.Source
	if d.Kill == Source {
		node, left, runs = m.Source, sourceStatus, m.Target
	}
	var steps []plan.Step
	desc := fmt.Sprintf("remove the %s leftover of %s on %s (it runs on %s)", left, m.name, node, runs)
	if isXen(m.Instance.Hypervisor) {
		steps = append(steps, plan.Step{Node: node, Action: plan.Remove, Desc: desc,
			Argv: []string{"sh", "-c", xenKillLeftoverScript, "ganetictl-xen-kill-leftover", m.name, onOff(d.Kill == Source)}})
	} else {
		allowed := "inmigrate postmigrate"
		steps = append(steps, kvmKill(m.name, node, allowed, desc))
		if d.Resume {
			ma := a
			ma.Live = false
			ft, err := FinalizeTargetSteps(ma)
			if err != nil {
				return CleanupDecision{}, nil, err
			}
			steps = append(steps, ft...)
		}
	}
	return d, steps, nil
}

// xenKillLeftoverScript: parameters instance, "1" on the source side.
// Destroys INST--migratedaway / INST--incoming; on the source also
// removes the config file (the domain lives on the target).
const xenKillLeftoverScript = `inst=$1 src=$2
xl list "$inst" >/dev/null 2>&1 && { echo "$inst: runs on this node; not touching it" >&2; exit 1; }
for d in "$inst--migratedaway" "$inst--incoming"; do
  xl list "$d" >/dev/null 2>&1 && { xl destroy "$d" || exit 1; echo "$inst: destroyed $d"; }
done
if [ "$src" = 1 ]; then rm -f "/etc/xen/$inst"; rm -rf "/run/ganeti/xen-hypervisor/nic/$inst"; fi
echo "$inst: no leftover"
`
