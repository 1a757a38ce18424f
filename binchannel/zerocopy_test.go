package binchannel

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On send, every data part the transport sees is a sub-slice of the
// caller's memory.
func TestZeroCopySend(t *testing.T) {
	rt := &recTransport{}
	c := NewWithOptions(rt, Options{ChunkSize: 100})
	payload := make([]byte, 1050)
	js := []byte(`{"d":{"$bin":0}}`)
	require.NoError(t, c.SendPacket(context.Background(), Packet{JSON: js, Bins: []Binary{BytesBinary(payload)}}))
	// The first chunk rides in the OPEN message, after the skeleton.
	require.Len(t, rt.msgs, 11)
	require.Len(t, rt.msgs[0], 4, "OPEN header, skeleton, BIN header, chunk")
	assert.Same(t, &js[0], &rt.msgs[0][1][0], "skeleton is a view")
	for i, m := range rt.msgs {
		data := m[len(m)-1]
		if i > 0 {
			require.Len(t, m, 2, "header part + one data part")
		}
		assert.Same(t, &payload[i*100], &data[0], "chunk %d is a view", i)
		assert.Equal(t, len(data), cap(data), "chunk %d cannot grow into the next", i)
	}
}

// On receive, a value no larger than a chunk is a view of the received
// message, and a larger one is the list of views of its chunks.
func TestZeroCopyReceive(t *testing.T) {
	ctx := testCtx(t)
	a, b := newPair(t, PipeOptions{}, Options{ChunkSize: 100})
	small := make([]byte, 100)
	large := make([]byte, 250)
	require.NoError(t, a.SendPacket(ctx, Packet{JSON: []byte(`[{"$bin":0},{"$bin":1}]`), Bins: []Binary{BytesBinary(small), BytesBinary(large)}}))
	p, err := b.RecvPacket(ctx)
	require.NoError(t, err)
	require.True(t, p.Bins[0].Contiguous())
	assert.Same(t, &small[0], &p.Bins[0].Bytes()[0])
	chunks := p.Bins[1].Chunks()
	require.Len(t, chunks, 3)
	for i, ch := range chunks {
		assert.Same(t, &large[i*100], &ch[0], "chunk %d", i)
	}
	assert.Equal(t, int64(250), p.Bins[1].Len())

	// A message from a copying transport (one part, header included):
	// the binary is a view into that message.
	msg := binMsg(7, 0, 3, 0, "abc")
	r := New(&recTransport{})
	_, _, err = r.handle([][]byte{openMsg(7, 1, 10, ph)})
	require.NoError(t, err)
	got, ok, err := r.handle([][]byte{msg})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Same(t, &msg[BinHeaderSize], &got.Bins[0].Bytes()[0])
}

// AssembleBins turns a multi-chunk value into one slice with one copy.
func TestAssembleBins(t *testing.T) {
	ctx := testCtx(t)
	a, b := newPair(t, PipeOptions{}, Options{ChunkSize: 100, AssembleBins: true})
	large := make([]byte, 250)
	for i := range large {
		large[i] = byte(i)
	}
	require.NoError(t, a.SendPacket(ctx, Packet{JSON: []byte(ph), Bins: []Binary{BytesBinary(large)}}))
	p, err := b.RecvPacket(ctx)
	require.NoError(t, err)
	require.True(t, p.Bins[0].Contiguous())
	assert.Equal(t, large, p.Bins[0].Bytes())
	assert.NotSame(t, &large[0], &p.Bins[0].Bytes()[0])
}

// A multi-chunk value streams out without being assembled.
func TestStreamReceivedBinary(t *testing.T) {
	ctx := testCtx(t)
	a, b := newPair(t, PipeOptions{}, Options{ChunkSize: 100})
	large := make([]byte, 1001)
	for i := range large {
		large[i] = byte(i * 7)
	}
	p := Packet{JSON: []byte(ph), Bins: []Binary{BytesBinary(large)}}
	require.NoError(t, a.Send(ctx, &p)) // a *Packet goes as is
	got, err := b.RecvPacket(ctx)
	require.NoError(t, err)
	bin := got.Bins[0]
	require.False(t, bin.Contiguous())
	require.Len(t, bin.Chunks(), 11)

	var buf bytes.Buffer
	n, err := bin.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(1001), n)
	assert.Equal(t, large, buf.Bytes())

	all, err := io.ReadAll(bin.Reader())
	require.NoError(t, err)
	assert.Equal(t, large, all)
}
