package endpoint

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The flood tests send many messages close to the size limit at once, or
// far over it, and check that the server's memory follows its limits
// (MaxHTTPRequests, MaxConns, MaxMessageSize) rather than the number of
// clients. They measure the whole process: the clients send from
// generated readers and a shared buffer, so what grows is the server.

// heapInUse returns the heap bytes in use after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// allocated returns the bytes the process allocated so far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// growth is after - before, 0 when the heap shrank.
func growth(before, after uint64) uint64 {
	if after < before {
		return 0
	}
	return after - before
}

const mib = 1 << 20

// as is the bytes filler copies from, shared by all.
var as = []byte(strings.Repeat("a", 64<<10))

// filler reads n bytes 'a' without holding them.
type filler struct{ n int64 }

func (f *filler) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), f.n)], as)
	f.n -= int64(k)
	return k, nil
}

// bigCall returns a request calling method with one string of 'a' as
// param, size bytes of JSON followed by end (a newline, or nothing), as a
// generated reader.
func bigCall(method string, size int, end string) io.Reader {
	head := `{"jsonrpc":"2.0","method":"` + method + `","params":["`
	tail := `"],"id":1}`
	return io.MultiReader(strings.NewReader(head), &filler{n: int64(size - len(head) - len(tail))},
		strings.NewReader(tail+end))
}

// holder serves "hold", which keeps its string param until released and
// then answers its length; it records how many ran at once.
type holder struct {
	arrived chan struct{}
	release chan struct{}
	running atomic.Int32
	peak    atomic.Int32
}

func newHolder(t *testing.T, clients int) (*holder, *rpc.Registry) {
	t.Helper()
	h := &holder{arrived: make(chan struct{}, clients), release: make(chan struct{})}
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("hold", func(ctx context.Context, s string) (int, error) {
		n := h.running.Add(1)
		defer h.running.Add(-1)
		for {
			p := h.peak.Load()
			if n <= p || h.peak.CompareAndSwap(p, n) {
				break
			}
		}
		h.arrived <- struct{}{}
		select {
		case <-h.release:
			return len(s), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	require.NoError(t, reg.Register("echo", func(s string) string { return s }))
	return h, reg
}

// await waits for n signals on ch, bounded by the test's context.
func await(t *testing.T, ch <-chan struct{}, n int, what string) {
	t.Helper()
	ctx := testCtx(t)
	for i := range n {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s: %d of %d", what, i, n)
		}
	}
}

// Flood parameters: clients send messages of nearly floodMaxMsg bytes;
// the server may serve floodSlots of them at once (MaxHTTPRequests,
// MaxConns). A served message costs its bytes (the body or line), the
// decoded string param and at most a growing buffer's spare capacity:
// perMsg bounds that, and floodSlack the fixed costs of the clients'
// connections and goroutines (about 1.5 MiB for 48 of them, measured).
// Held at once without the bound, the clients' messages would take at
// least twice the ceiling.
const (
	floodMaxMsg   = 512 << 10
	floodSlots    = 2
	floodClients  = 32
	perMsg        = 4 * floodMaxMsg
	floodSlack    = 3 * mib
	floodCeiling  = floodSlots*perMsg + floodSlack
	floodMsgBytes = floodMaxMsg - 64
)

func init() {
	if floodClients*floodMaxMsg < 2*floodCeiling {
		panic("flood: the ceiling does not tell a bounded server from an unbounded one")
	}
}

// holdAnswer is the response line to a bigCall of floodMsgBytes to hold.
var holdAnswer = `{"jsonrpc":"2.0","result":` +
	strconv.Itoa(floodMsgBytes-len(`{"jsonrpc":"2.0","method":"hold","params":["`)-len(`"],"id":1}`)) + `,"id":1}`

// checkCeiling measures the heap in use against the ceiling.
func checkCeiling(t *testing.T, before uint64, what string) {
	t.Helper()
	grown := growth(before, heapInUse())
	t.Logf("%s: heap in use grew by %.1f MiB with %d messages of %.1f MiB sent, %d served at once (ceiling %.1f MiB)",
		what, float64(grown)/mib, floodClients, float64(floodMsgBytes)/mib, floodSlots, float64(floodCeiling)/mib)
	assert.Less(t, grown, uint64(floodCeiling), what)
}

// TestHTTPFloodMemory posts many near-limit bodies at once: at most
// MaxHTTPRequests are read and served together, the others wait with
// their bodies unread, and the heap in use stays under a ceiling derived
// from MaxHTTPRequests; then every request is served.
func TestHTTPFloodMemory(t *testing.T) {
	noLeaks(t)
	h, reg := newHolder(t, floodClients)
	s := NewServerWithOptions(reg, Options{
		MaxMessageSize:   floodMaxMsg,
		MaxHTTPRequests:  floodSlots,
		HTTPQueueTimeout: 15 * time.Second, // longer than the flood lasts
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	active := make(chan struct{}, 4*floodClients)
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateActive {
				active <- struct{}{}
			}
		}}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	tr := &http.Transport{MaxIdleConnsPerHost: -1}
	hc := &http.Client{Transport: tr}
	defer func() {
		tr.CloseIdleConnections()
		require.NoError(t, hs.Close())
		assert.ErrorIs(t, <-served, http.ErrServerClosed)
		require.NoError(t, s.Shutdown(testCtx(t)))
	}()
	url := "http://" + ln.Addr().String() + "/"

	before := heapInUse()
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range floodClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bigCall("hold", floodMsgBytes, ""))
			if !assert.NoError(t, err) {
				return
			}
			req.ContentLength = floodMsgBytes
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			assert.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
			assert.JSONEq(t, holdAnswer, string(b))
		}()
	}
	// Every client's request has started and the served ones hold their
	// bodies: the rest wait for a slot.
	await(t, active, floodClients, "connections active")
	await(t, h.arrived, floodSlots, "handlers running")
	checkCeiling(t, before, "http")
	close(h.release)
	wg.Wait()
	assert.LessOrEqual(t, h.peak.Load(), int32(floodSlots), "handlers at once")
}

