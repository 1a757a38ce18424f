package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// pingSize is the payload of a raw ping-pong round trip.
const pingSize = 100

func init() {
	throughputCases = append(throughputCases,
		ThroughputCase{Name: "copy", Setup: setupCopy, MinDuration: inMemoryMinDuration},
		ThroughputCase{Name: "tcp", Setup: setupTCP},
		ThroughputCase{Name: "websocket", Setup: setupWebSocket},
	)
	latencyCases = append(latencyCases,
		LatencyCase{Name: "net/rpc pipe", Setup: setupNetRPCPipe},
		LatencyCase{Name: "net/rpc tcp", Setup: setupNetRPCTCP},
		LatencyCase{Name: "tcp ping-pong", Setup: setupTCPPing},
		LatencyCase{Name: "websocket ping-pong", Setup: setupWebSocketPing},
	)
}

// setupCopy measures the memory ceiling: copy() of payload-sized blocks.
func setupCopy(_ context.Context, payload int) (Mover, error) {
	src := make([]byte, payload)
	dst := make([]byte, payload)
	for i := range src {
		src[i] = byte(i)
	}
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			for sent := int64(0); sent < total; sent += int64(payload) {
				copy(dst, src)
			}
			return ctx.Err()
		},
		close: func() error { return nil },
	}, nil
}

// loopbackPair returns the two ends of a TCP connection on 127.0.0.1.
func loopbackPair(ctx context.Context) (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	acc := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		acc <- res{c, err}
	}()
	var d net.Dialer
	client, err = d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		<-acc
		return nil, nil, err
	}
	r := <-acc
	if r.err != nil {
		client.Close()
		return nil, nil, r.err
	}
	return client, r.c, nil
}

// sinkMover sends with write and counts on the receiving side with read;
// Move returns when the receiver has counted total bytes.
type sinkMover struct {
	want chan int64
	got  chan error
	stop func() error
	wg   sync.WaitGroup
	send func(ctx context.Context, total int64) error
}

// newSinkMover starts a receiver goroutine that calls recv (which returns
// the number of bytes it consumed) until it has counted each requested total.
func newSinkMover(send func(ctx context.Context, total int64) error, recv func() (int, error), stop func() error) *sinkMover {
	m := &sinkMover{want: make(chan int64), got: make(chan error, 1), stop: stop, send: send}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for want := range m.want {
			var n int64
			var err error
			for n < want && err == nil {
				var k int
				k, err = recv()
				n += int64(k)
			}
			m.got <- err
		}
	}()
	return m
}

func (m *sinkMover) Move(ctx context.Context, total int64) error {
	m.want <- total
	if err := m.send(ctx, total); err != nil {
		m.stop()
		<-m.got
		return err
	}
	select {
	case err := <-m.got:
		return err
	case <-ctx.Done():
		m.stop()
		<-m.got
		return ctx.Err()
	}
}

func (m *sinkMover) Close() error {
	close(m.want)
	err := m.stop()
	m.wg.Wait()
	return err
}

func setupTCP(ctx context.Context, payload int) (Mover, error) {
	c, s, err := loopbackPair(ctx)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, payload)
	rbuf := make([]byte, 64<<10)
	stop := func() error { return errors.Join(c.Close(), s.Close()) }
	send := func(ctx context.Context, total int64) error {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetWriteDeadline(dl)
		}
		for sent := int64(0); sent < total; sent += int64(payload) {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
		return nil
	}
	return newSinkMover(send, func() (int, error) { return s.Read(rbuf) }, stop), nil
}

