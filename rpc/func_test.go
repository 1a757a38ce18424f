package rpc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zero asserts that both ends hold no pending state.
func zero(t *testing.T, cs ...*Conn) {
	t.Helper()
	for i, c := range cs {
		require.Eventually(t, func() bool { return c.Stats() == Stats{} }, testTimeout, pollEvery,
			"conn %d: %+v", i, c.Stats())
	}
}

func TestProgressCallback(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("work", func(ctx context.Context, n int, progress func(int)) int {
		for i := 1; i <= n; i++ {
			progress(i)
		}
		return n
	}))
	require.NoError(t, b.Register("workCtx", func(ctx context.Context, n int, progress func(context.Context, int) (string, error)) (string, error) {
		var last string
		for i := 1; i <= n; i++ {
			s, err := progress(ctx, i)
			if err != nil {
				return "", err
			}
			last = s
		}
		return last, nil
	}))
	ctx := testCtx(t)
	var mu sync.Mutex
	var seen []int
	n, err := Call[int](ctx, a, "work", 5, func(i int) {
		mu.Lock()
		seen = append(seen, i)
		mu.Unlock()
	})
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	assert.Equal(t, []int{1, 2, 3, 4, 5}, seen, "callbacks run before the call returns")
	assert.Equal(t, Stats{}, bindings(a), "caller's callback released on return")
	assert.Equal(t, Stats{}, bindings(b), "callee's handle released on return")

	s, err := Call[string](ctx, a, "workCtx", 3, func(ctx context.Context, i int) (string, error) {
		if ConnFromContext(ctx) != a {
			return "", errors.New("callback ctx has no conn")
		}
		return string(rune('a' + i)), nil
	})
	require.NoError(t, err)
	assert.Equal(t, "d", s)
	_, err = Call[string](ctx, a, "workCtx", 3, func(i int) (string, error) { return "", errors.New("stop") })
	var re *Error
	require.ErrorAs(t, err, &re, "callback error travels back through the handler")
	assert.Equal(t, "stop", re.Message)
	zero(t, a, b)
}

func TestSubscription(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	subs := make(chan *Func, 1)
	require.NoError(t, b.Register("subscribe", func(ctx context.Context, topic string, cb *Func) error {
		if err := cb.Keep(ctx); err != nil {
			return err
		}
		subs <- cb
		return nil
	}))
	var unkept *Func
	require.NoError(t, b.Register("forget", func(cb *Func) { unkept = cb }))
	ctx := testCtx(t)
	got := make(chan string, 10)
	require.NoError(t, a.Call(ctx, "subscribe", nil, "news", func(s string) { got <- s }))
	sub := <-subs
	assert.Equal(t, Stats{Callbacks: 1}, bindings(a))
	assert.Equal(t, Stats{Handles: 1}, bindings(b))
	for _, s := range []string{"one", "two"} {
		require.NoError(t, sub.Call(ctx, nil, s))
		assert.Equal(t, s, <-got)
	}
	require.NoError(t, sub.Notify(ctx, "three"))
	assert.Equal(t, "three", <-got)
	require.NoError(t, sub.Unbind(ctx))
	assert.ErrorIs(t, sub.Call(ctx, nil, "x"), ErrReleased)
	zero(t, a, b)

	// Without Keep, the handle dies with its handler.
	require.NoError(t, a.Call(ctx, "forget", nil, func() {}))
	assert.True(t, unkept.Released())
	assert.ErrorIs(t, unkept.Call(ctx, nil), ErrReleased)
	assert.ErrorIs(t, unkept.Keep(ctx), ErrReleased)
	zero(t, a, b)
}

func TestCallbackInNotification(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	got := make(chan int, 1)
	require.NoError(t, b.Register("ping", func(ctx context.Context, reply func(int)) { reply(42) }))
	require.NoError(t, a.Notify(testCtx(t), "ping", func(x int) { got <- x }))
	assert.Equal(t, 42, <-got)
	zero(t, a, b) // the handler's return sent rpc.unbind
}

