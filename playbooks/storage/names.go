package storage

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Validation happens here, before any value reaches an argv: steps never go
// through a shell built by concatenation, but a name starting with "-" would
// still be read as an option, and a path with ".." would escape its storage
// directory. Every error names the rule that was broken.

var (
	lvmNameRE  = regexp.MustCompile(`^[a-zA-Z0-9+_.-]*$`)
	rbdNameRE  = regexp.MustCompile(`^[a-zA-Z0-9+_.-]+$`)
	hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*$`)
)

// ValidateLVMName checks a VG or LV name against Ganeti's rules (reference
// §1.1), plus LVM's own refusal of a leading "-". kind is "VG" or "LV" and
// only shapes the message.
func ValidateLVMName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", kind)
	case !lvmNameRE.MatchString(name):
		return fmt.Errorf("%s name %q: only letters, digits and + _ . - are allowed", kind, name)
	case name == "." || name == ".." || name == "snapshot" || name == "pvmove":
		return fmt.Errorf("%s name %q is reserved by LVM (., .., snapshot, pvmove are forbidden)", kind, name)
	case strings.Contains(name, "_mlog") || strings.Contains(name, "_mimage"):
		return fmt.Errorf("%s name %q: the substrings _mlog and _mimage are reserved by LVM", kind, name)
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("%s name %q must not start with '-'", kind, name)
	}
	return nil
}

// ValidateRBDName checks an rbd pool or image name: the LVM character set
// (Ganeti's images are "<uuid>.rbd.disk<N>"), no "/" (it would name another
// pool) and no leading "-".
func ValidateRBDName(kind, name string) error {
	switch {
	case !rbdNameRE.MatchString(name):
		return fmt.Errorf("rbd %s name %q: must be non-empty and only letters, digits and + _ . -", kind, name)
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("rbd %s name %q must not start with '-'", kind, name)
	case name == "." || name == "..":
		return fmt.Errorf("rbd %s name %q is not a name", kind, name)
	}
	return nil
}

// ValidateInstanceName checks an instance name before it becomes part of a
// path (the instance's file directory, its disk links) or an LV tag: a DNS
// name, so no "/", no "..", no shell or option characters.
func ValidateInstanceName(name string) error {
	if len(name) > 253 || !hostnameRE.MatchString(name) {
		return fmt.Errorf("instance name %q: must be a DNS name (letters, digits, '-', '_' in dot-separated labels)", name)
	}
	return nil
}

// forbiddenPrefixes are the trees file storage may never be under
// (Ganeti's filestorage._GetForbiddenFileStoragePaths).
var forbiddenPrefixes = func() []string {
	out := []string{"/boot", "/dev", "/etc", "/home", "/proc", "/root", "/sys"}
	for _, p := range []string{"/", "/usr", "/usr/local"} {
		for _, d := range []string{"bin", "lib", "lib32", "lib64", "sbin"} {
			out = append(out, path.Join(p, d))
		}
	}
	return out
}()

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// ValidateStorageDir checks a file storage base directory: absolute, clean,
// not "/" and not under a forbidden prefix (reference §4).
func ValidateStorageDir(dir string) error {
	switch {
	case dir == "":
		return fmt.Errorf("file storage directory is not set in the cluster")
	case !path.IsAbs(dir):
		return fmt.Errorf("file storage directory %q must be an absolute path", dir)
	case path.Clean(dir) != dir || strings.Contains(dir, "/../") || strings.HasSuffix(dir, "/.."):
		return fmt.Errorf("file storage directory %q must be a clean path (no .., //, trailing /)", dir)
	case dir == "/":
		return fmt.Errorf("file storage directory must not be /")
	}
	for _, f := range forbiddenPrefixes {
		if under(dir, f) {
			return fmt.Errorf("file storage directory %q is under the forbidden prefix %s", dir, f)
		}
	}
	if strings.ContainsAny(dir, "\n\x00") {
		return fmt.Errorf("file storage directory %q contains a newline or NUL", dir)
	}
	return nil
}

// ValidateFilePath checks a file disk's path: clean, absolute, strictly
// below base (itself valid), and of the form base/<instance dir>/<file>.
func ValidateFilePath(p, base string) error {
	if err := ValidateStorageDir(base); err != nil {
		return err
	}
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("file disk path %q must be absolute", p)
	case path.Clean(p) != p || strings.Contains(p, "/../"):
		return fmt.Errorf("file disk path %q must be a clean path (no .., //, trailing /)", p)
	case p == base || !under(p, base):
		return fmt.Errorf("file disk path %q is not under the storage directory %s", p, base)
	case strings.ContainsAny(p, "\n\x00"):
		return fmt.Errorf("file disk path %q contains a newline or NUL", p)
	}
	rel := strings.Split(strings.TrimPrefix(p, base+"/"), "/")
	if len(rel) != 2 {
		return fmt.Errorf("file disk path %q must be %s/<instance>/<file>", p, base)
	}
	for _, c := range rel {
		if c == "." || c == ".." || strings.HasPrefix(c, "-") {
			return fmt.Errorf("file disk path %q: component %q is not allowed", p, c)
		}
	}
	return nil
}

// ValidateBlockDevPath checks an adopted block device path (template
// blockdev): clean and under /dev/.
func ValidateBlockDevPath(p string) error {
	if path.Clean(p) != p || !strings.HasPrefix(p, "/dev/") || strings.ContainsAny(p, "\n\x00") {
		return fmt.Errorf("block device path %q must be a clean absolute path under /dev/", p)
	}
	return nil
}

// InstanceTag is the LV tag naming an LV's instance (reference §1.6):
// "originstname+<name>", with characters LVM refuses in tags replaced by
// "_", cut to 128 characters.
func InstanceTag(instance string) string {
	b := []byte("originstname+" + instance)
	for i, c := range b {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '.'
		if !ok && (i == 0 || c != '-') {
			b[i] = '_'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}
