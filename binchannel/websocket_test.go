package binchannel

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsPair returns the two ends of a loopback WebSocket connection as
// Transports.
func wsPair(t *testing.T, o WebSocketOptions) (client, server Transport) {
	t.Helper()
	srvConn := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		srvConn <- c
	}))
	t.Cleanup(srv.Close)
	ctx := testCtx(t)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	cc, resp, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	sc := <-srvConn
	client, server = NewWebSocket(cc, o), NewWebSocket(sc, o)
	t.Cleanup(func() {
		_ = client.Close()
		_ = server.Close()
	})
	return client, server
}

func TestWebSocketRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	ct, st := wsPair(t, WebSocketOptions{MaxMessageSize: 64 << 10})
	a, b := New(ct), New(st)
	big := bytes.Repeat([]byte("0123456789"), 30000) // 300 kB: several chunks
	type msg struct {
		Name string
		Data []byte
		Tiny []byte
	}
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < 3; i++ {
			if err := a.Send(ctx, msg{Name: "m", Data: big, Tiny: []byte{byte(i)}}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < 3; i++ {
		var m msg
		require.NoError(t, b.Recv(ctx, &m))
		assert.Equal(t, "m", m.Name)
		assert.True(t, bytes.Equal(big, m.Data))
		assert.Equal(t, []byte{byte(i)}, m.Tiny)
	}
	require.NoError(t, <-errc)
	assert.Equal(t, 64<<10, ct.MaxMessageSize())
}

func TestWebSocketLimits(t *testing.T) {
	ctx := testCtx(t)
	ct, st := wsPair(t, WebSocketOptions{MaxMessageSize: 100})
	assert.ErrorIs(t, ct.WriteMessage(ctx, make([]byte, 101)), ErrMessageTooLarge)

	// Parts arrive as one message.
	require.NoError(t, ct.WriteMessage(ctx, []byte("ab"), []byte("cd")))
	m, err := st.ReadMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("abcd")}, m)

	// A cancelled read returns the context's error.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = st.ReadMessage(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWebSocketOversizedFromPeer(t *testing.T) {
	ctx := testCtx(t)
	ct, st := wsPair(t, WebSocketOptions{MaxMessageSize: 1000})
	_ = st
	// The peer ignores our limit (its adapter allows more).
	loose := ct.(*wsTransport)
	loose.o.MaxMessageSize = 5000
	require.NoError(t, ct.WriteMessage(ctx, make([]byte, 2000)))
	_, err := st.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrMessageTooLarge)
}

func TestWebSocketClose(t *testing.T) {
	ctx := testCtx(t)
	ct, st := wsPair(t, WebSocketOptions{})
	a, b := New(ct), New(st)
	recvErr := make(chan error, 1)
	go func() {
		_, err := b.RecvPacket(ctx)
		recvErr <- err
	}()
	require.NoError(t, a.Close())
	assert.ErrorIs(t, <-recvErr, ErrClosed, "the peer's close frame ends RecvPacket")
	assert.ErrorIs(t, ct.WriteMessage(ctx, []byte("x")), ErrClosed)
	_, err := ct.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	require.NoError(t, b.Close())
}

// Messages of every shape come back byte for byte, and none pins much more
// memory than it carries, whatever its header claims.
func TestWebSocketMessageSizes(t *testing.T) {
	ctx := testCtx(t)
	ct, st := wsPair(t, WebSocketOptions{MaxMessageSize: 4096})
	big := string(make([]byte, 4000))
	msgs := [][]byte{
		{},
		{KindBin},
		binMsg(1, 0, 10, 0, ""),                // exactly a header
		binMsg(1, 0, 3000, 0, big[:1000]),      // a full chunk
		binMsg(1, 0, 3000, 1000, big[:1000]),   // the same size again
		binMsg(1, 0, 3000, 2000, big[:1000]),   // the last chunk
		binMsg(1, 0, 1<<62, 0, "x"),            // a hostile total
		binMsg(1, 0, 5, 9, big[:2000]),         // offset past total
		openMsg(2, 0, 3, "[1]"),                // exact skeleton
		openMsg(2, 0, 1<<31, big[:3000]),       // claims more
		openMsg(2, 0, 0, big[:2000]),           // claims less
		append([]byte{0x7f}, big[:3500]...),    // unknown kind
		append([]byte(`{"jsonrpc":"2.0"}`), 0), // text-like
	}
	for i, m := range msgs {
		require.NoError(t, ct.WriteMessage(ctx, m), "message %d", i)
		got, err := st.ReadMessage(ctx)
		require.NoError(t, err, "message %d", i)
		require.Len(t, got, 1)
		assert.Equal(t, m, got[0], "message %d", i)
		assert.LessOrEqual(t, cap(got[0]), len(got[0])+len(got[0])/4+64+1, "message %d", i)
	}
}
