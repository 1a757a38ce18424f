package signaling

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stillWorks checks that a pair in a room of its own can still talk.
func stillWorks(t *testing.T, url, room string) {
	t.Helper()
	a, _ := joined(t, url, room, ClientOptions{})
	b, rb := joined(t, url, room, ClientOptions{})
	nextKind(t, a, EventJoin)
	require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(`{"ok":true}`)))
	assert.JSONEq(t, `{"ok":true}`, string(nextKind(t, b, EventSignal).Payload))
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}

func TestLimitRoomsAndPeers(t *testing.T) {
	s, url := testServer(t, ServerOptions{MaxRooms: 2, MaxPeersPerRoom: 2})
	joined(t, url, "a", ClientOptions{})
	joined(t, url, "a", ClientOptions{})
	c := dial(t, url, ClientOptions{})
	_, err := c.Join(ctxT(t), "a")
	assert.ErrorIs(t, err, ErrRoomFull)
	joined(t, url, "b", ClientOptions{})
	_, err = c.Join(ctxT(t), "c")
	assert.ErrorIs(t, err, ErrTooManyRooms)
	// The refused client may still join a room with space.
	_, err = c.Join(ctxT(t), "b")
	require.NoError(t, err)
	st := s.Stats()
	assert.EqualValues(t, 1, st.Errors["room_full"])
	assert.EqualValues(t, 1, st.Errors["too_many_rooms"])
}

func TestLimitConnsPerAddr(t *testing.T) {
	s, url := testServer(t, ServerOptions{MaxConnsPerAddr: 2})
	a, _ := joined(t, url, "r", ClientOptions{})
	b, rb := joined(t, url, "r", ClientOptions{})
	_, err := Dial(ctxT(t), url, ClientOptions{})
	var de *DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusTooManyRequests, de.StatusCode)
	assert.EqualValues(t, 1, s.Stats().Errors["conn_limit"])
	// The two admitted are unaffected.
	nextKind(t, a, EventJoin)
	require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(`1`)))
	assert.Equal(t, EventSignal, next(t, b).Kind)
	// A closed connection frees its slot.
	require.NoError(t, b.Close())
	nextKind(t, a, EventLeave) // the server has dropped b
	require.Eventually(t, func() bool { return s.Stats().Connections == 1 }, waitLong, time.Millisecond)
	c := dial(t, url, ClientOptions{})
	require.NoError(t, c.Close())
}

func TestLimitSignalRate(t *testing.T) {
	s, url := testServer(t, ServerOptions{SignalRate: 0.001, SignalBurst: 4})
	a, _ := joined(t, url, "r", ClientOptions{})
	b, rb := joined(t, url, "r", ClientOptions{})
	nextKind(t, a, EventJoin)
	// a has used one token for its join.
	for range 3 {
		require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(`{}`)))
	}
	assert.ErrorIs(t, a.Signal(ctxT(t), rb.ID, raw(`{}`)), ErrRateLimited)
	assert.EqualValues(t, 1, s.Stats().Errors["rate_limited"])
	// b has its own bucket.
	require.NoError(t, b.Signal(ctxT(t), a.ID(), raw(`{}`)))
	assert.Equal(t, EventSignal, next(t, a).Kind)
}

func TestLimitMessageSize(t *testing.T) {
	_, url := testServer(t, ServerOptions{MaxMessageSize: 4096, MaxPayloadSize: 2048})
	r := dialRaw(t, url)
	r.send(t, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"big"}}`)
	assert.Contains(t, r.mustRecv(t), `"result"`)
	require.NoError(t, r.ws.WriteMessage(websocket.BinaryMessage, make([]byte, 8192)))
	assert.Error(t, r.waitClosed(t))
	stillWorks(t, url, "other")
}

func TestLimitPayloadViaClient(t *testing.T) {
	_, url := testServer(t, ServerOptions{MaxPayloadSize: 100})
	a, _ := joined(t, url, "r", ClientOptions{})
	_, rb := joined(t, url, "r", ClientOptions{})
	assert.ErrorIs(t, a.Signal(ctxT(t), rb.ID, raw(`"`+strings.Repeat("x", 200)+`"`)), ErrTooLarge)
	require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(`"small"`)))
}

func TestLimitFlood(t *testing.T) {
	s, url := testServer(t, ServerOptions{MessageRate: 10, MessageBurst: 20})
	r := dialRaw(t, url)
	for i := 0; i < 200; i++ {
		if r.ws.WriteMessage(websocket.BinaryMessage, []byte("garbage")) != nil {
			break
		}
	}
	assert.Error(t, r.waitClosed(t))
	assert.EqualValues(t, 1, s.Stats().Errors["flood"])
	stillWorks(t, url, "calm")
}

func TestSlowConsumerDropped(t *testing.T) {
	s, url := testServer(t, ServerOptions{
		QueueLen: 8, SignalRate: 1e6, SignalBurst: 1e6, MessageRate: 1e6, MessageBurst: 1e6,
	})
	a, _ := joined(t, url, "r", ClientOptions{})
	r := dialRawSmall(t, url)
	r.send(t, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"r"}}`)
	reply := r.mustRecv(t)
	id := reply[strings.Index(reply, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	nextKind(t, a, EventJoin)
	// r never reads again: kernel buffers fill, then its queue, then it is
	// dropped.
	payload := raw(`"` + strings.Repeat("x", 30000) + `"`)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = a.Signal(ctxT(t), id, payload)
	}
	assert.ErrorIs(t, err, ErrUnknownPeer)
	ev := nextKind(t, a, EventLeave)
	assert.Equal(t, id, ev.Peer)
	assert.Equal(t, ReasonSlow, ev.Reason)
	assert.EqualValues(t, 1, s.Stats().Errors["slow_consumer"])
	stillWorks(t, url, "fast")
}
