package browser

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/peer/browser/browsertest"
)

// pageTab serves the test page and the client alone (no peers) and opens
// it in a tab.
func pageTab(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	br := browser(t)
	mux := http.NewServeMux()
	mux.Handle("/peerd.js", Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(testPage))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := br.Tab(timeout)
	t.Cleanup(cancel)
	require.NoError(t, browsertest.Open(ctx, srv.URL+"/", "window.peerdReady === true"))
	return ctx
}

// goMessages returns the messages the Go binchannel writes for p over a
// transport whose maximum message size is max, hex-encoded.
func goMessages(t *testing.T, p binchannel.Packet, max int) []string {
	t.Helper()
	a, b := binchannel.NewPipe(binchannel.PipeOptions{MaxMessageSize: max, Depth: 1024})
	ch := binchannel.New(a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ch.SendPacket(ctx, p))
	// Everything is written (the pipe holds it); after the close the
	// reader gets what was written, then an error.
	require.NoError(t, a.Close())
	var out []string
	for {
		parts, err := b.ReadMessage(ctx)
		if err != nil {
			require.NoError(t, ctx.Err())
			break
		}
		out = append(out, hex.EncodeToString(bytes.Join(parts, nil)))
	}
	return out
}

// jsHarness builds, in the page, a BinChannel over a fake transport that
// records what it sends (window.sent, hex) and what it receives
// (window.got, window.errs).
const jsHarness = `
const hex = (u8) => [...u8].map((b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
window.sent = []; window.got = []; window.errs = [];
const t = { maxMessageSize: MAX, send(m) { window.sent.push(hex(m)) }, close() {}, onmessage: null, onclose: null };
window.ch = new peerd.BinChannel(t, { onerror: (e) => window.errs.push(e.message) });
ch.onpacket = (p) => window.got.push({ json: p.json, bins: p.bins.map((b) => hex(b instanceof peerd.Chunks ? b.bytes() : b)), chunks: p.bins.map((b) => b instanceof peerd.Chunks ? b.chunks.length : 1) });
window.feed = (msgs) => { for (const m of msgs) t.onmessage(unhex(m)) };
`

func harness(max int) string {
	return "const MAX = " + strconv.Itoa(max) + ";\n" + jsHarness
}

// jsList renders strings as a JavaScript array literal.
func jsList(ss []string) string {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

// TestWireMatchesGo sends the same packets from JavaScript and from Go and
// compares the bytes, then feeds Go's bytes to the JavaScript receiver.
func TestWireMatchesGo(t *testing.T) {
	ctx := pageTab(t, 20*time.Second)
	cases := []struct {
		name string
		max  int
		json string
		bins []string // as JS string literals of bytes
		raw  [][]byte
	}{
		{"small", 1 << 20, `{"a":{"$bin":0}}`, []string{`"hi"`}, [][]byte{[]byte("hi")}},
		{"split", 30, `{"x":{"$bin":0},"y":7}`, []string{`"hello world"`}, [][]byte{[]byte("hello world")}},
		{"empty bins", 64, `[{"$bin":0},{"$bin":1}]`, []string{`""`, `"abc"`}, [][]byte{{}, []byte("abc")}},
		{"no bins", 64, `[]`, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := binchannel.Packet{JSON: []byte(tc.json)}
			for _, r := range tc.raw {
				p.Bins = append(p.Bins, binchannel.BytesBinary(r))
			}
			want := goMessages(t, p, tc.max)
			bins := "["
			for i, b := range tc.bins {
				if i > 0 {
					bins += ","
				}
				bins += "new TextEncoder().encode(" + b + ")"
			}
			bins += "]"
			var res struct {
				Sent []string
				Got  []struct {
					JSON string
					Bins []string
				}
				Errs []string
			}
			require.NoError(t, browsertest.Eval(ctx, harness(tc.max)+`
await ch.sendPacket(`+"`"+tc.json+"`"+`, `+bins+`);
feed(window.sent);
return { sent: window.sent, got: window.got, errs: window.errs };
`, &res))
			// JS numbers its first packet 1, as Go does.
			assert.Equal(t, want, res.Sent)
			require.Len(t, res.Got, 1)
			assert.Equal(t, tc.json, res.Got[0].JSON)
			for i, r := range tc.raw {
				assert.Equal(t, hex.EncodeToString(r), res.Got[0].Bins[i])
			}
			assert.Empty(t, res.Errs)
		})
	}
}

