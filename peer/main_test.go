package peer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if runChildIfRequested() {
		return
	}
	goleak.VerifyTestMain(m)
}

// testOptions keeps everything on loopback.
func testOptions() Options {
	return Options{Network: NetworkLoopback, rawTransport: true}
}

// pair connects two loopback peers and closes them when the test ends.
func pair(t testing.TB, a, b Options) (*Conn, *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ca, cb, err := Pair(ctx, a, b)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = ca.Close()
		_ = cb.Close()
	})

	return ca, cb
}

// testCtx is a per-test deadline for network operations.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)

	return ctx
}
