package rpc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolExamples pins the exchanges shown in docs/PROTOCOL.md
// sections 3.9 and 4.4, byte for byte, per direction.
func TestProtocolExamples(t *testing.T) {
	ta, tb := NewPipe(PipeOptions{})
	ra, rb := &recorder{Transport: ta}, &recorder{Transport: tb}
	a, b := pairOver(t, ra, rb, Options{}, Options{})
	ctx := testCtx(t)
	require.NoError(t, b.Register("work", func(ctx context.Context, n int, progress func(int)) int {
		for i := 1; i <= n; i++ {
			progress(i)
		}
		return n
	}, "n", "progress"))
	subs := make(chan *Func, 1)
	require.NoError(t, b.Register("subscribe", func(ctx context.Context, topic string, cb *Func) error {
		subs <- cb
		return cb.Keep(ctx)
	}, "topic", "onEvent"))
	require.NoError(t, b.Register("counter", func(start int) func() int {
		n := start
		return func() int { n++; return n }
	}, "start"))
	require.NoError(t, b.Register("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }))

	require.NoError(t, a.Call(ctx, "work", nil, 2, func(i int) {}))
	got := make(chan string, 1)
	require.NoError(t, a.Call(ctx, "subscribe", nil, "news", func(s string) { got <- s }))
	s := <-subs
	require.NoError(t, s.Notify(ctx, "hello"))
	<-got
	require.NoError(t, s.Unbind(ctx))
	f, err := Call[*Func](ctx, a, "counter", 10)
	require.NoError(t, err)
	n, err := CallFunc[int](ctx, f)
	require.NoError(t, err)
	assert.Equal(t, 11, n)
	require.NoError(t, f.Unbind(ctx))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	assert.ErrorIs(t, a.Call(cctx, "slow", nil), ErrTimeout)
	cancel()
	require.Eventually(t, func() bool { return strings.Contains(rb.all(), `"id":7}`) }, testTimeout, pollEvery)

	assert.Equal(t, strings.Join([]string{
		`{"jsonrpc":"2.0","method":"work","params":[2,{"$fn":"2"}],"id":1}`,
		`{"jsonrpc":"2.0","result":null,"id":1}`,
		`{"jsonrpc":"2.0","result":null,"id":2}`,
		`{"jsonrpc":"2.0","method":"subscribe","params":["news",{"$fn":"4"}],"id":3}`,
		`{"jsonrpc":"2.0","method":"counter","params":[10],"id":5}`,
		`{"jsonrpc":"2.0","method":"rpc.callback","params":["3"],"id":6}`,
		`{"jsonrpc":"2.0","method":"rpc.unbind","params":["3"]}`,
		`{"jsonrpc":"2.0","method":"slow","id":7}`,
		`{"jsonrpc":"2.0","method":"rpc.cancel","params":[7]}`,
	}, "\n"), ra.all())
	assert.Equal(t, strings.Join([]string{
		`{"jsonrpc":"2.0","method":"rpc.callback","params":["2",1],"id":1}`,
		`{"jsonrpc":"2.0","method":"rpc.callback","params":["2",2],"id":2}`,
		`{"jsonrpc":"2.0","result":2,"id":1}`,
		`{"jsonrpc":"2.0","method":"rpc.keep","params":["4"]}`,
		`{"jsonrpc":"2.0","result":null,"id":3}`,
		`{"jsonrpc":"2.0","method":"rpc.callback","params":["4","hello"]}`,
		`{"jsonrpc":"2.0","method":"rpc.unbind","params":["4"]}`,
		`{"jsonrpc":"2.0","result":{"$fn":"3"},"id":5}`,
		`{"jsonrpc":"2.0","result":11,"id":6}`,
		`{"jsonrpc":"2.0","error":{"code":-32001,"message":"Request cancelled"},"id":7}`,
	}, "\n"), rb.all())
	zero(t, a, b)
}
