package standin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The node's DRBD "kernel" is a daemon (one per node, started by the first
// drbdsetup call that leaves a minor configured, gone when the last minor
// is down or the node powers off). Every kernelTick it
//   - re-publishes this node's endpoints with a fresh heartbeat,
//   - evaluates each peer (alive = heartbeat younger than the peer timeout),
//   - starts, advances and completes resyncs, and replicates a Primary's
//     writes to its Secondary,
//   - points /dev/drbdM at the right device and rewrites the status file.
//
// Commands change state under the same lock and never wait for a tick.
var kernelTick = 250 * time.Millisecond

// flushInterval is how often the daemon re-replicates a connected Primary's
// data to its Secondary in the background (compare-and-copy of changed
// chunks). Commands that need the Secondary current flush synchronously.
var flushInterval = time.Second

// EnvResyncRate caps resync speed (KiB/s) when set in the daemon's
// environment; the file SharedDir/drbd/resync-rate-kib does the same at run
// time. Without either, resync runs as fast as the disks allow.
const EnvResyncRate = "TESTBED_DRBD_RESYNC_KIB"

// ensureKernel starts the daemon unless one holds the kernel lock.
func (r *Root) ensureKernel() error {
	l, err := lockFile(r.kernelLock(), true, false)
	if err != nil {
		return nil // held: the daemon runs
	}
	l.unlock()
	if r.spawnKernel != nil {
		return r.spawnKernel(r)
	}
	return r.spawnKernelProcess()
}

// selfInvocation is how this binary was invoked up to the tool's arguments,
// so the daemon can be started the same way (tbtool dispatching on argv[0]
// or on its first argument both work).
var selfInvocation []string

// SetInvocation tells the stand-ins how the binary was invoked (argv up to,
// not including, the tool's own arguments), for re-executing the DRBD
// daemon. Main derives it from os.Args when it is unset.
func SetInvocation(argv []string) { selfInvocation = append([]string(nil), argv...) }

func (r *Root) spawnKernelProcess() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start drbd daemon: %w", err)
	}
	argv := selfInvocation
	if len(argv) == 0 {
		argv = []string{"drbdsetup"}
	}
	logf, err := os.OpenFile(filepath.Join(r.drbdDir(), "kernel.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start drbd daemon: %w", err)
	}
	defer logf.Close()
	cmd := &exec.Cmd{
		Path: exe,
		Args: append(append([]string(nil), argv...), kernelCmd),
		Env: append(os.Environ(),
			EnvRunDir+"="+r.RunDir, EnvSharedDir+"="+r.SharedDir, EnvDevDir+"="+r.DevDir, EnvHostname+"="+r.Hostname),
		Stdout: logf, Stderr: logf,
		Dir: "/",
		// Its own session: the daemon must outlive the ssh session that ran
		// drbdsetup and must not hold its pipes open.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start drbd daemon: %w", err)
	}
	return cmd.Process.Release()
}

type kernel struct {
	r         *Root
	workers   map[int]*worker
	lastFlush map[int]time.Time
	lastTick  time.Time
}

// worker copies data in the background: a resync (kind "sync") or a
// replication flush (kind "flush").
type worker struct {
	kind     string
	cancel   context.CancelFunc
	done     atomic.Int64
	written  atomic.Int64
	paused   atomic.Bool
	finished atomic.Bool
	mu       sync.Mutex
	err      error
}

