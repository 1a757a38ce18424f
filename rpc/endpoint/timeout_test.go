package endpoint

import (
	"context"
	"testing"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockingServer serves "block" and "wait" (named param "label"), which
// return only when their context ends, and "echo". Each run of a handler
// is announced on the returned channel.
func blockingServer(t *testing.T) (*fixture, <-chan struct{}) {
	t.Helper()
	started := make(chan struct{}, 16)
	block := func(ctx context.Context) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("block", block))
	require.NoError(t, reg.Register("wait", func(ctx context.Context, label string) error { return block(ctx) }, "label"))
	require.NoError(t, reg.Register("echo", func(s string) string { return s }))
	return startServer(t, reg, Options{}), started
}

// shortTimeout is the deadline of the calls meant to time out: the
// handlers never answer, so any value works; short keeps the test fast.
const shortTimeout = 50 * time.Millisecond

// TestCallTimeoutErrors: on every carrier, a call ended by its ctx
// deadline or by ClientOptions.RPC.CallTimeout fails with rpc.ErrTimeout,
// and a cancelled one with rpc.ErrCancelled, as an rpc.Conn's calls do;
// batches and raw messages too.
func TestCallTimeoutErrors(t *testing.T) {
	noLeaks(t)
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			t.Run("ctx deadline", func(t *testing.T) {
				f, _ := blockingServer(t)
				c := dial(t, f.url(scheme), ClientOptions{})
				ctx, cancel := context.WithTimeout(testCtx(t), shortTimeout)
				defer cancel()
				err := c.Call(ctx, "block", nil)
				assert.ErrorIs(t, err, rpc.ErrTimeout)
				assert.ErrorIs(t, err, context.DeadlineExceeded)

				b := c.Batch()
				bc := b.Call("block", nil)
				err = b.Send(ctx)
				assert.ErrorIs(t, err, rpc.ErrTimeout)
				assert.ErrorIs(t, bc.Err(), rpc.ErrTimeout)
			})
			t.Run("CallTimeout", func(t *testing.T) {
				f, _ := blockingServer(t)
				c := dial(t, f.url(scheme), ClientOptions{RPC: rpc.Options{CallTimeout: shortTimeout}})
				ctx := testCtx(t) // far later than CallTimeout

				err := c.Call(ctx, "block", nil)
				assert.ErrorIs(t, err, rpc.ErrTimeout)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.ErrorIs(t, c.CallNamed(ctx, "wait", nil, map[string]string{"label": "x"}), rpc.ErrTimeout)
				_, err = c.CallRaw(ctx, "block", nil)
				assert.ErrorIs(t, err, rpc.ErrTimeout)

				b := c.Batch()
				bc := b.Call("block", nil)
				b.Notify("echo", "n")
				assert.ErrorIs(t, b.Send(ctx), rpc.ErrTimeout)
				assert.ErrorIs(t, bc.Err(), rpc.ErrTimeout)

				_, err = c.SendRaw(ctx, []byte(`{"jsonrpc":"2.0","method":"block","id":1}`))
				assert.ErrorIs(t, err, rpc.ErrTimeout)
			})
			t.Run("CallTimeout not reached", func(t *testing.T) {
				f, _ := blockingServer(t)
				c := dial(t, f.url(scheme), ClientOptions{RPC: rpc.Options{CallTimeout: 15 * time.Second}})
				var s string
				require.NoError(t, c.Call(testCtx(t), "echo", &s, "in time"))
				assert.Equal(t, "in time", s)
				b := c.Batch()
				bc := b.Call("echo", &s, "batch")
				require.NoError(t, b.Send(testCtx(t)))
				require.NoError(t, bc.Err())
				assert.Equal(t, "batch", s)
			})
			t.Run("cancel", func(t *testing.T) {
				f, started := blockingServer(t)
				c := dial(t, f.url(scheme), ClientOptions{RPC: rpc.Options{CallTimeout: 15 * time.Second}})
				ctx, cancel := context.WithCancel(testCtx(t))
				go func() {
					<-started
					cancel()
				}()
				err := c.Call(ctx, "block", nil)
				assert.ErrorIs(t, err, rpc.ErrCancelled)
				assert.ErrorIs(t, err, context.Canceled)
				assert.NotErrorIs(t, err, rpc.ErrTimeout)
			})
		})
	}
}

// TestHTTPNotifyNoCallTimeout: over HTTP a notification waits for its
// handler (the 204), and CallTimeout does not cut it, as it does not cut
// an rpc.Conn's Notify.
func TestHTTPNotifyNoCallTimeout(t *testing.T) {
	noLeaks(t)
	held := make(chan struct{})
	release := make(chan struct{})
	reg := rpc.NewRegistry()
	require.NoError(t, reg.Register("hold", func(ctx context.Context) {
		close(held)
		select {
		case <-release:
		case <-ctx.Done():
		}
	}))
	require.NoError(t, reg.Register("block", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	f := startServer(t, reg, Options{})
	c := dial(t, f.url("http"), ClientOptions{RPC: rpc.Options{CallTimeout: shortTimeout}})
	notified := make(chan error, 1)
	go func() { notified <- c.Notify(testCtx(t), "hold") }()
	<-held
	// A call that starts now times out after CallTimeout: by then the
	// notification has been waiting longer than that.
	assert.ErrorIs(t, c.Call(testCtx(t), "block", nil), rpc.ErrTimeout)
	close(release)
	assert.NoError(t, <-notified)
}