func TestReturnedFunc(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("counter", func(start int) func() int {
		n := start
		var mu sync.Mutex
		return func() int {
			mu.Lock()
			defer mu.Unlock()
			n++
			return n
		}
	}))
	require.NoError(t, b.Register("adder", func() func(ctx context.Context, x, y int) (int, error) {
		return func(ctx context.Context, x, y int) (int, error) { return x + y, nil }
	}))
	ctx := testCtx(t)
	f, err := Call[*Func](ctx, a, "counter", 10)
	require.NoError(t, err)
	for want := 11; want <= 13; want++ {
		n, err := CallFunc[int](ctx, f, nil...)
		require.NoError(t, err)
		assert.Equal(t, want, n)
	}
	assert.Equal(t, Stats{Handles: 1}, bindings(a))
	assert.Equal(t, Stats{Callbacks: 1}, bindings(b))
	require.NoError(t, f.Unbind(ctx))
	require.NoError(t, f.Unbind(ctx), "twice is a no-op")
	zero(t, a, b)

	add, err := Call[func(context.Context, int, int) (int, error)](ctx, a, "adder")
	require.NoError(t, err)
	n, err := add(ctx, 2, 3)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	assert.Equal(t, Stats{Handles: 1}, bindings(a))
	assert.Equal(t, Stats{Callbacks: 1}, bindings(b))
	require.NoError(t, Unbind(ctx, add), "a typed stub is released through its handle")
	_, err = add(ctx, 2, 3)
	assert.ErrorIs(t, err, ErrReleased)
	require.NoError(t, Unbind(ctx, add), "twice is a no-op")
	zero(t, a, b)

	assert.Error(t, Unbind(ctx, func() {}), "not a stub")
	assert.Error(t, Unbind(ctx, 42))
	assert.Nil(t, FuncOf(func() {}))
	assert.Nil(t, FuncOf(nil))
	assert.Nil(t, FuncOf((func())(nil)))
}

// TestStubCollected: a stub received as a result and dropped is released on
// both sides once the garbage collector finds it unreachable; one whose
// handle was taken with FuncOf is not.
func TestStubCollected(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("adder", func() func(x, y int) int {
		return func(x, y int) int { return x + y }
	}))
	ctx := testCtx(t)
	use := func() {
		add, err := Call[func(int, int) int](ctx, a, "adder")
		require.NoError(t, err)
		assert.Equal(t, 5, add(2, 3))
	}
	use()
	use()
	assert.Equal(t, Stats{Handles: 2}, bindings(a))
	released := func() bool {
		runtime.GC()
		return bindings(a) == Stats{} && bindings(b) == Stats{}
	}
	require.Eventually(t, released, testTimeout, pollEvery, "a %+v, b %+v", bindings(a), bindings(b))

	claimed := func() *Func {
		add, err := Call[func(int, int) int](ctx, a, "adder")
		require.NoError(t, err)
		return FuncOf(add)
	}()
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	n, err := CallFunc[int](ctx, claimed, 1, 2)
	require.NoError(t, err, "a claimed handle outlives its stub")
	assert.Equal(t, 3, n)
	require.NoError(t, claimed.Unbind(ctx))
	zero(t, a, b)
}

// TestStubParam: a func-typed handler parameter can be kept through
// FuncOf, called after its handler returned, and released with Unbind.
func TestStubParam(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	subs := make(chan func(string) error, 1)
	require.NoError(t, b.Register("subscribe", func(ctx context.Context, topic string, onEvent func(string) error) error {
		if err := FuncOf(onEvent).Keep(ctx); err != nil {
			return err
		}
		subs <- onEvent
		return nil
	}))
	ctx := testCtx(t)
	got := make(chan string, 1)
	require.NoError(t, a.Call(ctx, "subscribe", nil, "news", func(s string) { got <- s }))
	onEvent := <-subs
	require.NoError(t, onEvent("hello"))
	assert.Equal(t, "hello", <-got)
	assert.Equal(t, Stats{Callbacks: 1}, bindings(a))
	assert.Equal(t, Stats{Handles: 1}, bindings(b))
	require.NoError(t, Unbind(ctx, onEvent))
	assert.ErrorIs(t, onEvent("late"), ErrReleased)
	zero(t, a, b)

	// Not kept: released when the handler returns, stub or not.
	var dropped func(string) error
	require.NoError(t, b.Register("forget", func(onEvent func(string) error) { dropped = onEvent }))
	require.NoError(t, a.Call(ctx, "forget", nil, func(string) {}))
	assert.ErrorIs(t, dropped("x"), ErrReleased)
	assert.Nil(t, FuncOf(dropped), "an unkept parameter stub is forgotten with its handle")
	zero(t, a, b)
	stubs.Range(func(_, v any) bool {
		e := v.(*stubEntry)
		assert.False(t, e.f.c == b && e.stub != nil, "no parameter stub is held after its handler returned")
		return true
	})
}

