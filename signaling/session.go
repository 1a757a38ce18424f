package signaling

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pusher is the connection under a session: it delivers one event to the
// peer and closes the connection.
type pusher interface {
	// push delivers ev, blocking until it is written or ctx is done.
	push(ctx context.Context, ev *wireEvent) error
	// close closes the connection, saying why (a Reason constant); the
	// connection layer then calls session.finish.
	close(reason string) error
}

type queueResult int

const (
	queued queueResult = iota
	queueFull
	queueClosed
)

// session is the server's state for one connection. Events for the peer
// are queued and pushed by a goroutine that runs only while the queue is not
// empty, so an idle connection costs no goroutine here.
type session struct {
	h       *hub
	opts    *ServerOptions
	stats   *counters
	out     pusher
	limiter *rate.Limiter // requests (join, send, leave)
	addr    string
	auth    AuthRequest // origin and headers of the upgrade, for Authorize

	mu       sync.Mutex // guards every field below
	id       string
	role     Role
	room     *room
	queue    []*wireEvent
	qbytes   int
	seq      uint64 // of the last event queued
	draining bool
	idle     chan struct{} // closed when draining stops; nil if nobody waits
	closed   bool
	reason   string // why the connection is closing, for the leave event
}

func newSession(h *hub, opts *ServerOptions, stats *counters, out pusher, addr string) *session {
	return &session{
		h: h, opts: opts, stats: stats, out: out, addr: addr,
		limiter: rate.NewLimiter(opts.SignalRate, opts.SignalBurst),
	}
}

// enqueue queues ev for the peer and starts the pusher if needed. It never
// blocks; it reports queueFull when the peer is too far behind.
func (s *session) enqueue(ev *wireEvent) queueResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return queueClosed
	}
	if len(s.queue) >= s.opts.QueueLen || s.qbytes+ev.size() > s.opts.QueueBytes {
		return queueFull
	}
	s.seq++
	ev.Seq = s.seq
	s.queue = append(s.queue, ev)
	s.qbytes += ev.size()
	if !s.draining {
		s.draining = true
		go s.drain()
	}
	return queued
}

// drain pushes queued events in order until the queue is empty.
func (s *session) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.closed {
			s.stopDrainingLocked()
			s.mu.Unlock()
			return
		}
		ev := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil // let a burst's backing array go
		}
		s.qbytes -= ev.size()
		s.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		err := s.out.push(ctx, ev)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.stopDrainingLocked()
			s.mu.Unlock()
			s.kill(ReasonClosed)
			return
		}
	}
}

func (s *session) stopDrainingLocked() {
	s.draining = false
	if s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// flush waits until every queued event is pushed, the session closes or ctx
// is done.
func (s *session) flush(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kill records why the session ends (the first reason wins) and closes the
// connection.
func (s *session) kill(reason string) {
	s.setReason(reason)
	if reason == ReasonSlow {
		s.stats.addError("slow_consumer")
	}
	_ = s.out.close(reason)
}

// setReason records why the session ends unless a reason is already set.
func (s *session) setReason(reason string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = reason
	}
	s.mu.Unlock()
}

// finish is called once by the connection layer when the connection has
// ended: the session leaves its room and drops its queue.
func (s *session) finish() {
	s.mu.Lock()
	s.closed = true
	s.queue = nil
	s.qbytes = 0
	reason := s.reason
	s.mu.Unlock()
	if reason == "" {
		reason = ReasonClosed
	}
	_ = s.h.leave(s, reason)
}

// allow takes one token from the request bucket.
func (s *session) allow(now time.Time) error {
	if !s.limiter.AllowN(now, 1) {
		return ErrRateLimited
	}
	return nil
}

// peerID returns the session's current peer id, empty when not joined.
func (s *session) peerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}