// wsPair returns a gorilla WebSocket client connection and the server side,
// both with 64 KiB buffers, over loopback. stop closes the server.
func wsPair(ctx context.Context) (client, server *websocket.Conn, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	conns := make(chan *websocket.Conn, 1)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- c
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	stop = func() { _ = srv.Close(); <-done }
	d := websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	client, _, err = d.DialContext(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	select {
	case server = <-conns:
	case <-ctx.Done():
		client.Close()
		stop()
		return nil, nil, nil, ctx.Err()
	}
	return client, server, stop, nil
}

func setupWebSocket(ctx context.Context, payload int) (Mover, error) {
	c, s, stopSrv, err := wsPair(ctx)
	if err != nil {
		return nil, err
	}
	s.SetReadLimit(int64(payload) + 1)
	buf := make([]byte, payload)
	stop := func() error {
		err := errors.Join(c.Close(), s.Close())
		stopSrv()
		return err
	}
	send := func(ctx context.Context, total int64) error {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetWriteDeadline(dl)
		}
		for sent := int64(0); sent < total; sent += int64(payload) {
			if err := c.WriteMessage(websocket.BinaryMessage, buf); err != nil {
				return err
			}
		}
		return nil
	}
	recv := func() (int, error) {
		_, r, err := s.NextReader()
		if err != nil {
			return 0, err
		}
		n, err := io.Copy(io.Discard, r)
		return int(n), err
	}
	return newSinkMover(send, recv, stop), nil
}

// Arith is the net/rpc service used as the latency baseline.
type Arith struct{}

// AddArgs are the arguments of Arith.Add.
type AddArgs struct{ A, B int }

// Add sets reply to a+b.
func (Arith) Add(args AddArgs, reply *int) error {
	*reply = args.A + args.B
	return nil
}

// netRPCPinger serves Arith on one end of conn pair and calls it from the other.
func netRPCPinger(c, s net.Conn) (Pinger, error) {
	srv := rpc.NewServer()
	if err := srv.Register(Arith{}); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeConn(s) }()
	cl := rpc.NewClient(c)
	return funcPinger{
		rt: func(ctx context.Context) error {
			var r int
			call := cl.Go("Arith.Add", AddArgs{1, 2}, &r, make(chan *rpc.Call, 1))
			select {
			case <-call.Done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if call.Error != nil {
				return call.Error
			}
			if r != 3 {
				return fmt.Errorf("net/rpc: Add(1, 2) = %d", r)
			}
			return nil
		},
		close: func() error {
			err := cl.Close()
			s.Close()
			<-done
			return err
		},
	}, nil
}

func setupNetRPCPipe(context.Context) (Pinger, error) {
	c, s := net.Pipe()
	return netRPCPinger(c, s)
}

func setupNetRPCTCP(ctx context.Context) (Pinger, error) {
	c, s, err := loopbackPair(ctx)
	if err != nil {
		return nil, err
	}
	return netRPCPinger(c, s)
}

// echoPinger writes a pingSize message with write and waits for its echo
// with read; the echo side runs in its own goroutine until stop.
func setupTCPPing(ctx context.Context) (Pinger, error) {
	c, s, err := loopbackPair(ctx)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, pingSize)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			if _, err := s.Write(buf); err != nil {
				return
			}
		}
	}()
	out := make([]byte, pingSize)
	in := make([]byte, pingSize)
	return funcPinger{
		rt: func(ctx context.Context) error {
			if dl, ok := ctx.Deadline(); ok {
				_ = c.SetDeadline(dl)
			}
			if _, err := c.Write(out); err != nil {
				return err
			}
			_, err := io.ReadFull(c, in)
			return err
		},
		close: func() error {
			err := errors.Join(c.Close(), s.Close())
			<-done
			return err
		},
	}, nil
}

func setupWebSocketPing(ctx context.Context) (Pinger, error) {
	c, s, stopSrv, err := wsPair(ctx)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			t, m, err := s.ReadMessage()
			if err != nil {
				return
			}
			if err := s.WriteMessage(t, m); err != nil {
				return
			}
		}
	}()
	out := make([]byte, pingSize)
	return funcPinger{
		rt: func(ctx context.Context) error {
			if dl, ok := ctx.Deadline(); ok {
				_ = c.SetReadDeadline(dl)
			}
			if err := c.WriteMessage(websocket.BinaryMessage, out); err != nil {
				return err
			}
			_, _, err := c.ReadMessage()
			return err
		},
		close: func() error {
			err := errors.Join(c.Close(), s.Close())
			<-done
			stopSrv()
			return err
		},
	}, nil
}
