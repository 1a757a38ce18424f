package endpoint

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Celsius has its own JSON form ("21.5C"), to show that custom marshalers
// pass through every carrier both ways.
type Celsius float64

func (c Celsius) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(strconv.FormatFloat(float64(c), 'f', -1, 64) + "C")), nil
}

func (c *Celsius) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil || !strings.HasSuffix(s, "C") {
		return fmt.Errorf("want a string like \"21.5C\", got %s", b)
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "C"), 64)
	*c = Celsius(f)
	return err
}

// apiRegistry is the API every carrier must serve alike.
func apiRegistry(t testing.TB) *rpc.Registry {
	reg := specRegistry(t)
	require.NoError(t, reg.Register("bytes", func(b []byte) []byte { return append(b, '!') }))
	require.NoError(t, reg.Register("warmer", func(c Celsius) Celsius { return c + 1 }))
	require.NoError(t, reg.Register("fail", func() error {
		return &rpc.Error{Code: 42, Message: "nope", Data: jsontext.Value(`{"x":1}`)}
	}))
	require.NoError(t, reg.Register("plainFail", func() error { return errors.New("broken") }))
	reg.SetRouter(func(name string) *rpc.Method {
		rest, ok := strings.CutPrefix(name, "dyn.")
		if !ok {
			return nil
		}
		m, err := rpc.NewMethod(func(s string) string { return rest + ":" + s })
		if err != nil {
			return nil
		}
		return m
	})
	return reg
}

// pipeCaller is an rpc.Conn over a binchannel pipe, the data-channel path.
func pipeCaller(t testing.TB, reg *rpc.Registry) Caller {
	a, b := binchannel.NewPipe(binchannel.PipeOptions{})
	srv := rpc.NewWithOptions(binchannel.New(a), rpc.Options{Registry: reg})
	cli := rpc.New(binchannel.New(b))
	t.Cleanup(func() {
		_ = cli.Close()
		_ = srv.Close()
		<-cli.Done()
		<-srv.Done()
	})
	return cli
}

// callers returns a Caller per carrier for the same registry.
func callers(t *testing.T, reg *rpc.Registry) map[string]Caller {
	f := startServer(t, reg, Options{})
	return map[string]Caller{
		"http": dial(t, f.url("http"), ClientOptions{}),
		"tcp":  dial(t, f.url("tcp"), ClientOptions{}),
		"ws":   dial(t, f.url("ws"), ClientOptions{}),
		"pipe": pipeCaller(t, reg),
	}
}

