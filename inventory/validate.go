package inventory

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the inventory against Ganeti's rules and reports every
// problem at once (errors.Join), each naming the file and, where known, the
// line. It does not touch the network or the nodes.
func (inv *Inventory) Validate() error {
	errs := append([]error(nil), inv.problems...)
	bad := func(key, format string, args ...any) {
		errs = append(errs, inv.errAt(key, format, args...))
	}
	c := &inv.Cluster

	// [cluster]
	if c.Name == "" {
		bad("cluster", "cluster.name is required")
	} else if err := ValidHostname(c.Name); err != nil {
		bad("cluster.name", "cluster.name: %v", err)
	}
	if err := validVG(c.VolumeGroup); err != nil {
		bad("cluster.volume_group", "cluster.volume_group: %v", err)
	}
	checkList := func(key string, list, known []string, what string) {
		seen := map[string]bool{}
		for _, v := range list {
			switch {
			case !contains(known, v):
				bad(key, "%s: unknown %s %q (known: %s)", key, what, v, strings.Join(known, ", "))
			case seen[v]:
				bad(key, "%s: %q listed twice", key, v)
			}
			seen[v] = true
		}
	}
	checkList("cluster.enabled_hypervisors", c.EnabledHypervisors, Hypervisors, "hypervisor")
	checkList("cluster.enabled_disk_templates", c.EnabledDiskTemplates, DiskTemplates, "disk template")
	for key, p := range map[string]string{
		"cluster.file_storage_dir":        c.FileStorageDir,
		"cluster.shared_file_storage_dir": c.SharedFileStorageDir,
		"cluster.drbd_status_file":        c.DRBDStatusFile,
	} {
		if err := validNodePath(p); err != nil {
			bad(key, "%s: %v", key, err)
		}
	}
	if c.RBDPool != "" && !safeNameRE.MatchString(c.RBDPool) {
		bad("cluster.rbd_pool", "cluster.rbd_pool: invalid pool name %q (letters, digits, '.', '_', '-'; not starting with '-' or '.')", c.RBDPool)
	}
	if err := validMACPrefix(c.MACPrefix); err != nil {
		bad("cluster.mac_prefix", "cluster.mac_prefix: %v", err)
	}
	if c.CandidatePoolSize < 1 {
		bad("cluster.candidate_pool_size", "cluster.candidate_pool_size: %d, must be at least 1", c.CandidatePoolSize)
	}
	if c.MasterNetdev != "" && !netdevRE.MatchString(c.MasterNetdev) {
		bad("cluster.master_netdev", "cluster.master_netdev: invalid interface name %q (1..15 of letters, digits, '.', '_', '-', ':')", c.MasterNetdev)
	}

	// [state]
	st := &inv.State
	switch st.Backend {
	case "dir":
	case "cluster":
		if _, ok := inv.Node(st.Cluster.Node); !ok && st.Cluster.Node != "" {
			bad("state.cluster.node", "state.cluster.node: %q is not a node of the inventory", st.Cluster.Node)
		}
		if err := validNodePath(st.Cluster.Root); err != nil {
			bad("state.cluster.root", "state.cluster.root: %v", err)
		}
	case "etcd":
		if len(st.Etcd.Endpoints) == 0 {
			bad("state.backend", "state.etcd.endpoints: the etcd backend needs at least one endpoint")
		}
		for _, ep := range st.Etcd.Endpoints {
			if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("state.etcd.endpoints", "state.etcd.endpoints: %q is not an http:// or https:// URL", ep)
			}
		}
		if !strings.HasPrefix(st.Etcd.Prefix, "/") {
			bad("state.etcd.prefix", "state.etcd.prefix: %q must start with /", st.Etcd.Prefix)
		}
		if (st.Etcd.CertFile == "") != (st.Etcd.KeyFile == "") {
			bad("state.etcd.cert_file", "state.etcd: cert_file and key_file go together")
		}
		if st.Etcd.User == "" && (st.Etcd.PasswordEnv != "" || st.Etcd.PasswordFile != "") {
			bad("state.etcd.user", "state.etcd: a password source without a user")
		}
		if st.Etcd.PasswordEnv != "" && !envNameRE.MatchString(st.Etcd.PasswordEnv) {
			bad("state.etcd.password_env", "state.etcd.password_env: %q is not an environment variable name", st.Etcd.PasswordEnv)
		}
	default:
		bad("state.backend", "state.backend: unknown backend %q (known: %s)", st.Backend, strings.Join(Backends, ", "))
	}

	// [ssh]
	s := &inv.SSH
	if !userRE.MatchString(s.User) {
		bad("ssh.user", "ssh.user: invalid user name %q", s.User)
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("ssh.port", "ssh.port: %d is out of range 1..65535", s.Port)
	}
	if s.Parallel < 1 {
		bad("ssh.parallel", "ssh.parallel: %d, must be at least 1", s.Parallel)
	}
	if s.JumpHost != "" {
		if err := validJumpHost(s.JumpHost); err != nil {
			bad("ssh.jump_host", "ssh.jump_host: %v", err)
		}
	}

	// [hypervisors.X]
	for hv := range inv.Hypervisors {
		if !contains(Hypervisors, hv) {
			bad("hypervisors."+hv, "hypervisors.%s: unknown hypervisor %q (known: %s)", hv, hv, strings.Join(Hypervisors, ", "))
		}
	}

	// [[groups]]
	groups := map[string]int{}
	for i, g := range inv.Groups {
		key := fmt.Sprintf("groups.%d", i)
		switch {
		case g.Name == "":
			bad(key, "groups[%d]: name is required", i)
		case !safeNameRE.MatchString(g.Name):
			bad(key+".name", "groups[%d]: invalid group name %q (letters, digits, '.', '_', '-'; not starting with '-' or '.')", i, g.Name)
		}
		if j, dup := groups[g.Name]; dup && g.Name != "" {
			bad(key+".name", "groups[%d]: duplicate group name %q (first defined at line %d)", i, g.Name, inv.lines.line(fmt.Sprintf("groups.%d", j)))
		} else {
			groups[g.Name] = i
		}
		if !contains(AllocPolicies, g.AllocPolicy) {
			bad(key+".alloc_policy", "groups[%d] %q: unknown alloc_policy %q (known: %s)", i, g.Name, g.AllocPolicy, strings.Join(AllocPolicies, ", "))
		}
	}

	// [[nodes]]
	names := map[string]int{}
	addrs := map[string]int{}
	for i, n := range inv.Nodes {
		key := fmt.Sprintf("nodes.%d", i)
		label := fmt.Sprintf("nodes[%d]", i)
		if n.Name != "" {
			label += fmt.Sprintf(" %q", n.Name)
		}
		if n.Name == "" {
			bad(key, "%s: name is required", label)
		} else if err := ValidHostname(n.Name); err != nil {
			bad(key+".name", "%s: %v", label, err)
		} else if j, dup := names[strings.ToLower(n.Name)]; dup {
			bad(key+".name", "%s: duplicate node name (first defined at line %d)", label, inv.lines.line(fmt.Sprintf("nodes.%d", j)))
		} else {
			names[strings.ToLower(n.Name)] = i
		}
		if n.Address == "" {
			bad(key, "%s: address is required", label)
		}
		for _, a := range []struct{ field, v string }{{"address", n.Address}, {"secondary_address", n.SecondaryAddress}} {
			if a.v == "" || (a.field == "secondary_address" && a.v == n.Address) {
				continue // unset, or defaulted to the address
			}
			if err := validAddress(a.v); err != nil {
				bad(key+"."+a.field, "%s: %s: %v", label, a.field, err)
				continue
			}
			norm := normAddr(a.v)
			if j, dup := addrs[norm]; dup && j != i {
				bad(key+"."+a.field, "%s: %s %s is already used by node %q", label, a.field, a.v, inv.Nodes[j].Name)
			} else {
				addrs[norm] = i
			}
		}
		if _, ok := groups[n.Group]; !ok {
			bad(key, "%s: group %q is not defined in [[groups]]", label, n.Group)
		}
		if n.Port != s.Port && (n.Port < 1 || n.Port > 65535) {
			bad(key+".port", "%s: port %d is out of range 1..65535", label, n.Port)
		}
		if n.HostKey != "" {
			if err := validHostKey(n.HostKey); err != nil {
				bad(key+".host_key", "%s: host_key: %v", label, err)
			}
		}
	}
	switch {
	case len(inv.Nodes) == 0:
		bad("", "no [[nodes]] defined")
	case c.Master == "":
		bad("cluster", "cluster.master is required (the node `cluster init` makes master)")
	default:
		if _, ok := inv.Node(c.Master); !ok {
			bad("cluster.master", "cluster.master: %q is not among the nodes (%s)", c.Master, strings.Join(inv.NodeNames(), ", "))
		}
	}
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	return errors.Join(errs...)
}

