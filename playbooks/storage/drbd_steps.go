package storage

import (
	"fmt"
	"strconv"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// DRBD step builders. Each returns the ordered steps of one node; zip the
// sequences of both nodes (and of several disks) with Stages, so step k of
// every sequence runs in stage k. Where two nodes must act together (the
// connect of both ends, a wait that needs the peer) the sequences are built
// so that the matching steps have the same position.
//
// Intended orders (P primary, S secondary, T new node; every line is one
// Stages call over the listed sequences unless said otherwise):
//
// instance add (§11.1):
//
//	Create(d,P) ‖ Create(d,S)                  lvcreate data, meta; wipe meta; create-md
//	AssembleDRBD(d,P) ‖ AssembleDRBD(d,S)      attach, disk-options, connect
//	MakePrimary(d,P,inst,idx,force=true)       P wins the initial full sync
//	WaitSync(d,P)                              then OS install through the link
//
// activate disks / failover (§5, §11.2): Shutdown on both (drbdsetup down),
// then AssembleDRBD on both, WaitConnected on the new secondary,
// MakePrimary(force=false) on the new primary.
//
// live migration (§11.3), target T = S:
//
//	MakeSecondary(d,T)                         (close disks on T)
//	DisconnectNet(d,P) ‖ DisconnectNet(d,T)
//	AttachNet(d,P,dual=true) ‖ AttachNet(d,T,dual=true)   waits UpToDate/UpToDate
//	MakePrimary(d,P,...) ‖ MakePrimary(d,T,...) (force=false; links on both)
//	... hypervisor migration ...
//	MakeSecondary(d,P)                         (old primary)
//	DisconnectNet on both, AttachNet(dual=false) on both, WaitSync(d,T)
//
// replace-disks -s/-p (§11.4), target node X (S or P), id a fresh UUID,
// ts the plan's unix time:
//
//	CreateReplacementLVs(d,X,inst,id)
//	SwapReplacementLVs(d,X,id,ts)             detach, renames, create-md, attach
//	WaitSync(d,P); RemoveReplacedLVs(d,X,ts)
//
// replace-disks -n T (§11.5): nd := WithSecondary(d,P,T,AllocMinors(T)):
//
//	Create(nd,T,inst) then AttachLocal(nd,T)  (no network)
//	DownDRBD(d,S)                             (stage OnError Continue: S may be dead)
//	DisconnectNet(d,P)
//	AttachNet(nd,P,false) ‖ AttachNet(nd,T,false)
//	WaitSync(nd,P); Remove(d,S) (Continue)
//
// plain→drbd (§11.6), instance stopped, disks down:
//
//	p, s := PlainToDRBD(plain, nd, P, inst); Stages(p ‖ s); WaitSync(nd,P)
//
// drbd→plain: plain, p, s := DRBDToPlain(d, P, ""); Stages(p ‖ s).

// orphanedFn defines orphaned: true once the script's parent (the SSH
// session) is gone, i.e. the ganetictl that ran it died or lost its
// connection. sshd does not signal a session's processes when its client
// goes away, so retry loops with side effects check it themselves.
const orphanedFn = `orphaned() { read -r _ _ _ pp _ < /proc/$$/stat; [ "$pp" != "$PPID" ]; }
`

// drbdStateFn defines drbd_state FILE MINOR, printing "cs ro ds pct eta"
// for the minor from a /proc/drbd-format file (reference §2.6; "-" for
// what is absent), or "missing" when the file has no such minor.
const drbdStateFn = `drbd_state() {
  awk -v m="$2" '
$1 ~ /^[0-9]+:$/ {
  cur = ($1 == m ":")
  if (cur) {
    found = 1
    for (i = 2; i <= NF; i++) {
      k = substr($i, 1, index($i, ":") - 1); v = substr($i, index($i, ":") + 1)
      if (k == "cs") cs = v; else if (k == "ro" || k == "st") ro = v; else if (k == "ds") ds = v
    }
  }
  next
}
cur && match($0, /sync.ed: *[0-9.]+%/) { s = substr($0, RSTART, RLENGTH); sub(/sync.ed: */, "", s); sub(/%/, "", s); pct = s }
cur && match($0, /finish: *[0-9]+:[0-9]+:[0-9]+/) { s = substr($0, RSTART, RLENGTH); sub(/finish: */, "", s); eta = s }
END {
  if (!found) { print "missing"; exit }
  printf "%s %s %s %s %s\n", cs, (ro == "" ? "-" : ro), (ds == "" ? "-" : ds), (pct == "" ? "-" : pct), (eta == "" ? "-" : eta)
}' "$1"
}
`

// drbdWaitScript: $1 status file, $2 minor, $3 mode, $4 timeout seconds,
// $5 label. Polls every second until the minor is
//   - sync: cs Connected and ds UpToDate/UpToDate;
//   - connected: Connected or in resync (Ganeti's handshake test).
//
// Progress lines "<label>: <pct>% done, ETA <h:mm:ss>" go to stderr every
// 5 s while resyncing. StandAlone, Unconfigured or a missing minor for 5 s
// in a row fails (the peer refused or the device went down), as does the
// timeout.
const drbdWaitScript = drbdStateFn + `f=$1 m=$2 mode=$3 t=$4 label=$5
i=0 bad=0
while :; do
  set -- $(drbd_state "$f" "$m")
  cs=$1 ro=${2:--} ds=${3:--} pct=${4:--} eta=${5:--}
  case $mode in
  sync) [ "$cs" = Connected ] && [ "$ds" = UpToDate/UpToDate ] && exit 0 ;;
  connected)
    case $cs in Connected|WFReportParams|StartingSyncS|StartingSyncT|WFBitMapS|WFBitMapT|WFSyncUUID|SyncSource|SyncTarget|PausedSyncS|PausedSyncT) exit 0 ;; esac ;;
  *) echo "unknown wait mode $mode" >&2; exit 2 ;;
  esac
  case $cs in
  StandAlone|Unconfigured|missing) bad=$((bad+1))
    if [ "$bad" -ge 5 ]; then
      echo "$label: drbd minor $m is $cs (ro:$ro ds:$ds): not connected to its peer" >&2; exit 1
    fi ;;
  *) bad=0 ;;
  esac
  if [ "$i" -ge "$t" ]; then
    echo "$label: timeout after ${t}s waiting for drbd minor $m ($mode): cs:$cs ro:$ro ds:$ds" >&2; exit 1
  fi
  if [ $((i % 5)) -eq 0 ] && [ "$pct" != - ]; then echo "$label: $pct% done, ETA $eta" >&2; fi
  sleep 1
  i=$((i+1))
done
`

// drbdDisconnectScript: $1 status file, $2 minor, $3 local addr, $4 peer
// addr. Sends disconnect until the minor is StandAlone (re-sent each try,
// 60 s at most), as Ganeti's DisconnectNet.
const drbdDisconnectScript = drbdStateFn + orphanedFn + `f=$1 m=$2 la=$3 ra=$4 i=0
while :; do
  st=$(drbd_state "$f" "$m")
  cs=${st%% *}
  case $cs in
  StandAlone) exit 0 ;;
  Unconfigured|missing) echo "drbd minor $m is not configured" >&2; exit 1 ;;
  esac
  # A retry after ganetictl died would undo whatever reconnected the minor
  # since (job resume, migrate --cleanup).
  if orphaned; then echo "ganetictl went away: stopping" >&2; exit 1; fi
  err=$(drbdsetup disconnect "$la" "$ra" 2>&1) || true
  if [ "$i" -ge 60 ]; then echo "drbd minor $m still $cs after 60s of disconnect: $err" >&2; exit 1; fi
  sleep 1
  i=$((i+1))
done
`

// drbdAttachScript: $1 minor, $2 resource, $3 data dev, $4 meta dev, then
// the attach options. The local half of Ganeti's assemble (§2.8): nothing
// to do when the minor already has exactly these devices; an attached
// minor with other devices is an error; a Diskless minor gets its disk
// (apply-al, attach); an absent one is created first (new-resource,
// new-minor).
const drbdAttachScript = `m=$1 r=$2 data=$3 meta=$4; shift 4
if ds=$(drbdsetup dstate "$m" 2>/dev/null); then
  case $ds in
  Diskless|Diskless/*) ;;
  *)
    show=$(drbdsetup show "$m") || exit 1
    case $show in *"\"$data\""*) case $show in *"\"$meta\""*) exit 0 ;; esac ;; esac
    echo "drbd minor $m is attached to other devices than $data and $meta" >&2
    exit 1 ;;
  esac
else
  drbdsetup new-resource "$r" || exit 1
  drbdsetup new-minor "$r" "$m" 0 || exit 1
fi
drbdmeta "/dev/drbd$m" v08 "$meta" flex-external apply-al || exit 1
drbdsetup attach "$m" "$data" "$meta" flexible "$@"
`

// drbdConnectScript: $1 minor, $2 resource, $3 local "fam:ip:port", $4 peer
// "fam:ip:port", then the connect options. The network half of assemble:
// a StandAlone minor connects; a minor whose network already has these
// addresses (and the same --allow-two-primaries) is left alone; one set up
// otherwise is an error (disconnect it first).
const drbdConnectScript = `m=$1 r=$2 la=$3 ra=$4; shift 4
cs=$(drbdsetup cstate "$m" 2>/dev/null) || { echo "drbd minor $m is not configured (attach it first)" >&2; exit 1; }
if [ "$cs" != StandAlone ]; then
  want=no
  for a do [ "$a" = --allow-two-primaries ] && want=yes; done
  show=$(drbdsetup show "$m") || exit 1
  have=no
  printf '%s\n' "$show" | grep -q 'allow-two-primaries[[:space:]]*yes' && have=yes
  l="${la%%:*} ${la#*:};" p="${ra%%:*} ${ra#*:};"
  case $show in *"$l"*) case $show in *"$p"*) [ "$have" = "$want" ] && exit 0 ;; esac ;; esac
  echo "drbd minor $m is $cs with another network setup (dual-primary $have); disconnect it first" >&2
  exit 1
fi
drbdsetup connect "$r" "$la" "$ra" "$@"
`

// drbdInitMetaScript: $1 meta dev, $2 status file. Wipes and initialises
// external metadata for a replacement meta LV (§11.4 d): create-md is
// given an unused minor, the first Unconfigured one in the status file or
// the highest + 1, because the disk's own minor is busy.
const drbdInitMetaScript = `meta=$1
m=$(awk '$1 ~ /^[0-9]+:$/ { n = substr($1, 1, length($1) - 1) + 0; if ($2 == "cs:Unconfigured" && free == "") free = n; if (n > hi) hi = n; seen = 1 }
END { if (free != "") print free; else if (seen) print hi + 1; else print 0 }' "$2") || exit 1
dd if=/dev/zero of="$meta" bs=1048576 count=128 oflag=direct || exit 1
drbdmeta --force "/dev/drbd$m" v08 "$meta" flex-external create-md
`

// renameIfScript: $1 vg, $2 old, $3 new. lvrename when the LV exists (old
// LVs of a failed disk may be gone).
const renameIfScript = `lvs -- "$1/$2" >/dev/null 2>&1 || exit 0
lvrename "$1" "$2" "$3"
`

func drbdsetup(args ...string) []string { return append([]string{"drbdsetup"}, args...) }

// drbdOn is the validated disk with its minor on node.
func drbdOn(d *statefile.Disk, node string) (drbdView, int, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return v, 0, err
	}
	m, err := v.minorOn(node)
	return v, m, err
}