type job struct {
	Name   string             `json:"name"`
	OnDone func(string) error `json:"onDone"`
	Steps  []func(int)        `json:"steps"`
}

func TestNestedFuncs(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		a, b := pair(t, Options{}, Options{})
		require.NoError(t, b.Register("run", func(j job) {}))
		err := a.Call(testCtx(t), "run", nil, job{Name: "x", OnDone: func(string) error { return nil }})
		assert.Error(t, err, "nested funcs refused by default")
		zero(t, a, b)
	})
	t.Run("on", func(t *testing.T) {
		a, b := pair(t, Options{NestedFuncs: true}, Options{NestedFuncs: true})
		require.NoError(t, b.Register("run", func(ctx context.Context, j job) (map[string]func() string, error) {
			for i, s := range j.Steps {
				s(i)
			}
			if err := j.OnDone(j.Name + " done"); err != nil {
				return nil, err
			}
			return map[string]func() string{"hello": func() string { return "hi" }}, nil
		}))
		ctx := testCtx(t)
		var mu sync.Mutex
		var log []string
		out, err := Call[map[string]*Func](ctx, a, "run", job{
			Name:   "j",
			OnDone: func(s string) error { mu.Lock(); log = append(log, s); mu.Unlock(); return nil },
			Steps: []func(int){
				func(i int) { mu.Lock(); log = append(log, "step0"); mu.Unlock() },
				func(i int) { mu.Lock(); log = append(log, "step1"); mu.Unlock() },
			},
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"step0", "step1", "j done"}, log)
		s, err := CallFunc[string](ctx, out["hello"])
		require.NoError(t, err)
		assert.Equal(t, "hi", s)
		require.NoError(t, out["hello"].Unbind(ctx))
		zero(t, a, b)
	})
}

func TestEviction(t *testing.T) {
	evicted := make(chan []string, 10)
	// Each call is pending while it waits, beside the kept functions.
	a, b := pair(t, Options{MaxPending: 3, OnEvict: func(ids []string) { evicted <- ids }}, Options{})
	handles := make(chan *Func, 10)
	require.NoError(t, b.Register("hold", func(ctx context.Context, f *Func) error {
		handles <- f
		return f.Keep(ctx)
	}))
	ctx := testCtx(t)
	for i := 0; i < 3; i++ {
		require.NoError(t, a.Call(ctx, "hold", nil, func() int { return i }))
	}
	first := <-handles
	ids := <-evicted
	assert.Equal(t, []string{first.ID()}, ids)
	// The owner tells the peer (rpc.evicted), which drops its handle.
	require.Eventually(t, first.Evicted, testTimeout, pollEvery)
	assert.Equal(t, Stats{Callbacks: 2}, bindings(a))
	assert.Equal(t, Stats{Handles: 2}, bindings(b), "counters consistent on both sides")
	err := first.Call(ctx, nil)
	assert.ErrorIs(t, err, ErrEvicted, "clear error on an evicted handle")
	assert.ErrorIs(t, err, ErrHandleEvicted)
	require.NoError(t, first.Keep(ctx), "a no-op")
	require.NoError(t, first.Unbind(ctx), "the owner no longer has it: nothing to do")
	assert.True(t, first.Released())
	second, third := <-handles, <-handles
	n, err := CallFunc[int](ctx, second)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.NoError(t, second.Unbind(ctx))
	require.NoError(t, third.Unbind(ctx))
	zero(t, a, b)
}

