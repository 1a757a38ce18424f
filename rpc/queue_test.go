package rpc

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queueHolder registers "hold" on c: each call signals entered and waits
// for release (or its ctx), then answers its string's length.
func queueHolder(t *testing.T, c *Conn) (entered chan struct{}, release chan struct{}) {
	t.Helper()
	entered, release = make(chan struct{}, 100), make(chan struct{})
	require.NoError(t, c.Register("hold", func(ctx context.Context, s string) (int, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return len(s), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	return entered, release
}

// holdMsg is a call of "hold" with id (one digit) that is exactly size
// bytes long.
func holdMsg(t *testing.T, id, size int) string {
	t.Helper()
	head := `{"jsonrpc":"2.0","method":"hold","params":["`
	tail := fmt.Sprintf(`"],"id":%d}`, id)
	require.Greater(t, size, len(head)+len(tail))
	return head + strings.Repeat("a", size-len(head)-len(tail)) + tail
}

// holdAnswer is the answer to holdMsg(id, size).
func holdAnswer(id, size int) string {
	n := size - len(`{"jsonrpc":"2.0","method":"hold","params":["`) - len(fmt.Sprintf(`"],"id":%d}`, id))
	return fmt.Sprintf(`{"jsonrpc":"2.0","result":%d,"id":%d}`, n, id)
}

// routed returns once every message p sent before has been routed by the
// Conn's reader: rpc.cancel is answered by the reader itself, in order.
func (p rawPeer) routed(t *testing.T) {
	t.Helper()
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.cancel","params":[],"id":"routed"}`)
	assert.Equal(t, `{"jsonrpc":"2.0","result":null,"id":"routed"}`, p.recv(t))
}

// TestMaxQueueBytes: with one handler slot busy, requests wait until the
// messages they hold would pass MaxQueueBytes; the next one is refused at
// once with the very answer a request past MaxQueue gets, while a smaller
// one that still fits waits; the waiting ones all run once the slot frees
// up, and nothing stays counted.
func TestMaxQueueBytes(t *testing.T) {
	const size = 1000
	for _, tt := range []struct {
		name  string
		opts  Options
		small bool // a small request fits after the refusal
	}{
		{"MaxQueue", Options{MaxConcurrency: 1, MaxQueue: 3, MaxQueueBytes: -1}, false},
		{"MaxQueueBytes", Options{MaxConcurrency: 1, MaxQueueBytes: 3*size + size/2}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var entered, release chan struct{}
			c, p := rawConn(t, tt.opts, func(c *Conn) { entered, release = queueHolder(t, c) })
			p.send(t, holdMsg(t, 0, 100))
			<-entered
			want := []string{holdAnswer(0, 100)}
			for id := 1; id <= 3; id++ {
				p.send(t, holdMsg(t, id, size))
				want = append(want, holdAnswer(id, size))
			}
			p.routed(t)
			s := c.Stats()
			assert.Equal(t, 3, s.Queued)
			assert.Equal(t, 3*size, s.QueuedBytes)

			p.send(t, holdMsg(t, 4, size))
			assert.Equal(t, `{"jsonrpc":"2.0","error":{"code":-32005,"message":"Server overloaded"},"id":4}`, p.recv(t))
			p.send(t, holdMsg(t, 5, 200))
			if tt.small {
				want = append(want, holdAnswer(5, 200))
				p.routed(t)
				assert.Equal(t, 3*size+200, c.Stats().QueuedBytes)
			} else {
				assert.Equal(t, `{"jsonrpc":"2.0","error":{"code":-32005,"message":"Server overloaded"},"id":5}`, p.recv(t))
			}

			close(release)
			var got []string
			for range want {
				got = append(got, p.recv(t))
			}
			assert.Equal(t, want, got, "queued requests run in order")
			assert.Equal(t, 0, c.Stats().QueuedBytes)
		})
	}
}

// TestMaxQueueBytesBatch: the requests of one batch share their message,
// which counts once while any of them waits; a message larger than the
// bound waits when nothing else does, and then nothing else fits.
func TestMaxQueueBytesBatch(t *testing.T) {
	const size = 1000
	var entered, release chan struct{}
	c, p := rawConn(t, Options{MaxConcurrency: 1, MaxQueueBytes: 2 * size}, func(c *Conn) { entered, release = queueHolder(t, c) })
	p.send(t, holdMsg(t, 0, 100))
	<-entered

	// Three calls of size bytes in one batch: 3*size+4 bytes, over the
	// bound, but nothing else waits.
	batch := "[" + holdMsg(t, 1, size) + "," + holdMsg(t, 2, size) + "," + holdMsg(t, 3, size) + "]"
	p.send(t, batch)
	p.routed(t)
	s := c.Stats()
	assert.Equal(t, 3, s.Queued)
	assert.Equal(t, len(batch), s.QueuedBytes, "a batch counts once")

	p.send(t, holdMsg(t, 4, 100))
	assert.Equal(t, `{"jsonrpc":"2.0","error":{"code":-32005,"message":"Server overloaded"},"id":4}`, p.recv(t))

	close(release)
	assert.Equal(t, holdAnswer(0, 100), p.recv(t))
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(p.recv(t)), &got))
	var want []map[string]any
	require.NoError(t, json.Unmarshal([]byte("["+holdAnswer(1, size)+","+holdAnswer(2, size)+","+holdAnswer(3, size)+"]"), &want))
	assert.ElementsMatch(t, want, got)
	assert.Equal(t, 0, c.Stats().QueuedBytes)
}

// TestMaxQueueBytesBinaries: over binchannel a request's binary parts
// count with its JSON text.
func TestMaxQueueBytesBinaries(t *testing.T) {
	const binSize = 64 << 10
	a, b := pair(t, Options{}, Options{MaxConcurrency: 1, MaxQueueBytes: binSize + binSize/2})
	entered, release := queueHolder(t, b)
	require.NoError(t, b.Register("size", func(p []byte) int { return len(p) }))
	ctx := testCtx(t)
	held := make(chan error, 2)
	go func() { held <- a.Call(ctx, "hold", nil, "x") }()
	<-entered
	go func() {
		n, err := Call[int](ctx, a, "size", make([]byte, binSize))
		if err == nil && n != binSize {
			err = fmt.Errorf("got %d", n)
		}
		held <- err
	}()
	require.Eventually(t, func() bool { return b.Stats().Queued == 1 }, testTimeout, pollEvery)
	s := b.Stats()
	assert.Greater(t, s.QueuedBytes, binSize, "the binary counts")
	assert.Less(t, s.QueuedBytes, binSize+200)

	_, err := Call[int](ctx, a, "size", make([]byte, binSize))
	assert.ErrorIs(t, err, ErrOverloaded)
	close(release)
	assert.NoError(t, <-held)
	assert.NoError(t, <-held)
	assert.Equal(t, 0, b.Stats().QueuedBytes)
}

// TestMaxQueueBytesDefault: 0 means DefaultMaxQueueBytes; a negative
// value, no bound.
func TestMaxQueueBytesDefault(t *testing.T) {
	assert.Equal(t, DefaultMaxQueueBytes, Options{}.withDefaults().MaxQueueBytes)
	assert.Equal(t, 16<<20, DefaultMaxQueueBytes)
	assert.Equal(t, -1, Options{MaxQueueBytes: -1}.withDefaults().MaxQueueBytes)
}
