package binchannel

import (
	"context"
	"sync"
	"sync/atomic"
)

// Channel frames packets over a Transport.
//
// Concurrency: SendPacket, Send, Flush, Reset and Close are safe for
// concurrent use. RecvPacket and Recv must be called from one goroutine at a
// time. OnError may run on RecvPacket's goroutine or on the expiry timer's.
type Channel struct {
	t Transport
	o Options

	nextID atomic.Uint32

	// mu guards the output side: q, qBytes, writing, room, gen, closed.
	mu      sync.Mutex
	q       jobQueue
	qBytes  int64
	writing bool          // a Send is draining the queue
	room    chan struct{} // closed to wake Sends waiting for room
	gen     uint64        // bumped by Reset so the writer drops nothing twice
	closed  bool

	// rmu guards the input side: the pending packets, the dropped ids,
	// the expiry timer and rclosed. RecvPacket holds it only while
	// handling a message, never while reading from the transport.
	rmu      sync.Mutex
	pending  []*pending
	pendingB int64
	dropped  [8]uint32 // recently dropped packet ids, whose tails are ignored
	ndropped int
	timer    Timer
	rclosed  bool
	free     []*pending // recycled pending records
}

// New returns a Channel over t with the default Options.
func New(t Transport) *Channel { return NewWithOptions(t, Options{}) }

// NewWithOptions returns a Channel over t. Zero fields of o take their
// documented defaults.
func NewWithOptions(t Transport, o Options) *Channel {
	return &Channel{t: t, o: o.withDefaults()}
}

// Send encodes v with Marshal and sends it with SendPacket. A Packet or
// *Packet is sent as is.
func (c *Channel) Send(ctx context.Context, v any) error {
	switch p := v.(type) {
	case Packet:
		return c.SendPacket(ctx, p)
	case *Packet:
		return c.SendPacket(ctx, *p)
	}
	p, err := Marshal(v)
	if err != nil {
		return err
	}
	return c.SendPacket(ctx, p)
}

// Recv receives the next packet with RecvPacket and decodes it into v with
// Unmarshal.
func (c *Channel) Recv(ctx context.Context, v any) error {
	p, err := c.RecvPacket(ctx)
	if err != nil {
		return err
	}
	return Unmarshal(p, v)
}

// Reset drops everything queued for output that has not been written and
// every half-received input packet. A message being written when Reset is
// called completes; the rest of its packet is dropped, so the peer sees a
// half-received packet that its PendingTTL removes.
func (c *Channel) Reset() {
	c.mu.Lock()
	c.q.clear()
	c.qBytes = 0
	c.gen++
	c.wakeLocked()
	c.mu.Unlock()

	c.rmu.Lock()
	for len(c.pending) > 0 {
		c.removeLocked(0, true)
	}
	c.rmu.Unlock()
}

// Close closes the Channel and its transport. Output still queued is
// dropped (call Flush first to deliver it); blocked and later calls return
// ErrClosed.
func (c *Channel) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.q.clear()
	c.qBytes = 0
	c.wakeLocked()
	c.mu.Unlock()

	c.rmu.Lock()
	c.rclosed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.pending = nil
	c.pendingB = 0
	c.rmu.Unlock()
	return c.t.Close()
}

func (c *Channel) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
