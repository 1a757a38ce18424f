package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
)

// binSkeleton is the JSON skeleton of a throughput packet: one binary.
var binSkeleton = []byte(`{"data":{"$bin":0}}`)

// wsMaxMessage is the WebSocket message limit both binchannel ends use.
const wsMaxMessage = 1 << 20

func init() {
	throughputCases = append(throughputCases,
		ThroughputCase{Name: "binchannel pipe", Baseline: "copy", Setup: setupBinchannelPipe, MinDuration: inMemoryMinDuration},
		ThroughputCase{Name: "binchannel websocket", Baseline: "websocket", Setup: setupBinchannelWS},
		ThroughputCase{Name: "binchannel pipe request", Setup: setupBinchannelPipeRequest, MinDuration: inMemoryMinDuration},
		ThroughputCase{Name: "rpc pipe", Baseline: "binchannel pipe request", Setup: setupRPCPipeThroughput, MinDuration: inMemoryMinDuration},
	)
	latencyCases = append(latencyCases,
		LatencyCase{Name: "pipe ping-pong", Setup: setupPipePing},
		LatencyCase{Name: "rpc pipe", Baseline: "net/rpc pipe", Also: []string{"pipe ping-pong"}, Setup: setupRPCPipe},
		LatencyCase{Name: "rpc websocket", Baseline: "websocket ping-pong", Setup: setupRPCWebSocket},
	)
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["binchannel chunk size"] = "200000 (default)"
		c["binchannel websocket max message"] = sizeName(wsMaxMessage)
		c["rpc pipe latency"] = fmt.Sprintf("add(1, 2) round trip over binchannel on the in-memory pipe; ratio against net/rpc over net.Pipe, "+
			"and (in the baseline column) against pipe ping-pong: a %d-byte message echoed on the raw in-memory pipe transport (binchannel.NewPipe, no binchannel framing), "+
			"as the tcp, websocket and pion ping-pongs echo on their raw transports", pingSize)
		c["rpc pipe throughput"] = "one call at a time carrying the payload as a binary argument (the handler takes a binchannel.Binary and returns its length), " +
			"over binchannel on the in-memory pipe; baseline binchannel pipe request: the same exchange with binchannel alone (payload packet out, small reply packet back)"
	})
}

// binchannelMover sends payload-sized binaries from a to b, one packet each.
func binchannelMover(a, b binchannel.Transport, payload int, cleanup func()) Mover {
	return binchannelMoverWith(a, b, binchannel.Options{}, payload, cleanup)
}

// binchannelMoverWith is binchannelMover with o on both channels.
func binchannelMoverWith(a, b binchannel.Transport, o binchannel.Options, payload int, cleanup func()) Mover {
	ca, cb := binchannel.NewWithOptions(a, o), binchannel.NewWithOptions(b, o)
	buf := make([]byte, payload)
	for i := range buf {
		buf[i] = byte(i)
	}
	pkt := binchannel.Packet{JSON: binSkeleton, Bins: []binchannel.Binary{binchannel.BytesBinary(buf)}}
	recv := func() (int, error) {
		p, err := cb.RecvPacket(context.Background())
		if err != nil {
			return 0, err
		}
		if len(p.Bins) != 1 {
			return 0, fmt.Errorf("binchannel: got %d binaries, want 1", len(p.Bins))
		}
		return int(p.Bins[0].Len()), nil
	}
	send := func(ctx context.Context, total int64) error {
		for sent := int64(0); sent < total; sent += int64(payload) {
			if err := ca.SendPacket(ctx, pkt); err != nil {
				return err
			}
		}
		return nil
	}
	var once sync.Once
	stop := func() error {
		var err error
		once.Do(func() {
			err = errors.Join(ca.Close(), cb.Close())
			if cleanup != nil {
				cleanup()
			}
		})
		return err
	}
	return newSinkMover(send, recv, stop)
}

func setupBinchannelPipe(_ context.Context, payload int) (Mover, error) {
	a, b := binchannel.NewPipe(binchannel.PipeOptions{})
	return binchannelMover(a, b, payload, nil), nil
}

func setupBinchannelWS(ctx context.Context, payload int) (Mover, error) {
	c, s, stopSrv, err := wsPair(ctx)
	if err != nil {
		return nil, err
	}
	o := binchannel.WebSocketOptions{MaxMessageSize: wsMaxMessage}
	return binchannelMover(binchannel.NewWebSocket(c, o), binchannel.NewWebSocket(s, o), payload, stopSrv), nil
}

