package rpc

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/binchannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// celsius has its own JSON form: a bare number.
type celsius struct{ deg float64 }

func (c *celsius) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	c.deg = f
	return err
}

// TestSingleValueParam: a method whose one parameter is a struct with its
// own JSON or text form (or a binary) takes it as one value, by position or
// named arg0; a plain struct still takes its fields as the named params.
func TestSingleValueParam(t *testing.T) {
	_, p := rawConn(t, Options{}, func(c *Conn) {
		require.NoError(t, c.Register("year", func(t time.Time) int { return t.Year() }))
		require.NoError(t, c.Register("yearPtr", func(t *time.Time) int { return t.Year() }))
		require.NoError(t, c.Register("warm", func(c celsius) bool { return c.deg > 20 }))
		require.NoError(t, c.Register("addr", func(a netip.Addr) bool { return a.Is4() }))
		require.NoError(t, c.Register("size", func(b binchannel.Binary) int64 { return b.Len() }))
		require.NoError(t, c.Register("move", func(p point) int { return p.X + p.Y }))
	})
	for _, tt := range []struct{ in, want string }{
		{`{"jsonrpc":"2.0","method":"year","params":{"arg0":"2020-01-01T00:00:00Z"},"id":1}`, `{"jsonrpc":"2.0","result":2020,"id":1}`},
		{`{"jsonrpc":"2.0","method":"year","params":["2021-01-01T00:00:00Z"],"id":2}`, `{"jsonrpc":"2.0","result":2021,"id":2}`},
		{`{"jsonrpc":"2.0","method":"yearPtr","params":{"arg0":"2022-01-01T00:00:00Z"},"id":3}`, `{"jsonrpc":"2.0","result":2022,"id":3}`},
		{`{"jsonrpc":"2.0","method":"warm","params":{"arg0":21.5},"id":4}`, `{"jsonrpc":"2.0","result":true,"id":4}`},
		{`{"jsonrpc":"2.0","method":"addr","params":{"arg0":"127.0.0.1"},"id":5}`, `{"jsonrpc":"2.0","result":true,"id":5}`},
		{`{"jsonrpc":"2.0","method":"size","params":{"arg0":"aGk="},"id":6}`, `{"jsonrpc":"2.0","result":2,"id":6}`},
		{`{"jsonrpc":"2.0","method":"size","params":["aGk="],"id":7}`, `{"jsonrpc":"2.0","result":2,"id":7}`},
		{`{"jsonrpc":"2.0","method":"move","params":{"x":1,"y":2},"id":8}`, `{"jsonrpc":"2.0","result":3,"id":8}`},
		{`{"jsonrpc":"2.0","method":"move","params":[{"x":1,"y":3}],"id":9}`, `{"jsonrpc":"2.0","result":4,"id":9}`},
	} {
		p.send(t, tt.in)
		assert.Equal(t, tt.want, p.recv(t), tt.in)
	}

	p.send(t, `{"jsonrpc":"2.0","method":"rpc.discover","id":10}`)
	var resp struct {
		Result OpenRPC `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(p.recv(t)), &resp))
	structure := map[string]string{}
	for _, m := range resp.Result.Methods {
		structure[m.Name] = m.ParamStructure
	}
	assert.Equal(t, map[string]string{"year": "either", "yearPtr": "either", "warm": "either", "addr": "either",
		"size": "either", "move": "by-position"}, structure)
}

// TestSingleValueParamBinchannel: a Binary parameter named arg0 binds the
// raw part over a binchannel.
func TestSingleValueParamBinchannel(t *testing.T) {
	pa, pb := binchannel.NewPipe(binchannel.PipeOptions{})
	c := New(binchannel.New(pa))
	raw := binchannel.New(pb)
	t.Cleanup(func() {
		closeWait(t, c)
		_ = raw.Close()
		goleak.VerifyNone(t)
	})
	require.NoError(t, c.Register("size", func(b binchannel.Binary) int64 { return b.Len() }))
	ctx := testCtx(t)
	for _, params := range []string{`{"arg0":{"$bin":0}}`, `[{"$bin":0}]`} {
		require.NoError(t, raw.SendPacket(ctx, binchannel.Packet{
			JSON: []byte(`{"jsonrpc":"2.0","method":"size","params":` + params + `,"id":1}`),
			Bins: []binchannel.Binary{binchannel.BytesBinary([]byte("hello"))},
		}))
		p, err := raw.RecvPacket(ctx)
		require.NoError(t, err)
		assert.Equal(t, `{"jsonrpc":"2.0","result":5,"id":1}`, string(p.JSON), params)
	}
}

// TestDefaults: declared defaults fill named params left out, trailing
// positional params left out, and params left out altogether; rpc.discover
// shows them.
func TestDefaults(t *testing.T) {
	greet, err := NewMethod(func(name, greeting string, times int, tags []string) string {
		tags = append(tags, "seen")
		return strings.Repeat(greeting+" "+name+" ", times) + strings.Join(tags, ",")
	}, "name", "greeting", "times", "tags")
	require.NoError(t, err)
	withDefaults, err := greet.WithDefaults(map[string]any{"greeting": "hello", "times": 1, "tags": []string{"a"}})
	require.NoError(t, err)
	_, p := rawConn(t, Options{}, func(c *Conn) {
		require.NoError(t, c.RegisterMethod("greet", withDefaults))
		require.NoError(t, c.RegisterMethod("plain", greet))
	})
	for _, tt := range []struct{ in, want string }{
		{`{"jsonrpc":"2.0","method":"greet","params":{"name":"ann"},"id":1}`, `"hello ann a,seen"`},
		{`{"jsonrpc":"2.0","method":"greet","params":{"name":"ann","greeting":"hi","tags":null},"id":2}`, `"hi ann seen"`},
		{`{"jsonrpc":"2.0","method":"greet","params":{"times":2,"name":"bo"},"id":3}`, `"hello bo hello bo a,seen"`},
		{`{"jsonrpc":"2.0","method":"greet","params":["ann"],"id":4}`, `"hello ann a,seen"`},
		{`{"jsonrpc":"2.0","method":"greet","params":["ann","yo"],"id":5}`, `"yo ann a,seen"`},
		{`{"jsonrpc":"2.0","method":"greet","params":["ann","yo",0,["b"]],"id":6}`, `"b,seen"`},
		{`{"jsonrpc":"2.0","method":"greet","id":7}`, `"hello  a,seen"`},
		{`{"jsonrpc":"2.0","method":"greet","params":{},"id":8}`, `"hello  a,seen"`},
		// The method it was made from keeps zero values.
		{`{"jsonrpc":"2.0","method":"plain","params":{"name":"ann"},"id":9}`, `"seen"`},
	} {
		p.send(t, tt.in)
		assert.Equal(t, `{"jsonrpc":"2.0","result":`+tt.want+`,"id":`+tt.in[len(tt.in)-2:len(tt.in)-1]+`}`, p.recv(t), tt.in)
	}

	p.send(t, `{"jsonrpc":"2.0","method":"rpc.discover","id":10}`)
	var resp struct {
		Result OpenRPC `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(p.recv(t)), &resp))
	require.Len(t, resp.Result.Methods, 2)
	params := resp.Result.Methods[0].Params
	require.Len(t, params, 4)
	assert.NotContains(t, params[0].Schema, "default")
	assert.Equal(t, "hello", params[1].Schema["default"])
	assert.Equal(t, 1.0, params[2].Schema["default"])
	assert.Equal(t, []any{"a"}, params[3].Schema["default"])
	for _, d := range resp.Result.Methods[1].Params {
		assert.NotContains(t, d.Schema, "default")
	}
}

