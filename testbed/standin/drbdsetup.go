package standin

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// drbdError is a failure reported the way drbdsetup's print_config_error
// does, with its exit code.
type drbdError struct {
	text string
	code int
}

func (e *drbdError) Error() string { return e.text }

// Kernel error codes (enum drbd_ret_code) and their drbdsetup texts.
var drbdErrText = map[int]string{
	102: "Local address(port) already in use.",
	104: "Can not open backing device.",
	105: "Can not open meta device.",
	111: "Low.dev. smaller than requested DRBD-dev. size.",
	119: "No valid meta-data signature found.\n\n\t==> Use 'drbdadm create-md res' to initialize meta-data area. <==\n",
	124: "Device is attached to a disk (use detach first)",
	125: "Device has a net-config (use disconnect first)",
	127: "Device minor not allocated",
	130: "Resize not allowed during resync.",
	134: "Sync-pause flag is already set",
	135: "Sync-pause flag is already cleared",
	138: "Device does not have a disk-config",
	158: "Unknown resource",
	159: "Resource still in use (delete all minors first)",
	160: "Minor still configured (down it first)",
	161: "Minor or volume exists already (delete it first)",
	162: "Invalid configuration request",
}

func failure(obj string, code int) error {
	return &drbdError{fmt.Sprintf("%s: Failure: (%d) %s\n", obj, code, drbdErrText[code]), 10}
}

// State change errors (enum drbd_state_rv).
const (
	ssTwoPrimaries   = -1
	ssNoUpToDateDisk = -2
	ssNoNetConfig    = -13
	ssAlreadyStandA  = -9
	ssDeviceInUse    = -12
)

var drbdStateErrText = map[int]string{
	ssTwoPrimaries:   "Multiple primaries not allowed by config",
	ssNoUpToDateDisk: "Need access to UpToDate data",
	ssAlreadyStandA:  "Can not disconnect a StandAlone device",
	ssDeviceInUse:    "Device is held open by someone",
	ssNoNetConfig:    "Have no net/connection configuration",
}

func stateFailure(obj string, code int) error {
	exit := 11
	if code == ssNoUpToDateDisk {
		exit = 17
	}
	return &drbdError{fmt.Sprintf("%s: State change failed: (%d) %s\n", obj, code, drbdStateErrText[code]), exit}
}

type drbdCmd struct {
	name   string
	fields []optField
	args   []string // positional argument names, for usage and arity
	run    func(r *Root, c *drbdCall) error
}

// drbdCall is one parsed drbdsetup invocation.
type drbdCall struct {
	pos    []string
	opts   []optValue
	stdout io.Writer
	stderr io.Writer
}

var drbdCmds []drbdCmd

func init() {
	drbdCmds = []drbdCmd{
		{"primary", forceFields, []string{"minor"}, cmdPrimary},
		{"secondary", noFields, []string{"minor"}, cmdSecondary},
		{"attach", attachFields, []string{"minor", "lower_dev", "meta_data_dev", "meta_data_index"}, cmdAttach},
		{"disk-options", diskFields, []string{"minor"}, cmdDiskOptions},
		{"detach", forceFields, []string{"minor"}, cmdDetach},
		{"connect", connectFields, []string{"resource", "local_addr", "remote_addr"}, cmdConnect},
		{"net-options", netFields, []string{"local_addr", "remote_addr"}, cmdNetOptions},
		{"disconnect", forceFields, []string{"local_addr", "remote_addr"}, cmdDisconnect},
		{"resize", resizeFields, []string{"minor"}, cmdResize},
		{"resource-options", resourceFields, []string{"resource"}, cmdNoop(true)},
		{"pause-sync", noFields, []string{"minor"}, cmdPause(true)},
		{"resume-sync", noFields, []string{"minor"}, cmdPause(false)},
		{"down", noFields, []string{"resource"}, cmdDown},
		{"role", noFields, []string{"minor"}, cmdRole},
		{"cstate", noFields, []string{"minor"}, cmdCState},
		{"dstate", noFields, []string{"minor"}, cmdDState},
		{"show", showFields, nil, cmdShow},
		{"wait-connect", waitFields, []string{"minor"}, cmdWait(false)},
		{"wait-sync", waitFields, []string{"minor"}, cmdWait(true)},
		{"new-resource", resourceFields, []string{"resource"}, cmdNewResource},
		{"new-minor", noFields, []string{"resource", "minor", "volume"}, cmdNewMinor},
		{"del-minor", noFields, []string{"minor"}, cmdDelMinor},
		{"del-resource", noFields, []string{"resource"}, cmdDelResource},
	}
}

