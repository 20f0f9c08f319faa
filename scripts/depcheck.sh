#!/bin/sh
# depcheck enforces the package layout of DESIGN.md §2 on the non-test
# imports of every package (one "go list" for all), and, with grep over the
# Go files, the rules on printing and on test-bed tests:
#
# 1. Imports. Each package of the project may import only the project
#    packages listed for it below (an allowlist; "none" for a leaf), and
#    a few imports are reserved: kong to cmd/ganetictl, SSH and SFTP to
#    remote, TOML to inventory and desired, mpb (progress bars) to
#    internal/view, and internal/view itself to cmd/ganetictl. testbed/
#    imports only testbed/ and only testbed/ imports it (tests aside);
#    internal/fixtures is for tests only. A rule for a package that does not exist yet (such
#    as playbooks/job before it lands) applies once it does; a package
#    without a rule is named in a note, so new ones get one.
#
# 2. Prints: only internal/view prints. Outside internal/view,
#    cmd/ganetictl/main.go, cmd/ganetictl-helper, testbed/, bench/, scripts/
#    and _test.go files, no Go file uses fmt.Print*, os.Stdout, os.Stderr,
#    the builtins print/println or log.Print*/Fatal*/Panic*. In
#    cmd/ganetictl, main.go aside, no fmt.Print* or fmt.Fprint* at all:
#    commands return values that view renders.
#
# 3. Bed tests: a test file that starts or uses a test bed carries the
#    build tag "bed" (//go:build bed), so "go test ./..." never touches a
#    bed; so does every file of e2e/. Outside e2e/ and testbed/, tagged files
#    live under playbooks/ and name their tests TestBed*, which is what
#    "make e2e" runs there.
#
# Every violation is printed; the exit status is 1 if any rule failed.
# DEPCHECK_PRINTS=warn turns the cmd/ganetictl print rule (2, second
# part) into warnings only; every other rule stays strict. The Makefile
# passes warn unless PRINTS_STRICT=1 ("make depcheck PRINTS_STRICT=1").
set -eu
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
prints=${DEPCHECK_PRINTS:-strict}
case $prints in strict | warn) ;; *) echo "depcheck: DEPCHECK_PRINTS=$prints: want strict or warn" >&2; exit 2 ;; esac

# One line per package: its path relative to the module, then its imports,
# the project's marked with a leading "@" ("cmd/ganetictl @remote fmt ...").
list=$(go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./...)
list=$(printf '%s\n' "$list" | sed -e "s#^$mod/##" -e "s# $mod/# @#g")

violation() { echo "depcheck: $*"; fail=1; }

ruled="" # the packages (and package/... trees) that have a rule

