package playbooks

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/playbooks/storage"
	"github.com/ganetictl/ganetictl/statefile"
)

// factsScript gathers everything ganetictl needs to know about a node in one
// SSH round trip. It is a constant: every value that varies (VG, paths,
// bridges) comes in as a positional parameter, never spliced into the text.
// Each section starts with a line "@@name"; parseFacts reads them back.
const factsScript = `parts=,$1, vg=$2 fdir=$3 sdir=$4 drbd=$5 statef=$6 ospath=$7 osscript=$8 running=$9; shift 9
volumes=$1 rbdpool=$2; shift 2
want() { case $parts in ,all,|*,$1,*) return 0;; esac; return 1; }
echo @@hostname; uname -n
echo @@time; date +%s.%N
echo @@uname; uname -srm
echo @@meminfo; grep -E '^(MemTotal|MemFree|MemAvailable|Buffers|Cached):' /proc/meminfo
echo @@cpus; nproc
echo @@tools
if want tools; then
  for t in lvm lvs vgs drbdsetup qemu-system-x86_64 qemu-img socat ip xl rbd; do
    p=$(command -v "$t") && echo "$t $p"
  done
fi
echo @@versions
if want versions; then
  lvm version 2>/dev/null | sed -n 's/^ *LVM version: *//p' | sed 's/^/lvm /'
  qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/^QEMU emulator version /qemu /p'
fi
echo @@vgs
want vgs && [ -n "$vg" ] && vgs --noheadings --nosuffix --units=m --separator='|' -o vg_name,vg_size,vg_free,vg_attr "$vg" 2>&1
echo @@dirs
for d in "$fdir" "$sdir"; do
  [ -n "$d" ] || continue
  if [ -d "$d" ] && [ -w "$d" ]; then echo "ok $d"; else echo "missing $d"; fi
done
echo @@df
df -P -m "$fdir" 2>/dev/null | tail -n 1
echo @@bridges
for b in "$@"; do
  if [ -d "/sys/class/net/$b/bridge" ]; then echo "ok $b"; else echo "missing $b"; fi
done
echo @@addrs
ip -o addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4}'
echo @@drbd
if [ -r "$drbd" ]; then if want drbd; then cat "$drbd"; else head -n 1 "$drbd"; fi; fi
echo @@state
want state && [ -f "$statef" ] && sha256sum "$statef" && head -c 512 "$statef" | grep -E '"(serial|lineage)"'
echo @@os
want os && sh -c "$osscript" os "$ospath"
echo @@leftovers
if want leftovers; then
  busy=" $(ls -l /proc/[0-9]*/exe 2>/dev/null | sed -n 's|.* -> \(/var/lib/ganetictl/helper-[0-9a-f]*\).*|\1|p' | sort -u | tr '\n' ' ') "
  for h in /var/lib/ganetictl/helper-*; do
    [ -f "$h" ] || continue
    case $busy in *" $h "*) echo "helper-busy $h";; *) echo "helper $h";; esac
  done
  for d in "$fdir" "$sdir" /srv/ganeti/export; do
    [ -n "$d" ] && [ -d "$d" ] && find "$d" -maxdepth 3 -name '*.ganetictl-partial' -mmin +10 2>/dev/null | sed 's/^/partial /'
  done
  [ -d /srv/ganeti/export ] && find /srv/ganeti/export -mindepth 1 -maxdepth 1 -type d -name '*.new' -mmin +10 2>/dev/null | sed 's/^/export-new /'
fi
echo @@helpers
if want helpers; then
  for h in /var/lib/ganetictl/helper-*; do [ -f "$h" ] && sha256sum "$h"; done
fi
echo @@links
ls /run/ganeti/instance-disks 2>/dev/null
echo @@bootid
want bootid && cat /proc/sys/kernel/random/boot_id 2>/dev/null
echo @@running
want running && sh -c "$running" running
if want volumes; then sh -c "$volumes" volumes "$vg" "$fdir" "$sdir" "$rbdpool"; else echo @@volumes-end; fi
echo @@end
`

