package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
)

// The Pion cases connect two peers inside this process with peer.Pair over
// loopback UDP. Both peers share the process, so CPU figures count the
// sending and the receiving side together. (The twoproc and memory suites
// put them in processes of their own.)

// rpcWindow is how many rpc calls the "rpc pion" throughput case keeps in
// flight.
const rpcWindow = 4

// pionShutdown bounds closing a Pion connection: the drain of whatever is
// still queued after a failed measurement.
const pionShutdown = 2 * time.Second

func init() {
	throughputCases = append(throughputCases,
		ThroughputCase{Name: "pion raw default", Setup: setupPionRawDefault},
		ThroughputCase{Name: "pion raw tuned", Baseline: "pion raw default", Setup: setupPionRawTuned},
		ThroughputCase{Name: "binchannel pion", Baseline: "pion raw tuned", Setup: setupBinchannelPion},
		ThroughputCase{Name: "rpc pion", Baseline: "pion raw tuned", Setup: setupRPCPionThroughput},
	)
	latencyCases = append(latencyCases,
		LatencyCase{Name: "pion ping-pong", Setup: setupPionPing},
		LatencyCase{Name: "rpc pion", Baseline: "pion ping-pong", Setup: setupRPCPion},
	)
	cpuCases = append(cpuCases, "pion raw default", "pion raw tuned", "binchannel pion")
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["pion"] = "throughput, latency and cpu suites: both peers in one process (peer.Pair), loopback UDP4 only, mDNS off; CPU counts both sides"
		c["pion raw default"] = "Pion's SettingEngine untouched (system UDP buffers), OnMessage receive, " +
			"flow control as in Pion's example: watermarks 1MiB/512KiB"
		c["pion tuned (raw, binchannel, rpc)"] = fmt.Sprintf("peerd defaults: UDP buffers %s requested, watermarks %s/%s, detached receive",
			sizeName(peer.DefaultUDPBufferSize), sizeName(peer.DefaultHighWatermark), sizeName(peer.DefaultLowWatermark))
		c["pion message size"] = fmt.Sprintf("at most %s per data-channel message (raw payloads above it are sent as several messages; binchannel chunks them)",
			sizeName(peer.DefaultMaxMessageSize))
		c["rpc pion throughput"] = fmt.Sprintf("one call per payload carrying it as a binary argument, %d calls in flight", rpcWindow)
		c["rpc pion latency"] = "add(1, 2) round trip; pion ping-pong echoes a 100-byte message on the tuned raw channel"
	})
}

// pionPair connects two in-process peers over loopback with o on both sides.
func pionPair(ctx context.Context, o peer.Options) (a, b *peer.Conn, err error) {
	o.Network = peer.NetworkLoopback
	return peer.Pair(ctx, o, o)
}

