package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// serveSignaling runs a signaling server on addr until the returned stop
// is called.
func serveSignaling(t *testing.T, addr string) (url string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := signaling.NewServer(signaling.ServerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	return "ws://" + ln.Addr().String() + "/signal", func() {
		cancel()
		_ = srv.Close()
		<-done
	}
}

func TestListenRoomJoinsAgainAfterLosingSignaling(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, stopSig := serveSignaling(t, "127.0.0.1:0")
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("demo.add", demoAdd))
	stop, err := listenRoom(ctx, url, "room", "", reg, nil)
	require.NoError(t, err)
	defer stop(context.Background())

	call := func() {
		conn, closeConn, err := dialRoom(ctx, url, "room", "", io.Discard)
		require.NoError(t, err)
		defer closeConn()
		sum, err := rpc.Call[float64](ctx, conn, "demo.add", 2, 3)
		require.NoError(t, err)
		assert.Equal(t, 5.0, sum)
	}
	call()

	// The signaling server goes away and comes back on the same address:
	// the serving peer joins again by itself and a new dialer reaches it.
	addr := url[len("ws://") : len(url)-len("/signal")]
	stopSig()
	url2, stopSig2 := serveSignaling(t, addr)
	defer stopSig2()
	require.Equal(t, url, url2)
	call()
}