// TestWireHostile feeds the JavaScript receiver malformed and hostile
// messages: each is reported, none throws, and a valid packet after them
// still arrives.
func TestWireHostile(t *testing.T) {
	ctx := pageTab(t, 20*time.Second)
	valid := goMessages(t, binchannel.Packet{JSON: []byte(`{"ok":{"$bin":0}}`), Bins: []binchannel.Binary{binchannel.BytesBinary([]byte("fine"))}}, 1<<20)
	hostile := []string{
		"",                                 // empty
		"01000000",                         // truncated OPEN
		"07000000010000",                   // unknown kind
		"0200000063" + "00000000" + "7b7d", // JSON for unknown packet
		"03000000630000000000000000000000020000000000000000" + "6869", // BIN for unknown packet
		"0100000064" + "00000000" + "ffffffff",                        // skeleton claims 4 GiB
		"0100000065" + "00000001" + "00000002" + "7b7d" + // OPEN then a binary claiming 2^60 bytes
			"|" + "0300000065" + "00000000" + "1000000000000000" + "0000000000000000" + "00",
		"0100000066" + "00000001" + "00000002" + "7b7d" + // OPEN, then BIN out of order (offset 5)
			"|" + "0300000066" + "00000000" + "0000000000000010" + "0000000000000005" + "00",
		"0100000067" + "00000002" + "00000002" + "7b7d" + // OPEN with 2 bins, BIN index 1 first
			"|" + "0300000067" + "00000001" + "0000000000000001" + "0000000000000000" + "00",
		"0100000068" + "00000000" + "00000004" + "7b7d" + // skeleton continued at the wrong offset
			"|" + "0200000068" + "00000003" + "7b7d",
		"0100000069" + "00000000" + "00000001" + "7b7d",            // more skeleton than declared
		"010000006a" + "00000001" + "00000002" + "7b7d" + "78797a", // a binary packet's skeleton, then bytes that are no BIN frame
		"010000006b" + "00000001" + "00000002" + "7b7d" + // a BIN frame of another packet after the skeleton
			"030000006c" + "00000000" + "0000000000000001" + "0000000000000000" + "00",
		"010000006d" + "00000001" + "00000002" + "7b7d" + // a BIN frame with more bytes than its total
			"030000006d" + "00000000" + "0000000000000001" + "0000000000000000" + "0000",
	}
	var res struct {
		Got []struct {
			JSON string
			Bins []string
		}
		Errs   []string
		Thrown string
	}
	list, validList := jsList(hostile), jsList(valid)
	require.NoError(t, browsertest.Eval(ctx, harness(1<<20)+`
let thrown = "";
try {
  for (const h of `+list+`) feed(h.split("|"));
  feed(`+validList+`);
} catch (e) { thrown = String(e) }
return { got: window.got, errs: window.errs, thrown };
`, &res))
	assert.Empty(t, res.Thrown)
	require.Len(t, res.Got, 1, "errors: %v", res.Errs)
	assert.Equal(t, `{"ok":{"$bin":0}}`, res.Got[0].JSON)
	assert.Equal(t, hex.EncodeToString([]byte("fine")), res.Got[0].Bins[0])
	assert.GreaterOrEqual(t, len(res.Errs), len(hostile), "every hostile input reported: %v", res.Errs)
}

// TestWireChunkedReceive gives the receiver a binary in many messages:
// it arrives as Chunks of views, or as one buffer with assemble.
func TestWireChunkedReceive(t *testing.T) {
	ctx := pageTab(t, 20*time.Second)
	data := bytes.Repeat([]byte("0123456789"), 100)
	msgs := goMessages(t, binchannel.Packet{JSON: []byte(`{"$bin":0}`), Bins: []binchannel.Binary{binchannel.BytesBinary(data)}}, 125)
	list := jsList(msgs)
	var res struct {
		Got []struct {
			JSON   string
			Bins   []string
			Chunks []int
		}
		Errs []string
	}
	require.NoError(t, browsertest.Eval(ctx, harness(125)+`
feed(`+list+`);
return { got: window.got, errs: window.errs };
`, &res))
	require.Len(t, res.Got, 1, "%v", res.Errs)
	assert.Equal(t, hex.EncodeToString(data), res.Got[0].Bins[0])
	// Every message carries a chunk: the first rides in the OPEN message.
	assert.Equal(t, len(msgs), res.Got[0].Chunks[0])
}