// kernelCmd is the hidden subcommand that runs the node's DRBD daemon.
const kernelCmd = "__testbed-kernel"

func (r *Root) drbdsetup(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == kernelCmd {
		if err := r.runKernel(nil); err != nil {
			fmt.Fprintf(stderr, "drbd kernel: %v\n", err)
			return 1
		}
		return 0
	}
	// Old syntax "drbdsetup <object> <command>" is still accepted by 8.4.
	if len(args) >= 2 && findDRBDCmd(args[0]) == nil && findDRBDCmd(args[1]) != nil {
		args = append([]string{args[1], args[0]}, args[2:]...)
	}
	if len(args) == 0 {
		drbdUsage(stdout, "")
		return 20
	}
	cmd := findDRBDCmd(args[0])
	if cmd == nil {
		drbdUsage(stdout, "invalid command")
		return 20
	}
	pos, opts, err := parseOpts(args[1:], cmd.fields)
	if err != nil {
		fmt.Fprintf(stderr, "drbdsetup %s: %v\n", cmd.name, err)
		return 20
	}
	if cmd.args != nil && len(pos) < len(cmd.args) {
		fmt.Fprintf(stderr, "USAGE: drbdsetup %s %s\n", cmd.name, strings.Join(cmd.args, " "))
		return 20
	}
	if cmd.args != nil && len(pos) > len(cmd.args) {
		fmt.Fprintf(stderr, "Excess arguments: %s\n", strings.Join(pos[len(cmd.args):], " "))
		return 20
	}
	if err := os.MkdirAll(r.drbdDir(), 0o755); err != nil {
		fmt.Fprintf(stderr, "drbdsetup: %v\n", err)
		return 20
	}
	err = cmd.run(r, &drbdCall{pos: pos, opts: opts, stdout: stdout, stderr: stderr})
	var de *drbdError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &de):
		io.WriteString(stderr, de.text)
		return de.code
	default:
		fmt.Fprintf(stderr, "drbdsetup %s: %v\n", cmd.name, err)
		return 20
	}
}

func findDRBDCmd(name string) *drbdCmd {
	for i := range drbdCmds {
		if drbdCmds[i].name == name {
			return &drbdCmds[i]
		}
	}
	return nil
}

func drbdUsage(w io.Writer, addinfo string) {
	fmt.Fprintf(w, "\nUSAGE: drbdsetup command device arguments options\n\nDevice is usually /dev/drbdX or /dev/drbd/X.\n\nCommands are:\n")
	for _, c := range drbdCmds {
		fmt.Fprintf(w, " %s %s\n", c.name, strings.Join(c.args, " "))
	}
	fmt.Fprintf(w, "\n\nTo get more details about a command issue 'drbdsetup help cmd'.\n\n")
	if addinfo != "" {
		fmt.Fprintf(w, "\n%s\n", addinfo)
	}
}

// parseMinor accepts "3" and "/dev/drbd3" like dt_minor_of_dev.
func parseMinor(s string) (int, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "/dev/drbd/"), "/dev/drbd")
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 || n > 1<<20 {
		return 0, &drbdError{fmt.Sprintf("Cannot determine minor device number of device '%s'\n", s), 20}
	}
	return n, nil
}

// minorArg resolves the minor argument to a configured minor.
func minorArg(st *drbdState, s string) (*drbdMinor, error) {
	n, err := parseMinor(s)
	if err != nil {
		return nil, err
	}
	m := st.Minors[n]
	if m == nil {
		return nil, failure(s, 127)
	}
	return m, nil
}

