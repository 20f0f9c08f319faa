package testbed

import "path/filepath"

// layout names the files of a bed directory.
type layout struct{ dir string }

func (l layout) marker() string     { return filepath.Join(l.dir, ".ganetictl-testbed") }
func (l layout) spec() string       { return filepath.Join(l.dir, "bed.json") }
func (l layout) sock() string       { return filepath.Join(l.dir, "ctl.sock") }
func (l layout) supLog() string     { return filepath.Join(l.dir, "supervisor.log") }
func (l layout) supPID() string     { return filepath.Join(l.dir, "supervisor.pid") }
func (l layout) bin() string        { return filepath.Join(l.dir, "bin") }
func (l layout) tbtool() string     { return filepath.Join(l.dir, "bin", "tbtool") }
func (l layout) clientKey() string  { return filepath.Join(l.dir, "id_ed25519") }
func (l layout) knownHosts() string { return filepath.Join(l.dir, "known_hosts") }
func (l layout) sshConfig() string  { return filepath.Join(l.dir, "ssh_config") }
func (l layout) inventory() string  { return filepath.Join(l.dir, "inventory.toml") }
func (l layout) hosts() string      { return filepath.Join(l.dir, "hosts") }
func (l layout) shared() string     { return filepath.Join(l.dir, "shared") }

// powerSock is the power operations' socket in the shared directory, the
// nodes' /srv/testbed-shared/power.sock (NodePowerSock).
func (l layout) powerSock() string { return filepath.Join(l.dir, "shared", "power.sock") }

// sharedFiles is the sharedfile storage, apart from the stand-ins' own
// shared state (drbd/, rbd/) so it holds only instance disks.
func (l layout) sharedFiles() string { return filepath.Join(l.dir, "shared", "sharedfile") }
func (l layout) state() string       { return filepath.Join(l.dir, "state") }
func (l layout) node(name string) nodeLayout {
	return nodeLayout{filepath.Join(l.dir, "nodes", name)}
}

// nodeLayout names the host-side files of one node.
type nodeLayout struct{ dir string }

func (l nodeLayout) config() string        { return filepath.Join(l.dir, "node.json") }
func (l nodeLayout) console() string       { return filepath.Join(l.dir, "console.log") }
func (l nodeLayout) initPID() string       { return filepath.Join(l.dir, "init.pid") }
func (l nodeLayout) hostKey() string       { return filepath.Join(l.dir, "ssh_host_ed25519_key") }
func (l nodeLayout) upper(d string) string { return filepath.Join(l.dir, d+".upper") }
func (l nodeLayout) work(d string) string  { return filepath.Join(l.dir, d+".work") }
func (l nodeLayout) srv() string           { return filepath.Join(l.dir, "srv") }
func (l nodeLayout) root() string          { return filepath.Join(l.dir, "root") }
func (l nodeLayout) tmp() string           { return filepath.Join(l.dir, "tmp") }

// testbed is the node's /var/lib/testbed: PV image, faults, stand-in state.
func (l nodeLayout) testbed() string { return filepath.Join(l.dir, "testbed") }
func (l nodeLayout) pvImage() string { return filepath.Join(l.dir, "testbed", "pv.img") }
func (l nodeLayout) faults() string  { return filepath.Join(l.dir, "testbed", "faults") }

// OSDir is the host-side path of the node's /srv/ganeti/os.
func (l nodeLayout) osDir() string { return filepath.Join(l.dir, "srv", "ganeti", "os") }
