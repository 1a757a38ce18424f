package rpc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specMethods registers the methods used by the JSON-RPC 2.0 specification's
// examples.
func specMethods(t *testing.T, c *Conn) {
	t.Helper()
	require.NoError(t, c.Register("subtract", func(minuend, subtrahend int) int { return minuend - subtrahend }, "minuend", "subtrahend"))
	require.NoError(t, c.Register("sum", func(xs ...int) int {
		s := 0
		for _, x := range xs {
			s += x
		}
		return s
	}))
	require.NoError(t, c.Register("update", func(xs ...int) {}))
	require.NoError(t, c.Register("notify_hello", func(x int) {}))
	require.NoError(t, c.Register("notify_sum", func(xs ...int) {}))
	require.NoError(t, c.Register("get_data", func() []any { return []any{"hello", 5} }))
	require.NoError(t, c.Register("echo", func(s string) string { return s }))
	require.ErrorIs(t, c.Register("_private", func() int { return 1 }), ErrBadMethod)
}

// TestSpecExamples sends every example of the JSON-RPC 2.0 specification
// (section 7) as raw bytes and compares the answer byte for byte with the
// specification's, compacted. "" means no answer. A ping request after each
// example proves that nothing else was sent.
func TestSpecExamples(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"positional 1", `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
			`{"jsonrpc":"2.0","result":19,"id":1}`},
		{"positional 2", `{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}`,
			`{"jsonrpc":"2.0","result":-19,"id":2}`},
		{"named 1", `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
			`{"jsonrpc":"2.0","result":19,"id":3}`},
		{"named 2", `{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}`,
			`{"jsonrpc":"2.0","result":19,"id":4}`},
		{"notification 1", `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`, ``},
		{"notification 2", `{"jsonrpc": "2.0", "method": "foobar"}`, ``},
		{"non-existent method", `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`,
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"1"}`},
		{"invalid JSON", `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
			`{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}`},
		{"invalid request object", `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`,
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`},
		{"batch invalid JSON", `[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]`, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}`},
		{"empty array", `[]`,
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`},
		{"invalid batch of one", `[1]`,
			`[{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}]`},
		{"invalid batch", `[1,2,3]`,
			`[{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null},` +
				`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null},` +
				`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}]`},
		{"mixed batch", `[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]`, `[{"jsonrpc":"2.0","result":7,"id":"1"},` +
			`{"jsonrpc":"2.0","result":19,"id":"2"},` +
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null},` +
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"5"},` +
			`{"jsonrpc":"2.0","result":["hello",5],"id":"9"}]`},
		{"all notifications", `[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]`, ``},
		// Beyond the specification's examples.
		{"null id echoed", `{"jsonrpc":"2.0","method":"subtract","params":[1,1],"id":null}`,
			`{"jsonrpc":"2.0","result":0,"id":null}`},
		{"float id echoed exactly", `{"jsonrpc":"2.0","method":"subtract","params":[1,1],"id":1.50e3}`,
			`{"jsonrpc":"2.0","result":0,"id":1.50e3}`},
		{"private method", `{"jsonrpc":"2.0","method":"_private","id":7}`,
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":7}`},
		{"too many params", `{"jsonrpc":"2.0","method":"subtract","params":[1,2,3],"id":8}`,
			`{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params: at most 2 expected"},"id":8}`},
		{"unknown named param", `{"jsonrpc":"2.0","method":"subtract","params":{"x":1},"id":9}`,
			`{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params: unknown parameter \"x\""},"id":9}`},
		{"1.0 request", `{"method": "echo", "params": ["Hello JSON-RPC"], "id": 1}`,
			`{"result":"Hello JSON-RPC","error":null,"id":1}`},
		{"1.0 unknown method", `{"method": "nope", "params": [], "id": 2}`,
			`{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":2}`},
		{"1.0 notification", `{"method": "echo", "params": ["x"], "id": null}`, ``},
		{"1.0 invalid request", `{"method": "echo", "params": "x", "id": 5}`,
			`{"result":null,"error":{"code":-32600,"message":"Invalid Request"},"id":5}`},
		{"1.0 invalid id", `{"method": "echo", "params": ["x"], "id": {}}`,
			`{"result":null,"error":{"code":-32600,"message":"Invalid Request"},"id":null}`},
		{"no JSON-RPC member", `{"foo": "boo", "id": 6}`,
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":6}`},
		// Batch elements are answered each in its own form.
		{"batch of 1.0 and 2.0 calls", `[{"method": "echo", "params": ["a"], "id": 1}, {"jsonrpc": "2.0", "method": "echo", "params": ["b"], "id": 2}, {"method": "nope", "params": [], "id": 3}]`,
			`[{"result":"a","error":null,"id":1},{"jsonrpc":"2.0","result":"b","id":2},{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":3}]`},
		{"PROTOCOL.md 3.7 batch", `[{"method": "echo", "params": ["a"], "id": 1},
     {"jsonrpc": "2.0", "method": "echo", "params": ["b"], "id": 2},
     {"method": "echo", "params": "x", "id": 5},
     {"foo": "boo"}]`,
			`[{"result":"a","error":null,"id":1},{"jsonrpc":"2.0","result":"b","id":2},{"result":null,"error":{"code":-32600,"message":"Invalid Request"},"id":5},{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}]`},
		{"batch with invalid 1.0 and 2.0 elements", `[{"method": "echo", "params": "x", "id": 5}, {"jsonrpc": "2.0", "method": 1, "id": 6}, {"foo": "boo"}, {"method": "echo", "params": ["y"], "id": null}]`,
			`[{"result":null,"error":{"code":-32600,"message":"Invalid Request"},"id":5},` +
				`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":6},` +
				`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}]`},
	}
	_, p := rawConn(t, Options{}, func(c *Conn) { specMethods(t, c) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.send(t, tt.in)
			if tt.want != "" {
				assert.Equal(t, tt.want, p.recv(t))
			}
			p.send(t, `{"jsonrpc":"2.0","method":"echo","params":["ping"],"id":"ping"}`)
			assert.Equal(t, `{"jsonrpc":"2.0","result":"ping","id":"ping"}`, p.recv(t), "nothing else was sent")
		})
	}
}
