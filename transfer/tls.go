// Package transfer copies one disk image or file from one node to another
// over a single TCP connection: the wire format, the sender and the
// receiver of ganetictl-helper. It knows nothing of Ganeti.
//
// Authentication: each end has an ephemeral self-signed certificate made
// for this one transfer (NewIdentity) and knows the SHA-256 fingerprint of
// the other's, passed to it over the SSH control session. The connection
// is TLS 1.3; the receiver requires a client certificate and both ends
// accept only the pinned fingerprint. A stranger that connects to the
// receiver's port fails the handshake, is dropped, and the receiver keeps
// waiting for its peer: the stranger reads nothing and writes nothing that
// is used. Plain TCP (Insecure) exists only for trusted networks.
//
// Stream: a header (magic, size, block size, flags), then data records
// (offset, length, bytes) for the parts that hold data, in increasing
// offset order, then an end record with the checksum of the whole logical
// content, holes counted as zeros: SHA-256 over the XXH3-128 digest of
// every block-size chunk (blockSum: why not SHA-256 throughout is said
// there), so zero chunks cost nothing to check. Everything after the
// header may be zstd compressed. Holes are found with SEEK_DATA/SEEK_HOLE on files and by
// all-zero block detection everywhere.
//
// Each end is a pipeline of goroutines (read, hash, send; receive, hash,
// write) over a fixed pool of block buffers (pipeline.go); the receiver
// writes whole blocks with O_DIRECT where the file system allows it. The
// sender can hold its bytes on the wire to a rate (SendOptions.RateLimit).
//
// Commit: a file destination is written as "<dst>.ganetictl-partial"
// (sparse), fsynced, checked against the sender's checksum, and renamed to
// dst only then; a block device destination is written in place and the
// receiver reports success only after the checksum matched.
package transfer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Identity is one end's ephemeral certificate and key, PEM encoded.
type Identity struct {
	CertPEM, KeyPEM []byte
	Fingerprint     string // hex SHA-256 of the certificate's DER
}

// NewIdentity makes a self-signed ECDSA P-256 certificate valid for a day.
func NewIdentity() (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ganetictl-transfer"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Identity{
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Fingerprint: Fingerprint(der),
	}, nil
}

// PEM is the certificate followed by the key: one argument for the helper.
func (id *Identity) PEM() string { return string(id.CertPEM) + string(id.KeyPEM) }

// ParseIdentity reads a certificate and key from one PEM text (as PEM gives).
func ParseIdentity(pemText string) (tls.Certificate, error) {
	b := []byte(pemText)
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity: %w", err)
	}
	return cert, nil
}

// Fingerprint is the hex SHA-256 of a certificate's DER bytes.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// ErrPeerRejected is a handshake with a certificate other than the pinned one.
var ErrPeerRejected = errors.New("peer certificate does not match the pinned fingerprint")

func pinned(fp string) func([][]byte, [][]*x509.Certificate) error {
	want, _ := hex.DecodeString(strings.ToLower(fp))
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return ErrPeerRejected
		}
		got := sha256.Sum256(raw[0])
		if len(want) != len(got) || subtle.ConstantTimeCompare(want, got[:]) != 1 {
			return ErrPeerRejected
		}
		return nil
	}
}

// ValidFingerprint checks a fingerprint's form (64 hex digits).
func ValidFingerprint(fp string) error {
	b, err := hex.DecodeString(fp)
	if err != nil || len(b) != sha256.Size {
		return fmt.Errorf("fingerprint %q: want 64 hex digits (SHA-256)", fp)
	}
	return nil
}

// ServerConfig is the receiver's TLS: TLS 1.3, a client certificate is
// required and must be the pinned one.
func ServerConfig(own tls.Certificate, peerFP string) *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{own},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: pinned(peerFP),
	}
}

// ClientConfig is the sender's TLS: the chain is not checked against any
// CA (the certificates are self-signed); the pinned fingerprint is.
func ClientConfig(own tls.Certificate, peerFP string) *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{own},
		InsecureSkipVerify:    true, // replaced by the pin below
		VerifyPeerCertificate: pinned(peerFP),
	}
}