// TestRPCHostile feeds the page's RpcConn hostile envelopes through a fake
// channel: each gets the right error (or none for notifications), private
// and inherited names are never callable, and nothing pollutes prototypes.
func TestRPCHostile(t *testing.T) {
	ctx := pageTab(t, 20*time.Second)
	var res struct {
		Replies  []json.RawMessage
		Thrown   string
		Polluted bool
		Errors   int
	}
	require.NoError(t, browsertest.Eval(ctx, `
const sent = [];
const fake = { onpacket: null, onclose: null, sendPacket(json, bins) { sent.push(JSON.parse(json)); return Promise.resolve() }, close() {} };
let errors = 0;
const local = { echo: (x) => x, a: { _secret: () => "leak", ok: () => "fine" } };
const conn = new peerd.RpcConn(fake, { local, onerror: () => errors++ });
const feed = (json, bins = []) => fake.onpacket({ json, bins });
let thrown = "";
try {
  feed("not json");
  feed("[]");
  feed('{"jsonrpc":"2.0"}');
  feed('{"jsonrpc":"2.0","id":1,"method":"__proto__"}');
  feed('{"jsonrpc":"2.0","id":2,"method":"constructor"}');
  feed('{"jsonrpc":"2.0","id":3,"method":"toString"}');
  feed('{"jsonrpc":"2.0","id":4,"method":"a._secret"}');
  feed('{"jsonrpc":"2.0","id":5,"method":"rpc.callback","params":["nope"]}');
  feed('{"jsonrpc":"2.0","id":6,"method":"echo","params":[{"$bin":3}]}');
  feed('{"jsonrpc":"2.0","id":7,"method":"echo","params":{"__proto__":{"polluted":true}}}');
  feed('{"jsonrpc":"2.0","id":8,"method":"echo","params":[' + "[".repeat(5000) + "]".repeat(5000) + ']}');
  feed('{"jsonrpc":"2.0","result":1,"id":999}');
  feed('{"jsonrpc":"2.0","method":"echo","params":[1]}');
  feed('[{"jsonrpc":"2.0","id":9,"method":"a.ok"},{"jsonrpc":"2.0","method":"echo"},5]');
  feed('{"jsonrpc":"2.0","id":10,"method":"echo","params":"str"}');
} catch (e) { thrown = String(e) }
for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
return { replies: sent, thrown, polluted: ({}).polluted === true, errors };
`, &res))
	assert.Empty(t, res.Thrown)
	assert.False(t, res.Polluted)
	codes := map[string]float64{} // id -> error code (0: a result)
	var nullErrors []float64      // error codes answered with id null
	var batch []map[string]any
	add := func(r map[string]any) {
		var c float64
		if e, ok := r["error"].(map[string]any); ok {
			c, _ = e["code"].(float64)
		}
		if r["id"] == nil {
			nullErrors = append(nullErrors, c)
			return
		}
		codes[fmtID(r["id"])] = c
	}
	for _, raw := range res.Replies {
		var one map[string]any
		if json.Unmarshal(raw, &one) == nil {
			add(one)
			continue
		}
		require.NoError(t, json.Unmarshal(raw, &batch))
		for _, r := range batch {
			add(r)
		}
	}
	for id, want := range map[string]float64{
		"1": -32601, "2": -32601, "3": -32601, "4": -32601, // prototype and private names
		"5":  -32003, // unknown function handle
		"6":  -32602, // placeholder naming a missing binary
		"7":  0,      // named params: answered with a result
		"8":  -32602, // nesting over the limit
		"9":  0,      // batch member
		"10": -32600, // params neither array nor object
	} {
		got, ok := codes[id]
		if assert.True(t, ok, "no reply for id %s", id) {
			assert.Equal(t, want, got, "id %s", id)
		}
	}
	assert.NotContains(t, codes, "999", "a response is never answered")
	assert.Len(t, batch, 2, "batch: one result, one error, nothing for the notification")
	// not JSON, empty batch, no method, the batch's bare 5
	assert.Equal(t, []float64{-32700, -32600, -32600, -32600}, nullErrors)
	assert.Positive(t, res.Errors)
}

