package endpoint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileOptions are short limits so that the tests run fast.
var hostileOptions = Options{
	MaxMessageSize:    64 << 10,
	IdleTimeout:       300 * time.Millisecond,
	ReadTimeout:       300 * time.Millisecond,
	ReadHeaderTimeout: 300 * time.Millisecond,
}

func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// TestHostileMessages sends malformed input on every endpoint and expects a
// clear JSON-RPC error each time, with the connection still serving.
func TestHostileMessages(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), hostileOptions)
	parse := `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}`
	invalid := `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`
	tests := []struct {
		name, in string
		want     string // "" means: an error with code wantCode
		wantCode int64
	}{
		{name: "truncated", in: `{"jsonrpc":"2.0","method":"echo","params":["x`, want: parse},
		{name: "truncated batch", in: `[{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1},`, want: parse},
		{name: "deep nesting", in: deep(20000), want: parse},
		{name: "deep params", in: `{"jsonrpc":"2.0","method":"echo","params":[` + deep(20000) + `],"id":1}`, want: parse},
		{name: "nested params, wrong type", in: `{"jsonrpc":"2.0","method":"echo","params":[` + deep(200) + `],"id":1}`, wantCode: rpc.CodeInvalidParams},
		{name: "non-UTF-8 string", in: "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"\xff\xfe\"],\"id\":1}", want: parse},
		{name: "non-UTF-8 method", in: "{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\x28\",\"id\":1}", want: parse},
		{name: "id is an object", in: `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":{}}`, want: invalid},
		{name: "params is a string", in: `{"jsonrpc":"2.0","method":"echo","params":"x","id":1}`, wantCode: rpc.CodeInvalidRequest},
		{name: "wrong version", in: `{"jsonrpc":"3.0","method":"echo","id":1}`, wantCode: rpc.CodeInvalidRequest},
		{name: "wrong param types", in: `{"jsonrpc":"2.0","method":"subtract","params":[{},null],"id":1}`, wantCode: rpc.CodeInvalidParams},
		{name: "number", in: `42`, want: invalid},
		{name: "string", in: `"hello"`, want: invalid},
		{name: "trailing garbage", in: `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1} x`, want: parse},
		{name: "duplicate member", in: `{"jsonrpc":"2.0","method":"echo","method":"echo","params":["x"],"id":1}`, want: parse},
		{name: "huge id", in: `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":` + strings.Repeat("9", 4000) + `}`, wantCode: 0},
	}
	endpoints := map[string]exchanger{
		"http": httpExchanger{url: f.url("http")},
		"tcp":  tcpExchanger(t, f.tcpAddr),
		"ws":   wsExchanger(t, f.url("ws")),
	}
	for _, ep := range []string{"http", "tcp", "ws"} {
		t.Run(ep, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got := endpoints[ep].exchange(t, tt.in, true)
					if tt.want != "" {
						assert.JSONEq(t, tt.want, got)
						return
					}
					env, err := rpc.ParseEnvelope([]byte(got), 1)
					require.NoError(t, err, got)
					if tt.wantCode == 0 {
						assert.Nil(t, env.Msgs[0].Error, got)
						return
					}
					require.NotNil(t, env.Msgs[0].Error, got)
					assert.Equal(t, tt.wantCode, env.Msgs[0].Error.Code, got)
				})
			}
		})
	}
}

// serving checks that a fresh client is served.
func serving(t *testing.T, f *fixture) {
	t.Helper()
	for _, scheme := range []string{"http", "tcp", "ws"} {
		c, err := Dial(testCtx(t), f.url(scheme), ClientOptions{})
		require.NoError(t, err)
		var s string
		assert.NoError(t, c.Call(testCtx(t), "echo", &s, "still here"), scheme)
		assert.Equal(t, "still here", s)
		require.NoError(t, c.Close())
	}
}