// TestTCPFloodMemory opens many TCP connections that each send a
// near-limit line at once: at most MaxConns are served (the others wait to
// be accepted), and the heap in use stays under a ceiling derived from
// MaxConns; then every connection is served.
func TestTCPFloodMemory(t *testing.T) {
	noLeaks(t)
	h, reg := newHolder(t, floodClients)
	f := startServer(t, reg, Options{MaxMessageSize: floodMaxMsg, MaxConns: floodSlots})
	before := heapInUse()
	var dialed, done sync.WaitGroup
	dialed.Add(floodClients)
	for range floodClients {
		done.Add(1)
		go func() {
			defer done.Done()
			nc, err := net.Dial("tcp", f.tcpAddr)
			dialed.Done()
			if !assert.NoError(t, err) {
				return
			}
			defer nc.Close()
			assert.NoError(t, nc.SetDeadline(time.Now().Add(15*time.Second)))
			if _, err := io.Copy(nc, bigCall("hold", floodMsgBytes, "\n")); !assert.NoError(t, err) {
				return
			}
			line, err := bufio.NewReader(nc).ReadString('\n')
			assert.NoError(t, err)
			assert.JSONEq(t, holdAnswer, line)
		}()
	}
	dialed.Wait()
	await(t, h.arrived, floodSlots, "handlers running")
	checkCeiling(t, before, "tcp")
	close(h.release)
	done.Wait()
	assert.LessOrEqual(t, h.peak.Load(), int32(floodSlots), "handlers at once")
}

