package rpc

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The handler's context behaves as a cancellable context must, for the
// context package's own helpers too: contexts derived from it end with it,
// context.Cause and AfterFunc agree with Err, and none of it leaks a
// goroutine (pair's cleanup checks).
func TestHandlerContextCancelledByPeer(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	type seen struct {
		err, cause, derived, derivedCause error
		afterRan, stoppedRan              bool
		conn                              *Conn
	}
	started := make(chan struct{})
	out := make(chan seen, 1)
	require.NoError(t, b.Register("wait", func(ctx context.Context) {
		derived, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		after := make(chan struct{})
		context.AfterFunc(ctx, func() { close(after) })
		stoppedRan := make(chan struct{})
		stop := context.AfterFunc(ctx, func() { close(stoppedRan) })
		require.True(t, stop(), "stopped before the context ended")
		require.NoError(t, ctx.Err())
		close(started)
		<-derived.Done()
		<-after
		s := seen{err: ctx.Err(), cause: context.Cause(ctx), derived: derived.Err(), derivedCause: context.Cause(derived), afterRan: true, conn: ConnFromContext(ctx)}
		select {
		case <-stoppedRan:
			s.stoppedRan = true
		default:
		}
		out <- s
	}))
	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() { errc <- a.Call(ctx, "wait", nil) }()
	<-started
	cancel()
	assert.ErrorIs(t, <-errc, ErrCancelled)
	s := <-out
	assert.ErrorIs(t, s.err, context.Canceled)
	assert.ErrorIs(t, s.cause, context.Canceled)
	assert.ErrorIs(t, s.derived, context.Canceled)
	assert.ErrorIs(t, s.derivedCause, context.Canceled)
	assert.True(t, s.afterRan)
	assert.False(t, s.stoppedRan, "a stopped AfterFunc never runs")
	assert.Same(t, b, s.conn)
	var none struct{}
	assert.Nil(t, (&reqCtx{c: b}).Value(none), "no other values")
}

// A handler's context ends when the Conn closes, including for a request
// that was still queued, and a context kept past the handler's return is
// ended.
func TestHandlerContextEndsWithConn(t *testing.T) {
	kept := make(chan context.Context, 2)
	c, peer := rawConn(t, Options{MaxConcurrency: 1}, func(c *Conn) {
		require.NoError(t, c.Register("block", func(ctx context.Context) {
			kept <- ctx
			<-ctx.Done()
		}))
		require.NoError(t, c.Register("quick", func(ctx context.Context) { kept <- ctx }))
	})
	peer.send(t, `[{"jsonrpc":"2.0","method":"block"},{"jsonrpc":"2.0","method":"quick"}]`)
	first := <-kept
	require.NoError(t, c.Close())
	<-c.Done()
	second := <-kept
	assert.ErrorIs(t, first.Err(), context.Canceled)
	assert.ErrorIs(t, second.Err(), context.Canceled, "the queued request started with its context ended")
	select {
	case <-second.Done():
	default:
		t.Fatal("Done of an ended context is not closed")
	}
	late := make(chan struct{})
	context.AfterFunc(first, func() { close(late) })
	<-late // runs at once on an ended context
}