// readUntilClosed reads everything the server sends until it closes the
// connection, bounded in time.
func readUntilClosed(t *testing.T, nc net.Conn) string {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	b, err := io.ReadAll(nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the connection; got %q", b)
	}
	return string(b)
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// TestHostileTCP: over-long lines, idle and slow-loris connections are
// closed; the server keeps serving others.
func TestHostileTCP(t *testing.T) {
	noLeaks(t)
	o := hostileOptions
	o.MaxMessageSize = 4096
	f := startServer(t, specRegistry(t), o)

	t.Run("line too long", func(t *testing.T) {
		nc := dialRaw(t, f.tcpAddr)
		// Far more than the limit: the server stops reading after it.
		go func() {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 160 { // 10 MiB
				if _, err := nc.Write(chunk); err != nil {
					return
				}
			}
		}()
		got := readUntilClosed(t, nc)
		assert.JSONEq(t, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request: line longer than 4096 bytes"},"id":null}`, strings.TrimSpace(got))
	})
	t.Run("line at the limit", func(t *testing.T) {
		nc := dialRaw(t, f.tcpAddr)
		msg := `{"jsonrpc":"2.0","method":"echo","params":["` + strings.Repeat("a", 4000) + `"],"id":1}`
		msg += strings.Repeat(" ", 4096-len(msg))
		_, err := nc.Write([]byte(msg + "\r\n"))
		require.NoError(t, err)
		require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
		line, err := bufio.NewReader(nc).ReadString('\n')
		require.NoError(t, err)
		assert.Contains(t, line, `"result":"aaaa`)
	})
	t.Run("idle", func(t *testing.T) {
		nc := dialRaw(t, f.tcpAddr)
		serving(t, f)
		assert.Empty(t, readUntilClosed(t, nc))
	})
	t.Run("slow loris", func(t *testing.T) {
		nc := dialRaw(t, f.tcpAddr)
		_, err := nc.Write([]byte(`{"jsonrpc":"2.0","met`))
		require.NoError(t, err)
		serving(t, f)
		assert.Empty(t, readUntilClosed(t, nc))
	})
	t.Run("blank lines are skipped", func(t *testing.T) {
		x := tcpExchanger(t, f.tcpAddr)
		assert.Empty(t, x.exchange(t, "  \t ", false))
	})
	serving(t, f)
}

// TestHostileHTTP: huge bodies, slow headers and slow bodies.
func TestHostileHTTP(t *testing.T) {
	noLeaks(t)
	o := hostileOptions
	o.MaxMessageSize = 4096
	f := startServer(t, specRegistry(t), o)
	post := func(body io.Reader, length int64) (*http.Response, string) {
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, f.url("http"), body)
		require.NoError(t, err)
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	t.Run("body too large, with length", func(t *testing.T) {
		resp, body := post(strings.NewReader(strings.Repeat(" ", 5000)), 5000)
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assertRPCError(t, body, rpc.CodeInvalidRequest)
	})
	t.Run("body too large, chunked", func(t *testing.T) {
		// io.MultiReader hides the length: the body is sent chunked.
		resp, body := post(io.MultiReader(strings.NewReader(`{"jsonrpc":"2.0","method":"echo","params":["`+strings.Repeat("a", 8000)+`"],"id":1}`)), -1)
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assertRPCError(t, body, rpc.CodeInvalidRequest)
	})
	t.Run("empty body", func(t *testing.T) {
		resp, body := post(strings.NewReader(""), 0)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assertRPCError(t, body, rpc.CodeParseError)
	})
	t.Run("slow headers", func(t *testing.T) {
		nc := dialRaw(t, f.webAddr)
		_, err := nc.Write([]byte("POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: appl"))
		require.NoError(t, err)
		serving(t, f)
		got := readUntilClosed(t, nc)
		assert.NotContains(t, got, "200 OK")
	})
	t.Run("slow body", func(t *testing.T) {
		nc := dialRaw(t, f.webAddr)
		_, err := nc.Write([]byte("POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\""))
		require.NoError(t, err)
		serving(t, f)
		got := readUntilClosed(t, nc)
		assert.NotContains(t, got, "200 OK")
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		nc := dialRaw(t, f.webAddr)
		assert.Empty(t, readUntilClosed(t, nc))
	})
	serving(t, f)
}

// TestHostileHandler: the body read timeout also holds for a Handler
// mounted in an http.Server without timeouts of its own.
func TestHostileHandler(t *testing.T) {
	noLeaks(t)
	s := NewServerWithOptions(specRegistry(t), hostileOptions)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	defer func() {
		require.NoError(t, hs.Close())
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
		require.NoError(t, s.Shutdown(testCtx(t)))
	}()
	nc := dialRaw(t, ln.Addr().String())
	_, err = nc.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\""))
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assertRPCError(t, string(b), rpc.CodeInvalidRequest)
}