// TestWebSocketFloodMemory: MaxConns WebSocket connections each send a
// near-limit frame and are held; meanwhile every other upgrade is refused
// with 503, so no more frames can arrive, and the heap in use stays under
// the ceiling derived from MaxConns.
func TestWebSocketFloodMemory(t *testing.T) {
	noLeaks(t)
	h, reg := newHolder(t, floodClients)
	f := startServer(t, reg, Options{MaxMessageSize: floodMaxMsg, MaxConns: floodSlots})
	before := heapInUse()
	held := make([]*websocket.Conn, floodSlots)
	for i := range held {
		held[i] = rawWS(t, f.url("ws"))
		w, err := held[i].NextWriter(websocket.TextMessage)
		require.NoError(t, err)
		_, err = io.Copy(w, bigCall("hold", floodMsgBytes, ""))
		require.NoError(t, err)
		require.NoError(t, w.Close())
	}
	var wg sync.WaitGroup
	for range floodClients - floodSlots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, resp, err := websocket.DefaultDialer.DialContext(testCtx(t), f.url("ws"), nil)
			if err == nil {
				_ = ws.Close()
				t.Error("upgrade accepted past MaxConns")
				return
			}
			if assert.NotNil(t, resp, "%v", err) {
				_ = resp.Body.Close()
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	await(t, h.arrived, floodSlots, "handlers running")
	checkCeiling(t, before, "ws")
	close(h.release)
	for _, ws := range held {
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, msg, err := ws.ReadMessage()
		require.NoError(t, err)
		assert.JSONEq(t, holdAnswer, string(msg))
	}
	assert.LessOrEqual(t, h.peak.Load(), int32(floodSlots), "handlers at once")
}

// Queue floods: ONE connection sends queueFloodMsgs near-limit requests
// to "hold" at once. queueFloodSlots of them run (MaxConcurrency); the
// next ones wait until the messages waiting would pass MaxQueueBytes
// (queueFloodBytes), and the rest are refused at once with -32005. MaxQueue
// (1024 by default) alone would let every message wait. A connection then
// holds the running messages (perMsg each), the waiting ones (each in a
// buffer grown by appending: up to twice its size) and the one being
// read; floodSlack covers the rest.
const (
	queueFloodSlots   = 2
	queueFloodBytes   = 2 * mib
	queueFloodMsgs    = 64
	queueFloodPerConn = queueFloodSlots*perMsg + 2*queueFloodBytes + perMsg
	queueFloodCeiling = 2*queueFloodPerConn + floodSlack // one TCP, one WebSocket connection
)

func init() {
	if 2*queueFloodMsgs*floodMaxMsg < 2*queueFloodCeiling {
		panic("flood: the queue ceiling does not tell a bounded queue from an unbounded one")
	}
}

// TestConnQueueFloodMemory: one TCP and one WebSocket connection each
// send many near-limit requests at once to a handler that holds them; the
// server reads them all without blocking, queues what fits under
// MaxQueueBytes, refuses the rest at once, and the heap in use stays under
// a ceiling derived from MaxQueueBytes (and MaxConcurrency), not from the
// number of requests; once released, every queued request is served.
func TestConnQueueFloodMemory(t *testing.T) {
	noLeaks(t)
	h, reg := newHolder(t, 2*queueFloodMsgs)
	f := startServer(t, reg, Options{
		MaxMessageSize: floodMaxMsg,
		RPC:            rpc.Options{MaxConcurrency: queueFloodSlots, MaxQueueBytes: queueFloodBytes},
	})
	const (
		overloaded  = `{"jsonrpc":"2.0","error":{"code":-32005,"message":"Server overloaded"},"id":1}`
		probe       = `{"jsonrpc":"2.0","method":"rpc.cancel","params":[],"id":"probe"}`
		probeAnswer = `{"jsonrpc":"2.0","result":null,"id":"probe"}`
	)

	nc, err := net.Dial("tcp", f.tcpAddr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(15*time.Second)))
	br := bufio.NewReader(nc)
	ws := rawWS(t, f.url("ws"))
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(15*time.Second)))
	require.NoError(t, ws.SetWriteDeadline(time.Now().Add(15*time.Second)))

	type flood struct {
		name string
		end  string // after each message
		send func(r io.Reader) error
		recv func() (string, error)
	}
	floods := []flood{
		{"tcp", "\n",
			func(r io.Reader) error { _, err := io.Copy(nc, r); return err },
			func() (string, error) { s, err := br.ReadString('\n'); return strings.TrimSuffix(s, "\n"), err }},
		{"ws", "",
			func(r io.Reader) error {
				w, err := ws.NextWriter(websocket.TextMessage)
				if err != nil {
					return err
				}
				if _, err := io.Copy(w, r); err != nil {
					return err
				}
				return w.Close()
			},
			func() (string, error) { _, b, err := ws.ReadMessage(); return string(b), err }},
	}
	// counts is what one connection was answered.
	type counts struct{ refused, served int }
	routed := make(chan counts, len(floods)) // when the probe is answered
	done := make(chan counts, len(floods))   // when every request is
	var wg sync.WaitGroup
	before := heapInUse()
	for _, fl := range floods {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range queueFloodMsgs {
				if !assert.NoError(t, fl.send(bigCall("hold", floodMsgBytes, fl.end)), fl.name) {
					return
				}
			}
			// Answered by the reader itself once it has routed every
			// message before it.
			assert.NoError(t, fl.send(strings.NewReader(probe+fl.end)), fl.name)
		}()
		go func() {
			defer wg.Done()
			var c counts
			defer func() { done <- c }()
			for range queueFloodMsgs + 1 {
				msg, err := fl.recv()
				if !assert.NoError(t, err, fl.name) {
					routed <- c
					return
				}
				switch msg {
				case probeAnswer:
					routed <- c
				case overloaded:
					c.refused++
				default:
					assert.JSONEq(t, holdAnswer, msg, fl.name)
					c.served++
				}
			}
		}()
	}
	for range floods {
		select {
		case c := <-routed:
			assert.Positive(t, c.refused, "requests past MaxQueueBytes are refused")
		case <-testCtx(t).Done():
			t.Fatal("not every message was routed")
		}
	}
	await(t, h.arrived, len(floods)*queueFloodSlots, "handlers running")
	grown := growth(before, heapInUse())
	t.Logf("heap in use grew by %.1f MiB while 2 connections sent %d messages of %.1f MiB each, %d running and up to %.1f MiB waiting per connection (ceiling %.1f MiB)",
		float64(grown)/mib, queueFloodMsgs, float64(floodMsgBytes)/mib, queueFloodSlots, float64(queueFloodBytes)/mib, float64(queueFloodCeiling)/mib)
	assert.Less(t, grown, uint64(queueFloodCeiling))

	close(h.release)
	wg.Wait()
	close(done)
	maxServed := queueFloodSlots + queueFloodBytes/floodMsgBytes + 1
	for c := range done {
		t.Logf("%d served, %d refused", c.served, c.refused)
		assert.Equal(t, queueFloodMsgs, c.served+c.refused, "every request is answered")
		assert.Greater(t, c.served, queueFloodSlots, "requests waited under the bound")
		assert.LessOrEqual(t, c.served, maxServed, "no more waited than the bound allows")
	}
	assert.LessOrEqual(t, h.peak.Load(), int32(len(floods)*queueFloodSlots), "handlers at once")
}

