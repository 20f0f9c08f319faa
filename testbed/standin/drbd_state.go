package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DRBD disk and role names as the kernel prints them.
const (
	dsUpToDate     = "UpToDate"
	dsInconsistent = "Inconsistent"
	dsOutdated     = "Outdated"
	dsDiskless     = "Diskless"
	dsDUnknown     = "DUnknown"

	rolePrimary   = "Primary"
	roleSecondary = "Secondary"
	roleUnknown   = "Unknown"
)

// drbdState is the node's "kernel" DRBD configuration, kept in
// RunDir/drbd/state.json and changed only under the state lock.
type drbdState struct {
	Resources map[string]*drbdResource `json:"resources"`
	Minors    map[int]*drbdMinor       `json:"minors"`
}

type drbdResource struct {
	Name string   `json:"name"`
	Net  *netConf `json:"net,omitempty"`
}

// netConf is what "drbdsetup connect" configured.
type netConf struct {
	Family   string     `json:"family"`
	LocalIP  string     `json:"local_ip"`
	LocalPt  int        `json:"local_port"`
	PeerIP   string     `json:"peer_ip"`
	PeerPt   int        `json:"peer_port"`
	Options  []optValue `json:"options"` // in command-line order; shown in drbdsetup show
	Protocol string     `json:"protocol"`
	TwoPri   bool       `json:"two_primaries"`
	Epoch    string     `json:"epoch"` // new for every connect, lets the peer notice reconnects
}

type optValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type drbdMinor struct {
	Minor    int       `json:"minor"`
	Resource string    `json:"resource"`
	Volume   int       `json:"volume"`
	Role     string    `json:"role"`
	Disk     *diskConf `json:"disk,omitempty"` // nil: diskless
	// Meta mirrors the metadata header of the attached disk.
	Meta       metaHeader `json:"meta"`
	UserPaused bool       `json:"user_paused,omitempty"`
	Stats      drbdStats  `json:"stats"`
	// Sync is set while this node is the SyncSource of a resync.
	Sync *syncState `json:"sync,omitempty"`
	// Handshake is the epoch of the peer connection this side has
	// exchanged data generations with; empty while not connected.
	Handshake string `json:"handshake,omitempty"`
	// ResizedMiB records "drbdsetup resize --size".
	ResizedMiB int64 `json:"resized_mib,omitempty"`
}

type diskConf struct {
	Data     string     `json:"data"`
	Meta     string     `json:"meta"`
	MetaIdx  string     `json:"meta_idx"` // "flexible", "internal" or a number
	SizeSect int64      `json:"size_sectors,omitempty"`
	Options  []optValue `json:"options"`
}

// drbdStats are the /proc/drbd counters: NS..DR in KiB, the rest counts.
// The stand-in advances NS/NR/DW/DR; the others stay 0 (in-flight counters
// that a real kernel shows only under load).
type drbdStats struct {
	NS, NR, DW, DR         int64
	AL, BM, LO, PE, UA, AP int64
}

// syncState is a resync this node runs as source.
type syncState struct {
	PeerKey string `json:"peer_key"`
	UUID    string `json:"uuid"`
	Total   int64  `json:"total"`   // bytes
	Done    int64  `json:"done"`    // bytes scanned
	Start   int64  `json:"start"`   // unix nanos
	Paused  int64  `json:"paused"`  // nanos spent paused
	State   string `json:"state"`   // running, copied
	Written int64  `json:"written"` // bytes actually changed on the target
}

func (r *Root) drbdDir() string      { return filepath.Join(r.RunDir, "drbd") }
func (r *Root) statePath() string    { return filepath.Join(r.drbdDir(), "state.json") }
func (r *Root) stateLock() string    { return filepath.Join(r.drbdDir(), "state.lock") }
func (r *Root) kernelLock() string   { return filepath.Join(r.drbdDir(), "kernel.lock") }
func (r *Root) sharedDRBD() string   { return filepath.Join(r.SharedDir, "drbd") }
func (r *Root) devPath(m int) string { return filepath.Join(r.DevDir, "drbd"+strconv.Itoa(m)) }

// peerAlias is where this node keeps its private device node for the peer's
// backing device of minor m (outside the drbd* name space so nothing mistakes
// it for a DRBD device).
func (r *Root) peerAlias(m int) string {
	return filepath.Join(r.DevDir, "testbed-drbd-peer"+strconv.Itoa(m))
}

