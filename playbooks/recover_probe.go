package playbooks

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ganetictl/ganetictl/playbooks/hv"
	"github.com/ganetictl/ganetictl/playbooks/plan"
)

// recoverProbeScript reads what recovery needs besides the facts, in one
// round trip: the node's state copy, the KVM runtime files of the
// instances it runs (the instance's NICs, disks and hvparams as the start
// recorded them), the Xen domain configs (/etc/xen/<instance>) and
// `drbdsetup show` of every DRBD resource. Each value is
// base64 on one line, so no content can be taken for a section marker.
const recoverProbeScript = `statef=$1
echo @@statedir
if [ -d "${statef%/*}" ]; then echo yes; fi
echo @@copy
if [ -f "$statef" ]; then base64 -w0 "$statef"; echo; fi
echo @@runtime
for f in /run/ganeti/kvm-hypervisor/conf/*.runtime; do
  [ -f "$f" ] || continue
  n=${f##*/}
  printf '%s ' "${n%.runtime}"; base64 -w0 "$f"; echo
done
echo @@xencfg
for f in /etc/xen/*; do
  [ -f "$f" ] || continue
  printf '%s ' "${f##*/}"; head -c 65536 "$f" | base64 -w0; echo
done
echo @@drbdshow
if command -v drbdsetup >/dev/null 2>&1; then drbdsetup show 2>/dev/null | base64 -w0; echo; fi
echo @@end
`

// RecoverProbeStep is the read-only step that fetches a node's state copy,
// KVM runtime files and DRBD configuration (see ParseProbe).
func RecoverProbeStep(node string) plan.Step {
	return plan.Step{Node: node, Action: plan.Read, Desc: "read the state copy, runtime files and DRBD setup",
		Argv: []string{"sh", "-c", recoverProbeScript, "ganetictl-recover-probe", StateReplicaPath}}
}

// NodeProbe is what RecoverProbeStep found on a node.
type NodeProbe struct {
	Node string `json:"node"`
	// StateDir is true when the node has the directory of the state copy
	// (made when it became a master candidate), with or without a copy.
	StateDir bool `json:"state_dir"`
	// Copy is the node's state copy as stored; nil when it has none.
	Copy []byte `json:"-"`
	// Runtime are the KVM runtime files by instance name.
	Runtime map[string]*KVMRuntime `json:"runtime,omitempty"`
	// Xen are the Xen domain configs, read the same way, by file name.
	Xen map[string]*KVMRuntime `json:"xen,omitempty"`
	// DRBD is the configuration of every DRBD minor.
	DRBD []DRBDShow `json:"drbd,omitempty"`
	// Problems are parts that could not be read (a bad runtime file).
	Problems []string `json:"problems,omitempty"`
}

// ParseProbe reads RecoverProbeStep's output.
func ParseProbe(node string, out []byte) (*NodeProbe, error) {
	p := &NodeProbe{Node: node, Runtime: map[string]*KVMRuntime{}, Xen: map[string]*KVMRuntime{}}
	var cur string
	ended := false
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(line, "@@"); ok {
			cur = name
			ended = ended || name == "end"
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch cur {
		case "statedir":
			p.StateDir = line == "yes"
		case "copy":
			b, err := base64.StdEncoding.DecodeString(line)
			if err != nil {
				return nil, fmt.Errorf("%s: state copy: %w", node, err)
			}
			p.Copy = b
		case "runtime":
			name, enc, _ := strings.Cut(line, " ")
			b, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				p.Problems = append(p.Problems, fmt.Sprintf("runtime file of %s: %v", name, err))
				continue
			}
			rt, err := ParseKVMRuntime(b)
			if err != nil {
				p.Problems = append(p.Problems, fmt.Sprintf("runtime file of %s: %v", name, err))
				continue
			}
			p.Runtime[name] = rt
		case "xencfg":
			name, enc, _ := strings.Cut(line, " ")
			b, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				continue
			}
			if rt := ParseXenConfig(b); rt != nil {
				p.Xen[name] = rt
			}
		case "drbdshow":
			b, err := base64.StdEncoding.DecodeString(line)
			if err != nil {
				return nil, fmt.Errorf("%s: drbdsetup show: %w", node, err)
			}
			if p.DRBD, err = ParseDRBDShow(b); err != nil {
				p.Problems = append(p.Problems, "drbdsetup show: "+err.Error())
			}
		}
	}
	if !ended {
		return nil, fmt.Errorf("%s: probe output is truncated (no @@end marker)", node)
	}
	return p, nil
}

