package binchannel

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookTransport runs hook before each write to the wrapped transport.
type hookTransport struct {
	Transport
	hook func(ctx context.Context, parts [][]byte)
}

func (h *hookTransport) WriteMessage(ctx context.Context, parts ...[]byte) error {
	if h.hook != nil {
		h.hook(ctx, parts)
	}
	return h.Transport.WriteMessage(ctx, parts...)
}

func packetID(m []byte) uint32 { return binary.BigEndian.Uint32(m[1:5]) }

func bigPacket(tag byte, n int) Packet {
	data := make([]byte, n)
	for i := range data {
		data[i] = tag
	}
	return Packet{JSON: []byte(`{"d":{"$bin":0}}`), Bins: []Binary{BytesBinary(data)}}
}

func TestReentrantSend(t *testing.T) {
	for _, name := range []string{"writer ctx", "other ctx"} {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			ta, tb := NewPipe(PipeOptions{Depth: 100})
			ht := &hookTransport{Transport: ta}
			c := NewWithOptions(ht, Options{ChunkSize: 10, MaxQueuePackets: 1})
			defer c.Close()
			var once sync.Once
			reErr := make(chan error, 1)
			ht.hook = func(wctx context.Context, parts [][]byte) {
				if parts[0][0] != KindBin {
					return
				}
				once.Do(func() {
					sctx := wctx
					if name == "other ctx" {
						sctx = ctx
					}
					// Re-entered from inside WriteMessage, in the middle
					// of packet X's chunks.
					reErr <- c.SendPacket(sctx, bigPacket('y', 25))
				})
			}
			if name == "other ctx" {
				c.o.MaxQueuePackets = 10 // a foreign ctx cannot skip the bound
			}
			require.NoError(t, c.SendPacket(ctx, bigPacket('x', 55)))
			require.NoError(t, <-reErr)

			// On the wire, every message of X precedes every message of Y.
			var ids []uint32
			for i := 0; i < 2+6+2+3; i++ { // X: OPEN, JSON, 6 chunks; Y: OPEN, JSON, 3 chunks
				m, err := tb.ReadMessage(ctx)
				require.NoError(t, err)
				ids = append(ids, packetID(m[0]))
			}
			for i, id := range ids {
				if i < 8 {
					assert.Equal(t, ids[0], id, "message %d", i)
				} else {
					assert.NotEqual(t, ids[0], id, "message %d", i)
				}
			}
		})
	}
}

func TestSendFailureResumes(t *testing.T) {
	boom := errors.New("boom")
	// 56 bytes: OPEN (13), skeleton (16) and BIN header (25) leave room
	// for two bytes of the binary; its third goes in a second message.
	rt := &recTransport{max: 56}
	fail := true
	rt.before = func(_ context.Context, n int) error {
		if n == 1 && fail {
			fail = false
			return boom
		}
		return nil
	}
	c := New(rt)
	ctx := context.Background()
	p1 := Packet{JSON: []byte(`{"a":{"$bin":0}}`), Bins: []Binary{BytesBinary([]byte("one"))}}
	p2 := Packet{JSON: []byte(`{"b":{"$bin":0}}`), Bins: []Binary{BytesBinary([]byte("two"))}}
	err := c.SendPacket(ctx, p1)
	require.ErrorIs(t, err, boom)
	require.Len(t, rt.flat(), 1, "the OPEN went out, the last chunk failed")

	require.NoError(t, c.SendPacket(ctx, p2))
	msgs := rt.flat()
	require.Len(t, msgs, 4)
	assert.Equal(t, []byte{KindOpen, KindBin, KindOpen, KindBin}, []byte{msgs[0][0], msgs[1][0], msgs[2][0], msgs[3][0]})
	assert.Equal(t, []uint32{1, 1, 2, 2}, []uint32{packetID(msgs[0]), packetID(msgs[1]), packetID(msgs[2]), packetID(msgs[3])})

	// The receiver sees both packets whole.
	r := New(&recTransport{})
	var got []Packet
	for _, m := range msgs {
		p, ok, err := r.handle([][]byte{m})
		require.NoError(t, err)
		if ok {
			got = append(got, p)
		}
	}
	require.Len(t, got, 2)
	assertSamePacket(t, p1, got[0])
	assertSamePacket(t, p2, got[1])
}

