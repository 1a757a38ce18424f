package endpoint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCert makes a self-signed certificate for the loopback addresses and
// returns the server and client configurations.
func testCert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "peerd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

// TestTLS serves every carrier under TLS and calls it with a client that
// trusts only the test certificate; a client that does not trust it fails.
func TestTLS(t *testing.T) {
	noLeaks(t)
	scfg, ccfg := testCert(t)
	f := startServer(t, apiRegistry(t), Options{TLSConfig: scfg})
	for _, scheme := range []string{"https", "tls", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{TLSConfig: ccfg})
			var n int
			require.NoError(t, c.Call(testCtx(t), "subtract", &n, 42, 23))
			assert.Equal(t, 19, n)
			b := c.Batch()
			var s string
			bc := b.Call("echo", &s, "secure")
			require.NoError(t, b.Send(testCtx(t)))
			require.NoError(t, bc.Err())
			assert.Equal(t, "secure", s)

			// An untrusting client fails the handshake.
			u, err := Dial(testCtx(t), f.url(scheme), ClientOptions{})
			if err == nil {
				err = u.Call(testCtx(t), "echo", nil, "x")
				_ = u.Close()
			}
			assert.Error(t, err)
		})
	}
	// Plain text to the TLS port is refused too.
	c, err := Dial(testCtx(t), f.url("http"), ClientOptions{})
	require.NoError(t, err)
	defer c.Close()
	assert.Error(t, c.Call(testCtx(t), "echo", nil, "x"))
}
