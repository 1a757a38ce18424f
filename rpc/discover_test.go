package rpc

import (
	"context"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type discoverArg struct {
	Base
	Name  string            `json:"name"`
	Tags  []string          `json:"tags,omitempty"`
	Meta  map[string]int    `json:"meta"`
	Skip  int               `json:"-"`
	Data  []byte            `json:"data"`
	Plain string            // Go name
	inner int               //nolint:unused
	Next  *discoverArg      `json:"next"`
	Fn    func(int)         `json:"fn"`
	Any   any               `json:"any"`
	Fixed [2]float64        `json:"fixed"`
	Ptr   *map[string]*bool `json:"ptr"`
}

type Base struct {
	ID uint `json:"id"`
}

func TestDiscover(t *testing.T) {
	shared := NewRegistry()
	require.NoError(t, shared.Register("shared.ping", func() string { return "pong" }))
	_, p := rawConn(t, Options{Registry: shared, ServiceName: "demo", ServiceVersion: "1.2.3"}, func(c *Conn) {
		require.NoError(t, c.Register("subtract", func(minuend, subtrahend int) int { return minuend - subtrahend }, "minuend", "subtrahend"))
		require.NoError(t, c.Register("store", func(ctx context.Context, a discoverArg, cb func(string)) error { return nil }))
		require.NoError(t, c.Register("sum", func(xs ...float64) float64 { return 0 }))
	})
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.discover","id":1}`)
	var resp struct {
		Result OpenRPC `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(p.recv(t)), &resp))
	doc := resp.Result
	assert.Equal(t, "1.2.6", doc.OpenRPC)
	assert.Equal(t, OpenRPCInfo{Title: "demo", Version: "1.2.3"}, doc.Info)
	names := []string{}
	for _, m := range doc.Methods {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"shared.ping", "store", "subtract", "sum"}, names)

	sub := doc.Methods[2]
	assert.Equal(t, "either", sub.ParamStructure)
	require.Len(t, sub.Params, 2)
	assert.Equal(t, "minuend", sub.Params[0].Name)
	assert.Equal(t, map[string]any{"type": "integer"}, sub.Params[0].Schema)
	assert.Equal(t, map[string]any{"type": "integer"}, sub.Result.Schema)

	st := doc.Methods[1]
	require.Len(t, st.Params, 2)
	assert.Equal(t, []string{"arg0", "arg1"}, []string{st.Params[0].Name, st.Params[1].Name})
	props := st.Params[0].Schema["properties"].(map[string]any)
	for _, k := range []string{"id", "name", "tags", "meta", "data", "Plain", "next", "fn", "any", "fixed", "ptr"} {
		assert.Contains(t, props, k)
	}
	assert.NotContains(t, props, "Skip")
	assert.NotContains(t, props, "-")
	assert.Equal(t, map[string]any{"type": "string", "contentEncoding": "base64"}, props["data"], "JSON-only transport")
	assert.Equal(t, "object", st.Params[1].Schema["type"])
	assert.Equal(t, map[string]any{"type": "null"}, st.Result.Schema)

	sum := doc.Methods[3]
	assert.Equal(t, "by-position", sum.ParamStructure)
	assert.Equal(t, "number", sum.Params[0].Schema["type"], "variadic: each remaining param")
}

func TestDiscoverBytes(t *testing.T) {
	_, p := rawConn(t, Options{}, func(c *Conn) {
		require.NoError(t, c.Register("subtract", func(minuend, subtrahend int) int { return minuend - subtrahend }, "minuend", "subtrahend"))
	})
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.discover","id":1}`)
	assert.Equal(t, `{"jsonrpc":"2.0","result":{"openrpc":"1.2.6","info":{"title":"peerd","version":"0.0.0"},"methods":[{"name":"subtract","params":[{"name":"minuend","schema":{"type":"integer"}},{"name":"subtrahend","schema":{"type":"integer"}}],"result":{"name":"result","schema":{"type":"integer"}},"paramStructure":"either"}]},"id":1}`, p.recv(t))
}

func TestDiscoverByCall(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	require.NoError(t, b.Register("ping", func() string { return "pong" }))
	doc, err := Call[OpenRPC](testCtx(t), a, "rpc.discover")
	require.NoError(t, err)
	require.Len(t, doc.Methods, 1)
	assert.Equal(t, "ping", doc.Methods[0].Name)
	assert.Equal(t, "string", doc.Methods[0].Result.Schema["type"])
}
