package signaling

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileInput sends what a broken or hostile client might and checks
// each gets an error answer (or is dropped), the connection stays usable
// and nobody else notices.
func TestHostileInput(t *testing.T) {
	s, url := testServer(t, ServerOptions{})
	watcher, _ := joined(t, url, "watched", ClientOptions{})
	r := dialRaw(t, url)

	answered := []struct {
		name string
		in   string
		want string // a fragment of the answer
	}{
		{"not json", `{"jsonrpc":"2.0","id":1,"method":`, `"code":-32700`},
		{"unknown method", `{"jsonrpc":"2.0","id":2,"method":"signal.nope","params":{}}`, `"code":-32601`},
		{"private method", `{"jsonrpc":"2.0","id":3,"method":"_join","params":{}}`, `"code":-32601`},
		{"room of wrong type", `{"jsonrpc":"2.0","id":4,"method":"signal.join","params":{"room":5}}`, `"code":-32602`},
		{"params a string", `{"jsonrpc":"2.0","id":6,"method":"signal.join","params":"lobby"}`, `"error"`},
		{"too many params", `{"jsonrpc":"2.0","id":7,"method":"signal.join","params":[{"room":"a"},{"room":"b"}]}`, `"code":-32602`},
		{"missing room", `{"jsonrpc":"2.0","id":8,"method":"signal.join","params":{}}`, `"code":4000`},
		{"send before join", `{"jsonrpc":"2.0","id":9,"method":"signal.send","params":{"to":"x","payload":1}}`, `"code":4005`},
		{"send without payload", `{"jsonrpc":"2.0","id":10,"method":"signal.send","params":{"to":"x"}}`, `"code":4000`},
		{"payload wrong to", `{"jsonrpc":"2.0","id":11,"method":"signal.send","params":{"to":7,"payload":1}}`, `"code":-32602`},
		{"not an object", `42`, `"code":-32600`},
		// Unknown members are ignored (forward compatibility): this joins.
		{"unknown member", `{"jsonrpc":"2.0","id":5,"method":"signal.join","params":{"room":"x","admin":true}}`, `"result"`},
		{"empty batch", `[]`, `"code":-32600`},
	}
	for _, tt := range answered {
		t.Run(tt.name, func(t *testing.T) {
			r.send(t, tt.in)
			assert.Contains(t, r.mustRecv(t), tt.want)
		})
	}

	// Frames that are not binchannel messages are dropped; the connection
	// and its rpc stay usable.
	require.NoError(t, r.ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"t"}}`)))
	require.NoError(t, r.ws.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0, 1, 2, 3}))
	require.NoError(t, r.ws.WriteMessage(websocket.BinaryMessage, nil))
	r.send(t, `{"jsonrpc":"2.0","id":"last","method":"signal.join","params":{"room":"ok"}}`)
	assert.Contains(t, r.mustRecv(t), `"id":"last"`)

	// A notification with bad params gets no answer and changes nothing.
	r.send(t, `{"jsonrpc":"2.0","method":"signal.send","params":{"to":"`+strings.Repeat("z", 100)+`","payload":1}}`)
	r.send(t, `{"jsonrpc":"2.0","id":"after","method":"signal.leave"}`)
	assert.Contains(t, r.mustRecv(t), `"id":"after"`)

	assert.GreaterOrEqual(t, s.Stats().Errors["malformed"], uint64(2))
	select {
	case ev := <-watcher.Events():
		t.Fatalf("watcher saw %+v", ev)
	default:
	}
	stillWorks(t, url, "after-hostile")
}

// FuzzServerRequest feeds arbitrary JSON texts to a live server.
func FuzzServerRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"lobby"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"signal.send","params":{"to":"x","payload":{"sdp":"v=0"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"signal.leave"}`,
		`[{"jsonrpc":"2.0","id":4,"method":"signal.join","params":[{"room":"a","token":"x.y"}]}]`,
		`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"join"}]}`,
		`{"jsonrpc":"2.0","id":5,"result":{}}`,
	} {
		f.Add(s)
	}
	srv := NewServer(ServerOptions{Secret: []byte("k"), MessageRate: 1e6, MessageBurst: 1e6, SignalRate: 1e6, SignalBurst: 1e6})
	_, url := fuzzHTTP(f, srv)
	f.Fuzz(func(t *testing.T, in string) {
		r := dialRaw(t, url)
		r.send(t, in)
		r.send(t, `{"jsonrpc":"2.0","id":"probe","method":"signal.leave"}`)
		for {
			out, err := r.recv(t)
			require.NoError(t, err, "server closed on %q", in)
			if strings.Contains(out, `"id":"probe"`) {
				return
			}
		}
	})
}
