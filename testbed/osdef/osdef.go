// Package osdef is the test bed's Ganeti OS definition "testos" (OS API
// version 20). Its create script writes a marker — a magic line, the
// instance name and a random token — into the start of the instance's
// first disk, so tests can prove that data survived a move, failover,
// export/import or replace-disks by reading the disk's first MarkerSize
// bytes on a node.
//
// Variants: "default" installs; "fail" makes create exit 1 (OS failure
// injection). Use it as "-o testos+default".
package osdef

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Name is the OS name; the definition is installed as <dir>/testos.
const Name = "testos"

// The marker layout written by the create script.
const (
	MarkerOffset = 0   // bytes from the start of disk 0
	MarkerSize   = 512 // bytes; text lines, then NUL padding
	MarkerMagic  = "GANETICTL-TESTOS-MARKER v1"
)

//go:embed testos
var files embed.FS

// scripts are the executable files of the definition.
var scripts = map[string]bool{"create": true, "import": true, "export": true, "rename": true, "verify": true}

// Install writes the OS definition to dir/testos, scripts mode 0755.
func Install(dir string) error {
	root := filepath.Join(dir, Name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("install %s: %w", Name, err)
	}
	return fs.WalkDir(files, Name, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if scripts[d.Name()] {
			mode = 0o755
		}
		dst := filepath.Join(root, d.Name())
		if err := os.WriteFile(dst, b, mode); err != nil {
			return fmt.Errorf("install %s: %w", Name, err)
		}
		return os.Chmod(dst, mode) // WriteFile keeps an existing file's mode
	})
}

// Marker is what create wrote into a disk.
type Marker struct {
	Name  string
	Token string
	Note  string
}

// ErrNoMarker means the bytes do not start with a testos marker.
var ErrNoMarker = errors.New("no testos marker")

// ParseMarker parses the first bytes of a disk (at least the marker's
// lines; MarkerSize bytes are always enough).
func ParseMarker(b []byte) (Marker, error) {
	if len(b) > MarkerSize {
		b = b[:MarkerSize]
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 3 || lines[0] != MarkerMagic {
		return Marker{}, ErrNoMarker
	}
	var m Marker
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "name":
			m.Name = v
		case "token":
			m.Token = v
		case "note":
			m.Note = v
		}
	}
	if m.Name == "" || m.Token == "" {
		return Marker{}, fmt.Errorf("%w: name or token missing", ErrNoMarker)
	}
	return m, nil
}
