package hv

import (
	"fmt"
	"net"
	"strconv"

	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// xenReceiverPidFile is the pidfile of the socat receiver listening on port.
func xenReceiverPidFile(port int) string {
	return RunDir + "/xen-hypervisor/migrate-receive-" + strconv.Itoa(port) + ".pid"
}

// xenHostPort returns the socat address parts for ip: listen type, bind
// value and connect host.
func xenHostPort(ipText string) (listen, host string) {
	ip := net.ParseIP(ipText)
	if ip.To4() != nil {
		return "TCP4-LISTEN", ip.String()
	}
	return "TCP6-LISTEN", "[" + ip.String() + "]"
}

func xenAcceptSteps(m *migration) ([]plan.Step, error) {
	listen, host := xenHostPort(m.TargetIP)
	undo := xenAbortTarget(m)
	return []plan.Step{{Node: m.Target, Action: plan.Create,
		Desc: fmt.Sprintf("listen for the migration of %s on %s:%d (socat | xl migrate-receive)", m.name, host, m.Port),
		Argv: []string{"sh", "-c", xenAcceptScript, "ganetictl-xen-accept", m.name, listen, host, strconv.Itoa(m.Port), xenReceiverPidFile(m.Port)},
		Undo: &undo}}, nil
}

func xenMigrateStep(m *migration) plan.Step {
	_, host := xenHostPort(m.TargetIP)
	return plan.Step{Node: m.Source, Action: plan.Exec,
		Desc: fmt.Sprintf("migrate instance %s (%s, xl migrate) to %s at %s:%d", m.name, m.Instance.Hypervisor, m.Target, host, m.Port),
		Argv: []string{"sh", "-c", xenMigrateScript, "ganetictl-xen-migrate", m.name, host, strconv.Itoa(m.Port)}}
}

func xenFinalizeSource(m *migration) plan.Step {
	return plan.Step{Node: m.Source, Action: plan.Remove,
		Desc: fmt.Sprintf("remove the config of migrated-away %s on %s", m.name, m.Source),
		Argv: []string{"sh", "-c", xenFinalizeSourceScript, "ganetictl-xen-finalize-source", m.name}}
}

func xenFinalizeTarget(m *migration) ([]plan.Step, error) {
	cfg, err := XenConfigFile(m.startArgs(m.Target))
	if err != nil {
		return nil, err
	}
	return []plan.Step{
		{Node: m.Target, Action: plan.Exec, Desc: fmt.Sprintf("check that %s runs on %s after the migration", m.name, m.Target),
			Argv: []string{"sh", "-c", xenFinalizeTargetScript, "ganetictl-xen-finalize-target", m.name, xenReceiverPidFile(m.Port)}},
		{Node: m.Target, Action: plan.Upload, Desc: fmt.Sprintf("write %s on %s", XenConfig(m.name), m.Target),
			Path: XenConfig(m.name), Mode: 0o644, Content: cfg},
	}, nil
}

func xenAbortTarget(m *migration) plan.Step {
	return plan.Step{Node: m.Target, Action: plan.Remove,
		Desc: fmt.Sprintf("stop the migration receiver of %s on %s (migration failed)", m.name, m.Target),
		Argv: []string{"sh", "-c", xenAbortTargetScript, "ganetictl-xen-abort-target", m.name, xenReceiverPidFile(m.Port)}}
}

func xenAbortSource(m *migration) plan.Step {
	return plan.Step{Node: m.Source, Action: plan.Modify,
		Desc: fmt.Sprintf("keep instance %s on %s (migration failed)", m.name, m.Source),
		Argv: []string{"sh", "-c", xenAbortSourceScript, "ganetictl-xen-abort-source", m.name}}
}

// xenRecvFuncs: stop_receiver kills the receiver in pidfile $1 if its
// command line is socat ... xl migrate-receive (Ganeti's check).
const xenRecvFuncs = `stop_receiver() {
  rp=$(cat "$1" 2>/dev/null)
  case $rp in ''|*[!0-9]*) rm -f "$1"; return 0;; esac
  if tr '\0' ' ' < "/proc/$rp/cmdline" 2>/dev/null | grep -q 'xl migrate-receive'; then
    kill "$rp" 2>/dev/null
    ri=0; while [ "$ri" -lt 50 ] && kill -0 "$rp" 2>/dev/null; do sleep 0.1; ri=$((ri + 1)); done
    kill -KILL "$rp" 2>/dev/null
  fi
  rm -f "$1"
}
`

// xenAcceptScript (reference §6.5, target): parameters instance, socat
// listen type, bind address, port, pidfile.
const xenAcceptScript = `inst=$1 listen=$2 ip=$3 port=$4 pf=$5
` + xenRecvFuncs + `if xl list "$inst" >/dev/null 2>&1; then echo "$inst: already runs on this node; refusing to receive it" >&2; exit 1; fi
mkdir -p "${pf%/*}" /var/log/ganeti/xen || exit 1
stop_receiver "$pf"
log=/var/log/ganeti/xen/$inst-migrate-receive.log
setsid socat -b524288 "$listen:$port,bind=$ip,reuseaddr" "SYSTEM:xl migrate-receive" </dev/null >/dev/null 2>>"$log" &
rp=$!
printf '%s\n' "$rp" > "$pf"
sleep 1
if ! kill -0 "$rp" 2>/dev/null; then
  rm -f "$pf"
  echo "$inst: the migration receiver on $ip:$port exited (port busy?): $(tail -n 3 "$log" 2>/dev/null)" >&2
  exit 1
fi
echo "$inst: receiving on $ip:$port (socat pid $rp)"
`

// xenMigrateScript (reference §6.5, source): parameters instance, target
// host, port. Prints the same summary line as the KVM migration.
const xenMigrateScript = `inst=$1 ip=$2 port=$3
now_ms() { t=$(date +%s%N); case $t in *[!0-9]*|'') echo $(($(date +%s) * 1000));; *) echo $((t / 1000000));; esac; }
summary() {
  ss=$(xl list "$inst" 2>/dev/null | awk 'NR == 2 { print $5 }')
  printf '{"status":"%s","live":true,"total-time":%s,"source-status":"%s","wall-ms":%s,"error":"%s"}\n' "$1" "$2" "$ss" "$2" "$3"
}
xl list "$inst" >/dev/null 2>&1 || { echo "$inst: not running on this node" >&2; summary error 0 "not running on this node"; exit 1; }
t0=$(now_ms)
if xl migrate -s "socat -b524288 - TCP:$ip:$port #" -C "/etc/xen/$inst" "$inst" "$ip"; then
  summary completed $(($(now_ms) - t0)) ""
  exit 0
fi
rc=$?
if xl list "$inst--migratedaway" >/dev/null 2>&1 && ! xl list "$inst" >/dev/null 2>&1; then
  xl rename "$inst--migratedaway" "$inst" && echo "$inst: renamed $inst--migratedaway back" >&2
fi
summary failed $(($(now_ms) - t0)) "xl migrate exited $rc"
exit 1
`

// xenFinalizeSourceScript: parameter instance.
const xenFinalizeSourceScript = `inst=$1
if xl list "$inst" >/dev/null 2>&1 || xl list "$inst--migratedaway" >/dev/null 2>&1; then
  echo "$inst: the domain is still on this node; not removing its config" >&2
  exit 1
fi
rm -f "/etc/xen/$inst"
rm -rf "/run/ganeti/xen-hypervisor/nic/$inst"
echo "$inst: config removed"
`

// xenFinalizeTargetScript: parameters instance, receiver pidfile.
const xenFinalizeTargetScript = `inst=$1 pf=$2
` + xenRecvFuncs + `stop_receiver "$pf"
xl list "$inst" >/dev/null 2>&1 || { echo "$inst: not running on this node after the migration" >&2; exit 1; }
mkdir -p /etc/xen
echo "$inst: runs on this node"
`

// xenAbortTargetScript: parameters instance, receiver pidfile. Destroys a
// leftover incoming domain: "INST--incoming" (xl's own temporary name in
// the test bed's stand-in) or INST with CPU time 0 (never ran; Ganeti's
// rule).
const xenAbortTargetScript = `inst=$1 pf=$2
` + xenRecvFuncs + `stop_receiver "$pf"
xl list "$inst--incoming" >/dev/null 2>&1 && xl destroy "$inst--incoming"
cpu=$(xl list "$inst" 2>/dev/null | awk 'NR == 2 { print $6 }')
if [ -n "$cpu" ]; then
  if [ "$cpu" = 0.0 ]; then xl destroy "$inst" || exit 1; echo "$inst: destroyed the incoming domain"
  else echo "$inst: runs on this node (CPU time $cpu s); not destroying it" >&2; exit 1; fi
fi
echo "$inst: receiver stopped"
`

// xenAbortSourceScript: parameter instance.
const xenAbortSourceScript = `inst=$1
if xl list "$inst--migratedaway" >/dev/null 2>&1 && ! xl list "$inst" >/dev/null 2>&1; then
  xl rename "$inst--migratedaway" "$inst" || exit 1
  echo "$inst: renamed back from $inst--migratedaway"
fi
xl list "$inst" >/dev/null 2>&1 || { echo "$inst: not on this node" >&2; exit 1; }
echo "$inst: runs on this node"
`