// runKernel runs the daemon until no minor is left or ctx ends. ctx may be
// nil (the real daemon, which ends with its node).
func (r *Root) runKernel(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := os.MkdirAll(r.drbdDir(), 0o755); err != nil {
		return err
	}
	kl, err := lockFile(r.kernelLock(), true, false)
	if err != nil {
		return nil // another daemon runs
	}
	defer kl.unlock()
	// The pid is for people and the bed's fault injection, not for locking.
	pidFile := filepath.Join(r.drbdDir(), "kernel.pid")
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	defer os.Remove(pidFile)
	k := &kernel{r: r, workers: map[int]*worker{}, lastFlush: map[int]time.Time{}}
	defer k.stopAll()
	t := time.NewTicker(kernelTick)
	defer t.Stop()
	for {
		more, err := k.tick(kl)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s drbd tick: %v\n", time.Now().Format(time.RFC3339), err)
		}
		if !more {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (k *kernel) stopAll() {
	for _, w := range k.workers {
		w.cancel()
	}
}

// tick does one round of the daemon's work; it reports false when the last
// minor is gone. The kernel lock is released while the state lock is still
// held, so a command that adds a minor afterwards starts a new daemon.
func (k *kernel) tick(kl *fileLock) (bool, error) {
	r := k.r
	l, err := lockFile(r.stateLock(), true, true)
	if err != nil {
		return true, err
	}
	defer l.unlock()
	st, err := r.loadState()
	if err != nil {
		return true, err
	}
	if len(st.Minors) == 0 {
		kl.unlock()
		return false, r.writeStatus(st, r.clock())
	}
	now := r.clock()
	elapsed := now.Sub(k.lastTick)
	if k.lastTick.IsZero() {
		elapsed = 0
	}
	k.lastTick = now
	for n, w := range k.workers {
		if st.Minors[n] == nil {
			w.cancel()
			delete(k.workers, n)
		}
	}
	var errs []error
	for _, m := range st.sortedMinors() {
		if err := k.tickMinor(st, m, now, elapsed); err != nil {
			errs = append(errs, fmt.Errorf("minor %d: %w", m.Minor, err))
		}
	}
	if err := r.commitState(st); err != nil {
		errs = append(errs, err)
	}
	return true, errors.Join(errs...)
}

func (k *kernel) tickMinor(st *drbdState, m *drbdMinor, now time.Time, elapsed time.Duration) error {
	r := k.r
	res := st.Resources[m.Resource]
	w := k.workers[m.Minor]
	var peer *endpoint
	if res != nil && res.Net != nil {
		peer = r.findPeer(res, now)
	}
	if m.Handshake != "" && (peer == nil || peer.Epoch != m.Handshake) {
		// The peer went away, possibly so briefly (a quick reboot) that
		// this is the first tick to notice.
		if err := loseContact(m, now); err != nil {
			return err
		}
	}
	if peer != nil && m.Handshake == "" {
		m.Handshake = peer.Epoch
	}
	if peer == nil || m.Disk == nil {
		if w != nil && w.kind == "sync" {
			w.cancel()
			delete(k.workers, m.Minor)
		}
		m.Sync = nil
		k.aliasDevice(m, peer)
		return nil
	}
	k.aliasDevice(m, peer)
	self := r.selfKey(res.Net)
	peerKey := endpointKey(peer.LocalIP, peer.LocalPort)

	// Target side: the peer resyncs to us.
	if ps := peer.Sync; ps != nil && ps.PeerKey == self {
		switch {
		case ps.State == "copied" && (m.Meta.UUID != ps.UUID || m.Meta.Disk != dsUpToDate):
			m.Meta = metaHeader{Disk: dsUpToDate, UUID: ps.UUID, UUIDTime: peer.UUIDTime}
			m.Stats.NR += ps.Total / 1024
			m.Stats.DW += ps.Written / 1024
			if err := writeMeta(m.Disk.Meta, m.Meta); err != nil {
				return err
			}
		case ps.State == "running" && m.Meta.Disk == dsUpToDate && m.Meta.UUID != ps.UUID:
			// A resync target is inconsistent until it completes.
			m.Meta.Disk = dsInconsistent
			if err := writeMeta(m.Disk.Meta, m.Meta); err != nil {
				return err
			}
		}
		return nil
	}

	// Source side.
	if s := m.Sync; s != nil {
		if s.PeerKey != peerKey {
			m.Sync = nil
			return nil
		}
		paused := m.UserPaused || peer.Paused
		if paused {
			s.Paused += int64(elapsed)
		}
		if s.State == "running" {
			if w == nil || w.kind != "sync" {
				w = k.startWorker(m, peer, "sync", s.Total)
			}
			w.paused.Store(paused)
			s.Done, s.Written = w.done.Load(), w.written.Load()
			if w.finished.Load() {
				delete(k.workers, m.Minor)
				if w.error() != nil {
					m.Sync = nil // retried on a later tick
					return w.error()
				}
				s.Done, s.State = s.Total, "copied"
				m.Stats.NS += s.Total / 1024
				m.Stats.DR += s.Total / 1024
			}
		}
		if s.State == "copied" && peer.Disk == dsUpToDate && peer.UUID == s.UUID {
			m.Sync = nil
		}
		return nil
	}
	if decideSource(m, peer) {
		if w != nil {
			w.cancel()
			delete(k.workers, m.Minor)
		}
		total := min(peer.Size, mustSize(m.Disk.Data))
		if m.Disk.SizeSect > 0 {
			total = min(total, m.Disk.SizeSect*512)
		}
		m.Sync = &syncState{PeerKey: peerKey, UUID: m.Meta.UUID, Total: total, Start: now.UnixNano(), State: "running"}
		k.startWorker(m, peer, "sync", total)
		return nil
	}
	// Steady state: keep the Secondary a copy of the Primary.
	if w != nil && w.finished.Load() {
		delete(k.workers, m.Minor)
		k.lastFlush[m.Minor] = now
		m.Stats.NS += w.written.Load() / 1024
		w = nil
	}
	if w == nil && m.Role == rolePrimary && peer.Role == roleSecondary && peer.PeerEpoch == res.Net.Epoch &&
		m.Meta.Disk == dsUpToDate && peer.Disk == dsUpToDate && now.Sub(k.lastFlush[m.Minor]) >= flushInterval {
		k.startWorker(m, peer, "flush", min(peer.Size, mustSize(m.Disk.Data)))
	}
	return nil
}

// loseContact ends m's connection. A Primary with good data starts a new
// data generation, as DRBD makes a new current UUID when a Primary loses
// its peer: the generation the peer has is then older, so it is resynced
// when it comes back, whatever was written meanwhile.
func loseContact(m *drbdMinor, now time.Time) error {
	m.Handshake = ""
	if m.Role != rolePrimary || m.Disk == nil || m.Meta.Disk != dsUpToDate {
		return nil
	}
	m.Meta.UUID, m.Meta.UUIDTime = newGeneration(now)
	return writeMeta(m.Disk.Meta, m.Meta)
}

// decideSource says whether this node must resync its data to the peer:
// UpToDate beats Inconsistent/Outdated, and between two UpToDate disks of
// different generations the newer one wins.
func decideSource(m *drbdMinor, peer *endpoint) bool {
	if m.Disk == nil || peer.Disk == dsDiskless || m.Meta.Disk != dsUpToDate {
		return false
	}
	if peer.Disk != dsUpToDate {
		return true
	}
	if m.Meta.UUID == peer.UUID {
		return false
	}
	if m.Meta.UUIDTime != peer.UUIDTime {
		return m.Meta.UUIDTime > peer.UUIDTime
	}
	return m.Meta.UUID > peer.UUID
}

func mustSize(path string) int64 {
	n, err := deviceSize(path)
	if err != nil {
		return 0
	}
	return n
}

// aliasDevice keeps /dev/drbdM pointing at the data: the local backing
// device when attached, the peer's when diskless but connected (DRBD then
// serves I/O over the network), nothing otherwise.
func (k *kernel) aliasDevice(m *drbdMinor, peer *endpoint) {
	r := k.r
	switch {
	case m.Disk != nil:
		if id, err := identify(m.Disk.Data); err == nil {
			_ = makeAlias(r.devPath(m.Minor), id)
		}
	case peer != nil && peer.Dev.Path != "":
		_ = makeAlias(r.devPath(m.Minor), peer.Dev)
	default:
		removeAlias(r.devPath(m.Minor))
	}
}

func (w *worker) error() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (k *kernel) startWorker(m *drbdMinor, peer *endpoint, kind string, total int64) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{kind: kind, cancel: cancel}
	k.workers[m.Minor] = w
	r := k.r
	minor, data, peerCopy := m.Minor, m.Disk.Data, *peer
	go func() {
		defer w.finished.Store(true)
		err := r.copyToPeer(ctx, minor, data, &peerCopy, total, w)
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	}()
	return w
}

// copyToPeer makes the peer's backing device equal to the local one, under
// the pair lock so that flushes from either side never interleave.
func (r *Root) copyToPeer(ctx context.Context, minor int, data string, peer *endpoint, total int64, w *worker) error {
	pl, err := r.pairLock(peer)
	if err != nil {
		return err
	}
	defer pl.unlock()
	src, err := os.Open(data)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := r.openPeerDev(minor, peer)
	if err != nil {
		return err
	}
	defer dst.Close()
	limit := resyncLimit(r)
	start := time.Now()
	written, err := syncRange(src, dst, total, func(done int64) error {
		w.done.Store(done)
		for w.paused.Load() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(50 * time.Millisecond)
		}
		if w.kind == "sync" && limit > 0 {
			want := time.Duration(float64(done) / float64(limit*1024) * float64(time.Second))
			if d := want - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
		return ctx.Err()
	})
	w.written.Store(written)
	return err
}

func resyncLimit(r *Root) int64 {
	if b, err := os.ReadFile(filepath.Join(r.sharedDRBD(), "resync-rate-kib")); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return n
		}
	}
	if n, err := strconv.ParseInt(os.Getenv(EnvResyncRate), 10, 64); err == nil {
		return n
	}
	return 0
}

