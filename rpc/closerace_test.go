package rpc

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The contract under test: every message the Conn has read is handed to its
// handler, even when the peer closes right after sending it. A handler that
// starts after the Conn shut down sees its ctx already cancelled; a request's
// response that can no longer be sent is dropped, and its caller fails with
// ErrClosed because the transport is gone.

// TestQueuedNotificationRunsAfterClose: with one handler slot, the second
// notification of a batch waits in the queue; the peer closes at once. The
// queued notification must still run.
func TestQueuedNotificationRunsAfterClose(t *testing.T) {
	var ran atomic.Int32
	c, peer := rawConn(t, Options{MaxConcurrency: 1}, func(c *Conn) {
		require.NoError(t, c.Register("block", func(ctx context.Context) { <-ctx.Done() }))
		require.NoError(t, c.Register("n", func(ctx context.Context) { ran.Add(1) }))
	})
	peer.send(t, `[{"jsonrpc":"2.0","method":"block"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","method":"n"}]`)
	require.NoError(t, peer.s.Close())
	<-c.Done()
	assert.Equal(t, int32(2), ran.Load(), "queued notifications ran")
}

// TestParkedWorkerTaskSurvivesClose: a request handed to a parked worker
// just as the Conn shuts down must run. A hook holds the worker between
// joining the idle list and waiting on its channel until the Conn's ctx has
// ended, so both of the worker's wake-up causes are ready at once; without
// the fix the worker picks the shutdown half the time, so a number of
// rounds makes a regression show.
func TestParkedWorkerTaskSurvivesClose(t *testing.T) {
	const rounds = 24
	for range rounds {
		testParkedWorkerTaskSurvivesClose(t)
		if t.Failed() {
			return
		}
	}
}

func testParkedWorkerTaskSurvivesClose(t *testing.T) {
	var (
		ran      atomic.Int32
		parked   = make(chan struct{})
		shutDown = make(chan struct{})
		once     sync.Once
		target   atomic.Pointer[Conn]
	)
	testHookParking = func(c *Conn, ch chan *request) {
		if c != target.Load() {
			return
		}
		first := false
		once.Do(func() { first = true })
		if !first {
			return
		}
		close(parked)
		// Hold the worker until the shutdown, unless the reader role
		// reaches it first: on a slow machine the reader's inline run of
		// "warm" can outlive the hand-off delay and give the role to this
		// parked worker, which must then read or nothing ever would. Such
		// a round tests nothing but must not hang. A task arriving here
		// is put back for the worker's own select.
		select {
		case <-shutDown:
		case got := <-ch:
			ch <- got
			if got != readerRole {
				<-shutDown
			}
		}
	}
	t.Cleanup(func() { testHookParking = nil })

	c, peer := rawConn(t, Options{}, func(c *Conn) {
		target.Store(c)
		require.NoError(t, c.Register("warm", func() {}))
		require.NoError(t, c.Register("first", func(ctx context.Context) {
			<-ctx.Done()
			close(shutDown)
		}))
		require.NoError(t, c.Register("n", func() { ran.Add(1) }))
	})
	// The reader runs the first of two notifications itself; the second
	// makes a worker, which parks afterwards.
	peer.send(t, `[{"jsonrpc":"2.0","method":"warm"},{"jsonrpc":"2.0","method":"warm"}]`)
	<-parked
	// "first" runs on the reader, "n" goes to the parked worker, then the
	// peer is gone.
	peer.send(t, `[{"jsonrpc":"2.0","method":"first"},{"jsonrpc":"2.0","method":"n"}]`)
	require.NoError(t, peer.s.Close())
	<-c.Done()
	assert.Equal(t, int32(1), ran.Load(), "the notification handed to the parked worker ran")
}