// TestHostileWebSocket: huge frames, binary frames, idle and slow-loris
// connections.
func TestHostileWebSocket(t *testing.T) {
	noLeaks(t)
	o := hostileOptions
	o.MaxMessageSize = 4096
	f := startServer(t, specRegistry(t), o)
	closeCode := func(ws *websocket.Conn) int {
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server did not close the connection")
		}
		return -1
	}
	t.Run("frame too large", func(t *testing.T) {
		ws := rawWS(t, f.url("ws"))
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte(" "), 5000)))
		assert.Equal(t, websocket.CloseMessageTooBig, closeCode(ws))
	})
	t.Run("binary frame", func(t *testing.T) {
		ws := rawWS(t, f.url("ws"))
		require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, []byte(`{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}`)))
		assert.Equal(t, websocket.CloseUnsupportedData, closeCode(ws))
	})
	t.Run("idle", func(t *testing.T) {
		ws := rawWS(t, f.url("ws"))
		serving(t, f)
		assert.NotEqual(t, 0, closeCode(ws))
	})
	t.Run("pings keep it alive", func(t *testing.T) {
		ws := rawWS(t, f.url("ws"))
		pongs := make(chan struct{}, 1)
		ws.SetPongHandler(func(string) error {
			select {
			case pongs <- struct{}{}:
			default:
			}
			return nil
		})
		// Read in the background so that pongs are processed.
		readErr := make(chan error, 1)
		go func() {
			_, _, err := ws.ReadMessage()
			readErr <- err
		}()
		require.NoError(t, ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)))
		select {
		case <-pongs:
		case err := <-readErr:
			t.Fatalf("closed instead of pong: %v", err)
		case <-testCtx(t).Done():
			t.Fatal("no pong")
		}
		_ = ws.Close()
		<-readErr
	})
	t.Run("slow loris", func(t *testing.T) {
		ws := rawWS(t, f.url("ws"))
		// A masked text frame header announcing 100 bytes, then 5 of them.
		_, err := ws.UnderlyingConn().Write([]byte{0x81, 0x80 | 100, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'})
		require.NoError(t, err)
		serving(t, f)
		assert.NotEqual(t, 0, closeCode(ws))
	})
	t.Run("too many connections", func(t *testing.T) {
		o := hostileOptions
		o.MaxConns = 1
		g := startServer(t, specRegistry(t), o)
		c := dial(t, g.url("ws"), ClientOptions{})
		require.NoError(t, c.Call(testCtx(t), "echo", nil, "x"))
		_, err := Dial(testCtx(t), g.url("ws"), ClientOptions{})
		assert.ErrorIs(t, err, ErrHTTPStatus)
		assert.Contains(t, err.Error(), strconv.Itoa(http.StatusServiceUnavailable))
	})
	serving(t, f)
}

// TestLongHandlerAfterBodyDeadline: the body read deadline ends with the
// body; a handler may run longer than ReadTimeout.
func TestLongHandlerAfterBodyDeadline(t *testing.T) {
	noLeaks(t)
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("slow", func(ctx context.Context) (string, error) {
		// Work that outlasts the read timeout (not a synchronisation).
		tm := time.NewTimer(4 * 100 * time.Millisecond)
		defer tm.Stop()
		select {
		case <-tm.C:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}))
	s := NewServerWithOptions(reg, Options{ReadTimeout: 100 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	c := dial(t, "http://"+ln.Addr().String()+"/", ClientOptions{})
	var got string
	assert.NoError(t, c.Call(testCtx(t), "slow", &got))
	assert.Equal(t, "done", got)
	require.NoError(t, c.Close())
	require.NoError(t, hs.Close())
	assert.ErrorIs(t, <-done, http.ErrServerClosed)
	require.NoError(t, s.Shutdown(testCtx(t)))
}
