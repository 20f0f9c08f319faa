#!/bin/bash
# make bench: ganetictl side by side with what an admin would otherwise use,
# on a 20-node test bed, in one run, with ratios. Timings are medians of
# RUNS runs; nothing here is pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TESTBED_DIR:=/tmp/ganetictl-testbed}" "${TESTBED_ID:=0}" "${NODES:=20}" "${RUNS:=7}"
# BENCH_PARTS picks sections: all, or any of command,instance,migrate,copy,backend,alloc
# (e.g. BENCH_PARTS=copy NODES=2 for the disk copies alone; alloc, the
# balancer against hbal, needs no test bed).
: "${BENCH_PARTS:=all}"
[ "$BENCH_PARTS" = alloc ] && exec bash scripts/bench_alloc.sh
export TESTBED_DIR TESTBED_ID
part() { [ "$BENCH_PARTS" = all ] || case ",$BENCH_PARTS," in *",$1,"*) true ;; *) false ;; esac; }
[ "$(id -u)" = 0 ] || { echo "make bench needs root (test bed)" >&2; exit 1; }
sh scripts/deps.sh
go run ./testbed/cmd/testbed up -n "$NODES" -id "$TESTBED_ID" >/dev/null
STATE=$(mktemp -d /tmp/ganetictl-bench.XXXXXX)
trap 'rm -rf "$STATE"' EXIT
INV=$TESTBED_DIR/inventory.toml
SSHCFG=$TESTBED_DIR/ssh_config
G="bin/ganetictl --inventory $INV --state-dir $STATE"
NAMES=$(seq -f 'node%g' 1 "$NODES")
printf '%s\n' $NAMES > "$STATE/hosts"

ratio() { echo "scale=2; $1 / $2" | bc -l; }
if part command; then
$G cluster init >/dev/null 2>&1
for n in $(seq 2 "$NODES"); do $G node add "node$n" >/dev/null 2>&1; done

# median of RUNS timings of a command, in seconds
median() {
  local times=()
  for _ in $(seq "$RUNS"); do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}
ssh_loop() { for n in $NAMES; do ssh -F "$SSHCFG" "$n" true & done; wait; }
pssh_run() { parallel-ssh -p "$NODES" -h "$STATE/hosts" -x "-F $SSHCFG" -t 30 true; }

echo "== run a command on $NODES nodes (median of $RUNS)"
t_g=$(median $G cluster command -- true)
t_p=$(median pssh_run)
t_l=$(median ssh_loop)
t_1=$(median ssh -F "$SSHCFG" node1 true)
t_g1=$(median $G cluster command -n node1 -- true)
printf '%-44s %8ss\n' "ganetictl cluster command -- true" "$t_g" \
  "parallel-ssh -h hosts true" "$t_p" "for n; do ssh \$n true & done; wait" "$t_l" \
  "ssh node1 true (one node)" "$t_1" "ganetictl cluster command -n node1 -- true" "$t_g1"
echo "ratio parallel-ssh / ganetictl:        $(ratio "$t_p" "$t_g")x  (target >= 2)"
echo "ratio ssh loop / ganetictl:            $(ratio "$t_l" "$t_g")x"
echo "ratio ganetictl($NODES) / ssh one node: $(ratio "$t_g" "$t_1")x  (target <= 1.5)"

echo "== cluster verify (facts gathered once per node, all nodes in parallel)"
t_v=$(median $G cluster verify)
$G node modify -O yes --auto-promote --force node2 >/dev/null 2>&1 || true
STATE1=$(mktemp -d /tmp/ganetictl-bench1.XXXXXX)
bin/ganetictl --inventory "$INV" --state-dir "$STATE1" cluster init >/dev/null 2>&1
t_v1=$(median bin/ganetictl --inventory "$INV" --state-dir "$STATE1" cluster verify)
rm -rf "$STATE1"
printf '%-44s %8ss\n' "cluster verify, $NODES nodes" "$t_v" "cluster verify, 1 node" "$t_v1"
echo "ratio verify($NODES) / verify(1):       $(ratio "$t_v" "$t_v1")x"

