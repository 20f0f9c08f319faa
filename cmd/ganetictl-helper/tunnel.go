package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net"
	"os"
	"strconv"

	"github.com/ganetictl/ganetictl/transfer"
)

// The tunnel modes carry one encrypted migration stream between two QEMUs:
//
//	ganetictl-helper tunnel-recv --listen IP --port P --to-unix SOCK --identity - --peer-fp HEX
//	ganetictl-helper tunnel-send --listen-unix SOCK --connect IP --port P --identity - --peer-fp HEX
//
// tunnel-recv (target node) accepts one connection that passes the pinned
// TLS handshake and splices it to the incoming QEMU's unix socket;
// tunnel-send (source node) listens on a unix socket for the source QEMU's
// migration and splices it to a pinned TLS connection to tunnel-recv. Both
// run detached from the SSH session that started them (the migration runs
// in another step) and end with the stream, or after --accept-timeout
// without one.

func tunnelRecv(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tunnel-recv", flag.ExitOnError)
	var c common
	c.flags(fs, "accept-timeout")
	listen := fs.String("listen", "", "address to listen on (the node's replication address)")
	to := fs.String("to-unix", "", "the incoming QEMU's migration socket")
	fs.Parse(args)
	if *listen == "" || *to == "" || c.port == 0 {
		return errors.New("tunnel-recv needs --listen, --port and --to-unix")
	}
	cfg, err := c.tunnelTLS(true)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(*listen, strconv.Itoa(c.port)))
	if err != nil {
		return err
	}
	defer l.Close()
	emit(os.Stdout, map[string]any{"event": "listening", "port": c.port})
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	in, err := transfer.Accept(actx, l, cfg, func(remote string, err error) {
		emit(os.Stderr, map[string]any{"event": "rejected", "remote": remote, "error": err.Error()})
	})
	cancel()
	if err != nil {
		return err
	}
	l.Close() // one stream only
	out, err := net.Dial("unix", *to)
	if err != nil {
		in.Close()
		return err
	}
	n, err := transfer.Splice(ctx, in, out)
	emit(os.Stdout, map[string]any{"event": "done", "bytes": n})
	return err
}

func tunnelSend(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tunnel-send", flag.ExitOnError)
	var c common
	c.flags(fs, "accept-timeout")
	listen := fs.String("listen-unix", "", "the unix socket the source QEMU migrates to")
	connect := fs.String("connect", "", "tunnel-recv's address")
	fs.Parse(args)
	if *listen == "" || *connect == "" || c.port == 0 {
		return errors.New("tunnel-send needs --listen-unix, --connect and --port")
	}
	cfg, err := c.tunnelTLS(false)
	if err != nil {
		return err
	}
	os.Remove(*listen) // a leftover of an earlier attempt
	l, err := net.Listen("unix", *listen)
	if err != nil {
		return err
	}
	defer os.Remove(*listen)
	defer l.Close()
	if err := os.Chmod(*listen, 0o600); err != nil {
		return err
	}
	emit(os.Stdout, map[string]any{"event": "listening", "socket": *listen})
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	stop := context.AfterFunc(actx, func() { l.Close() })
	in, err := l.Accept()
	stop()
	cancel()
	if err != nil {
		if actx.Err() != nil {
			return errors.New("no migration from QEMU before --accept-timeout")
		}
		return err
	}
	l.Close()
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	out, err := transfer.DialStream(dctx, []string{net.JoinHostPort(*connect, strconv.Itoa(c.port))}, cfg)
	cancel()
	if err != nil {
		in.Close()
		return err
	}
	n, err := transfer.Splice(ctx, in, out)
	emit(os.Stdout, map[string]any{"event": "done", "bytes": n})
	return err
}

// tunnelTLS is common.tls for a tunnel end, which is never plain TCP.
func (c *common) tunnelTLS(server bool) (*tls.Config, error) {
	cfg, err := c.tls(server)
	if err == nil && cfg == nil {
		err = errors.New("a tunnel is always encrypted: give --identity and --peer-fp")
	}
	return cfg, err
}
