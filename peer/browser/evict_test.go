package browser

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
)

// TestEvictionWithGo runs the pending bound (PROTOCOL.md 3.9, 4.6) between
// the page and a Go peer, each side as the owner that evicts: the holder
// drops its handles when told, so both sides count the same functions, and
// a call on an evicted function is answered -32004 by its owner.
func TestEvictionWithGo(t *testing.T) {
	t.Run("page evicts", func(t *testing.T) {
		reg := rpc.NewRegistry()
		handles := make(chan *rpc.Func, 3)
		require.NoError(t, reg.Register("hold", func(ctx context.Context, f *rpc.Func) error {
			handles <- f
			return f.Keep(ctx)
		}))
		cancelled := make(chan struct{}, 3)
		require.NoError(t, reg.Register("block", func(ctx context.Context) error {
			<-ctx.Done()
			select {
			case cancelled <- struct{}{}:
			default:
			}
			return ctx.Err()
		}))
		e := newEnv(t, reg)
		ctx := e.tab(30 * time.Second)
		var callbacks int
		require.NoError(t, eval(ctx, `
window.pair = await peerd.connect({ room: "test", maxPending: 2, timeout: 10000 });
for (let i = 0; i < 3; i++) await pair.remote.hold(() => i * 10);
return pair.conn.stats().callbacks;
`, &callbacks))
		// Each call with its function made three entries, past the bound
		// of 2: the oldest kept function went each time, so the page keeps
		// the third alone, and told Go about the others.
		assert.Equal(t, 1, callbacks)
		tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := e.conn(tctx)
		f1, f2, f3 := <-handles, <-handles, <-handles
		assert.Eventually(t, func() bool { return f1.Evicted() && f2.Evicted() }, 5*time.Second, 20*time.Millisecond, "the page announced its evictions")
		assert.False(t, f3.Evicted())
		assert.Equal(t, 1, c.RPC().Stats().Handles, "Go holds what the page stores")
		err := f1.Call(tctx, nil)
		assert.True(t, errors.Is(err, rpc.ErrEvicted), "%v", err)
		n, err := rpc.CallFunc[int](tctx, f3)
		require.NoError(t, err)
		assert.Equal(t, 20, n)
		require.NoError(t, f3.Unbind(tctx))

		// Three waiting calls: the oldest is evicted, and cancelled at the
		// Go peer.
		var evicted string
		require.NoError(t, eval(ctx, `
const { remote, conn } = pair;
while (conn.stats().callbacks > 0) await new Promise((r) => setTimeout(r, 10));
const first = remote.block().then(() => "resolved", (e) => e.message);
window.rest = [remote.block().catch(() => {}), remote.block().catch(() => {})];
return await first;
`, &evicted))
		assert.Regexp(t, `^peerd: block: evicted`, evicted)
		select {
		case <-cancelled:
		case <-tctx.Done():
			t.Fatal("the evicted call was not cancelled at the Go peer")
		}
		require.NoError(t, eval(ctx, `await pair.close(); await Promise.all(window.rest)`, nil))
	})

	t.Run("Go evicts", func(t *testing.T) {
		reg := rpc.NewRegistry()
		require.NoError(t, reg.Register("counter", func(start int) func(int) int {
			n := start
			return func(d int) int { n += d; return n }
		}))
		e := newEnvWith(t, peer.Options{RPC: rpc.Options{Registry: reg, MaxPending: 2}})
		ctx := e.tab(30 * time.Second)
		var res struct {
			Handles  int
			Evicted  []bool
			Code     int
			Live     int
			Released int
		}
		require.NoError(t, eval(ctx, connectJS+`
const { remote, conn } = pair;
const fs = [];
for (let i = 0; i < 3; i++) fs.push(await remote.counter(i * 100));
// Go's bound is 2: storing the third function evicted the first.
while (!fs[0].evicted) await new Promise((r) => setTimeout(r, 10));
const out = { handles: conn.stats().handles, evicted: fs.map((f) => f.evicted) };
out.code = await fs[0](1).then(() => 0, (e) => e.code);
out.live = await fs[2](1);
for (const f of fs) await f.unbind();
out.released = conn.stats().handles;
return out;
`, &res))
		assert.Equal(t, 2, res.Handles)
		assert.Equal(t, []bool{true, false, false}, res.Evicted)
		assert.Equal(t, rpc.CodeHandleEvicted, res.Code)
		assert.Equal(t, 201, res.Live)
		assert.Zero(t, res.Released)
		tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := e.conn(tctx)
		assert.Eventually(t, func() bool { return c.RPC().Stats().Callbacks == 0 }, 5*time.Second, 20*time.Millisecond, "the page unbound the live ones")
		require.NoError(t, eval(ctx, `await pair.close()`, nil))
	})
}