fi
go build -o bin/benchtool ./bench/benchtool
if part instance; then
# ---- instances (issue: non-redundant instances) ----------------------------
SI=$(mktemp -d /tmp/ganetictl-bench-inst.XXXXXX)
GI="bin/ganetictl --inventory $INV --state-dir $SI"
$GI cluster init >/dev/null 2>&1
for n in $(seq 2 10); do $GI node add "node$n" >/dev/null 2>&1; done
ADD="instance add -t file -s 64M -o testos --no-start --no-name-check -n node2"
echo "== instance operations: ganetictl against the bare node commands of its own plan (median of $RUNS)"
echo "   (bare = the same argv run with OpenSSH over one ControlMaster connection per node)"
tg=(); tb=()
for i in $(seq "$RUNS"); do
  s=$(date +%s.%N); $GI $ADD "bg$i" >/dev/null 2>&1; e=$(date +%s.%N); tg+=("$(echo "$e - $s" | bc -l)")
  $GI --dry-run --json $ADD "bb$i" > "$SI/plan.json" 2>/dev/null
  s=$(date +%s.%N); bin/benchtool run-plan "$SSHCFG" < "$SI/plan.json"; e=$(date +%s.%N); tb+=("$(echo "$e - $s" | bc -l)")
  ssh -F "$SSHCFG" node2 rm -rf "/srv/ganeti/file-storage/bb$i"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }
report() { printf '%-34s ganetictl %6ss  bare %6ss  overhead %5.0f ms\n' "$1" "$2" "$3" "$(echo "($2 - $3) * 1000" | bc -l)"; }
report "instance add -t file --no-start" "$(med "${tg[@]}")" "$(med "${tb[@]}")"
for verb in startup shutdown remove; do
  tg=(); tb=()
  for i in $(seq "$RUNS"); do
    case $verb in
      startup) args=(instance startup "bg$i") ;;
      shutdown) args=(instance shutdown --timeout 1s "bg$i") ;;
      remove) args=(instance remove -f --shutdown-timeout 1s "bg$i") ;;
    esac
    # The bare run executes the plan for the same state, then ganetictl does it for real.
    $GI --dry-run --json "${args[@]}" > "$SI/plan.json" 2>/dev/null
    s=$(date +%s.%N); bin/benchtool run-plan "$SSHCFG" < "$SI/plan.json"; e=$(date +%s.%N); tb+=("$(echo "$e - $s" | bc -l)")
    [ $verb = startup ] && $GI instance shutdown --timeout 1s --no-remember "bg$i" >/dev/null 2>&1
    [ $verb = shutdown ] && $GI instance startup "bg$i" >/dev/null 2>&1
    [ $verb = remove ] && $GI instance add -t file -s 64M -o testos --no-start --no-name-check -n node2 "bg$i" >/dev/null 2>&1 || true
    s=$(date +%s.%N); $GI "${args[@]}" >/dev/null 2>&1; e=$(date +%s.%N); tg+=("$(echo "$e - $s" | bc -l)")
  done
  report "instance $verb" "$(med "${tg[@]}")" "$(med "${tb[@]}")"
done
echo "   (shutdown includes the 1 s soft-stop timeout: the test guest has no OS to power itself off)"

echo "== instance list over 200 instances on 10 nodes (20 running)"
bin/benchtool populate "$SI" 200
for i in $(seq 0 19); do $GI instance startup "$(printf bench%03d $i)" >/dev/null 2>&1; done
t_list=$(median $GI instance list)
printf '%-44s %8ss  (target <= 1 s)\n' "ganetictl instance list (200 instances)" "$t_list"
for i in $(seq 0 19); do $GI instance shutdown --timeout 1s "$(printf bench%03d $i)" >/dev/null 2>&1; done
rm -rf "$SI"

