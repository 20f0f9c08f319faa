// Command ganetictl-helper is the small static program ganetictl uploads
// to nodes for node-to-node disk copies (package transfer).
//
//	ganetictl-helper recv --listen IP --port P --dst PATH --identity PEM --peer-fp HEX
//	ganetictl-helper send --connect IP --port P --src PATH --identity PEM --peer-fp HEX [--compress zstd] [--rate-limit BYTES/S]
//
// recv listens on IP (port P, or the first free one of P..P+span-1, or
// a kernel-chosen one with P 0), prints {"event":"listening",...} with the
// port and its own fingerprint as one JSON line on stdout, accepts exactly
// one connection that passes the pinned TLS handshake, writes, verifies
// and commits; send connects (retrying until --connect-timeout) and
// streams. Both print progress as JSON lines on stderr and a final
// {"event":"done",...} line on stdout. A helper whose SSH session ends
// (its parent process changes) stops without committing.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ganetictl/ganetictl/transfer"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ganetictl-helper recv|send|tunnel-recv|tunnel-send|version [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	// GANETICTL_HELPER_CPUPROFILE=FILE writes a CPU profile (go tool pprof).
	if p := os.Getenv("GANETICTL_HELPER_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch os.Args[1] {
	case "tunnel-recv": // detached on purpose: no orphan watch
		err = tunnelRecv(ctx, os.Args[2:])
	case "tunnel-send":
		err = tunnelSend(ctx, os.Args[2:])
	case "recv":
		err = recv(orphanWatch(ctx), os.Args[2:])
	case "send":
		err = send(orphanWatch(ctx), os.Args[2:])
	case "version":
		fmt.Println("ganetictl-helper 1")
	default:
		err = fmt.Errorf("unknown mode %q (recv, send, tunnel-recv, tunnel-send, version)", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "ganetictl-helper:", err)
		os.Exit(1)
	}
}

// orphanWatch cancels ctx when the helper's parent changes: the SSH
// session that ran it is gone (ganetictl killed, connection lost), so no
// one will act on its result.
func orphanWatch(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	ppid := os.Getppid()
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != ppid {
					cancel(errors.New("the controlling session ended"))
					return
				}
			}
		}
	}()
	return ctx
}

type common struct {
	port, span    int
	identity      string
	peerFP        string
	insecure      bool
	idle, timeout time.Duration
}

func (c *common) flags(fs *flag.FlagSet, timeoutName string) {
	fs.IntVar(&c.port, "port", 0, "TCP port (0: kernel's choice, recv only)")
	fs.IntVar(&c.span, "port-span", 1, "ports P..P+span-1 are tried in turn")
	fs.StringVar(&c.identity, "identity", "", "this end's certificate and key (PEM)")
	fs.StringVar(&c.peerFP, "peer-fp", "", "the other end's certificate SHA-256 (hex)")
	fs.BoolVar(&c.insecure, "insecure-transport", false, "plain TCP: no authentication, no encryption")
	fs.DurationVar(&c.idle, "idle-timeout", 30*time.Second, "fail when no byte moves for this long")
	fs.DurationVar(&c.timeout, timeoutName, 60*time.Second, "how long to wait for the other end")
}

func (c *common) tls(server bool) (*tls.Config, error) {
	if c.insecure {
		return nil, nil
	}
	if err := transfer.ValidFingerprint(c.peerFP); err != nil {
		return nil, err
	}
	pem := c.identity
	if pem == "-" { // on stdin, so the key never shows in the process list
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
		if err != nil {
			return nil, fmt.Errorf("read the identity from stdin: %w", err)
		}
		pem = string(b)
	}
	id, err := transfer.ParseIdentity(pem)
	if err != nil {
		return nil, err
	}
	if server {
		return transfer.ServerConfig(id, c.peerFP), nil
	}
	return transfer.ClientConfig(id, c.peerFP), nil
}

// events prints JSON lines; stderr for progress, stdout for the rest.
var outMu sync.Mutex