// Oversized floods: hugeClients connections each send hugeBytes in one
// message against a limit of hugeMax. The server must stop reading each
// message at the limit: what it allocates is bounded by hugeMax per
// connection (the read buffer, the message growing up to the limit with
// the garbage of its growth), not by what was sent. hugePerConn bounds
// that, with the connection's own costs; hugeSlack the clients' buffers.
const (
	hugeMax     = 64 << 10
	hugeBytes   = 8 * mib
	hugeClients = 16
	hugePerConn = 8 * hugeMax
	hugeSlack   = 4 * mib
	hugeCeiling = hugeClients*hugePerConn + hugeSlack
)

func init() {
	if hugeClients*hugeBytes < 4*hugeCeiling {
		panic("flood: the oversized ceiling does not tell a bounded reader from an unbounded one")
	}
}

// checkAllocated compares what the process allocated during a flood with
// the oversized ceiling.
func checkAllocated(t *testing.T, before uint64, what string) {
	t.Helper()
	grown := allocated() - before
	t.Logf("%s: %.1f MiB allocated while %d clients sent %.0f MiB each against a %d KiB limit (ceiling %.1f MiB)",
		what, float64(grown)/mib, hugeClients, float64(hugeBytes)/mib, hugeMax>>10, float64(hugeCeiling)/mib)
	assert.Less(t, grown, uint64(hugeCeiling), what)
}

