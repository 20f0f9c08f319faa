// Package clusterstore keeps ganetictl's state on the cluster itself: the
// authoritative state, its history, the journal and the locks live on the
// master node, below Root, and every workstation with the inventory and
// SSH access works against them with nothing else installed.
//
// The layout is statefile.KVStore's (state.json, history/<serial>.json,
// journal/<id>.json, locks/holders/<id>.json, ...), kept apart from the
// master candidates' replica (/var/lib/ganeti/ganetictl/state.json).
// Files are written atomically over SFTP (temporary file, fsync, rename).
//
// Locks: each ganetictl process keeps one SSH session open on the master
// running a small fixed bash script that takes flock(1) locks on files
// below locks/ when asked on stdin, answers on stdout when each is held,
// and keeps them until asked to release them. The kernel releases them
// when the session ends: the workstation dies, the link drops (the script
// exits when it hears nothing for TTL; the process pings it every TTL/3),
// or the process exits. The session also holds a flock on its own file in
// sessions/, which tells other workstations that the process lives.
// Holder records are files, so a crashed job's claim survives its session
// as it does in a state directory.
//
// Commits happen under the writer lock (a flock on state.lock held by the
// session) after checking that lock.info still names the holder and that
// state.json is still the version replaced: a compare-and-swap of the
// serial that no other writer can interleave with.
//
// When a commit makes another node the master (cluster master-failover),
// the store moves with it inside that commit: the store is copied to the
// new master and the old one gets a "moved" marker naming it, which
// Locate follows and which refuses later commits there.
package clusterstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ganetictl/ganetictl/remote"
	"github.com/ganetictl/ganetictl/statefile"
)

// DefaultRoot is where the store lives on the master node.
const DefaultRoot = "/var/lib/ganeti/ganetictl/store"

// DefaultTTL is how long a lock session outlives a silent workstation.
const DefaultTTL = 15 * time.Second

// movedKey names the node the store moved to.
const movedKey = "moved"

// Config says where the store is.
type Config struct {
	// Node is the master node, and Runner its runner.
	Node   string
	Runner remote.Runner
	// Runners gives other nodes' runners (the new master of a failover).
	Runners func(ctx context.Context, node string) (remote.Runner, error)
	Root    string        // default DefaultRoot
	TTL     time.Duration // default DefaultTTL
	// LocalDir keeps the output of jobs this machine submits.
	LocalDir string
}

// Store is the cluster backend.
type Store struct {
	*statefile.KVStore
	b *backend
}

// Open opens the store on cfg.Node, creating its directories. It takes no
// lock; the first lock starts the process's lock session.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	b := &backend{cfg: cfg, node: cfg.Node, r: cfg.Runner, lost: make(chan struct{}), lockTags: map[string]int{}}
	if err := b.mkdirs(ctx, b.r); err != nil {
		return nil, err
	}
	return &Store{KVStore: statefile.NewKVStore(b.name(), b, b, cfg.LocalDir), b: b}, nil
}

// Node is the node the store is on (after a master-failover in this
// process, the new master).
func (s *Store) Node() string {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.node
}

// Abandon drops the lock session without releasing anything, as a killed
// process does. For tests.
func (s *Store) Abandon() {
	s.b.mu.Lock()
	sess := s.b.sess
	s.b.mu.Unlock()
	if sess != nil {
		sess.kill()
	}
}

type backend struct {
	cfg Config

	mu       sync.Mutex
	node     string
	r        remote.Runner
	sess     *session   // on node; nil until the first lock
	old      []*session // sessions on former masters, still holding locks
	lost     chan struct{}
	lostOnce sync.Once
	lockTags map[string]int // writer lock ID -> its tag in the session
}

func (b *backend) name() string { return "cluster store " + b.cfg.Root + " on " + b.node }

func (b *backend) runner() (remote.Runner, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r, b.node
}

func (b *backend) p(key string) string { return path.Join(b.cfg.Root, key) }