func emit(f *os.File, v any) {
	b, _ := json.Marshal(v)
	outMu.Lock()
	defer outMu.Unlock()
	f.Write(append(b, '\n'))
}

func progress(p transfer.Progress) {
	emit(os.Stderr, struct {
		Event string `json:"event"`
		transfer.Progress
	}{"progress", p})
}

// done reports a finished copy with this end's CPU time, so benchmarks
// can show what each end cost.
func done(st transfer.Stats) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	emit(os.Stdout, map[string]any{"event": "done", "bytes": st.Size, "data": st.Data, "checksum": st.Checksum, "seconds": st.Duration.Seconds(), "cpu_seconds": cpu.Seconds()})
}

func recv(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("recv", flag.ExitOnError)
	var c common
	c.flags(fs, "accept-timeout")
	listen := fs.String("listen", "", "address to listen on (the node's replication address)")
	dst := fs.String("dst", "", "destination file or block device")
	zeroed := fs.Bool("dst-zeroed", false, "the destination device reads as zeros: holes are not written")
	fs.Parse(args)
	if *listen == "" || *dst == "" {
		return errors.New("recv needs --listen and --dst")
	}
	cfg, err := c.tls(true)
	if err != nil {
		return err
	}
	var l net.Listener
	for i := range max(c.span, 1) {
		port := c.port + i
		if c.port == 0 {
			port = 0
		}
		if l, err = net.Listen("tcp", net.JoinHostPort(*listen, strconv.Itoa(port))); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	defer l.Close()
	fp := ""
	if cfg != nil {
		fp = transfer.Fingerprint(cfg.Certificates[0].Certificate[0])
	}
	emit(os.Stdout, map[string]any{"event": "listening", "port": l.Addr().(*net.TCPAddr).Port, "fingerprint": fp})
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	conn, err := transfer.Accept(actx, l, cfg, func(remote string, err error) {
		emit(os.Stderr, map[string]any{"event": "rejected", "remote": remote, "error": err.Error()})
	})
	cancel()
	if err != nil {
		return err
	}
	// Exactly one connection: the port stays open until the copy ends, and
	// anyone else who connects meanwhile is closed on at once, unread.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // l closed
			}
			emit(os.Stderr, map[string]any{"event": "rejected", "remote": c.RemoteAddr().String(), "error": "a transfer is already connected"})
			c.Close()
		}
	}()
	defer conn.Close()
	stopConn := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopConn()
	st, err := transfer.Receive(transfer.WithIdleTimeout(conn, c.idle), transfer.RecvOptions{Dst: *dst, DstZeroed: *zeroed, Progress: progress})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		return err
	}
	done(st)
	return nil
}

func send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	var c common
	c.flags(fs, "connect-timeout")
	connect := fs.String("connect", "", "the receiver's address")
	src := fs.String("src", "", "source file or block device")
	compress := fs.String("compress", "none", "none or zstd")
	rateLimit := fs.Int64("rate-limit", 0, "bytes a second on the connection at most (0: no limit)")
	fs.Parse(args)
	if *connect == "" || *src == "" || c.port == 0 {
		return errors.New("send needs --connect, --port and --src")
	}
	if *compress != "none" && *compress != "zstd" {
		return fmt.Errorf("--compress %q: none or zstd", *compress)
	}
	cfg, err := c.tls(false)
	if err != nil {
		return err
	}
	var addrs []string
	for i := range max(c.span, 1) {
		addrs = append(addrs, net.JoinHostPort(*connect, strconv.Itoa(c.port+i)))
	}
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	conn, err := transfer.Dial(dctx, addrs, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	stopConn := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopConn()
	st, err := transfer.Send(transfer.WithIdleTimeout(conn, c.idle), transfer.SendOptions{Src: *src, Compress: *compress == "zstd", RateLimit: *rateLimit, Progress: progress})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		return err
	}
	done(st)
	return nil
}