func lvCreateStep(node, instance string, l leaf, size int64, what string) plan.Step {
	sz := strconv.FormatInt(size, 10)
	return plan.Step{Node: node, Action: plan.Create, Desc: fmt.Sprintf("create %s LV %s/%s (%s MiB) for %s", what, l.vg, l.lv, sz, instance),
		Argv: []string{"lvcreate", "-Wn", "-L" + sz + "m", "-n" + l.lv, "-i1", "--addtag", InstanceTag(instance), l.vg},
		Undo: removeLVStep(node, l)}
}

func initMetaSteps(node string, m int, meta leaf) []plan.Step {
	return []plan.Step{
		{Node: node, Action: plan.Modify, Desc: "wipe drbd meta LV " + meta.vg + "/" + meta.lv,
			Argv: []string{"dd", "if=/dev/zero", "of=" + meta.lvPath(), "bs=1048576", "count=" + strconv.Itoa(DRBDMetaSize), "oflag=direct"}},
		{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("initialise drbd metadata of minor %d on %s/%s", m, meta.vg, meta.lv),
			Argv: []string{"drbdmeta", "--force", "/dev/drbd" + strconv.Itoa(m), "v08", meta.lvPath(), "flex-external", "create-md"}},
	}
}

// createDRBD is Create for a drbd disk (§11.1 steps 1-3): lvcreate of the
// data and meta LVs (tagged, each with an Undo removing it), then the meta
// wipe (dd 128 MiB, oflag=direct) and "drbdmeta --force /dev/drbd<M> v08
// <meta> flex-external create-md". Activation is AssembleDRBD.
func createDRBD(d *statefile.Disk, node, instance string) ([]plan.Step, error) {
	v, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	if d.Size <= 0 {
		return nil, fmt.Errorf("disk %s: size %d MiB is not positive", d.UUID, d.Size)
	}
	steps := []plan.Step{
		lvCreateStep(node, instance, v.data, d.Children[0].Size, "drbd data"),
		lvCreateStep(node, instance, v.meta, DRBDMetaSize, "drbd meta"),
	}
	return append(steps, initMetaSteps(node, m, v.meta)...), nil
}

