package peer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
)

// rpcOptions is testOptions with binchannel and rpc on the channel.
func rpcOptions() Options { return Options{Network: NetworkLoopback} }

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}

	return b
}

func TestRPCBothWays(t *testing.T) {
	a, b := pair(t, rpcOptions(), rpcOptions())
	ctx := testCtx(t)
	require.NoError(t, a.RPC().Register("whoami", func() string { return "a" }))
	require.NoError(t, b.RPC().Register("whoami", func() string { return "b" }))
	require.NoError(t, b.RPC().Register("askBack", func(ctx context.Context) (string, error) {
		return rpc.Call[string](ctx, rpc.ConnFromContext(ctx), "whoami")
	}))

	s, err := rpc.Call[string](ctx, a.RPC(), "whoami")
	require.NoError(t, err)
	assert.Equal(t, "b", s)
	s, err = rpc.Call[string](ctx, b.RPC(), "whoami")
	require.NoError(t, err)
	assert.Equal(t, "a", s)
	s, err = rpc.Call[string](ctx, a.RPC(), "askBack")
	require.NoError(t, err)
	assert.Equal(t, "a", s)
}

// TestRPCBigBinary sends a 32 MiB binary argument, far above every message
// limit, so binchannel chunks it to the negotiated size; the handler
// reports progress through a callback and returns a function.
func TestRPCBigBinary(t *testing.T) {
	a, b := pair(t, rpcOptions(), rpcOptions())
	ctx := testCtx(t)
	data := randomBytes(32<<20, 7)
	require.NoError(t, b.RPC().Register("store", func(ctx context.Context, blob []byte, progress *rpc.Func) (func(off, n int) []byte, error) {
		if !bytes.Equal(blob, data) {
			return nil, fmt.Errorf("blob differs (%d bytes received)", len(blob))
		}
		if err := progress.Call(ctx, nil, len(blob)); err != nil {
			return nil, err
		}
		kept := bytes.Clone(blob)

		return func(off, n int) []byte { return kept[off : off+n] }, nil
	}))
	var mu sync.Mutex
	progressed := 0
	ret, err := rpc.Call[*rpc.Func](ctx, a.RPC(), "store", data, func(n int) {
		mu.Lock()
		progressed = n
		mu.Unlock()
	})
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, len(data), progressed)
	mu.Unlock()
	require.NotNil(t, ret)
	part, err := rpc.CallFunc[[]byte](ctx, ret, 1<<20, 64)
	require.NoError(t, err)
	assert.Equal(t, data[1<<20:1<<20+64], part)
}

// TestRPCConcurrentMixed runs many calls at once in both directions, small
// and large payloads interleaved.
func TestRPCConcurrentMixed(t *testing.T) {
	a, b := pair(t, rpcOptions(), rpcOptions())
	ctx := testCtx(t)
	echo := func(p []byte) []byte { return p }
	require.NoError(t, a.RPC().Register("echo", echo))
	require.NoError(t, b.RPC().Register("echo", echo))
	sizes := []int{0, 10, 1000, 70000, 300000, 1 << 20}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := a
			if i%2 == 1 {
				from = b
			}
			p := randomBytes(sizes[i%len(sizes)], uint64(i))
			got, err := rpc.Call[[]byte](ctx, from.RPC(), "echo", p)
			if assert.NoError(t, err, "call %d", i) {
				assert.True(t, bytes.Equal(p, got), "call %d: payload differs", i)
			}
		}()
	}
	wg.Wait()
}

// TestRPCCloseMidTransfer closes one side while the other's call is
// carrying a large binary: the pending call fails promptly with an error
// naming the cause and both connections end with no goroutine left.
func TestRPCCloseMidTransfer(t *testing.T) {
	a, b := pair(t, rpcOptions(), rpcOptions())
	ctx := testCtx(t)
	started := make(chan struct{})
	var once sync.Once
	require.NoError(t, b.RPC().Register("slow", func(ctx context.Context, blob []byte) int {
		<-ctx.Done()

		return len(blob)
	}))
	require.NoError(t, b.RPC().Register("ping", func() {
		once.Do(func() { close(started) })
	}))
	go func() {
		<-started
		_ = b.Close()
	}()
	errc := make(chan error, 2)
	go func() { errc <- a.RPC().Call(ctx, "ping", nil) }()
	go func() { errc <- a.RPC().Call(ctx, "slow", nil, randomBytes(48<<20, 3)) }()
	err1, err2 := <-errc, <-errc
	err := err1
	if err == nil {
		err = err2
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, rpc.ErrClosed)
	assert.ErrorIs(t, err, ErrRemoteClosed)
	<-a.Done()
	<-b.Done()
	assert.ErrorIs(t, a.Err(), ErrRemoteClosed)
	assert.ErrorIs(t, b.Err(), ErrClosed)
}
