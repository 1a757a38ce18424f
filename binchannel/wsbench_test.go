package binchannel

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// wsLoopback returns a client and a server gorilla connection over
// loopback, both with 64 KiB buffers.
func wsLoopback(tb testing.TB) (client, server *websocket.Conn) {
	tb.Helper()
	srvConn := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		srvConn <- c
	}))
	tb.Cleanup(srv.Close)
	d := websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	cc, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	_ = resp.Body.Close()
	return cc, <-srvConn
}

// BenchmarkWebSocketRatio moves payload-sized binaries one packet each,
// client to server, over a loopback gorilla WebSocket with a 1 MiB message
// limit, and before that the same payloads as raw gorilla binary messages
// read into io.Discard. Each binchannel case reports its throughput as a
// fraction of the raw one measured just before ("x-raw").
func BenchmarkWebSocketRatio(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		var rawNsPerByte float64
		b.Run("raw/"+sizeName(size), func(b *testing.B) {
			cc, sc := wsLoopback(b)
			defer cc.Close()
			defer sc.Close()
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			errc := make(chan error, 1)
			cpu0 := processCPU()
			b.ResetTimer()
			go func() {
				for i := 0; i < b.N; i++ {
					if err := cc.WriteMessage(websocket.BinaryMessage, payload); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := 0; i < b.N; i++ {
				_, r, err := sc.NextReader()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			rawNsPerByte = float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(size)
		})
		b.Run("binchannel/"+sizeName(size), func(b *testing.B) {
			cc, sc := wsLoopback(b)
			o := WebSocketOptions{MaxMessageSize: 1 << 20}
			a, r := New(NewWebSocket(cc, o)), New(NewWebSocket(sc, o))
			defer a.Close()
			defer r.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := Packet{JSON: []byte(`{"data":{"$bin":0}}`), Bins: []Binary{BytesBinary(make([]byte, size))}}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			pumpPackets(b, ctx, a, r, p)
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if rawNsPerByte > 0 {
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(size)
				b.ReportMetric(rawNsPerByte/ns, "x-raw")
			}
		})
	}
}
