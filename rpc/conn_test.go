package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

type files struct{ names []string }

func (f *files) List() []string                                 { return f.names }
func (f *files) Count(ctx context.Context) (int, error)         { return len(f.names), nil }
func (f *files) Get(i int) (string, error)                      { return f.names[i], nil }
func (f *files) Fail() error                                    { return errors.New("no luck") }
func (f *files) Chan(ch chan int)                               {} // not usable: skipped
func (f *files) TwoResults() (int, int)                         { return 1, 2 }
func (f *files) URLFor(name string) string                      { return "peerd://" + name }
func (f *files) unexported() int                                { return 0 } //nolint:unused
func (f *files) Move(ctx context.Context, p point) (int, error) { return p.X + p.Y, nil }

func TestCallShapes(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	ctx := testCtx(t)
	require.NoError(t, b.Register("add", func(x, y int) int { return x + y }, "x", "y"))
	require.NoError(t, b.Register("ctxNoResult", func(ctx context.Context, s string) error {
		if ConnFromContext(ctx) != b {
			return errors.New("wrong conn")
		}
		return nil
	}))
	require.NoError(t, b.Register("point", func(p point) point { return point{p.Y, p.X} }))
	require.NoError(t, b.Register("ptr", func(p *point) int {
		if p == nil {
			return -1
		}
		return p.X
	}))
	require.NoError(t, b.Register("bytes", func(p []byte) []byte { return append(p, '!') }))
	require.NoError(t, b.RegisterService("files", &files{names: []string{"a", "b"}}))

	var sum int
	require.NoError(t, a.Call(ctx, "add", &sum, 2, 3))
	assert.Equal(t, 5, sum)
	n, err := Call[int](ctx, a, "add", 40, 2)
	require.NoError(t, err)
	assert.Equal(t, 42, n)
	raw, err := a.CallRaw(ctx, "add", jsontext.Value(`{"x":1,"y":2}`))
	require.NoError(t, err)
	assert.Equal(t, "3", string(raw))

	assert.NoError(t, a.Call(ctx, "ctxNoResult", nil, "x"))
	p, err := Call[point](ctx, a, "point", point{1, 2})
	require.NoError(t, err)
	assert.Equal(t, point{2, 1}, p)
	raw, err = a.CallRaw(ctx, "point", jsontext.Value(`{"x":5,"y":6}`))
	require.NoError(t, err, "named params fill a single struct")
	assert.Equal(t, `{"x":6,"y":5}`, string(raw))
	n, err = Call[int](ctx, a, "ptr")
	require.NoError(t, err)
	assert.Equal(t, -1, n, "missing params are zero values")
	bs, err := Call[[]byte](ctx, a, "bytes", []byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, "hi!", string(bs))

	list, err := Call[[]string](ctx, a, "files.list")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, list)
	n, err = Call[int](ctx, a, "files.count")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	s, err := Call[string](ctx, a, "files.urlFor", "x")
	require.NoError(t, err)
	assert.Equal(t, "peerd://x", s)
	n, err = Call[int](ctx, a, "files.move", point{3, 4})
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	for _, m := range []string{"files.chan", "files.twoResults", "files.unexported", "files.List"} {
		err = a.Call(ctx, m, nil)
		assert.ErrorIs(t, err, ErrMethodNotFound, m)
	}

	err = a.Call(ctx, "files.fail", nil)
	var re *Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, int64(CodeServerError), re.Code)
	assert.Equal(t, "no luck", re.Message)
	assert.Nil(t, re.Data, "details hidden by default")

	err = a.Call(ctx, "add", nil, "x", 1)
	assert.ErrorIs(t, err, ErrInvalidParams)
	err = a.Call(ctx, "nope", nil)
	assert.ErrorIs(t, err, ErrMethodNotFound)
	assert.True(t, errors.Is(err, &Error{Code: CodeMethodNotFound}))
}

func TestRegisterErrors(t *testing.T) {
	r := NewRegistry()
	for name, fn := range map[string]any{
		"notfunc":   42,
		"nilfunc":   (func())(nil),
		"threeOut":  func() (int, int, error) { return 0, 0, nil },
		"badSecond": func() (int, int) { return 0, 0 },
		"lateCtx":   func(int, context.Context) {},
		"chanParam": func(chan int) {},
	} {
		assert.ErrorIs(t, r.Register(name, fn), ErrBadMethod, name)
	}
	for _, name := range []string{"", "_x", "rpc.x", "a\xff"} {
		assert.ErrorIs(t, r.Register(name, func() {}), ErrBadMethod, name)
	}
	assert.ErrorIs(t, r.Register("x", func(int) {}, "a", "b"), ErrBadMethod, "too many names")
	assert.ErrorIs(t, r.RegisterService("x", struct{}{}), ErrBadMethod)
	assert.Nil(t, r.Lookup("_x"))
}

