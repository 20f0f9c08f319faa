package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/plan"
	"github.com/ganetictl/ganetictl/statefile"
)

// OSSearchPath is where nodes keep OS definitions, as Ganeti's default.
var OSSearchPath = []string{"/srv/ganeti/os", "/usr/local/lib/ganeti/os", "/usr/lib/ganeti/os", "/usr/share/ganeti/os"}

// osListScript lists the OS definitions of a node: per OS its directory,
// API versions, variants and missing scripts. $1 is the search path, ':'
// separated; the first directory holding an OS wins, as in Ganeti.
const osListScript = `IFS=:; for base in $1; do
  for d in "$base"/*/; do
    d=${d%/}; n=${d##*/}
    [ -d "$d" ] || continue
    case " $seen " in *" $n "*) continue;; esac
    seen="$seen $n"
    if [ ! -f "$d/ganeti_api_version" ]; then echo "invalid $n $d missing ganeti_api_version"; continue; fi
    echo "os $n $d $(tr '\n' ' ' < "$d/ganeti_api_version")"
    [ -f "$d/variants.list" ] && echo "variants $n $(tr '\n' ' ' < "$d/variants.list")"
    [ -f "$d/parameters.list" ] && echo "parameters $n $(cut -d' ' -f1 "$d/parameters.list" | tr '\n' ' ')"
    for s in create export import rename; do [ -x "$d/$s" ] || echo "missing $n $s"; done
  done
done`

// OSDef is one OS definition found on a node.
type OSDef struct {
	Name       string   `json:"name"`
	Path       string   `json:"path"`
	APIs       []int    `json:"api_versions"`
	Variants   []string `json:"variants"`
	Parameters []string `json:"parameters"`
	Missing    []string `json:"missing_scripts,omitempty"`
	Invalid    string   `json:"invalid,omitempty"`
}

// Valid reports whether the OS can be used (API 20 or one we speak, scripts present).
func (o *OSDef) Valid() bool {
	if o.Invalid != "" || len(o.Missing) > 0 {
		return false
	}
	for _, v := range o.APIs {
		if v >= 15 && v <= 20 {
			return true
		}
	}
	return false
}

// Problem explains why an OS is not valid.
func (o *OSDef) Problem() string {
	switch {
	case o.Invalid != "":
		return o.Invalid
	case len(o.Missing) > 0:
		return "missing or not executable: " + strings.Join(o.Missing, ", ")
	case !o.Valid():
		return fmt.Sprintf("API version %v not supported (need 15..20)", o.APIs)
	}
	return ""
}

func parseOSList(lines []string) map[string]*OSDef {
	out := map[string]*OSDef{}
	get := func(n string) *OSDef {
		if out[n] == nil {
			out[n] = &OSDef{Name: n}
		}
		return out[n]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		o := get(f[1])
		switch f[0] {
		case "os":
			if len(f) > 2 {
				o.Path = f[2]
			}
			for _, v := range f[3:] {
				if n, err := strconv.Atoi(v); err == nil {
					o.APIs = append(o.APIs, n)
				}
			}
		case "variants":
			o.Variants = f[2:]
		case "parameters":
			o.Parameters = f[2:]
		case "missing":
			o.Missing = append(o.Missing, f[2:]...)
		case "invalid":
			o.Invalid = strings.Join(f[2:], " ")
		}
	}
	return out
}

// splitOS splits "name+variant".
func splitOS(s string) (name, variant string) {
	name, variant, _ = strings.Cut(s, "+")
	return name, variant
}

// checkOS checks that the node has a valid OS def and, with a variant, that
// the OS lists it.
func checkOS(node string, f *NodeFacts, osName string) (*OSDef, string, error) {
	name, variant := splitOS(osName)
	if name == "" {
		return nil, "", prereq(ErrWrongInput, "No OS given; pass -o OS[+variant] (see `os list`)")
	}
	def, ok := f.OS[name]
	if !ok {
		return nil, "", prereq(ErrWrongInput, "OS '%s' not found on node %s; see `os list` and `os diagnose`", name, node)
	}
	if !def.Valid() {
		return nil, "", prereq(ErrEnvironment, "OS '%s' on node %s is not valid: %s", name, node, def.Problem())
	}
	if len(def.Variants) > 0 {
		if variant == "" {
			variant = def.Variants[0]
		} else if !contains(def.Variants, variant) {
			return nil, "", prereq(ErrWrongInput, "OS '%s' has no variant '%s' (variants: %s)", name, variant, strings.Join(def.Variants, ", "))
		}
	} else if variant != "" {
		return nil, "", prereq(ErrWrongInput, "OS '%s' has no variants, but '%s' was given", name, variant)
	}
	return def, variant, nil
}