fi
if part migrate; then
# ---- live migration and failover (issue: DRBD and high availability) -------
SM=$(mktemp -d /tmp/ganetictl-bench-mig.XXXXXX)
GM="bin/ganetictl --inventory $INV --state-dir $SM"
$GM cluster init >/dev/null 2>&1
$GM node add node2 >/dev/null 2>&1
# No bandwidth cap: the guest's memory is what QEMU must copy (unused pages are skipped).
$GM instance add -n node1 -o testos -t sharedfile -s 64M -B maxmem=512,minmem=512 \
  -H kvm:migration_bandwidth=10000 --no-name-check mig1 >/dev/null 2>&1
echo "== live migration of a 512 MiB VM (shared storage): ganetictl against its own node commands run by hand (median of $RUNS)"
tg=(); tb=()
for i in $(seq "$RUNS"); do
  # By hand: the same node commands (start the target with -incoming, QMP migrate, finish) over ssh.
  $GM --dry-run --json instance migrate -f -n node2 mig1 > "$SM/plan.json" 2>/dev/null
  s=$(date +%s.%N); bin/benchtool run-plan "$SSHCFG" < "$SM/plan.json"; e=$(date +%s.%N); tb+=("$(echo "$e - $s" | bc -l)")
  $GM instance migrate --cleanup -n node2 mig1 >/dev/null 2>&1   # the state follows the VM to node2
  s=$(date +%s.%N); $GM instance migrate -f -n node1 mig1 >/dev/null 2>&1; e=$(date +%s.%N); tg+=("$(echo "$e - $s" | bc -l)")
done
report "instance migrate (live, 512 MiB)" "$(med "${tg[@]}")" "$(med "${tb[@]}")"
printf '%-34s %sx  (target <= 1.3)\n' "ratio ganetictl / by hand" "$(ratio "$(med "${tg[@]}")" "$(med "${tb[@]}")")"
tf=()
for i in $(seq "$RUNS"); do
  s=$(date +%s.%N); $GM instance failover -f --shutdown-timeout 1s -n node2 mig1 >/dev/null 2>&1; e=$(date +%s.%N); tf+=("$(echo "$e - $s" | bc -l)")
  $GM instance failover -f --shutdown-timeout 1s -n node1 mig1 >/dev/null 2>&1
done
printf '%-34s %6ss  (includes the 1 s soft-stop timeout: the guest has no OS)\n' "instance failover" "$(med "${tf[@]}")"
$GM instance remove -f --shutdown-timeout 1s mig1 >/dev/null 2>&1
rm -rf "$SM"

fi
if part copy; then
# ---- node-to-node disk copies (issue 6: the helper) ---------------------------
# XFER_MIB of random data copied node1 -> node2 by ganetictl-helper (pinned
# TLS, as instance move runs it), against ssh pipes relayed through this
# machine and run directly between the nodes; then a sparse disk holding
# little data, and zstd on compressible data. Sizes are variables: CI
# machines are small.
: "${XFER_MIB:=1024}" "${SPARSE_MIB:=8192}" "${SPARSE_DATA_MIB:=256}"
SX=$(mktemp -d /tmp/ganetictl-bench-xfer.XXXXXX)
S="ssh -F $SSHCFG"
H=/var/lib/ganetictl/bench-helper
for n in node1 node2; do $S $n 'mkdir -p /var/lib/ganetictl /srv/bench && cat > /var/lib/ganetictl/bench-helper && chmod 755 /var/lib/ganetictl/bench-helper' < bin/ganetictl-helper-linux-amd64; done
for e in send recv; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench -days 1 \
    -keyout "$SX/$e.key" -out "$SX/$e.crt" >/dev/null 2>&1
  cat "$SX/$e.crt" "$SX/$e.key" > "$SX/$e.pem"
  openssl x509 -in "$SX/$e.crt" -outform der | sha256sum | cut -d' ' -f1 > "$SX/$e.fp"