// KVMRuntime is a KVM runtime file (hv package: [phase-1 argv, NIC dicts,
// hvparams, [[disk dict, link, uri]]]) as recovery reads it back; a Xen
// domain config is read into it too (no UUIDs, no hvparams, no disks).
type KVMRuntime struct {
	Hypervisor string         `json:"hypervisor"`
	Argv       []string       `json:"argv"`
	NICs       []RuntimeNIC   `json:"nics"`
	HVParams   map[string]any `json:"hvparams"`
	Disks      []RuntimeDisk  `json:"disks"`
	MaxMem     int64          `json:"maxmem,omitempty"` // from -m
	VCPUs      int64          `json:"vcpus,omitempty"`  // from -smp
}

// RuntimeNIC is one NIC dict of a runtime file.
type RuntimeNIC struct {
	UUID      string         `json:"uuid"`
	MAC       string         `json:"mac"`
	IP        *string        `json:"ip"`
	Name      *string        `json:"name"`
	NICParams map[string]any `json:"nicparams"`
}

// RuntimeDisk is one disk dict of a runtime file, with its link.
type RuntimeDisk struct {
	UUID    string `json:"uuid"`
	DevType string `json:"dev_type"`
	Size    int64  `json:"size"`
	Mode    string `json:"mode"`
	IVName  string `json:"iv_name"`
	Link    string `json:"link,omitempty"`
}

