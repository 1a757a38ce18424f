package rpc

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		err     *Error
		batch   bool
		kinds   []Kind
		ids     []string // raw ids, "" for absent
		methods []string
		v1      bool
	}{
		{name: "positional", in: `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`, kinds: []Kind{KindRequest}, ids: []string{"1"}, methods: []string{"subtract"}},
		{name: "named", in: `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`, kinds: []Kind{KindRequest}, ids: []string{"3"}, methods: []string{"subtract"}},
		{name: "notification", in: `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`, kinds: []Kind{KindRequest}, ids: []string{""}, methods: []string{"update"}},
		{name: "string id", in: `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`, kinds: []Kind{KindRequest}, ids: []string{`"1"`}, methods: []string{"foobar"}},
		{name: "null id", in: `{"jsonrpc":"2.0","method":"x","id":null}`, kinds: []Kind{KindRequest}, ids: []string{"null"}, methods: []string{"x"}},
		{name: "float id kept exactly", in: `{"jsonrpc":"2.0","method":"x","id":1.50e3}`, kinds: []Kind{KindRequest}, ids: []string{"1.50e3"}, methods: []string{"x"}},
		{name: "parse error", in: `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`, err: ErrParse},
		{name: "empty", in: ``, err: ErrParse},
		{name: "invalid request", in: `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`, kinds: []Kind{KindInvalid}, ids: []string{""}},
		{name: "batch parse error", in: `[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]`, err: ErrParse},
		{name: "empty batch", in: `[]`, err: ErrInvalidRequest},
		{name: "batch of one invalid", in: `[1]`, batch: true, kinds: []Kind{KindInvalid}, ids: []string{""}},
		{name: "batch of three invalid", in: `[1,2,3]`, batch: true, kinds: []Kind{KindInvalid, KindInvalid, KindInvalid}, ids: []string{"", "", ""}},
		{name: "scalar", in: `42`, kinds: []Kind{KindInvalid}, ids: []string{""}},
		{name: "wrong version", in: `{"jsonrpc":"1.0","method":"x","id":7}`, kinds: []Kind{KindInvalid}, ids: []string{"7"}},
		{name: "object id", in: `{"jsonrpc":"2.0","method":"x","id":{}}`, kinds: []Kind{KindInvalid}, ids: []string{""}},
		{name: "string params", in: `{"jsonrpc":"2.0","method":"x","params":"a","id":2}`, kinds: []Kind{KindInvalid}, ids: []string{"2"}},
		{name: "method and result", in: `{"jsonrpc":"2.0","method":"x","result":1,"id":2}`, kinds: []Kind{KindInvalid}, ids: []string{"2"}},
		{name: "no method no result", in: `{"jsonrpc":"2.0","id":2}`, kinds: []Kind{KindInvalid}, ids: []string{"2"}},
		{name: "result", in: `{"jsonrpc":"2.0","result":19,"id":1}`, kinds: []Kind{KindResponse}, ids: []string{"1"}},
		{name: "null result", in: `{"jsonrpc":"2.0","result":null,"id":1}`, kinds: []Kind{KindResponse}, ids: []string{"1"}},
		{name: "error", in: `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"1"}`, kinds: []Kind{KindResponse}, ids: []string{`"1"`}},
		{name: "error null id", in: `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}`, kinds: []Kind{KindResponse}, ids: []string{"null"}},
		{name: "response without id", in: `{"jsonrpc":"2.0","result":1}`, kinds: []Kind{KindInvalid}, ids: []string{""}},
		{name: "duplicate member", in: `{"jsonrpc":"2.0","method":"a","method":"b","id":1}`, err: ErrParse},
		{name: "invalid utf8", in: "{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"id\":1}", err: ErrParse},
		{name: "v1 request", in: `{"method": "echo", "params": ["Hello JSON-RPC"], "id": 1}`, kinds: []Kind{KindRequest}, ids: []string{"1"}, methods: []string{"echo"}, v1: true},
		{name: "v1 notification", in: `{"method": "postMessage", "params": ["Hi"], "id": null}`, kinds: []Kind{KindRequest}, ids: []string{"null"}, methods: []string{"postMessage"}, v1: true},
		{name: "v1 response", in: `{"result": "Hello JSON-RPC", "error": null, "id": 1}`, kinds: []Kind{KindResponse}, ids: []string{"1"}, v1: true},
		{name: "v1 error response", in: `{"result": null, "error": {"code":1,"message":"x"}, "id": 1}`, kinds: []Kind{KindResponse}, ids: []string{"1"}, v1: true},
		{name: "v1 invalid request", in: `{"method":"echo","params":"x","id":5}`, kinds: []Kind{KindInvalid}, ids: []string{"5"}, v1: true},
		{name: "v1 invalid id", in: `{"method":"echo","id":[5]}`, kinds: []Kind{KindInvalid}, ids: []string{""}, v1: true},
		{name: "v1 invalid response", in: `{"result":1,"error":{"code":1,"message":"x"},"id":5}`, kinds: []Kind{KindInvalid}, ids: []string{"5"}, v1: true},
		{name: "no JSON-RPC member is not v1", in: `{"foo":"boo","id":5}`, kinds: []Kind{KindInvalid}, ids: []string{"5"}},
		{name: "v1 batch elements", in: `[{"method":"echo","params":["a"],"id":1},{"method":"echo","params":"x","id":2}]`, batch: true,
			kinds: []Kind{KindRequest, KindInvalid}, ids: []string{"1", "2"}, methods: []string{"echo", ""}, v1: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tt.in), 0)
			if tt.err != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.batch, env.Batch)
			require.Len(t, env.Msgs, len(tt.kinds))
			for i, m := range env.Msgs {
				assert.Equal(t, tt.kinds[i], m.Kind, "kind %d", i)
				assert.Equal(t, tt.ids[i], string(m.ID), "id %d", i)
				if m.Kind == KindRequest {
					assert.Equal(t, tt.methods[i], m.Method)
				}
				if m.Kind == KindInvalid {
					assert.ErrorIs(t, m.Invalid, ErrInvalidRequest)
				}
				assert.Equal(t, tt.v1, m.V1, "v1 %d", i)
			}
		})
	}
}

