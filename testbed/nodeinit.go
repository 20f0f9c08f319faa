package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ganetictl/ganetictl/testbed/lvdev"
)

// nodeConfig is what the supervisor hands a node at boot (node.json).
type nodeConfig struct {
	Node
	ID      int    `json:"id"`    // bed id
	Index   int    `json:"index"` // N of nodeN
	BedDir  string `json:"bed_dir"`
	NodeDir string `json:"node_dir"`
	VG      string `json:"vg"`
	PVLoop  string `json:"pv_loop"` // /dev/loopN holding the node's PV image
	Home    string `json:"home"`    // root's home directory
}

// nodePath is the PATH of everything a node runs; /usr/local/sbin (the
// bed's tool wrappers) comes first, as in sshd's default root PATH.
const nodePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// NodeInit is PID 1 of a node: it builds the node's private file systems,
// network and volume group, then execs sshd -D. It only returns on error.
// It runs as "tbtool node-init node.json" inside fresh namespaces. onBoot,
// if set, runs last, with the node's file systems and PATH in place (tbtool
// uses it to initialise the stand-ins' kernel state and the OS definition).
func NodeInit(cfgPath string, onBoot func() error) error {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var c nodeConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	fail := func(op string, err error) error { return fmt.Errorf("%s: boot: %s: %w", c.Name, op, err) }
	bl, nl := layout{c.BedDir}, nodeLayout{c.NodeDir}

	// Read what the node needs from the bed dir before /tmp (which holds
	// it) is replaced by the node's own.
	files := map[string][]byte{}
	for name, p := range map[string]string{
		"hosts": bl.hosts(), "known_hosts": bl.knownHosts(), "id": bl.clientKey(), "id.pub": bl.clientKey() + ".pub",
		"hostkey": nl.hostKey(), "hostkey.pub": nl.hostKey() + ".pub",
	} {
		if files[name], err = os.ReadFile(p); err != nil {
			return fail("read", err)
		}
	}
	if err := unix.Sethostname([]byte(c.Name)); err != nil {
		return fail("hostname", err)
	}
	if err := mountNode(c, bl, nl); err != nil {
		return fail("mount", err)
	}
	if err := populateDev(c.PVLoop); err != nil {
		return fail("dev", err)
	}
	ssh := filepath.Join(c.Home, ".ssh")
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"/etc/hostname", []byte(c.Name + "\n"), 0o644},
		{"/etc/hosts", files["hosts"], 0o644},
		{"/etc/ssh/sshd_config", []byte(sshdConfig), 0o644},
		{"/etc/ssh/ssh_config", []byte(nodeSSHConfig), 0o644},
		{"/etc/ssh/ssh_known_hosts", files["known_hosts"], 0o644},
		{"/etc/ssh/ssh_host_ed25519_key", files["hostkey"], 0o600},
		{"/etc/ssh/ssh_host_ed25519_key.pub", files["hostkey.pub"], 0o644},
		{"/etc/lvm/lvm.conf", []byte(renderLVMConf(c.PVLoop)), 0o644},
		{filepath.Join(ssh, "authorized_keys"), files["id.pub"], 0o600},
		{filepath.Join(ssh, "id_ed25519"), files["id"], 0o600},
		{filepath.Join(ssh, "id_ed25519.pub"), files["id.pub"], 0o644},
		{filepath.Join(ssh, "known_hosts"), files["known_hosts"], 0o644},
	} {
		if err := writeFile(f.path, f.data, f.mode); err != nil {
			return fail("write", err)
		}
	}
	ctx := context.Background()
	if err := ipBatch(ctx, true, nodeNetLines(naming{c.ID}, c.Index, c.Node)); err != nil {
		return fail("network", err)
	}
	os.Clearenv()
	for _, kv := range []string{"PATH=" + nodePath, "HOME=" + c.Home, "LANG=C.UTF-8", "LVM_SUPPRESS_FD_WARNINGS=1"} {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	if err := ensureVG(ctx, c.VG, c.PVLoop); err != nil {
		return fail("lvm", err)
	}
	// Real nodes activate their LVs at boot; so do test-bed nodes.
	if err := lvdev.ActivateAll(ctx, c.VG); err != nil {
		fmt.Fprintf(os.Stderr, "%s: boot: activate %s: %v\n", c.Name, c.VG, err)
	}
	if onBoot != nil {
		if err := onBoot(); err != nil {
			return fail("boot hook", err)
		}
	}
	if err := os.Chdir("/"); err != nil {
		return fail("chdir", err)
	}
	err = syscall.Exec("/usr/sbin/sshd", []string{"/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"}, os.Environ())
	return fail("exec sshd", err)
}

func writeFile(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	_ = os.Remove(p) // WriteFile keeps the old mode of an existing file
	return os.WriteFile(p, data, mode)
}

