package endpoint

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventLog records hook events.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(kind string) func(Event) {
	return func(e Event) {
		s := kind + " " + e.Endpoint + " " + e.Method + " " + string(e.ID)
		if e.Err != nil {
			s += " err"
		}
		l.mu.Lock()
		l.events = append(l.events, s)
		l.mu.Unlock()
	}
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// TestHooks checks the request, response and error events on every
// endpoint, including notifications and unparsable input.
func TestHooks(t *testing.T) {
	noLeaks(t)
	var log eventLog
	f := startServer(t, specRegistry(t), Options{Hooks: Hooks{
		OnRequest:  log.add("req"),
		OnResponse: log.add("resp"),
		OnError:    log.add("error"),
	}})
	endpoints := map[string]exchanger{
		"http": httpExchanger{url: f.url("http")},
		"tcp":  tcpExchanger(t, f.tcpAddr),
		"ws":   wsExchanger(t, f.url("ws")),
	}
	for _, ep := range []string{"http", "tcp", "ws"} {
		t.Run(ep, func(t *testing.T) {
			x := endpoints[ep]
			log.take()
			x.exchange(t, `{"jsonrpc":"2.0","method":"subtract","params":[3,1],"id":1}`, true)
			x.exchange(t, `{"jsonrpc":"2.0","method":"update","params":[1]}`, false)
			x.exchange(t, `{"jsonrpc":"2.0","method":"missing","id":"m"}`, true)
			x.exchange(t, `{"jsonrpc":"2.0",`, true)
			got := log.take()
			var filtered []string
			for _, e := range got {
				if !strings.Contains(e, "ping") { // the exchangers' pings
					filtered = append(filtered, e)
				}
			}
			assert.ElementsMatch(t, []string{
				"req " + ep + " subtract 1",
				"resp " + ep + " subtract 1",
				"req " + ep + " update ",
				"req " + ep + " missing \"m\"",
				"resp " + ep + " missing \"m\" err",
				"error " + ep + " missing \"m\" err",
				"resp " + ep + "  null err",
				"error " + ep + "  null err",
			}, filtered)
		})
	}
}

// TestRelay exposes, on a public HTTP endpoint, a method that runs on a
// private peer reached over an rpc.Conn (a binchannel pipe), and one that
// runs behind another JSON-RPC endpoint reached with a Client.
func TestRelay(t *testing.T) {
	noLeaks(t)
	private := rpc.NewRegistry()
	require.NoError(t, private.Register("secret.add", func(a, b int) int { return a + b }))
	require.NoError(t, private.Register("secret.fail", func() error { return &rpc.Error{Code: 7, Message: "private failure", Data: jsontext.Value(`[1]`)} }))
	require.NoError(t, private.Register("secret.wait", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	toPrivate := pipeCaller(t, private)

	inner := startServer(t, private, Options{})
	toInner := dial(t, inner.url("tcp"), ClientOptions{})

	public := rpc.NewRegistry()
	require.NoError(t, Relay(public, "add", toPrivate, "secret.add"))
	require.NoError(t, Relay(public, "fail", toPrivate, "secret.fail"))
	require.NoError(t, Relay(public, "wait", toPrivate, "secret.wait"))
	require.NoError(t, Relay(public, "add2", toInner, "secret.add"))
	assert.Error(t, Relay(public, "bad", nil, "x"))
	f := startServer(t, public, Options{})

	c := dial(t, f.url("http"), ClientOptions{})
	ctx := testCtx(t)
	for _, m := range []string{"add", "add2"} {
		var n int
		require.NoError(t, c.Call(ctx, m, &n, 40, 2))
		assert.Equal(t, 42, n)
	}
	err := c.Call(ctx, "fail", nil)
	var re *rpc.Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, int64(7), re.Code)
	assert.Equal(t, "private failure", re.Message)
	assert.JSONEq(t, `[1]`, string(re.Data))

	// A routing hook relays a whole namespace.
	public.SetRouter(func(name string) *rpc.Method {
		rest, ok := strings.CutPrefix(name, "private.")
		if !ok {
			return nil
		}
		return RelayMethod(toPrivate, "secret."+rest)
	})
	var n int
	require.NoError(t, c.Call(ctx, "private.add", &n, 1, 2))
	assert.Equal(t, 3, n)
	assert.ErrorIs(t, c.Call(ctx, "private.nope", nil), rpc.ErrMethodNotFound, "the remote's -32601 comes back")
	assert.ErrorIs(t, c.Call(ctx, "elsewhere.add", nil, 1, 2), rpc.ErrMethodNotFound)

	// Cancelling the public call cancels the private one.
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	ws := dial(t, f.url("ws"), ClientOptions{})
	go func() { done <- ws.Call(wctx, "wait", nil) }()
	cancel()
	assert.ErrorIs(t, <-done, rpc.ErrCancelled)
}

// TestDiscover calls rpc.discover on every endpoint and validates the
// document against the OpenRPC meta-schema (testdata); private, rpc. and
// routed names are not listed.
func TestDiscover(t *testing.T) {
	noLeaks(t)
	schema := openRPCSchema(t)
	f := startServer(t, apiRegistry(t), Options{})
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{})
			raw, err := c.CallRaw(testCtx(t), "rpc.discover", nil)
			require.NoError(t, err)
			validateOpenRPCDoc(t, schema, raw)
			var doc rpc.OpenRPC
			require.NoError(t, json.Unmarshal(raw, &doc))
			var names []string
			for _, m := range doc.Methods {
				names = append(names, m.Name)
			}
			assert.Contains(t, names, "subtract")
			assert.NotContains(t, names, "_private")
			for _, n := range names {
				assert.False(t, strings.HasPrefix(n, "_") || strings.HasPrefix(n, "rpc.") || strings.HasPrefix(n, "dyn."), n)
			}
		})
	}
}

