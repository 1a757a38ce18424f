package rpc

import (
	"context"
	"sync"
)

// PipeOptions configures NewPipe. The zero value is the default.
type PipeOptions struct {
	// Depth is how many messages each direction buffers before
	// WriteMessage waits. Default 64.
	Depth int
	// MaxMessageSize rejects larger messages with ErrMessageTooLarge.
	// Default 0: no limit.
	MaxMessageSize int
}

// NewPipe returns the two ends of an in-memory JSON message stream, already
// adapted as Transports (JSON only: binaries travel as base64). Messages are
// copied on write. Closing either end closes both.
func NewPipe(o PipeOptions) (a, b Transport) {
	sa, sb := NewStreamPipe(o)
	return NewStreamTransport(sa), NewStreamTransport(sb)
}

// NewStreamPipe returns the two ends of an in-memory JSON MessageStream.
func NewStreamPipe(o PipeOptions) (a, b MessageStream) {
	if o.Depth <= 0 {
		o.Depth = 64
	}
	sh := &pipeShared{done: make(chan struct{})}
	ab := make(chan []byte, o.Depth)
	ba := make(chan []byte, o.Depth)
	return &pipeEnd{sh: sh, in: ba, out: ab, max: o.MaxMessageSize},
		&pipeEnd{sh: sh, in: ab, out: ba, max: o.MaxMessageSize}
}

type pipeShared struct {
	once sync.Once
	done chan struct{}
}

type pipeEnd struct {
	sh  *pipeShared
	in  <-chan []byte
	out chan<- []byte
	max int
}

func (p *pipeEnd) ReadMessage(ctx context.Context) ([]byte, error) {
	// Deliver what is buffered before reporting close, like a socket.
	select {
	case m := <-p.in:
		return m, nil
	default:
	}
	select {
	case m := <-p.in:
		return m, nil
	case <-p.sh.done:
		return nil, ErrPipeClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeEnd) WriteMessage(ctx context.Context, msg []byte) error {
	if p.max > 0 && len(msg) > p.max {
		return ErrMessageTooLarge
	}
	select {
	case <-p.sh.done:
		return ErrPipeClosed
	default:
	}
	m := append([]byte(nil), msg...)
	select {
	case p.out <- m:
		return nil
	case <-p.sh.done:
		return ErrPipeClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeEnd) Close() error {
	p.sh.once.Do(func() { close(p.sh.done) })
	return nil
}
