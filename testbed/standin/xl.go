package standin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// xl domains are records in RunDir/xl/domains.json (no guest runs). A
// running domain shows as "-b----" (idle), a paused one "--p---", one shut
// down by "xl shutdown" and kept by on_poweroff='preserve' as "---s--".

type xlDomain struct {
	Name    string   `json:"name"`
	ID      int      `json:"id"`
	Mem     int64    `json:"mem"`    // MiB, current
	MaxMem  int64    `json:"maxmem"` // MiB
	VCPUs   int      `json:"vcpus"`
	Paused  bool     `json:"paused,omitempty"`
	Down    bool     `json:"shutdown,omitempty"`
	Start   int64    `json:"start"` // unix nanos
	Config  string   `json:"config"`
	Disks   []string `json:"disks,omitempty"`
	Created int64    `json:"created"`
}

type xlState struct {
	NextID  int         `json:"next_id"`
	Domains []*xlDomain `json:"domains"`
}

// Node capacity the stand-in hypervisor reports (MiB, CPUs).
var (
	xlTotalMemory int64 = 16384
	xlDom0Memory  int64 = 1023
	xlCPUs              = 4
)

// xlError is an xl failure: message and exit code.
type xlError struct {
	msg  string
	code int
}

func (e *xlError) Error() string { return e.msg }

func xlFail(format string, args ...any) error {
	return &xlError{fmt.Sprintf(format, args...), 1}
}

func noDomain(name string) error {
	return xlFail("%s is an invalid domain identifier (rc=-6)", name)
}

func (r *Root) xlDir() string { return filepath.Join(r.RunDir, "xl") }

func (r *Root) withXL(fn func(st *xlState) error) error {
	l, err := lockFile(filepath.Join(r.xlDir(), "lock"), true, true)
	if err != nil {
		return fmt.Errorf("lock xl state: %w", err)
	}
	defer l.unlock()
	st, err := r.loadXL()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return writeJSONAtomic(filepath.Join(r.xlDir(), "domains.json"), st)
}

func (r *Root) loadXL() (*xlState, error) {
	st := &xlState{NextID: 1}
	if _, err := readJSON(filepath.Join(r.xlDir(), "domains.json"), st); err != nil {
		return nil, fmt.Errorf("load xl state: %w", err)
	}
	return st, nil
}

func (st *xlState) find(name string) *xlDomain {
	for _, d := range st.Domains {
		if d.Name == name || strconv.Itoa(d.ID) == name {
			return d
		}
	}
	return nil
}

func (st *xlState) remove(d *xlDomain) {
	for i, x := range st.Domains {
		if x == d {
			st.Domains = append(st.Domains[:i], st.Domains[i+1:]...)
			return
		}
	}
}

func (st *xlState) usedMem() int64 {
	var n int64
	for _, d := range st.Domains {
		n += d.Mem
	}
	return n
}

func (r *Root) xl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := r.xlRun(args, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	var xe *xlError
	if errors.As(err, &xe) {
		fmt.Fprintln(stderr, xe.msg)
		return xe.code
	}
	fmt.Fprintf(stderr, "xl: %v\n", err)
	return 1
}

// splitFlags separates leading single-letter flags (and -s/-C values for
// migrate) from positional arguments.
func splitFlags(args []string, withValue string) (flags map[string]string, pos []string) {
	flags = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 1 && a[0] == '-' {
			if strings.Contains(withValue, a) && i+1 < len(args) {
				flags[a] = args[i+1]
				i++
			} else {
				flags[a] = ""
			}
			continue
		}
		pos = append(pos, a)
	}
	return flags, pos
}

