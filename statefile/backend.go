package statefile

import (
	"context"
	"fmt"
	"time"
)

// Backend is everything ganetictl keeps besides the nodes themselves: the
// state with its history and writer lock ([Store]), the per-object locks
// with the holder records that make a crashed job's claim outlive it, the
// job journal, the queue's drain flag and the record of saved plans
// applied. Every command and the job engine work through it; which one
// is used is the inventory's choice ([state] backend):
//
//   - DirStore: a local directory, for one admin machine;
//   - package clusterstore: files on the master node, written over SSH,
//     locks held by flock(1) in a long-lived SSH session;
//   - package etcdstore: keys under a prefix in an etcd cluster, locks as
//     leased keys.
//
// MemStore is a Backend too, for tests. All of them pass the conformance
// suite of package storetest.
//
// Implementations are safe for concurrent use. Methods without a context
// bound their own remote calls.
type Backend interface {
	Store
	// String names where the state is, for messages.
	String() string
	// ReadRaw is the current state exactly as stored (for the copies to
	// the master candidates); ErrNoState when there is none.
	ReadRaw(ctx context.Context) ([]byte, error)
	// WriteNewLineage commits a state of another lineage (state import),
	// with a serial above every serial kept.
	WriteNewLineage(ctx context.Context, l *Lock, st *State) (int64, error)
	// Install makes a copy of the state current as it is, serial and
	// lineage included (state pull, cluster recover).
	Install(ctx context.Context, l *Lock, data []byte, operation string) (*State, error)
	// ForceUnlock breaks the writer lock whose holder has that ID.
	ForceUnlock(ctx context.Context, id string) error

	// LockObjects takes object locks; see [DirStore.LockObjects].
	LockObjects(ctx context.Context, info LockInfo, reqs []LockReq, opt LockOptions) (*ObjectLocks, error)
	// CrashedClaims lists the jobs that claim objects after a crash.
	CrashedClaims() map[int64][]LockReq
	// ReleaseClaims forgets a crashed job's claims.
	ReleaseClaims(job int64)

	// Journal is the job journal.
	Journal() (*Journal, error)

	// SetDrained, Undrain and Drained keep the queue's drain flag.
	SetDrained(d DrainInfo) error
	Undrain() error
	Drained() (DrainInfo, bool, error)
	// SetWatcherPause, ClearWatcherPause and WatcherPaused keep the
	// watcher's pause (cluster watcher pause|continue|info).
	SetWatcherPause(p WatcherPause) error
	ClearWatcherPause() error
	WatcherPaused(now time.Time) (WatcherPause, bool, error)
	// MarkApplied and AppliedAt keep the record of saved plans applied.
	MarkApplied(id string, at time.Time) error
	AppliedAt(id string) (time.Time, bool, error)

	// Retire moves the state aside after `cluster destroy`.
	Retire(now time.Time) error

	// Export reads everything the backend holds, for `state migrate`;
	// Import writes it into an empty backend under its writer lock.
	Export(ctx context.Context) (*Dump, error)
	Import(ctx context.Context, l *Lock, d *Dump) error

	// Close releases connections and sessions (and with them any lock
	// still held).
	Close() error
}

var (
	_ Backend = (*DirStore)(nil)
	_ Backend = (*MemStore)(nil)
)

// Dump is the whole content of a backend, as `state migrate` carries it
// from one backend to another: every version of the state exactly as
// stored (oldest first, the current one last) with its history entry, the
// journal (live and archived jobs), the saved plans applied, and the drain
// flag.
type Dump struct {
	Versions []DumpVersion `json:"versions"`
	Jobs     [][]byte      `json:"jobs"`     // journal entries as stored, by ascending ID
	Archived [][]byte      `json:"archived"` // archived journal entries, by ascending ID
	Applied  []Applied     `json:"applied"`
	Drain    *DrainInfo    `json:"drain,omitempty"`
	Pause    *WatcherPause `json:"watcher_pause,omitempty"`
}

// DumpVersion is one version of the state in a Dump.
type DumpVersion struct {
	Entry HistoryEntry `json:"entry"`
	Data  []byte       `json:"data"`
}

// Applied is one saved plan applied.
type Applied struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// ErrNotEmpty is returned by Import into a backend that already holds a
// state.
var ErrNotEmpty = fmt.Errorf("the target backend already holds a state")

// exportVersions reads every version of s as stored: history entries and
// their bytes, through raw (the bytes of a serial).
func exportVersions(ctx context.Context, s Store, raw func(serial int64) ([]byte, error)) ([]DumpVersion, error) {
	hist, err := s.History(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DumpVersion, 0, len(hist))
	for _, e := range hist {
		b, err := raw(e.Serial)
		if err != nil {
			return nil, fmt.Errorf("export serial %d: %w", e.Serial, err)
		}
		e.Current = false
		out = append(out, DumpVersion{Entry: e, Data: b})
	}
	return out, nil
}

// checkDump checks a dump before it is imported: versions by ascending
// serial, each decodable with the serial of its entry.
func checkDump(d *Dump) error {
	var last int64
	for _, v := range d.Versions {
		st, err := decode(v.Data)
		if err != nil {
			return fmt.Errorf("import serial %d: %w", v.Entry.Serial, err)
		}
		if st.Serial != v.Entry.Serial || v.Entry.Serial <= last {
			return fmt.Errorf("import: version of serial %d out of order or mislabelled (holds %d)", v.Entry.Serial, st.Serial)
		}
		last = v.Entry.Serial
	}
	return nil
}
