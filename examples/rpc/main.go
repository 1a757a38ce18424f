// Command rpc shows two Go peers calling each other over a WebRTC data
// channel: a progress callback, a returned function, and a binary argument.
// Everything runs in this one process on loopback: a signaling server, a
// serving peer and a calling peer.
//
//	go run ./examples/rpc
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rpc example:", err)
		os.Exit(1)
	}
}

// serverMethods are what the serving peer exposes.
func serverMethods() (*rpc.Registry, error) {
	reg := rpc.NewRegistry()
	// A plain function.
	if err := reg.Register("greet", func(name string) string { return "hello, " + name }, "name"); err != nil {
		return nil, err
	}
	// A binary argument: the bytes travel raw over the data channel, in
	// chunks below the channel's message limit, never base64.
	if err := reg.Register("sha256", func(data []byte) string {
		sum := sha256.Sum256(data)
		return hex.EncodeToString(sum[:])
	}, "data"); err != nil {
		return nil, err
	}
	// A callback argument: the handler reports progress by calling back.
	work := func(ctx context.Context, steps int, progress func(int) error) (string, error) {
		for i := 1; i <= steps; i++ {
			if err := progress(i); err != nil {
				return "", err
			}
		}
		return "finished", nil
	}
	if err := reg.Register("work", work, "steps", "progress"); err != nil {
		return nil, err
	}
	// A returned function: the caller gets a handle it can call later.
	counter := func() func() int {
		n := 0
		return func() int { n++; return n }
	}
	if err := reg.Register("counter", counter); err != nil {
		return nil, err
	}
	return reg, nil
}

func run(ctx context.Context, out io.Writer) error {
	// 1. A signaling server on a free loopback port.
	sig := signaling.NewServer(signaling.ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sig, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	defer sig.Close()
	url := "ws://" + ln.Addr().String() + "/"

	// 2. The serving peer joins room "demo" and answers data-channel offers.
	reg, err := serverMethods()
	if err != nil {
		return err
	}
	lo := peer.Options{Network: peer.NetworkLoopback}
	lo.RPC.Registry = reg
	listener, err := peer.Listen(ctx, url, "demo", lo)
	if err != nil {
		return err
	}
	defer listener.Close()
	accepted := make(chan *peer.Conn, 1)
	go func() {
		if c, err := listener.Accept(ctx); err == nil {
			accepted <- c
		}
	}()

	// 3. The calling peer dials the room; rpc runs on the data channel.
	conn, err := peer.Dial(ctx, url, "demo", peer.Options{Network: peer.NetworkLoopback})
	if err != nil {
		return err
	}
	defer conn.Close()
	server := <-accepted
	defer server.Close()
	remote := conn.RPC()

	greeting, err := rpc.Call[string](ctx, remote, "greet", "gopher")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "greet:", greeting)

	data := bytes.Repeat([]byte("peerd "), 2<<20) // 12 MiB
	sum, err := rpc.Call[string](ctx, remote, "sha256", data)
	if err != nil {
		return err
	}
	local := sha256.Sum256(data)
	fmt.Fprintf(out, "sha256 of %d MiB sent as a binary argument: %s… (matches: %v)\n", len(data)>>20, sum[:16], sum == hex.EncodeToString(local[:]))

	result, err := rpc.Call[string](ctx, remote, "work", 3, func(step int) error {
		fmt.Fprintf(out, "progress: step %d of 3\n", step)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "work:", result)

	var next *rpc.Func
	if err := remote.Call(ctx, "counter", &next); err != nil {
		return err
	}
	for range 3 {
		n, err := rpc.CallFunc[int](ctx, next)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "counter:", n)
	}
	return next.Unbind(ctx)
}
