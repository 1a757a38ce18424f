package endpoint

import (
	"context"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRelayParams relays positional, named and absent params, through a
// public HTTP endpoint, to a private registry reached over an rpc.Conn and
// behind another endpoint reached with a TCP and an HTTP Client. The
// private side sees the params exactly as the public caller sent them.
func TestRelayParams(t *testing.T) {
	noLeaks(t)
	private := rpc.NewRegistry()
	require.NoError(t, private.Register("sub", func(a, b int) int { return a - b }, "a", "b"))
	require.NoError(t, private.RegisterMethod("echo", rpc.NewRawMethod(
		func(_ context.Context, params jsontext.Value) (jsontext.Value, error) {
			if params == nil {
				return jsontext.Value(`"none"`), nil
			}
			return append(jsontext.Value(nil), params...), nil
		})))
	inner := startServer(t, private, Options{})
	remotes := map[string]Caller{
		"conn": pipeCaller(t, private),
		"tcp":  dial(t, inner.url("tcp"), ClientOptions{}),
		"http": dial(t, inner.url("http"), ClientOptions{}),
	}
	public := rpc.NewRegistry()
	for name, r := range remotes {
		require.NoError(t, Relay(public, name+".sub", r, "sub"))
		require.NoError(t, Relay(public, name+".echo", r, "echo"))
	}
	f := startServer(t, public, Options{})
	for _, scheme := range []string{"http", "ws"} {
		c := dial(t, f.url(scheme), ClientOptions{})
		for name := range remotes {
			t.Run(scheme+"/"+name, func(t *testing.T) {
				ctx := testCtx(t)
				var n int
				require.NoError(t, c.Call(ctx, name+".sub", &n, 50, 8))
				assert.Equal(t, 42, n, "positional")
				require.NoError(t, c.CallNamed(ctx, name+".sub", &n, map[string]int{"b": 1, "a": 10}))
				assert.Equal(t, 9, n, "named")
				out, err := c.CallRaw(ctx, name+".echo", jsontext.Value(`{"x":[1,{"y":null}],"z":"\u00e9"}`))
				require.NoError(t, err)
				assert.Equal(t, `{"x":[1,{"y":null}],"z":"\u00e9"}`, string(out), "named params arrive byte for byte")
				out, err = c.CallRaw(ctx, name+".echo", jsontext.Value(`[1, "two"]`))
				require.NoError(t, err)
				assert.Equal(t, `[1, "two"]`, string(out))
				out, err = c.CallRaw(ctx, name+".echo", nil)
				require.NoError(t, err)
				assert.Equal(t, `"none"`, string(out), "absent params stay absent")
				err = c.CallNamed(ctx, name+".sub", &n, map[string]any{"a": "x"})
				assert.ErrorIs(t, err, rpc.ErrInvalidParams, "the remote's -32602 comes back")
			})
		}
	}
}
