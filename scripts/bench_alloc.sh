#!/bin/bash
# make bench, part alloc: ganetictl's balancer side by side with Ganeti's
# hbal (Debian's ganeti-htools-3.0) on the same input: every group of
# Ganeti's htools test data, and generated skewed clusters written in the
# text backend format both read (-t). Prints each one's final score, moves
# and time. Nothing here is pass/fail; the last column says whether ours
# ends at a score no worse than hbal's in no more moves.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ALLOC_SIZES:=20 30 50 100 200}" "${ALLOC_SEED:=1}"
G=bin/ganetictl
[ -x "$G" ] || go build -o "$G" ./cmd/ganetictl
go build -o bin/benchtool ./bench/benchtool
HBAL=$(command -v hbal || true)
for p in /usr/lib/ganeti/3.0/usr/bin/hbal /usr/lib/ganeti/default/usr/bin/hbal; do
  [ -n "$HBAL" ] || { [ -x "$p" ] && HBAL=$p; } || true
done
[ -n "$HBAL" ] || echo "hbal is not installed (apt-get install ganeti-htools-3.0): ganetictl's column only" >&2
W=$(mktemp -d /tmp/ganetictl-bench-alloc.XXXXXX)
trap 'rm -rf "$W"' EXIT

# run OUT TOOL ARGS...: time TOOL, keep its output in OUT; prints seconds.
run() {
  local out=$1; shift
  local s e
  s=$(date +%s.%N)
  "$@" > "$out" 2>&1 || true
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
# result OUT: "final moves" from hbal's (or ours') text output.
result() {
  local fin len
  fin=$(sed -n 's/^Cluster score improved from .* to \([0-9.]*\)$/\1/p' "$1" | tail -1)
  [ -n "$fin" ] || fin=$(sed -n 's/^Initial score: \([0-9.]*\)$/\1/p' "$1" | tail -1)
  len=$(sed -n 's/^Solution length=\([0-9]*\)$/\1/p' "$1" | tail -1)
  echo "${fin:-?} ${len:-0}"
}
printf '%-44s %12s %5s %8s   %12s %5s %8s  %s\n' input "hbal score" moves time "ours score" moves time verdict
compare() { # name file [extra args for both]
  local name=$1 f=$2; shift 2
  local th=- rh="- -" to ro
  if [ -n "$HBAL" ]; then
    th=$(run "$W/h" timeout 1800 "$HBAL" -t "$f" "$@")
    rh=$(result "$W/h")
  fi
  to=$(run "$W/o" "$G" cluster balance --dry-run -t "$f" "$@")
  ro=$(result "$W/o")
  read -r sh mh <<<"$rh"
  read -r so mo <<<"$ro"
  local verdict=""
  if [ "$sh" != "-" ] && [ "$sh" != "?" ] && [ "$so" != "?" ]; then
    if [ "$(echo "$so <= $sh + 0.000000005" | bc -l)" = 1 ] && [ "$mo" -le "$mh" ]; then
      verdict="ok"
      [ "$(echo "$so < $sh - 0.000000005" | bc -l)" = 1 ] && verdict="ok, lower score"
      [ "$mo" -lt "$mh" ] && verdict="$verdict, fewer moves"
    elif [ "$(echo "$so < $sh" | bc -l)" = 1 ]; then
      verdict="lower score, $((mo - mh)) more moves (each gains >= --extra-move-cost)"
    else
      verdict="WORSE"
    fi
  fi
  printf '%-44s %12s %5s %7.2fs   %12s %5s %7.2fs  %s\n' "$name" "$sh" "$mh" "${th/-/0}" "$so" "$mo" "$to" "$verdict"
}

echo "== Ganeti's htools test data (test/data/htools; every group)"
for f in playbooks/alloc/testdata/htools/*.data; do
  b=$(basename "$f")
  case $b in invalid-node.data) continue ;; esac
  for grp in $(sed -n '1,/^$/p' "$f" | grep -v '^$' | cut -d'|' -f1); do
    grep -q '|running|\|ADMIN_down|\|ERROR_' "$f" || continue
    compare "$b -G $grp" "$f" -G "$grp"
  done
done

echo "== generated skewed clusters (bin/benchtool gen-cluster N $ALLOC_SEED: 3 instances a node, most on a fifth of the nodes)"
for n in $ALLOC_SIZES; do
  bin/benchtool gen-cluster "$n" "$ALLOC_SEED" > "$W/gen$n.data"
  lim=()
  # hbal needs about 20 s a move at 100 nodes and 80 s at 200: bound both.
  [ "$n" -ge 100 ] && lim=(-l $((1000 / n)))
  compare "gen $n nodes $(grep -c '|running|' "$W/gen$n.data") instances ${lim[*]:-}" "$W/gen$n.data" "${lim[@]}"
done
