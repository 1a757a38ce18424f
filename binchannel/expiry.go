package binchannel

import (
	"fmt"
	"time"
)

// sweepInterval is the expiry sweep's period while packets are pending.
func (c *Channel) sweepInterval() time.Duration {
	return max(c.o.PendingTTL/8, 1)
}

// expire is the expiry sweep; it runs on the clock's timer while packets are
// half-received. Reading the clock for every packet would cost more than
// the rest of receiving a small one, so packets are not stamped on
// arrival: the first sweep that sees a packet stamps it, and a later sweep
// drops it once PendingTTL has passed since. A packet is therefore dropped
// between PendingTTL and PendingTTL plus one sweep interval (1/8 of it)
// after it started, never earlier.
func (c *Channel) expire() {
	var errs []error
	c.rmu.Lock()
	c.timer = nil
	if c.rclosed {
		c.rmu.Unlock()
		return
	}
	now := c.o.Clock.Now()
	next := c.sweepInterval()
	for i := 0; i < len(c.pending); {
		p := c.pending[i]
		if p.seen.IsZero() {
			p.seen = now
		} else if age := now.Sub(p.seen); age >= c.o.PendingTTL {
			errs = append(errs, fmt.Errorf("%w: packet %d, incomplete for over %v, %d bytes held", ErrExpired, p.id, c.o.PendingTTL, p.bytes))
			c.removeLocked(i, true)
			continue
		} else {
			next = min(next, c.o.PendingTTL-age)
		}
		i++
	}
	if len(c.pending) > 0 {
		c.timer = c.o.Clock.AfterFunc(next, c.expire)
	}
	c.rmu.Unlock()
	for _, err := range errs {
		c.report(err)
	}
}
