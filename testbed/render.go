package testbed

import (
	"fmt"
	"strconv"
	"strings"
)

// spec is a bed as written to bed.json: what the supervisor builds and
// what clients read to find nodes.
type spec struct {
	ID     int    `json:"id"`
	Dir    string `json:"dir"`
	VG     string `json:"vg"`
	PVSize int64  `json:"pv_size"`
	Nodes  []Node `json:"nodes"`
}

// DRBDStatusFile is where the DRBD stand-in keeps /proc/drbd-format status
// on every node (the inventory's drbd_status_file).
const DRBDStatusFile = "/run/testbed/drbd/proc_drbd"

func q(s string) string { return strconv.Quote(s) }

// renderInventory writes a ganetictl inventory for the first n nodes of s
// (all when n <= 0), with paths relative to the bed directory.
func renderInventory(s spec, n int, stateDir string) string {
	nodes := s.Nodes
	if n > 0 && n < len(nodes) {
		nodes = nodes[:n]
	}
	nm := naming{s.ID}
	var b strings.Builder
	fmt.Fprintf(&b, `# ganetictl inventory of test bed %d (written by testbed; regenerated on start).
# Relative paths are relative to this file.

[cluster]
name = %s
master = %s
volume_group = %s
enabled_hypervisors = ["kvm"]
enabled_disk_templates = ["plain", "drbd", "file", "sharedfile", "diskless", "rbd"]
file_storage_dir = "/srv/ganeti/file-storage"
shared_file_storage_dir = "/srv/ganeti/shared-file-storage"
rbd_pool = "rbd"
mac_prefix = "aa:00:%02x"
candidate_pool_size = 10
drbd_status_file = %s
master_netdev = "br0"

[ssh]
user = "root"
identity_file = "id_ed25519"
use_agent = false
known_hosts = "known_hosts"
port = 22
connect_timeout = "5s"
command_timeout = "30m"
parallel = 32

[state]
dir = %s
backend = "dir"

[defaults.beparams]
maxmem = 64
minmem = 64
vcpus = 1
auto_balance = true

[defaults.nicparams]
mode = "bridged"
link = "br0"

[hypervisors.kvm]
kernel_path = ""
serial_console = true

[[groups]]
name = "default"
alloc_policy = "preferred"
`, s.ID, q(nm.clusterName()), q(nodes[0].Name), q(s.VG), s.ID, q(DRBDStatusFile), q(stateDir))
	for _, nd := range nodes {
		fmt.Fprintf(&b, "\n[[nodes]]\nname = %s\naddress = %s\nsecondary_address = %s\ngroup = \"default\"\n",
			q(nd.Name), q(nd.Addr), q(nd.SecondaryAddr))
	}
	return b.String()
}

// renderSSHConfig is the controller's OpenSSH client config: node names map
// to addresses, host keys are checked strictly against the bed's file.
func renderSSHConfig(l layout, nodes []Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# OpenSSH client config of the test bed in %s: ssh -F %s node1\n", l.dir, l.sshConfig())
	for _, n := range nodes {
		fmt.Fprintf(&b, "Host %s\n  HostName %s\n", n.Name, n.Addr)
	}
	fmt.Fprintf(&b, `Host *
  User root
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  BatchMode yes
  ConnectTimeout 5
  KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512@openssh.com
  LogLevel ERROR
`, l.clientKey(), l.knownHosts())
	return b.String()
}

// renderKnownHosts lists every node under its name and both addresses.
// hostKeys holds "ssh-ed25519 AAAA..." per node name.
func renderKnownHosts(nodes []Node, hostKeys map[string]string) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s,%s,%s %s\n", n.Name, n.Addr, n.SecondaryAddr, hostKeys[n.Name])
	}
	return b.String()
}

// renderHosts is every node's /etc/hosts.
func renderHosts(nodes []Node) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s\t%s\n", n.Addr, n.Name)
	}
	return b.String()
}

// sshdConfig is every node's /etc/ssh/sshd_config. sshd is PID 1 of the
// node, so no pid file; limits are generous for parallel e2e tests.
const sshdConfig = `# test-bed node sshd (written at every boot)
ListenAddress 0.0.0.0
AddressFamily inet
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
MaxStartups 400:30:800
MaxSessions 400
LogLevel ERROR
`

// nodeSSHConfig is every node's /etc/ssh/ssh_config, so node-to-node root
// ssh by name works with strict host-key checking.
const nodeSSHConfig = `# test-bed node ssh client config (written at every boot)
Host *
  User root
  IdentityFile /root/.ssh/id_ed25519
  StrictHostKeyChecking yes
  CheckHostIP no
  BatchMode yes
  ConnectTimeout 5
  GlobalKnownHostsFile /etc/ssh/ssh_known_hosts
  KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512@openssh.com
  LogLevel ERROR
`

// renderLVMConf makes LVM see only the node's PV loop device and never try
// device-mapper (the kernel has none); LV devices come from lvdev.
func renderLVMConf(pvLoop string) string {
	return fmt.Sprintf(`# test-bed node lvm.conf (written at every boot)
devices {
  global_filter = [ "a|^%s$|", "r|.*|" ]
  obtain_device_list_from_udev = 0
  use_devicesfile = 0
}
activation {
  udev_sync = 0
  udev_rules = 0
  monitoring = 0
}
global {
  activation = 0
  use_lvmpolld = 0
  event_activation = 0
}
`, pvLoop)
}
