package signaling

import (
	"testing"
)

func TestWireExchange(t *testing.T) {
	_, url := testServer(t, ServerOptions{})
	a := dialRaw(t, url)
	a.send(t, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"lobby"}}`)
	t.Log(a.mustRecv(t))
	b := dialRaw(t, url)
	b.send(t, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":[{"room":"lobby","role":"subscriber"}]}`)
	t.Log(b.mustRecv(t))
	t.Log(a.mustRecv(t))
	b.send(t, `{"jsonrpc":"2.0","id":2,"method":"signal.send","params":{"to":"nobody","payload":{"type":"offer","sdp":"v=0\r\n"}}}`)
	t.Log(b.mustRecv(t))
	b.send(t, `{"jsonrpc":"2.0","id":3,"method":"signal.leave"}`)
	t.Log(b.mustRecv(t))
	t.Log(a.mustRecv(t))
}