// ParseKVMRuntime reads a runtime file.
func ParseKVMRuntime(b []byte) (*KVMRuntime, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if len(raw) < 4 {
		return nil, fmt.Errorf("%d elements, want 4", len(raw))
	}
	rt := &KVMRuntime{Hypervisor: hv.KVM}
	if err := json.Unmarshal(raw[0], &rt.Argv); err != nil {
		return nil, fmt.Errorf("argv: %w", err)
	}
	if err := json.Unmarshal(raw[1], &rt.NICs); err != nil {
		return nil, fmt.Errorf("nics: %w", err)
	}
	if err := json.Unmarshal(raw[2], &rt.HVParams); err != nil {
		return nil, fmt.Errorf("hvparams: %w", err)
	}
	var disks [][]json.RawMessage
	if err := json.Unmarshal(raw[3], &disks); err != nil {
		return nil, fmt.Errorf("disks: %w", err)
	}
	for i, d := range disks {
		if len(d) < 1 {
			return nil, fmt.Errorf("disk %d: empty", i)
		}
		var rd RuntimeDisk
		if err := json.Unmarshal(d[0], &rd); err != nil {
			return nil, fmt.Errorf("disk %d: %w", i, err)
		}
		if len(d) > 1 {
			_ = json.Unmarshal(d[1], &rd.Link)
		}
		rt.Disks = append(rt.Disks, rd)
	}
	for i := 0; i+1 < len(rt.Argv); i++ {
		switch rt.Argv[i] {
		case "-m":
			v, _, _ := strings.Cut(strings.TrimPrefix(rt.Argv[i+1], "size="), ",")
			rt.MaxMem, _ = strconv.ParseInt(strings.TrimRight(v, "Mm"), 10, 64)
		case "-smp":
			v, _, _ := strings.Cut(rt.Argv[i+1], ",")
			rt.VCPUs, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return rt, nil
}

// DRBDShow is one minor of `drbdsetup show` (8.4 syntax, reference §2.7).
type DRBDShow struct {
	Resource  string `json:"resource"`
	Minor     int    `json:"minor"`
	LocalIP   string `json:"local_ip,omitempty"`
	LocalPort int    `json:"local_port,omitempty"`
	PeerIP    string `json:"peer_ip,omitempty"`
	PeerPort  int    `json:"peer_port,omitempty"`
	Disk      string `json:"disk,omitempty"`
	Meta      string `json:"meta,omitempty"`
	Secret    string `json:"-"`
}

// ParseDRBDShow reads `drbdsetup show` of all resources: one entry per
// volume (minor), with its resource's network addresses and secret.
func ParseDRBDShow(b []byte) ([]DRBDShow, error) {
	var out []DRBDShow
	var res DRBDShow // the resource-wide fields
	var vols []DRBDShow
	var block []string // open block names
	flush := func() {
		for _, v := range vols {
			v.Resource, v.LocalIP, v.LocalPort, v.PeerIP, v.PeerPort, v.Secret = res.Resource, res.LocalIP, res.LocalPort, res.PeerIP, res.PeerPort, res.Secret
			out = append(out, v)
		}
		vols, res = nil, DRBDShow{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) == 0 {
			continue
		}
		if f[len(f)-1] == "{" {
			name := f[0]
			if name == "resource" && len(f) == 3 {
				flush()
				res.Resource = f[1]
			}
			if name == "volume" {
				vols = append(vols, DRBDShow{Minor: -1})
			}
			block = append(block, name)
			continue
		}
		if f[0] == "}" {
			if len(block) > 0 {
				block = block[:len(block)-1]
			}
			continue
		}
		val := strings.TrimSuffix(strings.Join(f[1:], " "), ";")
		in := ""
		if len(block) > 0 {
			in = block[len(block)-1]
		}
		switch {
		case f[0] == "shared-secret":
			res.Secret, _ = strconv.Unquote(val)
		case f[0] == "address" && (in == "_this_host" || in == "_remote_host"):
			ip, port, err := parseDRBDAddr(val)
			if err != nil {
				return nil, err
			}
			if in == "_this_host" {
				res.LocalIP, res.LocalPort = ip, port
			} else {
				res.PeerIP, res.PeerPort = ip, port
			}
		case in == "volume" && len(vols) > 0:
			v := &vols[len(vols)-1]
			switch f[0] {
			case "device":
				m := strings.TrimPrefix(val, "minor ")
				n, err := strconv.Atoi(strings.TrimSpace(m))
				if err != nil {
					return nil, fmt.Errorf("drbdsetup show: bad device %q", val)
				}
				v.Minor = n
			case "disk":
				v.Disk, _ = strconv.Unquote(val)
			case "meta-disk":
				q, _, _ := strings.Cut(val, " [")
				v.Meta, _ = strconv.Unquote(strings.TrimSpace(q))
			}
		}
	}
	flush()
	return out, nil
}

// parseDRBDAddr reads "ipv4 1.2.3.4:7788" or "ipv6 [::1]:7788" (the family
// keyword is optional).
func parseDRBDAddr(v string) (string, int, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return "", 0, fmt.Errorf("drbdsetup show: empty address")
	}
	hp := f[len(f)-1]
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("drbdsetup show: address %q: %w", v, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("drbdsetup show: address %q: bad port", v)
	}
	return host, n, nil
}

// ParseXenConfig reads what recovery needs from a Xen domain config that
// ganetictl (or Ganeti) wrote (reference §6.3): maxmem, vcpus, the vif
// list (MAC, IP, bridge) and the builder (hvm or pvm). It returns nil for
// a file that is not a domain config (no name line).
func ParseXenConfig(b []byte) *KVMRuntime {
	rt := &KVMRuntime{Hypervisor: hv.XenPVM}
	named := false
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "name":
			named = true
		case "builder":
			if strings.Trim(v, `'"`) == "hvm" {
				rt.Hypervisor = hv.XenHVM
			}
		case "maxmem":
			rt.MaxMem, _ = strconv.ParseInt(v, 10, 64)
		case "vcpus":
			rt.VCPUs, _ = strconv.ParseInt(v, 10, 64)
		case "vif":
			for _, item := range quoted(v) {
				nic := RuntimeNIC{NICParams: map[string]any{"mode": "bridged"}}
				for _, kv := range strings.Split(item, ",") {
					kk, vv, _ := strings.Cut(strings.TrimSpace(kv), "=")
					switch kk {
					case "mac":
						nic.MAC = vv
					case "ip":
						ip := vv
						nic.IP = &ip
					case "bridge":
						nic.NICParams["link"] = vv
					}
				}
				rt.NICs = append(rt.NICs, nic)
			}
		}
	}
	if !named {
		return nil
	}
	return rt
}

// quoted lists the single- or double-quoted strings of a Python-style list.
func quoted(v string) []string {
	var out []string
	for {
		i := strings.IndexAny(v, `'"`)
		if i < 0 {
			return out
		}
		q := v[i]
		j := strings.IndexByte(v[i+1:], q)
		if j < 0 {
			return out
		}
		out = append(out, v[i+1:i+1+j])
		v = v[i+2+j:]
	}
}
