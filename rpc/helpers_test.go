package rpc

import (
	"context"
	"testing"
	"time"

	"github.com/peerd/peerd/binchannel"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// testCtx bounds every test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pair returns two Conns over binchannel Channels on an in-memory
// binchannel pipe; both are closed and awaited, and goroutines checked, at
// the end of the test.
func pair(t *testing.T, oa, ob Options) (a, b *Conn) {
	t.Helper()
	pa, pb := binchannel.NewPipe(binchannel.PipeOptions{})
	return pairOver(t, binchannel.New(pa), binchannel.New(pb), oa, ob)
}

// jsonPair is pair over the JSON-only in-memory pipe.
func jsonPair(t *testing.T, oa, ob Options) (a, b *Conn) {
	t.Helper()
	ta, tb := NewPipe(PipeOptions{})
	return pairOver(t, ta, tb, oa, ob)
}

func pairOver(t *testing.T, ta, tb Transport, oa, ob Options) (a, b *Conn) {
	t.Helper()
	a = NewWithOptions(ta, oa)
	b = NewWithOptions(tb, ob)
	t.Cleanup(func() {
		closeWait(t, a)
		closeWait(t, b)
		goleak.VerifyNone(t)
	})
	return a, b
}

func closeWait(t *testing.T, c *Conn) {
	t.Helper()
	require.NoError(t, c.Close())
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("conn did not finish")
	}
}

// rawPeer is a Conn under test driven by raw JSON messages.
type rawPeer struct {
	s MessageStream
}

func (p rawPeer) send(t *testing.T, msg string) {
	t.Helper()
	require.NoError(t, p.s.WriteMessage(testCtx(t), []byte(msg)))
}

func (p rawPeer) recv(t *testing.T) string {
	t.Helper()
	b, err := p.s.ReadMessage(testCtx(t))
	require.NoError(t, err)
	return string(b)
}

// rawConn starts a Conn on one end of a stream pipe and returns the other.
func rawConn(t *testing.T, o Options, setup func(c *Conn)) (*Conn, rawPeer) {
	t.Helper()
	sa, sb := NewStreamPipe(PipeOptions{})
	c := NewWithOptions(NewStreamTransport(sa), o)
	if setup != nil {
		setup(c)
	}
	t.Cleanup(func() {
		closeWait(t, c)
		goleak.VerifyNone(t)
	})
	return c, rawPeer{s: sb}
}

const (
	testTimeout = 10 * time.Second
	pollEvery   = time.Millisecond
)

// bindings is c's Stats without the handler counters, which settle only
// after a handler's response has been sent.
func bindings(c *Conn) Stats {
	s := c.Stats()
	s.Running, s.Queued = 0, 0
	return s
}