# allow PKG ALLOWED WHY: PKG's project imports must match the ERE
# alternatives ALLOWED, anchored ("none": no project import at all). PKG
# may be a tree, DIR/..., for DIR and every package below it.
allow() {
  ruled="$ruled $1"
  re="^($2)\$"
  [ "$2" = none ] && re='^$'
  bad=$(printf '%s\n' "$list" | awk -v p="$1" -v re="$re" '
    BEGIN { tree = sub(/[/][.][.][.]$/, "", p) }
    $1 == p || (tree && index($1, p "/") == 1) {
      for (i = 2; i <= NF; i++) if ($i ~ /^@/ && substr($i, 2) !~ re) printf "%s imports %s\n", $1, substr($i, 2) }')
  [ -z "$bad" ] || printf '%s\n' "$bad" | while IFS= read -r l; do echo "depcheck: $l ($3)"; done
  [ -z "$bad" ] || fail=1
}

# reserve IMPORT IMPORTERS WHY: only packages matching the ERE IMPORTERS
# (anchored) may import a path matching the ERE IMPORT (anchored; project
# packages are written @path).
reserve() {
  bad=$(printf '%s\n' "$list" | awk -v imp="^($1)\$" -v who="^($2)\$" '
    $1 !~ who { for (i = 2; i <= NF; i++) if ($i ~ imp) { x = $i; sub(/^@/, "", x); printf "%s imports %s\n", $1, x } }')
  [ -z "$bad" ] || printf '%s\n' "$bad" | while IFS= read -r l; do echo "depcheck: $l ($3)"; done
  [ -z "$bad" ] || fail=1
}

# Leaves.
for p in inventory statefile remote transfer internal/qfilter internal/fixtures playbooks/ippool playbooks/alloc; do
  allow $p none "a leaf imports no other package of the project"
done
allow remote/remotetest remote "the fake runner and test server wrap remote only"
allow statefile/storetest statefile "store tests wrap statefile only"
allow statefile/clusterstore "statefile|remote" "the cluster backend keeps the state on the master, over SSH"
allow statefile/etcdstore statefile "the etcd backend keeps the state in etcd"
allow statefile/etcdstore/etcdtest none "starts etcd members for tests"
allow playbooks/plan statefile "a plan is data over the state model"
for p in playbooks/hv playbooks/storage; do
  allow $p "playbooks/plan|statefile" "step builders are pure: plan and state only"
done
allow playbooks "playbooks/(plan|hv|storage|ippool|alloc)|inventory|statefile|transfer" \
  "planners are pure: they never run anything (no remote, apply, job) or print"
allow playbooks/apply "playbooks/plan|remote|statefile" "apply runs plans over remote runners"
allow playbooks/job "playbooks|playbooks/(plan|apply|hv|storage)|statefile|remote|inventory" \
  "the job engine plans and runs; it never renders (no internal/view) and is no CLI"
allow internal/view "playbooks/(plan|apply)|statefile|desired|internal/qfilter|transfer" \
  "view renders values: it never reaches nodes (no remote), reads inventories, plans or runs jobs"
allow desired "inventory|statefile|playbooks|playbooks/(plan|hv|storage|ippool|alloc)" \
  "desired state diffs are pure, like the planners"
allow ganeticonfig "statefile|playbooks/(storage|ippool)" \
  "Ganeti config import maps onto the state model (storage for its disk types and name checks, ippool to check pools)"
allow cmd/ganetictl-helper "transfer|remote/helper" "the node-side helper stays small"
allow testbed/... "testbed(/.*)?" "the test bed stands alone: it never imports the code it tests"
ruled="$ruled cmd/ganetictl bench/... e2e" # any import, within the reserved ones below

# Reserved imports. Tests are not covered: go list's Imports leave out
# test imports.
reserve "github[.]com/alecthomas/kong(/.*)?" "cmd/ganetictl" "kong only in cmd/ganetictl"
reserve "golang[.]org/x/crypto/ssh(/.*)?|github[.]com/pkg/sftp(/.*)?" "remote(/.*)?" "ssh only in remote"
reserve "github[.]com/BurntSushi/toml(/.*)?" "inventory|desired" "toml only in inventory and desired"
reserve "github[.]com/vbauerster/mpb(/.*)?" "internal/view" "progress bars are output: only internal/view"
reserve "@internal/view" "cmd/ganetictl" "only cmd/ganetictl hands results to the renderers"
reserve "@testbed(/.*)?" "testbed(/.*)?" "the test bed is for tests: only test files import it"
reserve "@internal/fixtures" "-" "internal/fixtures is imported by tests only"
reserve "go[.]etcd[.]io/.*" "statefile/etcdstore(/.*)?" "etcd only in statefile/etcdstore"

# Packages without a rule.
for p in $(printf '%s\n' "$list" | awk '{ print $1 }'); do
  covered=no
  for r in $ruled; do
    case $r in
    */...) case $p in "${r%/...}" | "${r%/...}"/*) covered=yes ;; esac ;;
    *) [ "$p" = "$r" ] && covered=yes ;;
    esac
  done
  [ $covered = yes ] || echo "depcheck: note: no import rule for $p (add one to scripts/depcheck.sh)"
done

# Prints. Lines whose code starts with // are comments and do not count.
gofiles=$(find . -name '*.go' ! -name '*_test.go' ! -path './.git/*' | sed 's#^\./##' | sort)
grep_code() { # ERE, files...
  re=$1; shift
  [ $# -gt 0 ] || return 0
  grep -nE "$re" /dev/null "$@" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true
}
outside=$(printf '%s\n' "$gofiles" | grep -vE '^(internal/view/|cmd/ganetictl/main[.]go$|cmd/ganetictl-helper/|testbed/|bench/|scripts/)' || true)
# shellcheck disable=SC2086 # file names have no spaces
bad=$(grep_code 'fmt[.]Print(f|ln)?[(]|os[.](Stdout|Stderr)|(^|[^.[:alnum:]_])print(ln)?[(]|(^|[^.[:alnum:]_])log[.](Print|Fatal|Panic)(f|ln)?[(]' $outside)
if [ -n "$bad" ]; then
  printf '%s\n' "$bad" | while IFS= read -r l; do echo "depcheck: prints: $l (only internal/view prints)"; done
  fail=1
fi
cmdfiles=$(printf '%s\n' "$gofiles" | grep -E '^cmd/ganetictl/' | grep -vE '^cmd/ganetictl/main[.]go$' || true)
# shellcheck disable=SC2086
bad=$(grep_code 'fmt[.]F?Print(f|ln)?[(]' $cmdfiles)
if [ -n "$bad" ]; then
  if [ "$prints" = warn ]; then
    printf '%s\n' "$bad" | while IFS= read -r l; do echo "depcheck: warning: prints: $l (commands return results; view renders them)"; done
  else
    printf '%s\n' "$bad" | while IFS= read -r l; do echo "depcheck: prints: $l (commands return results; view renders them; DEPCHECK_PRINTS=warn to only warn)"; done
    fail=1
  fi
fi

# Bed tests.
testfiles=$(find . -name '*_test.go' ! -path './.git/*' | sed 's#^\./##' | sort)
# shellcheck disable=SC2086
tagged=$(grep -lE '^//go:build.*[^[:alnum:]_!]bed([^[:alnum:]_]|$)' /dev/null $testfiles || true)
untagged=$(printf '%s\n' "$testfiles" | grep -vxF "$tagged" || true)
for f in $untagged; do
  case $f in
  e2e/*) violation "bedtag: $f: every e2e test file carries //go:build bed" ;;
  testbed/*_test.go) # package testbed itself: no testbed. prefix
    case $f in testbed/*/*) pat='testbed[.](ForTest|Start|Require)[(]' ;; *) pat='(^|[^.[:alnum:]_])(ForTest|Start|Require)[(]' ;; esac
    [ -z "$(grep_code "$pat|^func TestBed" "$f")" ] || violation "bedtag: $f starts or uses a test bed: add //go:build bed" ;;
  *) [ -z "$(grep_code 'testbed[.](ForTest|Start|Require)[(]|^func TestBed' "$f")" ] ||
    violation "bedtag: $f starts or uses a test bed: add //go:build bed" ;;
  esac
done
for f in $tagged; do
  case $f in
  e2e/* | testbed/*) ;;
  playbooks/*)
    other=$(grep -nE '^func Test' "$f" | grep -vE '^[0-9]+:func TestBed' || true)
    [ -z "$other" ] || violation "bedtag: $f: tests behind the bed tag are named TestBed* (make e2e runs -run '^TestBed'): $(echo $other)" ;;
  *) violation "bedtag: $f: bed tests outside e2e/ and testbed/ live under playbooks/ (or widen make e2e)" ;;
  esac
done

[ $fail -eq 0 ] && echo "depcheck: ok"
exit $fail
