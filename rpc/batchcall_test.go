package rpc

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/peerd/peerd/binchannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBatchSend: one batch of calls, a named call and a notification goes
// out as one array; each call gets its own answer, matched by id.
func TestBatchSend(t *testing.T) {
	ta, tb := NewPipe(PipeOptions{})
	ra := &recorder{Transport: ta}
	a, b := pairOver(t, ra, tb, Options{}, Options{})
	specMethods(t, b)
	noted := make(chan int, 1)
	require.NoError(t, b.Register("note", func(x int) { noted <- x }))
	require.NoError(t, b.Register("fail", func() error { return errors.New("no luck") }))
	ctx := testCtx(t)

	batch := a.Batch()
	var sum, diff int
	var echo string
	cSum := batch.Call("sum", &sum, 1, 2, 4)
	cDiff := batch.CallNamed("subtract", &diff, map[string]any{"minuend": 42, "subtrahend": 23})
	cNote := batch.Notify("note", 7)
	cNope := batch.Call("nope", nil)
	cFail := batch.Call("fail", nil)
	cEcho := batch.Call("echo", &echo, "hi")
	assert.Equal(t, 6, batch.Len())
	require.NoError(t, batch.Send(ctx))
	assert.Equal(t, 7, <-noted)
	require.NoError(t, cSum.Err())
	assert.Equal(t, 7, sum)
	require.NoError(t, cDiff.Err())
	assert.Equal(t, 19, diff)
	require.NoError(t, cNote.Err())
	assert.ErrorIs(t, cNope.Err(), ErrMethodNotFound)
	var re *Error
	require.ErrorAs(t, cFail.Err(), &re)
	assert.Equal(t, &Error{Code: CodeServerError, Message: "no luck"}, re)
	require.NoError(t, cEcho.Err())
	assert.Equal(t, "hi", echo)
	assert.Equal(t, `[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":1},`+
		`{"jsonrpc":"2.0","method":"subtract","params":{"minuend":42,"subtrahend":23},"id":2},`+
		`{"jsonrpc":"2.0","method":"note","params":[7]},`+
		`{"jsonrpc":"2.0","method":"nope","id":3},`+
		`{"jsonrpc":"2.0","method":"fail","id":4},`+
		`{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":5}]`, ra.all(), "one message")

	assert.Error(t, batch.Send(ctx), "sent once")
	require.NoError(t, a.Batch().Send(ctx), "an empty batch sends nothing")
	notes := a.Batch()
	notes.Notify("note", 8)
	require.NoError(t, notes.Send(ctx), "notifications only: nothing to wait for")
	assert.Equal(t, 8, <-noted)
	zero(t, a, b)
}

// TestBatchFuncsAndBinaries: functions and binaries in a batch, over a
// binchannel: placeholders number the binaries of the whole packet, and
// each call's functions are released with its own answer.
func TestBatchFuncsAndBinaries(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("work", func(n int, progress func(int)) int {
		for i := 1; i <= n; i++ {
			progress(i)
		}
		return n
	}))
	require.NoError(t, b.Register("size", func(x []byte, y binchannel.Binary) int64 { return int64(len(x)) + y.Len() }))
	require.NoError(t, b.Register("upper", func(x []byte) []byte {
		out := make([]byte, len(x))
		for i, c := range x {
			out[i] = c - 'a' + 'A'
		}
		return out
	}))
	ctx := testCtx(t)
	var mu sync.Mutex
	var seen []int
	batch := a.Batch()
	var n int
	var s1, s2 int64
	var up1, up2 []byte
	batch.Call("work", &n, 3, func(i int) { mu.Lock(); seen = append(seen, i); mu.Unlock() })
	batch.Call("size", &s1, []byte("abc"), binchannel.BytesBinary([]byte("de")))
	batch.Call("size", &s2, []byte("f"), binchannel.BytesBinary([]byte("ghij")))
	batch.CallNamed("upper", &up1, map[string]any{"arg0": []byte("xy")})
	batch.Call("upper", &up2, []byte("z"))
	require.NoError(t, batch.Send(ctx))
	assert.Equal(t, 3, n)
	assert.Equal(t, []int{1, 2, 3}, seen)
	assert.Equal(t, int64(5), s1)
	assert.Equal(t, int64(5), s2)
	assert.Equal(t, "XY", string(up1))
	assert.Equal(t, "Z", string(up2))
	zero(t, a, b)
}