func (r *Root) xlRun(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(r.xlDir(), 0o755); err != nil {
		return err
	}
	if len(args) == 0 {
		fmt.Fprint(stdout, xlUsage)
		return &xlError{"", 1}
	}
	cmd, rest := args[0], args[1:]
	flags, pos := splitFlags(rest, "-s -C")
	need := func(n int) error {
		if len(pos) < n {
			return xlFail("'xl %s' requires at least %d argument.\n\nUsage: xl %s ...", cmd, n, cmd)
		}
		return nil
	}
	switch cmd {
	case "help":
		fmt.Fprint(stdout, xlUsage)
		return nil
	case "info":
		return r.xlInfo(stdout)
	case "list":
		_, long := flags["-l"]
		if _, ok := flags["--long"]; ok {
			long = true
		}
		return r.xlList(pos, long, stdout)
	case "uptime":
		return r.xlUptime(pos, stdout)
	case "create":
		if err := need(1); err != nil {
			return err
		}
		_, paused := flags["-p"]
		return r.xlCreate(pos[0], paused, stderr)
	case "shutdown", "destroy", "reboot", "pause", "unpause":
		if err := need(1); err != nil {
			return err
		}
		return r.xlLifecycle(cmd, pos[0], flags, stderr)
	case "rename":
		if err := need(2); err != nil {
			return err
		}
		return r.withXL(func(st *xlState) error {
			d := st.find(pos[0])
			if d == nil {
				return noDomain(pos[0])
			}
			if st.find(pos[1]) != nil {
				return xlFail("libxl: error: domain with name \"%s\" already exists.", pos[1])
			}
			d.Name = pos[1]
			return nil
		})
	case "mem-set":
		if err := need(2); err != nil {
			return err
		}
		return r.xlMemSet(pos[0], pos[1])
	case "console":
		if err := need(1); err != nil {
			return err
		}
		return r.xlConsole(pos[0], stdin, stdout)
	case "migrate":
		if err := need(2); err != nil {
			return err
		}
		sshCmd, ok := flags["-s"]
		if !ok {
			sshCmd = "ssh"
		}
		return r.xlMigrate(pos[0], pos[1], sshCmd, flags["-C"], stderr)
	case "migrate-receive":
		return r.xlMigrateReceive(stdin, stdout, stderr)
	}
	fmt.Fprint(stderr, xlUsage)
	return &xlError{"", 1}
}

const xlUsage = `Usage xl [-vfNtT] <subcommand> [args]

xl full list of subcommands:

 create              Create a domain from config file <filename>
 list                List information about all/some domains
 destroy             Terminate a domain immediately
 shutdown            Issue a shutdown signal to a domain
 reboot              Issue a reboot signal to a domain
 pause               Pause execution of a domain
 unpause             Unpause a paused domain
 console             Attach to domain's console
 migrate             Migrate a domain to another host
 info                Get information about Xen host
 mem-set             Set the current memory usage for a domain
 migrate-receive     Restore a domain from a saved state
 rename              Rename a domain
 uptime              Print uptime for all/some domains
`

// xlConfig is the part of a domain config file the stand-in uses.
type xlConfig struct {
	Name   string
	Memory int64
	MaxMem int64
	VCPUs  int
	Disks  []string
}

// parseXLConfig reads xl's Python-like "key = value" config: quoted
// strings, integers and [ ... ] lists of quoted strings.
func parseXLConfig(text string) (xlConfig, error) {
	c := xlConfig{VCPUs: 1}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("config parsing error near line %d: syntax error", n+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "name":
			c.Name = strings.Trim(v, `'"`)
		case "memory", "maxmem", "vcpus":
			i, err := strconv.ParseInt(strings.Trim(v, `'"`), 10, 64)
			if err != nil {
				return c, fmt.Errorf("config parsing error near line %d: %s is not a number", n+1, k)
			}
			switch k {
			case "memory":
				c.Memory = i
			case "maxmem":
				c.MaxMem = i
			default:
				c.VCPUs = int(i)
			}
		case "disk":
			for _, e := range strings.Split(strings.Trim(v, "[] "), "'") {
				if e = strings.TrimSpace(e); e != "" && e != "," {
					c.Disks = append(c.Disks, e)
				}
			}
		}
	}
	if c.Name == "" {
		return c, fmt.Errorf("domain name must be specified")
	}
	if c.Memory == 0 {
		c.Memory = 128
	}
	if c.MaxMem < c.Memory {
		c.MaxMem = c.Memory
	}
	return c, nil
}

// diskTarget returns the path of a disk spec "phy:/path,sda,w".
func diskTarget(spec string) string {
	p, _, _ := strings.Cut(spec, ",")
	if _, after, ok := strings.Cut(p, ":"); ok {
		return after
	}
	return p
}

