package browser

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		code         int
		ctype        string
		body         []byte
	}{
		{"GET", "/peerd.js", 200, ScriptType, Script()},
		{"GET", "/peerd.d.ts", 200, TypesType, Types()},
		{"HEAD", "/peerd.js", 200, ScriptType, nil},
		{"GET", "/static/peerd.js", 200, ScriptType, Script()},
		{"GET", "/other.js", 404, "", nil},
		{"POST", "/peerd.js", 405, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			assert.Equal(t, tc.code, rec.Code)
			if tc.ctype != "" {
				assert.Equal(t, tc.ctype, rec.Header().Get("Content-Type"))
				assert.NotEmpty(t, rec.Header().Get("ETag"))
				assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			}
			if tc.body != nil {
				assert.Equal(t, tc.body, rec.Body.Bytes())
			}
		})
	}

	// A matching ETag answers 304.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/peerd.js", nil))
	req := httptest.NewRequest("GET", "/peerd.js", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, req)
	assert.Equal(t, http.StatusNotModified, rec2.Code)
}

func TestEmbeddedFiles(t *testing.T) {
	js := string(Script())
	for _, want := range []string{"export async function connect", "export async function listen", "export class RpcConn", "export class BinChannel"} {
		assert.Contains(t, js, want)
	}
	f, err := FS().Open(TypesName)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Contains(t, string(b), "export function connect")
}

// TestCalls covers calls both ways over one connection: the browser calls
// Go (plain, dotted, notification, errors, a timeout that cancels the Go
// handler) and Go calls the browser.
func TestCalls(t *testing.T) {
	reg := rpc.NewRegistry()
	notes := make(chan string, 1)
	cancelled := make(chan struct{})
	require.NoError(t, reg.Register("add", func(a, b int) int { return a + b }))
	require.NoError(t, reg.Register("math.mul", func(a, b float64) float64 { return a * b }))
	require.NoError(t, reg.Register("echo", func(v any) any { return v }))
	require.NoError(t, reg.Register("note", func(s string) { notes <- s }))
	require.NoError(t, reg.Register("fail", func() error { return errors.New("it broke") }))
	require.NoError(t, reg.Register("block", func(ctx context.Context) error {
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}))
	aborted := make(chan struct{})
	require.NoError(t, reg.Register("block2", func(ctx context.Context) error {
		<-ctx.Done()
		close(aborted)
		return ctx.Err()
	}))
	require.NoError(t, reg.Register("askPage", func(ctx context.Context, x int) (string, error) {
		return rpc.Call[string](ctx, rpc.ConnFromContext(ctx), "page.describe", x)
	}))
	e := newEnv(t, reg)
	ctx := e.tab(30 * time.Second)

	var res struct {
		Add, Mul   float64
		Echo       map[string]any
		Ask        string
		FailName   string
		FailCode   int
		Missing    int
		TimeoutErr string
		AbortErr   string
		BigEcho    int
	}
	require.NoError(t, eval(ctx, `
window.local = { page: { describe: (x) => "page got " + x, greet(name) { return "hello " + name } } };
`+connectJS+`
const { remote } = pair;
const out = {};
out.add = await remote.add(1, 2);
out.mul = await remote.math.mul(1.5, 4);
out.echo = await remote.echo({ a: [1, "two", null], b: { c: true } });
await remote.noWait.note("fire and forget");
out.ask = await remote.askPage(7);
try { await remote.fail() } catch (e) { out.failName = e.name; out.failCode = e.code }
try { await remote.nope() } catch (e) { out.missing = e.code }
try { await remote.$with({ timeout: 200 }).block() } catch (e) { out.timeoutErr = e.name }
const ac = new AbortController();
const pending = remote.$with({ signal: ac.signal }).block2();
setTimeout(() => ac.abort(), 50);
try { await pending } catch (e) { out.abortErr = e.name }
// A skeleton far over one message: OPEN plus JSON continuations each way.
const big = "x".repeat(700000);
out.bigEcho = (await remote.echo({ big })).big.length;
return out;
`, &res))
	assert.Equal(t, 3.0, res.Add)
	assert.Equal(t, 6.0, res.Mul)
	assert.Equal(t, map[string]any{"a": []any{1.0, "two", nil}, "b": map[string]any{"c": true}}, res.Echo)
	assert.Equal(t, "page got 7", res.Ask)
	assert.Equal(t, "RemoteError", res.FailName)
	assert.Equal(t, rpc.CodeServerError, res.FailCode)
	assert.Equal(t, rpc.CodeMethodNotFound, res.Missing)
	assert.Equal(t, "TimeoutError", res.TimeoutErr)
	assert.Equal(t, "AbortError", res.AbortErr)
	assert.Equal(t, 700000, res.BigEcho)

	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case s := <-notes:
		assert.Equal(t, "fire and forget", s)
	case <-tctx.Done():
		t.Fatal("notification not delivered")
	}
	for _, ch := range []chan struct{}{cancelled, aborted} {
		select {
		case <-ch: // the timeout or abort sent rpc.cancel
		case <-tctx.Done():
			t.Fatal("Go handler not cancelled after the browser gave up")
		}
	}

	// Go calls the browser directly.
	c := e.conn(tctx)
	s, err := rpc.Call[string](tctx, c.RPC(), "page.greet", "go")
	require.NoError(t, err)
	assert.Equal(t, "hello go", s)
	err = c.RPC().Call(tctx, "page.missing", nil)
	assert.True(t, errors.Is(err, rpc.ErrMethodNotFound), "%v", err)
}

