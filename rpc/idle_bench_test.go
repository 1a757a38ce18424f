package rpc

import (
	"context"
	"runtime"
	"testing"

	"github.com/peerd/peerd/binchannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idleTransport never delivers a packet: RecvPacket blocks until Close, so
// a Conn over it costs only what rpc itself holds.
type idleTransport struct{ closed chan struct{} }

func newIdleTransport() *idleTransport { return &idleTransport{closed: make(chan struct{})} }

func (t *idleTransport) SendPacket(context.Context, binchannel.Packet) error { return nil }

func (t *idleTransport) RecvPacket(ctx context.Context) (binchannel.Packet, error) {
	select {
	case <-t.closed:
		return binchannel.Packet{}, ErrPipeClosed
	case <-ctx.Done():
		return binchannel.Packet{}, ctx.Err()
	}
}

func (t *idleTransport) Close() error {
	select {
	case <-t.closed:
	default:
		close(t.closed)
	}
	return nil
}

func idleMem() (heap, stack uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
}

// BenchmarkIdleConn holds 2,000 idle Conns over a transport that costs
// nothing and reports rpc's own heap, heap plus goroutine stacks, and
// goroutines per Conn.
func BenchmarkIdleConn(b *testing.B) {
	const n = 2000
	for range b.N {
		h0, s0, g0 := idleMem()
		conns := make([]*Conn, n)
		for i := range conns {
			conns[i] = NewWithOptions(newIdleTransport(), Options{MaxConcurrency: 1})
		}
		h1, s1, g1 := idleMem()
		b.ReportMetric(float64(int64(h1)-int64(h0))/n, "heap-B/conn")
		b.ReportMetric(float64(int64(h1+s1)-int64(h0+s0))/n, "heap+stack-B/conn")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/conn")
		for _, c := range conns {
			c.Close()
		}
		for _, c := range conns {
			<-c.Done()
		}
	}
}

// TestNoIdleWorkers: with a negative IdleWorkers, requests are served and
// no goroutine stays parked after them.
func TestNoIdleWorkers(t *testing.T) {
	a, b := pair(t, Options{}, Options{IdleWorkers: -1})
	require.NoError(t, b.Register("add", func(x, y int) int { return x + y }))
	for i := range 5 {
		var sum int
		require.NoError(t, a.Call(testCtx(t), "add", &sum, i, 1))
		assert.Equal(t, i+1, sum)
	}
	require.Eventually(t, func() bool {
		b.smu.Lock()
		defer b.smu.Unlock()
		return b.workers == 0 && len(b.idle) == 0
	}, testTimeout, pollEvery)
	assert.Equal(t, int32(1), b.live.Load(), "only the reader is left")
}
