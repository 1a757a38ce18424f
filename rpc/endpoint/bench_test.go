package endpoint

import (
	"context"
	"testing"

	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/require"
)

// BenchmarkCall measures one small call (echo of a short string) over each
// carrier: an rpc.Conn on an in-memory binchannel pipe ("pipe", the data
// channel path without a network) and on an in-memory JSON message pipe
// ("jsonpipe", the stream adapter TCP and WebSocket use) as baselines, then
// HTTP, TCP and WebSocket on loopback. "serial" waits for each answer before
// the next call; "parallel" keeps GOMAXPROCS*8 calls in flight on one
// client. The calls/s metric is the throughput; x-jsonpipe is the time per
// call relative to jsonpipe in the same mode, measured in the same run (it
// is reported when the jsonpipe sub-benchmark ran first).
func BenchmarkCall(b *testing.B) {
	baseline := map[string]float64{} // mode -> ns per call over jsonpipe
	reg := rpc.NewRegistry()
	require.NoError(b, reg.Register("echo", func(s string) string { return s }))
	for _, carrier := range []string{"pipe", "jsonpipe", "http", "tcp", "ws"} {
		for _, mode := range []string{"serial", "parallel"} {
			b.Run(carrier+"/"+mode, func(b *testing.B) {
				c := benchCaller(b, reg, carrier)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				if mode == "serial" {
					for b.Loop() {
						var s string
						if err := c.Call(ctx, "echo", &s, "hello"); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							var s string
							if err := c.Call(ctx, "echo", &s, "hello"); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				if carrier == "jsonpipe" {
					baseline[mode] = ns // the last, longest run wins
				} else if base := baseline[mode]; base > 0 {
					b.ReportMetric(ns/base, "x-jsonpipe")
				}
			})
		}
	}
}

// benchCaller returns a caller of reg over carrier, torn down with b.
func benchCaller(b *testing.B, reg *rpc.Registry, carrier string) Caller {
	switch carrier {
	case "pipe":
		return pipeCaller(b, reg)
	case "jsonpipe":
		ta, tb := rpc.NewPipe(rpc.PipeOptions{})
		srv := rpc.NewWithOptions(ta, rpc.Options{Registry: reg})
		cli := rpc.New(tb)
		b.Cleanup(func() {
			_ = cli.Close()
			_ = srv.Close()
			<-cli.Done()
			<-srv.Done()
		})
		return cli
	}
	f := startServer(b, reg, Options{})
	return dial(b, f.url(carrier), ClientOptions{})
}