// osScript runs one OS definition script with Ganeti's OS API environment
// and a clean environment; output goes to a log under /var/log/ganeti/os
// and, on failure, its tail to stderr. $1 = OS dir, $2 = script, $3 = log,
// the rest NAME=value environment entries.
const osScript = `dir=$1 script=$2 log=$3; shift 3
mkdir -p "${log%/*}"
cd "$dir" || exit 1
if env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" "./$script" >"$log" 2>&1; then exit 0; else
  rc=$?; echo "OS $script script failed (exit $rc), last lines of $log:" >&2; tail -n 20 "$log" >&2; exit $rc
fi`

// osEnv is the OS API environment for an instance (reference §8.3); a NIC
// in a network has the network's variables, NIC_<n>_NETWORK_*, as in
// Ganeti's OSEnvironment.
func osEnv(st *statefile.State, inst *statefile.Instance, def *OSDef, variant string, links []string, extra map[string]string) []string {
	env := map[string]string{
		"OS_API_VERSION":           "20",
		"OS_NAME":                  def.Name,
		"OS_VARIANT":               variant,
		"DEBUG_LEVEL":              "0",
		"INSTANCE_NAME":            inst.Name,
		"INSTANCE_OS":              inst.OS,
		"INSTANCE_PRIMARY_NODE":    inst.PrimaryNode,
		"INSTANCE_SECONDARY_NODES": strings.Join(inst.SecondaryNodes(), " "),
		"HYPERVISOR":               inst.Hypervisor,
		"DISK_COUNT":               strconv.Itoa(len(inst.Disks)),
		"NIC_COUNT":                strconv.Itoa(len(inst.NICs)),
	}
	for i, d := range inst.Disks {
		p := fmt.Sprintf("DISK_%d_", i)
		env[p+"PATH"] = links[i]
		env[p+"ACCESS"] = d.Mode
		env[p+"SIZE"] = strconv.FormatInt(d.Size, 10)
		env[p+"UUID"] = d.UUID
		env[p+"BACKEND_TYPE"] = "block"
		if d.DevType == "file" || d.DevType == "sharedfile" {
			env[p+"BACKEND_TYPE"] = "file:loop"
		}
	}
	for i, nic := range inst.NICs {
		p := fmt.Sprintf("NIC_%d_", i)
		env[p+"MAC"] = nic.MAC
		if nic.IP != "" {
			env[p+"IP"] = nic.IP
		}
		mode, _ := nic.NICParams["mode"].(string)
		link, _ := nic.NICParams["link"].(string)
		env[p+"MODE"], env[p+"LINK"] = mode, link
		if mode == "bridged" {
			env[p+"BRIDGE"] = link
		}
		if n := st.Networks[nic.Network]; nic.Network != "" && n != nil {
			for k, v := range NetworkEnv(n, p) {
				env[k] = v
			}
		}
	}
	for k, v := range inst.OSParams {
		env["OSP_"+strings.ToUpper(k)] = fmt.Sprint(v)
	}
	for k, v := range extra {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + env[k]
	}
	return out
}

// osStep runs script ("create", "rename", ...) of the instance's OS on node.
func osStep(st *statefile.State, node string, inst *statefile.Instance, def *OSDef, variant, script string, links []string, extra map[string]string) plan.Step {
	log := fmt.Sprintf("/var/log/ganeti/os/%s-%s-%s.log", script, def.Name, inst.Name)
	argv := append([]string{"sh", "-c", osScript, "ganetictl-os", def.Path, script, log}, osEnv(st, inst, def, variant, links, extra)...)
	return plan.Step{Node: node, Action: plan.Exec, Desc: fmt.Sprintf("run the %s script of OS %s", script, def.Name), Argv: argv}
}

