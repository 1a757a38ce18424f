package binchannel

import (
	"context"
	"fmt"
	"sync"
)

// PipeOptions configure NewPipe. The zero value means every default.
type PipeOptions struct {
	// MaxMessageSize is the largest message either end accepts, in bytes.
	// Default 1 MiB.
	MaxMessageSize int
	// Depth is how many messages each direction buffers before
	// WriteMessage blocks. Default 64.
	Depth int
}

// NewPipe returns the two ends of an in-memory Transport. A message written
// to one end is read from the other; the parts are handed over as they are,
// without copying (the reader gets the very slices the writer passed).
//
// WriteMessage blocks while the other end has Depth unread messages, until
// ctx is done. Close on either end closes both: writes fail with ErrClosed at
// once; the other end still reads what was written before the close and then
// gets ErrClosed; the closed end's reads fail at once.
func NewPipe(o PipeOptions) (a, b Transport) {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 1 << 20
	}
	if o.Depth <= 0 {
		o.Depth = 64
	}
	s := &pipeShared{done: make(chan struct{})}
	ab := make(chan [][]byte, o.Depth)
	ba := make(chan [][]byte, o.Depth)
	pa := &pipeEnd{s: s, in: ba, out: ab, max: o.MaxMessageSize, self: make(chan struct{})}
	pb := &pipeEnd{s: s, in: ab, out: ba, max: o.MaxMessageSize, self: make(chan struct{})}
	return pa, pb
}

type pipeShared struct {
	once sync.Once
	done chan struct{} // closed when either end closes
}

type pipeEnd struct {
	s        *pipeShared
	in, out  chan [][]byte
	max      int
	selfOnce sync.Once
	self     chan struct{} // closed when this end closes
}

func (p *pipeEnd) WriteMessage(ctx context.Context, parts ...[]byte) error {
	n := 0
	for _, b := range parts {
		n += len(b)
	}
	if n > p.max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, p.max)
	}
	select {
	case <-p.s.done:
		return ErrClosed
	default:
	}
	select {
	case p.out <- parts:
		return nil
	default:
	}
	select {
	case p.out <- parts:
		return nil
	case <-p.s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeEnd) ReadMessage(ctx context.Context) ([][]byte, error) {
	select {
	case <-p.self:
		return nil, ErrClosed
	default:
	}
	select {
	case m := <-p.in:
		return m, nil
	default:
	}
	select {
	case m := <-p.in:
		return m, nil
	case <-p.self:
		return nil, ErrClosed
	case <-p.s.done:
		select {
		case m := <-p.in:
			return m, nil
		default:
			return nil, ErrClosed
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeEnd) MaxMessageSize() int { return p.max }

func (p *pipeEnd) Close() error {
	p.selfOnce.Do(func() { close(p.self) })
	p.s.once.Do(func() { close(p.s.done) })
	return nil
}
