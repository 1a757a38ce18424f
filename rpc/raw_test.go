package rpc

import (
	"context"
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRawMethod: a raw method sees the params member exactly as sent and
// its result goes out as is.
func TestRawMethod(t *testing.T) {
	echo := NewRawMethod(func(ctx context.Context, params jsontext.Value) (jsontext.Value, error) {
		if ConnFromContext(ctx) == nil {
			return nil, errors.New("no conn in ctx")
		}
		switch string(params) {
		case "":
			return jsontext.Value(`"absent"`), nil
		case `["fail"]`:
			return nil, &Error{Code: 9, Message: "asked to"}
		case `["nil"]`:
			return nil, nil
		case `["bad"]`:
			return jsontext.Value(`{`), nil
		}
		return append(jsontext.Value(nil), params...), nil
	})
	_, peer := rawConn(t, Options{}, func(c *Conn) {
		require.NoError(t, c.local.RegisterMethod("echo", echo))
	})
	tests := []struct{ req, resp string }{
		{`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"b":1, "a":[2]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"b":1, "a":[2]}}`},
		{`{"jsonrpc":"2.0","id":2,"method":"echo","params":[1,"x"]}`,
			`{"jsonrpc":"2.0","id":2,"result":[1,"x"]}`},
		{`{"jsonrpc":"2.0","id":3,"method":"echo"}`,
			`{"jsonrpc":"2.0","id":3,"result":"absent"}`},
		{`{"jsonrpc":"2.0","id":4,"method":"echo","params":["fail"]}`,
			`{"jsonrpc":"2.0","id":4,"error":{"code":9,"message":"asked to"}}`},
		{`{"jsonrpc":"2.0","id":5,"method":"echo","params":["nil"]}`,
			`{"jsonrpc":"2.0","id":5,"result":null}`},
		{`{"jsonrpc":"2.0","id":6,"method":"echo","params":["bad"]}`,
			`{"jsonrpc":"2.0","id":6,"error":{"code":-32603,"message":"Internal error"}}`},
	}
	for _, tt := range tests {
		peer.send(t, tt.req)
		assert.JSONEq(t, tt.resp, peer.recv(t), tt.req)
	}
	peer.send(t, `{"jsonrpc":"2.0","id":7,"method":"rpc.discover"}`)
	assert.Contains(t, peer.recv(t), `"name":"echo"`, "a raw method is listed by rpc.discover")
}