// TestSameResults calls the same API through each endpoint and over an
// rpc.Conn on a binchannel pipe and expects the same outcomes, compared
// with the table and between carriers. The one difference is by design: a
// handler's plain error keeps its text over the pipe (a data-channel
// peer's default) and is hidden on the endpoints (theirs).
func TestSameResults(t *testing.T) {
	noLeaks(t)
	tests := []struct {
		name    string
		method  string
		args    []any
		result  func() any
		want    any
		errCode int64
		errMsg  string
		// hidden: the endpoints answer with "Server error" instead of
		// errMsg, which only the pipe sends.
		hidden bool
	}{
		{name: "positional", method: "subtract", args: []any{42, 23}, result: func() any { return new(int) }, want: 19},
		{name: "variadic", method: "sum", args: []any{1, 2, 4}, result: func() any { return new(int) }, want: 7},
		{name: "no params", method: "get_data", result: func() any { return new([]any) }, want: []any{"hello", 5.0}},
		{name: "unicode", method: "echo", args: []any{"héllo ✓"}, result: func() any { return new(string) }, want: "héllo ✓"},
		{name: "bytes", method: "bytes", args: []any{[]byte{0, 1, 0xff}}, result: func() any { return new([]byte) }, want: []byte{0, 1, 0xff, '!'}},
		{name: "custom marshaler", method: "warmer", args: []any{Celsius(21.5)}, result: func() any { return new(Celsius) }, want: Celsius(22.5)},
		{name: "routed", method: "dyn.hello", args: []any{"x"}, result: func() any { return new(string) }, want: "hello:x"},
		{name: "routed miss", method: "other.hello", args: []any{"x"}, errCode: rpc.CodeMethodNotFound},
		{name: "rpc error", method: "fail", errCode: 42, errMsg: "nope"},
		{name: "plain error", method: "plainFail", errCode: rpc.CodeServerError, errMsg: "broken", hidden: true},
		{name: "missing", method: "nope", errCode: rpc.CodeMethodNotFound},
		{name: "private", method: "_private", errCode: rpc.CodeMethodNotFound},
		{name: "private routed", method: "_dyn.x", errCode: rpc.CodeMethodNotFound},
		{name: "wrong types", method: "subtract", args: []any{"a", "b"}, errCode: rpc.CodeInvalidParams},
		{name: "too many", method: "subtract", args: []any{1, 2, 3}, errCode: rpc.CodeInvalidParams},
	}
	// outcome is what one call gave on one carrier.
	type outcome struct {
		Result any
		Err    *rpc.Error
	}
	got := map[string][]outcome{} // by carrier, in the order of tests
	for name, c := range callers(t, apiRegistry(t)) {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			outs := make([]outcome, len(tests))
			got[name] = outs
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var res any
					if tt.result != nil {
						res = tt.result()
					}
					err := c.Call(ctx, tt.method, res, tt.args...)
					if tt.errCode != 0 {
						var re *rpc.Error
						require.ErrorAs(t, err, &re)
						outs[i].Err = re
						assert.Equal(t, tt.errCode, re.Code)
						want := tt.errMsg
						if tt.hidden && name != "pipe" {
							want = "Server error"
						}
						if want != "" {
							assert.Equal(t, want, re.Message)
						}
						return
					}
					require.NoError(t, err)
					outs[i].Result = derefAny(res)
					assert.EqualValues(t, tt.want, outs[i].Result)
				})
			}
			require.NoError(t, c.Notify(ctx, "update", 1, 2))
		})
	}
	pipe := got["pipe"]
	require.Len(t, pipe, len(tests))
	for name, outs := range got {
		if name == "pipe" {
			continue
		}
		for i, tt := range tests {
			want := pipe[i]
			if tt.hidden && want.Err != nil {
				e := *want.Err
				e.Message = "Server error"
				want.Err = &e
			}
			assert.Equal(t, want, outs[i], "%s: %s, against the pipe", name, tt.name)
		}
	}
}

func derefAny(p any) any {
	switch v := p.(type) {
	case *int:
		return *v
	case *string:
		return *v
	case *[]any:
		return *v
	case *[]byte:
		return *v
	case *Celsius:
		return *v
	}
	return p
}

// TestCallNamed sends named params, and named params with one missing
// (filled with its zero value by the rpc adapter).
func TestCallNamed(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), Options{})
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{})
			var n int
			require.NoError(t, c.CallNamed(testCtx(t), "subtract", &n, map[string]int{"minuend": 42, "subtrahend": 23}))
			assert.Equal(t, 19, n)
			require.NoError(t, c.CallNamed(testCtx(t), "subtract", &n, struct {
				Minuend int `json:"minuend"`
			}{5}))
			assert.Equal(t, 5, n)
			assert.Error(t, c.CallNamed(testCtx(t), "subtract", &n, []int{1}), "not an object")
		})
	}
}

// TestBatch sends batches from the Go client on every carrier.
func TestBatch(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), Options{})
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{})
			ctx := testCtx(t)

			// Interleave plain calls with the batch on the same connection.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					var s string
					assert.NoError(t, c.Call(ctx, "echo", &s, strconv.Itoa(i)))
					assert.Equal(t, strconv.Itoa(i), s)
				}
			}()

			b := c.Batch()
			var sum, diff int
			var data []any
			c1 := b.Call("sum", &sum, 1, 2, 4)
			b.Notify("notify_hello", 7)
			c2 := b.CallNamed("subtract", &diff, map[string]int{"minuend": 42, "subtrahend": 23})
			c3 := b.Call("foo.get", nil, "myself")
			c4 := b.Call("get_data", &data)
			assert.Equal(t, 5, b.Len())
			require.NoError(t, b.Send(ctx))
			assert.NoError(t, c1.Err())
			assert.NoError(t, c2.Err())
			assert.ErrorIs(t, c3.Err(), rpc.ErrMethodNotFound)
			assert.NoError(t, c4.Err())
			assert.Equal(t, 7, sum)
			assert.Equal(t, 19, diff)
			assert.Equal(t, []any{"hello", 5.0}, data)
			assert.Error(t, b.Send(ctx), "a batch is sent once")

			// All notifications: nothing to wait for.
			nb := c.Batch()
			nb.Notify("notify_sum", 1, 2, 4)
			nb.Notify("notify_hello", 7)
			require.NoError(t, nb.Send(ctx))

			// Empty: nothing sent.
			require.NoError(t, c.Batch().Send(ctx))

			// Encoding failure: nothing sent, every call carries it.
			eb := c.Batch()
			ec := eb.Call("echo", nil, make(chan int))
			assert.Error(t, eb.Send(ctx))
			assert.Error(t, ec.Err())
			wg.Wait()
		})
	}
}