// parseAddr parses "[af:]ip:port" as drbdsetup does.
func parseAddr(s string) (family, ip string, port int, err error) {
	family = "ipv4"
	rest := s
	for _, af := range []string{"ipv4:", "ipv6:", "ssocks:", "sdp:"} {
		if strings.HasPrefix(s, af) {
			family, rest = strings.TrimSuffix(af, ":"), s[len(af):]
		}
	}
	host, p, err := net.SplitHostPort(rest)
	if err != nil {
		return "", "", 0, &drbdError{fmt.Sprintf("invalid address '%s'\n", s), 20}
	}
	port, err = strconv.Atoi(p)
	if err != nil || net.ParseIP(host) == nil {
		return "", "", 0, &drbdError{fmt.Sprintf("invalid address '%s'\n", s), 20}
	}
	return family, host, port, nil
}

func cmdNoop(bool) func(*Root, *drbdCall) error {
	return func(r *Root, c *drbdCall) error {
		return r.withState(func(st *drbdState) error {
			if st.Resources[c.pos[0]] == nil {
				return failure(c.pos[0], 158)
			}
			return nil
		})
	}
}

func cmdNewResource(r *Root, c *drbdCall) error {
	return r.withState(func(st *drbdState) error {
		// Re-creating an existing resource is a no-op in 8.4; Ganeti relies on it.
		if st.Resources[c.pos[0]] == nil {
			st.Resources[c.pos[0]] = &drbdResource{Name: c.pos[0]}
		}
		return nil
	})
}

func cmdNewMinor(r *Root, c *drbdCall) error {
	res := c.pos[0]
	n, err := parseMinor(c.pos[1])
	if err != nil {
		return err
	}
	vol, err := strconv.Atoi(c.pos[2])
	if err != nil {
		return &drbdError{fmt.Sprintf("invalid volume number '%s'\n", c.pos[2]), 20}
	}
	err = r.withState(func(st *drbdState) error {
		if st.Resources[res] == nil {
			return failure(res, 158)
		}
		if m := st.Minors[n]; m != nil {
			if m.Resource == res && m.Volume == vol {
				return nil // idempotent, as Ganeti's net setup expects
			}
			return failure(res, 161)
		}
		for _, m := range st.Minors {
			if m.Resource == res && m.Volume == vol {
				return failure(res, 161)
			}
		}
		st.Minors[n] = &drbdMinor{Minor: n, Resource: res, Volume: vol, Role: roleSecondary}
		return nil
	})
	if err != nil {
		return err
	}
	return r.ensureKernel()
}

// openBlock checks a device argument like drbdsetup's conv_block_dev. Regular
// files are accepted too so that unit tests can use them as disks.
func openBlock(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &drbdError{fmt.Sprintf("Can not open device '%s': %s\n", path, errnoText(err)), 20}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeDevice == 0 && !fi.Mode().IsRegular() {
		return &drbdError{fmt.Sprintf("%s is not a block device!\n", path), 20}
	}
	return nil
}

// errnoText capitalises like strerror(3).
func errnoText(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func cmdAttach(r *Root, c *drbdCall) error {
	data, meta, idx := c.pos[1], c.pos[2], c.pos[3]
	if err := openBlock(data); err != nil {
		return err
	}
	if err := openBlock(meta); err != nil {
		return err
	}
	if idx != "flexible" && idx != "internal" {
		if _, err := strconv.Atoi(idx); err != nil {
			return &drbdError{fmt.Sprintf("invalid meta-data index '%s'\n", idx), 20}
		}
	}
	err := r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		if m.Disk != nil {
			return failure(c.pos[0], 124)
		}
		h, err := readMeta(meta)
		if err != nil {
			return failure(c.pos[0], 119)
		}
		size, err := deviceSize(data)
		if err != nil {
			return failure(c.pos[0], 104)
		}
		d := &diskConf{Data: data, Meta: meta, MetaIdx: idx, Options: c.opts}
		if v := optGet(c.opts, "size"); v != "" {
			n, _ := parseSize(v, 's')
			if n > size {
				return failure(c.pos[0], 111)
			}
			d.SizeSect = n / 512
		}
		id, err := identify(data)
		if err != nil {
			return failure(c.pos[0], 104)
		}
		if err := makeAlias(r.devPath(m.Minor), id); err != nil {
			return fmt.Errorf("create %s: %w", r.devPath(m.Minor), err)
		}
		if h.Disk != dsUpToDate && h.Disk != dsOutdated {
			h.Disk = dsInconsistent
		}
		m.Disk, m.Meta = d, h
		return nil
	})
	if err != nil {
		return err
	}
	return r.ensureKernel()
}