// TestBatchRefusedWhole: a peer that refuses the whole batch answers one
// error with a null id; the batch's calls fail with it.
func TestBatchRefusedWhole(t *testing.T) {
	a, b := pair(t, Options{}, Options{MaxBatch: 2})
	specMethods(t, b)
	ctx := testCtx(t)
	batch := a.Batch()
	calls := []*BatchCall{batch.Call("echo", nil, "a"), batch.Call("echo", nil, "b"), batch.Call("echo", nil, "c")}
	err := batch.Send(ctx)
	assert.ErrorIs(t, err, ErrInvalidRequest)
	for _, bc := range calls {
		assert.ErrorIs(t, bc.Err(), ErrInvalidRequest)
	}
	zero(t, a, b)
}

// TestBatchTimeout: when ctx ends first, the calls still waiting fail and
// are cancelled on the peer. A Go peer answers a batch in one message once
// its last call is done, so the quick call waits with the slow one.
func TestBatchTimeout(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	started, cancelled := blocker(t, b)
	specMethods(t, b)
	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	batch := a.Batch()
	var echo string
	cEcho := batch.Call("echo", &echo, "quick")
	cBlock := batch.Call("block", nil)
	err := batch.Send(ctx)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.ErrorIs(t, cBlock.Err(), ErrTimeout)
	assert.ErrorIs(t, cEcho.Err(), ErrTimeout)
	<-started
	assert.ErrorIs(t, <-cancelled, context.Canceled, "the peer's handler is cancelled")
	zero(t, a, b)
}

