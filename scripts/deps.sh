#!/bin/sh
# Installs the Debian packages the test bed and e2e tests need, when missing
# (etcd-server: the etcd backend's tests start a 3-member etcd on loopback).
# Runs only as root; elsewhere it says what is missing and goes on (e2e tests
# then skip loudly, except under CI=true where they fail).
set -eu
need=""
for pair in sshd:openssh-server ssh:openssh-client qemu-system-x86_64:qemu-system-x86 \
    qemu-img:qemu-utils lvm:lvm2 ip:iproute2 iptables:iptables socat:socat \
    parallel-ssh:pssh bc:bc losetup:mount nsenter:util-linux as:binutils \
    etcd:etcd-server etcdctl:etcd-client flock:util-linux bash:bash; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need="$need $pkg"
done
# Ganeti's htools (hbal, hspace, hail), which the allocator's tests and
# make bench compare with; Debian keeps them under /usr/lib/ganeti/3.0.
[ -x /usr/lib/ganeti/3.0/usr/bin/hbal ] || command -v hbal >/dev/null 2>&1 || need="$need ganeti-htools-3.0"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages:$need (run make test as root to install them)" >&2
  exit 0
fi
echo "deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $need >/dev/null
