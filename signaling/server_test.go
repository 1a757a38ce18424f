package signaling

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestJoinLeaveNotifications(t *testing.T) {
	_, url := testServer(t, ServerOptions{})
	a, ra := joined(t, url, "lobby", ClientOptions{})
	assert.Empty(t, ra.Peers)
	assert.Equal(t, ra.ID, a.ID())
	assert.Equal(t, RolePublisher, ra.Role)

	b, rb := joined(t, url, "lobby", ClientOptions{Role: RoleSubscriber})
	assert.Equal(t, []string{ra.ID}, rb.Peers)
	assert.Equal(t, []Member{{ID: ra.ID, Role: RolePublisher}}, rb.Members)
	assert.Equal(t, Event{Kind: EventJoin, Peer: rb.ID, Role: RoleSubscriber}, next(t, a))

	require.NoError(t, b.Leave(ctxT(t)))
	assert.Equal(t, "", b.ID())
	assert.Equal(t, Event{Kind: EventLeave, Peer: rb.ID, Reason: ReasonLeft}, next(t, a))

	rb2, err := b.Join(ctxT(t), "lobby")
	require.NoError(t, err)
	assert.NotEqual(t, rb.ID, rb2.ID, "a rejoin gets a fresh id")
	assert.Equal(t, EventJoin, next(t, a).Kind)

	require.NoError(t, b.Close())
	assert.Equal(t, Event{Kind: EventLeave, Peer: rb2.ID, Reason: ReasonClosed}, next(t, a))
	_, ok := <-b.Events()
	assert.False(t, ok, "events closed after Close")
}

func TestDialHTTPURL(t *testing.T) {
	_, url := testServer(t, ServerOptions{})
	c := dial(t, "http"+strings.TrimPrefix(url, "ws"), ClientOptions{})
	_, err := c.Join(ctxT(t), "r")
	require.NoError(t, err)
	_, err = Dial(ctxT(t), "ftp://127.0.0.1:1/", ClientOptions{})
	assert.Error(t, err)
}

func TestRelayOrder(t *testing.T) {
	_, url := testServer(t, ServerOptions{SignalRate: 1e6, SignalBurst: 1e6, MessageRate: 1e6, MessageBurst: 1e6})
	a, ra := joined(t, url, "r", ClientOptions{})
	b, rb := joined(t, url, "r", ClientOptions{})
	next(t, a) // b joined
	const n = 300
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := a.Signal(ctxT(t), rb.ID, raw(fmt.Sprintf(`{"sdp":"v=0","n":%d}`, i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range n {
		ev := next(t, b)
		require.Equal(t, EventSignal, ev.Kind)
		assert.Equal(t, ra.ID, ev.Peer)
		assert.JSONEq(t, fmt.Sprintf(`{"sdp":"v=0","n":%d}`, i), string(ev.Payload))
	}
	require.NoError(t, <-done)
}

// TestPipelinedOrder has a raw client send signals without waiting for the
// answers: they must still arrive in order.
func TestPipelinedOrder(t *testing.T) {
	_, url := testServer(t, ServerOptions{SignalRate: 1e6, SignalBurst: 1e6, MessageRate: 1e6, MessageBurst: 1e6})
	b, rb := joined(t, url, "r", ClientOptions{})
	r := dialRaw(t, url)
	r.send(t, `{"jsonrpc":"2.0","id":0,"method":"signal.join","params":{"room":"r"}}`)
	r.mustRecv(t)
	nextKind(t, b, EventJoin)
	const n = 200
	for i := range n {
		r.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"signal.send","params":{"to":%q,"payload":%d}}`, i+1, rb.ID, i))
	}
	for i := range n {
		ev := next(t, b)
		require.Equal(t, EventSignal, ev.Kind)
		require.Equal(t, fmt.Sprint(i), string(ev.Payload))
	}
}
