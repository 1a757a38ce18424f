package rpc

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInlineHandlerBlocks checks that a handler the reader runs itself and
// that blocks on something only a later message can release does not stop
// the Conn from reading: the reader role moves on.
func TestInlineHandlerBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"defaults", Options{}},
		{"no parked workers", Options{IdleWorkers: -1}},
		{"two slots, none parked", Options{MaxConcurrency: 2, IdleWorkers: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			a, b := pair(t, Options{}, tc.o)
			release := make(chan struct{})
			require.NoError(t, b.Register("wait", func(ctx context.Context) error {
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}))
			require.NoError(t, b.Register("release", func() { close(release) }))
			for range 3 { // the reader role moves each time; again and again
				release = make(chan struct{})
				errc := make(chan error, 1)
				go func() { errc <- a.Call(ctx, "wait", nil) }()
				assert.NoError(t, a.Call(ctx, "release", nil))
				assert.NoError(t, <-errc)
			}
		})
	}
}

// TestInlineHandlerCallsBack checks that a handler run by the reader can
// call the peer and get the answer, which the reader role must read.
func TestInlineHandlerCallsBack(t *testing.T) {
	ctx := testCtx(t)
	a, b := pair(t, Options{}, Options{IdleWorkers: -1})
	require.NoError(t, a.Register("double", func(x int) int { return 2 * x }))
	require.NoError(t, b.Register("quad", func(ctx context.Context, x int) (int, error) {
		y, err := Call[int](ctx, ConnFromContext(ctx), "double", x)
		if err != nil {
			return 0, err
		}
		return Call[int](ctx, ConnFromContext(ctx), "double", y)
	}))
	for i := range 20 {
		got, err := Call[int](ctx, a, "quad", i)
		require.NoError(t, err)
		assert.Equal(t, 4*i, got)
	}
}

// TestQueuedBehindInlineRuns: with one handler slot, a request queued
// behind the one the reader runs itself runs as soon as that one returns,
// without waiting for another packet to arrive.
func TestQueuedBehindInlineRuns(t *testing.T) {
	ran := make(chan string, 2)
	_, peer := rawConn(t, Options{MaxConcurrency: 1}, func(c *Conn) {
		require.NoError(t, c.Register("a", func() { ran <- "a" }))
		require.NoError(t, c.Register("b", func() { ran <- "b" }))
	})
	peer.send(t, `[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]`)
	ctx := testCtx(t)
	for _, want := range []string{"a", "b"} {
		select {
		case got := <-ran:
			assert.Equal(t, want, got)
		case <-ctx.Done():
			t.Fatalf("%s never ran", want)
		}
	}
}