// TestCallbacks passes a progress callback to Go, gets a function back from
// Go, and has Go call a function the browser returned.
func TestCallbacks(t *testing.T) {
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("countdown", func(ctx context.Context, n int, progress func(context.Context, int) error) (string, error) {
		for i := n; i > 0; i-- {
			if err := progress(ctx, i); err != nil {
				return "", err
			}
		}
		return "liftoff", nil
	}))
	require.NoError(t, reg.Register("counter", func(start int) func(int) int {
		n := start
		return func(d int) int { n += d; return n }
	}))
	var fromPage atomic.Int64
	require.NoError(t, reg.Register("useAdder", func(ctx context.Context, x int) (int, error) {
		conn := rpc.ConnFromContext(ctx)
		var add *rpc.Func
		if err := conn.Call(ctx, "page.makeAdder", &add, 100); err != nil {
			return 0, err
		}
		defer func() { _ = add.Unbind(ctx) }()
		v, err := rpc.CallFunc[int](ctx, add, x)
		fromPage.Store(int64(v))
		return v, err
	}))
	e := newEnv(t, reg)
	ctx := e.tab(30 * time.Second)

	var res struct {
		Seen      []int
		Result    string
		C1, C2    int
		Released  string
		Adder     int
		Callbacks int
	}
	require.NoError(t, eval(ctx, `
window.local = { page: { makeAdder: (base) => (x) => base + x } };
`+connectJS+`
const { remote, conn } = pair;
const out = { seen: [] };
out.result = await remote.countdown(5, (i) => { out.seen.push(i) });
const inc = await remote.counter(10);
out.c1 = await inc(1);
out.c2 = await inc(5);
await inc.unbind();
try { await inc(1) } catch (e) { out.released = e.name }
out.adder = await remote.useAdder(23);
out.callbacks = conn.stats().callbacks;
return out;
`, &res))
	assert.Equal(t, []int{5, 4, 3, 2, 1}, res.Seen)
	assert.Equal(t, "liftoff", res.Result)
	assert.Equal(t, 11, res.C1)
	assert.Equal(t, 16, res.C2)
	assert.Equal(t, "ReleasedError", res.Released)
	assert.Equal(t, 123, res.Adder)
	assert.Equal(t, int64(123), fromPage.Load())

	// The page's stored functions: the countdown callback went with its
	// call and the adder with Go's unbind.
	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := e.conn(tctx)
	assert.Eventually(t, func() bool {
		var n int
		return eval(ctx, `return window.pair.conn.stats().callbacks`, &n) == nil && n == 0
	}, 5*time.Second, 20*time.Millisecond)
	// And Go's: the counter was unbound by the page.
	assert.Eventually(t, func() bool { return c.RPC().Stats().Callbacks == 0 }, 5*time.Second, 20*time.Millisecond)
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestBinaries uploads 20 MiB from the page (checked by SHA-256 in Go),
// nested binaries of every kind, and downloads 8 MiB checked in the page.
func TestBinaries(t *testing.T) {
	reg := rpc.NewRegistry()
	var gotSum atomic.Value
	require.NoError(t, reg.Register("upload", func(data []byte) (string, error) {
		s := sha(data)
		gotSum.Store(s)
		return s, nil
	}))
	type nested struct {
		Name  string   `json:"name"`
		Parts [][]byte `json:"parts"`
		Blob  []byte   `json:"blob"`
	}
	require.NoError(t, reg.Register("nested", func(n nested) map[string]any {
		lens := make([]int, len(n.Parts))
		for i, p := range n.Parts {
			lens[i] = len(p)
		}
		return map[string]any{"name": n.Name, "lens": lens, "blob": string(n.Blob), "back": n.Parts}
	}))
	download := randomBytes(8<<20, 42)
	require.NoError(t, reg.Register("download", func() []byte { return download }))
	e := newEnv(t, reg)
	ctx := e.tab(50 * time.Second)

	var res struct {
		Local, Remote string
		Nested        struct {
			Name string
			Lens []int
			Blob string
		}
		Back         []int
		DownKind     string
		DownChunks   int
		DownSum      string
		AssembleKind string
		AssembleSum  string
		MaxMessage   int
		MaxQueued    int
		MaxSent      int
	}
	require.NoError(t, eval(ctx, connectJS+`
const { remote } = pair;
const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
const big = new Uint8Array(20 << 20);
for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
const out = { maxMessage: pair.maxMessageSize, maxQueued: 0, maxSent: 0 };
// Watch the channel: what is queued when each message goes out, and sizes.
const dc = pair.channel, send = dc.send.bind(dc);
dc.send = (m) => { out.maxQueued = Math.max(out.maxQueued, dc.bufferedAmount); out.maxSent = Math.max(out.maxSent, m.byteLength); send(m) };
out.local = await hex(big);
out.remote = await remote.upload(big);
const parts = [new Uint8Array([1, 2, 3]), new Uint16Array([1, 2]).buffer, new Uint8Array(0), new DataView(new ArrayBuffer(5))];
out.nested = await remote.nested({ name: "n", parts, blob: new Blob(["from a blob"]) });
out.back = out.nested.back.map((b) => b.byteLength);
const down = await remote.download();
out.downKind = down.constructor.name;
out.downChunks = down.chunks ? down.chunks.length : 1;
out.downSum = await hex(await peerd.toBytes(down));
const whole = await remote.$with({ assemble: true }).download();
out.assembleKind = whole.constructor.name;
out.assembleSum = await hex(whole);
return out;
`, &res))
	assert.Equal(t, res.Local, res.Remote, "SHA-256 of the upload")
	assert.Equal(t, res.Local, gotSum.Load())
	assert.Equal(t, "n", res.Nested.Name)
	assert.Equal(t, []int{3, 4, 0, 5}, res.Nested.Lens)
	assert.Equal(t, "from a blob", res.Nested.Blob)
	assert.Equal(t, []int{3, 4, 0, 5}, res.Back)
	assert.Equal(t, "Chunks", res.DownKind)
	assert.Greater(t, res.DownChunks, 1)
	assert.Equal(t, sha(download), res.DownSum)
	assert.Equal(t, "Uint8Array", res.AssembleKind)
	assert.Equal(t, sha(download), res.AssembleSum)
	assert.Equal(t, 256<<10, res.MaxMessage)
	// Backpressure: a message goes out only while at most 4 MiB is queued,
	// and no message exceeds the negotiated size; binaries go 32 KiB to a
	// message by default (the largest message is the OPEN that also holds
	// a skeleton and the first chunk).
	assert.LessOrEqual(t, res.MaxQueued, 4<<20)
	assert.Greater(t, res.MaxQueued, 1<<20, "the upload did fill the queue")
	assert.Greater(t, res.MaxSent, 32<<10)
	assert.Less(t, res.MaxSent, 33<<10)
}

