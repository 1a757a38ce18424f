package peer

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransportRoundTrip(t *testing.T) {
	for _, mode := range []struct {
		name      string
		onMessage bool
	}{{"detached", false}, {"onmessage", true}} {
		t.Run(mode.name, func(t *testing.T) {
			o := testOptions()
			o.onMessage = mode.onMessage
			a, b := pair(t, o, o)
			ctx := testCtx(t)
			ta, tb := a.tr, b.tr
			assert.Equal(t, DefaultMaxMessageSize, ta.MaxMessageSize())
			assert.Equal(t, DefaultMaxMessageSize, tb.MaxMessageSize())

			cases := [][][]byte{
				{[]byte("hello")},
				{[]byte("multi"), []byte("-"), []byte("part")},
				{make([]byte, 1)},
				{bytes.Repeat([]byte{7}, 70000)},
				{bytes.Repeat([]byte{1}, 100000), bytes.Repeat([]byte{2}, DefaultMaxMessageSize-100000)},
			}
			for _, dir := range []struct {
				name string
				w, r interface {
					WriteMessage(context.Context, ...[]byte) error
					ReadMessage(context.Context) ([][]byte, error)
				}
			}{{"a->b", ta, tb}, {"b->a", tb, ta}} {
				for _, parts := range cases {
					want := bytes.Join(parts, nil)
					require.NoError(t, dir.w.WriteMessage(ctx, parts...), dir.name)
					got, err := dir.r.ReadMessage(ctx)
					require.NoError(t, err, dir.name)
					assert.Equal(t, want, bytes.Join(got, nil), dir.name)
				}
			}
		})
	}
}

func TestTransportTooLarge(t *testing.T) {
	a, _ := pair(t, testOptions(), testOptions())
	err := a.tr.WriteMessage(testCtx(t), make([]byte, DefaultMaxMessageSize+1))
	assert.ErrorIs(t, err, ErrMessageTooLarge)
}

func TestTransportReadContext(t *testing.T) {
	a, b := pair(t, testOptions(), testOptions())
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	_, err := b.tr.ReadMessage(ctx)
	assert.ErrorIs(t, err, context.Canceled)

	// A read interrupted while waiting loses nothing and leaves no stale
	// deadline behind.
	ctx2, cancel2 := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := b.tr.ReadMessage(ctx2)
		errc <- err
	}()
	cancel2()
	assert.ErrorIs(t, <-errc, context.Canceled)
	require.NoError(t, a.tr.WriteMessage(testCtx(t), []byte("after")))
	got, err := b.tr.ReadMessage(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, []byte("after"), got[0])
}

// TestTransportBulk moves 32 MiB of random bytes as full-size messages in
// both directions at once and checks every byte.
func TestTransportBulk(t *testing.T) {
	a, b := pair(t, testOptions(), testOptions())
	ctx := testCtx(t)
	const total = 32 << 20
	data := make([]byte, total)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	send := func(tr interface {
		WriteMessage(context.Context, ...[]byte) error
		MaxMessageSize() int
	},
	) error {
		step := tr.MaxMessageSize()
		for off := 0; off < total; off += step {
			if err := tr.WriteMessage(ctx, data[off:min(off+step, total)]); err != nil {
				return err
			}
		}

		return nil
	}
	recv := func(tr interface {
		ReadMessage(context.Context) ([][]byte, error)
	},
	) error {
		var got []byte
		for len(got) < total {
			parts, err := tr.ReadMessage(ctx)
			if err != nil {
				return err
			}
			for _, p := range parts {
				got = append(got, p...)
			}
		}
		if !bytes.Equal(got, data) {
			return errors.New("data differs")
		}

		return nil
	}
	errc := make(chan error, 4)
	go func() { errc <- send(a.tr) }()
	go func() { errc <- send(b.tr) }()
	go func() { errc <- recv(a.tr) }()
	go func() { errc <- recv(b.tr) }()
	for range 4 {
		require.NoError(t, <-errc)
	}
}

// TestBackpressure: with the reader stalled, writes stop once the queue is
// above the high watermark (the caller's ctx ends the wait), the queue
// never grows past one message over it, and writing resumes once the
// reader drains.
func TestBackpressure(t *testing.T) {
	o := testOptions()
	o.HighWatermark, o.LowWatermark = 256<<10, 128<<10
	a, b := pair(t, o, o)
	ctx := testCtx(t)
	msg := make([]byte, 64<<10)
	written := 0
	for {
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := a.tr.WriteMessage(wctx, msg)
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)

			break
		}
		written++
		require.LessOrEqual(t, a.tr.dc.BufferedAmount(), uint64(o.HighWatermark+len(msg)))
		require.Less(t, written, 1000, "writes never blocked")
	}
	done := make(chan error, 1)
	go func() {
		for range written + 1 {
			if _, err := b.tr.ReadMessage(ctx); err != nil {
				done <- err

				return
			}
		}
		done <- nil
	}()
	require.NoError(t, a.tr.WriteMessage(ctx, msg), "resumes at the low watermark")
	require.NoError(t, <-done)
}

// TestReadBufferFollowsMessageSize: a detached reader that handed its
// buffer over with a large message makes the next one at the size that
// message needed, so a stream of large messages is read without a failed
// read per doubling; small messages are copied out of the buffer it keeps.
func TestReadBufferFollowsMessageSize(t *testing.T) {
	a, b := pair(t, testOptions(), testOptions())
	ctx := testCtx(t)
	big := bytes.Repeat([]byte{9}, DefaultMaxMessageSize)
	for _, msg := range [][]byte{big, []byte("small"), big} {
		require.NoError(t, a.tr.WriteMessage(ctx, msg))
		got, err := b.tr.ReadMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, msg, bytes.Join(got, nil))
		// The reader is idle between reads, so its fields are ours here.
		assert.Equal(t, DefaultMaxMessageSize, b.tr.readSize, "next buffer sized for the large message")
		if len(msg) < 100 {
			assert.Len(t, b.tr.readBuf, DefaultMaxMessageSize, "the small message was copied out of a kept buffer")
		}
	}
}