func TestParseEnvelopeBatchBound(t *testing.T) {
	_, err := ParseEnvelope([]byte(`[1,2,3]`), 2)
	assert.ErrorIs(t, err, ErrInvalidRequest)
}

func TestNotification(t *testing.T) {
	env, err := ParseEnvelope([]byte(`{"method":"m","params":[],"id":null}`), 0)
	require.NoError(t, err)
	assert.True(t, env.Msgs[0].IsNotification(), "1.0 null id")
	env, err = ParseEnvelope([]byte(`{"jsonrpc":"2.0","method":"m","id":null}`), 0)
	require.NoError(t, err)
	assert.False(t, env.Msgs[0].IsNotification(), "2.0 null id is a call")
}

func TestAppendEnvelope(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"call", AppendRequest(nil, jsontext.Value("1"), "subtract", jsontext.Value("[42,23]")), `{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}`},
		{"notification", AppendRequest(nil, nil, "update", jsontext.Value("[1,2,3,4,5]")), `{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5]}`},
		{"no params", AppendRequest(nil, jsontext.Value(`"a"`), "foobar", nil), `{"jsonrpc":"2.0","method":"foobar","id":"a"}`},
		{"quoted method", AppendRequest(nil, nil, "a\"b", nil), `{"jsonrpc":"2.0","method":"a\"b"}`},
		{"result", AppendResponse(nil, false, jsontext.Value("1"), jsontext.Value("19"), nil), `{"jsonrpc":"2.0","result":19,"id":1}`},
		{"nil result", AppendResponse(nil, false, jsontext.Value("1"), nil, nil), `{"jsonrpc":"2.0","result":null,"id":1}`},
		{"error", AppendResponse(nil, false, jsontext.Value(`"1"`), nil, ErrMethodNotFound), `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"1"}`},
		{"error null id", AppendResponse(nil, false, nil, nil, ErrParse), `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}`},
		{"error data", AppendResponse(nil, false, jsontext.Value("2"), nil, &Error{Code: 5, Message: "m", Data: jsontext.Value(`{"a":1}`)}), `{"jsonrpc":"2.0","error":{"code":5,"message":"m","data":{"a":1}},"id":2}`},
		{"v1 result", AppendResponse(nil, true, jsontext.Value("1"), jsontext.Value(`"Hello JSON-RPC"`), nil), `{"result":"Hello JSON-RPC","error":null,"id":1}`},
		{"v1 error", AppendResponse(nil, true, jsontext.Value("1"), nil, ErrMethodNotFound), `{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(tt.got))
			env, err := ParseEnvelope(tt.got, 0)
			require.NoError(t, err)
			assert.Equal(t, tt.want, env.Msgs[0].String(), "round trip")
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
		`{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
		`{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`,
		`{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
		`[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]`,
		`[]`, `[1]`, `[1,2,3]`, `null`, `"x"`,
		`{"jsonrpc":"2.0","result":19,"id":1}`,
		`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":[1]},"id":"1"}`,
		`{"method": "echo", "params": ["Hello JSON-RPC"], "id": 1}`,
		`{"result": null, "error": {"code":1,"message":"x"}, "id": 1}`,
		`{"jsonrpc":"2.0","method":"rpc.callback","params":["f1",{"$fn":"f2"}],"id":9}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseEnvelope(b, 16)
		if err != nil {
			return
		}
		if len(env.Msgs) == 0 || len(env.Msgs) > 16 {
			t.Fatalf("bad message count %d", len(env.Msgs))
		}
		for i := range env.Msgs {
			m := &env.Msgs[i]
			if m.Kind == KindInvalid {
				if m.Invalid == nil {
					t.Fatal("invalid without reason")
				}
				continue
			}
			// Re-encoding a valid message must parse back to the same thing.
			out := m.String()
			env2, err := ParseEnvelope([]byte(out), 0)
			if err != nil {
				t.Fatalf("re-encoded %q does not parse: %v", out, err)
			}
			if got := env2.Msgs[0].String(); got != out {
				t.Fatalf("round trip %q -> %q", out, got)
			}
		}
	})
}
