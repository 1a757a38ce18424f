package endpoint

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specExamples are the examples of the JSON-RPC 2.0 specification, section
// 7, as raw bytes; "" means no answer.
var specExamples = []struct {
	name, in, want string
}{
	{"positional 1", `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
		`{"jsonrpc": "2.0", "result": 19, "id": 1}`},
	{"positional 2", `{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}`,
		`{"jsonrpc": "2.0", "result": -19, "id": 2}`},
	{"named 1", `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
		`{"jsonrpc": "2.0", "result": 19, "id": 3}`},
	{"named 2", `{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}`,
		`{"jsonrpc": "2.0", "result": 19, "id": 4}`},
	{"notification 1", `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`, ``},
	{"notification 2", `{"jsonrpc": "2.0", "method": "foobar"}`, ``},
	{"non-existent method", `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`,
		`{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}`},
	{"invalid JSON", `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
		`{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}`},
	{"invalid request object", `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`,
		`{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}`},
	{"batch invalid JSON", `[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]`, `{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}`},
	{"empty array", `[]`,
		`{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}`},
	{"invalid batch of one", `[1]`,
		`[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]`},
	{"invalid batch", `[1,2,3]`, `[
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
]`},
	{"mixed batch", `[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]`, `[
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": 19, "id": "2"},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
        {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
    ]`},
	{"all notifications", `[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]`, ``},
	// Beyond the specification's examples.
	{"private method", `{"jsonrpc":"2.0","method":"_private","id":7}`,
		`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":7}`},
	{"1.0 request", `{"method": "echo", "params": ["Hello JSON-RPC"], "id": 1}`,
		`{"result":"Hello JSON-RPC","error":null,"id":1}`},
	{"1.0 notification", `{"method": "echo", "params": ["x"], "id": null}`, ``},
	{"batch with a notification and a private id clash", `[{"jsonrpc":"2.0","method":"echo","params":["a"],"id":"~n1"},{"jsonrpc":"2.0","method":"update","params":[1]}]`,
		`[{"jsonrpc":"2.0","result":"a","id":"~n1"}]`},
}

// exchanger sends one raw message and returns the raw answer, "" for none.
// want tells whether an answer is expected (stream carriers cannot tell
// "none" from "not yet").
type exchanger interface {
	exchange(t *testing.T, in string, want bool) string
}

type httpExchanger struct{ url string }

func (e httpExchanger) exchange(t *testing.T, in string, _ bool) string {
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, e.url, strings.NewReader(in))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	switch resp.StatusCode {
	case http.StatusNoContent:
		assert.Empty(t, body)
		return ""
	case http.StatusOK:
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		return string(body)
	}
	t.Fatalf("status %s: %s", resp.Status, body)
	return ""
}

const pingReq = `{"jsonrpc":"2.0","method":"echo","params":["ping"],"id":"ping"}`
const pingResp = `{"jsonrpc":"2.0","result":"ping","id":"ping"}`

// streamExchanger sends the message and then a ping, and reads the ping's
// answer and, when one is expected, the message's (in either order, as
// handlers run concurrently). An unexpected extra answer shows up as a
// mismatch in the next exchange.
type streamExchanger struct {
	send func(t *testing.T, msg string)
	recv func(t *testing.T) string
}

func (e streamExchanger) exchange(t *testing.T, in string, want bool) string {
	e.send(t, in)
	e.send(t, pingReq)
	n := 1
	if want {
		n = 2
	}
	answer, pinged := "", false
	for range n {
		m := e.recv(t)
		if m == pingResp && !pinged {
			pinged = true
			continue
		}
		assert.Empty(t, answer, "a second answer: %s", m)
		answer = m
	}
	assert.True(t, pinged, "the ping was answered")
	return answer
}

func tcpExchanger(t *testing.T, addr string) exchanger {
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	br := bufio.NewReader(nc)
	return streamExchanger{
		send: func(t *testing.T, msg string) {
			// The framing is one JSON text per line: the examples' line
			// breaks become spaces, every other byte is sent as is.
			_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_, err := nc.Write([]byte(strings.ReplaceAll(msg, "\n", " ") + "\n"))
			require.NoError(t, err)
		},
		recv: func(t *testing.T) string {
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := br.ReadBytes('\n')
			require.NoError(t, err)
			assert.Equal(t, 1, bytes.Count(line, []byte{'\n'}))
			return string(bytes.TrimSuffix(line, []byte{'\n'}))
		},
	}
}

func wsExchanger(t *testing.T, url string) exchanger {
	ws := rawWS(t, url)
	return streamExchanger{
		send: func(t *testing.T, msg string) {
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(msg)))
		},
		recv: func(t *testing.T) string {
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			typ, b, err := ws.ReadMessage()
			require.NoError(t, err)
			assert.Equal(t, websocket.TextMessage, typ)
			return string(b)
		},
	}
}

// TestSpecExamples sends every example of the JSON-RPC 2.0 specification as
// raw bytes over HTTP, TCP and WebSocket and compares the answers
// structurally (batch answers in any order).
func TestSpecExamples(t *testing.T) {
	noLeaks(t)
	f := startServer(t, specRegistry(t), Options{})
	endpoints := map[string]exchanger{
		"http": httpExchanger{url: f.url("http")},
		"tcp":  tcpExchanger(t, f.tcpAddr),
		"ws":   wsExchanger(t, f.url("ws")),
	}
	for _, ep := range []string{"http", "tcp", "ws"} {
		t.Run(ep, func(t *testing.T) {
			for _, tt := range specExamples {
				t.Run(tt.name, func(t *testing.T) {
					got := endpoints[ep].exchange(t, tt.in, tt.want != "")
					assert.Equal(t, canonical(t, tt.want), canonical(t, got), "answer: %s", got)
				})
			}
			// Nothing was left unread.
			assert.Empty(t, endpoints[ep].exchange(t, `{"jsonrpc":"2.0","method":"update"}`, false))
		})
	}
}