func TestFlushResumes(t *testing.T) {
	boom := errors.New("boom")
	rt := &recTransport{}
	rt.before = func(_ context.Context, n int) error {
		if n == 0 {
			return boom
		}
		return nil
	}
	c := New(rt)
	require.ErrorIs(t, c.SendPacket(context.Background(), Packet{JSON: []byte(`1`)}), boom)
	require.Empty(t, rt.flat())
	require.NoError(t, c.Flush(context.Background()))
	assert.Equal(t, [][]byte{append(AppendOpenHeader(nil, 1, 0, 1), '1')}, rt.flat())
}

func TestResetDropsQueuedOutput(t *testing.T) {
	boom := errors.New("boom")
	rt := &recTransport{}
	rt.before = func(_ context.Context, n int) error {
		if n == 1 {
			return boom
		}
		return nil
	}
	c := New(rt)
	ctx := context.Background()
	require.ErrorIs(t, c.SendPacket(ctx, bigPacket('a', 3*DefaultChunkSize)), boom)
	c.Reset()
	require.NoError(t, c.SendPacket(ctx, Packet{JSON: []byte(`2`)}))
	msgs := rt.flat()
	require.Len(t, msgs, 2)
	assert.Equal(t, uint32(1), packetID(msgs[0]))
	assert.Equal(t, uint32(2), packetID(msgs[1]))
	assert.Equal(t, KindOpen, msgs[1][0])
}

func TestResetDropsHalfReceivedInput(t *testing.T) {
	log := &errorLog{}
	c := NewWithOptions(&recTransport{}, Options{OnError: log.add})
	_, _, err := c.handle([][]byte{openMsg(1, 1, 10, ph)})
	require.NoError(t, err)
	c.Reset()
	assert.Empty(t, c.pending)
	assert.Zero(t, c.pendingB)
	_, ok, err := c.handle([][]byte{binMsg(1, 0, 1, 0, "x")})
	assert.NoError(t, err, "the tail of a reset packet is ignored")
	assert.False(t, ok)
}

func TestBackpressure(t *testing.T) {
	ctx := testCtx(t)
	ta, tb := NewPipe(PipeOptions{Depth: 1})
	entered := make(chan struct{}, 16)
	ht := &hookTransport{Transport: ta, hook: func(context.Context, [][]byte) { entered <- struct{}{} }}
	c := NewWithOptions(ht, Options{ChunkSize: 10, MaxQueuePackets: 2})
	defer c.Close()
	r := New(tb)
	defer r.Close()

	// The first Send becomes the writer and blocks on the full pipe.
	first := make(chan error, 1)
	go func() { first <- c.SendPacket(ctx, bigPacket('a', 30)) }()
	<-entered // OPEN, fits in the pipe
	<-entered // first chunk: blocks, the pipe holds one message

	// A second packet queues behind the writer and returns.
	require.NoError(t, c.SendPacket(ctx, bigPacket('b', 5)))
	// The queue is now at its bound: a third Send waits until its ctx ends.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	err := c.SendPacket(short, bigPacket('c', 5))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	c.mu.Lock()
	assert.Equal(t, 2, c.q.len())
	c.mu.Unlock()

	// Once the receiver reads, everything flows.
	for _, tag := range []byte{'a', 'b'} {
		p, err := r.RecvPacket(ctx)
		require.NoError(t, err)
		assert.Equal(t, tag, p.Bins[0].Bytes()[0])
	}
	require.NoError(t, <-first)
}

func TestCloseUnblocks(t *testing.T) {
	ctx := testCtx(t)
	a, b := newPair(t, PipeOptions{}, Options{})
	recvErr := make(chan error, 1)
	go func() {
		_, err := b.RecvPacket(ctx)
		recvErr <- err
	}()
	require.NoError(t, b.Close())
	assert.ErrorIs(t, <-recvErr, ErrClosed)
	assert.ErrorIs(t, b.SendPacket(ctx, Packet{JSON: []byte(`1`)}), ErrClosed)
	// The other end's writes fail too: the pipe is closed.
	assert.ErrorIs(t, a.SendPacket(ctx, Packet{JSON: []byte(`1`)}), ErrClosed)
	assert.NoError(t, b.Close(), "Close is idempotent")
}

