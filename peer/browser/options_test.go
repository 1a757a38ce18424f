package browser

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// declInterface is one interface of peerd.d.ts: the names of its members
// and what it extends.
type declInterface struct {
	members []string
	extends string
}

var (
	interfaceRe = regexp.MustCompile(`(?ms)^export interface (\w+)(?: extends ([^{]+))? \{\n(.*?)^\}`)
	memberRe    = regexp.MustCompile(`(?m)^  (?:readonly )?(\w+)\??:`)
	omitRe      = regexp.MustCompile(`^Omit<(\w+), (.+)>$`)
)

// declaredInterfaces parses the interfaces of peerd.d.ts.
func declaredInterfaces(t *testing.T) map[string]declInterface {
	t.Helper()
	out := map[string]declInterface{}
	for _, m := range interfaceRe.FindAllStringSubmatch(string(Types()), -1) {
		var names []string
		for _, mm := range memberRe.FindAllStringSubmatch(m[3], -1) {
			names = append(names, mm[1])
		}
		out[m[1]] = declInterface{members: names, extends: strings.TrimSpace(m[2])}
	}
	require.NotEmpty(t, out, "no interfaces found in peerd.d.ts")
	return out
}

// optionNames lists the members of interface name, with those of the
// interfaces it extends (Omit<X, "a" | "b"> leaves a and b out).
func optionNames(t *testing.T, decls map[string]declInterface, name string) []string {
	t.Helper()
	d, ok := decls[name]
	require.True(t, ok, "interface %s not declared in peerd.d.ts", name)
	names := slices.Clone(d.members)
	for _, base := range splitExtends(d.extends) {
		var omit []string
		if m := omitRe.FindStringSubmatch(base); m != nil {
			base = m[1]
			for _, s := range strings.Split(m[2], "|") {
				omit = append(omit, strings.Trim(strings.TrimSpace(s), `"`))
			}
		}
		for _, n := range optionNames(t, decls, base) {
			if !slices.Contains(omit, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// splitExtends splits "A, Omit<B, "x">" at the commas outside angle
// brackets.
func splitExtends(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// jsBody returns the source of the function, method or class of peerd.js
// whose definition starts with head (at the start of a line, indented as
// it is), up to the closing brace at the same indentation.
func jsBody(t *testing.T, head string) string {
	t.Helper()
	js := string(Script())
	i := strings.Index(js, "\n"+head)
	require.GreaterOrEqual(t, i, 0, "%q not found in peerd.js", head)
	indent := head[:len(head)-len(strings.TrimLeft(head, " "))]
	n := strings.Index(js[i+1:], "\n"+indent+"}\n")
	require.GreaterOrEqual(t, n, 0, "no end of %q in peerd.js", head)
	return js[i+1 : i+1+n+len(indent)+2]
}

// jsParams returns a function's source up to the end of its parameters.
func jsParams(body string) string {
	params, _, _ := strings.Cut(body, ") {")
	return params
}

// TestDeclaredOptionsRead checks every option that peerd.d.ts declares
// against the code of peerd.js that receives it: each name must be read
// there (o.name, destructured, or listed among the keys copied), so an
// option cannot be declared and then ignored, as maxPending once was by
// connect and listen.
func TestDeclaredOptionsRead(t *testing.T) {
	decls := declaredInterfaces(t)
	peerCode := ""
	for _, head := range []string{"function peerOptions(", "function pairOver(", "async function openSignaling(", "export async function connect(", "export async function listen("} {
		peerCode += jsBody(t, head)
	}
	readers := []struct {
		iface string
		code  string
		read  func(name string) string // a regexp matching a read of name
	}{
		// connect and listen read the options object o.
		{"ConnectOptions", peerCode, func(n string) string { return `\bo\.` + n + `\b|"` + n + `"` }},
		{"ListenOptions", peerCode, func(n string) string { return `\bo\.` + n + `\b|"` + n + `"` }},
		{"RpcOptions", jsParams(jsBody(t, "  constructor(channel, {")), func(n string) string { return `\b` + n + ` =` }},
		{"CallOptions", jsBody(t, "  call(method, params = [], opts = {})"), func(n string) string { return `\bopts\.` + n + `\b` }},
		{"BinChannelOptions", jsBody(t, "export class BinChannel {"), func(n string) string { return `\b(o|options)\.` + n + `\b` }},
	}
	for _, r := range readers {
		names := optionNames(t, decls, r.iface)
		require.NotEmpty(t, names, r.iface)
		for _, n := range names {
			assert.True(t, regexp.MustCompile(r.read(n)).MatchString(r.code), "%s.%s is declared in peerd.d.ts but not read by peerd.js", r.iface, n)
		}
	}

	// Options declared inline, as "o?: { ... }" of a function.
	inline := regexp.MustCompile(`(?m)^(?:export function|  static|  ) ?(\w+)\([^;{]*?\bo\?: \{([^}]*)\}`)
	found := 0
	for _, m := range inline.FindAllStringSubmatch(string(Types()), -1) {
		fn := m[1]
		var head string
		switch fn {
		case "dataChannelTransport", "webSocketTransport":
			head = "export function " + fn + "("
		case "connect":
			head = "  static async connect("
		case "join":
			head = "  async join("
		default:
			t.Errorf("inline options of %s: no reader known to this test", fn)
			continue
		}
		body := jsBody(t, head)
		params := jsParams(body)
		for _, mm := range regexp.MustCompile(`(\w+)\?:`).FindAllStringSubmatch(m[2], -1) {
			found++
			assert.True(t, regexp.MustCompile(`[{,]\s*`+mm[1]+`\b`).MatchString(params), "%s option %s is declared in peerd.d.ts but not read by peerd.js", fn, mm[1])
		}
	}
	assert.Positive(t, found, "no inline options found in peerd.d.ts")
}

// notObservedInBrowser lists the connect and listen options that
// TestPeerOptions does not observe, and why; every other declared option
// must be observed there.
var notObservedInBrowser = map[string]string{
	"drainTimeout":      "needs a peer that stops reading so that data stays queued",
	"disconnectTimeout": "needs ICE to lose its path without either side closing",
}

// TestPeerOptions passes every option of connect and listen that
// peerd.d.ts declares and observes what each does, against the Go peer
// where it takes one and between two peers of the page otherwise.
func TestPeerOptions(t *testing.T) {
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("block", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	require.NoError(t, reg.Register("hold", func(ctx context.Context, f *rpc.Func) error { return f.Keep(ctx) }))
	require.NoError(t, reg.Register("poke", func(ctx context.Context) error {
		return rpc.ConnFromContext(ctx).Notify(ctx, "page.boom")
	}))
	download := randomBytes(600<<10, 3) // three messages
	require.NoError(t, reg.Register("download", func() []byte { return download }))
	require.NoError(t, reg.Register("sink", func(b []byte) int { return len(b) }))
	e := newEnv(t, reg)

	// A signaling server that wants tokens.
	secret := []byte("options test secret")
	tokSig := signaling.NewServer(signaling.ServerOptions{Secret: secret})
	tokSrv := httptest.NewServer(tokSig)
	t.Cleanup(func() {
		_ = tokSig.Close()
		tokSrv.Close()
	})
	pubTok, err := signaling.NewToken(secret, "tok", signaling.RolePublisher, time.Minute)
	require.NoError(t, err)
	subTok, err := signaling.NewToken(secret, "tok", signaling.RoleSubscriber, time.Minute)
	require.NoError(t, err)

	// A signaling address that accepts TCP connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held sync.WaitGroup
	held.Add(1)
	go func() {
		defer held.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = silent.Close()
		held.Wait()
	})

	ctx := e.tab(60 * time.Second)
	var seen map[string]bool
	require.NoError(t, eval(ctx, `
const TOK_URL = `+jsString("ws"+strings.TrimPrefix(tokSrv.URL, "http")+"/")+`;
const PUB = `+jsString(pubTok)+`, SUB = `+jsString(subTok)+`;
const SILENT = `+jsString("ws://"+silent.Addr().String()+"/signal")+`;
const out = {};
const settle = (p) => p.then((v) => ({ ok: true, v }), (e) => ({ ok: false, name: e.name, msg: String(e.message) }));
const firstError = () => { let fn; const p = new Promise((r) => (fn = (e) => r(String(e.message)))); return { p, fn } };
const watch = (pair) => {
  const dc = pair.channel, send = dc.send.bind(dc), w = { max: 0, queued: 0, n: 0 };
  dc.send = (m) => { w.n++; w.max = Math.max(w.max, m.byteLength); w.queued = Math.max(w.queued, dc.bufferedAmount); send(m) };
  return w;
};
const sigURL = location.origin.replace(/^http/, "ws") + "/signal";

{ // The rpc options, against the Go peer.
  const err = firstError();
  const p = await peerd.connect({ signaling: sigURL, room: "test", role: "publisher", connectTimeout: 15000,
    local: { page: { boom() { throw new Error("boom from the page") } } }, onerror: err.fn,
    timeout: 300, maxPending: 2, assemble: true });
  out.signaling = p.signaling.ws.url === sigURL;
  out.room = p.signaling.room === "test";
  out.role = p.signaling.role === "publisher";
  out.connectTimeout = true; // also below: a connect that times out
  const r = p.remote.$with({ timeout: 10000 }); // calls that must not time out
  await r.poke();
  const msg = await err.p;
  out.local = out.onerror = msg === "boom from the page";
  out.timeout = (await settle(p.remote.block())).name === "TimeoutError";
  for (let i = 0; i < 3; i++) await r.hold(() => i);
  const s = p.conn.stats();
  out.maxPending = s.callbacks + s.waiting <= 2; // 3 kept functions without the bound
  const d = await r.download();
  out.assemble = d instanceof Uint8Array && d.length === 600 << 10;
  await p.close();
}
{ // Message size and backpressure.
  const p = await peerd.connect({ room: "test", maxMessageSize: 65536, chunkSize: Infinity, high: 300000, low: 100000 });
  const w = watch(p);
  const n = await p.remote.sink(new Uint8Array(4 << 20));
  out.maxMessageSize = p.maxMessageSize === 65536 && w.max === 65536 && n === 4 << 20;
  out.high = w.queued <= 300000 && w.queued > 100000;
  out.low = p.channel.bufferedAmountLowThreshold === 100000;
  await p.close();
}
{
  const p = await peerd.connect({ room: "test", chunkSize: 20000 });
  const w = watch(p);
  const n = await p.remote.sink(new Uint8Array(100000));
  out.chunkSize = n === 100000 && w.max > 20000 && w.max < 20200 && w.n >= 5;
  await p.close();
  // The default: 32 KiB of binary per message, below the 256 KiB limit.
  const q = await peerd.connect({ room: "test" });
  const wq = watch(q);
  const m = await q.remote.sink(new Uint8Array(1 << 20));
  out.chunkSize &&= m === 1 << 20 && q.maxMessageSize === 256 << 10 && wq.max > 32 << 10 && wq.max < (32 << 10) + 200 && wq.n >= 32;
  await q.close();
}
{
  const p = await peerd.connect({ room: "test", maxPacketSize: 1000 });
  const big = await settle(p.remote.sink(new Uint8Array(2000)));
  const small = await settle(p.remote.sink(new Uint8Array(100)));
  out.maxPacketSize = !big.ok && big.msg.includes("exceeds 1000") && small.ok;
  await p.close();
}
for (const [name, o, want] of [["maxPendingBytes", { maxPendingBytes: 50000 }, "pending bytes over the limit"], ["maxPendingPackets", { maxPendingPackets: 0 }, "too many pending packets"]]) {
  const err = firstError();
  const p = await peerd.connect({ room: "test", onerror: err.fn, ...o });
  const call = settle(p.remote.download());
  out[name] = (await err.p).includes(want);
  await p.close();
  await call;
}
{ // A raw listener sends half a packet: the connecting side drops it after pendingTTL.
  let accept;
  const accepted = new Promise((r) => (accept = r));
  const ln = await peerd.listen({ room: "opts-raw", raw: true, onconnection: accept });
  const err = firstError();
  const p = await peerd.connect({ room: "opts-raw", pendingTTL: 200, onerror: err.fn });
  const link = await accepted;
  out.onconnection = true;
  out.raw = !("remote" in link) && link.channel.readyState === "open";
  const m = new Uint8Array(15), dv = new DataView(m.buffer);
  dv.setUint8(0, 1); dv.setUint32(1, 7); dv.setUint32(5, 1); dv.setUint32(9, 2); m.set([123, 125], 13); // OPEN: one binary to come
  link.channel.send(m);
  out.pendingTTL = (await err.p).includes("packet 7: expired");
  await p.close();
  ln.close();
}
{ // Nested functions between two peers of the page that both enable them.
  const ln = await peerd.listen({ room: "opts-nested", nestedFuncs: true, local: { apply: (o) => o.f(2) } });
  const p = await peerd.connect({ room: "opts-nested", nestedFuncs: true });
  out.nestedFuncs = (await p.remote.apply({ f: (x) => x * 21 })) === 42;
  await p.close();
  ln.close();
}
{ // Two listeners of the page: dial the second by id, on another label.
  const a = await peerd.listen({ room: "opts-pick", label: "custom", local: { who: () => "a" } });
  const b = await peerd.listen({ room: "opts-pick", label: "custom", local: { who: () => "b" } });
  const p = await peerd.connect({ room: "opts-pick", label: "custom", peer: b.id });
  out.peer = p.peer === b.id && (await p.remote.who()) === "b";
  out.label = p.channel.label === "custom";
  await p.close();
  a.close();
  b.close();
}
{
  const p = await peerd.connect({ room: "test", iceServers: [{ urls: "stun:127.0.0.1:9" }], rtcConfig: { bundlePolicy: "max-bundle" } });
  const c = p.pc.getConfiguration();
  out.iceServers = c.iceServers.length === 1 && [c.iceServers[0].urls].flat()[0] === "stun:127.0.0.1:9";
  out.rtcConfig = c.bundlePolicy === "max-bundle";
  await p.close();
}
{
  const r = await settle(peerd.connect({ room: "opts-nobody", connectTimeout: 300 }));
  out.connectTimeout &&= r.name === "TimeoutError" && r.msg.includes("300 ms");
  const s = await settle(peerd.connect({ signaling: SILENT, signalingTimeout: 300, connectTimeout: 10000 }));
  out.signalingTimeout = s.name === "TimeoutError" && s.msg.includes("signaling connect timed out after 300 ms");
}
{ // Tokens: the server grants the roles the tokens name; without one it refuses.
  const ln = await peerd.listen({ signaling: TOK_URL, room: "tok", token: PUB, local: { hi: () => "hi" } });
  const p = await peerd.connect({ signaling: TOK_URL, room: "tok", token: SUB });
  const none = await settle(peerd.connect({ signaling: TOK_URL, room: "tok", connectTimeout: 5000 }));
  out.token = ln.signaling.role === "publisher" && p.signaling.role === "subscriber" && (await p.remote.hi()) === "hi" && !none.ok;
  await p.close();
  ln.close();
}
return out;
`, &seen))

	decls := declaredInterfaces(t)
	declared := append(optionNames(t, decls, "ConnectOptions"), optionNames(t, decls, "ListenOptions")...)
	sort.Strings(declared)
	declared = slices.Compact(declared)
	for _, name := range declared {
		if why, ok := notObservedInBrowser[name]; ok {
			t.Logf("%s: not observed (%s)", name, why)
			continue
		}
		ok, tested := seen[name]
		if assert.True(t, tested, "option %s is declared but TestPeerOptions does not observe it", name) {
			assert.True(t, ok, "option %s has no effect", name)
		}
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
