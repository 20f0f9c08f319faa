#!/bin/sh
# make demo: bring up a local 3-node test cluster (real sshd nodes in network
# namespaces) and take a tour of ganetictl on it. Needs root (the test bed
# makes namespaces, loop devices and bridges).
set -eu
cd "$(dirname "$0")/.."
: "${TESTBED_DIR:=/tmp/ganetictl-testbed}" "${TESTBED_ID:=0}"
export TESTBED_DIR TESTBED_ID
if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root: the test bed creates network namespaces and loop devices." >&2
  exit 1
fi
sh scripts/deps.sh
go run ./testbed/cmd/testbed up -n 3 -id "$TESTBED_ID" >/dev/null
STATE=$(mktemp -d /tmp/ganetictl-demo-state.XXXXXX)
G="bin/ganetictl --inventory $TESTBED_DIR/inventory.toml --state-dir $STATE"
N1=node1 N2=node2 N3=node3

step() {
  printf '\n\033[1m$ ganetictl %s\033[0m\n' "$*"
  # shellcheck disable=SC2086
  $G "$@" || echo "(exit $?)"
}
say() { printf '\n# %s\n' "$*"; }

say "A 3-node test cluster is up: each node is a real sshd in its own namespaces."
say "Create the cluster on node1: checks its tools, volume group and directories, writes a new state."
step cluster init
say "Add the other nodes (each is checked first; master candidates get a copy of the state)."
step node add $N2
step node add $N3
step node list
step node list -o name,pip,role,master_candidate,vm_capable
step cluster verify
say "Run a command on every node at once, one SSH connection per node."
step cluster command -- uname -rn
say "Copy a file to every node."
printf 'managed by ganetictl\n' > "$STATE/motd"
step cluster command -- mkdir -p "$STATE"
step cluster copyfile "$STATE/motd"
step cluster command -- cat "$STATE/motd"
say "See what a change would do before doing it: --dry-run prints the plan and touches nothing."
step --dry-run node modify -O yes --auto-promote $N3
step node info $N2
step cluster add-tags env:demo
step cluster list-tags

say "Instances: the test OS writes a marker into disk 0; KVM is real qemu (TCG) on the node."
step os list
step --dry-run instance add -n $N1 -o testos+default -t plain -s 256M --no-name-check web1
step instance add -n $N1 -o testos+default -t plain -s 256M --no-name-check web1
step instance add -n $N2 -o testos+default -t file -s 128M -B maxmem=96 --no-name-check db1
step instance list
step instance list -o name,pnode,disk_template,disk.sizes,nic.macs,status
step node volumes
step instance shutdown --timeout 2s web1
step instance list -o name,status,oper_ram
step instance startup web1
step instance grow-disk web1 0 64M
step instance info db1

say "High availability: a DRBD-mirrored instance (the DRBD 8.4 stand-in really copies the data)."
step instance add -n $N1:$N2 -o testos+default -t drbd -s 128M --no-name-check ha1
step instance list -o name,pnode,snodes,disk_template,status
say "Live migration over QMP: the disks go dual-primary, the VM moves, the mirror returns to single-primary."
step instance migrate -f ha1
step instance list -o name,pnode,snodes,status
say "Failover: stop on the primary, start on the secondary."
step instance failover -f --shutdown-timeout 2s ha1
step instance list -o name,pnode,snodes,status

say "Keeping the cluster healthy without daemons: web1's qemu dies (killed by hand here)."
printf '\n\033[1m$ ssh %s kill -9 <qemu of web1>\033[0m\n' "$N1"
ssh -F "$TESTBED_DIR/ssh_config" $N1 'kill -9 "$(cat /run/ganeti/kvm-hypervisor/pid/web1)"'
sleep 1
step instance list -o name,pnode,status web1
say "One watcher pass (cron, a systemd timer or CI) restarts it; exit 2 means it acted, 0 nothing to do."
step watcher
step instance list -o name,pnode,status web1
step watcher
say "During maintenance, pause it: a pass then does nothing and says why."
step cluster watcher pause 1h
step watcher
step cluster watcher continue