func TestSendTooLarge(t *testing.T) {
	c := NewWithOptions(&recTransport{}, Options{MaxPacketSize: 10})
	err := c.SendPacket(context.Background(), bigPacket('a', 20))
	assert.ErrorIs(t, err, ErrPacketTooLarge)
	c2 := New(&recTransport{max: BinHeaderSize})
	assert.ErrorIs(t, c2.SendPacket(context.Background(), bigPacket('a', 1)), ErrMessageSizeTooSmall)
}

// When the writing Send's ctx ends, what is queued behind it still goes
// out without another Send.
func TestWriterCtxEndHandsOver(t *testing.T) {
	ctx := testCtx(t)
	ta, tb := NewPipe(PipeOptions{Depth: 1})
	entered := make(chan struct{}, 16)
	ht := &hookTransport{Transport: ta, hook: func(context.Context, [][]byte) { entered <- struct{}{} }}
	c := NewWithOptions(ht, Options{ChunkSize: 10})
	defer c.Close()
	r := New(tb)
	defer r.Close()

	actx, cancel := context.WithCancel(ctx)
	first := make(chan error, 1)
	go func() { first <- c.SendPacket(actx, bigPacket('a', 30)) }()
	<-entered
	<-entered // blocked on the full pipe
	require.NoError(t, c.SendPacket(ctx, bigPacket('b', 5)))
	cancel()
	require.ErrorIs(t, <-first, context.Canceled)

	for _, tag := range []byte{'a', 'b'} {
		p, err := r.RecvPacket(ctx)
		require.NoError(t, err)
		assert.Equal(t, tag, p.Bins[0].Bytes()[0])
	}
}

// The writing Send returns once its own packet is out; packets queued
// behind it are written by a background writer.
func TestWriterReturnsAfterOwnPacket(t *testing.T) {
	ctx := testCtx(t)
	ta, tb := NewPipe(PipeOptions{Depth: 64})
	ownStarted := make(chan struct{})
	others := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	ht := &hookTransport{Transport: ta, hook: func(hctx context.Context, parts [][]byte) {
		switch packetID(parts[0]) {
		case 1:
			once.Do(func() {
				close(ownStarted)
				<-others // hold the writer until packet 2 is queued
			})
		default:
			select {
			case <-release:
			case <-hctx.Done():
			}
		}
	}}
	c := New(ht)
	defer c.Close()
	r := New(tb)
	defer r.Close()

	first := make(chan error, 1)
	go func() { first <- c.SendPacket(ctx, bigPacket('a', 10)) }()
	<-ownStarted
	require.NoError(t, c.SendPacket(ctx, bigPacket('b', 10)), "queued behind the writer")
	close(others)
	require.NoError(t, <-first, "the writer returns although packet 2 is still unwritten")
	close(release)
	for _, tag := range []byte{'a', 'b'} {
		p, err := r.RecvPacket(ctx)
		require.NoError(t, err)
		assert.Equal(t, tag, p.Bins[0].Bytes()[0])
	}
}

// Flush waits for another writer to empty the queue.
func TestFlushWaitsForWriter(t *testing.T) {
	ctx := testCtx(t)
	ta, tb := NewPipe(PipeOptions{Depth: 1})
	entered := make(chan struct{}, 16)
	ht := &hookTransport{Transport: ta, hook: func(context.Context, [][]byte) { entered <- struct{}{} }}
	c := NewWithOptions(ht, Options{ChunkSize: 10})
	defer c.Close()
	r := New(tb)
	defer r.Close()

	first := make(chan error, 1)
	go func() { first <- c.SendPacket(ctx, bigPacket('a', 30)) }()
	<-entered
	<-entered // the writer is blocked on the full pipe
	require.NoError(t, c.SendPacket(ctx, bigPacket('b', 5)))

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.Flush(short), context.DeadlineExceeded, "nothing moves while nobody reads")

	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	for _, tag := range []byte{'a', 'b'} {
		p, err := r.RecvPacket(ctx)
		require.NoError(t, err)
		assert.Equal(t, tag, p.Bins[0].Bytes()[0])
	}
	require.NoError(t, <-flushed)
	require.NoError(t, <-first)
	c.mu.Lock()
	assert.Zero(t, c.q.len())
	c.mu.Unlock()
}