// attachArgs are the attach options (§2.4 local attach 4): on-io-error,
// size, barrier options (md, f, d, b order) and disk-custom words.
func attachArgs(d *statefile.Disk, p DRBDParams) []string {
	args := []string{"--on-io-error=detach"}
	if d.Size > 0 {
		args = append(args, "--size", strconv.FormatInt(d.Size, 10)+"m")
	}
	if p.MetaBarriers {
		args = append(args, "--md-flushes=no")
	}
	if p.DiskBarriers != "n" {
		for _, c := range []struct {
			letter byte
			opt    string
		}{{'f', "--disk-flushes=no"}, {'d', "--disk-drain=no"}, {'b', "--disk-barrier=no"}} {
			for i := 0; i < len(p.DiskBarriers); i++ {
				if p.DiskBarriers[i] == c.letter {
					args = append(args, c.opt)
					break
				}
			}
		}
	}
	return append(args, p.DiskCustom...)
}

// syncArgs are the disk-options of the resync speed (§2.4 sync params).
func syncArgs(m int, p DRBDParams) []string {
	args := drbdsetup("disk-options", strconv.Itoa(m))
	if p.DynamicResync {
		return append(args, "--c-plan-ahead", strconv.Itoa(p.CPlanAhead), "--c-fill-target", strconv.Itoa(p.CFillTarget),
			"--c-delay-target", strconv.Itoa(p.CDelayTarget), "--c-max-rate", strconv.Itoa(p.CMaxRate), "--c-min-rate", strconv.Itoa(p.CMinRate))
	}
	return append(args, "--resync-rate", strconv.Itoa(p.ResyncRate))
}

