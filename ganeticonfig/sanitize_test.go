package ganeticonfig

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/internal/fixtures"
	"github.com/ganetictl/ganetictl/statefile"
)

// secretsOf lists every secret of a config.data or state: DRBD shared
// secrets, host keys, candidate certificates, private OS parameters.
func secretsOf(t *testing.T, data []byte) []string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	s := &sanitizer{doc: doc, cl: doc["cluster"].(map[string]any)}
	var out []string
	s.disks(func(d map[string]any) {
		if t, _ := d["dev_type"].(string); t == "drbd" || t == "drbd8" {
			if sec, _ := d["logical_id"].([]any)[5].(string); sec != "" {
				out = append(out, sec)
			}
		}
	})
	for _, k := range []string{"rsahostkeypub", "dsahostkeypub"} {
		if v, _ := s.cl[k].(string); v != "" {
			out = append(out, v)
		}
	}
	if certs, ok := s.cl["candidate_certs"].(map[string]any); ok {
		for _, v := range certs {
			out = append(out, v.(string))
		}
	}
	var leaves func(v any)
	leaves = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, y := range x {
				leaves(y)
			}
		case string:
			if len(x) >= 4 {
				out = append(out, x)
			}
		}
	}
	leaves(s.cl["osparams_private_cluster"])
	for _, inst := range s.objects("instances") {
		leaves(inst["osparams_private"])
	}
	return out
}

// TestSanitizeHidesSecrets: no secret of the input is in the output, with
// or without --no-randomization; with randomization no name, IP or OS name
// of the input is either; without, they all stay.
func TestSanitizeHidesSecrets(t *testing.T) {
	inputs := map[string][]byte{"config-2.8": mustRead(t, "testdata/config-2.8-names.json")}
	inputs["config-3.0"] = fixtures.Read(t, "ganeti-test-data", "cluster_config_3.0.json")
	inputs["state"] = stateOf(t, inputs["config-2.8"])
	for name, in := range inputs {
		secrets := secretsOf(t, in)
		if len(secrets) == 0 && name != "config-3.0" {
			t.Fatalf("%s: the input has no secret to hide", name)
		}
		names := namesOf(t, in)
		for _, o := range []SanitizeOptions{DefaultSanitize(), {}} {
			out, err := Sanitize(in, o)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, s := range secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("%s (%+v): secret %.16q... is in the output", name, o, s)
				}
			}
			for _, n := range names {
				if regexp.MustCompile(`^(node|instance)[0-9]+\.example\.com$`).MatchString(n) {
					continue // already a sanitized name
				}
				if got := strings.Contains(string(out), `"`+n+`"`); got == o.Names {
					t.Errorf("%s (names %v): %q in the output: %v", name, o.Names, n, got)
				}
			}
			if name != "state" {
				if _, err := Convert(out, Options{NewID: seqIDs(), Lineage: "l"}); err != nil {
					t.Errorf("%s: the sanitized config.data does not import: %v", name, err)
				}
			}
			if name == "state" {
				st, err := statefile.Read(strings.NewReader(string(out)))
				if err != nil {
					t.Fatalf("sanitized state does not read back: %v", err)
				}
				if o.Names && (st.Nodes["node1.example.com"] == nil || st.Cluster.MasterNode == "" || st.Nodes[st.Cluster.MasterNode] == nil) {
					t.Errorf("sanitized state's nodes: %v, master %q", st.NodeNames(), st.Cluster.MasterNode)
				}
				for _, inst := range st.Instances {
					if o.Names && st.Nodes[inst.PrimaryNode] == nil {
						t.Errorf("instance %s's primary %q is not a node", inst.Name, inst.PrimaryNode)
					}
				}
			}
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stateOf is the ganetictl state imported from a config.data.
func stateOf(t *testing.T, config []byte) []byte {
	t.Helper()
	r, err := Convert(config, Options{NewID: seqIDs(), Lineage: "l"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := statefile.Marshal(r.State)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// namesOf are the node and instance names and the addresses of the nodes.
func namesOf(t *testing.T, data []byte) []string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	s := &sanitizer{doc: doc}
	var out []string
	for _, kind := range []string{"nodes", "instances"} {
		for _, o := range s.objects(kind) {
			out = append(out, o["name"].(string))
			if ip, _ := o["primary_ip"].(string); ip != "" {
				out = append(out, ip)
			}
		}
	}
	return out
}

func TestSortNatural(t *testing.T) {
	got := []string{"node10", "node2", "node1", "a"}
	sortNatural(got)
	if strings.Join(got, " ") != "a node1 node2 node10" {
		t.Errorf("sortNatural: %v", got)
	}
}
