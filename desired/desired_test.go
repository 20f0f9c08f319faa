package desired

import (
	"strings"
	"testing"
)

func TestParseErrorsNameLines(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown template", "[[instance]]\nname = \"a\"\ntemplate = \"nope\"\nprimary = \"n1\"\ndisks = [\"1G\"]\nos = \"t\"\n", "f.toml:3: instance a: unknown disk template"},
		{"name clash", "[[instance]]\nname = \"a\"\ntemplate = \"file\"\nprimary = \"n1\"\ndisks = [\"1G\"]\nos = \"t\"\n[[instance]]\nname = \"a\"\ntemplate = \"file\"\nprimary = \"n1\"\ndisks = [\"1G\"]\nos = \"t\"\n", "f.toml:8: instance a declared twice (first at line 1)"},
		{"bad size", "[[instance]]\nname = \"a\"\ntemplate = \"file\"\nprimary = \"n1\"\n\ndisks = [\"lots\"]\nos = \"t\"\n", "f.toml:6: instance a: disk size"},
		{"unknown key", "[[instance]]\nname = \"a\"\ntemplate = \"file\"\nprimary = \"n1\"\ndisks = [\"1G\"]\nos = \"t\"\ncolour = \"red\"\n", "f.toml:7: unknown key \"instance.colour\""},
		{"syntax", "[[instance]]\nname = \n", "f.toml:2:"},
		{"bad state", "[[instance]]\nname = \"a\"\ntemplate = \"file\"\nprimary = \"n1\"\ndisks = [\"1G\"]\nos = \"t\"\nstate = \"asleep\"\n", "f.toml:7: instance a: state must be"},
		{"bad role", "[[node]]\nname = \"n1\"\nrole = \"boss\"\n", "f.toml:3: node n1: unknown role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	f, err := Load("../examples/desired.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Instances) == 0 || f.Instances[0].Line == 0 || len(f.Instances[0].DiskMiB) == 0 {
		t.Fatalf("example parsed badly: %+v", f.Instances)
	}
	for _, in := range f.Instances {
		if in.State != "running" && in.State != "stopped" {
			t.Errorf("%s: state %q", in.Name, in.State)
		}
	}
}