// TestEvictionKeepsCountersConsistent keeps more subscriptions than the
// owner's bound allows: the peer drops the handles the owner evicted, so
// both sides count the same functions, and unbinding the rest leaves
// nothing.
func TestEvictionKeepsCountersConsistent(t *testing.T) {
	for _, max := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("MaxPending=", max), func(t *testing.T) {
			a, b := pair(t, Options{MaxPending: max}, Options{})
			handles := make(chan *Func, 10)
			require.NoError(t, b.Register("subscribe", func(ctx context.Context, f *Func) error {
				handles <- f
				return f.Keep(ctx)
			}))
			ctx := testCtx(t)
			const n = 5
			for i := 0; i < n; i++ {
				require.NoError(t, a.Call(ctx, "subscribe", nil, func() int { return i }))
			}
			kept := bindings(a).Callbacks
			assert.LessOrEqual(t, kept, max)
			require.Eventually(t, func() bool { return bindings(b) == Stats{Handles: kept} }, testTimeout, pollEvery,
				"owner %+v, peer %+v", bindings(a), bindings(b))
			for i := 0; i < n; i++ {
				f := <-handles
				if !f.Evicted() {
					n, err := CallFunc[int](ctx, f)
					require.NoError(t, err)
					assert.Equal(t, i, n)
				}
				require.NoError(t, f.Unbind(ctx))
			}
			zero(t, a, b)
		})
	}
}

func TestEvictWaitingCall(t *testing.T) {
	evicted := make(chan []string, 10)
	a, b := pair(t, Options{MaxPending: 1, OnEvict: func(ids []string) { evicted <- ids }}, Options{})
	started, cancelled := blocker(t, b)
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() { errc <- a.Call(ctx, "block", nil) }()
	<-started
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc2 := make(chan error, 1)
	go func() { errc2 <- a.Call(cctx, "block", nil) }()
	<-started
	assert.ErrorIs(t, <-errc, ErrEvicted)
	assert.Len(t, <-evicted, 1)
	assert.ErrorIs(t, <-cancelled, context.Canceled, "the evicted call's handler is cancelled")
	assert.Equal(t, 1, a.Stats().Waiting)
	cancel()
	assert.ErrorIs(t, <-errc2, ErrCancelled)
	zero(t, a)
}

func TestIgnoreEvicted(t *testing.T) {
	a, b := pair(t, Options{MaxPending: 1, IgnoreEvicted: true}, Options{})
	handles := make(chan *Func, 10)
	require.NoError(t, b.Register("hold", func(ctx context.Context, f *Func) error {
		handles <- f
		return f.Keep(ctx)
	}))
	ctx := testCtx(t)
	require.NoError(t, a.Call(ctx, "hold", nil, func() int { return 1 }))
	require.NoError(t, a.Call(ctx, "hold", nil, func() int { return 2 }))
	first, second := <-handles, <-handles
	require.Eventually(t, first.Evicted, testTimeout, pollEvery)
	n, err := CallFunc[int](ctx, first)
	assert.NoError(t, err, "ignored")
	assert.Equal(t, 0, n)
	require.NoError(t, first.Unbind(ctx))
	require.NoError(t, second.Unbind(ctx))
	zero(t, a, b)
}

func TestUnknownHandle(t *testing.T) {
	_, p := rawConn(t, Options{}, nil)
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.callback","params":["nope",1],"id":1}`)
	assert.Equal(t, `{"jsonrpc":"2.0","error":{"code":-32003,"message":"Function handle not found: nope"},"id":1}`, p.recv(t))
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.callback","params":{},"id":2}`)
	assert.Contains(t, p.recv(t), `"code":-32602`)
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.unknown","id":3}`)
	assert.Equal(t, `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":3}`, p.recv(t))
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.cancel","params":[42],"id":4}`)
	assert.Equal(t, `{"jsonrpc":"2.0","result":null,"id":4}`, p.recv(t))
}