var dirs = []string{"history/index", "journal/archive", "applied", "locks/holders", "sessions"}

func (b *backend) mkdirs(ctx context.Context, r remote.Runner) error {
	argv := []string{"mkdir", "-p", "-m", "0700", b.cfg.Root}
	for _, d := range dirs {
		argv = append(argv, b.p(d))
	}
	if _, err := r.Run(ctx, remote.Command{Argv: argv}); err != nil {
		return fmt.Errorf("cluster store: %w", err)
	}
	return nil
}

func (b *backend) Get(ctx context.Context, key string) ([]byte, error) {
	r, _ := b.runner()
	return remote.ReadFile(ctx, r, b.p(key))
}

const listScript = `cd "$1" 2>/dev/null || exit 0
for f in * .[!.]*; do [ -f "$f" ] && printf '%s\n' "$f"; done; true`

func (b *backend) List(ctx context.Context, dir string) ([]string, error) {
	r, _ := b.runner()
	res, err := r.Run(ctx, remote.Command{Argv: []string{"sh", "-c", listScript, "ganetictl-list", b.p(dir)}})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if l != "" && !strings.Contains(l, ".tmp-") && !strings.Contains(l, ".tmp.") {
			out = append(out, l)
		}
	}
	return out, nil
}

func (b *backend) Put(ctx context.Context, key string, val []byte) error {
	r, _ := b.runner()
	return remote.Upload(ctx, r, b.p(key), 0o600, bytes.NewReader(val))
}

// createScript writes stdin to "$1" only if it does not exist: a
// temporary file linked to the name (link fails on an existing name), so
// the file appears whole or not at all. Exit 17 means it exists.
const createScript = `umask 077; t="$1.tmp.$$"
cat > "$t" || { rm -f "$t"; exit 1; }
ln "$t" "$1" 2>/dev/null; rc=$?; rm -f "$t"
[ $rc -eq 0 ] && exit 0; [ -e "$1" ] && exit 17; exit 1`

func (b *backend) Create(ctx context.Context, key string, val []byte) error {
	r, _ := b.runner()
	_, err := r.Run(ctx, remote.Command{Argv: []string{"sh", "-c", createScript, "ganetictl-create", b.p(key)}, Stdin: bytes.NewReader(val)})
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Code == 17 {
		return fs.ErrExist
	}
	return err
}

func (b *backend) Delete(ctx context.Context, key string) error {
	r, _ := b.runner()
	_, err := r.Run(ctx, remote.Command{Argv: []string{"rm", "-f", "--", b.p(key)}})
	return err
}

// lockScript is the lock session: one request a line on stdin,
// "OP TAG MODE PATH", one answer a line on stdout, "ok|busy|err TAG".
// S takes the session's own lock (waiting up to 10s), L a lock without
// waiting (MODE x or s), U releases, P is a ping. Silence for $1 seconds
// ends it, and with it every lock.
const lockScript = `set -u
declare -A fds
while IFS=' ' read -r -t "$1" op tag mode p; do
  case $op in
  S|L) if exec {f}<>"$p"; then
      w=-n; [ "$op" = S ] && w="-w 10"
      if flock $w "-$mode" "$f"; then fds[$tag]=$f; echo "ok $tag"; else exec {f}>&-; echo "busy $tag"; fi
    else echo "err $tag"; fi;;
  U) f=${fds[$tag]-}; if [ -n "$f" ]; then exec {f}>&-; unset "fds[$tag]"; fi; echo "ok $tag";;
  P) echo "ok $tag";;
  *) echo "err $tag";;
  esac
done`

// session is one lock session on a node.
type session struct {
	mu    sync.Mutex // one request at a time
	stdin io.WriteCloser
	lines chan string
	done  chan struct{} // closed when the session ended
	next  int
	stop  context.CancelFunc
}

