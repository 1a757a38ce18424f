package binchannel

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newPair returns two Channels joined by a pipe; both are closed when the
// test ends.
func newPair(t testing.TB, po PipeOptions, o Options) (*Channel, *Channel) {
	t.Helper()
	ta, tb := NewPipe(po)
	a := NewWithOptions(ta, o)
	b := NewWithOptions(tb, o)
	t.Cleanup(func() {
		_ = a.Close()
		_ = b.Close()
	})
	return a, b
}
