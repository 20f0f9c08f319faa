package inventory_test

import (
	"strings"
	"testing"

	"github.com/ganetictl/ganetictl/inventory"
)

func TestValidHostname(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the error; "" for valid
	}{
		{"node1", ""},
		{"node1.example.test", ""},
		{"NODE-1.Example.test", ""},
		{"198.18.0.1", ""},
		{strings.Repeat("a", 63) + ".test", ""},
		{"", "empty"},
		{"a;rm -rf /", "character ';'"},
		{"$(id)", "character '$'"},
		{"`id`", "character '`'"},
		{"node 1", "' ' (space)"},
		{"nöde", "character 'ö'"},
		{"node_1", "character '_'"},
		{"node1.", "empty label"},
		{".node1", "empty label"},
		{"a..b", "empty label"},
		{"-node", "starts or ends with '-'"},
		{"node-", "starts or ends with '-'"},
		{strings.Repeat("a", 64), "at most 63"},
		{strings.Repeat("a.", 128), "at most 255"},
		{"a\nb", `'\n'`},
		{"a|b&c>d", "character '|'"},
	}
	for _, tt := range tests {
		err := inventory.ValidHostname(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidHostname(%q) = %v, want nil", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidHostname(%q) = %v, want error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestValidTag(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"env:prod", ""},
		{"a.b+c*d/e:f@g_h-i", ""},
		{"X", ""},
		{strings.Repeat("t", 128), ""},
		{"", "empty"},
		{strings.Repeat("t", 129), "at most 128"},
		{"a;rm -rf /", "character ';'"},
		{"$(id)", "character '$'"},
		{"`id`", "character '`'"},
		{"two words", "' ' (space)"},
		{"ünïcode", "character 'ü'"},
		{"a,b", "character ','"},
		{"a=b", "character '='"},
	}
	for _, tt := range tests {
		err := inventory.ValidTag(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidTag(%q) = %v, want nil", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidTag(%q) = %v, want error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"512", 512, ""},
		{"512m", 512, ""},
		{"512M", 512, ""},
		{"512MiB", 512, ""},
		{"10g", 10240, ""},
		{"10G", 10240, ""},
		{"10 GB", 10240, ""},
		{"1.5g", 1536, ""},
		{"1t", 1048576, ""},
		{"1T", 1048576, ""},
		{"0", 0, ""},
		{"1", 4, ""},   // Ganeti rounds up to a multiple of 4 MiB
		{"0.5", 4, ""}, // and to a whole MiB first
		{"1025", 1028, ""},
		{"", 0, "want a number"},
		{"-1", 0, "character '-'"},
		{"-1g", 0, "character '-'"},
		{"1e3", 0, "character 'e'"},
		{"10x", 0, `unknown unit "x"`},
		{"10kb", 0, `unknown unit "kb"`},
		{"g", 0, "want a number"},
		{"1.2.3", 0, "is not a number"},
		{"$(id)", 0, "character '$'"},
		{"10;rm", 0, "character ';'"},
		{"1 0", 0, "character ' ' (space)"},
		{"99999999t", 0, "larger than"},
		{"١٢", 0, "character"},
	}
	for _, tt := range tests {
		got, err := inventory.ParseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
		}
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"node1.example.test", "a;rm -rf /", "10g", "env:prod", "1.5t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if inventory.ValidHostname(s) == nil && strings.ContainsAny(s, " ;$`|&<>()'\"\\\n\t*?[]{}~!#") {
			t.Fatalf("ValidHostname accepted %q", s)
		}
		if inventory.ValidTag(s) == nil && strings.ContainsAny(s, " ;$`|&<>()'\"\\\n\t?[]{}~!#") {
			t.Fatalf("ValidTag accepted %q", s)
		}
		if n, err := inventory.ParseSize(s); err == nil && (n < 0 || n%4 != 0) {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