func (r *Root) xlCreate(file string, paused bool, stderr io.Writer) error {
	fmt.Fprintf(stderr, "Parsing config from %s\n", file)
	b, err := os.ReadFile(file)
	if err != nil {
		return xlFail("Failed to read config file: %s: %v", file, err)
	}
	return r.createDomain(string(b), paused, "")
}

// createDomain starts a domain from config text, under name override if set.
func (r *Root) createDomain(text string, paused bool, name string) error {
	c, err := parseXLConfig(text)
	if err != nil {
		return xlFail("%v", err)
	}
	if name == "" {
		name = c.Name
	}
	for _, d := range c.Disks {
		if _, err := os.Stat(diskTarget(d)); err != nil {
			return xlFail("libxl: error: libxl_device.c: Disk vdev=%s failed: %s does not exist\nlibxl: error: libxl_create.c: cannot (re-)build domain: -3", diskName(d), diskTarget(d))
		}
	}
	return r.withXL(func(st *xlState) error {
		if st.find(name) != nil {
			return xlFail("libxl: error: libxl_create.c: Domain %d:domain with name \"%s\" already exists.", st.NextID, name)
		}
		if free := xlTotalMemory - xlDom0Memory - st.usedMem(); c.Memory > free {
			return xlFail("libxl: error: libxl.c: failed to free memory for the domain (need %d MiB, %d MiB free)", c.Memory, free)
		}
		now := r.clock().UnixNano()
		st.Domains = append(st.Domains, &xlDomain{
			Name: name, ID: st.NextID, Mem: c.Memory, MaxMem: c.MaxMem, VCPUs: c.VCPUs,
			Paused: paused, Start: now, Created: now, Config: text, Disks: c.Disks,
		})
		st.NextID++
		return nil
	})
}

func diskName(spec string) string {
	parts := strings.Split(spec, ",")
	if len(parts) > 1 {
		return parts[1]
	}
	return spec
}

func (r *Root) xlLifecycle(cmd, name string, flags map[string]string, stderr io.Writer) error {
	return r.withXL(func(st *xlState) error {
		d := st.find(name)
		if d == nil {
			return noDomain(name)
		}
		switch cmd {
		case "destroy":
			st.remove(d)
		case "shutdown":
			if _, wait := flags["-w"]; wait {
				fmt.Fprintf(stderr, "Waiting for 1 domains\nDomain %d has been shut down, reason code 0\n", d.ID)
			}
			d.Down = true
		case "reboot":
			// A PV reboot rebuilds the domain: new ID, CPU time from zero.
			d.ID = st.NextID
			st.NextID++
			d.Start, d.Down, d.Paused = r.clock().UnixNano(), false, false
		case "pause":
			d.Paused = true
		case "unpause":
			d.Paused = false
		}
		return nil
	})
}

func (r *Root) xlMemSet(name, mem string) error {
	kb, err := parseXLMemKB(mem)
	if err != nil {
		return xlFail("invalid memory size: %s", mem)
	}
	return r.withXL(func(st *xlState) error {
		d := st.find(name)
		if d == nil {
			return noDomain(name)
		}
		mib := kb >> 10
		if mib > d.MaxMem {
			return xlFail("libxl: error: libxl.c: memory_static_max must be greater than or equal to memory_dynamic_max")
		}
		d.Mem = mib
		return nil
	})
}