// lineOf is the line an error from errAt points at; 0 sorts first.
func lineOf(err error) int {
	var le *lineError
	if errors.As(err, &le) {
		return le.Line
	}
	return 0
}

var (
	safeNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	netdevRE   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._:-]{0,14}$`)
	userRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
	vgRE       = regexp.MustCompile(`^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$`)
	macRE      = regexp.MustCompile(`^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$`)
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// validVG applies LVM's volume group name rules.
func validVG(s string) error {
	switch {
	case s == "":
		return errors.New("empty volume group name")
	case len(s) > 127:
		return fmt.Errorf("volume group name %q is longer than 127 characters", trunc(s))
	case s == "." || s == "..":
		return fmt.Errorf("volume group name %q is not allowed", s)
	case s[0] == '-':
		return fmt.Errorf("volume group name %q must not start with '-'", s)
	case !vgRE.MatchString(s):
		return fmt.Errorf("invalid volume group name %q (LVM allows letters, digits and + _ . -)", s)
	}
	return nil
}

// validMACPrefix wants three lower-case hex octets with a unicast first octet.
func validMACPrefix(s string) error {
	if !macRE.MatchString(s) {
		return fmt.Errorf("invalid MAC prefix %q: want three hex octets like \"aa:00:00\"", s)
	}
	o, _ := strconv.ParseUint(s[:2], 16, 8)
	if o&1 != 0 {
		return fmt.Errorf("invalid MAC prefix %q: first octet is a multicast address (its lowest bit must be 0)", s)
	}
	return nil
}

// validNodePath checks a path on the nodes: empty (unset) or absolute and
// free of characters that would need shell quoting in a surprising way.
func validNodePath(p string) error {
	if p == "" {
		return nil
	}
	if !path.IsAbs(p) {
		return fmt.Errorf("path %q on the nodes must be absolute", p)
	}
	for _, r := range p {
		if !(isAlnum(r) || strings.ContainsRune("/._-+:@", r)) {
			return fmt.Errorf("path %q: character %s is not allowed", p, quoteRune(r))
		}
	}
	return nil
}

// validAddress accepts an IP literal or a hostname.
func validAddress(s string) error {
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if looksNumeric(s) {
		return fmt.Errorf("invalid IP address %q", s)
	}
	if err := ValidHostname(s); err != nil {
		return fmt.Errorf("%q is neither an IP address nor a valid hostname: %v", s, err)
	}
	return nil
}

func looksNumeric(s string) bool {
	return strings.Trim(s, "0123456789.") == "" || strings.Contains(s, ":")
}

func normAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(s)
}

func validJumpHost(s string) error {
	hostport := s
	if u, rest, ok := strings.Cut(s, "@"); ok {
		if !userRE.MatchString(u) {
			return fmt.Errorf("invalid user %q in %q", u, s)
		}
		hostport = rest
	}
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port %q in %q", port, s)
		}
	}
	if err := validAddress(host); err != nil {
		return fmt.Errorf("in %q: %v", s, err)
	}
	return nil
}

var hostKeyTypes = []string{
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
}

func validHostKey(s string) error {
	f := strings.Fields(s)
	if len(f) < 2 {
		return fmt.Errorf("want \"<type> <base64 key>\", as in known_hosts or /etc/ssh/ssh_host_*_key.pub")
	}
	if !contains(hostKeyTypes, f[0]) {
		return fmt.Errorf("unknown key type %q (known: %s)", f[0], strings.Join(hostKeyTypes, ", "))
	}
	if _, err := base64.StdEncoding.DecodeString(f[1]); err != nil {
		return fmt.Errorf("key is not valid base64: %v", err)
	}
	return nil
}
