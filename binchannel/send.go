package binchannel

import (
	"context"
	"errors"
	"fmt"
)

// SendPacket queues p's messages as one contiguous block behind everything
// already queued and, unless another Send is already writing, writes the
// queue up to and including p.
//
// SendPacket returns once p is written, or as soon as it is queued behind a
// Send that is writing (that Send, or the background writer it hands over
// to when its own packet is out, then writes p). Either way the
// transport may hand p's memory to the receiver without copying: the caller
// must not modify p.JSON or the binaries afterwards.
//
// If the transport fails, SendPacket returns the error (wrapped) and the
// message that failed stays at the head of the queue: nothing is lost and
// no gap is left, and the next SendPacket or Flush resumes from it. Call
// Reset to drop it instead. If instead ctx ends while SendPacket is
// writing, it returns ctx's error and a background goroutine takes over
// the writing of what is queued (the rest of this packet included), so
// that other Sends' packets are not held up; it ends when the queue is
// empty, the transport fails (reported through OnError) or the Channel is
// closed. When the queue is at its bound (MaxQueueBytes,
// MaxQueuePackets) SendPacket waits for room until ctx is done.
//
// A SendPacket made from inside Transport.WriteMessage (re-entrant) appends
// to the tail and returns without waiting for itself; pass it the context
// WriteMessage received (or one derived from it) so that it also skips the
// queue bound.
//
// SendPacket is safe for concurrent use.
func (c *Channel) SendPacket(ctx context.Context, p Packet) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j, err := c.buildJob(p, c.nextID.Add(1), c.t.MaxMessageSize())
	if err != nil {
		return err
	}
	c.mu.Lock()
	if err := c.waitRoomLocked(ctx); err != nil {
		c.mu.Unlock()
		return err
	}
	c.q.push(j)
	c.qBytes += j.size
	if c.writing {
		c.mu.Unlock()
		return nil
	}
	return c.drainLocked(ctx, j)
}

// Flush returns once the output queue is empty: it writes what is queued
// (for example what a failed Send left behind) or, while another Send or
// the background writer is writing, waits for it. Packets queued by others
// meanwhile are waited for too. It returns early with ctx's error, or with
// the transport's error if its own write fails.
func (c *Channel) Flush(ctx context.Context) error {
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.q.len() == 0 {
			c.mu.Unlock()
			return nil
		}
		if !c.writing {
			return c.drainLocked(ctx, &job{})
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// waitRoomLocked waits until the queue is below its bounds, the channel is
// closed, nobody is writing (so the caller will write) or ctx is done.
// c.mu is held on entry and on return.
func (c *Channel) waitRoomLocked(ctx context.Context) error {
	for {
		if c.closed {
			return ErrClosed
		}
		if !c.writing || (c.qBytes < c.o.MaxQueueBytes && c.q.len() < c.o.MaxQueuePackets) {
			return nil
		}
		if w, _ := ctx.Value(writerKey{}).(*Channel); w == c {
			return nil // re-entrant: the writer is our own caller
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			c.mu.Lock()
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// wakeLocked wakes every Send waiting for room and every Flush waiting for
// the queue to move.
func (c *Channel) wakeLocked() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// drainLocked makes the caller the writer and writes the queue until it is
// empty or a write fails. c.mu is held on entry and released on return.
// mine supplies the storage for the writer context; when mine is a queued
// packet and others are queued behind it once it is written, the writer
// role passes to a background goroutine so that the caller is not held up
// by a stream of other Sends.
func (c *Channel) drainLocked(ctx context.Context, mine *job) error {
	c.writing = true
	mine.wctx = writerCtx{Context: ctx, c: c}
	wctx := &mine.wctx
	for {
		if c.closed {
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return ErrClosed
		}
		j := c.q.head()
		if j == nil {
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return nil
		}
		parts := j.msgs[j.next]
		gen := c.gen
		c.mu.Unlock()
		err := c.t.WriteMessage(wctx, parts...)
		c.mu.Lock()
		if err != nil {
			if c.closed {
				c.writing = false
				c.wakeLocked()
				c.mu.Unlock()
				return ErrClosed
			}
			if ctx.Err() != nil {
				// Our caller gave up, but what is queued (the rest of
				// its packet, other Sends' packets) must not wait for
				// the next Send: hand the writer role on.
				go c.drainInBackground()
				c.mu.Unlock()
				return err
			}
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return fmt.Errorf("binchannel: send: %w", err)
		}
		if gen != c.gen {
			continue // Reset dropped the queue while we wrote
		}
		j.next++
		if j.next == len(j.msgs) {
			c.q.pop()
			c.qBytes -= j.size
			c.wakeLocked()
			if j == mine && c.q.len() > 0 {
				go c.drainInBackground()
				c.mu.Unlock()
				return nil
			}
		}
	}
}

// drainInBackground takes over the writer role from a Send that is done
// (its packet written, or its ctx ended) and writes the queue until it is
// empty, the transport fails or the Channel closes. A failure is reported through OnError and leaves the
// queue for the next Send or Flush.
func (c *Channel) drainInBackground() {
	c.mu.Lock()
	if err := c.drainLocked(context.Background(), &job{}); err != nil && !errors.Is(err, ErrClosed) {
		c.report(err)
	}
}