// TestHTTPMethods covers GET (description), HEAD, OPTIONS, other methods
// and content types.
func TestHTTPMethods(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), Options{Name: "calc"})
	url := f.url("http")
	do := func(method, ct, body string) (*http.Response, string) {
		req, err := http.NewRequestWithContext(testCtx(t), method, url, strings.NewReader(body))
		require.NoError(t, err)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	resp, body := do(http.MethodGet, "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var d description
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	assert.Equal(t, "calc", d.Name)
	assert.Equal(t, "rpc.discover", d.Discover)
	assert.Contains(t, d.Methods, "subtract")
	assert.NotContains(t, d.Methods, "_private")

	resp, body = do(http.MethodHead, "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)

	resp, _ = do(http.MethodOptions, "", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, allowHeader, resp.Header.Get("Allow"))

	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		resp, body = do(m, "application/json", "{}")
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
		assert.Equal(t, allowHeader, resp.Header.Get("Allow"))
		assertRPCError(t, body, rpc.CodeInvalidRequest)
	}

	call := `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}`
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/json-rpc", "application/jsonrequest"} {
		resp, body = do(http.MethodPost, ct, call)
		assert.Equal(t, http.StatusOK, resp.StatusCode, ct)
		assert.JSONEq(t, `{"jsonrpc":"2.0","result":"x","id":1}`, body, ct)
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/json; charset"} {
		resp, body = do(http.MethodPost, ct, call)
		assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, ct)
		assertRPCError(t, body, rpc.CodeInvalidRequest)
	}

	// A response object sent to the server is not answered.
	resp, _ = do(http.MethodPost, "application/json", `{"jsonrpc":"2.0","result":1,"id":1}`)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func assertRPCError(t *testing.T, body string, code int64) {
	t.Helper()
	env, err := rpc.ParseEnvelope([]byte(body), 1)
	require.NoError(t, err, body)
	require.NotNil(t, env.Msgs[0].Error, body)
	assert.Equal(t, code, env.Msgs[0].Error.Code, body)
	assert.Equal(t, "null", string(env.Msgs[0].ID))
}

// TestConnectionErrorHook: a connection closed for idling is reported to
// OnError with the timeout.
func TestConnectionErrorHook(t *testing.T) {
	noLeaks(t)
	errs := make(chan Event, 4)
	o := hostileOptions
	o.Hooks.OnError = func(e Event) {
		select {
		case errs <- e:
		default:
		}
	}
	f := startServer(t, specRegistry(t), o)
	nc := dialRaw(t, f.tcpAddr)
	assert.Empty(t, readUntilClosed(t, nc))
	select {
	case e := <-errs:
		assert.Equal(t, "tcp", e.Endpoint)
		assert.ErrorIs(t, e.Err, os.ErrDeadlineExceeded)
	case <-testCtx(t).Done():
		t.Fatal("no error event")
	}
}