say "Move web1 to $N3: its disk goes node to node through the helper (pinned TLS, holes skipped,"
say "checksummed before it is committed), with a progress bar on a terminal. Fill it with data first;"
say "--rate-limit keeps the copy from hogging the replication network (and the bar on screen)."
ssh -F "$TESTBED_DIR/ssh_config" $N1 dd if=/dev/urandom of=/run/ganeti/instance-disks/web1:0 bs=1M seek=1 count=200 conv=notrunc,fsync status=none
step instance move -n $N3 --shutdown-timeout 2s --rate-limit 64M web1
step instance list -o name,pnode,disk_template,status
say "Export db1 to $N3 in Ganeti's layout (disk images + config.ini); the instance restarts after the copy."
step backup export -n $N3 --shutdown-timeout 2s db1
step backup list
step cluster verify
step job list
step state history

say "Crash safety: kill -9 ganetictl in the middle of a live migration."
printf '\n\033[1m$ ganetictl instance migrate -f ha1 & sleep 0.7; kill -9 $!\033[0m\n'
$G instance migrate -f ha1 >/dev/null 2>&1 &
sleep 0.7; kill -9 $! 2>/dev/null || true; wait $! 2>/dev/null || true
say "The journal shows the job cut off, and its objects stay claimed until it is settled:"
step job list
CRASHED=$($G job list | awk '$2 == "crashed" {print $1}' | tail -1)
if [ -n "$CRASHED" ]; then
  step job info "$CRASHED"
  step instance reboot ha1
  say "Resume it: a migration is settled from what both hypervisors say, then carried on."
  step job resume "$CRASHED"
else
  say "(the migration finished before the kill landed this time)"
fi
step instance list -o name,pnode,snodes,status
step cluster verify

say "Lose the workstation: its state directory is gone. The nodes hold copies and the truth."
printf '\n\033[1m$ rm -rf %s/*\033[0m\n' "$STATE"
cp "$STATE/state.json" "$STATE.before.json"
rm -rf "${STATE:?}"/*
step --dry-run cluster recover
step --yes cluster recover
step instance list -o name,pnode,snodes,status
step cluster verify
if cmp -s "$STATE.before.json" "$STATE/state.json"; then say "The recovered state is byte for byte the one that was lost."; fi
rm -f "$STATE.before.json"

say "Declarative changes (CI): a desired-state file on a second, empty cluster state."
STATE2=$(mktemp -d /tmp/ganetictl-demo-desired.XXXXXX)
G2="bin/ganetictl --inventory $TESTBED_DIR/inventory.toml --state-dir $STATE2"
$G2 cluster init >/dev/null 2>&1
$G2 node add $N2 >/dev/null 2>&1
cat > "$STATE2/desired.toml" <<EOF2
[[instance]]
name = "app1"
template = "file"
primary = "$N1"
disks = ["64M"]
os = "testos"

[[instance]]
name = "app2"
template = "sharedfile"
primary = "$N1"
disks = ["32M"]
os = "testos"
EOF2
d2() { printf '\n\033[1m$ ganetictl %s\033[0m\n' "$*"; $G2 "$@" || echo "(exit $?)"; }
d2 plan -f "$STATE2/desired.toml"
d2 apply -f "$STATE2/desired.toml" --yes
say "Edit the file: grow app1's disk, move app2 to $N2; the plan shows exactly that."
sed -i 's/"64M"/"96M"/; 0,/primary = "'"$N1"'"/! s/primary = "'"$N1"'"/primary = "'"$N2"'"/' "$STATE2/desired.toml"
d2 plan -f "$STATE2/desired.toml"
d2 apply -f "$STATE2/desired.toml" --yes
d2 plan -f "$STATE2/desired.toml" --detailed-exitcode
say "The demo states are in $STATE and $STATE2; the test bed stays up (make testbed-down removes it)."
