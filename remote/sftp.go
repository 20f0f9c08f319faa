package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/pkg/sftp"
)

// sftpClient returns the connection's SFTP client, starting it on first use.
// The client holds a session slot for the connection's life; with
// MaxSessions 1 a client is made per call instead, and done closes it.
func (s *SSH) sftpClient(ctx context.Context) (c *sftp.Client, posixRename bool, done func(), err error) {
	s.sftpMu.Lock()
	defer s.sftpMu.Unlock()
	if s.sftp != nil {
		return s.sftp, s.posixRename, func() {}, nil
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, false, nil, err
	}
	c, err = sftp.NewClient(s.client)
	if err != nil {
		release()
		if s.isDead() {
			err = s.deadErr()
		}
		return nil, false, nil, fmt.Errorf("start sftp: %w", err)
	}
	_, posixRename = c.HasExtension("posix-rename@openssh.com")
	if cap(s.sem) == 1 {
		return c, posixRename, func() { c.Close(); release() }, nil
	}
	s.sftp, s.sftpRelease, s.posixRename = c, release, posixRename
	return c, posixRename, func() {}, nil
}

// Upload writes r to dst on the node over SFTP, atomically: it writes
// dst.tmp-<random> (created exclusively, given mode while still empty), checks
// the byte count, fsyncs it (when the server has fsync@openssh.com), and
// renames it over dst (posix-rename@openssh.com when the server has it). On any error the temporary file is removed and dst is left
// as it was. ctx is checked between writes.
func (s *SSH) Upload(ctx context.Context, dst string, mode fs.FileMode, r io.Reader) error {
	if err := s.upload(ctx, dst, mode, r); err != nil {
		return fmt.Errorf("%s: upload %s: %w", s.name, dst, err)
	}
	return nil
}

func (s *SSH) upload(ctx context.Context, dst string, mode fs.FileMode, r io.Reader) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, posixRename, done, err := s.sftpClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	tmp := dst + ".tmp-" + randomSuffix()
	f, err := c.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			if rerr := c.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = fmt.Errorf("%w (and removing %s: %v)", err, tmp, rerr)
			}
		}
	}()
	if err := f.Chmod(mode.Perm()); err != nil {
		return err
	}
	src := &countingReader{r: ctxReader{ctx, r}}
	n, err := io.Copy(f, src)
	if err != nil {
		return err
	}
	if n != src.n {
		return fmt.Errorf("wrote %d of %d bytes", n, src.n)
	}
	// Make the data durable before the rename publishes it, where the server
	// offers fsync@openssh.com (OpenSSH does).
	if _, ok := c.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if posixRename {
		return c.PosixRename(tmp, dst)
	}
	if err := c.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return c.Rename(tmp, dst)
}

// randomSuffix names temporary files.
func randomSuffix() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ctxReader fails reads once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}
