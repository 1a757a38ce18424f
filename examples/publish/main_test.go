package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// TestPublish runs publish against an in-process signaling server and a
// store peer built the way the daemon builds its own.
func TestPublish(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sig := signaling.NewServer(signaling.ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: sig, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	defer sig.Close()
	url := "ws://" + ln.Addr().String() + "/"

	st, err := store.Open(t.TempDir(), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	svc := &store.Service{Store: st}
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("store.begin", svc.Begin))
	require.NoError(t, reg.Register("store.write", svc.Write))
	require.NoError(t, reg.Register("store.commit", svc.Commit))
	o := peer.Options{Network: peer.NetworkLoopback}
	o.RPC.Registry = reg
	listener, err := peer.Listen(ctx, url, "public", o)
	require.NoError(t, err)
	defer listener.Close()
	accepted := make(chan *peer.Conn, 1)
	go func() {
		if c, err := listener.Accept(ctx); err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	defer func() {
		if c, ok := <-accepted; ok {
			c.Close()
		}
	}()

	// The directory the README publishes, packed in a temporary directory
	// of the test's own.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	require.NoError(t, publish(ctx, &out, url, "public", "demo", "site"))
	assert.Contains(t, out.String(), `published "demo": 3 files, sha256 `)
	site, err := st.SiteDir("demo")
	require.NoError(t, err)
	for _, name := range []string{"index.html", "style.css", "about/index.html"} {
		want, err := os.ReadFile(filepath.Join("site", name))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(site, name))
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the packed archive is removed")
}
