package signaling

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var peerIDPattern = regexp.MustCompile(`"(id|peer)":"[A-Za-z0-9_-]{16}"`)

// TestWireGolden pins the exchange documented in PROTOCOL.md section 6
// (peer ids, which are random, replaced by their role in the story).
func TestWireGolden(t *testing.T) {
	s, url := testServer(t, ServerOptions{})
	a := dialRaw(t, url)
	b := dialRaw(t, url)
	names := map[string]string{}
	norm := func(js string) string {
		return peerIDPattern.ReplaceAllStringFunc(js, func(m string) string {
			key, val, _ := strings.Cut(m, ":")
			if names[val] == "" {
				names[val] = []string{`"ALICE-PEER-ID..."`, `"BOB-PEER-ID....."`}[len(names)]
			}
			return key + ":" + names[val]
		})
	}
	exchange := []struct {
		who  *rawConn
		send string // empty: only receive
		want string
	}{
		{a, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":{"room":"lobby"}}`,
			`{"jsonrpc":"2.0","result":{"id":"ALICE-PEER-ID...","room":"lobby","role":"publisher","peers":[]},"id":1}`},
		{b, `{"jsonrpc":"2.0","id":1,"method":"signal.join","params":[{"room":"lobby","role":"subscriber"}]}`,
			`{"jsonrpc":"2.0","result":{"id":"BOB-PEER-ID.....","room":"lobby","role":"subscriber","peers":[{"id":"ALICE-PEER-ID...","role":"publisher"}]},"id":1}`},
		{a, "",
			`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"join","seq":1,"peer":"BOB-PEER-ID.....","role":"subscriber"}]}`},
		{b, `{"jsonrpc":"2.0","id":2,"method":"signal.send","params":{"to":"ALICE-PEER-ID...","payload":{"type":"offer","sdp":"v=0\r\n"}}}`,
			`{"jsonrpc":"2.0","result":null,"id":2}`},
		{a, "",
			`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"signal","seq":2,"peer":"BOB-PEER-ID.....","payload":{"type":"offer","sdp":"v=0\r\n"}}]}`},
		{b, `{"jsonrpc":"2.0","id":3,"method":"signal.send","params":{"to":"nobody","payload":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"}}}`,
			`{"jsonrpc":"2.0","error":{"code":4004,"message":"signaling: unknown peer: \"nobody\" is not in room \"lobby\"","data":{"kind":"unknown_peer"}},"id":3}`},
		{b, `{"jsonrpc":"2.0","id":4,"method":"signal.leave"}`,
			`{"jsonrpc":"2.0","result":null,"id":4}`},
		{a, "",
			`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"leave","seq":3,"peer":"BOB-PEER-ID.....","reason":"left"}]}`},
	}
	for i, step := range exchange {
		if step.send != "" {
			in := step.send
			for real, name := range names {
				in = strings.ReplaceAll(in, name[1:len(name)-1], real[1:len(real)-1])
			}
			step.who.send(t, in)
		}
		assert.Equal(t, step.want, norm(step.who.mustRecv(t)), "step %d", i)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	require.Equal(t, `{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"shutdown","seq":4}]}`, a.mustRecv(t))
	assert.Error(t, a.waitClosed(t))
}