// NetworkEnv is a network's variables for scripts, each name prefixed
// (Ganeti's Network.HooksDict): NETWORK_NAME, NETWORK_UUID, NETWORK_TAGS
// always, NETWORK_SUBNET, NETWORK_GATEWAY, NETWORK_SUBNET6,
// NETWORK_GATEWAY6 and NETWORK_MAC_PREFIX when set.
func NetworkEnv(n *statefile.Network, prefix string) map[string]string {
	env := map[string]string{
		prefix + "NETWORK_NAME": n.Name,
		prefix + "NETWORK_UUID": n.UUID,
		prefix + "NETWORK_TAGS": strings.Join(n.Tags, " "),
	}
	for k, v := range map[string]string{"SUBNET": n.Network, "GATEWAY": n.Gateway, "SUBNET6": n.Network6,
		"GATEWAY6": n.Gateway6, "MAC_PREFIX": n.MACPrefix} {
		if v != "" {
			env[prefix+"NETWORK_"+k] = v
		}
	}
	return env
}

// OSModifyArgs are gnt-os modify's changes to one OS's cluster settings:
// nil leaves a part as it is.
type OSModifyArgs struct {
	OS          string
	HVParams    map[string]statefile.Params // by hypervisor
	OSParams    statefile.Params
	Hidden      *bool
	Blacklisted *bool
}

// OSModifyOp is gnt-os modify: Ganeti's CLUSTER_SET_PARAMS with os_hvp,
// osparams, hidden_os and blacklisted_os.
var OSModifyOp = define(&Opcode[OSModifyArgs]{ID: OpClusterSetParams, Command: "os modify",
	Subject: func(a OSModifyArgs) string { return a.OS }, Plan: OSModify})

// OSModify plans changing how the cluster treats an OS.
func OSModify(env Env, a OSModifyArgs) (*plan.Plan, error) {
	st := env.State
	if a.HVParams == nil && a.OSParams == nil && a.Hidden == nil && a.Blacklisted == nil {
		return nil, prereq(ErrWrongInput, "At least one of OS parameters or hypervisor parameters must be passed")
	}
	for hv := range a.HVParams {
		if !slices.Contains(st.Cluster.EnabledHypervisors, hv) {
			return nil, prereq(ErrWrongInput, "Hypervisor %s is not enabled (enabled: %s)", hv, strings.Join(st.Cluster.EnabledHypervisors, ", "))
		}
	}
	cl := cloneCluster(&st.Cluster)
	if a.OSParams != nil {
		cl.OSParams = cloneParamsMap(st.Cluster.OSParams)
		cur := cl.OSParams[a.OS]
		mergeParams(&cur, a.OSParams)
		if len(cur) == 0 {
			delete(cl.OSParams, a.OS)
		} else {
			cl.OSParams[a.OS] = cur
		}
	}
	if a.HVParams != nil {
		cl.OSHVP = map[string]map[string]statefile.Params{}
		for os, byHV := range st.Cluster.OSHVP {
			cl.OSHVP[os] = cloneParamsMap(byHV)
		}
		if cl.OSHVP[a.OS] == nil {
			cl.OSHVP[a.OS] = map[string]statefile.Params{}
		}
		for hv, p := range a.HVParams {
			cur := cl.OSHVP[a.OS][hv]
			mergeParams(&cur, p)
			cl.OSHVP[a.OS][hv] = cur
		}
	}
	toggle := func(list []string, on *bool) []string {
		out := slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == a.OS })
		if on != nil && *on {
			out = append(out, a.OS)
			sort.Strings(out)
		}
		if on == nil {
			return list
		}
		return out
	}
	cl.HiddenOS = toggle(st.Cluster.HiddenOS, a.Hidden)
	cl.BlacklistedOS = toggle(st.Cluster.BlacklistedOS, a.Blacklisted)
	p := plan.New(plan.ClusterOp(OpClusterSetParams, "os "+a.OS), st.Lineage, st.Serial)
	ReplicateTo(p, masterCandidates(st)...)
	return p, p.Set(plan.KindCluster, cl.Name, &st.Cluster, cl)
}

func cloneParamsMap(m map[string]statefile.Params) map[string]statefile.Params {
	if m == nil {
		return map[string]statefile.Params{}
	}
	out := make(map[string]statefile.Params, len(m))
	for k, v := range m {
		out[k] = cloneParams(v)
	}
	return out
}
