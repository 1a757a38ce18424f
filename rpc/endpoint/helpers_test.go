package endpoint

import (
	"context"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// testCtx bounds every test.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// noLeaks checks, after every other cleanup, that no goroutine is left.
func noLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// specRegistry holds the methods used by the JSON-RPC 2.0 specification's
// examples, plus a few for the other tests.
func specRegistry(t testing.TB) *rpc.Registry {
	t.Helper()
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("subtract", func(minuend, subtrahend int) int { return minuend - subtrahend }, "minuend", "subtrahend"))
	require.NoError(t, reg.Register("sum", func(xs ...int) int {
		s := 0
		for _, x := range xs {
			s += x
		}
		return s
	}))
	require.NoError(t, reg.Register("update", func(xs ...int) {}))
	require.NoError(t, reg.Register("notify_hello", func(x int) {}))
	require.NoError(t, reg.Register("notify_sum", func(xs ...int) {}))
	require.NoError(t, reg.Register("get_data", func() []any { return []any{"hello", 5} }))
	require.NoError(t, reg.Register("echo", func(s string) string { return s }))
	require.ErrorIs(t, reg.Register("_private", func() int { return 1 }), rpc.ErrBadMethod)
	return reg
}

// fixture is a Server listening on loopback for TCP and HTTP/WebSocket.
type fixture struct {
	srv     *Server
	tcpAddr string
	webAddr string
}

func (f *fixture) url(scheme string) string {
	switch scheme {
	case "tcp", "tls":
		return scheme + "://" + f.tcpAddr
	}
	return scheme + "://" + f.webAddr + "/rpc"
}

// startServer serves reg with o on two loopback listeners until the test
// ends.
func startServer(t testing.TB, reg *rpc.Registry, o Options) *fixture {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := NewServerWithOptions(reg, o)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { errs <- s.Serve(ctx, tl) }()
	go func() { errs <- s.ServeHTTPOn(ctx, hl) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		assert.NoError(t, s.Shutdown(sctx))
		cancel()
		for range 2 {
			assert.NoError(t, <-errs)
		}
	})
	return &fixture{srv: s, tcpAddr: tl.Addr().String(), webAddr: hl.Addr().String()}
}

// dial returns a Client closed at the end of the test.
func dial(t testing.TB, url string, o ClientOptions) *Client {
	t.Helper()
	c, err := Dial(testCtx(t), url, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// canonical decodes a JSON text into a comparable form in which the
// elements of a top-level array are sorted (batch answers come in any
// order). "" stays "".
func canonical(t testing.TB, s string) any {
	t.Helper()
	if s == "" {
		return ""
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), "not JSON: %s", s)
	if arr, ok := v.([]any); ok {
		keys := make([]string, len(arr))
		for i, e := range arr {
			b, err := json.Marshal(e, json.Deterministic(true))
			require.NoError(t, err)
			keys[i] = string(b)
		}
		sort.Strings(keys)
		return keys
	}
	return v
}

// rawWS dials a raw gorilla WebSocket connection.
func rawWS(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.DialContext(testCtx(t), url, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

// rawJSON is a shorthand for a raw JSON value.
func rawJSON(s string) jsontext.Value { return jsontext.Value(s) }