done
DST_IP=$($S node2 "ip -4 -o addr show eth1 | awk '{print \$4}' | cut -d/ -f1")
# helper_copy SRC DST [extra send args]: one pinned-TLS copy node1 -> node2.
helper_copy() {
  local src=$1 dst=$2; shift 2
  rm -f "$SX/recv.out"
  $S node2 "$H" recv --listen "$DST_IP" --port 0 --dst "$dst" --identity "'$(cat "$SX/recv.pem")'" --peer-fp "$(cat "$SX/send.fp")" \
    > "$SX/recv.out" 2>/dev/null &
  local rpid=$! port=""
  for _ in $(seq 100); do port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$SX/recv.out" 2>/dev/null | head -1); [ -n "$port" ] && break; sleep 0.05; done
  $S node1 "$H" send --connect "$DST_IP" --port "$port" --src "$src" --identity "'$(cat "$SX/send.pem")'" --peer-fp "$(cat "$SX/recv.fp")" "$@" >"$SX/send.out" 2>/dev/null
  wait "$rpid"
}
# CPU seconds the helper reported for its own end of the last copy.
helper_cpu() { sed -n 's/.*"cpu_seconds":\([0-9.]*\).*/\1/p' "$SX/$1.out" | tail -1 | awk '{printf "%.2f", $1}'; }
# Busy CPU seconds of the whole machine (every node, sshd, ssh clients; and
# whatever else runs here: noisy on a shared machine).
machine_cpu() { awk '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8)/100}' /proc/stat; }
CPU_FILE=$SX/cpu
timed() {
  local s e c0
  c0=$(machine_cpu); s=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2
  e=$(date +%s.%N)
  echo "$(machine_cpu) - $c0" | bc -l > "$CPU_FILE"
  echo "$e - $s" | bc -l
}
lastcpu() { awk '{printf "%.2f", $1}' "$CPU_FILE"; }
mbs() { echo "scale=1; $1 / $2" | bc -l; }
$S node1 "dd if=/dev/urandom of=/srv/bench/rand bs=1M count=$XFER_MIB status=none"
echo "== copy $XFER_MIB MiB of random data node1 -> node2"
t_h=$(timed helper_copy /srv/bench/rand /srv/bench/rand.copy); c_h=$(lastcpu)
cs_h=$(helper_cpu send); cr_h=$(helper_cpu recv)
t_r=$(timed sh -c "$S node1 cat /srv/bench/rand | $S node2 'cat > /srv/bench/rand.relay'"); c_r=$(lastcpu)
t_d=$(timed $S node1 "cat /srv/bench/rand | ssh -c aes128-gcm@openssh.com node2 'cat > /srv/bench/rand.direct'"); c_d=$(lastcpu)
echo "   (the helper fsyncs before it commits; the pipes, as an admin types them, do not)"
printf '%-34s %6ss  %6s MB/s  machine CPU %5ss  (sender %ss, receiver %ss)\n' "helper (TLS 1.3, pinned)" "$t_h" "$(mbs "$XFER_MIB" "$t_h")" "$c_h" "$cs_h" "$cr_h"
printf '%-34s %6ss  %6s MB/s  machine CPU %5ss\n' "ssh relayed through controller" "$t_r" "$(mbs "$XFER_MIB" "$t_r")" "$c_r"
printf '%-34s %6ss  %6s MB/s  machine CPU %5ss\n' "ssh direct (aes128-gcm)" "$t_d" "$(mbs "$XFER_MIB" "$t_d")" "$c_d"
printf '%-34s %sx  (target >= 1.5)\n' "speed-up over relayed" "$(ratio "$t_r" "$t_h")"
printf '%-34s %sx  (target >= 1.0)\n' "speed-up over direct" "$(ratio "$t_d" "$t_h")"
[ "$($S node1 sha256sum < /dev/null /srv/bench/rand | cut -c1-64)" = "$($S node2 sha256sum /srv/bench/rand.copy | cut -c1-64)" ] || echo "WARNING: helper copy differs"
$S node2 rm -f /srv/bench/rand.copy /srv/bench/rand.relay /srv/bench/rand.direct
$S node1 rm -f /srv/bench/rand

