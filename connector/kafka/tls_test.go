package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// selfSigned returns a server TLS config for 127.0.0.1 and the PEM of its
// certificate (its own CA).
func selfSigned(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTLS(t *testing.T) {
	srv, caPEM := selfSigned(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "s"), kfake.TLS(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := SourceOptions(map[string]string{
		"kafka.bootstrap.servers": strings.Join(c.ListenAddrs(), ","), "subscribe": "s",
		"kafka.security.protocol": "SSL", "kafka.ssl.ca.location": ca, "kafka.default.api.timeout.ms": "3000",
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSource(testCtx(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LatestOffsets(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// Without the CA the handshake fails.
	plain, _ := SourceOptions(map[string]string{"kafka.bootstrap.servers": strings.Join(c.ListenAddrs(), ","), "subscribe": "s",
		"kafka.security.protocol": "SSL", "kafka.default.api.timeout.ms": "1000"})
	if s, err := NewSource(testCtx(t), plain...); err == nil {
		s.Close()
		t.Fatal("untrusted certificate accepted")
	}
}