func (r *Root) pairLock(peer *endpoint) (*fileLock, error) {
	a := endpointKey(peer.LocalIP, peer.LocalPort)
	b := endpointKey(peer.PeerIP, peer.PeerPort)
	if b < a {
		a, b = b, a
	}
	return lockFile(filepath.Join(r.sharedDRBD(), "pair-"+a+"--"+b+".lock"), true, true)
}

// openPeerDev opens the peer's backing device for reading and writing. A
// block device is reached through a private device node with the same
// major:minor (loop devices are host-global kernel objects, so this works
// across the nodes' mount namespaces); a regular file by its path.
func (r *Root) openPeerDev(minor int, peer *endpoint) (*os.File, error) {
	if peer.Dev.Path == "" {
		return nil, fmt.Errorf("peer %s has no disk", peer.Node)
	}
	path := peer.Dev.Path
	if peer.Dev.Block {
		path = r.peerAlias(minor)
		if err := makeAlias(path, peer.Dev); err != nil {
			return nil, fmt.Errorf("alias peer device: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil || peer.Dev.Loop == nil {
		return f, err
	}
	// An open loop device cannot be rebound, so one check suffices.
	if b, err := boundLoop(f); err != nil || b == nil || *b != *peer.Dev.Loop {
		f.Close()
		return nil, fmt.Errorf("peer %s: device %d:%d is no longer its disk", peer.Node, unix.Major(peer.Dev.Rdev), unix.Minor(peer.Dev.Rdev))
	}
	return f, nil
}

// replicate brings the Secondary up to date with the Primary's writes before
// a command that ends replication or promises a current peer (secondary,
// disconnect, detach, down, wait-sync), from whichever side it runs on.
func (r *Root) replicate(st *drbdState, m *drbdMinor) error {
	return r.replicateFrom(st, m, false)
}

// replicateFrom copies between this node and the peer of minor m. With
// pull=false the direction follows the roles (single Primary → Secondary);
// with pull=true the peer's data is copied here regardless of roles.
func (r *Root) replicateFrom(st *drbdState, m *drbdMinor, pull bool) error {
	res := st.Resources[m.Resource]
	if res == nil || res.Net == nil || m.Disk == nil {
		return nil
	}
	now := r.clock()
	peer := r.findPeer(res, now)
	if peer == nil || peer.Dev.Path == "" || m.Sync != nil || (peer.Sync != nil && peer.Sync.PeerKey == r.selfKey(res.Net)) {
		return nil
	}
	if m.Meta.Disk != dsUpToDate || peer.Disk != dsUpToDate {
		return nil
	}
	push := m.Role == rolePrimary && peer.Role == roleSecondary
	if !pull && !push && !(m.Role == roleSecondary && peer.Role == rolePrimary) {
		return nil
	}
	if pull {
		push = false
	}
	pl, err := r.pairLock(peer)
	if err != nil {
		return err
	}
	defer pl.unlock()
	local, err := os.OpenFile(m.Disk.Data, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("replicate minor %d: %w", m.Minor, err)
	}
	defer local.Close()
	remote, err := r.openPeerDev(m.Minor, peer)
	if err != nil {
		return fmt.Errorf("replicate minor %d: %w", m.Minor, err)
	}
	defer remote.Close()
	size := min(peer.Size, mustSize(m.Disk.Data))
	src, dst := local, remote
	if !push {
		src, dst = remote, local
	}
	if _, err := syncRange(src, dst, size, nil); err != nil {
		return fmt.Errorf("replicate minor %d: %w", m.Minor, err)
	}
	return nil
}
