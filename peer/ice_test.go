package peer

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
)

// blackhole is a UDP socket whose writes can be made to vanish, as on a
// path that stopped delivering.
type blackhole struct {
	transport.UDPConn
	drop *atomic.Bool
}

func (b blackhole) WriteTo(p []byte, addr net.Addr) (int, error) {
	if b.drop.Load() {
		return len(p), nil
	}

	return b.UDPConn.WriteTo(p, addr)
}

func (b blackhole) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	if b.drop.Load() {
		return len(p), nil
	}

	return b.UDPConn.WriteToUDP(p, addr)
}

func (b blackhole) Write(p []byte) (int, error) {
	if b.drop.Load() {
		return len(p), nil
	}

	return b.UDPConn.Write(p)
}

// TestPathLoss cuts the path under an open connection: the call made
// after the cut fails naming the ICE cause, and both sides close with it.
func TestPathLoss(t *testing.T) {
	for _, tc := range []struct {
		name     string
		timeouts [3]time.Duration
		grace    time.Duration
		want     error
	}{
		// Pion declares failure before our grace expires.
		{"failed", [3]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 50 * time.Millisecond}, time.Minute, ErrICEFailed},
		// Our grace expires while Pion still says disconnected.
		{"disconnected", [3]time.Duration{200 * time.Millisecond, time.Minute, 50 * time.Millisecond}, 200 * time.Millisecond, ErrICEDisconnected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var drop atomic.Bool
			oa := rpcOptions()
			oa.iceTimeouts = &tc.timeouts
			oa.DisconnectTimeout = tc.grace
			oa.wrapUDP = func(c transport.UDPConn) transport.UDPConn { return blackhole{c, &drop} }
			ob := rpcOptions()
			ob.iceTimeouts = &tc.timeouts
			ob.DisconnectTimeout = tc.grace
			ob.wrapUDP = oa.wrapUDP
			a, b := pair(t, oa, ob)
			ctx := testCtx(t)
			require.NoError(t, b.RPC().Register("ok", func() {}))
			require.NoError(t, a.RPC().Call(ctx, "ok", nil))

			drop.Store(true)
			err := a.RPC().Call(ctx, "ok", nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, rpc.ErrClosed)
			assert.ErrorIs(t, err, tc.want)
			waitDone(t, a)
			waitDone(t, b)
			assert.ErrorIs(t, a.Err(), tc.want)
			assert.ErrorIs(t, b.Err(), tc.want)
		})
	}
}