// AttachLocal is the local half of assembling d on node (§2.8 fast path
// "local attach 1-4" and sync params): new-resource, new-minor (when the
// minor is absent), apply-al, "attach <M> <data> <meta> flexible
// --on-io-error=detach --size <S>m ...", then disk-options with the
// resync rate. Already attached to these LVs: nothing is done. The first
// step's Undo is "drbdsetup down resource<M>".
func AttachLocal(d *statefile.Disk, node string, env DRBDEnv) ([]plan.Step, error) {
	v, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	p, err := env.params(d)
	if err != nil {
		return nil, err
	}
	ms, res := strconv.Itoa(m), DRBDResource(m)
	return []plan.Step{
		{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("attach drbd minor %d to %s/%s and %s/%s", m, v.data.vg, v.data.lv, v.meta.vg, v.meta.lv),
			Argv: append(sh("drbd-attach", drbdAttachScript, ms, res, v.data.lvPath(), v.meta.lvPath()), attachArgs(d, p)...),
			Undo: downStep(node, m)},
		{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("set drbd minor %d resync speed", m), Argv: syncArgs(m, p)},
	}, nil
}

func downStep(node string, m int) *plan.Step {
	return &plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("stop drbd minor %d (%s)", m, DRBDResource(m)),
		Argv: drbdsetup("down", DRBDResource(m))}
}

// connectArgv is the connect step (§2.4 net 3) in drbdConnectScript.
func connectArgv(v drbdView, d *statefile.Disk, node string, env DRBDEnv, dual bool) ([]string, string, error) {
	m, err := v.minorOn(node)
	if err != nil {
		return nil, "", err
	}
	peer, _ := v.peerOf(node)
	lf, _, la, err := env.addr(node, v.port)
	if err != nil {
		return nil, "", err
	}
	rf, _, ra, err := env.addr(peer, v.port)
	if err != nil {
		return nil, "", err
	}
	if lf != rf {
		return nil, "", fmt.Errorf("drbd disk %s: nodes %s and %s have secondary IPs of different families", d.UUID, node, peer)
	}
	p, err := env.params(d)
	if err != nil {
		return nil, "", err
	}
	proto := p.Protocol
	if dual {
		proto = "C"
	}
	args := []string{"--protocol", proto, "--after-sb-0pri", "discard-zero-changes", "--after-sb-1pri", "consensus"}
	if dual {
		args = append(args, "--allow-two-primaries")
	}
	args = append(args, "--cram-hmac-alg", "md5", "--shared-secret", plan.SecretRef(SecretName(d)))
	args = append(args, p.NetCustom...)
	desc := fmt.Sprintf("connect drbd minor %d to %s (%s)", m, peer, ra)
	if dual {
		desc += ", dual-primary"
	}
	return append(sh("drbd-connect", drbdConnectScript, strconv.Itoa(m), DRBDResource(m), la, ra), args...), desc, nil
}

// AssembleDRBD activates d on node without making it primary (§2.8, the
// RPC blockdev_assemble pass 1): AttachLocal, then connect to the peer
// over the secondary IPs ("connect resource<M> ipv4:<me>:<port>
// ipv4:<peer>:<port> --protocol C --after-sb-0pri discard-zero-changes
// --after-sb-1pri consensus --cram-hmac-alg md5 --shared-secret <ref>").
// Idempotent: an attached and connected minor is left as it is. Three
// steps; the first's Undo downs the resource (strip it when assembling a
// disk that may already be in use).
func AssembleDRBD(d *statefile.Disk, node string, env DRBDEnv) ([]plan.Step, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return nil, err
	}
	steps, err := AttachLocal(d, node, env)
	if err != nil {
		return nil, err
	}
	argv, desc, err := connectArgv(v, d, node, env, false)
	if err != nil {
		return nil, err
	}
	return append(steps, plan.Step{Node: node, Action: plan.Exec, Desc: desc, Argv: argv}), nil
}