// TestEvictedNotice pins rpc.evicted on the wire: the owner sends it when
// its bound evicts a function, and the holder drops every handle with an
// evicted id, including one whose placeholder arrives after the notice.
func TestEvictedNotice(t *testing.T) {
	t.Run("owner", func(t *testing.T) {
		c, p := rawConn(t, Options{MaxPending: 2}, nil)
		ctx := testCtx(t)
		errc := make(chan error, 1)
		go func() { errc <- c.Call(ctx, "sub", nil, func() {}) }()
		assert.Equal(t, `{"jsonrpc":"2.0","method":"sub","params":[{"$fn":"2"}],"id":1}`, p.recv(t))
		p.send(t, `{"jsonrpc":"2.0","method":"rpc.keep","params":["2"]}`)
		p.send(t, `{"jsonrpc":"2.0","result":null,"id":1}`)
		require.NoError(t, <-errc)
		go func() { errc <- c.Call(ctx, "sub", nil, func() {}) }()
		// Function 4 and call 3 are pending beside function 2: 2 goes.
		assert.Equal(t, `{"jsonrpc":"2.0","method":"rpc.evicted","params":["2"]}`, p.recv(t))
		assert.Equal(t, `{"jsonrpc":"2.0","method":"sub","params":[{"$fn":"4"}],"id":3}`, p.recv(t))
		p.send(t, `{"jsonrpc":"2.0","result":null,"id":3}`)
		require.NoError(t, <-errc)
		zero(t, c)
	})
	t.Run("holder", func(t *testing.T) {
		held := make(chan *Func, 10)
		c, p := rawConn(t, Options{}, func(c *Conn) {
			require.NoError(t, c.Register("hold", func(ctx context.Context, f *Func) error {
				held <- f
				return f.Keep(ctx)
			}))
		})
		ctx := testCtx(t)
		hold := func(fn string, id int) *Func {
			p.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"hold","params":[{"$fn":%q}],"id":%d}`, fn, id))
			f := <-held
			if !f.Evicted() {
				assert.Equal(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"rpc.keep","params":[%q]}`, fn), p.recv(t))
			}
			assert.Equal(t, fmt.Sprintf(`{"jsonrpc":"2.0","result":null,"id":%d}`, id), p.recv(t))
			return f
		}
		// A peer may send one id twice; each placeholder is its own handle.
		f1, f2, g := hold("f", 1), hold("f", 2), hold("g", 3)
		assert.Equal(t, Stats{Handles: 3}, bindings(c))
		require.NoError(t, f1.Unbind(ctx))
		assert.Equal(t, `{"jsonrpc":"2.0","method":"rpc.unbind","params":["f"]}`, p.recv(t))
		assert.Equal(t, Stats{Handles: 2}, bindings(c))

		p.send(t, `{"jsonrpc":"2.0","method":"rpc.evicted","params":["f","h"],"id":4}`)
		assert.Equal(t, `{"jsonrpc":"2.0","result":null,"id":4}`, p.recv(t))
		assert.True(t, f2.Evicted())
		assert.False(t, g.Evicted())
		assert.Equal(t, Stats{Handles: 1}, bindings(c))
		// h was announced before its placeholder came: the handle starts
		// evicted, is not counted, and Keep sends nothing.
		h := hold("h", 5)
		assert.True(t, h.Evicted())
		assert.Equal(t, Stats{Handles: 1}, bindings(c))
		// A call on an evicted handle still goes to the owner, whose
		// answer decides.
		errc := make(chan error, 1)
		go func() { errc <- f2.Call(ctx, nil) }()
		assert.Equal(t, `{"jsonrpc":"2.0","method":"rpc.callback","params":["f"],"id":1}`, p.recv(t))
		p.send(t, `{"jsonrpc":"2.0","error":{"code":-32004,"message":"Function handle evicted: f"},"id":1}`)
		assert.ErrorIs(t, <-errc, ErrEvicted)
		require.NoError(t, f2.Unbind(ctx), "nothing to tell the owner")
		require.NoError(t, g.Unbind(ctx))
		assert.Equal(t, `{"jsonrpc":"2.0","method":"rpc.unbind","params":["g"]}`, p.recv(t))

		p.send(t, `{"jsonrpc":"2.0","method":"rpc.evicted","params":{"f":1},"id":6}`)
		assert.Contains(t, p.recv(t), `"code":-32602`)
		zero(t, c)
	})
}
