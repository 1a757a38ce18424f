package peer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

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
			<-a.Done()
			<-b.Done()
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
	<-b.Done()
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
	<-b.Done()
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