// MakePrimary opens d on node: "drbdsetup primary <M>" (with --force at
// creation or conversion: this side's data wins the first full sync),
// then, when instance is not "", the instance-disk link LinkPath(instance,
// idx) → /dev/drbd<M>. Undo: secondary, link removal.
func MakePrimary(d *statefile.Disk, node, instance string, idx int, force bool) ([]plan.Step, error) {
	_, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	ms := strconv.Itoa(m)
	argv := drbdsetup("primary", ms)
	desc := fmt.Sprintf("make drbd minor %d primary", m)
	if force {
		argv = append(argv, "--force")
		desc += " (forced: its data is the reference)"
	}
	steps := []plan.Step{{Node: node, Action: plan.Exec, Desc: desc, Argv: argv,
		Undo: &plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("make drbd minor %d secondary", m), Argv: drbdsetup("secondary", ms)}}}
	if instance != "" {
		if err := ValidateInstanceName(instance); err != nil {
			return nil, err
		}
		link := LinkPath(instance, idx)
		steps = append(steps, plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("link disk %d of %s (%s) to /dev/drbd%d", idx, instance, link, m),
			Argv: sh("assemble", linkScript, "/dev/drbd"+ms, link, "-b"),
			Undo: &plan.Step{Node: node, Action: plan.Remove, Desc: "remove disk link " + link, Argv: []string{"rm", "-f", "--", link}}})
	}
	return steps, nil
}

// MakeSecondary closes d on node: removes the instance-disk link (when
// instance is not "") and runs "drbdsetup secondary <M>". Undo: primary.
func MakeSecondary(d *statefile.Disk, node, instance string, idx int) ([]plan.Step, error) {
	_, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	var steps []plan.Step
	if instance != "" {
		if err := ValidateInstanceName(instance); err != nil {
			return nil, err
		}
		link := LinkPath(instance, idx)
		steps = append(steps, plan.Step{Node: node, Action: plan.Remove, Desc: "remove disk link " + link, Argv: []string{"rm", "-f", "--", link}})
	}
	ms := strconv.Itoa(m)
	return append(steps, plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("make drbd minor %d secondary", m), Argv: drbdsetup("secondary", ms),
		Undo: &plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("make drbd minor %d primary", m), Argv: drbdsetup("primary", ms)}}), nil
}

// DownDRBD is "drbdsetup down resource<M>" on node (a missing resource
// is fine): the drbd half of Shutdown and Remove.
func DownDRBD(d *statefile.Disk, node string) ([]plan.Step, error) {
	_, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	return []plan.Step{*downStep(node, m)}, nil
}

// shutdownDRBD is Shutdown for drbd (§5 blockdev_shutdown): the link goes,
// then "drbdsetup down resource<M>". The LVs stay.
func shutdownDRBD(d *statefile.Disk, node, instance string, idx int) ([]plan.Step, error) {
	_, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	link := LinkPath(instance, idx)
	return []plan.Step{
		{Node: node, Action: plan.Remove, Desc: "remove disk link " + link, Argv: []string{"rm", "-f", "--", link}},
		*downStep(node, m),
	}, nil
}

// removeDRBD is Remove for drbd: down, then lvremove of data and meta
// (each idempotent).
func removeDRBD(d *statefile.Disk, node string) ([]plan.Step, error) {
	v, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	return []plan.Step{*downStep(node, m), *removeLVStep(node, v.data), *removeLVStep(node, v.meta)}, nil
}

// growDRBD is Grow for drbd on one node: the backing store only (§5
// blockdev_grow backingstore=True), lvextend of the data LV. Run it on
// both nodes, then ResizeDRBD on the primary.
func growDRBD(d *statefile.Disk, node string, amountMiB int64) ([]plan.Step, error) {
	v, _, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	if amountMiB <= 0 {
		return nil, fmt.Errorf("grow amount must be a positive number of MiB (got %d)", amountMiB)
	}
	return []plan.Step{{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("grow drbd data LV %s/%s by %d MiB", v.data.vg, v.data.lv, amountMiB),
		Argv: sh("grow-lv", growLVScript, v.data.lvPath(), strconv.FormatInt(amountMiB*1024, 10))}}, nil
}