// rpcPinger serves add on b and calls it from a.
func rpcPinger(a, b rpc.Transport, cleanup func()) (Pinger, error) {
	reg := rpc.NewRegistry()
	if err := reg.Register("add", func(x, y int) int { return x + y }); err != nil {
		return nil, err
	}
	client := rpc.New(a)
	server := rpc.NewWithOptions(b, rpc.Options{Registry: reg})
	return funcPinger{
		rt: func(ctx context.Context) error {
			r, err := rpc.Call[int](ctx, client, "add", 1, 2)
			if err == nil && r != 3 {
				err = fmt.Errorf("rpc: add(1, 2) = %d", r)
			}
			return err
		},
		close: func() error {
			err := errors.Join(client.Close(), server.Close())
			<-client.Done()
			<-server.Done()
			if cleanup != nil {
				cleanup()
			}
			return err
		},
	}, nil
}

// setupPipePing echoes a pingSize message on the raw in-memory pipe
// transport, with no binchannel framing: the pipe's own round trip.
func setupPipePing(context.Context) (Pinger, error) {
	a, b := binchannel.NewPipe(binchannel.PipeOptions{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := b.ReadMessage(context.Background())
			if err != nil {
				return
			}
			if err := b.WriteMessage(context.Background(), m...); err != nil {
				return
			}
		}
	}()
	out := make([]byte, pingSize)
	return funcPinger{
		rt: func(ctx context.Context) error {
			if err := a.WriteMessage(ctx, out); err != nil {
				return err
			}
			m, err := a.ReadMessage(ctx)
			if err != nil {
				return err
			}
			n := 0
			for _, p := range m {
				n += len(p)
			}
			if n != pingSize {
				return fmt.Errorf("pipe ping-pong: echo of %d bytes, want %d", n, pingSize)
			}
			return nil
		},
		close: func() error {
			err := errors.Join(a.Close(), b.Close())
			<-done
			return err
		},
	}, nil
}

func setupRPCPipe(context.Context) (Pinger, error) {
	a, b := binchannel.NewPipe(binchannel.PipeOptions{})
	return rpcPinger(binchannel.New(a), binchannel.New(b), nil)
}

func setupRPCWebSocket(ctx context.Context) (Pinger, error) {
	c, s, stopSrv, err := wsPair(ctx)
	if err != nil {
		return nil, err
	}
	o := binchannel.WebSocketOptions{MaxMessageSize: wsMaxMessage}
	return rpcPinger(binchannel.New(binchannel.NewWebSocket(c, o)), binchannel.New(binchannel.NewWebSocket(s, o)), stopSrv)
}

// sinkRegistry serves "sink", which takes a binary and returns its length
// (as it arrived: chunks are not joined).
func sinkRegistry() (*rpc.Registry, error) {
	reg := rpc.NewRegistry()
	if err := reg.Register("sink", func(data binchannel.Binary) int { return int(data.Len()) }); err != nil {
		return nil, err
	}
	return reg, nil
}

// setupRPCPipeThroughput calls sink with one payload per call, one call at
// a time, over binchannel on the in-memory pipe.
func setupRPCPipeThroughput(_ context.Context, payload int) (Mover, error) {
	reg, err := sinkRegistry()
	if err != nil {
		return nil, err
	}
	a, b := binchannel.NewPipe(binchannel.PipeOptions{})
	client := rpc.New(binchannel.New(a))
	server := rpc.NewWithOptions(binchannel.New(b), rpc.Options{Registry: reg})
	buf := make([]byte, payload)
	for i := range buf {
		buf[i] = byte(i)
	}
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			for sent := int64(0); sent < total; sent += int64(payload) {
				n, err := rpc.Call[int](ctx, client, "sink", buf)
				if err != nil {
					return err
				}
				if n != payload {
					return fmt.Errorf("rpc: sink got %d bytes, want %d", n, payload)
				}
			}
			return nil
		},
		close: func() error {
			err := errors.Join(client.Close(), server.Close())
			<-client.Done()
			<-server.Done()
			return err
		},
	}, nil
}

// setupBinchannelPipeRequest is the binchannel-only counterpart of an rpc
// call carrying a binary: one payload packet out, a small reply back, one
// exchange at a time.
func setupBinchannelPipeRequest(_ context.Context, payload int) (Mover, error) {
	a, b := binchannel.NewPipe(binchannel.PipeOptions{})
	ca, cb := binchannel.New(a), binchannel.New(b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			p, err := cb.RecvPacket(context.Background())
			if err != nil {
				return
			}
			var n int64
			for _, bin := range p.Bins {
				n += bin.Len()
			}
			if err := cb.SendPacket(context.Background(), binchannel.Packet{JSON: fmt.Appendf(nil, "%d", n)}); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, payload)
	for i := range buf {
		buf[i] = byte(i)
	}
	pkt := binchannel.Packet{JSON: binSkeleton, Bins: []binchannel.Binary{binchannel.BytesBinary(buf)}}
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			for sent := int64(0); sent < total; sent += int64(payload) {
				if err := ca.SendPacket(ctx, pkt); err != nil {
					return err
				}
				if _, err := ca.RecvPacket(ctx); err != nil {
					return err
				}
			}
			return nil
		},
		close: func() error {
			err := errors.Join(ca.Close(), cb.Close())
			<-done
			return err
		},
	}, nil
}
