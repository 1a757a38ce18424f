package peer

import (
	"context"
	"fmt"
)

// chanSignaler is a signal path made of two Go channels.
type chanSignaler struct {
	in  chan []byte
	out chan []byte
}

func (s chanSignaler) Send(ctx context.Context, b []byte) error {
	select {
	case s.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s chanSignaler) Recv() <-chan []byte { return s.in }

// Pair connects two peers inside this process without a signaling server:
// offer, answer and trickled candidates travel through Go channels. a is
// the offerer. It is meant for tests and benchmarks; use NetworkLoopback so
// nothing leaves the host. Both connections are closed if either fails.
func Pair(ctx context.Context, a, b Options) (*Conn, *Conn, error) {
	a, b = a.withDefaults(), b.withDefaults()
	apiA, err := NewAPI(a)
	if err != nil {
		return nil, nil, err
	}
	apiB, err := NewAPI(b)
	if err != nil {
		return nil, nil, err
	}
	ab := make(chan []byte, 64)
	ba := make(chan []byte, 64)

	type result struct {
		c   *Conn
		err error
	}
	// B cannot finish without A: cancel it when A fails.
	ctxB, cancelB := context.WithCancel(ctx)
	defer cancelB()
	resB := make(chan result, 1)
	go func() {
		c, err := establish(ctxB, apiB, b, false, chanSignaler{in: ab, out: ba})
		resB <- result{c, err}
	}()
	ca, errA := establish(ctx, apiA, a, true, chanSignaler{in: ba, out: ab})
	if errA != nil {
		cancelB()
		rb := <-resB
		if rb.c != nil {
			_ = rb.c.Close()
		}

		return nil, nil, fmt.Errorf("peer: pair: %w", errA)
	}
	rb := <-resB
	if rb.err != nil {
		_ = ca.Close()

		return nil, nil, fmt.Errorf("peer: pair: %w", rb.err)
	}

	return ca, rb.c, nil
}