func (b *backend) startSession(r remote.Runner) (*session, error) {
	ctx, stop := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{stdin: inW, lines: make(chan string, 16), done: make(chan struct{}), stop: stop}
	ttl := int((b.cfg.TTL + time.Second - 1) / time.Second)
	go func() { // the session: ends when stdin closes, the link drops or ctx ends
		_, _ = r.Run(ctx, remote.Command{Argv: []string{"bash", "-c", lockScript, "ganetictl-locks", strconv.Itoa(ttl)},
			Stdin: inR, Stdout: outW, Timeout: 100000 * time.Hour})
		outW.Close()
		inR.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.done)
	}()
	go func() { // pings keep the session alive while this process is
		t := time.NewTicker(b.cfg.TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if _, err := s.do("P", "-", "-"); err != nil {
					return
				}
			}
		}
	}()
	host, _ := os.Hostname()
	sp := b.p(fmt.Sprintf("sessions/%s@%d@%x", host, os.Getpid(), rand.Uint64()))
	if ans, err := s.do("S", "x", sp); err != nil || ans != "ok" {
		s.kill()
		return nil, fmt.Errorf("cluster store: start the lock session: %v %v", ans, err)
	}
	return s, nil
}

// do sends one request and returns its answer word and tag.
func (s *session) do(op, mode, p string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doLocked(op, strconv.Itoa(s.nextTag()), mode, p)
}

func (s *session) nextTag() int { s.next++; return s.next }

func (s *session) doLocked(op, tag, mode, p string) (string, error) {
	if _, err := fmt.Fprintf(s.stdin, "%s %s %s %s\n", op, tag, mode, p); err != nil {
		return "", errSessionLost
	}
	select {
	case l := <-s.lines:
		word, got, _ := strings.Cut(l, " ")
		if got != tag {
			return "", fmt.Errorf("cluster store: lock session out of step (%q for request %s)", l, tag)
		}
		return word, nil
	case <-s.done:
		return "", errSessionLost
	}
}

var errSessionLost = errors.New("cluster store: the lock session on the master ended (link lost?): its locks are gone")

// lock takes p in the session; tag identifies it for unlock.
func (s *session) lock(mode, p string) (int, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tag := s.nextTag()
	word, err := s.doLocked("L", strconv.Itoa(tag), mode, p)
	return tag, word, err
}

func (s *session) unlock(tag int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.doLocked("U", strconv.Itoa(tag), "-", "-")
}

func (s *session) kill() {
	s.stop()
	s.stdin.Close()
}

func (s *session) close() {
	s.stdin.Close() // the script reads EOF and exits: the kernel drops the locks
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	s.stop()
}

// session returns the process's lock session on the store's node.
func (b *backend) session() (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		select {
		case <-b.sess.done:
			return nil, errSessionLost
		default:
			return b.sess, nil
		}
	}
	s, err := b.startSession(b.r)
	if err != nil {
		return nil, err
	}
	b.sess = s
	go func() {
		<-s.done
		b.mu.Lock()
		cur := b.sess == s
		b.mu.Unlock()
		if cur {
			b.lostOnce.Do(func() { close(b.lost) })
		}
	}()
	return s, nil
}

func (b *backend) Lost() <-chan struct{} { return b.lost }

// aliveScript lists the sessions whose lock is held (their process
// lives), and removes the files of the others.
const aliveScript = `cd "$1" 2>/dev/null || exit 0
for f in *@*; do [ -f "$f" ] || continue
  if flock -n -x "$f" true; then rm -f "$f"; else printf '%s\n' "$f"; fi
done; true`

func (b *backend) Alive(ctx context.Context) (func(string, int) bool, error) {
	r, _ := b.runner()
	res, err := r.Run(ctx, remote.Command{Argv: []string{"sh", "-c", aliveScript, "ganetictl-alive", b.p("sessions")}})
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if parts := strings.Split(l, "@"); len(parts) == 3 {
			live[parts[0]+"@"+parts[1]] = true
		}
	}
	return func(host string, pid int) bool {
		return live[host+"@"+strconv.Itoa(pid)] || statefile.LocalProcessAlive(host, pid)
	}, nil
}

