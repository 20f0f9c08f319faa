package hv

// Node-side shell scripts. Each is a constant run as
// `sh -c SCRIPT ganetictl-NAME ARG...`: values only ever arrive as
// positional parameters, so no name, path or JSON document is ever parsed
// by the shell as code.

// kvmFuncs is shared by the KVM scripts.
//
// kvm_pid prints the pid of instance $1's qemu when it runs: the pidfile
// names a process whose command line has "-name $1" (Ganeti's check; a
// reused pid or a zombie, whose cmdline is empty, does not count).
//
// qmp sends QMP commands (one JSON object per argument) to socket $1 after
// qmp_capabilities and prints one reply line per command. It keeps the
// connection open until every reply has arrived (at most 5 s), because
// QEMU drops queued commands of a client that hung up; asynchronous events
// are filtered out. It fails when replies are missing.
//
// kvm_tap creates tap $3 of NIC $2 of instance $1 (recorded in
// nic/$1/$2, for the cleanup) and enslaves it to bridge $4 with the
// bridge's MTU; $5 and $6 are "1" for vnet_hdr and multi_queue, $7 the
// untagged VLAN (PVID) and $8 the tagged ones (comma-separated), set on
// the bridge port and the bridge's uplinks of a VLAN-filtering bridge, as
// Ganeti's kvm-ifup does. Start and hotplug share it so that a hot-added
// NIC is wired exactly as a started one. On failure it sets te to the
// reason and returns 1.
const kvmFuncs = `R=/run/ganeti/kvm-hypervisor
kvm_pid() {
  kp=$(cat "$R/pid/$1" 2>/dev/null) || return 1
  case $kp in ''|*[!0-9]*) return 1;; esac
  tr '\0' '\n' < "/proc/$kp/cmdline" 2>/dev/null |
    n=$1 awk 'p { split($0, a, ","); if (a[1] == ENVIRON["n"]) f = 1; p = 0 } $0 == "-name" { p = 1 } END { exit !f }' || return 1
  echo "$kp"
}
qmp() {
  qs=$1; shift
  qo=$(mktemp) || return 1
  qn=$(($# + 2))
  { printf '%s\n' '{"execute":"qmp_capabilities"}' "$@"
    qi=0
    while [ "$qi" -lt 100 ] && [ "$(grep -vc '"event": ' "$qo")" -lt "$qn" ]; do sleep 0.05; qi=$((qi + 1)); done
  } | socat -t1 - UNIX-CONNECT:"$qs" > "$qo"
  qr=0
  [ "$(grep -vc '"event": ' "$qo")" -ge "$qn" ] || { echo "qmp $qs: no reply" >&2; qr=1; }
  grep -v '"event": ' "$qo" | tail -n +3 | tr -d '\r'
  rm -f "$qo"
  return $qr
}
kvm_tap() {
  t=$3 br=$4 vh=$5 mq=$6 pv=$7 tg=$8
  ip link del "$t" 2>/dev/null
  ip tuntap add dev "$t" mode tap ${vh:+vnet_hdr} ${mq:+multi_queue} || { te="cannot create tap $t"; return 1; }
  printf '%s\n' "$t" > "$R/nic/$1/$2" || { te="cannot record tap $t"; return 1; }
  mtu=$(cat "/sys/class/net/$br/mtu" 2>/dev/null) && ip link set dev "$t" mtu "$mtu"
  ip link set dev "$t" master "$br" up || { te="cannot add tap $t to bridge $br"; return 1; }
  [ -n "$pv$tg" ] || return 0
  [ "$(cat "/sys/class/net/$br/bridge/vlan_filtering" 2>/dev/null)" = 1 ] ||
    { te="NIC $2 (tap $t) has VLANs ${pv:+untagged $pv }${tg:+tagged $tg }but bridge $br has VLAN filtering disabled"; return 1; }
  if [ -n "$pv" ]; then
    bridge vlan del dev "$t" vid 1 2>/dev/null
    bridge vlan add dev "$t" vid "$pv" pvid untagged master || { te="cannot set VLAN $pv on tap $t"; return 1; }
  fi
  for v in $(echo "$tg" | tr , ' '); do bridge vlan add dev "$t" vid "$v" master || { te="cannot set VLAN $v on tap $t"; return 1; }; done
  for l in /sys/class/net/$br/lower_*; do
    [ -e "$l" ] || continue
    up=${l##*/lower_}
    case $up in gt*|tap*) continue;; esac
    for v in $pv $(echo "$tg" | tr , ' '); do bridge vlan add dev "$up" vid "$v" master 2>/dev/null; done
  done
  return 0
}
kvm_cleanup() {
  if [ -d "$R/nic/$1" ]; then
    for f in "$R/nic/$1"/*; do
      [ -f "$f" ] && t=$(cat "$f") && [ -n "$t" ] && ip link del "$t" 2>/dev/null
    done
  fi
  rm -rf "$R/nic/$1"
  for x in monitor serial qmp kvmd qga shutdown; do rm -f "$R/ctrl/$1.$x"; done
  rm -f "$R/pid/$1" "$R/conf/$1.runtime"
}
`

