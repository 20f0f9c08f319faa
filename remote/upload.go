package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// uploadScript writes stdin to "$1" atomically through a temporary file
// created exclusively (set -C) with mode "$2" before any data, checks that it
// holds "$3" bytes, and renames it; the temporary file is removed on any
// failure or signal. The destination is a positional parameter, never part
// of the script text.
const uploadScript = `set -C; umask 077; t="$1.tmp.$$"
: > "$t" || exit 1
trap 'rm -f "$t"' EXIT; trap 'exit 143' TERM HUP INT
chmod "$2" "$t" && cat >> "$t" || exit 1
n=$(wc -c < "$t") && [ "$n" -eq "$3" ] || { echo "short write: $n of $3 bytes" >&2; exit 1; }
mv -f "$t" "$1"`

// Upload writes src to dst on r's node with the given mode, atomically: dst
// keeps its old content or gets all of src. It uses r's Uploader (SFTP) when
// r has one; otherwise it reads src into memory and runs a POSIX sh script
// through r.Run.
func Upload(ctx context.Context, r Runner, dst string, mode fs.FileMode, src io.Reader) error {
	if u, ok := r.(Uploader); ok {
		return u.Upload(ctx, dst, mode, src)
	}
	data, err := io.ReadAll(ctxReader{ctx, src})
	if err != nil {
		return fmt.Errorf("%s: upload %s: read source: %w", r, dst, err)
	}
	_, err = r.Run(ctx, Command{
		Argv:  []string{"sh", "-c", uploadScript, "sh", dst, strconv.FormatUint(uint64(mode.Perm()), 8), strconv.Itoa(len(data))},
		Stdin: bytes.NewReader(data),
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", dst, err)
	}
	return nil
}

// ReadFile returns the content of path on r's node (through `cat`). A
// missing file gives an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadFile(ctx context.Context, r Runner, path string) ([]byte, error) {
	res, err := r.Run(ctx, Command{Argv: []string{"cat", "--", path}})
	var e *ExitError
	if errors.As(err, &e) && strings.Contains(e.Stderr, "No such file") {
		return nil, &fs.PathError{Op: "read", Path: r.String() + ":" + path, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, err
	}
	return res.Stdout, nil
}