func cmdDiskOptions(r *Root, c *drbdCall) error {
	return r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		if m.Disk == nil {
			return failure(c.pos[0], 138)
		}
		// disk-options resets what it is not given to the defaults (8.4's
		// set_defaults); only the attach-time size survives.
		opts := c.opts
		if v := optGet(m.Disk.Options, "size"); v != "" {
			opts = append([]optValue{{"size", v}}, opts...)
		}
		m.Disk.Options = opts
		return nil
	})
}

func cmdConnect(r *Root, c *drbdCall) error {
	fam, lip, lport, err := parseAddr(c.pos[1])
	if err != nil {
		return err
	}
	pfam, pip, pport, err := parseAddr(c.pos[2])
	if err != nil {
		return err
	}
	if fam != pfam {
		return &drbdError{"address families of local and peer address differ\n", 20}
	}
	err = r.withState(func(st *drbdState) error {
		res := st.Resources[c.pos[0]]
		if res == nil {
			return failure(c.pos[0], 158)
		}
		if res.Net != nil {
			return failure(c.pos[0], 125)
		}
		for _, o := range st.Resources {
			if o.Net != nil && o.Net.LocalIP == lip && o.Net.LocalPt == lport {
				return failure(c.pos[0], 102)
			}
		}
		proto := optGet(c.opts, "protocol")
		if proto == "" {
			proto = "C"
		}
		res.Net = &netConf{
			Family: fam, LocalIP: lip, LocalPt: lport, PeerIP: pip, PeerPt: pport,
			Options: c.opts, Protocol: strings.ToUpper(proto),
			TwoPri: optGet(c.opts, "allow-two-primaries") == "yes", Epoch: randomHex(8),
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.ensureKernel()
}

// resourceByConn finds the resource connected with the given addresses.
func resourceByConn(st *drbdState, local, peer string) (*drbdResource, error) {
	_, lip, lport, err := parseAddr(local)
	if err != nil {
		return nil, err
	}
	_, pip, pport, err := parseAddr(peer)
	if err != nil {
		return nil, err
	}
	for _, res := range st.Resources {
		n := res.Net
		if n != nil && n.LocalIP == lip && n.LocalPt == lport && n.PeerIP == pip && n.PeerPt == pport {
			return res, nil
		}
	}
	return nil, nil
}

func cmdNetOptions(r *Root, c *drbdCall) error {
	return r.withState(func(st *drbdState) error {
		res, err := resourceByConn(st, c.pos[0], c.pos[1])
		if err != nil {
			return err
		}
		if res == nil {
			return failure(c.pos[0], 162)
		}
		for _, o := range c.opts {
			res.Net.Options = optSet(res.Net.Options, o.Name, o.Value)
		}
		res.Net.TwoPri = optGet(res.Net.Options, "allow-two-primaries") == "yes"
		return nil
	})
}

func cmdDisconnect(r *Root, c *drbdCall) error {
	st, err := r.snapshotState()
	if err != nil {
		return err
	}
	res, err := resourceByConn(st, c.pos[0], c.pos[1])
	if err != nil {
		return err
	}
	if res == nil {
		// Already StandAlone: 8.4 treats disconnecting an unknown
		// connection as done, and Ganeti re-sends disconnect while polling.
		return nil
	}
	for _, m := range st.minorsOf(res.Name) {
		if err := r.replicate(st, m); err != nil {
			return err
		}
	}
	return r.withState(func(st *drbdState) error {
		res, _ := resourceByConn(st, c.pos[0], c.pos[1])
		if res == nil {
			return nil
		}
		r.withdrawEndpoint(res.Net)
		res.Net = nil
		for _, m := range st.minorsOf(res.Name) {
			m.Sync = nil
			if m.Handshake != "" {
				if err := loseContact(m, r.clock()); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func cmdPrimary(r *Root, c *drbdCall) error {
	force := optGet(c.opts, "force") == "yes"
	st, err := r.snapshotState()
	if err != nil {
		return err
	}
	m, err := minorArg(st, c.pos[0])
	if err != nil {
		return err
	}
	now := r.clock()
	v := r.viewMinor(st, m, now)
	if m.Role == rolePrimary {
		return nil
	}
	if v.PRole == rolePrimary {
		if !st.Resources[m.Resource].Net.TwoPri {
			return stateFailure(c.pos[0], ssTwoPrimaries)
		}
		// Entering dual-primary (live migration): take over the other
		// primary's data first so both start from the same bytes.
		if err := r.replicateFrom(st, m, true); err != nil {
			return err
		}
	}
	return r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		v := r.viewMinor(st, m, now)
		upToDate := m.Disk != nil && m.Meta.Disk == dsUpToDate
		peerUpToDate := v.CS != "WFConnection" && v.CS != "StandAlone" && v.PDisk == dsUpToDate
		switch {
		case force && m.Disk != nil && !upToDate:
			m.Meta.Disk = dsUpToDate
			m.Meta.UUID, m.Meta.UUIDTime = newGeneration(now)
		case upToDate && (v.CS == "WFConnection" || v.CS == "StandAlone"):
			// Primary without a peer: a new data generation starts,
			// which wins the resync when the peer comes back. (A peer
			// still exchanging generations is there: real DRBD's
			// handshake takes a round trip, the stand-in's two ticks.)
			m.Meta.UUID, m.Meta.UUIDTime = newGeneration(now)
		case upToDate, peerUpToDate:
		default:
			return stateFailure(c.pos[0], ssNoUpToDateDisk)
		}
		if m.Disk != nil {
			if err := writeMeta(m.Disk.Meta, m.Meta); err != nil {
				return err
			}
		}
		m.Role = rolePrimary
		return nil
	})
}

func cmdSecondary(r *Root, c *drbdCall) error {
	st, err := r.snapshotState()
	if err != nil {
		return err
	}
	m, err := minorArg(st, c.pos[0])
	if err != nil {
		return err
	}
	if err := r.replicate(st, m); err != nil {
		return err
	}
	return r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		m.Role = roleSecondary
		return nil
	})
}

func cmdDetach(r *Root, c *drbdCall) error {
	st, err := r.snapshotState()
	if err != nil {
		return err
	}
	m, err := minorArg(st, c.pos[0])
	if err != nil {
		return err
	}
	if err := r.replicate(st, m); err != nil {
		return err
	}
	return r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		if m.Disk == nil {
			return nil
		}
		m.Disk, m.Meta, m.Sync = nil, metaHeader{}, nil
		removeAlias(r.devPath(m.Minor))
		return nil
	})
}

func cmdDown(r *Root, c *drbdCall) error {
	name := c.pos[0]
	st, err := r.snapshotState()
	if err != nil {
		return err
	}
	if st.Resources[name] == nil {
		return nil // "down" of a missing resource succeeds
	}
	for _, m := range st.minorsOf(name) {
		if err := r.replicate(st, m); err != nil {
			return err
		}
	}
	return r.withState(func(st *drbdState) error {
		res := st.Resources[name]
		if res == nil {
			return nil
		}
		if res.Net != nil {
			r.withdrawEndpoint(res.Net)
		}
		for _, m := range st.minorsOf(name) {
			removeAlias(r.devPath(m.Minor))
			removeAlias(r.peerAlias(m.Minor))
			delete(st.Minors, m.Minor)
		}
		delete(st.Resources, name)
		return nil
	})
}

func cmdDelMinor(r *Root, c *drbdCall) error {
	return r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		if m.Disk != nil || (st.Resources[m.Resource] != nil && st.Resources[m.Resource].Net != nil) {
			return failure(c.pos[0], 160)
		}
		delete(st.Minors, m.Minor)
		return nil
	})
}