// FactsArgs are the node-independent inputs of the facts script.
type FactsArgs struct {
	VG, FileDir, SharedFileDir, DRBDStatus, RBDPool string
	Bridges                                         []string
	// Parts limits the optional sections to gather (Part* constants);
	// nil gathers everything. The node basics always come.
	Parts []string
}

// Optional parts of a node's facts; each costs node time (LVM and qemu
// commands take tens of milliseconds), so operations ask for what they use.
const (
	PartTools    = "tools"    // which node programs exist
	PartVersions = "versions" // lvm and qemu versions
	PartVGs      = "vgs"      // the volume group's size and free space
	PartState    = "state"    // the node's copy of the state
	PartOS       = "os"       // OS definitions
	PartRunning  = "running"  // instances the hypervisors run
	PartVolumes  = "volumes"  // LVs, disk files, rbd images
	PartDRBD     = "drbd"     // the whole DRBD status (else its first line)
	// PartLeftovers: copy helpers on the node and what interrupted copies
	// left (partial files and unfinished exports untouched for 10 minutes).
	PartLeftovers = "leftovers"
	// PartHelpers: the copy helpers present, with their SHA-256.
	PartHelpers = "helpers"
	// PartBootID: the kernel's boot ID, new at every boot (the watcher
	// notices rebooted nodes by it).
	PartBootID = "bootid"
)

// HelperDir is where nodes keep the copy helper, by content:
// helper-<sha256[:16]>.
const HelperDir = "/var/lib/ganetictl"

// FactsInstance are the parts instance power and disk operations use.
var FactsInstance = []string{PartRunning}

// FactsStep is the read-only step that gathers a node's facts: the node
// itself, its OS definitions, running instances and volumes, in one round trip.
func FactsStep(node string, a FactsArgs) plan.Step {
	parts := "all"
	if a.Parts != nil {
		parts = strings.Join(a.Parts, ",")
	}
	argv := []string{"sh", "-c", factsScript, "ganetictl-facts", parts, a.VG, a.FileDir, a.SharedFileDir, a.DRBDStatus, StateReplicaPath,
		strings.Join(OSSearchPath, ":"), osListScript, hv.ListScript, storage.VolumesScript, a.RBDPool}
	argv = append(argv, a.Bridges...)
	return plan.Step{Node: node, Action: plan.Read, Desc: "gather node facts", Argv: argv}
}

// NodeFacts is what a node told us about itself. A zero Reachable means the
// node did not answer and Err says why.
type NodeFacts struct {
	Name      string `json:"name"`
	Reachable bool   `json:"reachable"`
	Err       string `json:"error,omitempty"`

	Hostname string            `json:"hostname"`
	Time     time.Time         `json:"time"`
	Uname    string            `json:"uname"`
	MemTotal int64             `json:"mem_total_mib"` // MiB
	MemFree  int64             `json:"mem_free_mib"`  // MiB, free + buffers + cache
	CPUs     int               `json:"cpus"`
	Tools    map[string]string `json:"tools"`    // name -> path
	Versions map[string]string `json:"versions"` // lvm, qemu
	VG       *VGFacts          `json:"vg,omitempty"`
	VGError  string            `json:"vg_error,omitempty"`
	Dirs     map[string]bool   `json:"dirs"`    // path -> usable
	Bridges  map[string]bool   `json:"bridges"` // name -> exists
	// Addrs are the node's global IP addresses (ip addr); nil when the node did
	// not list them.
	Addrs      []string   `json:"addrs,omitempty"`
	DiskTotal  int64      `json:"disk_total_mib,omitempty"` // of the file storage dir
	DiskFree   int64      `json:"disk_free_mib,omitempty"`
	DRBD       string     `json:"drbd,omitempty"` // first line of the DRBD status
	DRBDStatus []byte     `json:"-"`              // the whole DRBD status, with PartDRBD
	StateSum   string     `json:"state_sha256,omitempty"`
	Leftovers  []Leftover `json:"leftovers,omitempty"` // with PartLeftovers
	// Helpers maps the helper paths present to their SHA-256 (PartHelpers).
	Helpers      map[string]string `json:"helpers,omitempty"`
	StateSerial  int64             `json:"state_serial,omitempty"`
	StateLineage string            `json:"state_lineage,omitempty"`
	// Window is when the controller sent the request and got the answer:
	// the node's clock is compared against it (Ganeti's ENODETIME check).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`

	OS      map[string]*OSDef     `json:"os"`      // OS definitions by name
	Running map[string]hv.Running `json:"running"` // instances running here, by name
	Volumes *storage.Volumes      `json:"volumes"` // LVs, disk files, rbd images
	Links   []string              `json:"links"`   // active instance-disk links: "<inst>:<idx>"
	// BootID is /proc/sys/kernel/random/boot_id (PartBootID).
	BootID string `json:"boot_id,omitempty"`
}

