package job

import (
	"context"
	"errors"

	"github.com/ganetictl/ganetictl/statefile"
)

// errLocksLost stops a job whose backend can no longer vouch for its
// locks (the lock session on the master or the etcd lease ended): another
// job may take its objects, so it must not go on changing them.
var errLocksLost = errors.New("the job's locks were lost (the backend's lock session or lease ended): stopped; `ganetictl job resume` finishes it")

// guard returns ctx, cancelled when ol's locks are lost; stop releases it.
func guard(ctx context.Context, ol *statefile.ObjectLocks) (context.Context, func()) {
	if ol == nil || ol.Lost() == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() { // ends with the job
		select {
		case <-ol.Lost():
			cancel(errLocksLost)
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}