func cmdDelResource(r *Root, c *drbdCall) error {
	return r.withState(func(st *drbdState) error {
		if st.Resources[c.pos[0]] == nil {
			return failure(c.pos[0], 158)
		}
		if len(st.minorsOf(c.pos[0])) > 0 {
			return failure(c.pos[0], 159)
		}
		delete(st.Resources, c.pos[0])
		return nil
	})
}

func cmdResize(r *Root, c *drbdCall) error {
	return r.withState(func(st *drbdState) error {
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		if m.Disk == nil {
			return failure(c.pos[0], 138)
		}
		if m.Sync != nil {
			return failure(c.pos[0], 130)
		}
		size, err := deviceSize(m.Disk.Data)
		if err != nil {
			return failure(c.pos[0], 104)
		}
		if v := optGet(c.opts, "size"); v != "" {
			n, _ := parseSize(v, 's')
			if n > size {
				return failure(c.pos[0], 111)
			}
			m.ResizedMiB = n >> 20
		} else {
			m.ResizedMiB = size >> 20
		}
		return nil
	})
}

func cmdPause(pause bool) func(*Root, *drbdCall) error {
	return func(r *Root, c *drbdCall) error {
		return r.withState(func(st *drbdState) error {
			m, err := minorArg(st, c.pos[0])
			if err != nil {
				return err
			}
			if m.UserPaused == pause {
				if pause {
					return failure(c.pos[0], 134)
				}
				return failure(c.pos[0], 135)
			}
			m.UserPaused = pause
			return nil
		})
	}
}