// kvmStartScript starts one instance (reference §7.3, §8.1) in one round
// trip. Parameters: instance, runtime file content, a QMP command JSON to
// send after the start (the balloon to the start memory, or for a
// migration target the migration capabilities; or ""), the mode ("1" to
// send "cont", "" to leave the CPUs stopped, "incoming" for a migration
// target), the number of taps, then per tap: name, bridge, "1"/"" for
// vnet_hdr, "1"/"" for multi_queue, the untagged VLAN (PVID) and the
// tagged VLANs (comma-separated; both "" without VLANs); then the qemu
// argv.
//
// A running instance is left alone (start is idempotent, as in Ganeti),
// except in "incoming" mode: a stale incoming qemu (status inmigrate, left
// by an earlier attempt) is killed and replaced, and any other running
// copy is an error, because a migration must never stream into it.
// Otherwise it creates each tap, enslaves it to its bridge with the
// bridge's MTU (with its VLANs on the bridge port and on the bridge's
// uplinks, on a VLAN-filtering bridge, as Ganeti's kvm-ifup does),
// records it in nic/<inst>/<seq>, writes the runtime file,
// runs qemu (-daemonize returns once the monitors listen; -S keeps the
// CPUs stopped), then balloons to the start memory and sends "cont" over
// QMP. Any failure undoes what the script did (kills qemu, deletes the
// taps and runtime files) and exits non-zero.
const kvmStartScript = `inst=$1 rt=$2 bal=$3 cont=$4 ntap=$5; shift 5
` + kvmFuncs + `
if p=$(kvm_pid "$inst"); then
  [ "$cont" = incoming ] || { echo "$inst: already running (pid $p)"; exit 0; }
  st=$(qmp "$R/ctrl/$inst.qmp" '{"execute":"query-status"}' 2>/dev/null | sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' | head -n 1)
  [ "$st" = inmigrate ] || { echo "$inst: already runs on this node (pid $p, status ${st:-unknown}); refusing to start a migration target" >&2; exit 1; }
  echo "$inst: killing a stale incoming qemu (pid $p)"
  kill -KILL "$p"
  i=0; while [ "$i" -lt 50 ] && kvm_pid "$inst" >/dev/null; do sleep 0.1; i=$((i + 1)); done
  kvm_pid "$inst" >/dev/null && { echo "$inst: stale incoming qemu $p survived SIGKILL" >&2; exit 1; }
fi
pid=
fail() {
  echo "$inst: $*" >&2
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  kvm_cleanup "$inst"
  exit 1
}
kvm_cleanup "$inst"
mkdir -p "$R/pid" "$R/ctrl" "$R/conf" "$R/nic/$inst" /var/log/ganeti/kvm || fail "cannot create runtime directories"
i=0
while [ "$i" -lt "$ntap" ]; do
  kvm_tap "$inst" "$i" "$1" "$2" "$3" "$4" "$5" "$6" || fail "$te"
  shift 6
  i=$((i + 1))
done
printf '%s\n' "$rt" > "$R/conf/$inst.runtime" || fail "cannot write the runtime file"
"$@" || fail "qemu failed to start (exit $?)"
pid=$(kvm_pid "$inst") || fail "qemu exited right after starting"
set --
[ -n "$bal" ] && set -- "$bal"
[ "$cont" = 1 ] && set -- "$@" '{"execute":"cont"}'
if [ $# -gt 0 ]; then
  out=$(qmp "$R/ctrl/$inst.qmp" "$@") || fail "QMP failed: $out"
  case $out in *'"error"'*) fail "QMP error: $out";; esac
fi
echo "$inst: started (pid $pid)"
`

