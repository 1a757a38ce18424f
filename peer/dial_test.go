package peer

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// signalingServer runs an in-process signaling server on loopback.
func signalingServer(t *testing.T) string {
	t.Helper()
	s := signaling.NewServer(signaling.ServerOptions{})
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})

	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

func TestDialListen(t *testing.T) {
	url := signalingServer(t)
	ctx := testCtx(t)
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("shared", func() string { return "listener" }))
	big := randomBytes(32<<20, 11)
	require.NoError(t, reg.Register("check", func(p []byte) bool { return bytes.Equal(p, big) }))
	dreg := rpc.NewRegistry()
	require.NoError(t, dreg.Register("back", func() string { return "dialer" }))
	do := rpcOptions()
	do.RPC.Registry = dreg
	lo := rpcOptions()
	lo.RPC.Registry = reg
	l, err := Listen(ctx, url, "room1", lo)
	require.NoError(t, err)
	defer l.Close()

	const dialers = 3
	type dialed struct {
		c   *Conn
		err error
	}
	out := make(chan dialed, dialers)
	for range dialers {
		go func() {
			c, err := Dial(ctx, url, "room1", do)
			out <- dialed{c, err}
		}()
	}
	var accepted []*Conn
	for range dialers {
		c, err := l.Accept(ctx)
		require.NoError(t, err)
		accepted = append(accepted, c)
		assert.NotEmpty(t, c.Peer())
		require.NoError(t, c.RPC().Register("who", func() string { return "accepted" }))
		s, err := rpc.Call[string](ctx, c.RPC(), "back")
		require.NoError(t, err)
		assert.Equal(t, "dialer", s)
	}
	for i := range dialers {
		d := <-out
		require.NoError(t, d.err)
		assert.Equal(t, StateConnected, d.c.State())
		assert.Equal(t, l.ID(), d.c.Peer())
		s, err := rpc.Call[string](ctx, d.c.RPC(), "who")
		require.NoError(t, err)
		assert.Equal(t, "accepted", s)
		s, err = rpc.Call[string](ctx, d.c.RPC(), "shared")
		require.NoError(t, err)
		assert.Equal(t, "listener", s)
		if i == 0 {
			same, err := rpc.Call[bool](ctx, d.c.RPC(), "check", big)
			require.NoError(t, err)
			assert.True(t, same, "32 MiB through Dial/Accept arrives byte for byte")
		}
		require.NoError(t, d.c.Close())
	}
	for _, c := range accepted {
		waitDone(t, c)
		assert.ErrorIs(t, c.Err(), ErrRemoteClosed)
	}
}

func TestDialNoPublisher(t *testing.T) {
	url := signalingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, url, "empty", rpcOptions())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestListenerBusy(t *testing.T) {
	url := signalingServer(t)
	ctx := testCtx(t)
	lo := rpcOptions()
	lo.Backlog = 1
	l, err := Listen(ctx, url, "busy", lo)
	require.NoError(t, err)
	defer l.Close()

	c1, err := Dial(ctx, url, "busy", rpcOptions())
	require.NoError(t, err)
	defer c1.Close()
	// The first connection waits in the backlog (not accepted): the
	// second offer is refused.
	_, err = Dial(ctx, url, "busy", rpcOptions())
	require.ErrorIs(t, err, ErrRemoteClosed)
	assert.Contains(t, err.Error(), "busy")

	a, err := l.Accept(ctx)
	require.NoError(t, err)
	defer a.Close()
	c3, err := Dial(ctx, url, "busy", rpcOptions())
	require.NoError(t, err)
	require.NoError(t, c3.Close())
}
