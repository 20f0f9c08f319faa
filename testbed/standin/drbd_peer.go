package standin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// defaultPeerTimeout is how long a peer's heartbeat may be silent before the
// peer counts as gone (powered off, its daemon killed). The daemon beats
// every kernelTick, so this tolerates a few slow ticks.
const defaultPeerTimeout = 3 * time.Second

// endpoint is one node's registration of one DRBD connection under
// SharedDir/drbd/ep-<ip>-<port>.json. It is the "wire": the peer finds it by
// the address it was told to connect to, and learns role, disk state, data
// generation and how to reach the backing device from it.
type endpoint struct {
	Node      string      `json:"node"`
	Resource  string      `json:"resource"`
	Minor     int         `json:"minor"`
	LocalIP   string      `json:"local_ip"`
	LocalPort int         `json:"local_port"`
	PeerIP    string      `json:"peer_ip"`
	PeerPort  int         `json:"peer_port"`
	AuthHash  string      `json:"auth_hash"` // hash of alg+secret; equal secrets match
	Protocol  string      `json:"protocol"`
	TwoPri    bool        `json:"two_primaries"`
	Epoch     string      `json:"epoch"`
	PeerEpoch string      `json:"peer_epoch,omitempty"` // the handshake this side has done
	Role      string      `json:"role"`
	Disk      string      `json:"disk"`
	UUID      string      `json:"uuid"`
	UUIDTime  int64       `json:"uuid_time"`
	Dev       devIdentity `json:"dev"`  // backing data device, if attached
	Size      int64       `json:"size"` // bytes of the backing data device
	Paused    bool        `json:"paused"`
	Sync      *syncState  `json:"sync,omitempty"`
	Heartbeat int64       `json:"heartbeat"` // unix nanos
}

func endpointKey(ip string, port int) string {
	return strings.NewReplacer(":", "_", "[", "", "]", "").Replace(ip) + "-" + strconv.Itoa(port)
}

func (r *Root) endpointPath(ip string, port int) string {
	return filepath.Join(r.sharedDRBD(), "ep-"+endpointKey(ip, port)+".json")
}

func authHash(n *netConf) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s", optGet(n.Options, "cram-hmac-alg"), optGet(n.Options, "shared-secret"))
	return hex.EncodeToString(h.Sum(nil))
}

func (r *Root) buildEndpoint(res *drbdResource, m *drbdMinor, now time.Time) *endpoint {
	n := res.Net
	ep := &endpoint{
		Node: r.hostname(), Resource: res.Name, Minor: m.Minor,
		LocalIP: n.LocalIP, LocalPort: n.LocalPt, PeerIP: n.PeerIP, PeerPort: n.PeerPt,
		AuthHash: authHash(n), Protocol: n.Protocol, TwoPri: n.TwoPri, Epoch: n.Epoch,
		Role: m.Role, Disk: dsDiskless, Paused: m.UserPaused, Sync: m.Sync,
		PeerEpoch: m.Handshake, Heartbeat: now.UnixNano(),
	}
	if m.Disk != nil {
		ep.Disk = m.Meta.Disk
		ep.UUID, ep.UUIDTime = m.Meta.UUID, m.Meta.UUIDTime
		if id, err := identify(m.Disk.Data); err == nil {
			ep.Dev = id
			ep.Size, _ = deviceSize(m.Disk.Data)
		}
	}
	return ep
}

func (r *Root) publishEndpoint(res *drbdResource, m *drbdMinor, now time.Time) error {
	ep := r.buildEndpoint(res, m, now)
	if err := writeJSONAtomic(r.endpointPath(ep.LocalIP, ep.LocalPort), ep); err != nil {
		return fmt.Errorf("publish drbd endpoint: %w", err)
	}
	return nil
}

// withdrawEndpoint removes this node's registration, if it is still ours.
func (r *Root) withdrawEndpoint(n *netConf) {
	p := r.endpointPath(n.LocalIP, n.LocalPt)
	var ep endpoint
	if ok, _ := readJSON(p, &ep); ok && ep.Epoch != n.Epoch {
		return
	}
	_ = os.Remove(p)
}

