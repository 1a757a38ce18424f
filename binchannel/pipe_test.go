package binchannel

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipe(t *testing.T) {
	ctx := testCtx(t)
	a, b := NewPipe(PipeOptions{MaxMessageSize: 8, Depth: 2})
	assert.Equal(t, 8, a.MaxMessageSize())

	// Zero-copy hand-over: the reader gets the writer's slices.
	part := []byte("abcd")
	require.NoError(t, a.WriteMessage(ctx, part, []byte("efgh")))
	got, err := b.ReadMessage(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Same(t, &part[0], &got[0][0])

	assert.ErrorIs(t, a.WriteMessage(ctx, make([]byte, 9)), ErrMessageTooLarge)

	// Writes block at Depth until ctx ends; reads block until ctx ends.
	require.NoError(t, a.WriteMessage(ctx, []byte("1")))
	require.NoError(t, a.WriteMessage(ctx, []byte("2")))
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, a.WriteMessage(short, []byte("3")), context.DeadlineExceeded)
	short2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	_, err = a.ReadMessage(short2)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// Close: the closer fails at once; the other end reads what was
	// written, then ErrClosed; writes fail both ways.
	require.NoError(t, a.Close())
	_, err = a.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, a.WriteMessage(ctx, []byte("x")), ErrClosed)
	assert.ErrorIs(t, b.WriteMessage(ctx, []byte("x")), ErrClosed)
	for _, want := range []string{"1", "2"} {
		m, err := b.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, string(m[0]))
	}
	_, err = b.ReadMessage(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	require.NoError(t, a.Close(), "Close is idempotent")
	require.NoError(t, b.Close())
}

func TestPipeCloseUnblocksWriter(t *testing.T) {
	ctx := testCtx(t)
	a, b := NewPipe(PipeOptions{Depth: 1})
	require.NoError(t, a.WriteMessage(ctx, []byte("1")))
	done := make(chan error, 1)
	go func() { done <- a.WriteMessage(ctx, []byte("2")) }()
	require.NoError(t, b.Close())
	assert.ErrorIs(t, <-done, ErrClosed)
}
