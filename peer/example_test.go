package peer_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// Two peers in one process, connected over loopback without a signaling
// server; each calls a function the other registered.
func ExamplePair() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := peer.Options{Network: peer.NetworkLoopback}
	a, b, err := peer.Pair(ctx, o, o)
	if err != nil {
		fmt.Println(err)

		return
	}
	defer a.Close()
	defer b.Close()

	_ = b.RPC().Register("greet", func(name string) string { return "hello, " + name })
	s, err := rpc.Call[string](ctx, a.RPC(), "greet", "a")
	fmt.Println(s, err)
	fmt.Println(a.State(), a.MaxMessageSize())
	// Output:
	// hello, a <nil>
	// connected 262144
}

// A listener and a dialer meet through an in-process signaling server.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := signaling.NewServer(signaling.ServerOptions{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(ctx) //nolint:errcheck // example
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	// Methods in a shared registry are served on every accepted connection.
	reg := rpc.NewRegistry()
	_ = reg.Register("add", func(a, b int) int { return a + b })
	lo := peer.Options{Network: peer.NetworkLoopback, RPC: rpc.Options{Registry: reg}}
	l, err := peer.Listen(ctx, url, "demo", lo)
	if err != nil {
		fmt.Println(err)

		return
	}
	defer l.Close()
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			return
		}
		<-c.Done() // until the dialer closes
	}()

	c, err := peer.Dial(ctx, url, "demo", peer.Options{Network: peer.NetworkLoopback})
	if err != nil {
		fmt.Println(err)

		return
	}
	defer c.Close()
	sum, err := rpc.Call[int](ctx, c.RPC(), "add", 2, 3)
	fmt.Println(sum, err, c.Peer() == l.ID())
	// Output:
	// 5 <nil> true
}