// ResizeDRBD grows the drbd device on node (the primary) after its data
// LVs grew on both nodes: "drbdsetup resize <M> --size <Size+amount>m"
// (§5 blockdev_grow backingstore=False). The caller records Size +=
// amountMiB on the disk and its data child.
func ResizeDRBD(d *statefile.Disk, node string, amountMiB int64) ([]plan.Step, error) {
	_, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	if amountMiB <= 0 {
		return nil, fmt.Errorf("grow amount must be a positive number of MiB (got %d)", amountMiB)
	}
	n := d.Size + amountMiB
	return []plan.Step{{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("resize drbd minor %d to %d MiB", m, n),
		Argv: drbdsetup("resize", strconv.Itoa(m), "--size", strconv.FormatInt(n, 10)+"m")}}, nil
}

func waitStep(d *statefile.Disk, node string, env DRBDEnv, mode string, timeoutSec int) ([]plan.Step, error) {
	_, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	if timeoutSec <= 0 {
		return nil, fmt.Errorf("drbd wait timeout must be positive (got %d)", timeoutSec)
	}
	label := firstNonEmpty(d.IVName, "disk "+d.UUID)
	what := map[string]string{"sync": "in sync (Connected, UpToDate/UpToDate)", "connected": "connected to its peer"}[mode]
	return []plan.Step{{Node: node, Action: plan.Read, Desc: fmt.Sprintf("wait until drbd minor %d (%s) is %s", m, label, what),
		Argv: sh("drbd-wait", drbdWaitScript, env.statusFile(), strconv.Itoa(m), mode, strconv.Itoa(timeoutSec), label)}}, nil
}

// WaitSync waits on node (normally the primary) until d is Connected and
// UpToDate/UpToDate, polling the status file each second and printing
// "disk/N: XX.X% done, ETA h:mm:ss" to stderr every 5 s while resyncing;
// fails on a StandAlone/unconfigured minor (5 s) or after timeoutSec.
func WaitSync(d *statefile.Disk, node string, env DRBDEnv, timeoutSec int) ([]plan.Step, error) {
	return waitStep(d, node, env, "sync", timeoutSec)
}

// WaitConnected waits until d is Connected or resyncing on node (Ganeti's
// drbd_wait_sync handshake guard on the secondary before opening disks).
func WaitConnected(d *statefile.Disk, node string, env DRBDEnv, timeoutSec int) ([]plan.Step, error) {
	return waitStep(d, node, env, "connected", timeoutSec)
}

// DisconnectNet takes d's network down on node (§2.9): "drbdsetup
// disconnect <fam>:<me>:<port> <fam>:<peer>:<port>", re-sent each second
// until the status file shows StandAlone (60 s). Already StandAlone: done.
func DisconnectNet(d *statefile.Disk, node string, env DRBDEnv) ([]plan.Step, error) {
	v, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	peer, _ := v.peerOf(node)
	_, _, la, err := env.addr(node, v.port)
	if err != nil {
		return nil, err
	}
	_, _, ra, err := env.addr(peer, v.port)
	if err != nil {
		return nil, err
	}
	return []plan.Step{{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("disconnect drbd minor %d from %s (standalone)", m, peer),
		Argv: sh("drbd-disconnect", drbdDisconnectScript, env.statusFile(), strconv.Itoa(m), la, ra)}}, nil
}

// AttachNetTimeout is how long AttachNet waits for the peer (Ganeti: 120 s).
const AttachNetTimeout = 120

// AttachNet reconnects a StandAlone d on node to its peer (§2.9), with
// --allow-two-primaries (and protocol C) when dual, then waits (second
// step) until Connected — for dual also UpToDate/UpToDate — for
// AttachNetTimeout. Run it on both nodes in the same stages.
func AttachNet(d *statefile.Disk, node string, env DRBDEnv, dual bool) ([]plan.Step, error) {
	v, err := parseDRBD(d)
	if err != nil {
		return nil, err
	}
	argv, desc, err := connectArgv(v, d, node, env, dual)
	if err != nil {
		return nil, err
	}
	mode := "connected"
	if dual {
		mode = "sync"
	}
	w, err := waitStep(d, node, env, mode, AttachNetTimeout)
	if err != nil {
		return nil, err
	}
	return append([]plan.Step{{Node: node, Action: plan.Exec, Desc: desc, Argv: argv}}, w...), nil
}

// ReplacedName is the name an old LV gets during replace-disks:
// "<lv>_replaced-<unix time>".
func ReplacedName(lv string, ts int64) string { return lv + "_replaced-" + strconv.FormatInt(ts, 10) }

