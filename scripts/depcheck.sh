#!/bin/sh
# Enforces the dependency directions of DESIGN.md §2: leaves import no other
# package of the project; only cmd/ganetictl imports kong; only remote
# imports x/crypto/ssh and pkg/sftp; only inventory imports the TOML library;
# playbooks (the planners) never import remote or apply.
set -eu
mod=$(go list -m)
fail=0
deps() { go list -f '{{join .Imports "\n"}}' "$1"; }
check() { # package, forbidden-regex, why
  bad=$(deps "$1" | grep -E "$2" || true)
  if [ -n "$bad" ]; then echo "depcheck: $1 imports $(echo $bad) ($3)"; fail=1; fi
}
for p in inventory statefile remote; do
  check "$mod/$p" "^$mod/" "a leaf package imports no other package of the project"
done
check "$mod/playbooks" "^$mod/(remote|playbooks/apply)" "planners are pure"
check "$mod/playbooks/plan" "^$mod/(remote|inventory|playbooks/apply|internal)" "plan depends only on statefile"
for p in $(go list ./... | grep -v -e /testbed); do
  case $p in "$mod/cmd/ganetictl") ;; *) check "$p" "alecthomas/kong" "kong only in cmd/ganetictl";; esac
  case $p in "$mod/remote"|"$mod/remote/"*) ;; *) check "$p" "golang.org/x/crypto/ssh|pkg/sftp" "ssh only in remote";; esac
  case $p in "$mod/statefile/etcdstore"|"$mod/statefile/etcdstore/"*) ;; *) check "$p" "^go.etcd.io/" "etcd only in statefile/etcdstore";; esac
  case $p in "$mod/inventory"|"$mod/desired") ;; *) check "$p" "BurntSushi/toml" "toml only in inventory and desired";; esac
  case $p in "$mod/internal/view"|"$mod/cmd/ganetictl"|"$mod/e2e") ;; *) check "$p" "^$mod/internal/view" "only cmd prints";; esac
done
[ $fail -eq 0 ] && echo "depcheck: ok"
exit $fail