// TestBatchAnsweredApart: a peer may answer a batch's calls in separate
// messages, in any order; they are matched by id. A null-id error with no
// batch waiting is reported.
func TestBatchAnsweredApart(t *testing.T) {
	reported := make(chan error, 1)
	c, p := rawConn(t, Options{OnError: func(err error) { reported <- err }}, nil)
	ctx := testCtx(t)
	batch := c.Batch()
	var x, y int
	bx := batch.Call("x", &x)
	by := batch.Call("y", &y, 1)
	errc := make(chan error, 1)
	go func() { errc <- batch.Send(ctx) }()
	assert.Equal(t, `[{"jsonrpc":"2.0","method":"x","id":1},{"jsonrpc":"2.0","method":"y","params":[1],"id":2}]`, p.recv(t))
	p.send(t, `{"jsonrpc":"2.0","result":20,"id":2}`)
	p.send(t, `{"result":10,"error":null,"id":1}`)
	require.NoError(t, <-errc)
	require.NoError(t, bx.Err())
	require.NoError(t, by.Err())
	assert.Equal(t, 10, x)
	assert.Equal(t, 20, y)

	// Cancelled: the call answered first keeps its result, the other is
	// cancelled on the peer with one rpc.cancel.
	cctx, cancel := context.WithCancel(ctx)
	batch = c.Batch()
	bx, by = batch.Call("x", &x), batch.Call("y", &y)
	go func() { errc <- batch.Send(cctx) }()
	assert.Equal(t, `[{"jsonrpc":"2.0","method":"x","id":3},{"jsonrpc":"2.0","method":"y","id":4}]`, p.recv(t))
	p.send(t, `{"jsonrpc":"2.0","result":30,"id":3}`)
	require.Eventually(t, func() bool { return c.Stats().Waiting == 1 }, testTimeout, pollEvery)
	cancel()
	assert.Equal(t, `{"jsonrpc":"2.0","method":"rpc.cancel","params":[4]}`, p.recv(t))
	assert.ErrorIs(t, <-errc, ErrCancelled)
	require.NoError(t, bx.Err())
	assert.Equal(t, 30, x)
	assert.ErrorIs(t, by.Err(), ErrCancelled)

	p.send(t, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`)
	assert.ErrorIs(t, <-reported, ErrInvalidRequest)
	zero(t, c)
}

func TestBatchErrors(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	specMethods(t, b)
	ctx := testCtx(t)

	batch := a.Batch()
	var n int
	bad := batch.Call("echo", n) // not a pointer
	assert.Error(t, batch.Send(ctx))
	assert.Error(t, bad.Err())

	batch = a.Batch()
	first := batch.Call("echo", nil, func() {}) // stored, then dropped
	batch.Call("echo", nil, make(chan int))
	err := batch.Send(ctx)
	assert.ErrorContains(t, err, "batch entry 1 (echo)")
	assert.Equal(t, err, first.Err())
	batch = a.Batch()
	batch.CallNamed("echo", nil, []int{1})
	assert.ErrorContains(t, batch.Send(ctx), "JSON object")
	zero(t, a, b)

	require.NoError(t, a.Close())
	batch = a.Batch()
	closed := batch.Call("echo", nil, "x")
	assert.ErrorIs(t, batch.Send(ctx), ErrClosed)
	assert.ErrorIs(t, closed.Err(), ErrClosed)
}

// TestCallNamed: named params from a map, whose members cross as
// arguments do (a func, a binary), or from a struct.
func TestCallNamed(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("work", func(n int, progress func(int)) int {
		for i := 1; i <= n; i++ {
			progress(i)
		}
		return n
	}, "n", "progress"))
	require.NoError(t, b.Register("move", func(p point) int { return p.X + p.Y }))
	require.NoError(t, b.Register("size", func(data []byte) int { return len(data) }, "data"))
	ctx := testCtx(t)
	var got []int
	var n int
	require.NoError(t, a.CallNamed(ctx, "work", &n, map[string]any{"n": 2, "progress": func(i int) { got = append(got, i) }}))
	assert.Equal(t, 2, n)
	assert.Equal(t, []int{1, 2}, got)
	require.NoError(t, a.CallNamed(ctx, "move", &n, point{X: 3, Y: 4}))
	assert.Equal(t, 7, n)
	require.NoError(t, a.CallNamed(ctx, "size", &n, map[string]any{"data": []byte("abcd")}))
	assert.Equal(t, 4, n)
	assert.ErrorContains(t, a.CallNamed(ctx, "move", nil, 5), "JSON object")
	assert.Error(t, a.CallNamed(ctx, "move", nil, nil))
	zero(t, a, b)
}

// TestBatchProtocolExample pins the example of PROTOCOL.md 3.5.
func TestBatchProtocolExample(t *testing.T) {
	ta, tb := NewPipe(PipeOptions{})
	ra, rb := &recorder{Transport: ta}, &recorder{Transport: tb}
	a, b := pairOver(t, ra, rb, Options{}, Options{})
	specMethods(t, b)
	noted := make(chan int, 1)
	require.NoError(t, b.Register("note", func(x int) { noted <- x }))
	batch := a.Batch()
	batch.Call("sum", nil, 1, 2, 4)
	batch.CallNamed("subtract", nil, map[string]any{"minuend": 42, "subtrahend": 23})
	batch.Notify("note", 7)
	require.NoError(t, batch.Send(testCtx(t)))
	<-noted
	assert.Equal(t, `[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":1},{"jsonrpc":"2.0","method":"subtract","params":{"minuend":42,"subtrahend":23},"id":2},{"jsonrpc":"2.0","method":"note","params":[7]}]`, ra.all())
	assert.Equal(t, `[{"jsonrpc":"2.0","result":7,"id":1},{"jsonrpc":"2.0","result":19,"id":2}]`, rb.all())
}
