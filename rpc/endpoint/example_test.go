package endpoint_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/rpc/endpoint"
)

// A registry served over newline-delimited TCP, called with the Go client.
func ExampleServer_Serve() {
	reg := rpc.NewRegistry()
	_ = reg.Register("add", func(a, b int) int { return a + b }, "a", "b")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := endpoint.NewServer(reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	c, err := endpoint.Dial(ctx, "tcp://"+ln.Addr().String(), endpoint.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var sum int
	err = c.Call(ctx, "add", &sum, 40, 2)
	fmt.Println(sum, err)
	err = c.CallNamed(ctx, "add", &sum, map[string]int{"a": 1, "b": 2})
	fmt.Println(sum, err)
	// The typed form, for a Client or an rpc.Conn.
	sum, err = endpoint.Call[int](ctx, c, "add", 5, 5)
	fmt.Println(sum, err)

	_ = c.Close()
	_ = srv.Shutdown(ctx)
	fmt.Println(<-served)
	// Output:
	// 42 <nil>
	// 3 <nil>
	// 10 <nil>
	// <nil>
}

// A batch sent as one HTTP POST; results are matched to calls by id.
func ExampleBatch() {
	reg := rpc.NewRegistry()
	_ = reg.Register("upper", func(s string) string { return fmt.Sprintf("%q!", s) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := endpoint.NewServer(reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.ServeHTTPOn(ctx, ln) }()

	c, _ := endpoint.Dial(ctx, "http://"+ln.Addr().String()+"/", endpoint.ClientOptions{})
	b := c.Batch()
	var x, y string
	b.Call("upper", &x, "a")
	b.Call("upper", &y, "b")
	missing := b.Call("nope", nil)
	b.Notify("upper", "ignored")
	fmt.Println(b.Send(ctx))
	fmt.Println(x, y, missing.Err())

	_ = c.Close()
	_ = srv.Shutdown(ctx)
	fmt.Println(<-served)
	// Output:
	// <nil>
	// "a"! "b"! rpc: remote error -32601: Method not found
	// <nil>
}