// TestBatchTooLarge: a batch over the server's MaxBatch is answered with a
// single error object, which fails the whole batch.
func TestBatchTooLarge(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), Options{RPC: rpc.Options{MaxBatch: 2}})
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{})
			b := c.Batch()
			calls := []*BatchCall{b.Call("echo", nil, "a"), b.Call("echo", nil, "b"), b.Call("echo", nil, "c")}
			err := b.Send(testCtx(t))
			assert.ErrorIs(t, err, rpc.ErrInvalidRequest)
			for _, bc := range calls {
				assert.ErrorIs(t, bc.Err(), rpc.ErrInvalidRequest)
			}
			// The connection still works.
			var s string
			require.NoError(t, c.Call(testCtx(t), "echo", &s, "ok"))
			assert.Equal(t, "ok", s)
		})
	}
}

// TestCallbacks: over TCP and WebSocket the server calls the client back,
// both a method the client registered and a Go func passed as argument;
// over HTTP a func argument is refused before anything is sent.
func TestCallbacks(t *testing.T) {
	noLeaks(t)
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("countdown", func(ctx context.Context, n int) (int, error) {
		total := 0
		for i := n; i > 0; i-- {
			var got int
			if err := rpc.ConnFromContext(ctx).Call(ctx, "tick", &got, i); err != nil {
				return 0, err
			}
			total += got
		}
		return total, nil
	}))
	require.NoError(t, reg.Register("each", func(ctx context.Context, n int, f func(context.Context, int) (string, error)) ([]string, error) {
		var out []string
		for i := range n {
			s, err := f(ctx, i)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}))
	f := startServer(t, reg, Options{})
	for _, scheme := range []string{"tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			creg := rpc.NewRegistry()
			require.NoError(t, creg.Register("tick", func(i int) int { return i * 10 }))
			c := dial(t, f.url(scheme), ClientOptions{RPC: rpc.Options{Registry: creg}})
			var total int
			require.NoError(t, c.Call(testCtx(t), "countdown", &total, 3))
			assert.Equal(t, 60, total)
			var out []string
			require.NoError(t, c.Call(testCtx(t), "each", &out, 3, func(ctx context.Context, i int) (string, error) {
				return "#" + strconv.Itoa(i), nil
			}))
			assert.Equal(t, []string{"#0", "#1", "#2"}, out)
		})
	}
	t.Run("http", func(t *testing.T) {
		c := dial(t, f.url("http"), ClientOptions{})
		err := c.Call(testCtx(t), "each", nil, 1, func(int) string { return "" })
		assert.ErrorIs(t, err, ErrNotSupported)
		// The server's callback into an HTTP client fails at once.
		var total int
		err = c.Call(testCtx(t), "countdown", &total, 1)
		var re *rpc.Error
		require.ErrorAs(t, err, &re)
		assert.Equal(t, int64(rpc.CodeMethodNotFound), re.Code)
	})
}

// TestInFlight runs many calls at once on one TCP and one WebSocket
// connection: every handler waits until all have started, which only
// finishes if they run concurrently.
func TestInFlight(t *testing.T) {
	noLeaks(t)
	const n = 40
	for _, scheme := range []string{"tcp", "ws", "http"} {
		t.Run(scheme, func(t *testing.T) {
			var arrived sync.WaitGroup
			arrived.Add(n)
			release := make(chan struct{})
			reg := rpc.NewRegistry()
			require.NoError(t, reg.Register("wait", func(ctx context.Context, i int) (int, error) {
				arrived.Done()
				select {
				case <-release:
					return i, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}))
			f := startServer(t, reg, Options{})
			c := dial(t, f.url(scheme), ClientOptions{})
			ctx := testCtx(t)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var got int
					assert.NoError(t, c.Call(ctx, "wait", &got, i))
					assert.Equal(t, i, got)
				}()
			}
			arrived.Wait()
			close(release)
			wg.Wait()
		})
	}
}