// closePion shuts both connections down, bounded by pionShutdown.
func closePion(cs ...*peer.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), pionShutdown)
	defer cancel()
	var errs []error
	for _, c := range cs {
		if err := c.Shutdown(ctx); err != nil && !errors.Is(err, peer.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func setupPionRawDefault(ctx context.Context, payload int) (Mover, error) {
	return pionRawMover(ctx, peer.Options{Raw: true, PionDefaults: true}, payload)
}

func setupPionRawTuned(ctx context.Context, payload int) (Mover, error) {
	return pionRawMover(ctx, peer.Options{Raw: true}, payload)
}

// pionRawMover writes payload-sized data straight to the data channel, as
// one message or, above the message size limit, as several.
func pionRawMover(ctx context.Context, o peer.Options, payload int) (Mover, error) {
	a, b, err := pionPair(ctx, o)
	if err != nil {
		return nil, err
	}
	ta, tb := a.Transport(), b.Transport()
	msg := make([]byte, min(payload, ta.MaxMessageSize()))
	for i := range msg {
		msg[i] = byte(i)
	}
	send := func(ctx context.Context, total int64) error {
		for sent := int64(0); sent < total; sent += int64(payload) {
			for left := payload; left > 0; left -= len(msg) {
				if err := ta.WriteMessage(ctx, msg[:min(left, len(msg))]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	recv := func() (int, error) {
		m, err := tb.ReadMessage(context.Background())
		if err != nil {
			return 0, err
		}
		return len(m[0]), nil
	}
	stop := sync.OnceValue(func() error { return closePion(a, b) })
	return newSinkMover(send, recv, stop), nil
}

func setupBinchannelPion(ctx context.Context, payload int) (Mover, error) {
	a, b, err := pionPair(ctx, peer.Options{Raw: true})
	if err != nil {
		return nil, err
	}
	ta, tb := a.Transport(), b.Transport()
	// As peer does under rpc: one chunk per data-channel message.
	o := binchannel.Options{ChunkSize: ta.MaxMessageSize()}
	return binchannelMoverWith(ta, tb, o, payload, func() { _ = closePion(a, b) }), nil
}

func setupRPCPionThroughput(ctx context.Context, payload int) (Mover, error) {
	reg, err := sinkRegistry()
	if err != nil {
		return nil, err
	}
	a, b, err := pionPair(ctx, peer.Options{RPC: rpc.Options{Registry: reg}})
	if err != nil {
		return nil, err
	}
	client := a.RPC()
	buf := make([]byte, payload)
	for i := range buf {
		buf[i] = byte(i)
	}
	move := func(ctx context.Context, total int64) error {
		return callSink(ctx, client, buf, int(total/int64(payload)), rpcWindow)
	}
	return funcMover{move: move, close: func() error { return closePion(a, b) }}, nil
}

// callSink makes calls calls of the peer's sink, each carrying buf, with
// window of them in flight; the first failure cancels the rest.
func callSink(ctx context.Context, rc *rpc.Conn, buf []byte, calls, window int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, window)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range calls {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := rpc.Call[int](ctx, rc, "sink", buf)
			if err == nil && n != len(buf) {
				err = fmt.Errorf("rpc: sink got %d bytes, want %d", n, len(buf))
			}
			if err != nil {
				select {
				case errc <- err:
				default:
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

func setupPionPing(ctx context.Context) (Pinger, error) {
	a, b, err := pionPair(ctx, peer.Options{Raw: true})
	if err != nil {
		return nil, err
	}
	ta, tb := a.Transport(), b.Transport()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := tb.ReadMessage(context.Background())
			if err != nil {
				return
			}
			if err := tb.WriteMessage(context.Background(), m...); err != nil {
				return
			}
		}
	}()
	out := make([]byte, pingSize)
	return funcPinger{
		rt: func(ctx context.Context) error {
			if err := ta.WriteMessage(ctx, out); err != nil {
				return err
			}
			m, err := ta.ReadMessage(ctx)
			if err == nil && len(m[0]) != pingSize {
				err = fmt.Errorf("pion ping-pong: echo of %d bytes, want %d", len(m[0]), pingSize)
			}
			return err
		},
		close: func() error {
			err := closePion(a, b)
			<-done
			return err
		},
	}, nil
}

func setupRPCPion(ctx context.Context) (Pinger, error) {
	reg := rpc.NewRegistry()
	if err := reg.Register("add", func(x, y int) int { return x + y }); err != nil {
		return nil, err
	}
	a, b, err := pionPair(ctx, peer.Options{RPC: rpc.Options{Registry: reg}})
	if err != nil {
		return nil, err
	}
	client := a.RPC()
	return funcPinger{
		rt: func(ctx context.Context) error {
			r, err := rpc.Call[int](ctx, client, "add", 1, 2)
			if err == nil && r != 3 {
				err = fmt.Errorf("rpc: add(1, 2) = %d", r)
			}
			return err
		},
		close: func() error { return closePion(a, b) },
	}, nil
}