func (r *Root) snapshotState() (*drbdState, error) {
	l, err := lockFile(r.stateLock(), false, true)
	if err != nil {
		return nil, fmt.Errorf("lock drbd state: %w", err)
	}
	defer l.unlock()
	return r.loadState()
}

func (r *Root) viewOf(c *drbdCall) (minorView, error) {
	st, err := r.snapshotState()
	if err != nil {
		return minorView{}, err
	}
	m, err := minorArg(st, c.pos[0])
	if err != nil {
		return minorView{}, err
	}
	return r.viewMinor(st, m, r.clock()), nil
}

func cmdRole(r *Root, c *drbdCall) error {
	v, err := r.viewOf(c)
	if err != nil {
		return err
	}
	if v.CS == "StandAlone" && v.Disk == dsDiskless {
		fmt.Fprintln(c.stdout, "Unconfigured")
		return nil
	}
	fmt.Fprintf(c.stdout, "%s/%s\n", v.Role, v.PRole)
	return nil
}

func cmdCState(r *Root, c *drbdCall) error {
	v, err := r.viewOf(c)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, v.CS)
	return nil
}

func cmdDState(r *Root, c *drbdCall) error {
	v, err := r.viewOf(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s/%s\n", v.Disk, v.PDisk)
	return nil
}

// cmdWait implements wait-connect and wait-sync: wait (up to --wfc-timeout
// seconds, 0 = forever) for the connection and, for wait-sync, for the end
// of the resync; wait-sync then replicates the primary's writes so the
// secondary holds the same bytes when it returns.
func cmdWait(sync bool) func(*Root, *drbdCall) error {
	return func(r *Root, c *drbdCall) error {
		var deadline time.Time
		if v := optGet(c.opts, "wfc-timeout"); v != "" && v != "0" {
			n, _ := strconv.Atoi(v)
			deadline = time.Now().Add(time.Duration(n) * time.Second)
		}
		for {
			st, err := r.snapshotState()
			if err != nil {
				return err
			}
			m, err := minorArg(st, c.pos[0])
			if err != nil {
				return err
			}
			v := r.viewMinor(st, m, r.clock())
			if v.CS == "StandAlone" {
				return nil
			}
			if v.CS == "Connected" || (!sync && v.CS != "WFConnection") {
				if sync {
					return r.replicate(st, m)
				}
				return nil
			}
			if !deadline.IsZero() && time.Now().After(deadline) {
				return &drbdError{"", 5}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func cmdShow(r *Root, c *drbdCall) error {
	st, err := r.snapshotState()
	if err != nil {
		return err
	}
	var minors []*drbdMinor
	switch {
	case len(c.pos) == 0 || c.pos[0] == "all":
		minors = st.sortedMinors()
	case st.Resources[c.pos[0]] != nil:
		minors = st.minorsOf(c.pos[0])
		if len(minors) == 0 {
			io.WriteString(c.stdout, renderShow(st, []string{c.pos[0]}, nil))
			return nil
		}
	default:
		m, err := minorArg(st, c.pos[0])
		if err != nil {
			return err
		}
		minors = []*drbdMinor{m}
	}
	var resNames []string
	seen := map[string]bool{}
	for _, m := range minors {
		if !seen[m.Resource] {
			seen[m.Resource] = true
			resNames = append(resNames, m.Resource)
		}
	}
	if len(c.pos) == 0 || c.pos[0] == "all" {
		for name := range st.Resources {
			if !seen[name] {
				resNames = append(resNames, name)
			}
		}
		sort.Strings(resNames)
	}
	io.WriteString(c.stdout, renderShow(st, resNames, minors))
	return nil
}

// renderShow prints "drbdsetup show" like drbd-utils 8.4's show_scmd.
func renderShow(st *drbdState, resNames []string, minors []*drbdMinor) string {
	var b strings.Builder
	for i, name := range resNames {
		if i > 0 {
			b.WriteString("\n")
		}
		res := st.Resources[name]
		fmt.Fprintf(&b, "resource %s {\n", name)
		b.WriteString("    options {\n    }\n")
		if res.Net != nil {
			showOptions(&b, 1, "net", netFields, res.Net.Options)
			fmt.Fprintf(&b, "    _remote_host {\n        address\t\t\t%s;\n    }\n", showAddr(res.Net.Family, res.Net.PeerIP, res.Net.PeerPt))
		}
		b.WriteString("    _this_host {\n")
		if res.Net != nil {
			fmt.Fprintf(&b, "        address\t\t\t%s;\n", showAddr(res.Net.Family, res.Net.LocalIP, res.Net.LocalPt))
		}
		for _, m := range minors {
			if m.Resource != name {
				continue
			}
			fmt.Fprintf(&b, "        volume %d {\n", m.Volume)
			fmt.Fprintf(&b, "            device\t\t\tminor %d;\n", m.Minor)
			if d := m.Disk; d != nil {
				fmt.Fprintf(&b, "            disk\t\t\t%s;\n", strconv.Quote(d.Data))
				switch d.MetaIdx {
				case "internal":
					b.WriteString("            meta-disk\t\t\tinternal;\n")
				case "flexible":
					fmt.Fprintf(&b, "            meta-disk\t\t\t%s;\n", strconv.Quote(d.Meta))
				default:
					fmt.Fprintf(&b, "            meta-disk\t\t\t%s [ %s ];\n", strconv.Quote(d.Meta), d.MetaIdx)
				}
				showOptions(&b, 3, "disk", attachFields, d.Options)
			}
			b.WriteString("        }\n")
		}
		b.WriteString("    }\n}\n")
	}
	return b.String()
}

func showAddr(family, ip string, port int) string {
	if family == "ipv6" {
		return fmt.Sprintf("%s [%s]:%d", family, ip, port)
	}
	return fmt.Sprintf("%s %s:%d", family, ip, port)
}