// kvmStopScript stops one instance (reference §7.4, §8.2). Parameters:
// instance, timeout in tenths of a second, "1" to skip the soft stop.
// Soft: QMP system_powerdown, re-sent every 5 s, until qemu is gone or the
// timeout expires. Then (or at once when forced) SIGTERM, up to 30 s,
// SIGKILL, up to 5 s. Finally the taps, sockets, pidfile, NIC records and
// runtime file are removed, also when the instance was not running, so
// stop always succeeds on a stopped instance and cleans up after a crash.
const kvmStopScript = `inst=$1 to=$2 force=$3
` + kvmFuncs + `
gone() { ! kvm_pid "$inst" >/dev/null; }
waitgone() { wi=0; while [ "$wi" -lt "$1" ]; do gone && return 0; sleep 0.1; wi=$((wi + 1)); done; gone; }
if pid=$(kvm_pid "$inst"); then
  if [ "$force" != 1 ]; then
    i=0
    while [ "$i" -lt "$to" ] && ! gone; do
      [ $((i % 50)) -eq 0 ] && qmp "$R/ctrl/$inst.qmp" '{"execute":"system_powerdown"}' >/dev/null 2>&1
      sleep 0.1
      i=$((i + 1))
    done
  fi
  if ! gone; then
    kill -TERM "$pid" 2>/dev/null
    if ! waitgone 300; then
      kill -KILL "$pid" 2>/dev/null
      waitgone 50 || { echo "$inst: qemu pid $pid survived SIGKILL" >&2; exit 1; }
    fi
    echo "$inst: killed (pid $pid)"
  else
    echo "$inst: shut down"
  fi
else
  echo "$inst: not running"
fi
kvm_cleanup "$inst"
`

// qmpScript sends QMP commands (parameters 2..) to socket $1 and prints one
// reply per line; it fails when a reply is an error.
const qmpScript = kvmFuncs + `s=$1; shift
out=$(qmp "$s" "$@") || { printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out"
case $out in *'"error"'*) exit 1;; esac
`

// MachineScript prints the default machine type of the qemu binary $1
// (Ganeti's "-machine ?" probe, reference §7.2), or "pc" when it says
// none. A planner gathers it once per node and passes it as
// StartArgs.DefaultMachine.
const MachineScript = `m=$("$1" -machine help 2>/dev/null | sed -n 's/^\([^ ]*\) .*(default).*/\1/p' | head -n 1)
echo "${m:-pc}"
`

// xenStartScript starts a Xen domain (reference §6.2). Parameters:
// instance, config file content, "1" to start paused. The config goes to
// /etc/xen/<inst> (a stale /etc/xen/auto/<inst> is removed); a running
// domain is left alone; when "xl create" fails the config is moved to
// /var/log/ganeti/xen/<inst>-<time> as Ganeti does.
const xenStartScript = `inst=$1 cfg=$2 paused=$3
f=/etc/xen/$inst
if xl list "$inst" >/dev/null 2>&1; then echo "$inst: already running"; exit 0; fi
mkdir -p /etc/xen || exit 1
rm -f "/etc/xen/auto/$inst"
printf '%s' "$cfg" > "$f.tmp" && mv -f "$f.tmp" "$f" || exit 1
if ! xl create ${paused:+-p} "$f"; then
  mkdir -p /var/log/ganeti/xen && mv -f "$f" "/var/log/ganeti/xen/$inst-$(date +%Y-%m-%d_%H_%M_%S)"
  echo "$inst: xl create failed" >&2
  exit 1
fi
echo "$inst: started"
`

