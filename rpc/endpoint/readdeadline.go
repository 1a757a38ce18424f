package endpoint

import (
	"context"
	"sync"
	"time"
)

// longAgo is a deadline in the past: setting it makes a blocked read or
// write return at once.
var longAgo = time.Unix(1, 0)

// readDeadline arms a connection's read deadline for both idle timeouts and
// context cancellation, so that a cancelled read is never handed a fresh
// deadline by a timeout set at the same moment. The line (TCP) and
// WebSocket streams share it.
type readDeadline struct {
	set func(time.Time) error

	// mu guards stopped.
	mu      sync.Mutex
	stopped bool
}

// after sets the deadline d from now (0: none), unless the current read has
// been cancelled.
func (r *readDeadline) after(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stopped:
		_ = r.set(longAgo)
	case d > 0:
		_ = r.set(time.Now().Add(d))
	default:
		_ = r.set(time.Time{})
	}
}

// watch makes ctx's end interrupt the read that follows, and returns the
// function that ends the watch; a cancellation that fired late never
// reaches the next read.
func (r *readDeadline) watch(ctx context.Context) (release func()) {
	r.mu.Lock()
	r.stopped = false
	r.mu.Unlock()
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.stopped = true
		_ = r.set(longAgo)
		r.mu.Unlock()
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
	}
}
