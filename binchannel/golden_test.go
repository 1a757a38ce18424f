package binchannel

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unhex decodes hex with spaces and | separators, for readable goldens.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// The worked example of docs/PROTOCOL.md section 2: the skeleton fits in
// OPEN, so the binary's only chunk rides in the same message.
func TestGoldenSmallPacket(t *testing.T) {
	rt := &recTransport{}
	c := New(rt)
	p := Packet{JSON: []byte(`{"a":{"$bin":0}}`), Bins: []Binary{BytesBinary([]byte("hi"))}}
	require.NoError(t, c.SendPacket(context.Background(), p))
	msgs := rt.flat()
	require.Len(t, msgs, 1)
	assert.Equal(t, unhex(t, `01 | 00000001 | 00000001 | 00000010 |
		7b2261223a7b222462696e223a307d7d |
		03 | 00000001 | 00000000 | 0000000000000002 | 0000000000000000 | 6869`), msgs[0])

	// The message is the OPEN header, the skeleton, the BIN header and the
	// binary's bytes, each its own part.
	require.Len(t, rt.msgs[0], 4)
	assert.Len(t, rt.msgs[0][0], OpenHeaderSize)
	assert.Len(t, rt.msgs[0][2], BinHeaderSize)

	// The receiver takes the same packet from the separate OPEN and BIN
	// messages an older sender (or another implementation) may send.
	r := New(&recTransport{})
	_, ok, err := r.handle([][]byte{msgs[0][:OpenHeaderSize+16]})
	require.NoError(t, err)
	require.False(t, ok)
	got, ok, err := r.handle([][]byte{msgs[0][OpenHeaderSize+16:]})
	require.NoError(t, err)
	require.True(t, ok)
	assertSamePacket(t, p, got)
}

// A 30-byte transport forces a JSON continuation and three binary chunks.
func TestGoldenSplitPacket(t *testing.T) {
	rt := &recTransport{max: 30}
	c := New(rt)
	c.nextID.Store(0x0102)
	js := `{"x":{"$bin":0},"y":7}` // 22 bytes: 17 in OPEN, 5 in JSON
	p := Packet{JSON: []byte(js), Bins: []Binary{BytesBinary([]byte("hello world"))}}
	require.NoError(t, c.SendPacket(context.Background(), p))
	want := []string{
		`01 | 00000103 | 00000001 | 00000016 | 7b2278223a7b222462696e223a307d2c22`,
		`02 | 00000103 | 00000011 | 79223a377d`,
		`03 | 00000103 | 00000000 | 000000000000000b | 0000000000000000 | 68656c6c6f`,
		`03 | 00000103 | 00000000 | 000000000000000b | 0000000000000005 | 20776f726c`,
		`03 | 00000103 | 00000000 | 000000000000000b | 000000000000000a | 64`,
	}
	msgs := rt.flat()
	require.Len(t, msgs, len(want))
	for i, w := range want {
		assert.Equal(t, hex.EncodeToString(unhex(t, w)), hex.EncodeToString(msgs[i]), "message %d", i)
		assert.LessOrEqual(t, len(msgs[i]), 30)
	}

	// The receiver rebuilds the packet from exactly these bytes.
	ta, tb := NewPipe(PipeOptions{MaxMessageSize: 30})
	r := New(tb)
	defer r.Close()
	ctx := testCtx(t)
	for _, m := range msgs {
		require.NoError(t, ta.WriteMessage(ctx, m))
	}
	got, err := r.RecvPacket(ctx)
	require.NoError(t, err)
	assert.Equal(t, js, string(got.JSON))
	assert.Equal(t, "hello world", string(got.Bins[0].Bytes()))
	assert.Len(t, got.Bins[0].Chunks(), 3)
}

func TestGoldenEmptyAndNoBinaries(t *testing.T) {
	rt := &recTransport{}
	c := New(rt)
	require.NoError(t, c.SendPacket(context.Background(), Packet{JSON: []byte(`[]`)}))
	require.NoError(t, c.SendPacket(context.Background(), Packet{JSON: []byte(`{"$bin":0}`), Bins: []Binary{BytesBinary(nil)}}))
	msgs := rt.flat()
	require.Len(t, msgs, 2)
	assert.Equal(t, unhex(t, `01 00000001 00000000 00000002 5b5d`), msgs[0])
	assert.Equal(t, unhex(t, `01 00000002 00000001 0000000a 7b222462696e223a307d
		03 00000002 00000000 0000000000000000 0000000000000000`), msgs[1])
}

func TestHeaderAppenders(t *testing.T) {
	assert.Equal(t, unhex(t, `01 deadbeef 00000002 00000003`), AppendOpenHeader(nil, 0xdeadbeef, 2, 3))
	assert.Equal(t, unhex(t, `02 deadbeef 00000010`), AppendJSONHeader(nil, 0xdeadbeef, 16))
	assert.Equal(t, unhex(t, `03 deadbeef 00000001 0000000100000000 00000000000000ff`), AppendBinHeader(nil, 0xdeadbeef, 1, 1<<32, 255))
}