func (b *backend) TryLock(ctx context.Context, holder string, r statefile.LockReq) (func(), error) {
	s, err := b.session()
	if err != nil {
		return nil, err
	}
	mode := "s"
	if r.Exclusive {
		mode = "x"
	}
	tag, word, err := s.lock(mode, b.p("locks/"+statefile.LockName(r)))
	switch {
	case err != nil:
		return nil, err
	case word == "busy":
		return nil, statefile.ErrLockBusy
	case word != "ok":
		return nil, fmt.Errorf("cluster store: lock %s: %s", r, word)
	}
	return func() { s.unlock(tag) }, nil
}

const (
	stateLock = "state.lock"
	lockInfo  = "state.lock.info"
)

func readInfo(b []byte) *statefile.LockInfo {
	li := new(statefile.LockInfo)
	if json.Unmarshal(b, li) != nil {
		return &statefile.LockInfo{Operation: "unknown (unreadable " + lockInfo + ")"}
	}
	return li
}

func (b *backend) TryLockState(ctx context.Context, info statefile.LockInfo) (func() error, *statefile.LockInfo, error) {
	s, err := b.session()
	if err != nil {
		return nil, nil, err
	}
	tag, word, err := s.lock("x", b.p(stateLock))
	switch {
	case err != nil:
		return nil, nil, err
	case word == "busy":
		le := &statefile.LockedError{Path: b.name() + "/" + stateLock}
		if raw, err := b.Get(ctx, lockInfo); err == nil {
			le.Info = *readInfo(raw)
		}
		return nil, nil, le
	case word != "ok":
		return nil, nil, fmt.Errorf("cluster store: lock the state: %s", word)
	}
	var prev *statefile.LockInfo
	if raw, err := b.Get(ctx, lockInfo); err == nil {
		prev = readInfo(raw)
	}
	raw, _ := json.MarshalIndent(info, "", "  ")
	if err := b.Put(ctx, lockInfo, raw); err != nil {
		s.unlock(tag)
		return nil, nil, fmt.Errorf("lock state: write lock info: %w", err)
	}
	b.mu.Lock()
	b.lockTags[info.ID] = tag
	b.mu.Unlock()
	release := func() error {
		b.mu.Lock()
		delete(b.lockTags, info.ID)
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var errs []error
		if cur, err := b.Get(ctx, lockInfo); err == nil && readInfo(cur).ID == info.ID {
			errs = append(errs, b.Delete(ctx, lockInfo))
		}
		s.unlock(tag)
		return errors.Join(errs...)
	}
	return release, prev, nil
}

// ForceUnlockState breaks the writer lock as DirStore.ForceUnlock does:
// the holder's info goes, and when its flock is still held the lock file
// is replaced, so new writers lock a fresh one and the old holder's next
// commit fails (lock.info no longer names it).
func (b *backend) ForceUnlockState(ctx context.Context, id string) error {
	raw, err := b.Get(ctx, lockInfo)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unlock %s: %w", b.name(), statefile.ErrNotLocked)
	}
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	held := readInfo(raw)
	if held.ID != id {
		return fmt.Errorf("unlock %s: lock ID %q does not match the holder's ID %q (held by %s@%s pid %d for %q)",
			b.name(), id, held.ID, held.Who, held.Host, held.PID, held.Operation)
	}
	r, _ := b.runner()
	_, err = r.Run(ctx, remote.Command{Argv: []string{"sh", "-c",
		`rm -f "$2"; flock -n -x "$1" true || rm -f "$1"`, "ganetictl-unlock", b.p(stateLock), b.p(lockInfo)}})
	return err
}

