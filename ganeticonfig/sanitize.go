package ganeticonfig

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SanitizeOptions say what Sanitize randomises besides the secrets, which
// always go (Ganeti's sanitize-config options).
type SanitizeOptions struct {
	Names   bool // cluster, node and instance names
	IPs     bool // the cluster's, the nodes' and the NICs' addresses
	OSNames bool // the instances' OS names (and the OS parameter maps' keys)
	LVs     bool // LV names (only useful for very old clusters)
	// BaseDomain of the new names (default example.com).
	BaseDomain string
	// Random gives n random bytes (crypto/rand when nil).
	Random func(n int) []byte
}

// DefaultSanitize are Ganeti's defaults: everything but the LV names.
func DefaultSanitize() SanitizeOptions {
	return SanitizeOptions{Names: true, IPs: true, OSNames: true}
}

// Sanitize returns a copy of a Ganeti config.data, or of a ganetictl
// state (whose model mirrors it), with the DRBD shared secrets
// randomised, the cluster's host keys cleared and private OS parameters
// and candidate certificates replaced, and, as o says, host names, IPs,
// OS names and LV names replaced by neutral ones (node1.example.com,
// 10.0.0.1, ganeti-os1). Names are replaced wherever they appear as a
// whole string or a map key, so every layout's references (by name in old
// configs, by UUID in new ones) follow. The output is indented JSON.
func Sanitize(data []byte, o SanitizeOptions) ([]byte, error) {
	if o.BaseDomain == "" {
		o.BaseDomain = "example.com"
	}
	if o.Random == nil {
		o.Random = func(n int) []byte {
			b := make([]byte, n)
			if _, err := rand.Read(b); err != nil {
				panic(err)
			}
			return b
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, &FormatError{Msg: fmt.Sprintf("not a Ganeti config.data or ganetictl state: %v", err)}
	}
	cl, _ := doc["cluster"].(map[string]any)
	if cl == nil {
		return nil, &FormatError{Msg: "not a Ganeti config.data or ganetictl state: no cluster object"}
	}
	s := &sanitizer{o: o, doc: doc, cl: cl}
	s.secrets()
	replace := map[string]string{}
	if o.Names {
		if err := s.names(replace); err != nil {
			return nil, err
		}
	}
	if o.IPs {
		if err := s.ips(replace); err != nil {
			return nil, err
		}
	}
	if o.OSNames {
		s.osNames(replace)
	}
	if o.LVs {
		s.lvs(replace)
	}
	out := rewrite(doc, replace)
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type sanitizer struct {
	o   SanitizeOptions
	doc map[string]any
	cl  map[string]any
}

func (s *sanitizer) secret() string { return hex.EncodeToString(s.o.Random(20)) }

// objects are the values of a top-level map (nodes, instances, disks).
func (s *sanitizer) objects(key string) []map[string]any {
	m, _ := s.doc[key].(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []map[string]any
	for _, k := range keys {
		if o, ok := m[k].(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

// disks calls fn for every disk, children included: the top-level disks
// (Ganeti 2.15+) and those embedded in instances (older configs and the
// ganetictl state).
func (s *sanitizer) disks(fn func(d map[string]any)) {
	var walk func(d map[string]any)
	walk = func(d map[string]any) {
		fn(d)
		if kids, ok := d["children"].([]any); ok {
			for _, k := range kids {
				if km, ok := k.(map[string]any); ok {
					walk(km)
				}
			}
		}
	}
	for _, d := range s.objects("disks") {
		walk(d)
	}
	for _, inst := range s.objects("instances") {
		if ds, ok := inst["disks"].([]any); ok {
			for _, d := range ds {
				if dm, ok := d.(map[string]any); ok {
					walk(dm)
				}
			}
		}
	}
}

// secrets randomises what must never leave the cluster.
func (s *sanitizer) secrets() {
	s.disks(func(d map[string]any) {
		if t, _ := d["dev_type"].(string); t == "drbd" || t == "drbd8" {
			sec := s.secret()
			// Old configs repeat the secret in physical_id.
			for _, k := range []string{"logical_id", "physical_id"} {
				if id, ok := d[k].([]any); ok && len(id) > 5 {
					id[5] = sec
				}
			}
		}
	})
	for _, k := range []string{"rsahostkeypub", "dsahostkeypub"} {
		if _, ok := s.cl[k]; ok {
			s.cl[k] = ""
		}
	}
	if certs, ok := s.cl["candidate_certs"].(map[string]any); ok {
		for k := range certs {
			certs[k] = s.secret()
		}
	}
	private := func(m map[string]any, key string) {
		p, ok := m[key].(map[string]any)
		if !ok {
			return
		}
		var walk func(v map[string]any)
		walk = func(v map[string]any) {
			for k, x := range v {
				if sub, ok := x.(map[string]any); ok {
					walk(sub)
					continue
				}
				v[k] = s.secret()
			}
		}
		walk(p)
	}
	private(s.cl, "osparams_private_cluster")
	for _, inst := range s.objects("instances") {
		private(inst, "osparams_private")
		private(inst, "osparams_secret")
	}
}

// names maps the cluster's, the nodes' and the instances' names to
// cluster.D, nodeN.D and instanceN.D.
func (s *sanitizer) names(replace map[string]string) error {
	if n, _ := s.cl["cluster_name"].(string); n != "" {
		replace[n] = "cluster." + s.o.BaseDomain
	}
	for _, kind := range []string{"node", "instance"} {
		var names []string
		for _, o := range s.objects(kind + "s") {
			if n, _ := o["name"].(string); n != "" {
				names = append(names, n)
			}
		}
		sortNatural(names)
		for i, n := range names {
			nn := fmt.Sprintf("%s%d.%s", kind, i+1, s.o.BaseDomain)
			if _, taken := replace[n]; taken {
				return fmt.Errorf("sanitize: %s name %q is also another object's name", kind, n)
			}
			replace[n] = nn
		}
	}
	return checkNoClash(replace)
}

// ips maps the cluster's, the nodes' and the NICs' addresses to 10.x.y.z.
func (s *sanitizer) ips(replace map[string]string) error {
	next := 0
	add := func(ip string) error {
		if ip == "" {
			return nil
		}
		if _, ok := replace[ip]; ok {
			return nil
		}
		next++
		if next >= 1<<24 {
			return fmt.Errorf("sanitize: too many IPs")
		}
		replace[ip] = fmt.Sprintf("10.%d.%d.%d", next>>16&255, next>>8&255, next&255)
		return nil
	}
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	if err := add(str(s.cl, "master_ip")); err != nil {
		return err
	}
	for _, n := range s.objects("nodes") {
		for _, k := range []string{"primary_ip", "secondary_ip"} {
			if err := add(str(n, k)); err != nil {
				return err
			}
		}
	}
	for _, inst := range s.objects("instances") {
		nics, _ := inst["nics"].([]any)
		for _, nic := range nics {
			if nm, ok := nic.(map[string]any); ok {
				if err := add(str(nm, "ip")); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// osNames maps the OS names (with their variants) to ganeti-osN.
func (s *sanitizer) osNames(replace map[string]string) {
	var names []string
	seen := map[string]bool{}
	addName := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, inst := range s.objects("instances") {
		if n, _ := inst["os"].(string); n != "" {
			addName(n)
			base, _, _ := strings.Cut(n, "+")
			addName(base)
		}
	}
	for _, k := range []string{"os_hvp", "osparams", "osparams_private_cluster"} {
		if m, ok := s.cl[k].(map[string]any); ok {
			for n := range m {
				addName(n)
			}
		}
	}
	for _, k := range []string{"hidden_os", "blacklisted_os"} {
		if l, ok := s.cl[k].([]any); ok {
			for _, n := range l {
				if ns, ok := n.(string); ok {
					addName(ns)
				}
			}
		}
	}
	sort.Strings(names)
	bases := map[string]string{}
	i := 0
	for _, n := range names {
		base, variant, hasVariant := strings.Cut(n, "+")
		nb, ok := bases[base]
		if !ok {
			i++
			nb = fmt.Sprintf("ganeti-os%d", i)
			bases[base] = nb
		}
		if hasVariant {
			replace[n] = nb + "+" + variant
		} else {
			replace[n] = nb
		}
	}
}

// lvs maps plain volumes' names to new UUIDs.
func (s *sanitizer) lvs(replace map[string]string) {
	s.disks(func(d map[string]any) {
		if t, _ := d["dev_type"].(string); t != "plain" && t != "lvm" {
			return
		}
		lid, ok := d["logical_id"].([]any)
		if !ok || len(lid) < 2 {
			return
		}
		if old, ok := lid[1].(string); ok {
			if _, done := replace[old]; !done {
				b := s.o.Random(16)
				replace[old] = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
			}
		}
	})
}

// rewrite replaces every string value and map key found in replace.
func rewrite(v any, replace map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			nk := k
			if r, ok := replace[k]; ok {
				nk = r
			}
			out[nk] = rewrite(val, replace)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = rewrite(val, replace)
		}
		return out
	case string:
		if r, ok := replace[x]; ok {
			return r
		}
		return x
	}
	return v
}

// checkNoClash refuses a map whose new names are old names of others:
// the result would merge objects.
func checkNoClash(replace map[string]string) error {
	for old, nn := range replace {
		if _, isOld := replace[nn]; isOld && nn != old {
			return fmt.Errorf("sanitize: name conflict: %s already exists (choose another --base-domain)", nn)
		}
	}
	return nil
}

// sortNatural sorts names with their digit runs by value (node2 before
// node10), as Ganeti's NiceSort.
func sortNatural(names []string) {
	key := func(s string) []string {
		var parts []string
		cur := ""
		digit := false
		for _, r := range s {
			d := r >= '0' && r <= '9'
			if cur != "" && d != digit {
				parts = append(parts, cur)
				cur = ""
			}
			cur += string(r)
			digit = d
		}
		return append(parts, cur)
	}
	less := func(a, b string) bool {
		ka, kb := key(a), key(b)
		for i := 0; i < len(ka) && i < len(kb); i++ {
			if ka[i] == kb[i] {
				continue
			}
			na, ea := strconv.Atoi(ka[i])
			nb, eb := strconv.Atoi(kb[i])
			if ea == nil && eb == nil {
				return na < nb
			}
			return ka[i] < kb[i]
		}
		return len(ka) < len(kb)
	}
	sort.SliceStable(names, func(i, j int) bool { return less(names[i], names[j]) })
}