// xenStopScript stops a Xen domain (reference §6.2). Parameters:
// instance, timeout in seconds, "1" to skip the soft stop. Unless forced
// or already shut down, "timeout T xl shutdown -w"; then, if the domain
// still exists, "xl destroy" (Xen always destroys after the graceful
// attempt). Then the config file and NIC dir are removed; a domain that is
// not there is success.
const xenStopScript = `inst=$1 to=$2 force=$3
if xl list "$inst" >/dev/null 2>&1; then
  st=$(xl list "$inst" 2>/dev/null | awk 'NR == 2 { print $5 }')
  case $st in ???s*) ;; *) [ "$force" = 1 ] || timeout "$to" xl shutdown -w "$inst" >/dev/null 2>&1;; esac
  if xl list "$inst" >/dev/null 2>&1; then xl destroy "$inst" || exit 1; fi
  echo "$inst: stopped"
else
  echo "$inst: not running"
fi
rm -f "/etc/xen/$inst"
rm -rf "/run/ganeti/xen-hypervisor/nic/$inst"
`

// xenRebootScript is Xen's soft reboot (reference §6.2): "xl reboot", then
// poll every 10 s, up to 60 times, until the domain id changed. Parameter:
// instance.
const xenRebootScript = `inst=$1
id() { xl list "$inst" 2>/dev/null | awk 'NR == 2 { print $2 }'; }
old=$(id)
[ -n "$old" ] || { echo "$inst: not running" >&2; exit 1; }
xl reboot "$inst" || exit 1
i=0
while [ "$i" -lt 60 ]; do
  new=$(id)
  [ -n "$new" ] && [ "$new" != "$old" ] && { echo "$inst: rebooted (domain $old -> $new)"; exit 0; }
  sleep 10
  i=$((i + 1))
done
echo "$inst: did not reboot within 600 s" >&2
exit 1
`

// ListScript prints what runs on a node, for facts gathering: one line
// "kvm NAME PID MEM_MIB VCPUS" per running qemu found through the pid
// directory (memory and vCPUs from its -m and -smp), then, when xl exists,
// each line of "xl list" prefixed "xl " (or "xlerr CODE" when it keeps
// failing; retried 3 times). No parameters; missing dirs and tools are
// normal and print nothing. ParseList reads it back.
const ListScript = `if [ -d /run/ganeti/kvm-hypervisor/pid ]; then
  for f in /run/ganeti/kvm-hypervisor/pid/*; do
    [ -f "$f" ] || continue
    n=${f##*/}
    p=$(cat "$f" 2>/dev/null) || continue
    case $p in ''|*[!0-9]*) continue;; esac
    tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | n=$n p=$p awk '
      k == "-name" { split($0, a, ","); nm = a[1] }
      k == "-m" { m = $0 }
      k == "-smp" { split($0, a, ","); c = a[1] }
      { k = $0 }
      END { if (nm == ENVIRON["n"]) print "kvm", nm, ENVIRON["p"], (m == "" ? 0 : m), (c == "" ? 1 : c) }'
  done
fi
if command -v xl >/dev/null 2>&1; then
  i=0
  while :; do
    out=$(xl list 2>&1) && { printf '%s\n' "$out" | sed 's/^/xl /'; break; }
    rc=$?
    i=$((i + 1))
    [ "$i" -ge 3 ] && { echo "xlerr $rc"; break; }
    sleep 0.3
  done
fi
`

// kvmHotplugFuncs is shared by the hotplug scripts: q sends one QMP
// command to instance $inst's qemu and fails on an error reply (the reply
// in $out); save_rt writes runtime file content $1 atomically.
const kvmHotplugFuncs = kvmFuncs + `q() {
  out=$(qmp "$R/ctrl/$inst.qmp" "$1") || return 1
  case $out in *'"error"'*) return 1;; esac
}
save_rt() { printf '%s\n' "$1" > "$R/conf/$inst.runtime.new" && mv -f "$R/conf/$inst.runtime.new" "$R/conf/$inst.runtime"; }
`

