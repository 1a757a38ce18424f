package browser

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
)

// TestSmallMaxMessageSize connects the page to a Go peer that advertises
// a=max-message-size:65535 (PROTOCOL.md 5.4): the page's negotiated limit
// is 65535, no message it sends is larger (the Go peer would close the
// connection), and an upload of many messages arrives intact, as does a
// download.
func TestSmallMaxMessageSize(t *testing.T) {
	reg := rpc.NewRegistry()
	var gotSum atomic.Value
	require.NoError(t, reg.Register("upload", func(data []byte) string {
		s := sha(data)
		gotSum.Store(s)
		return s
	}))
	download := randomBytes(1<<20, 7)
	require.NoError(t, reg.Register("download", func() []byte { return download }))
	e := newEnvWith(t, peer.Options{MaxMessageSize: 65535, RPC: rpc.Options{Registry: reg}})
	ctx := e.tab(40 * time.Second)

	var res struct {
		MaxMessage int
		SCTPMax    int
		MaxSent    int
		MaxGot     int
		Sent       int
		Local      string
		Remote     string
		DownSum    string
	}
	// chunkSize Infinity: every message as large as the limit allows (the
	// client's default puts 32 KiB of binary in each).
	require.NoError(t, eval(ctx, `
window.pair = await peerd.connect({ room: "test", connectTimeout: 15000, chunkSize: Infinity });
const { remote } = pair;
const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
const out = { maxMessage: pair.maxMessageSize, sctpMax: pair.pc.sctp.maxMessageSize, maxSent: 0, maxGot: 0, sent: 0 };
const dc = pair.channel, send = dc.send.bind(dc);
dc.send = (m) => { out.sent++; out.maxSent = Math.max(out.maxSent, m.byteLength); send(m) };
dc.addEventListener("message", (ev) => { out.maxGot = Math.max(out.maxGot, ev.data.byteLength) });
const big = new Uint8Array(6 << 20);
for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
out.local = await hex(big);
out.remote = await remote.$with({ timeout: 30000 }).upload(big);
out.downSum = await hex(await peerd.toBytes(await remote.$with({ timeout: 30000 }).download()));
return out;
`, &res))
	assert.Equal(t, 65535, res.MaxMessage, "the page's negotiated maximum")
	assert.Equal(t, 65535, res.SCTPMax, "pc.sctp.maxMessageSize")
	assert.Equal(t, 65535, res.MaxSent, "messages fill the limit and never exceed it")
	assert.Greater(t, res.Sent, (6<<20)/65535, "the upload took many messages")
	assert.Equal(t, res.Local, res.Remote, "SHA-256 of the upload")
	assert.Equal(t, res.Local, gotSum.Load())
	assert.Equal(t, sha(download), res.DownSum)
	assert.LessOrEqual(t, res.MaxGot, 65535, "the Go peer keeps to its own cap")
	assert.Positive(t, res.MaxGot)

	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := e.conn(tctx)
	assert.Equal(t, 65535, c.MaxMessageSize(), "the Go side's limit")
	require.NoError(t, eval(ctx, `await pair.close()`, nil))
}
