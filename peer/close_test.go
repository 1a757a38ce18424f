package peer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseMidTransfer closes one side while the other is writing: the
// writer fails promptly with ErrRemoteClosed and both connections end.
func TestCloseMidTransfer(t *testing.T) {
	for _, mode := range []struct {
		name      string
		onMessage bool
	}{{"detached", false}, {"onmessage", true}} {
		t.Run(mode.name, func(t *testing.T) {
			o := testOptions()
			o.onMessage = mode.onMessage
			a, b := pair(t, o, o)
			ctx := testCtx(t)

			// b reads a little, then closes in the middle of the stream.
			go func() {
				for range 8 {
					if _, err := b.tr.ReadMessage(ctx); err != nil {
						return
					}
				}
				_ = b.Close()
			}()
			msg := make([]byte, a.MaxMessageSize())
			var err error
			for err == nil {
				err = a.tr.WriteMessage(ctx, msg)
			}
			require.ErrorIs(t, err, ErrRemoteClosed)
			waitDone(t, a)
			waitDone(t, b)
			assert.ErrorIs(t, a.Err(), ErrRemoteClosed)
			assert.ErrorIs(t, b.Err(), ErrClosed)
			assert.Equal(t, StateClosed, a.State())

			_, err = a.tr.ReadMessage(ctx)
			assert.ErrorIs(t, err, ErrRemoteClosed)
			assert.NoError(t, a.Close(), "Close after failure")
			assert.NoError(t, b.Close(), "second Close")
		})
	}
}

// TestCloseDrains shows a graceful Close delivers everything queued before
// it: the last bytes of a transfer are never lost.
func TestCloseDrains(t *testing.T) {
	a, b := pair(t, testOptions(), testOptions())
	ctx := testCtx(t)
	const n = 64
	got := make(chan error, 1)
	go func() {
		for i := range n {
			m, err := b.tr.ReadMessage(ctx)
			if err != nil {
				got <- fmt.Errorf("message %d: %w", i, err)

				return
			}
			if m[0][0] != byte(i) {
				got <- fmt.Errorf("message %d: got %d", i, m[0][0])

				return
			}
		}
		got <- nil
	}()
	msg := make([]byte, a.MaxMessageSize())
	for i := range n {
		msg[0] = byte(i)
		require.NoError(t, a.tr.WriteMessage(ctx, msg))
	}
	require.NoError(t, a.Close())
	require.NoError(t, <-got)
	waitDone(t, b)
	assert.ErrorIs(t, b.Err(), ErrRemoteClosed)
}

func TestCloseConcurrent(t *testing.T) {
	// A debug logger also exercises the Pion log adapter.
	o := testOptions()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	a, b := pair(t, o, o)
	done := make(chan struct{})
	for range 4 {
		go func() {
			_ = a.Close()
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	waitDone(t, b)
	assert.ErrorIs(t, a.Err(), ErrClosed)
	assert.ErrorIs(t, b.Err(), ErrRemoteClosed)
}

func TestPairContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Pair(ctx, testOptions(), testOptions())
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, ErrNegotiation)
}

// TestShutdownDeliversQueuedPackets: packets queued in binchannel behind a
// write that is waiting for the channel's buffer to drain still reach the
// peer when Shutdown starts right after (a last notification before a
// daemon stops). With a 1-byte high watermark, "two" waits for all of
// "one" to be acknowledged, holding the writer role, and "three" queues
// behind it.
func TestShutdownDeliversQueuedPackets(t *testing.T) {
	o := Options{Network: NetworkLoopback, HighWatermark: 1, LowWatermark: 0}
	reg := rpc.NewRegistry()
	got := make(chan string, 3)
	require.NoError(t, reg.Register("note", func(s string, _ []byte) { got <- s }))
	ob := o
	ob.RPC.Registry = reg
	a, _ := pair(t, o, ob)
	ctx := testCtx(t)
	big := make([]byte, 1<<20)
	require.NoError(t, a.RPC().Notify(ctx, "note", "one", big))
	sent := make(chan error, 1)
	go func() { sent <- a.RPC().Notify(ctx, "note", "two", big) }()
	require.NoError(t, a.RPC().Notify(ctx, "note", "three", []byte("x")))
	require.NoError(t, a.Shutdown(ctx))
	require.NoError(t, <-sent)
	seen := map[string]bool{}
	wait := time.After(15 * time.Second)
	for range 3 {
		select {
		case s := <-got:
			seen[s] = true
		case <-wait:
			t.Fatalf("delivered before the close: %v", seen)
		}
	}
	assert.Len(t, seen, 3)
}

// TestCloseFromHandler closes a connection from inside one of its own rpc
// handlers: Close returns (it does not wait for the handler calling it),
// the caller's pending call fails naming the close, and Done follows once
// the handler has returned.
func TestCloseFromHandler(t *testing.T) {
	a, b := signaledPair(t, rpcOptions(), rpcOptions())
	ctx := testCtx(t)
	closed := make(chan error, 1)
	release := make(chan struct{})
	require.NoError(t, b.RPC().Register("quit", func() {
		closed <- b.Close()
		<-release
	}))
	errc := make(chan error, 1)
	go func() { errc <- a.RPC().Call(ctx, "quit", nil) }()
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Close called from the connection's own handler did not return")
	}
	select {
	case <-b.Done():
		t.Fatal("Done before the handler returned")
	default:
	}
	close(release)
	waitDone(t, b)
	waitDone(t, a)
	assert.ErrorIs(t, <-errc, ErrRemoteClosed)
	assert.ErrorIs(t, b.Err(), ErrClosed)
}