// replacementLeaves are the temporary LVs "<newID>.disk<N>_data/_meta" of
// replace-disks -s/-p, in the old LVs' VGs.
func replacementLeaves(d *statefile.Disk, v drbdView, newID string) (data, meta leaf, err error) {
	n, err := diskIndex(d)
	if err != nil {
		return data, meta, err
	}
	prefix := newID + ".disk" + strconv.Itoa(n)
	data = leaf{typ: Plain, vg: v.data.vg, lv: prefix + "_data"}
	meta = leaf{typ: Plain, vg: v.meta.vg, lv: prefix + "_meta"}
	for _, l := range []leaf{data, meta} {
		if err := ValidateLVMName("LV", l.lv); err != nil {
			return data, meta, err
		}
	}
	return data, meta, nil
}

func diskIndex(d *statefile.Disk) (int, error) {
	var n int
	if _, err := fmt.Sscanf(d.IVName, "disk/%d", &n); err != nil || n < 0 {
		return 0, fmt.Errorf("disk %s: iv_name %q is not disk/<N>", d.UUID, d.IVName)
	}
	return n, nil
}

// CreateReplacementLVs creates the new data and meta LVs of
// replace-disks -s/-p on node (§11.4 step 3) under the temporary names
// "<newID>.disk<N>_data/_meta", tagged, each with an Undo removing it.
func CreateReplacementLVs(d *statefile.Disk, node, instance, newID string) ([]plan.Step, error) {
	v, _, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, err
	}
	data, meta, err := replacementLeaves(d, v, newID)
	if err != nil {
		return nil, err
	}
	return []plan.Step{
		lvCreateStep(node, instance, data, d.Children[0].Size, "replacement drbd data"),
		lvCreateStep(node, instance, meta, DRBDMetaSize, "replacement drbd meta"),
	}, nil
}

// SwapReplacementLVs puts the LVs of CreateReplacementLVs under d on node
// (§11.4 step 4): "drbdsetup detach <M>" (the device keeps running
// Diskless through the peer), old LVs renamed to ReplacedName(lv, ts)
// (skipped when missing), new LVs renamed to the old names, the new meta
// wiped and initialised (create-md on an unused minor), then AttachLocal.
// A full resync from the peer follows: WaitSync on the primary, then
// RemoveReplacedLVs. Renames carry Undos renaming back.
func SwapReplacementLVs(d *statefile.Disk, node, newID string, ts int64, env DRBDEnv) ([]plan.Step, error) {
	v, m, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	data, meta, err := replacementLeaves(d, v, newID)
	if err != nil {
		return nil, err
	}
	if ts <= 0 {
		return nil, fmt.Errorf("replace-disks timestamp %d is not a unix time", ts)
	}
	steps := []plan.Step{{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("detach drbd minor %d from its old LVs", m),
		Argv: drbdsetup("detach", strconv.Itoa(m))}}
	rename := func(vg, from, to string, ifExists bool) plan.Step {
		argv := []string{"lvrename", vg, from, to}
		if ifExists {
			argv = sh("rename-lv", renameIfScript, vg, from, to)
		}
		return plan.Step{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("rename LV %s/%s to %s", vg, from, to), Argv: argv,
			Undo: &plan.Step{Node: node, Action: plan.Modify, Desc: fmt.Sprintf("rename LV %s/%s back to %s", vg, to, from),
				Argv: sh("rename-lv", renameIfScript, vg, to, from)}}
	}
	steps = append(steps,
		rename(v.data.vg, v.data.lv, ReplacedName(v.data.lv, ts), true),
		rename(v.meta.vg, v.meta.lv, ReplacedName(v.meta.lv, ts), true),
		rename(data.vg, data.lv, v.data.lv, false),
		rename(meta.vg, meta.lv, v.meta.lv, false),
		plan.Step{Node: node, Action: plan.Modify, Desc: "initialise new drbd metadata on " + v.meta.vg + "/" + v.meta.lv,
			Argv: sh("drbd-init-meta", drbdInitMetaScript, v.meta.lvPath(), env.statusFile())})
	att, err := AttachLocal(d, node, env)
	if err != nil {
		return nil, err
	}
	att[0].Undo = nil // the device stays up (Diskless) if attaching fails
	return append(steps, att...), nil
}

// RemoveReplacedLVs removes the old LVs SwapReplacementLVs renamed with
// ts (§11.4 step 8); missing ones are fine.
func RemoveReplacedLVs(d *statefile.Disk, node string, ts int64) ([]plan.Step, error) {
	v, _, err := drbdOn(d, node)
	if err != nil {
		return nil, err
	}
	var steps []plan.Step
	for _, l := range []leaf{v.data, v.meta} {
		l.lv = ReplacedName(l.lv, ts)
		steps = append(steps, *removeLVStep(node, l))
	}
	return steps, nil
}

