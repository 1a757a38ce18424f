package signaling

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/binchannel"
)

// rawConn is a hand-driven protocol client: JSON texts in binchannel
// packets over a gorilla connection, or raw frames.
type rawConn struct {
	ws *websocket.Conn
	ch *binchannel.Channel
}

func dialRaw(t *testing.T, url string) *rawConn {
	t.Helper()
	return dialRawWith(t, url, websocket.DefaultDialer)
}

// dialRawSmall dials with a small socket receive buffer, so a peer that
// stops reading backs its sender up quickly.
func dialRawSmall(t *testing.T, url string) *rawConn {
	t.Helper()
	d := *websocket.DefaultDialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}
	return dialRawWith(t, url, &d)
}

func dialRawWith(t *testing.T, url string, d *websocket.Dialer) *rawConn {
	t.Helper()
	ws, _, err := d.DialContext(ctxT(t), url, nil)
	require.NoError(t, err)
	rc := &rawConn{ws: ws, ch: binchannel.New(binchannel.NewWebSocket(ws, binchannel.WebSocketOptions{}))}
	t.Cleanup(func() { _ = rc.ch.Close(); _ = ws.Close() })
	return rc
}

// send sends one JSON text as a packet.
func (r *rawConn) send(t *testing.T, js string) {
	t.Helper()
	require.NoError(t, r.ch.SendPacket(ctxT(t), binchannel.Packet{JSON: []byte(js)}))
}

// recv returns the next packet's JSON, or an error when the connection
// ends first.
func (r *rawConn) recv(t *testing.T) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	_ = r.ws.SetReadDeadline(time.Now().Add(waitLong))
	p, err := r.ch.RecvPacket(ctx)
	if err != nil {
		return "", err
	}
	return string(p.JSON), nil
}

func (r *rawConn) mustRecv(t *testing.T) string {
	t.Helper()
	s, err := r.recv(t)
	require.NoError(t, err)
	return s
}

// waitClosed reads until the server closes the connection.
func (r *rawConn) waitClosed(t *testing.T) error {
	t.Helper()
	for {
		if _, err := r.recv(t); err != nil {
			return err
		}
	}
}
