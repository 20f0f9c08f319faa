package remote

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// auth holds the client authentication shared by all connections of a pool.
type auth struct {
	methods []ssh.AuthMethod
	agent   io.Closer // the ssh-agent connection, or nil
}

// newAuth loads the key files and connects to the agent. An encrypted key
// file is an error unless the agent is in use (its key is expected there).
func newAuth(cfg Config) (*auth, error) {
	a := &auth{}
	var signers []ssh.Signer
	var errs []error
	for _, f := range cfg.KeyFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("key file: %w", err))
			continue
		}
		s, err := ssh.ParsePrivateKey(pem)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm) && cfg.UseAgent:
			cfg.logf("key file %s is encrypted; relying on ssh-agent for it", f)
		case errors.As(err, &pm):
			errs = append(errs, fmt.Errorf("key file %s is encrypted: load it into ssh-agent (ssh-add %s) and enable the agent", f, f))
		case err != nil:
			errs = append(errs, fmt.Errorf("key file %s: %w", f, err))
		default:
			signers = append(signers, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(signers) > 0 {
		a.methods = append(a.methods, ssh.PublicKeys(signers...))
	}
	if cfg.UseAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			if len(signers) == 0 {
				return nil, errors.New("ssh-agent: SSH_AUTH_SOCK is not set")
			}
			cfg.logf("ssh-agent: SSH_AUTH_SOCK is not set; using key files only")
		} else {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				return nil, fmt.Errorf("ssh-agent: %w", err)
			}
			a.agent = conn
			a.methods = append(a.methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	if len(a.methods) == 0 {
		return nil, errors.New("no SSH credentials: set key files or use ssh-agent")
	}
	return a, nil
}

func (a *auth) Close() error {
	if a.agent != nil {
		return a.agent.Close()
	}
	return nil
}
