package remote

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"lvs", "--noheadings", "--separator", "|"}, "lvs --noheadings --separator '|'"},
		{[]string{"echo", ""}, "echo ''"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"a;rm -rf /"}, "'a;rm -rf /'"},
		{[]string{"$(id)", "`id`", "*"}, "'$(id)' '`id`' '*'"},
		{[]string{"/dev/xenvg/disk0", "key=val", "user@host:22", "10%"}, "/dev/xenvg/disk0 key=val user@host:22 10%"},
	}
	for _, tt := range tests {
		if got := Quote(tt.argv); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}

// FuzzQuote checks that sh splits Quote(argv) back into exactly argv. The
// input is argv joined by NUL (a byte no argument can hold).
func FuzzQuote(f *testing.F) {
	seeds := [][]string{
		{"plain"},
		{""},
		{"", ""},
		{"two words", "  spaces  "},
		{"a;rm -rf /", "$(id)", "`id`", "${IFS}", "$HOME", "$$", "$?"},
		{"*", "?", "[a]", "~", "~root", "{a,b}", "!"},
		{"it's", "'", "''", `"`, `\`, `\'`, "'\\''"},
		{"new\nline", "\t", "\r\n", "\x01\x7f"},
		{"-n", "--", "-e", "%s%d\\n"},
		{"a|b&c>d<e", "#x", "x=y", "ünï", "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(strings.Join(s, "\x00"))
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		f.Skip("no sh")
	}
	f.Fuzz(func(t *testing.T, joined string) {
		argv := strings.Split(joined, "\x00")
		line := `printf '%s\0' ` + Quote(argv)
		out, err := exec.Command(sh, "-c", line).Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", line, err)
		}
		got := strings.Split(string(bytes.TrimSuffix(out, []byte{0})), "\x00")
		if !slices.Equal(got, argv) {
			t.Errorf("sh split %q into %q, want %q", line, got, argv)
		}
	})
}
