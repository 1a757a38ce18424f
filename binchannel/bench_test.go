package binchannel

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

var benchSizes = []int{1 << 10, 64 << 10, 1 << 20, 16 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// benchPipe sends b.N packets, each one binary of size bytes, over a pipe
// and receives them on the benchmark goroutine.
func benchPipe(b *testing.B, size int) {
	ctx := context.Background()
	ta, tb := NewPipe(PipeOptions{})
	a, r := New(ta), New(tb)
	defer a.Close()
	defer r.Close()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	p := Packet{JSON: []byte(`{"data":{"$bin":0}}`), Bins: []Binary{BytesBinary(payload)}}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	pumpPackets(b, ctx, a, r, p)
}

// pumpPackets sends p b.N times from a on another goroutine and receives
// them on r on the benchmark goroutine, checking each binary's length, then
// stops the timer.
func pumpPackets(b *testing.B, ctx context.Context, a, r *Channel, p Packet) {
	b.Helper()
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if err := a.SendPacket(ctx, p); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	want := p.Bins[0].Len()
	for i := 0; i < b.N; i++ {
		got, err := r.RecvPacket(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got.Bins[0].Len() != want {
			b.Fatalf("got %d bytes, want %d", got.Bins[0].Len(), want)
		}
	}
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPipe moves binaries over the in-memory pipe; the copy
// sub-benchmark is the baseline: one copy() of the same bytes.
func BenchmarkPipe(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size)+"/binchannel", func(b *testing.B) { benchPipe(b, size) })
		b.Run(sizeName(size)+"/copy", func(b *testing.B) {
			src := make([]byte, size)
			dst := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkPackets1KiB reports packets per second for small packets: a
// skeleton with one 1 KiB binary. packets/cpu-s divides by the CPU time the
// process used (sender, receiver and GC together) rather than wall time, so
// it stays meaningful on a machine shared with other work.
func BenchmarkPackets1KiB(b *testing.B) {
	cpu0 := processCPU()
	benchPipe(b, 1<<10)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "packets/cpu-s")
	}
}

// BenchmarkSendRecvValue1KiB goes through the codec both ways: Send of a
// struct holding a 1 KiB []byte, Recv into the same type.
func BenchmarkSendRecvValue1KiB(b *testing.B) {
	type msg struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	ctx := context.Background()
	ta, tb := NewPipe(PipeOptions{})
	a, r := New(ta), New(tb)
	defer a.Close()
	defer r.Close()
	v := msg{ID: 1, Name: "chunk", Data: make([]byte, 1<<10)}
	b.SetBytes(1 << 10)
	b.ReportAllocs()
	errc := make(chan error, 1)
	cpu0 := processCPU()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if err := a.Send(ctx, v); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < b.N; i++ {
		var got msg
		if err := r.Recv(ctx, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "packets/cpu-s")
	}
}

// BenchmarkWebSocket moves 1 MiB binaries over a loopback WebSocket
// (gorilla, 64 KiB buffers), for comparison with the pipe.
func BenchmarkWebSocket(b *testing.B) {
	const size = 1 << 20
	srvConn := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		srvConn <- c
	}))
	defer srv.Close()
	d := websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	cc, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	sc := <-srvConn
	o := WebSocketOptions{MaxMessageSize: 256 << 10}
	a, r := New(NewWebSocket(cc, o)), New(NewWebSocket(sc, o))
	defer a.Close()
	defer r.Close()

	ctx := context.Background()
	p := Packet{JSON: []byte(`{"data":{"$bin":0}}`), Bins: []Binary{BytesBinary(make([]byte, size))}}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	pumpPackets(b, ctx, a, r, p)
}