func TestSharedRegistryAndRouter(t *testing.T) {
	reg := NewRegistry()
	require.NoError(t, reg.Register("shared", func() string { return "shared" }))
	reg.SetRouter(func(name string) *Method {
		if !strings.HasPrefix(name, "dyn.") {
			return nil
		}
		m, _ := NewMethod(func() string { return name })
		return m
	})
	a, b := pair(t, Options{}, Options{Registry: reg})
	require.NoError(t, b.Register("shared", func() string { return "local" }))
	ctx := testCtx(t)
	s, err := Call[string](ctx, a, "shared")
	require.NoError(t, err)
	assert.Equal(t, "local", s, "conn methods first")
	s, err = Call[string](ctx, a, "dyn.thing")
	require.NoError(t, err)
	assert.Equal(t, "dyn.thing", s)
	_, err = Call[string](ctx, a, "other")
	assert.ErrorIs(t, err, ErrMethodNotFound)
	assert.Equal(t, []string{"shared"}, reg.Names())
}

func TestPanicAndDetails(t *testing.T) {
	for _, expose := range []bool{false, true} {
		t.Run(fmt.Sprint("expose=", expose), func(t *testing.T) {
			a, b := pair(t, Options{}, Options{ExposeDetails: expose})
			require.NoError(t, b.Register("boom", func() int { panic("kaboom") }))
			require.NoError(t, b.Register("fail", func() error { return errors.New("bad") }))
			require.NoError(t, b.Register("ok", func() int { return 1 }))
			ctx := testCtx(t)
			err := a.Call(ctx, "boom", nil)
			var re *Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, int64(CodeInternalError), re.Code)
			if expose {
				assert.Contains(t, string(re.Data), "kaboom")
				assert.Contains(t, string(re.Data), "stack")
			} else {
				assert.Nil(t, re.Data)
				assert.NotContains(t, re.Error(), "kaboom")
			}
			err = a.Call(ctx, "fail", nil)
			require.ErrorAs(t, err, &re)
			if expose {
				assert.Contains(t, string(re.Data), "errorString")
			}
			n, err := Call[int](ctx, a, "ok")
			require.NoError(t, err, "the connection survives")
			assert.Equal(t, 1, n)
		})
	}
}

func TestTypedErrorFromHandler(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("typed", func() error {
		return fmt.Errorf("wrapped: %w", &Error{Code: 42, Message: "custom", Data: jsontext.Value(`{"k":1}`)})
	}))
	err := a.Call(testCtx(t), "typed", nil)
	var re *Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, &Error{Code: 42, Message: "custom", Data: jsontext.Value(`{"k":1}`)}, re)
	assert.ErrorIs(t, err, &Error{Code: 42})
}