// TestGoCloseRejectsPending closes the Go side while the page waits for a
// call: the promise rejects with ClosedError and later calls fail at once.
func TestGoCloseRejectsPending(t *testing.T) {
	reg := rpc.NewRegistry()
	started := make(chan struct{})
	require.NoError(t, reg.Register("hang", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}))
	e := newEnv(t, reg)
	ctx := e.tab(30 * time.Second)
	require.NoError(t, eval(ctx, connectJS+`
window.hang = pair.remote.hang().then(() => "resolved", (e) => e.name + ": " + e.message);
`, nil))

	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := e.conn(tctx)
	select {
	case <-started:
	case <-tctx.Done():
		t.Fatal("call did not reach Go")
	}
	require.NoError(t, c.Close())

	var res struct {
		Hang  string
		After string
	}
	require.NoError(t, eval(ctx, `
const out = { hang: await window.hang };
try { await pair.remote.hang() } catch (e) { out.after = e.name }
return out;
`, &res))
	assert.True(t, strings.HasPrefix(res.Hang, "ClosedError: "), res.Hang)
	assert.Equal(t, "ClosedError", res.After)
}

// TestGoDialsBrowser has the page listen and a Go peer dial it: the page
// answers the offer, and both sides call each other with binaries.
func TestGoDialsBrowser(t *testing.T) {
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("whoami", func() string { return "go" }))
	e := newEnv(t, rpc.NewRegistry())
	ctx := e.tab(30 * time.Second)
	var id string
	require.NoError(t, eval(ctx, `
let accept;
window.accepted = new Promise((resolve) => (accept = resolve));
window.listener = await peerd.listen({ room: "browser-listens", onconnection: accept, local: {
  page: {
    reverse: async (b) => new Blob([(await peerd.toBytes(b)).slice().reverse()]),
    fail() { const e = new Error("no such thing"); e.code = 4040; e.data = { why: "test" }; throw e },
  },
} });
return listener.id;
`, &id))
	require.NotEmpty(t, id)

	tctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.base, "http") + "/signal"
	c, err := peer.Dial(tctx, wsURL, "browser-listens", peer.Options{
		Network: peer.NetworkLoopback, Peer: id, RPC: rpc.Options{Registry: reg},
	})
	require.NoError(t, err)
	defer c.Close()

	data := randomBytes(600<<10, 5) // several messages each way
	var back []byte
	require.NoError(t, c.RPC().Call(tctx, "page.reverse", &back, data))
	require.Len(t, back, len(data))
	for i := range data {
		if data[i] != back[len(back)-1-i] {
			t.Fatalf("byte %d differs", i)
		}
	}
	err = c.RPC().Call(tctx, "page.fail", nil)
	var re *rpc.Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, int64(4040), re.Code)
	assert.Equal(t, "no such thing", re.Message)
	assert.JSONEq(t, `{"why":"test"}`, string(re.Data))

	var who string
	require.NoError(t, eval(ctx, `
const pair = await window.accepted;
const who = await pair.remote.whoami();
listener.close();
return who;
`, &who))
	assert.Equal(t, "go", who)
}