// PlainToDRBD converts a stopped instance's plain disk to nd (made by
// NewDRBD with the plain disk's index and size, primary first) (§11.6):
//
//	primary:   lvcreate meta; lvrename plain LV → nd's data LV; wipe meta;
//	           create-md; attach; disk-options; connect; primary --force
//	secondary: lvcreate data, meta; wipe meta; create-md; attach;
//	           disk-options; connect
//
// Zip both with Stages, then WaitSync(nd, primary): the full resync copies
// the data to the secondary. Undos remove the new LVs, rename the data LV
// back and down the devices.
func PlainToDRBD(plain, nd *statefile.Disk, primary, instance string, env DRBDEnv) (onPrimary, onSecondary []plan.Step, err error) {
	pl, err := parse(plain)
	if err != nil {
		return nil, nil, err
	}
	if pl.typ != Plain {
		return nil, nil, fmt.Errorf("disk %s is %s: only plain disks convert to drbd", plain.UUID, pl.typ)
	}
	v, m, err := drbdOn(nd, primary)
	if err != nil {
		return nil, nil, err
	}
	if err := ValidateInstanceName(instance); err != nil {
		return nil, nil, err
	}
	if v.data.vg != pl.vg {
		return nil, nil, fmt.Errorf("drbd data LV must be in the plain disk's VG %s (is in %s)", pl.vg, v.data.vg)
	}
	if nd.Size != plain.Size {
		return nil, nil, fmt.Errorf("drbd disk size %d MiB differs from the plain disk's %d MiB", nd.Size, plain.Size)
	}
	secondary, _ := v.peerOf(primary)
	onPrimary = []plan.Step{
		lvCreateStep(primary, instance, v.meta, DRBDMetaSize, "drbd meta"),
		{Node: primary, Action: plan.Modify, Desc: fmt.Sprintf("rename LV %s/%s to %s (drbd data)", pl.vg, pl.lv, v.data.lv),
			Argv: []string{"lvrename", pl.vg, pl.lv, v.data.lv},
			Undo: &plan.Step{Node: primary, Action: plan.Modify, Desc: fmt.Sprintf("rename LV %s/%s back to %s", pl.vg, v.data.lv, pl.lv),
				Argv: []string{"lvrename", pl.vg, v.data.lv, pl.lv}}},
	}
	onPrimary = append(onPrimary, initMetaSteps(primary, m, v.meta)...)
	as, err := AssembleDRBD(nd, primary, env)
	if err != nil {
		return nil, nil, err
	}
	onPrimary = append(onPrimary, as...)
	pr, err := MakePrimary(nd, primary, "", 0, true)
	if err != nil {
		return nil, nil, err
	}
	onPrimary = append(onPrimary, pr...)

	if onSecondary, err = createDRBD(nd, secondary, instance); err != nil {
		return nil, nil, err
	}
	as, err = AssembleDRBD(nd, secondary, env)
	if err != nil {
		return nil, nil, err
	}
	return onPrimary, append(onSecondary, as...), nil
}

// DRBDToPlain converts a stopped instance's drbd disk d (primary given) to
// plain (§11.6): the new disk is d's data child (same UUID and LV; size,
// mode, name, iv_name of d; nodes [primary]). Steps:
//
//	primary:   drbdsetup down; lvremove meta; [lvrename data → newLV]
//	secondary: drbdsetup down; lvremove data, meta
//
// newLV "" keeps the data LV name, as Ganeti does; otherwise the data LV
// is renamed (e.g. back to "<uuid>.disk<N>") and the new disk says so.
// The ports go back to the pool with PortsAfterRelease.
func DRBDToPlain(d *statefile.Disk, primary, newLV string) (plain *statefile.Disk, onPrimary, onSecondary []plan.Step, err error) {
	v, m, err := drbdOn(d, primary)
	if err != nil {
		return nil, nil, nil, err
	}
	secondary, _ := v.peerOf(primary)
	plain = cloneDisk(d.Children[0])
	plain.Size, plain.Mode, plain.Name, plain.IVName = d.Size, d.Mode, d.Name, d.IVName
	plain.Nodes = []string{primary}
	plain.Params = statefile.Params{}
	onPrimary = []plan.Step{*downStep(primary, m), *removeLVStep(primary, v.meta)}
	if newLV != "" && newLV != v.data.lv {
		if err := ValidateLVMName("LV", newLV); err != nil {
			return nil, nil, nil, err
		}
		onPrimary = append(onPrimary, plan.Step{Node: primary, Action: plan.Modify,
			Desc: fmt.Sprintf("rename LV %s/%s to %s", v.data.vg, v.data.lv, newLV),
			Argv: []string{"lvrename", v.data.vg, v.data.lv, newLV}})
		plain.SetPlainLV(v.data.vg, newLV)
	}
	if onSecondary, err = removeDRBD(d, secondary); err != nil {
		return nil, nil, nil, err
	}
	return plain, onPrimary, onSecondary, nil
}
