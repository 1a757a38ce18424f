package endpoint

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveHandler serves h on a loopback http.Server until the test ends
// and returns its base URL (no trailing slash).
func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: testTimeout}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, hs.Close())
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return "http://" + ln.Addr().String()
}

// testTimeout bounds the servers the tests build themselves.
const testTimeout = 10 * time.Second

// do sends one request and returns the status, the Content-Type and the
// body.
func do(t *testing.T, method, url, contentType, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestMiddleware installs the endpoint in front of a user's mux: JSON-RPC
// POSTs and WebSocket upgrades on the path are served (callbacks too),
// everything else reaches the mux.
func TestMiddleware(t *testing.T) {
	noLeaks(t)
	reg := specRegistry(t)
	require.NoError(t, reg.Register("ask", func(ctx context.Context, q string) (string, error) {
		var a string
		err := rpc.ConnFromContext(ctx).Call(ctx, "answer", &a, q)
		return a, err
	}))
	s := NewServerWithOptions(reg, Options{})
	defer func() { require.NoError(t, s.Shutdown(testCtx(t))) }()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "page "+r.Method+" "+r.URL.Path)
	})
	mux.HandleFunc("POST /api/upload", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "uploaded "+string(b))
	})
	base := serveHandler(t, s.Middleware(mux))

	// JSON-RPC on the path.
	status, ct, body := do(t, http.MethodPost, base+"/rpc", "application/json", `{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}`)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/json", ct)
	assert.JSONEq(t, `{"jsonrpc":"2.0","result":19,"id":1}`, body)
	status, _, _ = do(t, http.MethodPost, base+"/rpc", "application/json", `{"jsonrpc":"2.0","method":"update","params":[1]}`)
	assert.Equal(t, http.StatusNoContent, status)
	status, _, body = do(t, http.MethodPost, base+"/rpc", "text/plain", `{}`)
	assert.Equal(t, http.StatusUnsupportedMediaType, status, "the endpoint's own checks apply")
	assertRPCError(t, body, rpc.CodeInvalidRequest)

	// The Go client over HTTP and WebSocket, with a callback over the
	// WebSocket.
	hc := dial(t, base+"/rpc", ClientOptions{})
	n, err := Call[int](testCtx(t), hc, "sum", 1, 2, 3)
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	creg := rpc.NewRegistry()
	require.NoError(t, creg.Register("answer", func(q string) string { return q + "!" }))
	wc := dial(t, "ws"+strings.TrimPrefix(base, "http")+"/rpc", ClientOptions{RPC: rpc.Options{Registry: creg}})
	a, err := Call[string](testCtx(t), wc, "ask", "hi")
	require.NoError(t, err)
	assert.Equal(t, "hi!", a)

	// Everything else reaches the mux.
	for _, tt := range []struct{ method, path, want string }{
		{http.MethodGet, "/rpc", "page GET /rpc"}, // no upgrade: the description is the mux's business
		{http.MethodHead, "/rpc", ""},
		{http.MethodPut, "/rpc", "page PUT /rpc"},
		{http.MethodPost, "/rpc/", "page POST /rpc/"}, // the path matches exactly
		{http.MethodPost, "/rpcx", "page POST /rpcx"},
		{http.MethodGet, "/", "page GET /"},
		{http.MethodGet, "/index.html", "page GET /index.html"},
		{http.MethodPost, "/api/upload", "uploaded data"},
	} {
		status, ct, body := do(t, tt.method, base+tt.path, "application/json", "data")
		assert.Equal(t, http.StatusOK, status, "%s %s", tt.method, tt.path)
		assert.Equal(t, "text/plain", ct, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.want, body, "%s %s", tt.method, tt.path)
	}
}

// TestMiddlewareOptions: another path, WebSocket disabled, no next.
func TestMiddlewareOptions(t *testing.T) {
	noLeaks(t)
	s := NewServerWithOptions(specRegistry(t), Options{Path: "/v1/jsonrpc", DisableWebSocket: true})
	defer func() { require.NoError(t, s.Shutdown(testCtx(t))) }()
	base := serveHandler(t, s.Middleware(nil))

	c := dial(t, base+"/v1/jsonrpc", ClientOptions{})
	got, err := Call[string](testCtx(t), c, "echo", "x")
	require.NoError(t, err)
	assert.Equal(t, "x", got)

	status, _, _ := do(t, http.MethodPost, base+"/rpc", "application/json", `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}`)
	assert.Equal(t, http.StatusNotFound, status, "the default path is not served when another is set")
	_, err = Dial(testCtx(t), "ws"+strings.TrimPrefix(base, "http")+"/v1/jsonrpc", ClientOptions{})
	assert.ErrorIs(t, err, ErrHTTPStatus, "upgrades disabled: the request went to next")
	assert.Contains(t, err.Error(), "404")
}
