package signaling

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeadPeerDetected(t *testing.T) {
	s, url := testServer(t, ServerOptions{PingInterval: 20 * time.Millisecond, PongTimeout: 300 * time.Millisecond})
	a, _ := joined(t, url, "r", ClientOptions{})
	r := dialRaw(t, url)
	r.send(t, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"r"}}`)
	reply := r.mustRecv(t)
	require.Contains(t, reply, `"result"`)
	joinEv := nextKind(t, a, EventJoin)
	// r stops reading, so it answers no ping.
	ev := nextKind(t, a, EventLeave)
	assert.Equal(t, joinEv.Peer, ev.Peer)
	assert.Equal(t, ReasonTimeout, ev.Reason)
	assert.EqualValues(t, 1, s.Stats().Errors["timeout"])
	// a kept answering and is still there.
	select {
	case <-a.Done():
		t.Fatal("live client dropped")
	default:
	}
	stillWorks(t, url, "r2")
}

func TestClientDetectsDeadServer(t *testing.T) {
	// A "server" that upgrades and then never reads: no pongs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hold := make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocketUpgrader).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		<-hold
		_ = ws.Close()
	})}
	go func() { _ = hs.Serve(ln) }()
	defer func() { close(hold); _ = hs.Close() }()

	c, err := Dial(ctxT(t), "ws://"+ln.Addr().String(), ClientOptions{PingInterval: 10 * time.Millisecond, PongTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	select {
	case <-c.Done():
	case <-time.After(waitLong):
		t.Fatal("dead server not detected")
	}
	assert.Error(t, c.Err())
	require.NoError(t, c.Close())
}

func TestShutdown(t *testing.T) {
	s := NewServer(ServerOptions{})
	hs := newHTTPTest(t, s)
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	a, _ := joined(t, url, "r", ClientOptions{})
	b, _ := joined(t, url, "r", ClientOptions{})
	idle := dial(t, url, ClientOptions{})
	nextKind(t, a, EventJoin)

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	for _, c := range []*Client{a, b, idle} {
		assert.Equal(t, EventShutdown, nextKind(t, c, EventShutdown).Kind)
		select {
		case <-c.Done():
		case <-time.After(waitLong):
			t.Fatal("client not closed by shutdown")
		}
		for range c.Events() { // drained, then closed
		}
	}
	st := s.Stats()
	assert.Zero(t, st.Connections)
	assert.Zero(t, st.Peers)
	assert.Zero(t, st.Rooms)

	_, err := Dial(ctxT(t), url, ClientOptions{})
	var de *DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusServiceUnavailable, de.StatusCode)
	require.NoError(t, s.Shutdown(ctx), "a second Shutdown is harmless")
}

func TestServeStopsWithContext(t *testing.T) {
	s := NewServer(ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	a, _ := joined(t, "ws://"+ln.Addr().String(), "r", ClientOptions{})
	cancel()
	assert.Equal(t, EventShutdown, nextKind(t, a, EventShutdown).Kind)
	select {
	case err := <-served:
		assert.NoError(t, err)
	case <-time.After(waitLong):
		t.Fatal("Serve did not return")
	}
	<-a.Done()
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "listener closed")
}

func TestListenAndServe(t *testing.T) {
	s := NewServer(ServerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	assert.Error(t, s.ListenAndServe(ctx, "127.0.0.1:-1"))
	cancel()
	err := s.ListenAndServe(ctx, "127.0.0.1:0")
	assert.True(t, err == nil || errors.Is(err, context.Canceled), "%v", err)
}

func TestReconnect(t *testing.T) {
	s, url := testServer(t, ServerOptions{})
	a := dial(t, url, ClientOptions{Reconnect: true, ReconnectMin: time.Millisecond})
	ra, err := a.Join(ctxT(t), "r")
	require.NoError(t, err)
	b, rb := joined(t, url, "r", ClientOptions{})
	nextKind(t, a, EventJoin)

	// Cut a's connection from the server side, its member leaving the room
	// first: with the socket closed first, a's reconnect (1 ms later) could
	// find its old member still there, before the server's read loop has
	// noticed the close, and b could see the join before the leave.
	var cut *serverConn
	s.mu.Lock()
	for c := range s.conns {
		if c.sess.peerID() == ra.ID {
			cut = c
		}
	}
	s.mu.Unlock()
	require.NotNil(t, cut)
	require.NoError(t, cut.sess.h.leave(cut.sess, ReasonClosed))
	cut.abort()

	ev := nextKind(t, a, EventReconnect)
	assert.NotEqual(t, ra.ID, ev.Peer)
	assert.Equal(t, ev.Peer, a.ID())
	assert.Equal(t, []Member{{ID: rb.ID, Role: RolePublisher}}, ev.Peers)
	assert.Equal(t, ra.ID, nextKind(t, b, EventLeave).Peer)
	assert.Equal(t, ev.Peer, nextKind(t, b, EventJoin).Peer)
	require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(`"back"`)))
	assert.Equal(t, ev.Peer, nextKind(t, b, EventSignal).Peer)
}

func TestReconnectGivesUp(t *testing.T) {
	s := NewServer(ServerOptions{})
	hs := newHTTPTest(t, s)
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	a := dial(t, url, ClientOptions{Reconnect: true, ReconnectMin: time.Millisecond, ReconnectAttempts: 2})
	_, err := a.Join(ctxT(t), "r")
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(ctxT(t)))
	select {
	case <-a.Done():
	case <-time.After(waitLong):
		t.Fatal("client kept trying")
	}
	assert.ErrorContains(t, a.Err(), "gave up")
	_, err = a.Join(ctxT(t), "r")
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, a.Signal(ctxT(t), "x", raw(`1`)), ErrClosed)
}

func TestReconnectRefusedToken(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	var clock atomicTime
	clock.Store(now)
	s, url := testServer(t, ServerOptions{Secret: secret, Clock: clock.Load})
	tok, err := SignClaims(secret, Claims{Room: "r", Role: RolePublisher, Expires: now.Add(time.Minute)})
	require.NoError(t, err)
	a := dial(t, url, ClientOptions{Token: tok, Reconnect: true, ReconnectMin: time.Millisecond})
	_, err = a.Join(ctxT(t), "r")
	require.NoError(t, err)
	clock.Store(now.Add(time.Hour)) // the token has expired since
	s.mu.Lock()
	for c := range s.conns {
		c.abort()
	}
	s.mu.Unlock()
	select {
	case <-a.Done():
	case <-time.After(waitLong):
		t.Fatal("client kept retrying with an expired token")
	}
	assert.ErrorIs(t, a.Err(), ErrUnauthorized)
}