// TestOversizedFloods: on every endpoint, many clients sending messages
// far over the limit at once are refused, each after at most the limit
// was read, and the server allocates in proportion to the limit.
func TestOversizedFloods(t *testing.T) {
	noLeaks(t)
	o := Options{MaxMessageSize: hugeMax}
	f := startServer(t, specRegistry(t), o)
	// Each client sends from the same generated reader shape; none holds
	// what it sends.
	flood := func(t *testing.T, client func() error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, hugeClients)
		before := allocated()
		for range hugeClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- client()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
		checkAllocated(t, before, t.Name())
		serving(t, f)
	}
	t.Run("tcp lines", func(t *testing.T) {
		flood(t, func() error {
			nc, err := net.Dial("tcp", f.tcpAddr)
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := nc.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
				return err
			}
			// The server answers and closes after the limit, which ends
			// the copy early with an error.
			go func() { _, _ = io.Copy(nc, &filler{n: hugeBytes}) }()
			got, err := io.ReadAll(nc)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				return err
			}
			if !strings.Contains(string(got), "line longer than") {
				return errors.New("no line-too-long answer: " + string(got))
			}
			return nil
		})
	})
	t.Run("websocket messages", func(t *testing.T) {
		flood(t, func() error {
			ws, resp, err := websocket.DefaultDialer.DialContext(testCtx(t), f.url("ws"), nil)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			defer ws.Close()
			if err := ws.SetReadDeadline(time.Now().Add(15 * time.Second)); err != nil {
				return err
			}
			// One message of hugeBytes, fragmented by the writer into
			// frames of its buffer size.
			go func() {
				w, err := ws.NextWriter(websocket.TextMessage)
				if err != nil {
					return
				}
				_, _ = io.Copy(w, &filler{n: hugeBytes})
				_ = w.Close()
			}()
			_, _, err = ws.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
				return errors.New("not closed with 1009: " + errString(err))
			}
			return nil
		})
	})
	t.Run("http chunked bodies", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		flood(t, func() error {
			req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, f.url("http"), &filler{n: hugeBytes})
			if err != nil {
				return err
			}
			req.ContentLength = -1 // chunked: the server learns the size by reading
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				// The server may close before the client sent all: the
				// refusal then shows as a broken write.
				return nil
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				return errors.New("status " + resp.Status)
			}
			return nil
		})
	})
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestHTTPRequestLimit: a POST past MaxHTTPRequests is answered 503 with
// Retry-After and a JSON-RPC error body, at once or after waiting
// HTTPQueueTimeout for a slot; GET is not counted; a freed slot serves the
// next POST.
func TestHTTPRequestLimit(t *testing.T) {
	noLeaks(t)
	// post is safe to call from any goroutine: it reports failures with
	// assert and returns a nil response.
	post := func(t *testing.T, url, body string) (*http.Response, string) {
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, url, strings.NewReader(body))
		if !assert.NoError(t, err) {
			return nil, ""
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if !assert.NoError(t, err) {
			return nil, ""
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		assert.NoError(t, err)
		return resp, string(b)
	}
	for _, tt := range []struct {
		name  string
		queue time.Duration
	}{
		{"refused at once", -1},
		{"refused after waiting", shortTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, reg := newHolder(t, 1)
			f := startServer(t, reg, Options{MaxHTTPRequests: 1, HTTPQueueTimeout: tt.queue})
			url := f.url("http")
			held := make(chan string, 1)
			go func() {
				_, body := post(t, url, `{"jsonrpc":"2.0","method":"hold","params":["abc"],"id":1}`)
				held <- body
			}()
			await(t, h.arrived, 1, "handler running")

			resp, body := post(t, url, `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":2}`)
			require.NotNil(t, resp)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assertRPCError(t, body, rpc.CodeInvalidRequest)
			assert.Contains(t, body, "too many HTTP requests")

			g, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, url, nil)
			require.NoError(t, err)
			gresp, err := http.DefaultClient.Do(g)
			require.NoError(t, err)
			_ = gresp.Body.Close()
			assert.Equal(t, http.StatusOK, gresp.StatusCode, "GET takes no slot")

			close(h.release)
			assert.JSONEq(t, `{"jsonrpc":"2.0","result":3,"id":1}`, <-held)
			resp, body = post(t, url, `{"jsonrpc":"2.0","method":"echo","params":["x"],"id":2}`)
			require.NotNil(t, resp)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.JSONEq(t, `{"jsonrpc":"2.0","result":"x","id":2}`, body)
		})
	}
}