func fmtID(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRPCEvicted checks the pending bound on a fake channel (PROTOCOL.md
// 3.9 and 4.6). As owner: the oldest stored function is dropped, the peer
// is told with rpc.evicted before the message that caused it, and a call
// to it is answered -32004 while the live one runs; the oldest waiting
// call fails locally and the peer is sent rpc.cancel. As holder:
// rpc.evicted drops handles, also one whose placeholder arrives after it,
// and unbinding such a handle sends nothing.
func TestRPCEvicted(t *testing.T) {
	ctx := pageTab(t, 20*time.Second)
	var res struct {
		Codes     []any
		Order     []string
		Cancelled []any
		CallErr   string
		Holder    struct {
			Before, After    int
			Evicted, Late    bool
			LateHandles      int
			Unbinds          []string
			CalledAfter      string
			EvictedCallReply any
		}
	}
	require.NoError(t, browsertest.Eval(ctx, `
const channel = () => {
  const sent = [];
  const fake = { sent, onpacket: null, onclose: null, sendPacket(json) { sent.push(JSON.parse(json)); return Promise.resolve() }, close() {} };
  fake.feed = (m) => fake.onpacket({ json: JSON.stringify(m), bins: [] });
  return fake;
};
const ticks = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0)) };
const out = {};

// Owner of functions.
let fake = channel();
let conn = new peerd.RpcConn(fake, { maxPending: 2 });
for (let i = 0; i < 3; i++) conn.notify("take", [() => i]);
out.order = fake.sent.map((m) => m.method + ":" + (m.method === "take" ? m.params[0].$fn : m.params.join(",")));
const fns = fake.sent.filter((m) => m.method === "take").map((m) => m.params[0].$fn);
fake.feed({ jsonrpc: "2.0", method: "rpc.callback", params: [fns[0]], id: 1 });
fake.feed({ jsonrpc: "2.0", method: "rpc.callback", params: [fns[2]], id: 2 });
fake.feed({ jsonrpc: "2.0", method: "rpc.callback", params: ["999"], id: 3 });
await ticks();
const byId = Object.fromEntries(fake.sent.filter((m) => m.id).map((m) => [m.id, m.error ? m.error.code : m.result]));
out.codes = [byId[1], byId[2], byId[3]];

// Waiting calls.
fake = channel();
conn = new peerd.RpcConn(fake, { maxPending: 1 });
const first = conn.call("slow").then(() => "resolved", (e) => e.name + ": " + e.message);
conn.call("slow").catch(() => {});
out.callErr = await first;
out.cancelled = fake.sent.filter((m) => m.method === "rpc.cancel").map((m) => m.params[0]);

// Holder of handles.
fake = channel();
conn = new peerd.RpcConn(fake, { local: { hold: (f) => { f.keep(); window.held = f } } });
const h = {};
const r = conn.call("get");
fake.feed({ jsonrpc: "2.0", result: { $fn: "5" }, id: fake.sent[0].id });
const f5 = await r;
fake.feed({ jsonrpc: "2.0", method: "hold", params: [{ $fn: "6" }], id: 1 });
await ticks();
h.before = conn.stats().handles;
fake.feed({ jsonrpc: "2.0", method: "rpc.evicted", params: ["5", "6", "7"] });
h.after = conn.stats().handles;
h.evicted = f5.evicted && window.held.evicted;
const r2 = conn.call("get");
fake.feed({ jsonrpc: "2.0", result: { $fn: "7" }, id: fake.sent.at(-1).id });
const f7 = await r2;
h.late = f7.evicted;
h.lateHandles = conn.stats().handles;
const c5 = f5(1);
h.calledAfter = fake.sent.at(-1).method + ":" + fake.sent.at(-1).params[0];
fake.feed({ jsonrpc: "2.0", error: { code: -32004, message: "Function handle evicted: 5" }, id: fake.sent.at(-1).id });
h.evictedCallReply = await c5.then(() => null, (e) => e.code);
await f5.unbind();
await f7.unbind();
h.unbinds = fake.sent.filter((m) => m.method === "rpc.unbind").flatMap((m) => m.params);
out.holder = h;
return out;
`, &res))
	assert.Equal(t, []any{float64(-32004), float64(2), float64(-32003)}, res.Codes)
	require.Len(t, res.Order, 4)
	assert.Regexp(t, `^take:\d+$`, res.Order[0])
	assert.Regexp(t, `^take:\d+$`, res.Order[1])
	assert.Equal(t, "rpc.evicted:"+res.Order[0][len("take:"):], res.Order[2], "announced before the message that evicted it")
	assert.Regexp(t, `^take:\d+$`, res.Order[3])
	assert.Regexp(t, `^PeerdError: peerd: slow: evicted`, res.CallErr)
	require.Len(t, res.Cancelled, 1, "the evicted call is cancelled at the peer")
	h := res.Holder
	assert.Equal(t, 2, h.Before)
	assert.Equal(t, 0, h.After)
	assert.True(t, h.Evicted)
	assert.True(t, h.Late, "an id evicted before its placeholder arrived")
	assert.Equal(t, 0, h.LateHandles)
	assert.Empty(t, h.Unbinds, "nothing to unbind: the owner dropped them")
	assert.Equal(t, "rpc.callback:5", h.CalledAfter, "calls still go to the owner")
	assert.Equal(t, float64(-32004), h.EvictedCallReply)
}

// TestWireFuzz mutates valid messages at random (bytes flipped, cut,
// duplicated, reordered) and feeds them to the page's BinChannel and
// RpcConn: nothing throws, bounded state stays bounded, and a valid call
// afterwards is still answered.
func TestWireFuzz(t *testing.T) {
	ctx := pageTab(t, 30*time.Second)
	var seeds []string
	for _, p := range []binchannel.Packet{
		{JSON: []byte(`{"jsonrpc":"2.0","method":"echo","params":[{"$bin":0},{"$fn":"1"}],"id":1}`), Bins: []binchannel.Binary{binchannel.BytesBinary(bytes.Repeat([]byte("ab"), 100))}},
		{JSON: []byte(`[{"jsonrpc":"2.0","method":"echo","params":{"x":[1,2,{"$bin":1}]},"id":"s"},{"jsonrpc":"2.0","method":"rpc.cancel","params":[1]}]`),
			Bins: []binchannel.Binary{binchannel.BytesBinary(nil), binchannel.BytesBinary([]byte("xyz"))}},
		{JSON: []byte(`{"jsonrpc":"2.0","result":{"$fn":"7"},"id":3}`)},
	} {
		seeds = append(seeds, goMessages(t, p, 40)...)
	}
	var res struct {
		Thrown  string
		Errors  int
		Pending int
		Answer  any
	}
	require.NoError(t, browsertest.Eval(ctx, `
const unhex = (s) => new Uint8Array(s.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
const seeds = `+jsList(seeds)+`.map(unhex);
let x = 0x2545f491;
const rnd = (n) => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n };
const sent = [];
let errors = 0;
const t = { maxMessageSize: 1 << 20, send(m) { sent.push(m.slice()) }, close() {}, onmessage: null, onclose: null };
const ch = new peerd.BinChannel(t, { onerror: () => errors++, maxPendingPackets: 8, maxPendingBytes: 1 << 16 });
const conn = new peerd.RpcConn(ch, { local: { echo: (...a) => a }, onerror: () => errors++ });
let thrown = "";
try {
  for (let i = 0; i < 3000; i++) {
    let m = seeds[rnd(seeds.length)].slice();
    switch (rnd(5)) {
      case 0: for (let k = 0; k < 1 + rnd(4); k++) m[rnd(m.length)] = rnd(256); break;
      case 1: m = m.subarray(0, rnd(m.length + 1)); break;
      case 2: m[1 + rnd(4)] = rnd(3); break; // packet ids collide
      case 3: m = new Uint8Array([...m, ...m.subarray(0, rnd(m.length))]); break;
      default: break;
    }
    t.onmessage(m);
  }
} catch (e) { thrown = String(e) }
// A clean call after the storm, with a fresh packet id.
const js = new TextEncoder().encode('{"jsonrpc":"2.0","method":"echo","params":[42],"id":"last"}');
const open = new Uint8Array(13 + js.length);
const dv = new DataView(open.buffer);
dv.setUint8(0, 1); dv.setUint32(1, 0xfffffff0); dv.setUint32(5, 0); dv.setUint32(9, js.length);
open.set(js, 13);
t.onmessage(open);
for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 0));
const dec = new TextDecoder();
let answer = null;
for (const m of sent) {
  if (m[0] !== 1) continue;
  const text = dec.decode(m.subarray(13));
  if (text.includes('"last"')) answer = JSON.parse(text).result;
}
return { thrown, errors, pending: ch._pending.size, answer };
`, &res))
	assert.Empty(t, res.Thrown)
	assert.Positive(t, res.Errors)
	assert.LessOrEqual(t, res.Pending, 8)
	assert.Equal(t, []any{42.0}, res.Answer)
}
