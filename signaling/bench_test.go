package signaling

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Environment of the idle-client helper process.
const (
	envHelperURL   = "SIGNALING_HELPER_URL"
	envHelperConns = "SIGNALING_HELPER_CONNS"
	envBenchConns  = "SIGNALING_BENCH_CONNS"
)

// TestHelperIdleClients is not a test: BenchmarkIdleConnMemory runs the test
// binary again with this test selected, so that the clients live in another
// process and only the server's memory is measured. It connects the given
// number of clients, joins each to a room of 2, prints "ready" and waits for
// stdin to close.
func TestHelperIdleClients(t *testing.T) {
	url := os.Getenv(envHelperURL)
	if url == "" {
		t.Skip("helper process for BenchmarkIdleConnMemory")
	}
	n, err := strconv.Atoi(os.Getenv(envHelperConns))
	require.NoError(t, err)
	clients := make([]*Client, 0, n)
	sem := make(chan struct{}, 32)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := Dial(context.Background(), url, ClientOptions{PingInterval: -1})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := c.Join(context.Background(), fmt.Sprintf("room-%d", i/2)); err != nil {
				t.Error(err)
			}
			mu.Lock()
			clients = append(clients, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range clients {
		_ = c.Close()
	}
}

// BenchmarkIdleConnMemory holds idle joined connections (1,000 by default,
// SIGNALING_BENCH_CONNS to change) whose clients live in a helper process,
// and reports the server's heap growth per connection (the 32 KiB target is
// for 5,000), its heap plus goroutine stacks per connection and its
// goroutines per connection.
func BenchmarkIdleConnMemory(b *testing.B) {
	n := 1000
	if v := os.Getenv(envBenchConns); v != "" {
		n, _ = strconv.Atoi(v)
	}
	for range b.N {
		heap, stack, gor := idleConnMemory(b, n)
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(heap+stack, "heap+stack-B/conn")
		b.ReportMetric(gor, "goroutines/conn")
		b.ReportMetric(float64(n), "conns")
	}
}

func memNow() (heap, stack uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
}

func idleConnMemory(b *testing.B, n int) (heapPer, stackPer, gorPer float64) {
	s := NewServer(ServerOptions{MaxConnsPerAddr: -1, MaxRooms: -1})
	hs := httptest.NewServer(s)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	// Warm up: one connection's worth of lazily built state (pools, maps).
	warm, err := Dial(context.Background(), url, ClientOptions{})
	require.NoError(b, err)
	_, err = warm.Join(context.Background(), "warm")
	require.NoError(b, err)
	_ = warm.Close()

	h0, s0, g0 := memNow()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIdleClients$", "-test.v")
	cmd.Env = append(os.Environ(), envHelperURL+"="+url, envHelperConns+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	cmd.Stderr = os.Stderr
	require.NoError(b, cmd.Start())
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	require.Eventually(b, func() bool { return s.Stats().Peers == int64(n) }, time.Minute, 10*time.Millisecond)
	h1, s1, g1 := memNow()
	f := float64(n)
	return (float64(h1) - float64(h0)) / f, (float64(s1) - float64(s0)) / f, float64(g1-g0) / f
}

// BenchmarkRelayLatency relays b.N signals, paced at 1,000 per second, round
// robin over pairs in 500 rooms, and reports the one-way latency (sender's
// Signal call to the recipient's event) at p50 and p99, next to the same
// measured through a bare WebSocket relay (gorilla, no rpc, no rooms) in the
// same run.
func BenchmarkRelayLatency(b *testing.B) {
	const rooms = 500
	s := NewServer(ServerOptions{MaxConnsPerAddr: -1})
	hs := httptest.NewServer(s)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	type pair struct {
		a, b *Client
		bID  string
	}
	pairs := make([]pair, rooms)
	for i := range pairs {
		a, err := Dial(context.Background(), url, ClientOptions{})
		require.NoError(b, err)
		bc, err := Dial(context.Background(), url, ClientOptions{})
		require.NoError(b, err)
		room := fmt.Sprint("room-", i)
		_, err = a.Join(context.Background(), room)
		require.NoError(b, err)
		rb, err := bc.Join(context.Background(), room)
		require.NoError(b, err)
		<-a.Events() // b joined
		pairs[i] = pair{a, bc, rb.ID}
	}
	defer func() {
		for _, p := range pairs {
			_ = p.a.Close()
			_ = p.b.Close()
		}
	}()

	lat := make(chan time.Duration, b.N)
	var recv sync.WaitGroup
	for _, p := range pairs {
		recv.Add(1)
		go func() {
			defer recv.Done()
			for ev := range p.b.Events() {
				if ev.Kind != EventSignal {
					continue
				}
				var sent int64
				_, _ = fmt.Sscanf(string(ev.Payload), `{"t":%d}`, &sent)
				lat <- time.Duration(time.Now().UnixNano() - sent)
			}
		}()
	}

	base := relayBaseline(b, min(b.N, 2000), rooms)

	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	var send sync.WaitGroup
	perPair := make([]chan struct{}, rooms)
	for i := range perPair {
		perPair[i] = make(chan struct{}, 64)
		send.Add(1)
		go func(p pair, in chan struct{}) {
			defer send.Done()
			for range in {
				payload := fmt.Sprintf(`{"t":%d}`, time.Now().UnixNano())
				if err := p.a.Signal(context.Background(), p.bID, raw(payload)); err != nil {
					b.Error(err)
				}
			}
		}(pairs[i], perPair[i])
	}
	for i := range b.N {
		<-tick.C
		perPair[i%rooms] <- struct{}{}
	}
	tick.Stop()
	for _, c := range perPair {
		close(c)
	}
	send.Wait()
	got := make([]time.Duration, 0, b.N)
	for range b.N {
		got = append(got, <-lat)
	}
	b.StopTimer()
	p50, p99 := percentiles(got)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	bp50, bp99 := percentiles(base)
	b.ReportMetric(float64(bp50.Microseconds())/1000, "base-p50-ms")
	b.ReportMetric(float64(bp99.Microseconds())/1000, "base-p99-ms")
	b.ReportMetric(float64(len(pairs)), "rooms")
	for _, p := range pairs {
		_ = p.b.Close()
	}
	recv.Wait()
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, len(d)*99/100)]
}