echo "== sparse disk: $SPARSE_MIB MiB holding $SPARSE_DATA_MIB MiB of data"
$S node1 "truncate -s ${SPARSE_MIB}M /srv/bench/sparse && dd if=/dev/urandom of=/srv/bench/sparse bs=1M seek=100 count=$SPARSE_DATA_MIB conv=notrunc status=none"
t_h=$(timed helper_copy /srv/bench/sparse /srv/bench/sparse.copy)
t_d=$(timed $S node1 "cat /srv/bench/sparse | ssh -c aes128-gcm@openssh.com node2 'cat > /srv/bench/sparse.direct'")
printf '%-34s %6ss  (allocated on target: %s)\n' "helper (holes skipped)" "$t_h" "$($S node2 du -h /srv/bench/sparse.copy | cut -f1)"
printf '%-34s %6ss\n' "ssh direct full copy" "$t_d"
printf '%-34s %sx  (target >= 10)\n' "speed-up" "$(ratio "$t_d" "$t_h")"
$S node2 rm -f /srv/bench/sparse.copy /srv/bench/sparse.direct
$S node1 rm -f /srv/bench/sparse

echo "== compressible data ($XFER_MIB MiB of text), helper with and without zstd"
$S node1 "yes 'ganetictl bench line of compressible text 0123456789' | head -c ${XFER_MIB}M > /srv/bench/text"
t_n=$(timed helper_copy /srv/bench/text /srv/bench/text.copy)
t_z=$(timed helper_copy /srv/bench/text /srv/bench/text.copy --compress zstd)
printf '%-34s %6ss  %s MB/s\n' "no compression" "$t_n" "$(mbs "$XFER_MIB" "$t_n")"
printf '%-34s %6ss  %s MB/s\n' "zstd" "$t_z" "$(mbs "$XFER_MIB" "$t_z")"
$S node2 rm -rf /srv/bench /var/lib/ganetictl/bench-helper
$S node1 rm -rf /srv/bench /var/lib/ganetictl/bench-helper
rm -rf "$SX"
fi

if part backend; then
echo "== state backends: a commit and an object lock round trip (median of 50), beside dir"
go build -o bin/benchtool ./bench/benchtool
# A 3-member etcd on loopback, stopped by its PIDs at the end.
ETCD_DIR=$(mktemp -d /tmp/ganetictl-bench-etcd.XXXXXX)
ETCD_PIDS=()
cluster=""; eps=""
for i in 0 1 2; do
  cluster="${cluster:+$cluster,}b$i=http://127.0.0.1:$((23800 + i))"
  eps="${eps:+$eps,}http://127.0.0.1:$((23790 + i))"
done
for i in 0 1 2; do
  etcd --name "b$i" --data-dir "$ETCD_DIR/b$i" --listen-client-urls "http://127.0.0.1:$((23790 + i))" \
    --advertise-client-urls "http://127.0.0.1:$((23790 + i))" --listen-peer-urls "http://127.0.0.1:$((23800 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((23800 + i))" --initial-cluster "$cluster" \
    --initial-cluster-token "bench-$$" --logger zap --log-level error >"$ETCD_DIR/b$i.log" 2>&1 &
  ETCD_PIDS+=($!)
done
for _ in $(seq 50); do ETCDCTL_API=3 etcdctl --endpoints "$eps" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
bin/benchtool backends "$INV" "$eps" 50 || echo "backend benchmark failed"
kill "${ETCD_PIDS[@]}" 2>/dev/null || true
wait "${ETCD_PIDS[@]}" 2>/dev/null || true
rm -rf "$ETCD_DIR"
fi

if part alloc; then
  bash scripts/bench_alloc.sh
fi
