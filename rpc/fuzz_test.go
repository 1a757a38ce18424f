package rpc

import (
	"context"
	"testing"
	"time"
)

// FuzzConnMessage feeds arbitrary messages to a serving Conn: whatever
// arrives, the Conn must not panic, must keep answering, and must not grow
// pending state.
func FuzzConnMessage(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}`,
		`{"jsonrpc":"2.0","method":"add","params":{"x":1,"y":2},"id":"a"}`,
		`{"jsonrpc":"2.0","method":"each","params":[3,{"$fn":"9"}],"id":2}`,
		`{"jsonrpc":"2.0","method":"rpc.callback","params":["1",2],"id":3}`,
		`{"jsonrpc":"2.0","method":"rpc.cancel","params":[1,"x",null]}`,
		`{"jsonrpc":"2.0","method":"rpc.unbind","params":["1"]}`,
		`{"jsonrpc":"2.0","method":"rpc.keep","params":{"a":1}}`,
		`{"jsonrpc":"2.0","method":"rpc.evicted","params":["1","x"],"id":6}`,
		`{"jsonrpc":"2.0","method":"rpc.discover","id":4}`,
		`{"jsonrpc":"2.0","result":{"$fn":"1"},"id":1}`,
		`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`,
		`[{"jsonrpc":"2.0","result":1,"id":1},{"jsonrpc":"2.0","error":{"code":-32600,"message":"x"},"id":null}]`,
		`[{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1},{"jsonrpc":"2.0","method":"nope"},1]`,
		`{"method":"add","params":[1,2],"id":1}`,
		`{"jsonrpc":"2.0","method":"blob","params":["aGk="],"id":5}`,
	} {
		f.Add([]byte(s))
	}
	sa, sb := NewStreamPipe(PipeOptions{})
	c := NewWithOptions(NewStreamTransport(sa), Options{NestedFuncs: true})
	_ = c.Register("add", func(x, y int) int { return x + y }, "x", "y")
	_ = c.Register("each", func(ctx context.Context, n int, f func(int)) {})
	_ = c.Register("blob", func(b []byte) int { return len(b) })
	f.Cleanup(func() {
		c.Close()
		<-c.Done()
	})
	ping := []byte(`{"jsonrpc":"2.0","method":"add","params":[40,2],"id":"ping"}`)
	f.Fuzz(func(t *testing.T, msg []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sb.WriteMessage(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if err := sb.WriteMessage(ctx, ping); err != nil {
			t.Fatal(err)
		}
		for {
			b, err := sb.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("no answer to the ping: %v", err)
			}
			if string(b) == `{"jsonrpc":"2.0","result":42,"id":"ping"}` {
				break
			}
		}
		if s := c.Stats(); s.Waiting != 0 || s.Callbacks != 0 {
			t.Fatalf("pending state grew: %+v", s)
		}
	})
}