// TestShutdownFailsCalls: closing the server fails the calls waiting on a
// TCP or WebSocket client with ErrClosed, and ServeTCP returns when its
// context ends.
func TestShutdownFailsCalls(t *testing.T) {
	noLeaks(t)
	started := make(chan struct{}, 2)
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("block", func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(testCtx(t))
	served := make(chan error, 1)
	go func() { served <- ServeTCP(ctx, ln, reg, Options{}) }()
	c := dial(t, "tcp://"+ln.Addr().String(), ClientOptions{})
	failed := make(chan error, 1)
	go func() { failed <- c.Call(testCtx(t), "block", nil) }()
	<-started
	cancel()
	assert.ErrorIs(t, <-failed, rpc.ErrClosed)
	assert.NoError(t, <-served)
}

// typedError is an error type whose Go name must not reach a client.
type typedError struct{}

func (typedError) Error() string { return "typed failure" }

// TestErrorDetails: every endpoint runs its Conns with the same
// rpc.Options. By default a panic is answered with a bare -32603 and a
// returned error without its Go type; Options.RPC.ExposeDetails adds them
// on every carrier alike.
func TestErrorDetails(t *testing.T) {
	noLeaks(t)
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("boom", func() int { panic("secret state") }))
	require.NoError(t, reg.Register("typed", func() error { return typedError{} }))
	for _, expose := range []bool{false, true} {
		f := startServer(t, reg, Options{RPC: rpc.Options{ExposeDetails: expose}})
		for _, scheme := range []string{"http", "tcp", "ws"} {
			t.Run(fmt.Sprintf("%s expose=%v", scheme, expose), func(t *testing.T) {
				c := dial(t, f.url(scheme), ClientOptions{})
				var re *rpc.Error
				require.ErrorAs(t, c.Call(testCtx(t), "boom", nil), &re)
				assert.Equal(t, int64(rpc.CodeInternalError), re.Code)
				assert.Equal(t, "Internal error", re.Message)
				if expose {
					assert.Contains(t, string(re.Data), "secret state")
				} else {
					assert.Nil(t, re.Data)
				}
				require.ErrorAs(t, c.Call(testCtx(t), "typed", nil), &re)
				assert.Equal(t, int64(rpc.CodeServerError), re.Code)
				if expose {
					assert.Contains(t, string(re.Data), "typedError")
				} else {
					assert.Nil(t, re.Data)
				}
			})
		}
	}
}

// TestExposeErrors: on every carrier a handler's plain error is answered
// with -32000 "Server error" by default and with its own text under
// Options.ExposeErrors (unless RPC.HideErrors insists), in single calls
// and in batches; an *rpc.Error built on purpose, even wrapped, and the
// rpc package's own errors go out unchanged either way.
func TestExposeErrors(t *testing.T) {
	noLeaks(t)
	secret := errors.New("open /srv/peerd/db.key: permission denied")
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("plain", func() error { return fmt.Errorf("loading: %w", secret) }))
	require.NoError(t, reg.Register("deliberate", func() error {
		return fmt.Errorf("checking: %w", &rpc.Error{Code: 42, Message: "quota exceeded", Data: rawJSON(`{"limit":3}`)})
	}))
	require.NoError(t, reg.Register("add", func(x, y int) int { return x + y }))
	require.NoError(t, reg.Register("open", func(name string) error { return fmt.Errorf("open /var/lib/%s: permission denied", name) }))
	deliberate := &rpc.Error{Code: 42, Message: "quota exceeded", Data: rawJSON(`{"limit":3}`)}
	for _, tt := range []struct {
		name  string
		opts  Options
		plain string // the message a plain error gets
	}{
		{"default", Options{}, "Server error"},
		{"exposed", Options{ExposeErrors: true}, "loading: " + secret.Error()},
		{"exposed but hidden by RPC", Options{ExposeErrors: true, RPC: rpc.Options{HideErrors: true}}, "Server error"},
	} {
		f := startServer(t, reg, tt.opts)
		for _, scheme := range []string{"http", "tcp", "ws"} {
			t.Run(tt.name+" "+scheme, func(t *testing.T) {
				c := dial(t, f.url(scheme), ClientOptions{})
				ctx := testCtx(t)
				var re *rpc.Error
				require.ErrorAs(t, c.Call(ctx, "plain", nil), &re)
				assert.Equal(t, &rpc.Error{Code: rpc.CodeServerError, Message: tt.plain}, re)
				require.ErrorAs(t, c.Call(ctx, "deliberate", nil), &re)
				assert.Equal(t, deliberate, re, "an *rpc.Error passes")
				require.ErrorAs(t, c.Call(ctx, "add", nil, "x", 1), &re)
				assert.Equal(t, int64(rpc.CodeInvalidParams), re.Code)
				assert.Contains(t, re.Message, "Invalid params: ", "the rpc package's own errors pass")

				b := c.Batch()
				bp := b.Call("plain", nil)
				bd := b.Call("deliberate", nil)
				require.NoError(t, b.Send(ctx))
				require.ErrorAs(t, bp.Err(), &re)
				assert.Equal(t, &rpc.Error{Code: rpc.CodeServerError, Message: tt.plain}, re, "in a batch")
				require.ErrorAs(t, bd.Err(), &re)
				assert.Equal(t, deliberate, re, "an *rpc.Error passes in a batch")

				if scheme == "tcp" {
					// The exchange of PROTOCOL.md section 7, byte for byte.
					nc, err := net.Dial("tcp", f.tcpAddr)
					require.NoError(t, err)
					defer nc.Close()
					require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
					_, err = io.WriteString(nc, `{"jsonrpc":"2.0","method":"open","params":["db"],"id":1}`+"\n")
					require.NoError(t, err)
					line, err := bufio.NewReader(nc).ReadString('\n')
					require.NoError(t, err)
					want := `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Server error"},"id":1}` + "\n"
					if tt.plain != "Server error" {
						want = `{"jsonrpc":"2.0","error":{"code":-32000,"message":"open /var/lib/db: permission denied"},"id":1}` + "\n"
					}
					assert.Equal(t, want, line)
				}
			})
		}
	}
}
