package hv

// Node-side scripts of migration (reference §7.5, §6.5); conventions as in
// scripts.go.

// qmpStatusFuncs extends kvmFuncs: qstatus prints the QMP status of
// instance $1's qemu ("" when QMP does not answer); jstr/jnum print the
// string/number value of key $1 in the JSON text $2 (keys are constants
// of these scripts; QEMU's replies have no nested quotes in these fields).
const qmpStatusFuncs = `jstr() { printf '%s' "$2" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -n 1; }
jnum() { printf '%s' "$2" | sed -n "s/.*\"$1\": *\([0-9][0-9.eE+-]*\).*/\1/p" | head -n 1; }
qstatus() { jstr status "$(qmp "$R/ctrl/$1.qmp" '{"execute":"query-status"}' 2>/dev/null)"; }
`

// kvmMigrateScript migrates instance $1 away (reference §7.5 steps 3-5).
// Parameters: instance, "1" for live, the migrate-set-parameters command,
// the set-capabilities command (or ""), the clear-capabilities command
// (or ""), the migrate command, the timeout in seconds, "1" when postcopy
// is enabled. See MigrateStep.
const kvmMigrateScript = `inst=$1 live=$2 setp=$3 caps=$4 uncaps=$5 mig=$6 to=$7 postcopy=$8
` + kvmFuncs + qmpStatusFuncs + `q=$R/ctrl/$inst.qmp
now_ms() { t=$(date +%s%N); case $t in *[!0-9]*|'') echo $(($(date +%s) * 1000));; *) echo $((t / 1000000));; esac; }
t0=$(now_ms)
s=error r= act= err= timedout=false pc=false stopped=
summary() {
  # A failed or cancelled migration reports no statistics: take them from
  # the last answer that had them.
  case $r in *'"ram"'*) act=$r;; esac
  ram=$(printf '%s' "$act" | sed -n 's/.*"ram": *\({[^}]*}\).*/\1/p')
  [ "$live" = 1 ] && lv=true || lv=false
  printf '{"status":"%s","live":%s,"total-time":%s,"downtime":%s,"setup-time":%s,"transferred":%s,"total":%s,"mbps":%s,"source-status":"%s","wall-ms":%s,"timed-out":%s,"postcopy":%s,"error":"%s"}\n' \
    "$s" "$lv" "$(jnum total-time "$r" | grep . || jnum total-time "$act" | grep . || echo 0)" "$(jnum downtime "$r" | grep . || echo 0)" "$(jnum setup-time "$r" | grep . || echo 0)" \
    "$(jnum transferred "$ram" | grep . || echo 0)" "$(jnum total "$ram" | grep . || echo 0)" "$(jnum mbps "$ram" | grep . || echo 0)" \
    "$(qstatus "$inst")" "$(($(now_ms) - t0))" "$timedout" "$pc" "$(printf '%s' "$err" | tr -d '"\\\n\r')"
}
# restore leaves the source running after a failure: QEMU resumes a live
# source by itself; a guest this script stopped gets "cont".
restore() {
  [ -n "$uncaps" ] && qmp "$q" "$uncaps" >/dev/null 2>&1
  if [ -n "$stopped" ] && [ "$(qstatus "$inst")" = paused ]; then
    qmp "$q" '{"execute":"cont"}' >/dev/null 2>&1 || echo "$inst: could not resume the source" >&2
  fi
}
fail() { err=$*; echo "$inst: migration failed: $*" >&2; restore; summary; exit 1; }
kvm_pid "$inst" >/dev/null || { err="not running on this node"; echo "$inst: $err" >&2; summary; exit 1; }
st0=$(qstatus "$inst")
case $st0 in
running|paused|suspended) ;;
'') err="QMP does not answer"; echo "$inst: $err" >&2; summary; exit 1;;
*) err="source qemu is $st0"; echo "$inst: $err" >&2; summary; exit 1;;
esac
r=$(qmp "$q" '{"execute":"query-migrate"}' 2>/dev/null)
case $(jstr status "$r") in
setup|active|postcopy-active|postcopy-paused|postcopy-recover|device|pre-switchover|cancelling|wait-unplug)
  r= err="a migration is already in progress"; echo "$inst: $err" >&2; summary; exit 1;;
esac
r=
if [ "$live" != 1 ] && [ "$st0" = running ]; then
  out=$(qmp "$q" '{"execute":"stop"}') || fail "QMP stop: $out"
  stopped=1
  echo "$inst: CPUs stopped for a non-live migration" >&2
fi
set -- "$setp"
[ -n "$caps" ] && set -- "$@" "$caps"
out=$(qmp "$q" "$@") || fail "QMP: $out"
case $out in *'"error"'*) fail "$(jstr desc "$out")";; esac
out=$(qmp "$q" "$mig") || fail "QMP migrate: $out"
case $out in *'"error"'*) fail "$(jstr desc "$out")";; esac
echo "$inst: migrating ($mig)" >&2
last=$t0 bad=0 cancelled=
while :; do
  r=$(qmp "$q" '{"execute":"query-migrate"}' 2>/dev/null)
  s=$(jstr status "$r")
  case $s in
  completed|failed|cancelled) break;;
  '')
    bad=$((bad + 1))
    if [ "$bad" -ge 5 ]; then s=unknown; err="QMP stopped answering"; break; fi
    sleep 2; continue;;
  esac
  bad=0
  case $r in *'"ram"'*) act=$r;; esac
  n=$(now_ms)
  if [ $((n - last)) -ge 5000 ]; then
    ram=$(printf '%s' "$r" | sed -n 's/.*"ram": *\({[^}]*}\).*/\1/p')
    printf '%s %s %s %s %s\n' "$inst" "$s" "$(jnum transferred "$ram")" "$(jnum total "$ram")" $(((n - t0) / 1000)) |
      awk '{ printf "%s: migration %s, %.1f of %.1f MiB sent, %d s\n", $1, $2, $3 / 1048576, $4 / 1048576, $5 }' >&2
    last=$n
  fi
  if [ "$postcopy" = 1 ] && [ "$pc" = false ] && [ "$s" = active ] && [ "$(jnum dirty-sync-count "$r" | cut -d. -f1)" -ge 2 ] 2>/dev/null; then
    qmp "$q" '{"execute":"migrate-start-postcopy"}' >/dev/null && pc=true && echo "$inst: switched to postcopy" >&2
  fi
  if [ -z "$cancelled" ] && [ $((n - t0)) -ge $((to * 1000)) ]; then
    timedout=true
    echo "$inst: migration did not finish in $to s; cancelling" >&2
    qmp "$q" '{"execute":"migrate_cancel"}' >/dev/null 2>&1
    cancelled=$n
  elif [ -n "$cancelled" ] && [ $((n - cancelled)) -ge 30000 ]; then
    s=unknown err="migration still $s 30 s after migrate_cancel"; break
  fi
  sleep 0.2
done
if [ "$s" = completed ]; then
  summary
  exit 0
fi
[ -n "$err" ] || err=$(jstr error-desc "$r")
[ "$s" = unknown ] && qmp "$q" '{"execute":"migrate_cancel"}' >/dev/null 2>&1
echo "$inst: migration $s${err:+: $err}" >&2
restore
summary
exit 1
`

