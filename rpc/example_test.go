package rpc_test

import (
	"context"
	"fmt"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
)

func Example() {
	pa, pb := binchannel.NewPipe(binchannel.PipeOptions{})
	client := rpc.New(binchannel.New(pa))
	server := rpc.New(binchannel.New(pb))
	defer func() {
		client.Close()
		server.Close()
		<-client.Done()
		<-server.Done()
	}()

	_ = server.Register("add", func(x, y int) int { return x + y }, "x", "y")
	_ = server.Register("count", func(ctx context.Context, n int, progress func(int)) string {
		for i := 1; i <= n; i++ {
			progress(i)
		}
		return "done"
	})

	ctx := context.Background()
	sum, err := rpc.Call[int](ctx, client, "add", 2, 3)
	fmt.Println(sum, err)

	s, err := rpc.Call[string](ctx, client, "count", 3, func(i int) { fmt.Println("progress", i) })
	fmt.Println(s, err, client.Stats().Pending())

	err = client.Call(ctx, "missing", nil)
	fmt.Println(err)
	// Output:
	// 5 <nil>
	// progress 1
	// progress 2
	// progress 3
	// done <nil> 0
	// rpc: remote error -32601: Method not found
}

func ExampleFunc_Keep() {
	ta, tb := rpc.NewPipe(rpc.PipeOptions{}) // JSON-only in-memory pipe
	client, server := rpc.New(ta), rpc.New(tb)
	defer func() {
		client.Close()
		server.Close()
		<-client.Done()
		<-server.Done()
	}()

	subs := make(chan *rpc.Func, 1)
	_ = server.Register("subscribe", func(ctx context.Context, cb *rpc.Func) error {
		subs <- cb
		return cb.Keep(ctx) // outlive this handler
	})

	ctx := context.Background()
	got := make(chan string, 1)
	_ = client.Call(ctx, "subscribe", nil, func(s string) { got <- s })
	sub := <-subs
	_ = sub.Call(ctx, nil, "news")
	fmt.Println(<-got, client.Stats().Callbacks)
	_ = sub.Unbind(ctx)
	fmt.Println(sub.Call(ctx, nil, "more"))
	// Output:
	// news 1
	// rpc: function handle released: function 2
}
