package signaling

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/time/rate"

	"github.com/peerd/peerd/binchannel"
)

// errFlood ends a connection that sends messages faster than MessageRate.
var errFlood = errors.New("signaling: message rate exceeded")

// meteredTransport wraps a connection's binchannel.Transport: every message
// read counts as a sign of life and draws from the message bucket, and the
// end of the connection (a failed read or Close) runs onEnd exactly once.
type meteredTransport struct {
	binchannel.Transport
	live    *liveness     // nil on the client when pings are off
	limiter *rate.Limiter // nil: unlimited
	onFlood func()
	onEnd   func()
	endOnce sync.Once
	ready   chan struct{} // reads wait until it is closed; nil: no wait
}

func (t *meteredTransport) ReadMessage(ctx context.Context) ([][]byte, error) {
	if t.ready != nil {
		select {
		case <-t.ready:
		case <-ctx.Done():
			t.end()
			return nil, ctx.Err()
		}
	}
	parts, err := t.Transport.ReadMessage(ctx)
	if err != nil {
		t.end()
		return nil, err
	}
	if t.live != nil {
		t.live.seen()
	}
	if t.limiter != nil && !t.limiter.Allow() {
		if t.onFlood != nil {
			t.onFlood()
		}
		_ = t.Close()
		return nil, errFlood
	}
	return parts, nil
}

func (t *meteredTransport) Close() error {
	err := t.Transport.Close()
	t.end()
	return err
}

func (t *meteredTransport) end() {
	if t.onEnd != nil {
		t.endOnce.Do(t.onEnd)
	}
}
