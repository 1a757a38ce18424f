package peer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peerd/peerd/binchannel"
)

// benchTotal is the bytes moved per configuration per iteration, in
// benchRounds alternating transfers.
const (
	benchTotal  = 16 << 20
	benchRounds = 4
)

var benchSizes = []int{64 << 10, 256 << 10}

func benchPair(b *testing.B, o Options) (*Conn, *Conn) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	x, y, err := Pair(ctx, o, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = x.Close()
		_ = y.Close()
	})

	return x, y
}

// BenchmarkTunedVsDefault moves the same bytes, in the same message sizes,
// over a default-configured Pion data channel and over peerd's tuned one,
// alternating within each iteration; both peers are in this process.
func BenchmarkTunedVsDefault(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("msg=%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			ra, rb := benchPair(b, rawDefaultOptions())
			ta, tb := benchPair(b, tunedOptions())
			msg := make([]byte, size)
			var rawWall, rawCPU, tunWall, tunCPU time.Duration
			b.SetBytes(2 * benchTotal)
			b.ResetTimer()
			for range b.N {
				s, err := alternate(benchRounds,
					transferFn(func(n int) error { return sendRaw(ctx, ra, msg, n) },
						func(n int) error { return recvRaw(ctx, rb, n) }, benchTotal/benchRounds),
					transferFn(func(n int) error { return sendRaw(ctx, ta, msg, n) },
						func(n int) error { return recvRaw(ctx, tb, n) }, benchTotal/benchRounds))
				if err != nil {
					b.Fatal(err)
				}
				rawWall, rawCPU = rawWall+s[0].wall, rawCPU+s[0].cpu
				tunWall, tunCPU = tunWall+s[1].wall, tunCPU+s[1].cpu
			}
			n := b.N * benchTotal
			b.ReportMetric(mbps(n, rawWall), "default-MB/s")
			b.ReportMetric(mbps(n, tunWall), "tuned-MB/s")
			b.ReportMetric(float64(rawWall)/float64(tunWall), "tuned/default")
			b.ReportMetric(float64(rawCPU.Milliseconds())/(float64(n)/1e6), "default-cpu-ms/MB")
			b.ReportMetric(float64(tunCPU.Milliseconds())/(float64(n)/1e6), "tuned-cpu-ms/MB")
		})
	}
}

// BenchmarkReceiveMode compares the two ways of reading a Pion data
// channel behind the transport (detached read loop vs OnMessage callback),
// everything else tuned and identical, both through ReadMessage.
func BenchmarkReceiveMode(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("msg=%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			om := tunedOptions()
			om.onMessage = true
			da, db := benchPair(b, tunedOptions())
			oa, ob := benchPair(b, om)
			msg := make([]byte, size)
			read := func(c *Conn, total int) error {
				for got := 0; got < total; {
					m, err := c.tr.ReadMessage(ctx)
					if err != nil {
						return err
					}
					got += len(m[0])
				}

				return nil
			}
			var dWall, oWall, dCPU, oCPU time.Duration
			b.SetBytes(2 * benchTotal)
			b.ResetTimer()
			for range b.N {
				s, err := alternate(benchRounds,
					transferFn(func(n int) error { return sendRaw(ctx, oa, msg, n) },
						func(n int) error { return read(ob, n) }, benchTotal/benchRounds),
					transferFn(func(n int) error { return sendRaw(ctx, da, msg, n) },
						func(n int) error { return read(db, n) }, benchTotal/benchRounds))
				if err != nil {
					b.Fatal(err)
				}
				oWall, oCPU = oWall+s[0].wall, oCPU+s[0].cpu
				dWall, dCPU = dWall+s[1].wall, dCPU+s[1].cpu
			}
			n := b.N * benchTotal
			b.ReportMetric(mbps(n, oWall), "onmessage-MB/s")
			b.ReportMetric(mbps(n, dWall), "detached-MB/s")
			b.ReportMetric(float64(oWall)/float64(dWall), "detached/onmessage")
			b.ReportMetric(float64(oCPU.Milliseconds())/(float64(n)/1e6), "onmessage-cpu-ms/MB")
			b.ReportMetric(float64(dCPU.Milliseconds())/(float64(n)/1e6), "detached-cpu-ms/MB")
		})
	}
}