// TestHideErrors: with HideErrors a plain handler error's text stays home;
// errors built on purpose as *Error, and the package's own, go out as
// they are.
func TestHideErrors(t *testing.T) {
	secret := errors.New("open /etc/peerd/db.key: permission denied")
	for _, tt := range []struct {
		name string
		opts Options
		msg  string
		data string
	}{
		{"default", Options{}, secret.Error(), ""},
		{"hidden", Options{HideErrors: true}, "Server error", ""},
		{"hidden with details", Options{HideErrors: true, ExposeDetails: true}, "Server error", `{"type":"*fmt.wrapError"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pair(t, Options{}, tt.opts)
			require.NoError(t, b.Register("plain", func() error { return fmt.Errorf("loading: %w", secret) }))
			require.NoError(t, b.Register("typed", func() error {
				return fmt.Errorf("wrapped: %w", &Error{Code: 42, Message: "quota exceeded", Data: jsontext.Value(`{"limit":3}`)})
			}))
			require.NoError(t, b.Register("add", func(x, y int) int { return x + y }))
			require.NoError(t, b.Register("each", func(ctx context.Context, f func() error) error { return f() }))
			ctx := testCtx(t)
			var re *Error
			require.ErrorAs(t, a.Call(ctx, "plain", nil), &re)
			want := tt.msg
			if want == secret.Error() {
				want = "loading: " + want
			}
			assert.Equal(t, normData(&Error{Code: CodeServerError, Message: want, Data: jsontext.Value(tt.data)}), normData(re))
			require.ErrorAs(t, a.Call(ctx, "typed", nil), &re)
			assert.Equal(t, &Error{Code: 42, Message: "quota exceeded", Data: jsontext.Value(`{"limit":3}`)}, re, "an *Error passes")
			require.ErrorAs(t, a.Call(ctx, "add", nil, "x"), &re)
			assert.Equal(t, int64(CodeInvalidParams), re.Code)
			assert.Contains(t, re.Message, "Invalid params: ", "the package's own errors pass")
			// A callback's error travels through the handler: the handler
			// wraps the *Error it got, which passes.
			require.ErrorAs(t, a.Call(ctx, "each", nil, func() error { return errors.New("client side") }), &re)
			assert.Equal(t, "client side", re.Message)
		})
	}
}

// normData turns empty data into nil, for comparisons.
func normData(e *Error) *Error {
	c := *e
	if len(c.Data) == 0 {
		c.Data = nil
	}
	return &c
}

func TestBothWaysAndCallback(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, a.Register("name", func() string { return "a" }))
	require.NoError(t, b.Register("askBack", func(ctx context.Context) (string, error) {
		return Call[string](ctx, ConnFromContext(ctx), "name")
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Call[string](ctx, a, "askBack")
			assert.NoError(t, err)
			assert.Equal(t, "a", s)
		}()
	}
	wg.Wait()
}

func TestNotifyAndSession(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	got := make(chan string, 1)
	notified := make(chan string, 1)
	require.NoError(t, b.Register("login", func(ctx context.Context, user string) {
		ConnFromContext(ctx).SetValue("user", user)
	}))
	require.NoError(t, b.Register("note", func(s string) { notified <- s }))
	require.NoError(t, b.Register("whoami", func(ctx context.Context) string {
		u, _ := ConnFromContext(ctx).Value("user").(string)
		got <- u
		return u
	}))
	ctx := testCtx(t)
	require.NoError(t, a.Notify(ctx, "note", "hello"))
	assert.Equal(t, "hello", <-notified)
	require.NoError(t, a.Call(ctx, "login", nil, "ann"))
	s, err := Call[string](ctx, a, "whoami")
	require.NoError(t, err)
	assert.Equal(t, "ann", s)
	assert.Equal(t, "ann", <-got)
	b.SetValue("user", nil)
	assert.Nil(t, b.Value("user"))
}

func TestConcurrencyBound(t *testing.T) {
	const limit = 3
	a, b := pair(t, Options{}, Options{MaxConcurrency: limit, MaxQueue: 2})
	var running, peak atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 100)
	require.NoError(t, b.Register("slow", func() {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		running.Add(-1)
	}))
	ctx := testCtx(t)
	errs := make(chan error, 10)
	for i := 0; i < limit+2; i++ {
		go func() { errs <- a.Call(ctx, "slow", nil) }()
	}
	for i := 0; i < limit; i++ {
		<-entered
	}
	// Slots and queue are full: the next call is refused at once.
	require.Eventually(t, func() bool { return b.Stats().Queued == 2 }, testTimeout, pollEvery)
	assert.ErrorIs(t, a.Call(ctx, "slow", nil), ErrOverloaded)
	close(release)
	for i := 0; i < limit+2; i++ {
		assert.NoError(t, <-errs)
	}
	assert.EqualValues(t, limit, peak.Load())
}

func TestCallsBothWaysAtOnce(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	for _, c := range []*Conn{a, b} {
		require.NoError(t, c.Register("add", func(x, y int) int { return x + y }))
		require.NoError(t, c.Register("viaPeer", func(ctx context.Context, x int) (int, error) {
			return Call[int](ctx, ConnFromContext(ctx), "add", x, 1)
		}))
	}
	ctx := testCtx(t)
	var wg sync.WaitGroup
	// Each viaPeer holds a handler slot while it waits for the peer's add,
	// so stay under MaxConcurrency (64) on each side.
	for i := 0; i < 60; i++ {
		for _, c := range []*Conn{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := Call[int](ctx, c, "viaPeer", i)
				assert.NoError(t, err)
				assert.Equal(t, i+1, n)
			}()
		}
	}
	wg.Wait()
	assert.Equal(t, Stats{}, bindings(a))
	assert.Equal(t, Stats{}, bindings(b))
}

func TestIdleWorkersExit(t *testing.T) {
	a, b := pair(t, Options{}, Options{IdleTimeout: time.Millisecond})
	require.NoError(t, b.Register("add", func(x, y int) int { return x + y }))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Call[int](ctx, a, "add", i, 1)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		b.smu.Lock()
		defer b.smu.Unlock()
		return b.workers == 0 && len(b.idle) == 0
	}, testTimeout, pollEvery, "parked workers exit after IdleTimeout")
	n, err := Call[int](ctx, a, "add", 1, 1)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}
