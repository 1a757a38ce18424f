package browser

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
)

type nestedJob struct {
	X   int                                              `json:"x"`
	Add func(ctx context.Context, a, b int) (int, error) `json:"add"`
}

type nestedCounter struct {
	Name string        `json:"name"`
	Inc  func(int) int `json:"inc"`
}

// TestNestedFuncs runs the page against a Go peer with nested functions
// off and on, and the page's nestedFuncs off and on (PROTOCOL.md 3.9).
// Functions that are themselves arguments or results cross in every case.
// Nested ones cross only when both sides enable them; otherwise the sender
// refuses them, and a nested placeholder that the page receives with
// nestedFuncs off stays a plain object.
func TestNestedFuncs(t *testing.T) {
	type result struct {
		Apply        string
		ApplyCbs     int
		Twice        int
		CounterKind  string
		Inc          int
		CounterPlain string
		CounterErr   string
		AskPage      string
		ShowPage     string
		Handles      int
	}
	for _, tc := range []struct {
		goOn, pageOn bool
		check        func(t *testing.T, r result, applied int64, c *peer.Conn)
	}{
		{false, false, func(t *testing.T, r result, applied int64, _ *peer.Conn) {
			assert.Regexp(t, `^TypeError: peerd: function "add" is nested inside an argument`, r.Apply)
			assert.Zero(t, applied, "refused before sending")
			assert.NotEmpty(t, r.CounterErr, "Go refuses to send a nested function")
			assert.Regexp(t, `^error: .*function "f" is nested inside the result`, r.AskPage)
			assert.Regexp(t, `^error: `, r.ShowPage, "Go refuses to send a nested function")
		}},
		{true, true, func(t *testing.T, r result, applied int64, c *peer.Conn) {
			assert.Equal(t, "42", r.Apply)
			assert.Equal(t, int64(1), applied)
			assert.Equal(t, "function", r.CounterKind)
			assert.Equal(t, 15, r.Inc)
			assert.Equal(t, "from the page", r.AskPage)
			assert.Equal(t, "called: from go", r.ShowPage)
			// The counter was unbound, the others went with their calls.
			assert.Eventually(t, func() bool { return c.RPC().Stats().Callbacks == 0 }, 5*time.Second, 20*time.Millisecond)
		}},
		{true, false, func(t *testing.T, r result, applied int64, _ *peer.Conn) {
			assert.Regexp(t, `^TypeError: peerd: function "add" is nested inside an argument`, r.Apply)
			assert.Zero(t, applied)
			assert.Equal(t, "object", r.CounterKind, "not revived")
			assert.Regexp(t, `^\{"name":"c","inc":\{"\$fn":"[0-9]+"\}\}$`, r.CounterPlain)
			assert.Regexp(t, `^error: .*function "f" is nested inside the result`, r.AskPage)
			assert.Regexp(t, `^plain: \{"f":\{"\$fn":"[0-9]+"\}\}$`, r.ShowPage, "not revived")
		}},
		{false, true, func(t *testing.T, r result, applied int64, _ *peer.Conn) {
			assert.Regexp(t, `^RemoteError: `, r.Apply, "Go cannot take the nested function")
			assert.Zero(t, applied)
			assert.NotEmpty(t, r.CounterErr)
			assert.Regexp(t, `^error: `, r.AskPage, "Go cannot take the nested function")
			assert.Regexp(t, `^error: `, r.ShowPage)
		}},
	} {
		t.Run(fmt.Sprintf("go=%v,page=%v", tc.goOn, tc.pageOn), func(t *testing.T) {
			reg := rpc.NewRegistry()
			var applied atomic.Int64
			require.NoError(t, reg.Register("apply", func(ctx context.Context, j nestedJob) (int, error) {
				applied.Add(1)
				if j.Add == nil {
					return 0, fmt.Errorf("no add")
				}
				return j.Add(ctx, j.X, 1)
			}))
			require.NoError(t, reg.Register("twice", func(ctx context.Context, f func(context.Context, int) (int, error)) (int, error) {
				return f(ctx, 21)
			}))
			require.NoError(t, reg.Register("counter", func(start int) nestedCounter {
				n := start
				return nestedCounter{Name: "c", Inc: func(d int) int { n += d; return n }}
			}))
			require.NoError(t, reg.Register("askPage", func(ctx context.Context) (string, error) {
				var got struct {
					F func(context.Context) (string, error) `json:"f"`
				}
				if err := rpc.ConnFromContext(ctx).Call(ctx, "page.give", &got); err != nil {
					return "error: " + err.Error(), nil
				}
				if got.F == nil {
					return "error: no function", nil
				}
				s, err := got.F(ctx)
				if err != nil {
					return "error: " + err.Error(), nil
				}
				return s, nil
			}))
			require.NoError(t, reg.Register("showPage", func(ctx context.Context) (string, error) {
				s, err := rpc.Call[string](ctx, rpc.ConnFromContext(ctx), "page.inspect", map[string]any{"f": func() string { return "from go" }})
				if err != nil {
					return "error: " + err.Error(), nil
				}
				return s, nil
			}))
			e := newEnvWith(t, peer.Options{RPC: rpc.Options{Registry: reg, NestedFuncs: tc.goOn}})
			ctx := e.tab(30 * time.Second)
			var r result
			require.NoError(t, eval(ctx, fmt.Sprintf(`
const local = { page: {
  give: () => ({ f: () => "from the page" }),
  async inspect(o) { return typeof o.f === "function" ? "called: " + (await o.f()) : "plain: " + JSON.stringify(o) },
} };
window.pair = await peerd.connect({ room: "test", local, nestedFuncs: %v, timeout: 10000 });
const { remote, conn } = pair;
const settle = (p) => p.then((v) => ({ ok: true, v }), (e) => ({ ok: false, msg: e.name + ": " + e.message }));
const out = {};
const a = await settle(remote.apply({ x: 41, add: (a, b) => a + b }));
out.apply = a.ok ? String(a.v) : a.msg;
out.applyCbs = conn.stats().callbacks;
out.twice = await remote.twice((n) => n * 2);
const c = await settle(remote.counter(10));
if (!c.ok) out.counterErr = c.msg;
else {
  out.counterKind = typeof c.v.inc;
  if (typeof c.v.inc === "function") {
    out.inc = await c.v.inc(5);
    await c.v.inc.unbind();
  } else out.counterPlain = JSON.stringify(c.v);
}
out.askPage = await remote.askPage();
out.showPage = await remote.showPage();
out.handles = conn.stats().handles;
return out;
`, tc.pageOn), &r))
			t.Logf("%+v", r)
			assert.Equal(t, 42, r.Twice, "a function that is itself an argument")
			assert.Zero(t, r.ApplyCbs, "nothing left stored by apply")
			assert.Zero(t, r.Handles)
			tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tc.check(t, r, applied.Load(), e.conn(tctx))
			// Closing from the page lets both sides finish at once.
			require.NoError(t, eval(ctx, `await pair.close()`, nil))
		})
	}
}