// mountNode gives the node its private trees. Order matters: everything
// read from the bed dir (under the host /tmp) is bound before /tmp itself
// is replaced.
func mountNode(c nodeConfig, bl layout, nl nodeLayout) error {
	steps := []struct {
		src, dst, fstype, data string
		flags                  uintptr
		mkdir                  bool
	}{
		{"sysfs", "/sys", "sysfs", "", 0, false}, // shows this netns's interfaces
		{"overlay", "/etc", "overlay", "lowerdir=/etc,upperdir=" + nl.upper("etc") + ",workdir=" + nl.work("etc"), 0, false},
		{"overlay", "/var", "overlay", "lowerdir=/var,upperdir=" + nl.upper("var") + ",workdir=" + nl.work("var"), 0, false},
		{nl.srv(), "/srv", "", "", unix.MS_BIND, false},
		{bl.sharedFiles(), "/srv/ganeti/shared-file-storage", "", "", unix.MS_BIND, true},
		{bl.shared(), "/srv/testbed-shared", "", "", unix.MS_BIND, true},
		{nl.root(), c.Home, "", "", unix.MS_BIND, false},
		{nl.testbed(), "/var/lib/testbed", "", "", unix.MS_BIND, true},
		{bl.bin(), "/usr/local/sbin", "", "", unix.MS_BIND, false},
		{nl.tmp(), "/tmp", "", "", unix.MS_BIND, false},
		{"tmpfs", "/run", "tmpfs", "mode=755,size=256m", unix.MS_NOSUID | unix.MS_NODEV, false},
	}
	for _, s := range steps {
		if s.mkdir {
			if err := os.MkdirAll(s.dst, 0o755); err != nil {
				return err
			}
		}
		if err := unix.Mount(s.src, s.dst, s.fstype, s.flags, s.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", s.src, s.dst, err)
		}
	}
	for _, d := range []string{"/srv/ganeti/file-storage", "/srv/ganeti/os", "/var/lib/ganeti", "/var/log/ganeti",
		"/etc/ganeti", "/run/sshd", "/run/lock/lvm", "/run/lvm", "/run/ganeti", "/run/testbed", "/run/user"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod("/tmp", 0o1777); err != nil {
		return err
	}
	if err := os.Chmod("/run/lock", 0o1777); err != nil {
		return err
	}
	return mountKernelFiles()
}

// mountKernelFiles gives the node files of its own where the host
// kernel's would show through /proc (every node shares the host kernel):
//   - /proc/sys/kernel/random/boot_id, new at every boot of the node (the
//     watcher notices rebooted nodes by it);
//   - /proc/sysrq-trigger (where the kernel has one), a plain file, so
//     that `node powercycle` (which writes "b" there) can never reboot the
//     host; the bed's reboot stand-in power-cycles the node instead.
//
// The node does not boot without them.
func mountKernelFiles() error {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80
	bootID := fmt.Sprintf("%x-%x-%x-%x-%x\n", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
	for _, f := range []struct{ own, over, data string }{
		{"/run/testbed/boot_id", "/proc/sys/kernel/random/boot_id", bootID},
		{"/run/testbed/sysrq-trigger", "/proc/sysrq-trigger", ""},
	} {
		if _, err := os.Stat(f.over); errors.Is(err, os.ErrNotExist) && f.over == "/proc/sysrq-trigger" {
			continue // a kernel without magic SysRq: nothing to shield
		}
		if err := os.WriteFile(f.own, []byte(f.data), 0o644); err != nil {
			return err
		}
		if err := unix.Mount(f.own, f.over, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", f.own, f.over, err)
		}
	}
	return nil
}

// devNodes are copied from the host /dev into the node's private /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty", "net/tun", "kvm", "loop-control", "fuse"}

// populateDev mounts a private tmpfs /dev with the usual nodes, so
// stand-ins and LV wrappers can mknod devices that only this node sees.
func populateDev(pvLoop string) error {
	type node struct {
		name string
		st   unix.Stat_t
	}
	var keep []node
	for _, n := range devNodes {
		var st unix.Stat_t
		if err := unix.Stat("/dev/"+n, &st); err == nil {
			keep = append(keep, node{n, st})
		}
	}
	var pv unix.Stat_t
	if err := unix.Stat(pvLoop, &pv); err != nil {
		return fmt.Errorf("stat %s: %w", pvLoop, err)
	}
	keep = append(keep, node{strings.TrimPrefix(pvLoop, "/dev/"), pv})
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID, "mode=755,size=64m"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, n := range keep {
		p := "/dev/" + n.name
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := unix.Mknod(p, n.st.Mode, int(n.st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", p, err)
		}
		if err := unix.Chmod(p, n.st.Mode&0o7777); err != nil {
			return err
		}
	}
	for _, d := range []string{"/dev/pts", "/dev/shm", "/dev/mqueue"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	if err := unix.Mount("shm", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	if err := unix.Mount("mqueue", "/dev/mqueue", "mqueue", 0, ""); err != nil {
		return fmt.Errorf("mount /dev/mqueue: %w", err)
	}
	for link, target := range map[string]string{
		"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2", "/dev/core": "/proc/kcore",
	} {
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	return nil
}

// ensureVG creates the node's PV and VG on first boot.
func ensureVG(ctx context.Context, vg, pv string) error {
	if lvm(ctx, "vgs", vg) == nil {
		return nil
	}
	if err := lvm(ctx, "pvcreate", "-q", pv); err != nil {
		return err
	}
	return lvm(ctx, "vgcreate", "-q", vg, pv)
}

func lvm(ctx context.Context, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, "/usr/sbin/"+tool, args...)
	cmd.Args[0] = tool
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s %s: exit %d: %s", tool, strings.Join(args, " "), ee.ExitCode(), strings.TrimSpace(errb.String()))
		}
		return fmt.Errorf("%s: %w", tool, err)
	}
	return nil
}
