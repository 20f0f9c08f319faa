package hv

import (
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// Tunnel carries a KVM migration through ganetictl's copy helper over
// pinned TLS (hvparam migration_encrypt, a ganetictl extension): QEMU
// migrates to a unix socket on the source, the helper there splices it to
// a TLS connection to the helper on the target, which splices it to the
// incoming QEMU's unix socket. The keys are per-migration, made by the
// controller, and reach the helpers on stdin.
type Tunnel struct {
	// SourceHelper and TargetHelper are the helper's path and SHA-256 on
	// each node (checked before it runs).
	SourceHelper, TargetHelper [2]string
	// SourceKey and TargetKey are the two ends' identities (PEM) as plan
	// secret references; SourceFP and TargetFP their fingerprints.
	SourceKey, TargetKey string
	SourceFP, TargetFP   string
}

// tunnelDir holds the per-instance files of a node's tunnel end: the
// migration socket, the helper's pid file and its log.
const tunnelDir = "/run/ganetictl/tunnel"

func tunnelSock(inst, end string) string { return path.Join(tunnelDir, inst+".migrate-"+end) }
func tunnelPid(inst string) string       { return path.Join(tunnelDir, inst+".pid") }
func tunnelLog(inst string) string       { return path.Join(tunnelDir, inst+".log") }

// tunnelStartScript starts a tunnel end detached from the SSH session (the
// migration runs in another step): $1 helper, $2 its SHA-256, $3 pid file,
// $4 log, then the helper's arguments; the identity comes on stdin. It
// replaces a leftover end of an earlier attempt and returns once the
// helper listens (or fails with its log).
const tunnelStartScript = `h=$1 sum=$2 pidf=$3 log=$4; shift 4
mkdir -p -m 0700 "${pidf%/*}" || exit 1
printf '%s  %s\n' "$sum" "$h" | sha256sum -c --status - 2>/dev/null || { echo "helper $h is missing or does not match sha256 $sum (it is uploaded before each operation: rerun)" >&2; exit 1; }
id=$(cat)
[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
printf '%s\n' "$id" | setsid "$h" "$@" >"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidf"
i=0
while [ "$i" -lt 100 ]; do
  grep -q '"event":"listening"' "$log" 2>/dev/null && exit 0
  kill -0 "$pid" 2>/dev/null || { echo "the tunnel helper stopped:" >&2; cat "$log" >&2; rm -f "$pidf"; exit 1; }
  sleep 0.1; i=$((i + 1))
done
echo "the tunnel helper did not listen within 10 s:" >&2; cat "$log" >&2
kill "$pid" 2>/dev/null; rm -f "$pidf"; exit 1
`

// tunnelStopScript ends a tunnel end if it still runs: $1 pid file, then
// sockets to remove. Nothing there is fine.
const tunnelStopScript = `pidf=$1; shift
[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
rm -f "$pidf" "$@"
true
`

func tunnelStop(inst, node string) plan.Step {
	return plan.Step{Node: node, Action: plan.Remove, Desc: fmt.Sprintf("stop the migration tunnel of %s on %s", inst, node),
		Argv: []string{"sh", "-c", tunnelStopScript, "ganetictl-tunnel-stop", tunnelPid(inst), tunnelLog(inst), tunnelSock(inst, "in"), tunnelSock(inst, "out")}}
}

// tunnelRecvStep starts the target's end: TLS in on the migration port of
// the target's replication address, spliced to the incoming QEMU.
func (m *migration) tunnelRecvStep() plan.Step {
	t := m.Tunnel
	argv := []string{"sh", "-c", tunnelStartScript, "ganetictl-tunnel-start", t.TargetHelper[0], t.TargetHelper[1], tunnelPid(m.name), tunnelLog(m.name),
		"tunnel-recv", "--listen", m.TargetIP, "--port", strconv.Itoa(m.Port), "--to-unix", tunnelSock(m.name, "in"),
		"--identity", "-", "--peer-fp", t.SourceFP, "--accept-timeout", (m.timeout + acceptSlack).String(), "--idle-timeout", tunnelIdle.String()}
	undo := tunnelStop(m.name, m.Target)
	return plan.Step{Node: m.Target, Action: plan.Create, Desc: fmt.Sprintf("open the encrypted migration tunnel for %s on %s:%d", m.name, m.TargetIP, m.Port),
		Argv: argv, Stdin: t.TargetKey, Undo: &undo}
}

// tunnelSendStep starts the source's end: QEMU's migration socket spliced
// to TLS to the target's end.
func (m *migration) tunnelSendStep() plan.Step {
	t := m.Tunnel
	argv := []string{"sh", "-c", tunnelStartScript, "ganetictl-tunnel-start", t.SourceHelper[0], t.SourceHelper[1], tunnelPid(m.name), tunnelLog(m.name),
		"tunnel-send", "--listen-unix", tunnelSock(m.name, "out"), "--connect", m.TargetIP, "--port", strconv.Itoa(m.Port),
		"--identity", "-", "--peer-fp", t.TargetFP, "--accept-timeout", (m.timeout + acceptSlack).String(), "--idle-timeout", tunnelIdle.String()}
	undo := tunnelStop(m.name, m.Source)
	return plan.Step{Node: m.Source, Action: plan.Create, Desc: fmt.Sprintf("connect %s's migration to the tunnel to %s", m.name, m.Target),
		Argv: argv, Stdin: t.SourceKey, Undo: &undo}
}

const (
	// acceptSlack: a tunnel end waits for its stream a little longer than
	// the migration may take, then gives up by itself.
	acceptSlack = 60 * time.Second
	// tunnelIdle: a migration stream that moves nothing for this long is
	// dead (QEMU's own pauses are far shorter).
	tunnelIdle = 120 * time.Second
)

// TunnelSendSteps starts the source's tunnel end, after AcceptSteps and
// before MigrateStep; none without a tunnel.
func TunnelSendSteps(a MigrateArgs) ([]plan.Step, error) {
	m, err := a.resolve()
	if err != nil || m.Tunnel == nil {
		return nil, err
	}
	return []plan.Step{m.tunnelSendStep()}, nil
}

// TunnelStopSteps ends both tunnel ends (they end with the stream anyway;
// this removes what a failed or cut-off attempt left); none without a
// tunnel.
func TunnelStopSteps(a MigrateArgs) []plan.Step {
	if a.Tunnel == nil || a.Instance == nil {
		return nil
	}
	return []plan.Step{tunnelStop(a.Instance.Name, a.Source), tunnelStop(a.Instance.Name, a.Target)}
}