// withState runs fn on the node's DRBD state under the state lock and saves
// it (and the status file and endpoint registrations) when fn returns nil.
func (r *Root) withState(fn func(st *drbdState) error) error {
	l, err := lockFile(r.stateLock(), true, true)
	if err != nil {
		return fmt.Errorf("lock drbd state: %w", err)
	}
	defer l.unlock()
	st, err := r.loadState()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return r.commitState(st)
}

func (r *Root) loadState() (*drbdState, error) {
	st := &drbdState{}
	if _, err := readJSON(r.statePath(), st); err != nil {
		return nil, fmt.Errorf("load drbd state: %w", err)
	}
	if st.Resources == nil {
		st.Resources = map[string]*drbdResource{}
	}
	if st.Minors == nil {
		st.Minors = map[int]*drbdMinor{}
	}
	return st, nil
}

// commitState saves st, publishes this node's endpoints and rewrites the
// status file. Callers hold the state lock.
func (r *Root) commitState(st *drbdState) error {
	if err := writeJSONAtomic(r.statePath(), st); err != nil {
		return fmt.Errorf("save drbd state: %w", err)
	}
	now := r.clock()
	for _, res := range st.Resources {
		if res.Net == nil {
			continue
		}
		for _, m := range st.minorsOf(res.Name) {
			if err := r.publishEndpoint(res, m, now); err != nil {
				return err
			}
		}
	}
	return r.writeStatus(st, now)
}

func (r *Root) writeStatus(st *drbdState, now time.Time) error {
	var views []minorView
	for _, m := range st.sortedMinors() {
		views = append(views, r.viewMinor(st, m, now))
	}
	if err := writeFileAtomic(r.DRBDStatusFile(), []byte(renderProcDRBD(views)), 0o444); err != nil {
		return fmt.Errorf("write drbd status: %w", err)
	}
	return nil
}

func (st *drbdState) sortedMinors() []*drbdMinor {
	var out []*drbdMinor
	for _, m := range st.Minors {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Minor < out[j].Minor })
	return out
}

func (st *drbdState) minorsOf(res string) []*drbdMinor {
	var out []*drbdMinor
	for _, m := range st.sortedMinors() {
		if m.Resource == res {
			out = append(out, m)
		}
	}
	return out
}

// metaHeader is what the stand-in keeps in the first block of the meta
// device: enough of DRBD's generation logic to pick a sync direction.
type metaHeader struct {
	Disk     string `json:"disk"`      // UpToDate, Inconsistent, Outdated
	UUID     string `json:"uuid"`      // current data generation
	UUIDTime int64  `json:"uuid_time"` // unix nanos the generation started
}

// metaMagic starts the stand-in's metadata block; a real DRBD would put its
// own magic 0x8374026b at a different place, nobody but us reads it.
const metaMagic = "testbed drbd 8.4 meta-data v08\n"

const metaBlock = 4096

func readMeta(path string) (metaHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return metaHeader{}, err
	}
	defer f.Close()
	buf := make([]byte, metaBlock)
	n, _ := f.ReadAt(buf, 0)
	buf = buf[:n]
	if !bytes.HasPrefix(buf, []byte(metaMagic)) {
		return metaHeader{}, errNoMeta
	}
	body := buf[len(metaMagic):]
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		body = body[:i]
	}
	var h metaHeader
	if err := json.Unmarshal(body, &h); err != nil {
		return metaHeader{}, errNoMeta
	}
	return h, nil
}

var errNoMeta = fmt.Errorf("no valid meta data found")

func writeMeta(path string, h metaHeader) error {
	body, err := json.Marshal(h)
	if err != nil {
		return err
	}
	blk := make([]byte, metaBlock)
	n := copy(blk, metaMagic)
	n += copy(blk[n:], body)
	blk[n] = '\n'
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(blk, 0); err != nil {
		f.Close()
		return fmt.Errorf("write meta data to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newGeneration starts a new data generation, as DRBD does when a node
// becomes Primary without a peer: the newer generation wins the next resync.
func newGeneration(now time.Time) (string, int64) {
	return strings.ToUpper(randomHex(8)), now.UnixNano()
}
