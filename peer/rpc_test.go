package peer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
)

// rpcOptions is testOptions with binchannel and rpc on the channel.
func rpcOptions() Options { return Options{Network: NetworkLoopback} }

// signaledPair connects a dialer with options a to a listener with options
// b through an in-process signaling server on loopback, and closes both
// when the test ends. It returns the dialer's and the accepted connection.
func signaledPair(t *testing.T, a, b Options) (*Conn, *Conn) {
	t.Helper()
	url := signalingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := Listen(ctx, url, "pair", b)
	require.NoError(t, err)
	type dialed struct {
		c   *Conn
		err error
	}
	out := make(chan dialed, 1)
	go func() {
		c, err := Dial(ctx, url, "pair", a)
		out <- dialed{c, err}
	}()
	cb, err := l.Accept(ctx)
	d := <-out
	require.NoError(t, d.err)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	t.Cleanup(func() {
		_ = d.c.Close()
		_ = cb.Close()
	})

	return d.c, cb
}

// waitDone fails the test unless c has closed and its goroutines ended
// within a bound.
func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("connection did not end within 20 s")
	}
}

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
	a, b := signaledPair(t, rpcOptions(), rpcOptions())
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
	a, b := signaledPair(t, rpcOptions(), rpcOptions())
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
	a, b := signaledPair(t, rpcOptions(), rpcOptions())
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

// TestRPCCloseMidTransfer closes the receiving side while the other's
// call is carrying a large binary (after 8 MiB of it have arrived): the
// pending call fails promptly with an error naming the cause, the handler
// never runs, and both connections end with no goroutine left.
func TestRPCCloseMidTransfer(t *testing.T) {
	bo := rpcOptions()
	var got atomic.Int64
	var once sync.Once
	var b *Conn
	ready := make(chan struct{})
	bo.onRead = func(n int) {
		if got.Add(int64(n)) >= 8<<20 {
			once.Do(func() {
				go func() {
					<-ready
					_ = b.Close()
				}()
			})
		}
	}
	a, b0 := signaledPair(t, rpcOptions(), bo)
	b = b0
	close(ready)
	ctx := testCtx(t)
	var ran atomic.Bool
	require.NoError(t, b.RPC().Register("slow", func(blob []byte) int {
		ran.Store(true)

		return len(blob)
	}))
	errc := make(chan error, 1)
	go func() { errc <- a.RPC().Call(ctx, "slow", nil, randomBytes(48<<20, 3)) }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("the pending call did not fail within 30 s of the remote closing")
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, rpc.ErrClosed)
	assert.ErrorIs(t, err, ErrRemoteClosed)
	waitDone(t, a)
	waitDone(t, b)
	assert.ErrorIs(t, a.Err(), ErrRemoteClosed)
	assert.ErrorIs(t, b.Err(), ErrClosed)
	assert.False(t, ran.Load(), "the 48 MiB packet never arrived whole")
	assert.Less(t, got.Load(), int64(48<<20), "closed mid-transfer")
}