// TestDialErrors covers bad URLs and refused connections.
func TestDialErrors(t *testing.T) {
	noLeaks(t)
	ctx := testCtx(t)
	_, err := Dial(ctx, "ftp://127.0.0.1:1", ClientOptions{})
	assert.ErrorIs(t, err, ErrScheme)
	_, err = Dial(ctx, "tcp://", ClientOptions{})
	assert.Error(t, err)
	_, err = Dial(ctx, "tcp://127.0.0.1:1", ClientOptions{})
	assert.Error(t, err)
	_, err = Dial(ctx, "ws://127.0.0.1:1/", ClientOptions{})
	assert.Error(t, err)
	c, err := Dial(ctx, "http://127.0.0.1:1/", ClientOptions{})
	require.NoError(t, err, "http dials lazily")
	assert.Error(t, c.Call(ctx, "x", nil))
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.Call(ctx, "x", nil), ErrClosed)
}

// TestSendRaw sends raw messages through the client on every carrier.
func TestSendRaw(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), Options{})
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{})
			ctx := testCtx(t)
			tests := []struct{ in, want string }{
				{`{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}`, `{"jsonrpc":"2.0","result":19,"id":1}`},
				{`{"jsonrpc":"2.0","method":"update","params":[1]}`, ``},
				{`[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},{"jsonrpc":"2.0","method":"foo.get","id":"5"}]`,
					`[{"jsonrpc":"2.0","result":7,"id":"1"},{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"5"}]`},
				{`[{"jsonrpc":"2.0","method":"update"},{"jsonrpc":"2.0","method":"update"}]`, ``},
			}
			for _, tt := range tests {
				got, err := c.SendRaw(ctx, []byte(tt.in))
				require.NoError(t, err, tt.in)
				assert.Equal(t, canonical(t, tt.want), canonical(t, string(got)), tt.in)
			}
		})
	}
	c := dial(t, f.url("tcp"), ClientOptions{})
	_, err := c.SendRaw(testCtx(t), []byte(`{"jsonrpc":"2.0","method":`))
	assert.ErrorIs(t, err, rpc.ErrParse)
	_, err = c.SendRaw(testCtx(t), []byte(`[1]`))
	assert.ErrorIs(t, err, rpc.ErrBadEnvelope)
}

// customer is a result type with nested members for TestGenericCall.
type customer struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
	Home struct {
		City string `json:"city"`
	} `json:"home"`
}

// TestGenericCall: endpoint.Call[T] serves a Client of every carrier and
// an rpc.Conn alike.
func TestGenericCall(t *testing.T) {
	noLeaks(t)
	reg := apiRegistry(t)
	require.NoError(t, reg.Register("customer", func(name string) customer {
		c := customer{Name: name, Tags: []string{"a", "b"}}
		c.Home.City = "Lyon"
		return c
	}))
	for name, c := range callers(t, reg) {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			n, err := Call[int](ctx, c, "subtract", 42, 23)
			require.NoError(t, err)
			assert.Equal(t, 19, n)

			s, err := Call[string](ctx, c, "echo", "héllo")
			require.NoError(t, err)
			assert.Equal(t, "héllo", s)

			data, err := Call[[]any](ctx, c, "get_data")
			require.NoError(t, err)
			assert.Equal(t, []any{"hello", 5.0}, data)

			warm, err := Call[Celsius](ctx, c, "warmer", Celsius(21.5))
			require.NoError(t, err)
			assert.Equal(t, Celsius(22.5), warm)

			b, err := Call[[]byte](ctx, c, "bytes", []byte{0, 0xff})
			require.NoError(t, err)
			assert.Equal(t, []byte{0, 0xff, '!'}, b)

			cu, err := Call[customer](ctx, c, "customer", "Ada")
			require.NoError(t, err)
			assert.Equal(t, "Ada", cu.Name)
			assert.Equal(t, []string{"a", "b"}, cu.Tags)
			assert.Equal(t, "Lyon", cu.Home.City)

			p, err := Call[*customer](ctx, c, "customer", "Bob")
			require.NoError(t, err)
			require.NotNil(t, p)
			assert.Equal(t, "Bob", p.Name)

			// Errors come back with the zero T.
			n, err = Call[int](ctx, c, "fail")
			var re *rpc.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, int64(42), re.Code)
			assert.Zero(t, n)
			n, err = Call[int](ctx, c, "echo", "not a number")
			assert.Error(t, err, "a result that does not decode as T")
			assert.Zero(t, n)
			_, err = Call[int](ctx, c, "nope")
			assert.ErrorIs(t, err, rpc.ErrMethodNotFound)
		})
	}
}