// Commit applies ops in order under the writer lock, after checking that
// the lock is still lockID's, that the store has not moved and that the
// state is still prev. A commit that makes another node the master moves
// the store there (see the package doc).
func (b *backend) Commit(ctx context.Context, lockID string, prev []byte, ops []statefile.KVOp) error {
	b.mu.Lock()
	_, ours := b.lockTags[lockID]
	b.mu.Unlock()
	if !ours {
		return statefile.ErrStateMoved
	}
	if raw, err := b.Get(ctx, lockInfo); err != nil || readInfo(raw).ID != lockID {
		return statefile.ErrStateMoved
	}
	if to, err := b.Get(ctx, movedKey); err == nil {
		return fmt.Errorf("%w: the store moved to %s (cluster master-failover); re-run the command", statefile.ErrStateMoved, strings.TrimSpace(string(to)))
	}
	cur, err := b.Get(ctx, "state.json")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if prev != nil {
			return statefile.ErrStateMoved
		}
	case err != nil:
		return err
	case !bytes.Equal(cur, prev):
		return statefile.ErrStateMoved
	}
	var next []byte
	for _, op := range ops {
		if op.Delete {
			err = b.Delete(ctx, op.Key)
		} else {
			err = b.Put(ctx, op.Key, op.Value)
		}
		if err != nil {
			return err
		}
		if op.Key == "state.json" && !op.Delete {
			next = op.Value
		}
	}
	if next != nil && b.cfg.Runners != nil {
		// Only a commit that changes the master moves the store (not the
		// installation of a copy, nor a store re-homed on purpose).
		prevMaster := ""
		if old, err := statefile.Read(bytes.NewReader(prev)); prev != nil && err == nil {
			prevMaster = old.Cluster.MasterNode
		}
		if st, err := statefile.Read(bytes.NewReader(next)); err == nil && prev != nil && st.Cluster.MasterNode != "" &&
			st.Cluster.MasterNode != prevMaster && st.Cluster.MasterNode != b.node {
			if err := b.move(ctx, st.Cluster.MasterNode); err != nil {
				return fmt.Errorf("state committed as serial %d on %s, but moving the store to the new master %s failed: %w; "+
					"the store stays on %s until `cluster master-failover` is run again", st.Serial, b.node, st.Cluster.MasterNode, err, b.node)
			}
		}
	}
	return nil
}

// move copies the store to node (everything but the lock files and the
// sessions), marks the old copy as moved, and makes node this backend's
// store. The locks this process holds stay in the old session until
// released; the failover holds the cluster exclusively, so no other job
// holds any.
func (b *backend) move(ctx context.Context, node string) error {
	nr, err := b.cfg.Runners(ctx, node)
	if err != nil {
		return err
	}
	if err := b.mkdirs(ctx, nr); err != nil {
		return err
	}
	old, oldNode := b.runner()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := old.Run(ctx, remote.Command{Argv: []string{"tar", "-C", b.cfg.Root, "-cf", "-",
			"--exclude=./sessions", "--exclude=./locks/[0-9]*", "--exclude=./state.lock", "--exclude=./state.lock.info", "."}, Stdout: pw})
		pw.CloseWithError(err)
		errc <- err
	}()
	_, err = nr.Run(ctx, remote.Command{Argv: []string{"sh", "-c", `rm -f "$1/moved" && tar -C "$1" -xf -`, "ganetictl-move", b.cfg.Root}, Stdin: pr})
	pr.CloseWithError(err)
	if rerr := <-errc; err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	if err := remote.Upload(ctx, old, b.p(movedKey), 0o600, strings.NewReader(node+"\n")); err != nil {
		return err
	}
	b.mu.Lock()
	if b.sess != nil {
		b.old = append(b.old, b.sess)
	}
	b.sess, b.r, b.node = nil, nr, node
	b.mu.Unlock()
	_ = oldNode
	// A session on the new master says this process lives there too.
	_, err = b.session()
	return err
}

func (b *backend) Close() error {
	b.mu.Lock()
	all := append(b.old, b.sess)
	b.sess, b.old = nil, nil
	b.mu.Unlock()
	for _, s := range all {
		if s != nil {
			s.close()
		}
	}
	return nil
}
