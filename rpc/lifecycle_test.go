package rpc

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/peerd/peerd/binchannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// blocker registers "block" on c: it signals started, waits for its ctx to
// end and reports the ctx error on cancelled.
func blocker(t *testing.T, c *Conn) (started chan struct{}, cancelled chan error) {
	t.Helper()
	started = make(chan struct{}, 2000)
	cancelled = make(chan error, 2000)
	require.NoError(t, c.Register("block", func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		cancelled <- ctx.Err()
		return ctx.Err()
	}))
	return started, cancelled
}

func TestTimeoutCancelsRemote(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ctx  func(context.Context) (context.Context, context.CancelFunc)
	}{
		{"ctx deadline", Options{}, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 20*time.Millisecond)
		}},
		{"CallTimeout option", Options{CallTimeout: 20 * time.Millisecond}, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return ctx, func() {}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pair(t, tt.opts, Options{})
			started, cancelled := blocker(t, b)
			ctx, cancel := tt.ctx(testCtx(t))
			defer cancel()
			err := a.Call(ctx, "block", nil)
			assert.ErrorIs(t, err, ErrTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			<-started
			assert.ErrorIs(t, <-cancelled, context.Canceled, "remote handler ctx cancelled by rpc.cancel")
			assert.Equal(t, 0, a.Stats().Waiting)
			require.Eventually(t, func() bool { return b.Stats().Running == 0 }, testTimeout, pollEvery)
		})
	}
}

func TestCancelCancelsRemote(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	started, cancelled := blocker(t, b)
	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() { errc <- a.Call(ctx, "block", nil) }()
	<-started
	cancel()
	err := <-errc
	assert.ErrorIs(t, err, ErrCancelled)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, <-cancelled, context.Canceled)
	assert.Equal(t, Stats{}, bindings(a))
}

func TestNotifyIsNeverTimedOut(t *testing.T) {
	a, b := pair(t, Options{CallTimeout: time.Nanosecond}, Options{})
	got := make(chan int, 1)
	require.NoError(t, b.Register("n", func(x int) { got <- x }))
	require.NoError(t, a.Notify(testCtx(t), "n", 7))
	assert.Equal(t, 7, <-got)
}

func TestCloseRejectsAll(t *testing.T) {
	t.Run("binchannel", func(t *testing.T) {
		pa, pb := binchannel.NewPipe(binchannel.PipeOptions{})
		testCloseRejectsAll(t, pa, binchannel.New(pa), binchannel.New(pb), binchannel.ErrClosed)
	})
	t.Run("json", func(t *testing.T) {
		ta, tb := NewPipe(PipeOptions{})
		testCloseRejectsAll(t, ta, ta, tb, ErrPipeClosed)
	})
}

// testCloseRejectsAll puts 1,000 calls in flight from a to b, then closes
// the raw transport under a.
func testCloseRejectsAll(t *testing.T, raw interface{ Close() error }, ta, tb Transport, cause error) {
	defer goleak.VerifyNone(t)
	const n = 1000
	a := New(ta)
	b := NewWithOptions(tb, Options{MaxConcurrency: 64, MaxQueue: n})
	started, _ := blocker(t, b)
	defer func() {
		closeWait(t, a)
		closeWait(t, b)
	}()
	ctx := testCtx(t)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- a.Call(ctx, "block", nil)
		}()
	}
	for i := 0; i < 64; i++ {
		<-started
	}
	require.Eventually(t, func() bool { return a.Stats().Waiting == n }, testTimeout, pollEvery)
	require.NoError(t, raw.Close()) // the transport goes away under both
	wg.Wait()
	close(errs)
	count := 0
	for err := range errs {
		count++
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, err, cause, "names the cause")
	}
	assert.Equal(t, n, count)
	assert.Equal(t, Stats{}, bindings(a))
	assert.ErrorIs(t, a.Err(), cause)

	// Calls after close fail at once.
	err := a.Call(ctx, "block", nil)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, a.Notify(ctx, "x"), ErrClosed)
	<-b.Done()
	assert.Equal(t, 0, b.Stats().Running, "b's handlers were cancelled")
}

func TestLocalClose(t *testing.T) {
	a, b := pair(t, Options{}, Options{})
	started, _ := blocker(t, b)
	errc := make(chan error, 1)
	go func() { errc <- a.Call(testCtx(t), "block", nil) }()
	<-started
	require.NoError(t, a.Close())
	err := <-errc
	assert.ErrorIs(t, err, ErrClosed)
	assert.True(t, errors.Is(a.Err(), ErrClosed))
	<-b.Done()
	assert.Error(t, b.Err())
}
