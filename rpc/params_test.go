package rpc

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
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
