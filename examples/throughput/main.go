// Command throughput measures binary throughput between two Go peers over a
// WebRTC data channel on loopback, twice over the same bytes: as raw
// data-channel writes, and as rpc calls that each carry one []byte chunk
// with a window of calls in flight (what `peerd publish` does). Everything
// runs in this one process: a signaling server, a receiving peer and a
// sending peer.
//
//	go run ./examples/throughput
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// config is what one run measures.
type config struct {
	// Size is how many bytes each mode moves.
	Size int
	// Chunk is the []byte each rpc call carries: 255 KiB, so that a chunk
	// and its headers fit one 256 KiB data-channel message.
	Chunk int
	// Window is how many rpc calls are in flight at once.
	Window int
}

// result is one mode's measurement.
type result struct {
	Bytes   int
	Elapsed time.Duration
}

// MBps is the throughput in megabytes (10^6 bytes) per second.
func (r result) MBps() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

func main() {
	var c config
	size := flag.Int("size", 32, "MiB to move in each mode")
	flag.IntVar(&c.Chunk, "chunk", 255<<10, "bytes per rpc call")
	flag.IntVar(&c.Window, "window", 8, "rpc calls in flight")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	budget := flag.Int("gc-budget", peer.DefaultGCBudget>>20, "MiB the heap may reach before the garbage collector runs, as peerd does (peer.TuneGC); 0: Go's default")
	flag.Parse()
	c.Size = *size << 20
	if c.Size <= 0 || c.Chunk <= 0 || c.Window <= 0 {
		fmt.Fprintln(os.Stderr, "throughput: -size, -chunk and -window must be positive")
		os.Exit(2)
	}
	if *budget > 0 {
		// For the life of the process; both modes run under it, so their
		// ratio stays a fair comparison.
		peer.TuneGC(*budget << 20)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if _, _, err := run(ctx, os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(1)
	}
}

// run starts a signaling server on a free loopback port, measures both
// modes over fresh connections, and prints the results to out.
func run(ctx context.Context, out io.Writer, c config) (raw, calls result, err error) {
	sig := signaling.NewServer(signaling.ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return raw, calls, err
	}
	srv := &http.Server{Handler: sig, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	defer func() { <-served }()
	defer srv.Close()
	defer sig.Close()
	url := "ws://" + ln.Addr().String() + "/"

	fmt.Fprintf(out, "two Go peers, one WebRTC data channel on loopback, %s per mode:\n", sizeString(c.Size))
	var msg int
	if raw, msg, err = measureRaw(ctx, url, c.Size); err != nil {
		return raw, calls, fmt.Errorf("raw writes: %w", err)
	}
	fmt.Fprintf(out, "  %-46s %6.1f MB/s\n", "raw writes ("+sizeString(msg)+" messages)", raw.MBps())
	if calls, err = measureRPC(ctx, url, c); err != nil {
		return raw, calls, fmt.Errorf("rpc calls: %w", err)
	}
	fmt.Fprintf(out, "  %-46s %6.1f MB/s  %.2fx raw\n",
		fmt.Sprintf("rpc calls (%s []byte each, %d in flight)", sizeString(c.Chunk), c.Window), calls.MBps(), calls.MBps()/raw.MBps())
	return raw, calls, nil
}

// sizeString renders a byte count as "32 MiB", "255 KiB" or "1000 B".
func sizeString(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// connect joins room as a listener and as a dialer with options o and
// returns both ends of the one connection between them, and a function
// that closes everything.
func connect(ctx context.Context, url, room string, o peer.Options) (server, client *peer.Conn, closeAll func(), err error) {
	o.Network = peer.NetworkLoopback // nothing leaves the machine
	l, err := peer.Listen(ctx, url, room, o)
	if err != nil {
		return nil, nil, nil, err
	}
	accepted := make(chan *peer.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			acceptErr <- err
			return
		}
		accepted <- c
	}()
	client, err = peer.Dial(ctx, url, room, o)
	if err != nil {
		l.Close() // ends the Accept, unless it has just returned a connection
		select {
		case c := <-accepted:
			c.Close()
		case <-acceptErr:
		}
		return nil, nil, nil, err
	}
	select {
	case server = <-accepted:
	case err = <-acceptErr:
		client.Close()
		l.Close()
		return nil, nil, nil, err
	}
	var once sync.Once
	return server, client, func() {
		once.Do(func() {
			client.Close()
			server.Close()
			l.Close()
		})
	}, nil
}

// measureRaw sends size bytes as data-channel messages of the negotiated
// maximum size (returned as msg), with no framing and no rpc, and times them
// until the receiver has read the last byte.
func measureRaw(ctx context.Context, url string, size int) (r result, msg int, err error) {
	server, client, closeAll, err := connect(ctx, url, "raw", peer.Options{Raw: true})
	if err != nil {
		return r, 0, err
	}
	defer closeAll()
	received := make(chan error, 1)
	go func() {
		got := 0
		for got < size {
			parts, err := server.Transport().ReadMessage(ctx)
			if err != nil {
				received <- err
				return
			}
			for _, p := range parts {
				got += len(p)
			}
		}
		received <- nil
	}()
	tr := client.Transport()
	buf := make([]byte, tr.MaxMessageSize())
	for i := range buf {
		buf[i] = byte(i)
	}
	start := time.Now()
	for sent := 0; sent < size; {
		n := min(len(buf), size-sent)
		// buf is never modified, so every write may share it.
		if err := tr.WriteMessage(ctx, buf[:n]); err != nil {
			closeAll() // ends the receiver's read
			return r, 0, errors.Join(err, <-received)
		}
		sent += n
	}
	if err := <-received; err != nil {
		return r, 0, err
	}
	return result{Bytes: size, Elapsed: time.Since(start)}, len(buf), nil
}

// measureRPC sends size bytes as rpc calls "sink(data)" carrying c.Chunk
// bytes each, c.Window calls in flight, and times them until the last call
// has returned. The receiver answers each call with the length it got.
func measureRPC(ctx context.Context, url string, c config) (result, error) {
	reg := rpc.NewRegistry()
	if err := reg.Register("sink", func(data []byte) int { return len(data) }, "data"); err != nil {
		return result{}, err
	}
	var o peer.Options
	o.RPC.Registry = reg
	_, client, closeAll, err := connect(ctx, url, "rpc", o)
	if err != nil {
		return result{}, err
	}
	defer closeAll()
	remote := client.RPC()
	chunk := make([]byte, c.Chunk)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	type answer struct {
		n   int
		err error
	}
	answers := make(chan answer, c.Window)
	start := time.Now()
	sent, got, inflight := 0, 0, 0
	var firstErr error
	for sent < c.Size && firstErr == nil || inflight > 0 {
		for firstErr == nil && inflight < c.Window && sent < c.Size {
			n := min(c.Chunk, c.Size-sent)
			sent += n
			inflight++
			go func() {
				// chunk is never modified, so every call may share it.
				got, err := rpc.Call[int](ctx, remote, "sink", chunk[:n])
				answers <- answer{got, err}
			}()
		}
		a := <-answers
		inflight--
		got += a.n
		if a.err != nil && firstErr == nil {
			firstErr = a.err
		}
	}
	if firstErr != nil {
		return result{}, firstErr
	}
	if got != c.Size {
		return result{}, fmt.Errorf("the receiver got %d bytes of %d", got, c.Size)
	}
	return result{Bytes: got, Elapsed: time.Since(start)}, nil
}