// relayBaseline measures n one-way latencies, paced at 1,000 per second over
// `pairs` pairs, through a bare gorilla relay: the server forwards each
// binary message from a pair's first connection to its second.
func relayBaseline(b *testing.B, n, pairs int) []time.Duration {
	var mu sync.Mutex // guards peer
	peer := make(map[int]*websocket.Conn)
	ready := make(map[int]chan struct{})
	for i := range pairs {
		ready[i] = make(chan struct{})
	}
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("pair"))
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if r.URL.Query().Get("side") == "b" {
			mu.Lock()
			peer[i] = ws
			mu.Unlock()
			close(ready[i])
			return
		}
		<-ready[i]
		mu.Lock()
		dst := peer[i]
		mu.Unlock()
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				_ = ws.Close()
				return
			}
			_ = dst.WriteMessage(websocket.BinaryMessage, msg)
		}
	}))
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	as := make([]*websocket.Conn, pairs)
	bs := make([]*websocket.Conn, pairs)
	lat := make(chan time.Duration, n)
	var wg sync.WaitGroup
	for i := range pairs {
		var err error
		bs[i], _, err = websocket.DefaultDialer.Dial(fmt.Sprintf("%s?pair=%d&side=b", url, i), nil)
		require.NoError(b, err)
		as[i], _, err = websocket.DefaultDialer.Dial(fmt.Sprintf("%s?pair=%d&side=a", url, i), nil)
		require.NoError(b, err)
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				sent, _ := strconv.ParseInt(string(msg), 10, 64)
				lat <- time.Duration(time.Now().UnixNano() - sent)
			}
		}(bs[i])
	}
	tick := time.NewTicker(time.Millisecond)
	for i := range n {
		<-tick.C
		_ = as[i%pairs].WriteMessage(websocket.BinaryMessage, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
	}
	tick.Stop()
	out := make([]time.Duration, 0, n)
	for range n {
		out = append(out, <-lat)
	}
	for i := range pairs {
		_ = as[i].Close()
		mu.Lock()
		_ = peer[i].Close()
		mu.Unlock()
		_ = bs[i].Close()
	}
	wg.Wait()
	return out
}