// BenchmarkBinchannel sends binary values of 64 and 256 KiB through
// binchannel over the tuned data channel, against raw data-channel writes
// of the same payloads on the same connection, alternating within each
// iteration.
func BenchmarkBinchannel(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("payload=%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			x, y := benchPair(b, tunedOptions())
			chx := binchannel.NewWithOptions(x.tr, binchannel.Options{ChunkSize: x.tr.maxSize})
			chy := binchannel.NewWithOptions(y.tr, binchannel.Options{ChunkSize: y.tr.maxSize})
			payload := make([]byte, size)
			count := benchTotal / benchRounds / size
			rawMsg := payload
			if size > x.tr.maxSize {
				rawMsg = payload[:x.tr.maxSize]
			}
			sendBin := func(int) error {
				for range count {
					p := binchannel.Packet{JSON: []byte(`{"$bin":0}`), Bins: []binchannel.Binary{binchannel.BytesBinary(payload)}}
					if err := chx.SendPacket(ctx, p); err != nil {
						return err
					}
				}

				return nil
			}
			recvBin := func(int) error {
				for range count {
					p, err := chy.RecvPacket(ctx)
					if err != nil {
						return err
					}
					if len(p.Bins) != 1 || p.Bins[0].Len() != int64(size) {
						return errShort
					}
				}

				return nil
			}
			var rawWall, binWall time.Duration
			b.SetBytes(2 * benchTotal)
			b.ResetTimer()
			for range b.N {
				s, err := alternate(benchRounds,
					transferFn(func(n int) error { return sendRaw(ctx, x, rawMsg, n) },
						func(n int) error { return recvRaw(ctx, y, n) }, count*size),
					transferFn(sendBin, recvBin, count*size))
				if err != nil {
					b.Fatal(err)
				}
				rawWall += s[0].wall
				binWall += s[1].wall
			}
			n := b.N * benchTotal
			b.ReportMetric(mbps(n, rawWall), "raw-MB/s")
			b.ReportMetric(mbps(n, binWall), "binchannel-MB/s")
			b.ReportMetric(float64(rawWall)/float64(binWall), "binchannel/raw")
		})
	}
}

// BenchmarkRoundTrip compares a 100-byte ping-pong through binchannel with
// the same ping-pong as raw data-channel messages, on one connection.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	x, y := benchPair(b, tunedOptions())
	chx := binchannel.New(x.tr)
	chy := binchannel.New(y.tr)
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = 'a'
	}
	js := append(append([]byte(`"`), payload[:98]...), '"')
	rawRT := func() error {
		if err := x.tr.WriteMessage(ctx, payload); err != nil {
			return err
		}
		m, err := y.tr.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if err := y.tr.WriteMessage(ctx, m[0]); err != nil {
			return err
		}
		_, err = x.tr.ReadMessage(ctx)

		return err
	}
	binRT := func() error {
		if err := chx.SendPacket(ctx, binchannel.Packet{JSON: js}); err != nil {
			return err
		}
		p, err := chy.RecvPacket(ctx)
		if err != nil {
			return err
		}
		if err := chy.SendPacket(ctx, p); err != nil {
			return err
		}
		_, err = chx.RecvPacket(ctx)

		return err
	}
	raw := make([]time.Duration, 0, b.N)
	bin := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := rawRT(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := binRT(); err != nil {
			b.Fatal(err)
		}
		raw = append(raw, t1.Sub(t0))
		bin = append(bin, time.Since(t1))
	}
	rp50, bp50 := percentile(raw, 0.5), percentile(bin, 0.5)
	b.ReportMetric(float64(rp50.Microseconds()), "raw-p50-µs")
	b.ReportMetric(float64(percentile(raw, 0.99).Microseconds()), "raw-p99-µs")
	b.ReportMetric(float64(bp50.Microseconds()), "binchannel-p50-µs")
	b.ReportMetric(float64(percentile(bin, 0.99).Microseconds()), "binchannel-p99-µs")
	b.ReportMetric(float64(bp50)/float64(rp50), "binchannel/raw-p50")
}

// BenchmarkRPCRoundTrip compares a small rpc call (a 100-byte string
// echoed) with a raw data-channel ping-pong of 100 bytes, on two
// connections configured alike, alternating call by call.
func BenchmarkRPCRoundTrip(b *testing.B) {
	ctx := context.Background()
	x, y := benchPair(b, tunedOptions())
	ro := tunedOptions()
	ro.rawTransport = false
	rx, ry := benchPair(b, ro)
	if err := ry.RPC().Register("echo", func(s string) string { return s }); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = 'a'
	}
	arg := string(payload)
	// The raw peer echoes from its own goroutine, as a remote peer would;
	// the caller writes and reads the channel itself.
	go func() {
		for {
			m, err := y.tr.ReadMessage(ctx)
			if err != nil {
				return
			}
			if err := y.tr.WriteMessage(ctx, m[0]); err != nil {
				return
			}
		}
	}()
	rawRT := func() error {
		if err := x.tr.WriteMessage(ctx, payload); err != nil {
			return err
		}
		_, err := x.tr.ReadMessage(ctx)

		return err
	}
	var out string
	raw := make([]time.Duration, 0, b.N)
	call := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := rawRT(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := rx.RPC().Call(ctx, "echo", &out, arg); err != nil {
			b.Fatal(err)
		}
		raw = append(raw, t1.Sub(t0))
		call = append(call, time.Since(t1))
	}
	rp50, cp50 := percentile(raw, 0.5), percentile(call, 0.5)
	b.ReportMetric(float64(rp50.Microseconds()), "raw-p50-µs")
	b.ReportMetric(float64(percentile(raw, 0.99).Microseconds()), "raw-p99-µs")
	b.ReportMetric(float64(cp50.Microseconds()), "rpc-p50-µs")
	b.ReportMetric(float64(percentile(call, 0.99).Microseconds()), "rpc-p99-µs")
	b.ReportMetric(float64(cp50)/float64(rp50), "rpc/raw-p50")
}