func TestDefaultsBytes(t *testing.T) {
	m, err := NewMethod(func(b []byte, bin binchannel.Binary) int64 { return int64(len(b)) + bin.Len() }, "b", "bin")
	require.NoError(t, err)
	m, err = m.WithDefaults(map[string]any{"b": []byte("abc"), "bin": binchannel.BytesBinary([]byte("de"))})
	require.NoError(t, err)
	for name, mk := range map[string]func(*testing.T, Options, Options) (*Conn, *Conn){"binchannel": pair, "json": jsonPair} {
		t.Run(name, func(t *testing.T) {
			a, b := mk(t, Options{}, Options{})
			require.NoError(t, b.RegisterMethod("size", m))
			n, err := Call[int64](testCtx(t), a, "size")
			require.NoError(t, err)
			assert.Equal(t, int64(5), n)
			n, err = Call[int64](testCtx(t), a, "size", []byte("x"))
			require.NoError(t, err)
			assert.Equal(t, int64(3), n)
		})
	}
}

func TestDefaultsErrors(t *testing.T) {
	m, err := NewMethod(func(ctx context.Context, n int, f func(), rest ...int) {}, "n", "f", "rest")
	require.NoError(t, err)
	for _, tt := range []struct {
		name     string
		defaults map[string]any
	}{
		{"unknown name", map[string]any{"x": 1}},
		{"wrong type", map[string]any{"n": "one"}},
		{"function param", map[string]any{"f": nil}},
		{"variadic param", map[string]any{"rest": []int{1}}},
		{"function value", map[string]any{"n": func() {}}},
		{"invalid raw JSON", map[string]any{"n": jsontext.Value(`{`)}},
	} {
		_, err := m.WithDefaults(tt.defaults)
		assert.ErrorIs(t, err, ErrBadMethod, tt.name)
	}
	got, err := m.WithDefaults(map[string]any{"n": jsontext.Value(`7`)})
	require.NoError(t, err)
	assert.Equal(t, []jsontext.Value{jsontext.Value(`7`), nil, nil}, got.defaults)
	assert.Nil(t, m.defaults, "the method it was made from is unchanged")
	_, err = NewRawMethod(func(ctx context.Context, params jsontext.Value) (jsontext.Value, error) { return nil, nil }).
		WithDefaults(map[string]any{"arg0": 1})
	assert.ErrorIs(t, err, ErrBadMethod)
}

// TestDefaultsProtocolExample pins the example of PROTOCOL.md 4.5.
func TestDefaultsProtocolExample(t *testing.T) {
	m, err := NewMethod(func(minuend, subtrahend int) int { return minuend - subtrahend }, "minuend", "subtrahend")
	require.NoError(t, err)
	m, err = m.WithDefaults(map[string]any{"subtrahend": 1})
	require.NoError(t, err)
	_, p := rawConn(t, Options{}, func(c *Conn) { require.NoError(t, c.RegisterMethod("subtract", m)) })
	p.send(t, `{"jsonrpc":"2.0","method":"rpc.discover","id":1}`)
	assert.Contains(t, p.recv(t), `{"name":"subtrahend","schema":{"default":1,"type":"integer"}}`)
	p.send(t, `{"jsonrpc":"2.0","method":"subtract","params":{"minuend":42},"id":2}`)
	assert.Equal(t, `{"jsonrpc":"2.0","result":41,"id":2}`, p.recv(t))
	p.send(t, `{"jsonrpc":"2.0","method":"subtract","params":[42],"id":3}`)
	assert.Equal(t, `{"jsonrpc":"2.0","result":41,"id":3}`, p.recv(t))
}