// findPeer returns the live endpoint that matches res's connection: it sits
// at the configured peer address, points back at us and knows the same
// secret. nil means nobody is there (WFConnection).
func (r *Root) findPeer(res *drbdResource, now time.Time) *endpoint {
	n := res.Net
	if n == nil {
		return nil
	}
	var ep endpoint
	ok, err := readJSON(r.endpointPath(n.PeerIP, n.PeerPt), &ep)
	if !ok || err != nil {
		return nil
	}
	if ep.PeerIP != n.LocalIP || ep.PeerPort != n.LocalPt || ep.AuthHash != authHash(n) {
		return nil
	}
	timeout := r.peerTimeout
	if timeout == 0 {
		timeout = defaultPeerTimeout
	}
	if now.Sub(time.Unix(0, ep.Heartbeat)) > timeout {
		return nil
	}
	return &ep
}

func (r *Root) selfKey(n *netConf) string { return endpointKey(n.LocalIP, n.LocalPt) }

// minorView is everything /proc/drbd shows about one minor.
type minorView struct {
	Minor        int
	Unconfigured bool
	CS           string
	Role, PRole  string
	Disk, PDisk  string
	Protocol     byte // ' ' without net config
	PeerPaused   bool
	UserPaused   bool
	Congestion   byte // 0 shows as '-'
	WO           byte
	Stats        drbdStats
	OOS          int64 // KiB
	Sync         *syncView
}

// syncView is the progress part of a resync.
type syncView struct {
	TotalKiB, LeftKiB int64
	Elapsed           time.Duration
	WantKiB           int64 // shown on SyncTarget only
}

// viewMinor evaluates minor m's state against its peer's registration. It is
// the single place that decides connection state, so the daemon and every
// drbdsetup call agree.
func (r *Root) viewMinor(st *drbdState, m *drbdMinor, now time.Time) minorView {
	res := st.Resources[m.Resource]
	v := minorView{
		Minor: m.Minor, Role: m.Role, PRole: roleUnknown, Disk: dsDiskless, PDisk: dsDUnknown,
		Protocol: ' ', WO: 'b', Stats: m.Stats, UserPaused: m.UserPaused,
	}
	if m.Disk != nil {
		v.Disk = m.Meta.Disk
		v.WO = writeOrdering(m.Disk.Options)
	}
	if res == nil || res.Net == nil {
		v.CS = "StandAlone"
		v.Unconfigured = m.Disk == nil && m.Role == roleSecondary
		return v
	}
	v.Protocol = res.Net.Protocol[0]
	peer := r.findPeer(res, now)
	if peer == nil {
		v.CS = "WFConnection"
		return v
	}
	if m.Handshake != peer.Epoch || peer.PeerEpoch != res.Net.Epoch {
		// The daemons have not exchanged data generations yet: until
		// they have, neither side knows whether a resync is due.
		v.CS = "WFReportParams"
		return v
	}
	v.CS = "Connected"
	v.PRole, v.PDisk, v.PeerPaused = peer.Role, peer.Disk, peer.Paused
	self := r.selfKey(res.Net)
	var s *syncState
	switch {
	case m.Sync != nil && m.Sync.PeerKey == endpointKey(peer.LocalIP, peer.LocalPort):
		s = m.Sync
		v.CS = "SyncSource"
		if m.UserPaused || peer.Paused {
			v.CS = "PausedSyncS"
		}
	case peer.Sync != nil && peer.Sync.PeerKey == self && !(m.Disk != nil && m.Meta.UUID == peer.Sync.UUID && m.Meta.Disk == dsUpToDate):
		s = peer.Sync
		v.CS = "SyncTarget"
		if m.UserPaused || peer.Paused {
			v.CS = "PausedSyncT"
		}
	}
	if s != nil {
		total := s.Total / 1024
		left := (s.Total - s.Done) / 1024
		v.OOS = left
		v.Sync = &syncView{TotalKiB: total, LeftKiB: left, Elapsed: time.Duration(now.UnixNano() - s.Start - s.Paused)}
		if v.CS == "SyncTarget" {
			v.Sync.WantKiB = resyncRateKiB(m)
		}
	}
	return v
}

func writeOrdering(opts []optValue) byte {
	switch {
	case optGet(opts, "disk-flushes") == "no" && optGet(opts, "disk-drain") == "no":
		return 'n'
	case optGet(opts, "disk-flushes") == "no":
		return 'd'
	}
	return 'f'
}

// resyncRateKiB is the configured resync rate in KiB/s (DRBD 8.4 default 250).
func resyncRateKiB(m *drbdMinor) int64 {
	if m.Disk == nil {
		return 250
	}
	for _, k := range []string{"c-max-rate", "resync-rate"} {
		if v := optGet(m.Disk.Options, k); v != "" {
			if n, err := parseSize(v, 'k'); err == nil {
				return n / 1024
			}
		}
	}
	return 250
}