// TestConnectWaitsForPublisher starts the page's connect before any peer
// is in the room: it dials the first publisher that joins.
func TestConnectWaitsForPublisher(t *testing.T) {
	e := newEnv(t, rpc.NewRegistry())
	ctx := e.tab(30 * time.Second)
	require.NoError(t, eval(ctx, `
window.late = peerd.connect({ room: "late", connectTimeout: 20000 });
window.late.catch(() => {});
`, nil))
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("hello", func() string { return "late but here" }))
	tctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.base, "http") + "/signal"
	ln, err := peer.Listen(tctx, wsURL, "late", peer.Options{Network: peer.NetworkLoopback, RPC: rpc.Options{Registry: reg}})
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan *peer.Conn, 1)
	go func() {
		c, err := ln.Accept(tctx)
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	var s string
	require.NoError(t, eval(ctx, `
const p = await window.late;
const s = await p.remote.hello();
await p.close();
return s;
`, &s))
	assert.Equal(t, "late but here", s)
	if c, ok := <-accepted; ok {
		_ = c.Close()
	}
}

// TestPageCloseDelivers closes the page's side right after a large
// notification: the close delivers the queued data first, so Go gets it
// all, and close resolves only then.
func TestPageCloseDelivers(t *testing.T) {
	reg := rpc.NewRegistry()
	got := make(chan int, 1)
	require.NoError(t, reg.Register("sink", func(b []byte) { got <- len(b) }))
	e := newEnv(t, reg)
	ctx := e.tab(30 * time.Second)
	require.NoError(t, eval(ctx, connectJS+`
await pair.remote.noWait.sink(new Uint8Array(6 << 20));
await pair.close();
if (pair.channel.readyState !== "closed" || pair.pc.connectionState !== "closed") throw new Error("close resolved early");
`, nil))
	tctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case n := <-got:
		assert.Equal(t, 6<<20, n)
	case <-tctx.Done():
		t.Fatal("notification lost in the close")
	}
}

// TestSharedSignaling connects over a Signaling the page opened and joined
// itself: connect dials a publisher it knows from the room's members and
// leaves the signaling connection open when the pair closes.
func TestSharedSignaling(t *testing.T) {
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("add", func(a, b int) int { return a + b }))
	e := newEnv(t, reg)
	ctx := e.tab(30 * time.Second)
	var res struct {
		Members int
		Sum     int
		Open    bool
		Joined  []string
	}
	require.NoError(t, eval(ctx, `
const sig = await peerd.Signaling.connect();
const joined = [];
sig.on("join", (ev) => joined.push(ev.role));
await sig.join("test", { role: "subscriber" });
const members = sig.members.size;
const pair = await peerd.connect({ signaling: sig });
const sum = await pair.remote.add(40, 2);
await pair.close();
const open = !sig.rpc.isClosed && sig.id !== null;
sig.close();
return { members, sum, open, joined };
`, &res))
	assert.Equal(t, 1, res.Members)
	assert.Equal(t, 42, res.Sum)
	assert.True(t, res.Open)
	assert.Empty(t, res.Joined)
}