// kvmHotplugNICScript hot-adds a NIC to a running instance (Ganeti's
// HotAddDevice for a NIC). Parameters: instance, NIC index, tap, bridge,
// "1"/"" vnet_hdr, "1"/"" multi_queue, untagged VLAN, tagged VLANs (as
// kvm_tap), the new runtime file content, then the QMP netdev_add,
// device_add and netdev_del commands. It creates the tap as start does,
// adds the netdev and the device, and only then writes the runtime file,
// so that a later stop, migration or cleanup knows the device. A failure
// undoes what the script did.
const kvmHotplugNICScript = `inst=$1 seq=$2 t=$3 rt=$9 nadd=${10} dadd=${11} ndel=${12}
` + kvmHotplugFuncs + `
kvm_pid "$inst" >/dev/null || { echo "$inst: not running, nothing to hot-plug into" >&2; exit 1; }
mkdir -p "$R/nic/$inst" || exit 1
undo_tap() { ip link del "$t" 2>/dev/null; rm -f "$R/nic/$inst/$seq"; }
kvm_tap "$inst" "$seq" "$3" "$4" "$5" "$6" "$7" "$8" || { echo "$inst: $te" >&2; undo_tap; exit 1; }
q "$nadd" || { echo "$inst: QMP netdev_add failed: $out" >&2; undo_tap; exit 1; }
q "$dadd" || { echo "$inst: QMP device_add failed: $out" >&2; q "$ndel"; undo_tap; exit 1; }
save_rt "$rt" || { echo "$inst: NIC $seq is plugged in but the runtime file could not be updated" >&2; exit 1; }
echo "$inst: hot-plugged NIC $seq (tap $t)"
`

// kvmUnplugNICScript undoes kvmHotplugNICScript. Parameters: instance,
// NIC index, tap, the runtime file content to restore, then the QMP
// device_del and netdev_del commands. device_del only asks the guest to
// release the device (ACPI); the netdev, tap and record go regardless.
const kvmUnplugNICScript = `inst=$1 seq=$2 t=$3 rt=$4 ddel=$5 ndel=$6
` + kvmHotplugFuncs + `
if kvm_pid "$inst" >/dev/null; then
  q "$ddel" || echo "$inst: QMP device_del: $out" >&2
  q "$ndel" || echo "$inst: QMP netdev_del: $out" >&2
  save_rt "$rt" || echo "$inst: cannot restore the runtime file" >&2
fi
ip link del "$t" 2>/dev/null
rm -f "$R/nic/$inst/$seq"
echo "$inst: NIC $seq unplugged (tap $t removed)"
`

// kvmHotplugDiskScript hot-adds an activated disk to a running instance.
// Parameters: instance, the disk's link (made by the activation), the new
// runtime file content, then the QMP blockdev-add, device_add and
// blockdev-del commands. The runtime file is written once qemu has the
// device; a failure undoes what the script did.
const kvmHotplugDiskScript = `inst=$1 link=$2 rt=$3 badd=$4 dadd=$5 bdel=$6
` + kvmHotplugFuncs + `
kvm_pid "$inst" >/dev/null || { echo "$inst: not running, nothing to hot-plug into" >&2; exit 1; }
[ -b "$link" ] || [ -f "$link" ] || { echo "$inst: disk link $link is missing (is the disk activated?)" >&2; exit 1; }
q "$badd" || { echo "$inst: QMP blockdev-add failed: $out" >&2; exit 1; }
q "$dadd" || { echo "$inst: QMP device_add failed: $out" >&2; q "$bdel"; exit 1; }
save_rt "$rt" || { echo "$inst: the disk is plugged in but the runtime file could not be updated" >&2; exit 1; }
echo "$inst: hot-plugged disk $link"
`

// kvmUnplugDiskScript undoes kvmHotplugDiskScript. Parameters: instance,
// the runtime file content to restore, the QMP device_del and
// blockdev-del commands (blockdev-del fails while the guest still holds
// the device: device_del needs its ACPI cooperation).
const kvmUnplugDiskScript = `inst=$1 rt=$2 ddel=$3 bdel=$4
` + kvmHotplugFuncs + `
kvm_pid "$inst" >/dev/null || { echo "$inst: not running"; exit 0; }
q "$ddel" || echo "$inst: QMP device_del: $out" >&2
i=0; while [ "$i" -lt 20 ] && ! q "$bdel"; do sleep 0.1; i=$((i + 1)); done
[ "$i" -lt 20 ] || echo "$inst: QMP blockdev-del: $out (the guest did not release the device)" >&2
save_rt "$rt" || echo "$inst: cannot restore the runtime file" >&2
echo "$inst: disk unplugged"
`

// RuntimeScript prints instance $1's KVM runtime file, or nothing when
// it has none (not running here): the hotplug planner's probe.
const RuntimeScript = `cat "/run/ganeti/kvm-hypervisor/conf/$1.runtime" 2>/dev/null; exit 0
`