// kvmKillScript kills instance $1's qemu when its QMP status is one of
// the space-separated words in $2 ("unreachable": QMP does not answer),
// SIGTERM then SIGKILL, and removes its runtime files and taps. A qemu in
// another status is left alone and the script fails; no qemu is success.
const kvmKillScript = `inst=$1 allowed=$2
` + kvmFuncs + qmpStatusFuncs + `gone() { ! kvm_pid "$inst" >/dev/null; }
waitgone() { wi=0; while [ "$wi" -lt "$1" ]; do gone && return 0; sleep 0.1; wi=$((wi + 1)); done; gone; }
if pid=$(kvm_pid "$inst"); then
  st=$(qstatus "$inst")
  [ -n "$st" ] || st=unreachable
  case " $allowed " in
  *" $st "*) ;;
  *) echo "$inst: qemu (pid $pid) is $st here; not killing it (only when: $allowed)" >&2; exit 1;;
  esac
  kill -TERM "$pid" 2>/dev/null
  if ! waitgone 300; then
    kill -KILL "$pid" 2>/dev/null
    waitgone 50 || { echo "$inst: qemu pid $pid survived SIGKILL" >&2; exit 1; }
  fi
  echo "$inst: killed qemu (pid $pid, was $st)"
else
  echo "$inst: no qemu here"
fi
kvm_cleanup "$inst"
`

// kvmFinalizeTargetScript: parameters instance, "1" to resume a paused
// guest (non-live migration), the clear-capabilities command (or "").
const kvmFinalizeTargetScript = `inst=$1 resume=$2 uncaps=$3
` + kvmFuncs + qmpStatusFuncs + `kvm_pid "$inst" >/dev/null || { echo "$inst: no qemu on this node" >&2; exit 1; }
i=0
while :; do
  st=$(qstatus "$inst")
  [ "$st" != inmigrate ] && [ -n "$st" ] && break
  [ "$i" -ge 100 ] && { echo "$inst: still ${st:-unreachable} after 10 s" >&2; exit 1; }
  sleep 0.1; i=$((i + 1))
done
case $st in
running) ;;
paused)
  if [ "$resume" = 1 ]; then
    out=$(qmp "$R/ctrl/$inst.qmp" '{"execute":"cont"}') || { echo "$inst: cont: $out" >&2; exit 1; }
    case $out in *'"error"'*) echo "$inst: cont: $out" >&2; exit 1;; esac
    st=running
  fi;;
*) echo "$inst: qemu is $st after the migration" >&2; exit 1;;
esac
[ -n "$uncaps" ] && qmp "$R/ctrl/$inst.qmp" "$uncaps" >/dev/null 2>&1
echo "$inst: $st on this node"
`

// kvmAbortSourceScript: parameters instance, "1" to resume a paused guest
// (non-live), the clear-capabilities command (or "").
const kvmAbortSourceScript = `inst=$1 resume=$2 uncaps=$3
` + kvmFuncs + qmpStatusFuncs + `kvm_pid "$inst" >/dev/null || { echo "$inst: no qemu on this node" >&2; exit 1; }
q=$R/ctrl/$inst.qmp
st=$(qstatus "$inst")
case $(jstr status "$(qmp "$q" '{"execute":"query-migrate"}' 2>/dev/null)") in
setup|active|postcopy-active|device|pre-switchover)
  qmp "$q" '{"execute":"migrate_cancel"}' >/dev/null 2>&1
  i=0; while [ "$i" -lt 100 ] && [ "$(qstatus "$inst")" = finish-migrate ]; do sleep 0.1; i=$((i + 1)); done
  st=$(qstatus "$inst");;
esac
case $st in
running) ;;
paused) [ "$resume" = 1 ] && { qmp "$q" '{"execute":"cont"}' >/dev/null || exit 1; st=running; };;
*) echo "$inst: source qemu is ${st:-unreachable}; not resuming (run migrate --cleanup)" >&2; exit 1;;
esac
[ -n "$uncaps" ] && qmp "$q" "$uncaps" >/dev/null 2>&1
echo "$inst: $st on this node"
`
