package peer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
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
