package peer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchmarkOptions(t *testing.T) {
	o := Options{PionDefaults: true, Raw: true}.withDefaults()
	assert.True(t, o.pionDefaults)
	assert.True(t, o.onMessage)
	assert.True(t, o.rawTransport)
	assert.Equal(t, -1, o.UDPBufferSize)
	assert.Equal(t, 1<<20, o.HighWatermark)
	assert.Equal(t, 512<<10, o.LowWatermark)

	o = Options{PionDefaults: true, HighWatermark: 8 << 20, LowWatermark: 1 << 20}.withDefaults()
	assert.Equal(t, 8<<20, o.HighWatermark, "set watermarks are kept")
	assert.Equal(t, 1<<20, o.LowWatermark)

	// Raw: the bare channel through Transport, no rpc.
	for _, pd := range []bool{false, true} {
		ro := Options{Network: NetworkLoopback, Raw: true, PionDefaults: pd}
		a, b := pair(t, ro, ro)
		require.NotNil(t, a.Transport())
		assert.Nil(t, a.RPC())
		ctx := testCtx(t)
		require.NoError(t, a.Transport().WriteMessage(ctx, []byte("ping")))
		m, err := b.Transport().ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, [][]byte{[]byte("ping")}, m)
	}

	// Not raw: binchannel and rpc own the channel.
	a, _ := pair(t, Options{Network: NetworkLoopback}, Options{Network: NetworkLoopback})
	assert.Nil(t, a.Transport())
	assert.NotNil(t, a.RPC())
}