// parseXLMemKB parses xl's memory sizes: a number with an optional
// b/k/m/g/t suffix, MiB without one.
func parseXLMemKB(s string) (int64, error) {
	t := strings.ToLower(s)
	shift := 10
	if t != "" {
		switch t[len(t)-1] {
		case 'b':
			shift, t = -10, t[:len(t)-1]
		case 'k':
			shift, t = 0, t[:len(t)-1]
		case 'm':
			t = t[:len(t)-1]
		case 'g':
			shift, t = 20, t[:len(t)-1]
		case 't':
			shift, t = 30, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if shift < 0 {
		return n >> 10, nil
	}
	return n << shift, nil
}

func (d *xlDomain) state() string {
	switch {
	case d.Down:
		return "---s--"
	case d.Paused:
		return "--p---"
	}
	return "-b----"
}

// cpuTime is a made-up but monotonic CPU time: a guest that idles a lot.
func (d *xlDomain) cpuTime(now time.Time) float64 {
	return 0.1 + float64(now.UnixNano()-d.Start)/1e9/100
}

const (
	xlListHeader = "Name                                        ID   Mem VCPUs\tState\tTime(s)"
	xlRowFormat  = "%-40s %5d %5d %5d     %s %8.1f\n"
)

// xlList prints "xl list" like Xen 4.x: "%-40s %5d %5lu %5d     %s %8.1f".
func (r *Root) xlList(names []string, long bool, stdout io.Writer) error {
	st, err := r.loadXL()
	if err != nil {
		return err
	}
	doms := append([]*xlDomain(nil), st.Domains...)
	sort.Slice(doms, func(i, j int) bool { return doms[i].ID < doms[j].ID })
	if len(names) > 0 {
		var sel []*xlDomain
		for _, n := range names {
			if n == "Domain-0" || n == "0" {
				sel = append(sel, nil)
				continue
			}
			d := st.find(n)
			if d == nil {
				return noDomain(n)
			}
			sel = append(sel, d)
		}
		doms = sel
	} else {
		doms = append([]*xlDomain{nil}, doms...)
	}
	now := r.clock()
	if long {
		return r.xlListLong(doms, now, stdout)
	}
	fmt.Fprintln(stdout, expandTabs(xlListHeader))
	for _, d := range doms {
		if d == nil {
			fmt.Fprintf(stdout, xlRowFormat, "Domain-0", 0, xlDom0Memory, xlCPUs, "r-----", r.nodeUptime(now))
			continue
		}
		fmt.Fprintf(stdout, xlRowFormat, d.Name, d.ID, d.Mem, d.VCPUs, d.state(), d.cpuTime(now))
	}
	return nil
}

// expandTabs expands tabs to 8-column stops (xl's header uses tabs).
func expandTabs(s string) string {
	var b strings.Builder
	col := 0
	for _, c := range s {
		if c == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(c)
		col++
		if c == '\n' {
			col = 0
		}
	}
	return b.String()
}

func (r *Root) xlListLong(doms []*xlDomain, now time.Time, stdout io.Writer) error {
	type cinfo struct {
		Name string `json:"name"`
	}
	type binfo struct {
		MaxMemKB    int64 `json:"max_memkb"`
		TargetMemKB int64 `json:"target_memkb"`
		MaxVCPUs    int   `json:"max_vcpus"`
	}
	type cfg struct {
		CInfo cinfo `json:"c_info"`
		BInfo binfo `json:"b_info"`
	}
	type entry struct {
		DomID  int `json:"domid"`
		Config cfg `json:"config"`
	}
	var out []entry
	for _, d := range doms {
		if d == nil {
			out = append(out, entry{0, cfg{cinfo{"Domain-0"}, binfo{xlDom0Memory << 10, xlDom0Memory << 10, xlCPUs}}})
			continue
		}
		out = append(out, entry{d.ID, cfg{cinfo{d.Name}, binfo{d.MaxMem << 10, d.Mem << 10, d.VCPUs}}})
	}
	b, err := json.MarshalIndent(out, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

func (r *Root) nodeUptime(now time.Time) float64 {
	fi, err := os.Stat(r.RunDir)
	if err != nil {
		return 0
	}
	return max(0, now.Sub(fi.ModTime()).Seconds())
}

// xlInfo prints the "key : value" host summary; key set and order follow
// Xen 4.0's "xl info" (xen-xl-info-4.0.1.txt), version numbers Xen 4.11.
func (r *Root) xlInfo(stdout io.Writer) error {
	st, err := r.loadXL()
	if err != nil {
		return err
	}
	free := xlTotalMemory - xlDom0Memory - st.usedMem()
	kv := [][2]string{
		{"host", r.hostname()},
		{"release", "6.1.0"},
		{"version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0 (testbed)"},
		{"machine", "x86_64"},
		{"nr_cpus", strconv.Itoa(xlCPUs)},
		{"nr_nodes", "1"},
		{"cores_per_socket", strconv.Itoa(xlCPUs)},
		{"threads_per_core", "1"},
		{"cpu_mhz", "2800"},
		{"hw_caps", "bfebfbff:20100800:00000000:00000940:0004e3bd:00000000:00000001:00000000"},
		{"virt_caps", ""},
		{"total_memory", strconv.FormatInt(xlTotalMemory, 10)},
		{"free_memory", strconv.FormatInt(free, 10)},
		{"node_to_cpu", fmt.Sprintf("node0:0-%d", xlCPUs-1)},
		{"node_to_memory", fmt.Sprintf("node0:%d", free)},
		{"node_to_dma32_mem", "node0:2985"},
		{"max_node_id", "0"},
		{"xen_major", "4"},
		{"xen_minor", "11"},
		{"xen_extra", ".4"},
		{"xen_caps", "xen-3.0-x86_64 xen-3.0-x86_32p "},
		{"xen_scheduler", "credit"},
		{"xen_pagesize", "4096"},
		{"platform_params", "virt_start=0xffff800000000000"},
		{"xen_changeset", "unavailable"},
		{"xen_commandline", "placeholder dom0_mem=1024M"},
		{"cc_compiler", "gcc (testbed) "},
		{"cc_compile_by", "testbed"},
		{"cc_compile_domain", "example.com"},
		{"cc_compile_date", "Mon Jan  1 00:00:00 UTC 2024"},
		{"xend_config_format", "4"},
	}
	for _, p := range kv {
		fmt.Fprintf(stdout, "%-23s: %s\n", p[0], p[1])
	}
	return nil
}

func (r *Root) xlUptime(names []string, stdout io.Writer) error {
	st, err := r.loadXL()
	if err != nil {
		return err
	}
	now := r.clock()
	fmt.Fprintf(stdout, "%-33s %4s %s\n", "Name", "ID", "Uptime")
	if len(names) == 0 {
		fmt.Fprintf(stdout, "%-33s %4d %s\n", "Domain-0", 0, uptimeText(time.Duration(r.nodeUptime(now)*1e9)))
	}
	doms := append([]*xlDomain(nil), st.Domains...)
	sort.Slice(doms, func(i, j int) bool { return doms[i].ID < doms[j].ID })
	for _, d := range doms {
		if len(names) > 0 && !contains(names, d.Name) {
			continue
		}
		fmt.Fprintf(stdout, "%-33s %4d %s\n", d.Name, d.ID, uptimeText(now.Sub(time.Unix(0, d.Start))))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func uptimeText(d time.Duration) string {
	s := int64(d.Seconds())
	days, s := s/86400, s%86400
	if days > 0 {
		return fmt.Sprintf("%d days, %2d:%02d:%02d", days, s/3600, s%3600/60, s%60)
	}
	return fmt.Sprintf("%2d:%02d:%02d", s/3600, s%3600/60, s%60)
}

// xlConsole stands in for an interactive console: it greets, echoes what
// it is sent and ends cleanly when its input closes.
func (r *Root) xlConsole(name string, stdin io.Reader, stdout io.Writer) error {
	st, err := r.loadXL()
	if err != nil {
		return err
	}
	if st.find(name) == nil {
		return noDomain(name)
	}
	fmt.Fprintf(stdout, "\r\ntestbed xl console of %s (no guest runs here)\r\n", name)
	if stdin != nil {
		_, _ = io.Copy(stdout, stdin)
	}
	return nil
}

// Migration protocol between "xl migrate" and "xl migrate-receive" over the
// pipe the ssh command (or Ganeti's socat) provides, one line each:
//
//	sender:   "testbed-xl-migrate v1" then the domain as JSON
//	receiver: "READY" (domain created paused as <name>--incoming) or "ERROR ..."
//	sender:   renames its domain to <name>--migratedaway, sends "GO"
//	receiver: renames to <name>, unpauses, replies "DONE"
//	sender:   destroys <name>--migratedaway
//
// The domain thus leaves the source only after the target has it; on any
// failure the source renames it back.
const xlMigrateMagic = "testbed-xl-migrate v1"

func (r *Root) dialMigrate(sshCmd, host string) (io.WriteCloser, io.Reader, func() error, error) {
	if r.migrateDial != nil {
		return r.migrateDial(sshCmd, host)
	}
	cmd := exec.Command("sh", "-c", sshCmd+" "+host+" xl migrate-receive")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return in, out, cmd.Wait, nil
}

func (r *Root) xlMigrate(name, host, sshCmd, configFile string, stderr io.Writer) error {
	st, err := r.loadXL()
	if err != nil {
		return err
	}
	d := st.find(name)
	if d == nil {
		return noDomain(name)
	}
	send := *d
	if configFile != "" {
		b, err := os.ReadFile(configFile)
		if err != nil {
			return xlFail("failed to read config file %s: %v", configFile, err)
		}
		send.Config = string(b)
	}
	in, out, wait, err := r.dialMigrate(sshCmd, host)
	if err != nil {
		return xlFail("xl migrate: failed to start migration transport: %v", err)
	}
	fail := func(format string, args ...any) error {
		in.Close()
		_ = wait()
		return xlFail("migration sender: "+format, args...)
	}
	body, _ := json.Marshal(send)
	if _, err := fmt.Fprintf(in, "%s\n%s\n", xlMigrateMagic, body); err != nil {
		return fail("write failed: %v", err)
	}
	rd := bufio.NewReader(out)
	line, err := rd.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		return fail("target did not accept the domain: %s", strings.TrimSpace(line))
	}
	fmt.Fprintf(stderr, "migration target: Ready to receive domain.\nSaving to migration stream new xl format (info 0x3/0x0/1344)\n")
	away := name + "--migratedaway"
	if err := r.withXL(func(st *xlState) error {
		if d := st.find(name); d != nil {
			d.Name = away
		}
		return nil
	}); err != nil {
		return fail("%v", err)
	}
	rename := func() {
		_ = r.withXL(func(st *xlState) error {
			if d := st.find(away); d != nil {
				d.Name = name
			}
			return nil
		})
	}
	fmt.Fprintf(stderr, "migration sender: Target has acknowledged transfer.\nmigration sender: Giving target permission to start.\n")
	if _, err := fmt.Fprintln(in, "GO"); err != nil {
		rename()
		return fail("write failed: %v", err)
	}
	line, err = rd.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "DONE" {
		rename()
		return fail("target failed to start the domain: %s", strings.TrimSpace(line))
	}
	in.Close()
	_ = wait()
	fmt.Fprintf(stderr, "migration sender: Target reports successful startup.\nMigration successful.\n")
	return r.withXL(func(st *xlState) error {
		if d := st.find(away); d != nil {
			st.remove(d)
		}
		return nil
	})
}

func (r *Root) xlMigrateReceive(stdin io.Reader, stdout, stderr io.Writer) error {
	rd := bufio.NewReader(stdin)
	magic, err := rd.ReadString('\n')
	if err != nil || strings.TrimSpace(magic) != xlMigrateMagic {
		return xlFail("migration target: bad migration stream")
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		return xlFail("migration target: truncated migration stream")
	}
	var d xlDomain
	if err := json.Unmarshal([]byte(line), &d); err != nil {
		return xlFail("migration target: bad domain record: %v", err)
	}
	incoming := d.Name + "--incoming"
	if err := r.createDomain(d.Config, true, incoming); err != nil {
		fmt.Fprintf(stdout, "ERROR %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return err
	}
	fmt.Fprintln(stdout, "READY")
	fmt.Fprintln(stderr, "migration target: Transfer complete, requesting permission to start domain.")
	line, err = rd.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "GO" {
		_ = r.withXL(func(st *xlState) error {
			if x := st.find(incoming); x != nil {
				st.remove(x)
			}
			return nil
		})
		return xlFail("migration target: sender did not give permission to start; domain destroyed")
	}
	err = r.withXL(func(st *xlState) error {
		x := st.find(incoming)
		if x == nil {
			return xlFail("migration target: incoming domain vanished")
		}
		if st.find(d.Name) != nil {
			return xlFail("migration target: domain %s already exists", d.Name)
		}
		x.Name, x.Paused, x.Mem = d.Name, d.Paused, d.Mem
		return nil
	})
	if err != nil {
		fmt.Fprintf(stdout, "ERROR %v\n", err)
		return err
	}
	fmt.Fprintln(stdout, "DONE")
	fmt.Fprintln(stderr, "migration target: Got permission, starting domain.\nmigration target: Domain started successsfully.")
	return nil
}