// MaxClockSkew is how far a node's clock may be from the controller's
// (Ganeti's NODE_MAX_CLOCK_SKEW).
const MaxClockSkew = 150 * time.Second

// ClockSkew is how far the node's clock was outside the window in which the
// controller asked for it: zero when inside, or when unknown.
func (f *NodeFacts) ClockSkew() time.Duration {
	switch {
	case f.Time.IsZero() || f.WindowStart.IsZero():
		return 0
	case f.Time.Before(f.WindowStart):
		return f.WindowStart.Sub(f.Time)
	case f.Time.After(f.WindowEnd):
		return f.Time.Sub(f.WindowEnd)
	}
	return 0
}

// VGFacts describes the cluster volume group on a node.
type VGFacts struct {
	Name string  `json:"name"`
	Size float64 `json:"size_mib"`
	Free float64 `json:"free_mib"`
	Attr string  `json:"attr"`
}

// ParseFacts reads the facts script's output.
func ParseFacts(name string, out []byte) (*NodeFacts, error) {
	f := &NodeFacts{Name: name, Reachable: true, Tools: map[string]string{}, Versions: map[string]string{},
		Dirs: map[string]bool{}, Bridges: map[string]bool{}}
	sections := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "@@") {
			cur = strings.TrimPrefix(line, "@@")
			sections[cur] = []string{}
			continue
		}
		if cur != "" {
			sections[cur] = append(sections[cur], line)
		}
	}
	if _, ok := sections["end"]; !ok {
		return nil, fmt.Errorf("%s: facts output is truncated (no @@end marker)", name)
	}
	first := func(s string) string {
		if l := sections[s]; len(l) > 0 {
			return strings.TrimSpace(l[0])
		}
		return ""
	}
	f.Hostname = first("hostname")
	f.Uname = first("uname")
	if t := first("time"); t != "" {
		sec, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: facts: bad time %q", name, t)
		}
		f.Time = time.Unix(0, int64(sec*1e9)).UTC()
	}
	f.CPUs, _ = strconv.Atoi(first("cpus"))
	mem := map[string]int64{}
	for _, l := range sections["meminfo"] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) > 0 {
			kb, _ := strconv.ParseInt(fields[0], 10, 64)
			mem[k] = kb / 1024
		}
	}
	f.MemTotal = mem["MemTotal"]
	f.MemFree = mem["MemFree"] + mem["Buffers"] + mem["Cached"]
	for _, l := range sections["tools"] {
		if k, v, ok := strings.Cut(l, " "); ok {
			f.Tools[k] = v
		}
	}
	for _, l := range sections["versions"] {
		if k, v, ok := strings.Cut(l, " "); ok {
			f.Versions[k] = strings.TrimSpace(v)
		}
	}
	for _, l := range sections["vgs"] {
		l = strings.TrimSpace(l)
		p := strings.Split(l, "|")
		if len(p) != 4 {
			if l != "" {
				f.VGError = strings.TrimSpace(f.VGError + " " + l)
			}
			continue
		}
		size, err1 := strconv.ParseFloat(p[1], 64)
		free, err2 := strconv.ParseFloat(p[2], 64)
		if err1 != nil || err2 != nil {
			f.VGError = "unparsable vgs line: " + l
			continue
		}
		f.VG = &VGFacts{Name: p[0], Size: size, Free: free, Attr: p[3]}
	}
	for _, l := range sections["dirs"] {
		st, path, _ := strings.Cut(l, " ")
		f.Dirs[path] = st == "ok"
	}
	for _, l := range sections["bridges"] {
		st, b, _ := strings.Cut(l, " ")
		f.Bridges[b] = st == "ok"
	}
	if addrs, ok := sections["addrs"]; ok && len(addrs) > 0 {
		for _, a := range addrs {
			if a = strings.TrimSpace(a); a != "" {
				f.Addrs = append(f.Addrs, a)
			}
		}
	}
	if fields := strings.Fields(first("df")); len(fields) >= 4 {
		f.DiskTotal, _ = strconv.ParseInt(fields[1], 10, 64)
		f.DiskFree, _ = strconv.ParseInt(fields[3], 10, 64)
	}
	f.DRBD = first("drbd")
	f.DRBDStatus = []byte(strings.Join(sections["drbd"], "\n") + "\n")
	f.OS = parseOSList(sections["os"])
	f.Links = sections["links"]
	f.BootID = first("bootid")
	for _, l := range sections["leftovers"] {
		if kind, path, ok := strings.Cut(l, " "); ok && path != "" {
			f.Leftovers = append(f.Leftovers, Leftover{Kind: kind, Path: path})
		}
	}
	for _, l := range sections["helpers"] {
		if sum, path, ok := strings.Cut(l, "  "); ok && path != "" {
			if f.Helpers == nil {
				f.Helpers = map[string]string{}
			}
			f.Helpers[path] = sum
		}
	}
	running, err := hv.ParseList([]byte(strings.Join(sections["running"], "\n")))
	if err != nil {
		return nil, fmt.Errorf("%s: facts: running instances: %w", name, err)
	}
	f.Running = running
	if _, asked := sections["lvs"]; asked { // volumes were gathered
		if f.Volumes, err = storage.ParseVolumes(out); err != nil {
			return nil, fmt.Errorf("%s: facts: %w", name, err)
		}
	}
	for i, l := range sections["state"] {
		if i == 0 {
			f.StateSum, _, _ = strings.Cut(l, " ")
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `",`)
		switch strings.Trim(strings.TrimSpace(k), `"`) {
		case "serial":
			f.StateSerial, _ = strconv.ParseInt(v, 10, 64)
		case "lineage":
			f.StateLineage = v
		}
	}
	return f, nil
}

// FactsArgsFor is the facts script's settings for a state: the
// inventory's defaults (def), overridden by what the state records; a new
// or empty state (before cluster init) keeps the defaults.
func FactsArgsFor(def FactsArgs, st *statefile.State) FactsArgs {
	fa := def
	if st == nil || st.Cluster.Name == "" {
		return fa
	}
	fa.VG, fa.FileDir, fa.SharedFileDir = st.Cluster.VolumeGroup, st.Cluster.FileStorageDir, st.Cluster.SharedFileStorageDir
	fa.RBDPool = ""
	if slices.Contains(st.Cluster.EnabledDiskTemplates, storage.RBD) {
		fa.RBDPool = st.Cluster.RBDPool
	}
	if link, ok := st.Cluster.NICParams["link"].(string); ok && link != "" {
		fa.Bridges = []string{link}
	}
	return fa
}
